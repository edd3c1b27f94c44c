"""Measure a checkpoint of `videovae train` on its data set's test clips, as docs/own_data.md reports it:
the collapse check of the library (engine.health: squared error against the mean training frame, spread of
reconstructions and samples), L1 per frame of the reconstructions against the mean, median and black frames,
the brightest pixels, and a strip of six test clips (rows: real, reconstruction, generated from its labels,
continued from its first frame).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python docs/own_data/measure.py RUN/checkpoint.pt [--png out.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset, validation_indices
from videovae.engine.generation import generate_videos
from videovae.engine.health import check_health, l1_per_frame, reference_frames
from videovae.io.video import save_grid_png


def measure(path: str, png: str | None = None, clips: int = 64, shown: int = 6) -> dict:
    loaded = load_checkpoint(path)
    model, info = loaded.model, loaded.checkpoint.dataset
    data = load_dataset(info.name, info.root, dict(info.options))
    train, test = data.split("train"), data.split("test")
    references = reference_frames(train, range(len(train)))
    picks = validation_indices(len(test), clips)
    table = loaded.label_table
    health = check_health(model, test, picks, references=references, label_table=table, step=loaded.step)
    frames = torch.stack([test[i][0] for i in picks])
    labels = torch.stack([test[i][1] for i in picks])
    torch.manual_seed(0)
    with torch.no_grad():
        recon = model.reconstruct(frames, labels) if model.capabilities.posterior else None
    generated = first = None
    if model.capabilities.attributes_only:
        generated, _ = generate_videos(model, num=len(picks), length=frames.shape[1], labels=labels, label_table=table)
    if model.capabilities.first_frame:
        first, _ = generate_videos(model, num=len(picks), length=frames.shape[1], labels=labels,
                                   first_frames=frames[:, 0], label_table=table)
    mean_frame, median_frame = references
    result = {
        "checkpoint": str(path), "step": loaded.step, "dataset": info.name, "clips": len(picks),
        "likelihood": model.config.likelihood,
        "health": health.as_row(),
        "l1_per_frame": {"reconstruction": None if recon is None else round(l1_per_frame(recon, frames), 1),
                         "mean_frame": round(l1_per_frame(mean_frame, frames), 1),
                         "median_frame": round(l1_per_frame(median_frame, frames), 1),
                         "black": round(l1_per_frame(torch.zeros_like(mean_frame), frames), 1)},
        "brightest_255": {name: None if v is None else round(255 * float(v.max()))
                          for name, v in (("real", frames), ("reconstruction", recon), ("generated", generated),
                                          ("first_frame", first))},
    }
    if png:
        rows = [v for k in range(min(shown, len(picks)))
                for v in (frames[k], recon[k] if recon is not None else None, generated[k] if generated is not None else None,
                          first[k] if first is not None else None) if v is not None]
        save_grid_png(torch.stack(rows), png)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--png")
    parser.add_argument("--json")
    args = parser.parse_args()
    result = measure(args.checkpoint, args.png)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
