"""Whether continued clips keep their sprite's look (docs/own_data.md, "The codec's ceiling"): for the 64 test
clips of ``motion_checks.py``, continued from their real first frame (mode iv, seed 0) by each checkpoint, the
foreground (pixels brighter than 0.3 in any channel) of frame 1 against the last frame:

* ``log_area_ratio``: mean |log(area_last / area_1)| (0: the size held; log 2 = 0.69: doubled or halved);
* ``faded``: the share of clips whose last frame keeps under half of frame 1's foreground;
* ``area_change``: the mean relative change of the foreground's area from frame to frame (``motion_checks.py``).

The real clips' numbers come first (their sprites keep their size; the area changes only at the frame's edge).

    PYTHONPATH=. python docs/own_data/look_drift.py CHECKPOINT [CHECKPOINT ...]
"""
import json
import sys
from pathlib import Path

import torch

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset, validation_indices
from videovae.engine.generation import generate_videos
sys.path.insert(0, str(Path(__file__).parent))
from motion_checks import area_change, centroids


def drift(frames: torch.Tensor) -> dict[str, float]:
    area = centroids(frames)[1]
    first, last = area[:, 1].clamp_min(1), area[:, -1].clamp_min(1)
    values = {"log_area_ratio": (last / first).log().abs().mean(), "faded": (last < 0.5 * first).float().mean(),
              "area_change": area_change(area)}
    return {name: round(float(value), 3) for name, value in values.items()}


def main() -> None:
    torch.set_num_threads(1)
    result = {}
    for path in sys.argv[1:]:
        loaded = load_checkpoint(path)
        info = loaded.checkpoint.dataset
        test = load_dataset(info.name, info.root, dict(info.options)).split("test")
        picks = validation_indices(len(test), 64)
        frames = torch.stack([test[i][0] for i in picks])
        labels = torch.stack([test[i][1] for i in picks])
        result.setdefault("real test clips", drift(frames))
        videos, _ = generate_videos(loaded.model, labels=labels, first_frames=frames[:, 0], num=len(picks),
                                    length=frames.shape[1], label_table=loaded.label_table, seed=0)
        result[f"{path} (step {loaded.step})"] = drift(videos)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
