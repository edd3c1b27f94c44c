#!/usr/bin/env python
"""Per-layer cost of the codec: each layer's forward + backward, in fp32 and under bf16 autocast.

Every convolution and linear layer of the encoder and the decoder is timed alone on the input it gets in a
training iteration (batch × frames maps, in the codec's memory format): forward, then backward of a random
output gradient (the input's gradient too, except for the encoder's first layer, whose input is the data).
A bf16 row runs the layer under ``torch.autocast(dtype=torch.bfloat16)`` on a bf16 input (what the layer before
hands it), with its fp32 island turned off, so that it shows what bf16 would do there. Each row gives the
median time, the FLOPs (``torch.utils.flop_counter``), GFLOP/s, bf16 time / fp32 time, and the relative error
of the bf16 output and input gradient against fp32 (‖bf16 − fp32‖ / ‖fp32‖); the islands that
``--precision bf16`` keeps in fp32 are the layers this table shows slower (or less accurate) in bf16.

``benchmarks/benchmark.py`` runs it in the training subprocess (``layers`` in its JSON, a table in
docs/benchmarks.md); on its own::

    PYTHONPATH=. .venv/bin/python benchmarks/layers.py --threads 2                 # A.4 sizes, batch 32 x 10
    PYTHONPATH=. .venv/bin/python benchmarks/layers.py --preset demo --batch 8     # the demo's codec
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


#: each layer is timed for at least this long (small layers many times: the scheduler's time slices are ~4 ms)
MIN_SECONDS = 0.25


def codec_layers(model) -> list[tuple[str, object]]:
    """(name, layer) of every convolution and linear layer of the encoder and the decoder, in data order."""
    import torch.nn as nn

    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    return [(f"{part}.{name}", layer) for part in ("encoder", "decoder")
            for name, layer in getattr(model, part).named_modules() if isinstance(layer, kinds)]


def layer_inputs(model, batch: int) -> dict[str, tuple]:
    """The input shape of each codec layer when ``batch`` frames are encoded and ``batch`` latents decoded."""
    import torch

    shapes, hooks = {}, []

    def record(name):
        def hook(_module, args):
            shapes.setdefault(name, tuple(args[0].shape))
        return hook

    for name, layer in codec_layers(model):
        hooks.append(layer.register_forward_pre_hook(record(name)))
    try:
        with torch.no_grad():
            model.encoder(torch.rand(batch, *model.config.frame_shape))
            model.decoder(torch.randn(batch, model.config.latent_dim))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def describe(layer) -> str:
    import torch.nn as nn

    if isinstance(layer, nn.Linear):
        return f"linear {layer.in_features}→{layer.out_features}"
    kind = "conv" if isinstance(layer, nn.Conv2d) else "deconv"
    return f"{kind} {layer.in_channels}→{layer.out_channels} k{layer.kernel_size[0]} s{layer.stride[0]}"


def _plain(layer):
    """A copy of ``layer`` without its fp32 island (the measurement of what bf16 would do there)."""
    clone = copy.deepcopy(layer)
    clone.__dict__.pop("forward", None)
    return clone


def layer_runner(layer, shape: tuple, precision: str, *, input_grad: bool, memory_format, seed: int = 0):
    """A call that runs ``layer``'s forward + backward once in ``precision`` and returns (output, input gradient)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    layer = _plain(layer)
    x = torch.rand(shape, generator=generator)
    if x.ndim == 4:
        x = x.contiguous(memory_format=memory_format)
    out_grad = None

    def run():
        nonlocal out_grad
        inp = (x.bfloat16() if precision == "bf16" else x).detach().requires_grad_(input_grad)
        layer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            y = layer(inp)
        if out_grad is None:
            out_grad = torch.randn(y.shape, generator=generator)
        y.backward(out_grad.to(y.dtype))
        return y, inp.grad

    return run


