#!/usr/bin/env python
"""CPU throughput and memory of the paper's VideoVAE (+C+S, the sizes of A.4).

The model is ``build_model("videovae")``: 64×64×3 frames, 512-d latents and LSTM,
with the attributes of the built-in chairs (100 chairs × 2 tilts × 2 rotations).

Training (one subprocess): frames/second of full Adam iterations on a batch of
32 videos × 10 frames (random pixels), timed after warm-up; the FLOPs of one
iteration's forward + backward of the loss (``torch.utils.flop_counter``); the
achieved GFLOP/s; the same process's fp32 matmul GFLOP/s (2048² @ 2048², best of
several) and the ratio of the two; the peak resident set size of the process.

Generation (another subprocess, so that it has its own peak RSS): videos/second
of ``model.generate`` in eval mode under ``torch.no_grad`` for 64 videos of 16
frames, with attributes only and with a given first frame; and the latency of one
video of 10 frames (batch 1).

Both run once per precision: fp32, and bf16 (``--precision bf16``'s autocast, with the
codec's fp32 islands) where the CPU has native bf16 (``avx512_bf16`` or ``amx_bf16``;
``--precision`` chooses). A third subprocess times each codec layer alone in fp32 and in
bf16 (``benchmarks/layers.py``). The record holds the CPU's flags;
``benchmarks/report.py`` writes the tables of docs/benchmarks.md.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py --threads 2               # JSON on stdout
    PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py --threads 2 --update-docs # + docs/benchmarks.md
    PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py --no-channels-last        # NCHW convolutions
    PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py --compile                 # torch.compile codec
    PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py --quick                   # smoke run, seconds
    PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py --profile [train|generate]  # top ops by self CPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
for folder in (REPO, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from parts import NUM_CHAIRS, TARGETS, run_generation, run_layers, run_paired, run_profile, run_training  # noqa: E402
from report import update_docs  # noqa: E402  (benchmarks/report.py: the docs tables)

FULL = dict(batch=32, frames=10, gen_batch=64, gen_frames=16, iters=5, warmup=2, gen_iters=3, matmul_repeats=8,
            latency_frames=10, latency_iters=10, layer_repeats=3)
QUICK = dict(batch=4, frames=3, gen_batch=4, gen_frames=3, iters=2, warmup=1, gen_iters=2, matmul_repeats=3,
             latency_frames=3, latency_iters=2, layer_repeats=1)
#: the sizes the child processes are told (each ``--name``)
SIZES = ("batch", "frames", "gen_batch", "gen_frames", "iters", "warmup", "gen_iters", "matmul_size", "matmul_repeats",
         "latency_frames", "latency_iters", "layer_repeats")



# -- arguments ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--batch", type=int, help="training videos per iteration (default 32; --quick 4)")
    parser.add_argument("--frames", type=int, help="frames per training video (default 10; --quick 3)")
    parser.add_argument("--gen-batch", type=int, help="videos per generate call (default 64; --quick 4)")
    parser.add_argument("--gen-frames", type=int, help="frames per generated video (default 16; --quick 3)")
    parser.add_argument("--iters", type=int, help="timed training iterations (default 5; --quick 2)")
    parser.add_argument("--warmup", type=int, help="untimed warm-up iterations (default 2; --quick 1)")
    parser.add_argument("--gen-iters", type=int, help="timed generate calls per mode (default 3; --quick 2)")
    parser.add_argument("--matmul-size", type=int, default=2048, help="n of the n×n fp32 matmul reference")
    parser.add_argument("--matmul-repeats", type=int, help="matmul repeats, best one counts (default 8)")
    parser.add_argument("--latency-frames", type=int, help="frames of the batch-1 generation (default 10)")
    parser.add_argument("--latency-iters", type=int, help="timed batch-1 generate calls (default 10)")
    parser.add_argument("--layer-repeats", type=int, help="timed calls per codec layer and precision (default 3)")
    parser.add_argument("--precision", default="auto",
                        help="fp32, bf16 or fp32,bf16 (default auto: fp32, and bf16 where the CPU has it natively)")
    parser.add_argument("--layers", action=argparse.BooleanOptionalAction, default=True,
                        help="the per-layer table (benchmarks/layers.py; default on)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                        help="the codec option channels_last (NHWC convolutions; default on)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the encoder and the decoder")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--profile", nargs="?", const="train", choices=("train", "generate"),
                        help="print the top ops by self CPU time of one training iteration (or generate call)")
    parser.add_argument("--profile-rows", type=int, default=20)
    parser.add_argument("--update-docs", action="store_true", help=f"rewrite the results in {DOCS.relative_to(REPO)}")
    parser.add_argument("--docs", type=Path, default=DOCS, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help="also write the JSON to this file")
    parser.add_argument("--part", choices=("train", "generate", "layers", "paired"), help=argparse.SUPPRESS)  # internal
    parser.add_argument("--layer-precisions", default="fp32", help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("threads", *(size for size in SIZES if size != "warmup")):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.update_docs and args.quick:
        parser.error("--update-docs records full runs only; drop --quick")
    wanted = ["fp32", "bf16"] if args.precision == "auto" else [p.strip() for p in args.precision.split(",") if p.strip()]
    if not wanted or set(wanted) - {"fp32", "bf16"}:
        parser.error(f"--precision takes fp32, bf16, fp32,bf16 or auto, got {args.precision!r}")
    args.precisions = sorted(set(wanted), key=["fp32", "bf16"].index)
    args.auto_precision = args.precision == "auto"
    args.layer_precisions = args.layer_precisions.split(",")
    if args.part is not None or args.profile:  # one precision: the first asked for (auto: fp32)
        args.precision = args.precisions[0]
    return args


# -- orchestration (parent process; does not import torch) --------------------------------------
def child_argv(args, part: str, precision: str) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--threads", str(args.threads),
            "--precision", precision if part != "layers" else "fp32", "--layer-precisions", precision]
    for name in SIZES:
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    argv.append("--channels-last" if args.channels_last else "--no-channels-last")
    if args.compile:
        argv.append("--compile")
    return argv


def run_child(args, part: str, precision: str = "fp32", extra_env: dict[str, str] | None = None) -> dict:
    """The JSON a child process prints for ``part``, run with this process's environment plus ``extra_env``
    (e.g. ``LD_PRELOAD``: benchmarks/environment.py)."""
    env = {**os.environ, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("VIDEOVAE_PLUGINS", "")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    cache = None
    if args.compile:  # a cold inductor cache, so that the compile time is a first compile's
        cache = tempfile.mkdtemp(prefix="videovae-bench-inductor-")
        env["TORCHINDUCTOR_CACHE_DIR"] = cache
    try:
        proc = subprocess.run(child_argv(args, part, precision), env=env, capture_output=True, text=True)
    finally:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark part {part!r} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    model_name = None
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        match = re.search(r"^Model name:\s*(.+)$", text, re.M)
        model_name = match.group(1).strip() if match else None
    except (OSError, subprocess.SubprocessError):
        pass
    if model_name is None:
        try:
            match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
            model_name = match.group(1).strip() if match else None
        except OSError:
            pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": model_name or platform.processor() or "unknown", "logical_cpus": os.cpu_count(),
            "usable_cpus": usable, "system": f"{platform.system()} {platform.release()}"}


def cpu_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used so far (``/proc/stat``), or None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def targets(runs: dict[str, dict], paired: dict | None) -> tuple[dict, dict]:
    """The targets of :data:`TARGETS` from the runs by precision (fp32 always; bf16 where it ran): training's in
    fp32, the bf16 speed-up where bf16 ran (from the paired measurement: both precisions turn by turn in one
    process), generation's at the best precision."""
    fp32 = runs["fp32"]
    best = lambda key: max(run["generation"][key] for run in runs.values())  # noqa: E731
    values = {
        "training_achieved_over_matmul": fp32["training"]["achieved_over_matmul"],
        "generation_attributes_videos_per_s": best("attributes_videos_per_s"),
        "generation_first_frame_videos_per_s": best("first_frame_videos_per_s"),
        "generation_batch1_videos_per_s": max(1 / run["generation"]["batch1_seconds_per_video"] for run in runs.values()),
        "training_peak_rss_gb": max(run["training"]["peak_rss_mb"] for run in runs.values()) / 1024,
    }
    if paired is not None:
        values["training_bf16_speedup"] = paired["training_iteration"]["bf16_speedup"]
    table, meets = {}, {}
    for name, (op, threshold) in TARGETS.items():
        if name not in values:
            continue
        value = values[name]
        ok = value >= threshold if op == ">=" else value < threshold
        table[name] = {"value": value, "target": threshold, "op": op, "ratio": value / threshold}
        meets[name] = bool(ok)
    return table, meets


