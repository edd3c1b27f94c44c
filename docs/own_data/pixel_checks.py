"""Read the commanded attributes back from the pixels of generated clips (docs/own_data.md).

For a checkpoint trained on ``moving-sprites`` or ``bouncing-balls``: the labels of 64 test clips are
generated from attributes alone (mode i) and, where the model can, continuing each clip's real first
frame (mode iv); then, per clip, from the pixels alone (no classifier):

* ``visible``: the brightest value reaches 0.5 in at least 3 of 4 frames (an object is drawn);
* moving-sprites: ``direction`` — the foreground centroid moves at least 3 px the commanded way over
  the clip and more along it than across it; ``colour`` — the brightest pixel of the middle frame is
  nearest the commanded palette colour;
* bouncing-balls: ``axis`` — the centroid moves more along the commanded axis than across it.

The same measures on the real test clips are printed first (they must be 1.0: the check of the check).

    PYTHONPATH=$PWD python docs/own_data/pixel_checks.py RUN/checkpoint.pt [--json out.json] [--h0 random|zeros]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import attrs
import torch

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset, validation_indices
from videovae.engine.generation import generate_videos
from videovae.plugins.datasets.moving_sprites import STEPS
from videovae.plugins.datasets.procedural import PALETTE


def centroids(frames: torch.Tensor) -> torch.Tensor:
    """Brightness-weighted centroid (x, y) per frame, ``[N, T, 2]``; the frame centre for an all-black frame."""
    mass = frames.sum(2)  # [N, T, H, W]
    coords = torch.arange(mass.shape[-1], dtype=torch.float32) + 0.5
    total = mass.sum((-1, -2)).clamp_min(1e-6)
    return torch.stack([(mass.sum(-2) * coords).sum(-1) / total, (mass.sum(-1) * coords).sum(-1) / total], -1)


def read_back(dataset_name: str, attributes, frames: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Fractions of clips ``[N, T, C, H, W]`` whose pixels show what ``labels [N, T, A]`` command."""
    peak = frames.flatten(2).amax(-1)  # [N, T]
    result = {"visible": float(((peak > 0.5).float().mean(1) >= 0.75).float().mean())}
    path = centroids(frames)
    shift = path[:, -1] - path[:, 0]
    if dataset_name == "moving-sprites":
        expected = torch.as_tensor(STEPS)[labels[:, 0, attributes.index("direction")].long()]
        along, across = (shift * expected).sum(-1), (shift * expected.flip(-1)).sum(-1).abs()
        result["direction"] = float(((along >= 3) & (along > across)).float().mean())
        middle = frames[:, frames.shape[1] // 2].flatten(2)  # [N, 3, H*W]
        brightest = middle.gather(-1, middle.sum(1, keepdim=True).argmax(-1, keepdim=True).expand(-1, 3, 1)).squeeze(-1)
        nearest = torch.cdist(brightest, torch.tensor(list(PALETTE.values()))).argmin(-1)
        result["colour"] = float((nearest == labels[:, 0, attributes.index("colour")].long()).float().mean())
    elif dataset_name == "bouncing-balls":
        travel = path.diff(dim=1).abs().sum(1)  # [N, 2]: distance moved along x and along y
        axis = labels[:, 0, attributes.index("axis")].long()
        along, across = travel.gather(-1, axis[:, None]).squeeze(-1), travel.gather(-1, 1 - axis[:, None]).squeeze(-1)
        result["axis"] = float((along > across).float().mean())
    else:
        raise SystemExit(f"pixel checks know moving-sprites and bouncing-balls, not {dataset_name}")
    return {k: round(v, 3) for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--json")
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--h0", choices=("random", "zeros"), help="start the LSTM prior from this h(0) instead of the model's own")
    args = parser.parse_args()
    loaded = load_checkpoint(args.checkpoint)
    info, model = loaded.checkpoint.dataset, loaded.model
    if args.h0:
        model.temporal.options = attrs.evolve(model.temporal.options, initial_state=args.h0)
    data = load_dataset(info.name, info.root, dict(info.options))
    test = data.split("test")
    picks = validation_indices(len(test), args.clips)
    frames = torch.stack([test[i][0] for i in picks])
    labels = torch.stack([test[i][1] for i in picks])
    result = {"checkpoint": args.checkpoint, "step": loaded.step, "dataset": info.name, "clips": len(picks),
              "h0": model.temporal.options.initial_state if hasattr(model.temporal, "options") else None,
              "real": read_back(info.name, data.attributes, frames, labels)}
    common = dict(num=len(picks), length=frames.shape[1], labels=labels, label_table=loaded.label_table, seed=0)
    if model.capabilities.attributes_only:
        generated, _ = generate_videos(model, **common)
        result["attributes_only"] = read_back(info.name, data.attributes, generated, labels)
    if model.capabilities.first_frame:
        continued, _ = generate_videos(model, first_frames=frames[:, 0], **common)
        result["first_frame"] = read_back(info.name, data.attributes, continued, labels)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
