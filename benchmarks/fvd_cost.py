"""What FVD's feature extraction costs here: I3D features of clips of 16 frames, as the ``fvd`` metric computes them.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/fvd_cost.py --clips 16 --batch-size 8 --threads 1

Times :func:`videovae.plugins.metrics.fvd.i3d_features` (preprocessing from 32×32 frames to 224×224,
``torch.no_grad``, batched) on ``--clips`` random clips, once with the default contiguous layout and once with
channels-last (``--layouts``), after a one-batch warm-up, and extrapolates linearly to ``--target`` clips
(default 256: the cost of one set; FVD needs two, the generated and the real). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time

import torch

from videovae.plugins.metrics import fvd
from videovae.plugins.metrics.i3d import load_i3d


def cpu_flags() -> list[str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("Flags")), [])
    return sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=32, help="frame size before the resize to 224")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--target", type=int, default=256)
    p.add_argument("--layouts", default="contiguous,channels_last")
    p.add_argument("--checkpoint")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    net = load_i3d(args.checkpoint)
    videos = torch.rand(args.clips, args.frames, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    options = fvd.FVDOptions(batch_size=args.batch_size)
    results = {}
    for layout in args.layouts.split(","):
        fvd.CHANNELS_LAST = layout == "channels_last"
        fvd.i3d_features(videos[:1], net, options)  # warm-up
        start = time.perf_counter()
        fvd.i3d_features(videos, net, options)
        seconds = time.perf_counter() - start
        results[layout] = {"seconds": round(seconds, 1), "seconds_per_clip": round(seconds / args.clips, 3),
                           f"extrapolated_seconds_{args.target}_clips": round(seconds / args.clips * args.target)}
        print(json.dumps({layout: results[layout]}), flush=True)
    print(json.dumps({"clips": args.clips, "frames": args.frames, "size": args.size, "batch_size": args.batch_size,
                      "threads": args.threads, "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
                      "cpu_flags": cpu_flags(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
