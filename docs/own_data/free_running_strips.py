"""Strips of free-running continuations of moving-sprites test clips, two checkpoints against the real clips
(docs/own_data.md, "Training the prior on its own rollouts"): for 8 test clips (every 12th), three rows each —
the real clip, checkpoint A's and checkpoint B's continuation from its first frame with the prior's mean at every
step (``exposure.py``'s ``free`` mode) — 32×32 frames drawn 3× larger.

    PYTHONPATH=. python docs/own_data/free_running_strips.py A/checkpoint.pt B/checkpoint.pt OUT.png
"""
import sys
from pathlib import Path

import torch
from torchvision.utils import save_image

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset
sys.path.insert(0, str(Path(__file__).parent))
from exposure import predictions


def main():
    torch.set_num_threads(1)
    rows, frames, labels = [], None, None
    for path in sys.argv[1:3]:
        loaded = load_checkpoint(path)
        if frames is None:
            info = loaded.checkpoint.dataset
            test = load_dataset(info.name, info.root, dict(info.options)).split("test")
            frames = torch.stack([test[i][0] for i in range(0, 96, 12)])
            labels = torch.stack([test[i][1] for i in range(0, 96, 12)])
        rows.append(predictions(loaded.model.eval(), frames, labels)["free"])
    strips = torch.cat([torch.stack([frames[k], rows[0][k], rows[1][k]]).flatten(0, 1) for k in range(len(frames))])
    save_image(torch.nn.functional.interpolate(strips, scale_factor=3, mode="nearest"), sys.argv[3],
               nrow=frames.shape[1], padding=1, pad_value=0.5)


if __name__ == "__main__":
    main()
