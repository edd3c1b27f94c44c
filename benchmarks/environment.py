#!/usr/bin/env python
"""Process settings that change speed without changing results: a malloc preload and OpenMP thread binding.

Each setting runs the training and the generation part of ``benchmarks/benchmark.py`` (the same child
processes, A.4 at 64×64 by default) with its environment, and the settings take turns round by round
(plain, jemalloc, tcmalloc, ..., plain, jemalloc, ...), so a slower or busier minute of a shared machine
falls on all of them alike. It reports the median training frames/s and generation videos/s of each setting
and its ratio to the plain setting's medians from the same run, with the CPU, its flags and the other
processes' share of the CPU. Nothing is installed: pass the allocators' shared libraries you have, e.g. from
the distribution's ``libjemalloc2`` and ``libtcmalloc-minimal4`` packages::

    PYTHONPATH=. .venv/bin/python benchmarks/environment.py --threads 2 --rounds 3 \\
        --preload jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
        --preload tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 --bind

``--bind`` adds ``OMP_PROC_BIND=close OMP_PLACES=cores`` (each OpenMP thread pinned to one core) alone and
with each preload. Results: docs/benchmarks.md, "Allocators and thread binding".
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import benchmark  # noqa: E402  (benchmarks/benchmark.py: the child processes and the machine record)

BIND = {"OMP_PROC_BIND": "close", "OMP_PLACES": "cores"}


def preload(entry: str) -> tuple[str, str]:
    name, sep, path = entry.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--preload takes NAME=PATH, e.g. jemalloc=/usr/lib/libjemalloc.so.2, got {entry!r}")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"--preload {name}: no file {path}")
    return name, path


def settings(preloads: list[tuple[str, str]], bind: bool) -> dict[str, dict[str, str]]:
    """Setting name → the environment variables it sets ("plain" sets none)."""
    out = {"plain": {}}
    out.update({name: {"LD_PRELOAD": path} for name, path in preloads})
    if bind:
        out.update({f"{name} + bind": {**env, **BIND} for name, env in list(out.items())})
    return out


def run_setting(args, env: dict[str, str]) -> tuple[dict[str, float], dict]:
    """One training and one generation child with ``env`` added to this process's environment: their rates, and
    the training child's record of its environment (torch, CPU flags)."""
    train = benchmark.run_child(args, "train", extra_env=env)
    generate = benchmark.run_child(args, "generate", extra_env=env)["generation"]
    rates = {"train_frames_per_s": train["training"]["frames_per_s"], "peak_rss_mb": train["training"]["peak_rss_mb"],
             "generate_videos_per_s": generate["attributes_videos_per_s"]}
    return rates, train["environment"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preload", action="append", type=preload, default=[], metavar="NAME=PATH")
    parser.add_argument("--bind", action="store_true", help="also run each setting with OMP_PROC_BIND=close OMP_PLACES=cores")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every setting (default 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--output", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    child = benchmark.parse_args(["--threads", str(args.threads), "--precision", "fp32"] + (["--quick"] if args.quick else []))
    table = settings(args.preload, args.bind)
    busy0, own0, wall0 = benchmark.cpu_busy_seconds(), benchmark.own_cpu_seconds(), time.monotonic()
    runs: dict[str, list[dict]] = {name: [] for name in table}
    for round_ in range(args.rounds):
        for name, env in table.items():
            rates, environment = run_setting(child, env)
            runs[name].append(rates)
            print(f"round {round_ + 1}/{args.rounds} {name}: {json.dumps(runs[name][-1])}", file=sys.stderr, flush=True)
    wall = time.monotonic() - wall0
    others = None
    if busy0 is not None:
        cores = benchmark.machine()["usable_cpus"] or 1
        others = max(0.0, (benchmark.cpu_busy_seconds() - busy0) - (benchmark.own_cpu_seconds() - own0)) / (wall * cores)
    medians = {name: {key: statistics.median(run[key] for run in rows) for key in rows[0]} for name, rows in runs.items()}
    plain = medians["plain"]
    report = {
        "command": "PYTHONPATH=. .venv/bin/python benchmarks/environment.py "
                   + shlex.join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {**benchmark.machine(), "cpu_flags": environment["cpu_flags"]}, "torch": environment["torch"],
        "threads": args.threads,
        "other_processes_cpu_share": None if others is None else round(others, 2),
        "settings": {name: {"env": table[name], "median": medians[name], "runs": runs[name],
                            "train_vs_plain": medians[name]["train_frames_per_s"] / plain["train_frames_per_s"],
                            "generate_vs_plain": medians[name]["generate_videos_per_s"] / plain["generate_videos_per_s"]}
                     for name in table},
    }
    print("| setting | training frames/s | × plain | generation videos/s | × plain | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in report["settings"].items():
        m = row["median"]
        print(f"| {name} | {m['train_frames_per_s']:.1f} | {row['train_vs_plain']:.2f} | {m['generate_videos_per_s']:.1f} "
              f"| {row['generate_vs_plain']:.2f} | {m['peak_rss_mb']:,.0f} |")
    text = json.dumps(report, indent=2)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