def ratios(runs: dict[str, dict]) -> dict | None:
    """bf16 over fp32 of the same run's separate processes (one after the other, so a neighbour that comes or goes
    between them skews these; the paired part does not): training frames/s, generation videos/s (both modes) and
    batch-1 speed."""
    if "bf16" not in runs:
        return None
    (t32, g32), (t16, g16) = ((runs[p]["training"], runs[p]["generation"]) for p in ("fp32", "bf16"))
    return {"training_frames_per_s": t16["frames_per_s"] / t32["frames_per_s"],
            "generation_attributes_videos_per_s": g16["attributes_videos_per_s"] / g32["attributes_videos_per_s"],
            "generation_first_frame_videos_per_s": g16["first_frame_videos_per_s"] / g32["first_frame_videos_per_s"],
            "generation_batch1_videos_per_s": g32["batch1_seconds_per_video"] / g16["batch1_seconds_per_video"]}


def variant_name(args) -> str:
    name = "channels_last" if args.channels_last else "NCHW (--no-channels-last)"
    if args.compile:
        name += " + torch.compile"
    extras = [f"{k}={getattr(args, k)}" for k, v in {"threads": 2, **FULL}.items() if getattr(args, k) != v]
    if not args.auto_precision:
        extras.append(f"precision={','.join(args.precisions)}")
    if args.quick:
        extras.insert(0, "quick")
    return name + (f" ({', '.join(extras)})" if extras else "")


