"""Real moving-sprites test clips beside checkpoints' posterior reconstructions of them (docs/own_data.md, "Why
the sprites' outline came late"): 16 test clips (every 3rd), frames 0, 7 and 15 of the real clip, then of its
reconstruction by each checkpoint in turn (one posterior sample, seed 0), 32×32 frames drawn 4× larger. Also
prints each checkpoint's squared error per frame on them with the posterior's sample and with its mean decoded,
so that the sampling noise's share of the blur shows.

    PYTHONPATH=. python docs/own_data/reconstruction_strips.py CHECKPOINT [CHECKPOINT ...] OUT.png
"""
import sys

import torch
from torchvision.utils import make_grid, save_image

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset
from videovae.engine.evaluation.protocol import real_test_clips


def main():
    torch.set_num_threads(1)
    *paths, out_path = sys.argv[1:]
    picked, columns, frames = [0, 7, 15], [], None
    for path in paths:
        loaded = load_checkpoint(path)
        model, info = loaded.model.eval(), loaded.checkpoint.dataset
        if frames is None:
            frames, labels = real_test_clips(load_dataset(info.name, info.root, dict(info.options)), 16)
            frames, labels = frames[0:48:3], labels[0:48:3]
            columns.append(frames[:, picked])
        with torch.no_grad():
            out = model(frames, labels, generator=torch.Generator().manual_seed(0))
            sampled = out.reconstruction.clamp(0, 1)
            mean = model.decoder(out.posterior.mean.flatten(0, 1)).unflatten(0, frames.shape[:2]).clamp(0, 1)
        errors = {name: float(((decoded - frames) ** 2).sum((2, 3, 4)).mean()) for name, decoded in
                  (("sample", sampled), ("mean", mean))}
        print(f"{path}: squared error per frame, posterior sample {errors['sample']:.2f}, mean {errors['mean']:.2f}")
        columns.append(sampled[:, picked])
    tiles = torch.cat(columns, dim=1).flatten(0, 1)
    grid = make_grid(tiles, nrow=len(columns) * len(picked), padding=1, pad_value=1.0)
    save_image(torch.nn.functional.interpolate(grid[None], scale_factor=4, mode="nearest")[0], out_path)


if __name__ == "__main__":
    main()