def measure_layer(layer, shape: tuple, precisions, *, input_grad: bool, repeats: int, memory_format) -> dict:
    """Per precision: median seconds of forward + backward, FLOPs, the output and input gradient. The
    precisions take turns, round after round, so that a busy neighbour slows them alike."""
    from torch.utils.flop_counter import FlopCounterMode

    runs = {p: layer_runner(layer, shape, p, input_grad=input_grad, memory_format=memory_format) for p in precisions}
    results = {}
    for precision, run in runs.items():
        with FlopCounterMode(display=False) as counter:
            y, grad = run()
        run()  # warm-up
        results[precision] = {"flops": counter.get_total_flops(), "output": y.detach().float(),
                              "input_grad": None if grad is None else grad.float(), "times": []}
    while min(len(r["times"]) for r in results.values()) < repeats or \
            min(sum(r["times"]) for r in results.values()) < MIN_SECONDS:
        for precision, run in runs.items():
            start = time.perf_counter()
            run()
            results[precision]["times"].append(time.perf_counter() - start)
    for result in results.values():
        result["seconds"] = statistics.median(result.pop("times"))
    return results


def _relative_error(a, b) -> float | None:
    if a is None or b is None:
        return None
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def layer_table(model, batch: int, *, precisions=("fp32", "bf16"), repeats: int = 3) -> list[dict]:
    """One row per codec layer: shape, FLOPs and, per precision, seconds and GFLOP/s; with both precisions
    also bf16/fp32 time and the bf16 relative errors; ``kept_fp32`` where the model keeps it as an fp32 island."""
    import torch

    from videovae.core.mixed_precision import is_float32_island

    shapes = layer_inputs(model, batch)
    memory_format = getattr(model.encoder, "memory_format", torch.contiguous_format)
    rows = []
    for index, (name, layer) in enumerate(codec_layers(model)):
        shape = shapes[name]
        row = {"layer": name, "what": describe(layer), "input": list(shape), "kept_fp32": is_float32_island(layer)}
        results = measure_layer(layer, shape, precisions, input_grad=index > 0, repeats=repeats,
                                memory_format=memory_format)
        for precision, result in results.items():
            row["gflop"] = result["flops"] / 1e9
            row[f"{precision}_ms"] = result["seconds"] * 1e3
            row[f"{precision}_gflops"] = result["flops"] / result["seconds"] / 1e9
        if {"fp32", "bf16"} <= set(results):
            row["bf16_over_fp32_time"] = row["bf16_ms"] / row["fp32_ms"]
            row["bf16_output_error"] = _relative_error(results["bf16"]["output"], results["fp32"]["output"])
            row["bf16_input_grad_error"] = _relative_error(results["bf16"]["input_grad"], results["fp32"]["input_grad"])
        rows.append(row)
    return rows


def _fmt(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_layers(rows: list[dict]) -> list[str]:
    """The per-layer table as Markdown lines."""
    lines = ["| Layer | what | input | GFLOP (fwd+bwd) | fp32 ms | fp32 GFLOP/s | bf16 ms | bf16 GFLOP/s | "
             "bf16/fp32 time | bf16 error (output / input grad) | kept in fp32 |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        errors = " / ".join("–" if r.get(k) is None else f"{r[k]:.1e}"
                            for k in ("bf16_output_error", "bf16_input_grad_error"))
        lines.append(f"| `{r['layer']}` | {r['what']} | {'×'.join(map(str, r['input']))} | {_fmt(r['gflop'], 2)} | "
                     f"{_fmt(r.get('fp32_ms'))} | {_fmt(r.get('fp32_gflops'))} | {_fmt(r.get('bf16_ms'))} | "
                     f"{_fmt(r.get('bf16_gflops'))} | {_fmt(r.get('bf16_over_fp32_time'), 2)} | "
                     f"{errors if 'bf16_output_error' in r else '–'} | {'yes' if r['kept_fp32'] else 'no'} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="videovae", help="model preset (default videovae: the A.4 sizes)")
    parser.add_argument("--batch", type=int, default=320, help="frames per layer call (default 320: 32 videos x 10)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    import torch

    from videovae import build_model
    from videovae.engine.precision import cpu_flags

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(args.preset).train()
    rows = layer_table(model, args.batch, repeats=args.repeats)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        flags = sorted(cpu_flags() or ())
        print(f"# {args.preset}, {args.batch} frames, {args.threads} threads, CPU flags with bf16/avx512: "
              f"{' '.join(f for f in flags if 'bf16' in f or 'avx512f' == f or 'amx' in f)}")
        print("\n".join(render_layers(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
