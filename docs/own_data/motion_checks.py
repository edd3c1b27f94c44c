"""Where a model's commanded motion goes (docs/own_data.md, "The balls' axis"): for 64 test clips of a checkpoint
trained on a built-in stress set, in mode i (attributes only) and mode iv (real first frame):

* ``travel``: how far the foreground centroid (pixels brighter than 0.3 in any channel, whatever their colour)
  moves along and across the commanded axis, summed over the clip's steps (bouncing-balls only; real clips
  move along it only), and the mean relative change of the foreground's area from frame to frame;
* ``turned``: the same clips generated with ATTRIBUTE moved to its next value (same noise): how far the
  centroid moves from where it was, mean over frames and at the last frame;
* ``steering``: :func:`videovae.engine.evaluation.steering.steering` (pixel change when each attribute changes,
  over the change when only the noise does).

    PYTHONPATH=$PWD python docs/own_data/motion_checks.py RUN/checkpoint.pt ATTRIBUTE
"""

from __future__ import annotations

import json
import sys

import torch

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset, validation_indices
from videovae.engine.evaluation.steering import steering
from videovae.engine.generation import generate_videos


def centroids(frames: torch.Tensor, threshold: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid (x, y) ``[N, T, 2]`` and area ``[N, T]`` of the pixels brighter than ``threshold`` in any channel."""
    mass = (frames.amax(2) > threshold).float()
    grid = torch.arange(mass.shape[-1], dtype=torch.float32) + 0.5
    total = mass.sum((-1, -2))
    safe = total.clamp_min(1e-6)
    return torch.stack([(mass.sum(-2) * grid).sum(-1) / safe, (mass.sum(-1) * grid).sum(-1) / safe], -1), total


def area_change(area: torch.Tensor) -> torch.Tensor:
    """The mean relative change of the foreground's area ``[N, T]`` from frame to frame."""
    return (area.diff(dim=1).abs().mean(1) / area.mean(1).clamp_min(1)).mean()


def travel(frames: torch.Tensor, labels: torch.Tensor, attributes) -> dict[str, float]:
    path, area = centroids(frames)
    step = path.diff(dim=1).abs().sum(1)  # [N, 2]
    axis = labels[:, 0, attributes.index("axis")].long()
    along, across = step.gather(1, axis[:, None]).squeeze(1), step.gather(1, 1 - axis[:, None]).squeeze(1)
    return {"along_px": float(along.mean()), "across_px": float(across.mean()),
            "more_along": float((along > across).float().mean()),
            "area_change": float(area_change(area))}


def main() -> None:
    path, attribute = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    loaded = load_checkpoint(path)
    model, info = loaded.model, loaded.checkpoint.dataset
    data = load_dataset(info.name, info.root, dict(info.options))
    test = data.split("test")
    picks = validation_indices(len(test), 64)
    frames = torch.stack([test[i][0] for i in picks])
    labels = torch.stack([test[i][1] for i in picks])
    column = data.attributes.index(attribute)
    turned = labels.clone()
    turned[..., column] = (turned[..., column] + 1) % data.attributes.specs[column].num_classes
    result = {"checkpoint": path, "step": loaded.step, "options": dict(info.options)}
    if info.name == "bouncing-balls":
        result["real"] = travel(frames, labels, data.attributes)
    common = dict(num=len(picks), length=frames.shape[1], label_table=loaded.label_table, seed=0)
    for mode, first in (("i", None), ("iv", frames[:, 0])):
        videos, used = generate_videos(model, labels=labels, first_frames=first, **common)
        other, _ = generate_videos(model, labels=turned, first_frames=first, **common)
        shift = (centroids(videos)[0] - centroids(other)[0]).norm(dim=-1)
        result[mode] = {**(travel(videos, labels, data.attributes) if info.name == "bouncing-balls" else {}),
                        f"turned_{attribute}_shift_px": float(shift.mean()), "turned_shift_last_px": float(shift[:, -1].mean()),
                        "steering": steering(model, used, first, seed=0)}
    print(json.dumps(result, indent=1, default=lambda v: round(v, 3)))


if __name__ == "__main__":
    main()
