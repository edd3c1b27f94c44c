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
frames, with attributes only and with a given first frame.

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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: name: (comparison, threshold) — the targets of the performance issue
TARGETS = {
    "training_achieved_over_matmul": (">=", 0.40),
    "generation_attributes_videos_per_s": (">=", 100.0),
    "generation_first_frame_videos_per_s": (">=", 100.0),
    "training_peak_rss_gb": ("<", 2.0),
}

FULL = dict(batch=32, frames=10, gen_batch=64, gen_frames=16, iters=5, warmup=2, gen_iters=3, matmul_repeats=8)
QUICK = dict(batch=4, frames=3, gen_batch=4, gen_frames=3, iters=2, warmup=1, gen_iters=2, matmul_repeats=3)
NUM_CHAIRS = 100

BEGIN = "<!-- BEGIN benchmark-results: rewritten by `benchmarks/benchmark.py --update-docs`; edit outside -->"
END = "<!-- END benchmark-results -->"


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
    parser.add_argument("--part", choices=("train", "generate"), help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("threads", "batch", "frames", "gen_batch", "gen_frames", "iters", "gen_iters", "matmul_size",
                 "matmul_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.update_docs and args.quick:
        parser.error("--update-docs records full runs only; drop --quick")
    return args


# -- measurement helpers (run inside the subprocesses) -----------------------------------------
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_gflops(n: int, repeats: int) -> float:
    """Best-of-``repeats`` fp32 GFLOP/s of an n×n @ n×n matmul with the current thread setting."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    best = min(timed(lambda: torch.mm(a, b, out=out)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def chair_attributes():
    """The attribute set of ``synthetic-chairs`` with 100 chairs, without rendering them."""
    from videovae.core import AttributeSet, AttributeSpec
    from videovae.plugins.datasets.chair_render import ELEVATIONS_DEG

    return AttributeSet((
        AttributeSpec("chair", values=tuple(f"chair{i:03d}" for i in range(NUM_CHAIRS))),
        AttributeSpec("tilt", values=tuple(f"{e:g}deg" for e in ELEVATIONS_DEG)),
        AttributeSpec("rotation", values=("ccw", "cw")),
    ))


def paper_model(channels_last: bool):
    from videovae import build_model

    codec = {"channels_last": channels_last}
    return build_model("videovae", attributes=chair_attributes(), encoder_options=codec, decoder_options=codec)


def random_labels(attributes, batch: int, length: int, generator):
    import torch

    columns = [torch.randint(spec.num_classes, (batch, 1), generator=generator).float() for spec in attributes]
    return torch.cat(columns, dim=1).unsqueeze(1).expand(batch, length, len(columns)).clone()


def compile_codec(model) -> None:
    import torch

    model.encoder = torch.compile(model.encoder)
    model.decoder = torch.compile(model.decoder)


def training_setup(args):
    import torch

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = paper_model(args.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    frames = torch.rand(args.batch, args.frames, *model.config.frame_shape, generator=generator)
    labels = random_labels(model.attributes, args.batch, args.frames, generator)

    def step():
        terms = model.loss(frames, labels)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()

    return model, optimizer, frames, labels, step


def generation_setup(args):
    import torch

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = paper_model(args.channels_last).eval()
    labels = random_labels(model.attributes, args.gen_batch, args.gen_frames, generator)
    first = torch.rand(args.gen_batch, *model.config.frame_shape, generator=generator)
    modes = {
        "attributes": lambda: model.generate(labels, generator=generator),
        "first_frame": lambda: model.generate(labels, first_frame=first, generator=generator),
    }
    return model, modes


def environment() -> dict:
    import torch

    return {"torch": str(torch.__version__), "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(), "mkldnn": bool(torch.backends.mkldnn.is_available())}


def run_training(args) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(args.threads)
    rss_start = current_rss_mb()
    model, optimizer, frames, labels, step = training_setup(args)

    # FLOPs of forward + backward of the loss (eager; torch.compile does not change the arithmetic)
    with FlopCounterMode(display=False) as counter:
        model.loss(frames, labels).total.backward()
    flops = counter.get_total_flops()
    optimizer.zero_grad(set_to_none=True)

    if args.compile:
        compile_codec(model)
    warmup = [timed(step) for _ in range(args.warmup)]
    times = [timed(step) for _ in range(args.iters)]
    total = sum(times)
    seconds = total / args.iters
    compile_seconds = max(0.0, warmup[0] - statistics.median(times)) if args.compile and warmup else None
    peak = peak_rss_mb()  # before the matmul reference allocates its matrices
    matmul = matmul_gflops(args.matmul_size, args.matmul_repeats)
    achieved = flops / seconds / 1e9
    return {
        "environment": environment(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {
            "batch": args.batch, "frames": args.frames, "iterations": args.iters, "warmup": args.warmup,
            "seconds_per_iteration": seconds,
            "seconds_per_iteration_all": times,
            "frames_per_s": args.batch * args.frames / seconds,
            "flops_per_iteration": flops,
            "gflop_per_iteration": flops / 1e9,
            "achieved_gflops": achieved,
            "matmul_gflops": matmul,
            "matmul_size": args.matmul_size,
            "achieved_over_matmul": achieved / matmul,
            "peak_rss_mb": peak,
            "rss_after_import_mb": rss_start,
            "compile_seconds": compile_seconds,
        },
    }


def run_generation(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    rss_start = current_rss_mb()
    model, modes = generation_setup(args)
    out: dict = {"batch": args.gen_batch, "frames": args.gen_frames, "iterations": args.gen_iters}
    from torch.utils.flop_counter import FlopCounterMode

    for name, call in modes.items():  # eager FLOPs of one call per mode (decoder + encoder per frame)
        with FlopCounterMode(display=False) as counter:
            call()
        out[f"{name}_flops_per_call"] = counter.get_total_flops()
    if args.compile:
        compile_codec(model)
    compile_seconds = None
    with torch.no_grad():
        for name, call in modes.items():
            warm = [timed(call) for _ in range(max(1, args.warmup))]
            times = [timed(call) for _ in range(args.gen_iters)]
            seconds = sum(times) / len(times)
            out[f"{name}_videos_per_s"] = args.gen_batch / seconds
            out[f"{name}_seconds_per_call"] = seconds
            out[f"{name}_achieved_gflops"] = out[f"{name}_flops_per_call"] / seconds / 1e9
            if args.compile and compile_seconds is None:
                compile_seconds = max(0.0, warm[0] - statistics.median(times))
    out["peak_rss_mb"] = peak_rss_mb()
    out["rss_after_import_mb"] = rss_start
    out["compile_seconds"] = compile_seconds
    out["matmul_gflops"] = matmul_gflops(args.matmul_size, args.matmul_repeats)
    target = TARGETS["generation_attributes_videos_per_s"][1]
    for name in modes:  # the arithmetic rate 100 videos/s would need, against this process's matmul rate
        needed = out[f"{name}_flops_per_call"] / args.gen_batch * target / 1e9
        out[f"{name}_gflops_needed_for_target"] = needed
        out[f"{name}_needed_over_matmul"] = needed / out["matmul_gflops"]
    return {"environment": environment(), "generation": out}


def run_profile(args) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(args.threads)
    if args.profile == "train":
        model, _, _, _, call = training_setup(args)
        what = f"one training iteration (batch {args.batch} x {args.frames} frames, forward + backward + Adam)"
    else:
        model, modes = generation_setup(args)
        call = modes["attributes"]
        what = f"one generate call ({args.gen_batch} videos x {args.gen_frames} frames, attributes only)"
    if args.compile:
        compile_codec(model)
    with torch.no_grad() if args.profile == "generate" else torch.enable_grad():
        for _ in range(max(1, args.warmup)):
            call()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            seconds = timed(call)
    print(f"# {what}, {args.threads} threads, channels_last={args.channels_last}, compile={args.compile}: "
          f"{seconds:.3f} s (under the profiler)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_rows))


# -- orchestration (parent process; does not import torch) --------------------------------------
def child_argv(args, part: str) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--threads", str(args.threads)]
    for name in ("batch", "frames", "gen_batch", "gen_frames", "iters", "warmup", "gen_iters", "matmul_size",
                 "matmul_repeats"):
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    argv.append("--channels-last" if args.channels_last else "--no-channels-last")
    if args.compile:
        argv.append("--compile")
    return argv


def run_child(args, part: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("VIDEOVAE_PLUGINS", "")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    cache = None
    if args.compile:  # a cold inductor cache, so that the compile time is a first compile's
        cache = tempfile.mkdtemp(prefix="videovae-bench-inductor-")
        env["TORCHINDUCTOR_CACHE_DIR"] = cache
    try:
        proc = subprocess.run(child_argv(args, part), env=env, capture_output=True, text=True)
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


def targets(train: dict, gen: dict) -> tuple[dict, dict]:
    values = {
        "training_achieved_over_matmul": train["achieved_over_matmul"],
        "generation_attributes_videos_per_s": gen["attributes_videos_per_s"],
        "generation_first_frame_videos_per_s": gen["first_frame_videos_per_s"],
        "training_peak_rss_gb": train["peak_rss_mb"] / 1024,
    }
    table, meets = {}, {}
    for name, (op, threshold) in TARGETS.items():
        value = values[name]
        ok = value >= threshold if op == ">=" else value < threshold
        table[name] = {"value": value, "target": threshold, "op": op, "ratio": value / threshold}
        meets[name] = bool(ok)
    return table, meets


def variant_name(args) -> str:
    name = "channels_last" if args.channels_last else "NCHW (--no-channels-last)"
    if args.compile:
        name += " + torch.compile"
    extras = [f"{k}={getattr(args, k)}" for k, v in FULL.items() if getattr(args, k) != v]
    if args.quick:
        extras.insert(0, "quick")
    return name + (f" ({', '.join(extras)})" if extras else "")


def command_line(argv: list[str]) -> str:
    return "PYTHONPATH=. .venv/bin/python benchmarks/benchmark.py " + shlex.join(argv)


def run_benchmark(args, argv: list[str]) -> dict:
    started, busy, own = time.perf_counter(), cpu_busy_seconds(), own_cpu_seconds()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    train = run_child(args, "train")
    gen = run_child(args, "generate")
    wall = time.perf_counter() - started
    table, meets = targets(train["training"], gen["generation"])
    other = None if busy is None else max(0.0, cpu_busy_seconds() - busy - (own_cpu_seconds() - own))
    machine_info = machine()
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
        "environment": train["environment"],
        "model": {"preset": "videovae", "parameters": train["parameters"], "frame_shape": [3, 64, 64],
                  "latent_dim": 512, "attributes": f"chair ({NUM_CHAIRS}), tilt (2), rotation (2)"},
        "options": {"threads": args.threads, "channels_last": args.channels_last, "compile": args.compile,
                    "quick": args.quick},
        "training": train["training"],
        "generation": gen["generation"],
        "peak_rss_note": "ru_maxrss of a separate process for training and for generation (whole process: "
                         "Python + torch libraries + model + activations); rss_after_import_mb is the "
                         "resident size before the model was built",
        "targets": table,
        "meets_targets": meets,
        "wall_seconds": wall,
    }


# -- docs ------------------------------------------------------------------------------------
DOC_TEMPLATE = f"""# Benchmarks

CPU throughput and memory of the paper's model, measured by `benchmarks/benchmark.py`.

{BEGIN}
{END}
"""


def _fmt(value, digits=1, suffix=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render_results(records: list[dict]) -> str:
    lines = [BEGIN, "", "### Runs", "",
             "| Variant | Command | Date | CPU (usable cores) | torch | threads | other processes' CPU share |",
             "|---|---|---|---|---|---|---:|"]
    for r in records:
        m, share = r["machine"], r.get("background", {}).get("other_cpu_share")
        lines.append(f"| {r['variant']} | `{r['command']}` | {r['date']} | {m['cpu']} ({m['usable_cpus']}) | "
                     f"{r['environment']['torch']} | {r['options']['threads']} | "
                     f"{'–' if share is None else f'{100 * share:.0f}%'} |")
    lines += ["", "### Training (batch 32 × 10 frames, 64×64×3, forward + backward + Adam)", "",
              "| Variant | frames/s | s/iteration | GFLOP/iteration | achieved GFLOP/s | matmul GFLOP/s | "
              "achieved/matmul | peak RSS (MB) | RSS after import (MB) | compile (s) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        t = r["training"]
        lines.append(f"| {r['variant']} | {_fmt(t['frames_per_s'])} | {_fmt(t['seconds_per_iteration'], 2)} | "
                     f"{_fmt(t['gflop_per_iteration'])} | {_fmt(t['achieved_gflops'])} | "
                     f"{_fmt(t['matmul_gflops'])} | {_fmt(t['achieved_over_matmul'], 3)} | "
                     f"{_fmt(t['peak_rss_mb'], 0)} | {_fmt(t['rss_after_import_mb'], 0)} | "
                     f"{_fmt(t['compile_seconds'])} |")
    lines += ["", "### Generation (64 videos × 16 frames, eval mode, `torch.no_grad`)", "",
              "| Variant | attributes only (videos/s) | first frame given (videos/s) | GFLOP/call "
              "(attributes) | achieved GFLOP/s (attributes) | GFLOP/s needed for 100 videos/s | "
              "matmul GFLOP/s | peak RSS (MB) | compile (s) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        g = r["generation"]
        flops = g.get("attributes_flops_per_call")
        lines.append(f"| {r['variant']} | {_fmt(g['attributes_videos_per_s'])} | "
                     f"{_fmt(g['first_frame_videos_per_s'])} | {_fmt(None if flops is None else flops / 1e9)} | "
                     f"{_fmt(g.get('attributes_achieved_gflops'))} | "
                     f"{_fmt(g.get('attributes_gflops_needed_for_target'))} | {_fmt(g.get('matmul_gflops'))} | "
                     f"{_fmt(g['peak_rss_mb'], 0)} | {_fmt(g['compile_seconds'])} |")
    lines += ["", "### Targets", "",
              "| Variant | training achieved/matmul ≥ 0.40 | generation ≥ 100 videos/s (attributes / first frame) | "
              "training peak RSS < 2 GB |",
              "|---|---|---|---|"]
    for r in records:
        t, ok = r["targets"], r["meets_targets"]
        lines.append(
            f"| {r['variant']} | {_fmt(t['training_achieved_over_matmul']['value'], 3)} "
            f"({_mark(ok['training_achieved_over_matmul'])}) | "
            f"{_fmt(t['generation_attributes_videos_per_s']['value'])} "
            f"({_mark(ok['generation_attributes_videos_per_s'])}) / "
            f"{_fmt(t['generation_first_frame_videos_per_s']['value'])} "
            f"({_mark(ok['generation_first_frame_videos_per_s'])}) | "
            f"{_fmt(t['training_peak_rss_gb']['value'], 2)} GB ({_mark(ok['training_peak_rss_gb'])}) |")
    lines += ["", "<details><summary>Raw results (JSON, one record per command)</summary>", "", "```json",
              json.dumps(records, indent=1), "```", "", "</details>", "", END]
    return "\n".join(lines)


def read_records(text: str) -> list[dict]:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return []
    match = re.search(r"```json\n(.*?)\n```", text[start:end], re.S)
    if not match:
        return []
    try:
        records = json.loads(match.group(1))
    except json.JSONDecodeError:
        return []
    return records if isinstance(records, list) else []


def command_key(command: str) -> str:
    """A command without the options that do not change what is measured (one docs row per key)."""
    words, kept = shlex.split(command), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--update-docs",) or word.startswith("--output="):
            pass
        elif word == "--output":
            skip = True
        else:
            kept.append(word)
    return shlex.join(kept)


def update_docs(path: Path, record: dict) -> None:
    text = path.read_text() if path.exists() else DOC_TEMPLATE
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    key = command_key(record["command"])
    records = [r for r in read_records(text) if command_key(r["command"]) != key]
    records.append(record)
    # the default configuration first, then the others in the order they were first recorded
    records.sort(key=lambda r: 0 if r["variant"] == "channels_last" else 1)
    start, end = text.find(BEGIN), text.find(END) + len(END)
    text = text[:start] + render_results(records) + text[end:]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.part is not None:
        result = run_training(args) if args.part == "train" else run_generation(args)
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