def command_line(argv: list[str]) -> str:
    return "PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py " + shlex.join(argv)


def run_benchmark(args, argv: list[str]) -> dict:
    started, busy, own = time.perf_counter(), cpu_busy_seconds(), own_cpu_seconds()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    runs = {"fp32": {**run_child(args, "train", "fp32"), **run_child(args, "generate", "fp32")}}
    environment, wanted = runs["fp32"]["environment"], list(args.precisions)
    if "bf16" in wanted and environment["native_bf16"] is not True:
        if not args.auto_precision:
            raise SystemExit(f"--precision bf16: {environment['native_bf16']}")
        wanted.remove("bf16")  # auto: fp32 only, the record says why
    if "bf16" in wanted:
        runs["bf16"] = {**run_child(args, "train", "bf16"), **run_child(args, "generate", "bf16")}
    paired = run_child(args, "paired")["paired"] if "bf16" in wanted else None
    layers = run_child(args, "layers", ",".join(wanted))["layers"] if args.layers else None
    wall = time.perf_counter() - started
    table, meets = targets(runs, paired)
    other = None if busy is None else max(0.0, cpu_busy_seconds() - busy - (own_cpu_seconds() - own))
    machine_info = {**machine(), "cpu_flags": environment["cpu_flags"], "native_bf16": environment["native_bf16"]}
    return {
        "variant": variant_name(args),
        "command": command_line(argv),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info,
        "background": {
            "load_average_1min_before": load_before,
            "other_cpu_seconds": other,
            "other_cpu_share": None if other is None else other / (wall * machine_info["usable_cpus"]),
            "note": "CPU time used by other processes while this benchmark ran (from /proc/stat); "
                    "numbers measured next to a busy process are not comparable",
        },
        "environment": environment,
        "model": {"preset": "videovae", "parameters": runs["fp32"]["parameters"], "frame_shape": [3, 64, 64],
                  "latent_dim": 512, "attributes": f"chair ({NUM_CHAIRS}), tilt (2), rotation (2)"},
        "options": {"threads": args.threads, "channels_last": args.channels_last, "compile": args.compile,
                    "quick": args.quick, "precisions": list(runs)},
        "training": runs["fp32"]["training"],
        "generation": runs["fp32"]["generation"],
        "bf16": {"training": runs["bf16"]["training"], "generation": runs["bf16"]["generation"]} if "bf16" in runs else None,
        "bf16_over_fp32": ratios(runs),
        "bf16_paired": paired,
        "layers": layers,
        "peak_rss_note": "ru_maxrss of a separate process for training and for generation (whole process: "
                         "Python + torch libraries + model + activations); rss_after_import_mb is the "
                         "resident size before the model was built",
        "targets": table,
        "meets_targets": meets,
        "wall_seconds": wall,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.part is not None:
        parts = {"train": run_training, "generate": run_generation, "layers": run_layers, "paired": run_paired}
        result = parts[args.part](args)
        print(json.dumps(result))
        return 0
    if args.profile:
        run_profile(args)
        return 0
    result = run_benchmark(args, argv)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    if args.update_docs:
        update_docs(args.docs, result)
        print(f"updated {args.docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
