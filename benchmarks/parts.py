"""The parts of ``benchmarks/benchmark.py`` that run inside its subprocesses (one per part and precision, so that
each has its own peak RSS): training iterations, generate calls and the per-layer table, and ``--profile``.

Each ``run_*`` takes the parsed arguments of benchmark.py (``args.precision`` is the part's one precision) and
returns what the part measured as JSON data.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

#: name: (comparison, threshold) — the targets of the performance issue (issue 20); generation may use bf16 where
#: it is native (the best precision counts); the bf16 speed-up is measured only where bf16 is native
TARGETS = {
    "training_achieved_over_matmul": (">=", 0.50),
    "training_bf16_speedup": (">=", 1.5),
    "generation_attributes_videos_per_s": (">=", 100.0),
    "generation_first_frame_videos_per_s": (">=", 100.0),
    "generation_batch1_videos_per_s": (">=", 30.0),
    "training_peak_rss_gb": ("<", 2.0),
}

NUM_CHAIRS = 100


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


def matmul_gflops(n: int, repeats: int, precision: str = "fp32") -> float:
    """Best-of-``repeats`` GFLOP/s of an n×n @ n×n matmul in ``precision`` with the current thread setting."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
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

    def step(precision: str = args.precision):  # as the trainer's: the forward pass under the precision's autocast
        with autocast(precision, "cpu"):
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

    def mode(labels, first=None):
        def call(precision: str = args.precision):
            with autocast(precision, "cpu"):
                return model.generate(labels, first_frame=first, generator=generator)
        return call

    single = random_labels(model.attributes, 1, args.latency_frames, generator)
    return model, {"attributes": mode(labels), "first_frame": mode(labels, first)}, mode(single)


def run_paired(args) -> dict:
    """bf16 against fp32 in one process, call by call in turn (fp32, bf16, fp32, …), so that what else runs on the
    machine slows both alike: the median seconds of a training iteration, of a 64-video generate call (attributes
    only) and of a batch-1 call, per precision, and their ratios (fp32 time / bf16 time: bf16's speed-up)."""
    import torch

    torch.set_num_threads(args.threads)
    _, _, _, _, train_step = training_setup(args)
    _, modes, batch1 = generation_setup(args)
    calls = {"training_iteration": (train_step, args.iters), "generate_attributes": (modes["attributes"], args.gen_iters),
             "generate_batch1": (batch1, args.latency_iters)}
    out = {}
    for name, (call, repeats) in calls.items():
        times = {"fp32": [], "bf16": []}
        with torch.no_grad() if name != "training_iteration" else torch.enable_grad():
            for precision in times:
                for _ in range(max(1, args.warmup)):
                    call(precision)
            for _ in range(repeats):
                for precision, seconds in times.items():
                    seconds.append(timed(lambda: call(precision)))
        medians = {p: statistics.median(t) for p, t in times.items()}
        out[name] = {"fp32_seconds": medians["fp32"], "bf16_seconds": medians["bf16"],
                     "bf16_speedup": medians["fp32"] / medians["bf16"], "fp32_all": times["fp32"],
                     "bf16_all": times["bf16"]}
    return {"paired": out}


def autocast(precision: str, device: str):
    from videovae.engine.precision import autocast

    return autocast(precision, device)


def environment() -> dict:
    import torch

    from videovae.engine.precision import REPORTED_FLAGS, cpu_flags, native_bf16_missing

    flags = cpu_flags()
    return {"torch": str(torch.__version__), "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(), "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "cpu_flags": None if flags is None else [f for f in REPORTED_FLAGS if f in flags],
            "native_bf16": native_bf16_missing("cpu") or True}


def run_layers(args) -> dict:
    """The per-layer table (benchmarks/layers.py) of the model the training part trains, at its batch."""
    import torch

    from layers import layer_table

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = paper_model(args.channels_last).train()
    return {"layers": layer_table(model, args.batch * args.frames, precisions=args.layer_precisions,
                                  repeats=args.layer_repeats)}


def run_training(args) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(args.threads)
    rss_start = current_rss_mb()
    model, optimizer, frames, labels, step = training_setup(args)

    # FLOPs of forward + backward of the loss (eager; torch.compile does not change the arithmetic)
    with FlopCounterMode(display=False) as counter:
        with autocast(args.precision, "cpu"):
            terms = model.loss(frames, labels)
        terms.total.backward()
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
    matmul = matmul_gflops(args.matmul_size, args.matmul_repeats, args.precision)
    achieved = flops / seconds / 1e9
    return {
        "environment": environment(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {
            "precision": args.precision,
            "batch": args.batch, "frames": args.frames, "iterations": args.iters, "warmup": args.warmup,
            "seconds_per_iteration": seconds,
            "seconds_per_iteration_all": times,
            "frames_per_s": args.batch * args.frames / seconds,
            "flops_per_iteration": flops,
            "gflop_per_iteration": flops / 1e9,
            "achieved_gflops": achieved,
            "matmul_gflops": matmul,  # in the run's precision
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
    model, modes, batch1 = generation_setup(args)
    out: dict = {"precision": args.precision, "batch": args.gen_batch, "frames": args.gen_frames,
                 "iterations": args.gen_iters}
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
        for _ in range(max(1, args.warmup)):
            batch1()
        latency = [timed(batch1) for _ in range(args.latency_iters)]
    out["batch1_frames"] = args.latency_frames
    out["batch1_seconds_per_video"] = statistics.median(latency)
    out["batch1_seconds_all"] = latency
    out["peak_rss_mb"] = peak_rss_mb()
    out["rss_after_import_mb"] = rss_start
    out["compile_seconds"] = compile_seconds
    out["matmul_gflops"] = matmul_gflops(args.matmul_size, args.matmul_repeats, args.precision)
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
        model, modes, _ = generation_setup(args)
        call = modes["attributes"]
        what = f"one generate call ({args.gen_batch} videos x {args.gen_frames} frames, attributes only)"
    if args.compile:
        compile_codec(model)
    with torch.no_grad() if args.profile == "generate" else torch.enable_grad():
        for _ in range(max(1, args.warmup)):
            call()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            seconds = timed(call)
    print(f"# {what}, {args.threads} threads, {args.precision}, channels_last={args.channels_last}, compile={args.compile}: "
          f"{seconds:.3f} s (under the profiler)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_rows))
