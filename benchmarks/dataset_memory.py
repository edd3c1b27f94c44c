#!/usr/bin/env python
"""Peak memory and time of loading a large ``folder`` data set (the frames go to a memory-mapped cache).

Writes ``--clips`` image strips of ``--frames`` frames at ``--source-size``×``--source-size`` (a
square moving across a dark background, deterministic per clip; one clip in memory at a time) with
a ``labels.csv`` (colour, direction) into a temporary folder, then loads it with
``FolderClips(root, size=--size)`` in a fresh subprocess twice: the first load (empty cache: every
clip decoded, resized and written to the cache file) and the cached load (the file mapped again).
Each subprocess reports its peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``),
the RSS right after its imports and its load time. ``--in-memory`` adds a third load with
``cache=false`` (the frames gathered in memory, as every load did before the cache).

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/dataset_memory.py            # 10,000 clips
    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dataset_memory.py --clips 200 --in-memory # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"red": (230, 40, 40), "green": (40, 210, 60), "blue": (50, 90, 240), "yellow": (230, 220, 40)}


def peak_rss_gb() -> float:
    """This process's peak resident set size in GB (ru_maxrss is in KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak * (1 if sys.platform == "darwin" else 1024) / 1e9, 3)


def clip_strip(index: int, frames: int, size: int):
    """Clip ``index``: a square of a colour moving left or right (bouncing vertically), as one
    horizontal strip ``uint8 [size, frames·size, 3]``, and its labels (colour, direction)."""
    import numpy as np

    rng = np.random.default_rng(index)
    colour = list(COLOURS)[index % len(COLOURS)]
    direction = "right" if (index // len(COLOURS)) % 2 == 0 else "left"
    side = int(rng.integers(size // 6, size // 3))
    x, y = float(rng.integers(0, size - side)), float(rng.integers(0, size - side))
    vx = (1 if direction == "right" else -1) * float(rng.uniform(0.5, 2.0))
    vy = float(rng.uniform(-2.0, 2.0))
    strip = np.empty((size, frames * size, 3), np.uint8)
    background = np.linspace(10, 50, size, dtype=np.float32)[:, None, None].astype(np.uint8)
    for t in range(frames):
        frame = strip[:, t * size:(t + 1) * size]
        frame[:] = background
        left, top = int(round(x)) % (size - side), int(round(y))
        frame[top:top + side, left:left + side] = COLOURS[colour]
        x, y = x + vx, y + vy
        if not 0 <= y <= size - side:  # bounce off the top and bottom
            vy, y = -vy, min(max(y, 0.0), float(size - side))
    return strip, colour, direction


def write_folder(root: Path, clips: int, frames: int, size: int) -> float:
    """The data set: ``clip00000.png`` … and ``labels.csv``; returns the seconds it took."""
    from PIL import Image

    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "labels.csv.tmp", "w") as labels:
        labels.write("clip,colour,direction\n")
        for i in range(clips):
            strip, colour, direction = clip_strip(i, frames, size)
            Image.fromarray(strip).save(root / f"clip{i:05d}.png")
            labels.write(f"clip{i:05d},{colour},{direction}\n")
    os.replace(root / "labels.csv.tmp", root / "labels.csv")
    return time.perf_counter() - started


def load(root: str, size: int, cache: bool) -> dict:
    """Load the folder (in this process) and report what it took."""
    import torch  # noqa: F401  (the imports a training process has; their memory is counted apart)

    from videovae.plugins.datasets.folder import FolderClips

    after_imports = peak_rss_gb()
    started = time.perf_counter()
    data = FolderClips(root, size=size, cache=cache)
    seconds = time.perf_counter() - started
    frames, _ = data.split("train")[0]
    return {"load_seconds": round(seconds, 1), "peak_rss_gb": peak_rss_gb(), "rss_after_imports_gb": after_imports,
            "clips": len(data.store.names), "frames": data.store.num_frames,
            "train_items": len(data.split("train")), "test_items": len(data.split("test")),
            "item_shape": list(frames.shape), "in_memory": data.cache_path is None,
            "cache_file_gb": round(data.cache_path.stat().st_size / 1e9, 3) if data.cache_path else None}


def measured_load(root: Path, size: int, cache_dir: Path, cache: bool = True) -> dict:
    """:func:`load` in a fresh subprocess (its own peak RSS)."""
    env = {**os.environ, "VIDEOVAE_CACHE": str(cache_dir), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, __file__, "--load", str(root), "--size", str(size)] + ([] if cache else ["--no-cache"])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the load failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=10_000)
    p.add_argument("--frames", type=int, default=32, help="frames per clip")
    p.add_argument("--source-size", type=int, default=64, help="frame size of the written strips")
    p.add_argument("--size", type=int, default=32, help="frame size the data set is loaded at")
    p.add_argument("--in-memory", action="store_true", help="also load with cache=false (frames in memory)")
    p.add_argument("--workdir", help="folder for the clips and the cache (default: a temporary one, removed after)")
    p.add_argument("--load", help=argparse.SUPPRESS)
    p.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.load:  # the subprocess
        print(json.dumps(load(args.load, args.size, cache=not args.no_cache)))
        return 0
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="videovae-dataset-memory-"))
    try:
        root, cache_dir = work / "clips", work / "cache"
        generate_seconds = write_folder(root, args.clips, args.frames, args.source_size)
        result = {"clips": args.clips, "frames_per_clip": args.frames, "source_size": args.source_size, "size": args.size,
                  "generate_seconds": round(generate_seconds, 1), "generate_peak_rss_gb": peak_rss_gb(),
                  "source_gb": round(sum(f.stat().st_size for f in root.iterdir()) / 1e9, 3)}
        print(json.dumps(result), flush=True)
        result["first_load"] = measured_load(root, args.size, cache_dir)
        print(json.dumps({"first_load": result["first_load"]}), flush=True)
        result["cached_load"] = measured_load(root, args.size, cache_dir)
        print(json.dumps({"cached_load": result["cached_load"]}), flush=True)
        if args.in_memory:
            result["in_memory_load"] = measured_load(root, args.size, cache_dir, cache=False)
            print(json.dumps({"in_memory_load": result["in_memory_load"]}), flush=True)
        print(json.dumps(result, indent=2))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
