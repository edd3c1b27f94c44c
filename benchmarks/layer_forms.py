#!/usr/bin/env python
"""Exact reformulations of the codec's convolutions, timed against the plain layer (issue 20, item 1).

For each convolution and transposed convolution of the codec (A.4 at 64×64 by default), on the input it gets
in a training iteration, every formulation below that applies is run forward + backward (input and weight
gradients), the formulations taking turns round after round; the table gives each one's median time against
the plain layer's and its largest relative error (output, input gradient, weight gradient) against the plain
layer's. The point is to choose a faster path by measurement: one that is not faster on the machine that
runs it is not worth its code.

- ``plain``: the layer itself (oneDNN; channels_last as the codec runs it).
- ``backward-data`` (transposed convolutions): the forward as the input gradient of the mirrored convolution
  (``aten.convolution_backward``), the backward the plain layer's.
- ``flipped`` (stride-1 transposed convolutions): a convolution with the kernel flipped and padded by k − 1.
- ``s2d-r`` (stride 1): space-to-depth by r (``pixel_unshuffle``): a convolution with r² times the channels
  and a kernel of ⌈(k + r − 1)/r⌉, which keeps the vector units fuller when a layer has 3 or 10 channels.
- ``fft`` (stride-1 transposed convolutions, kernel ≥ 7): the full convolution as a product of 2-D real FFTs.

    PYTHONPATH=. .venv/bin/python benchmarks/layer_forms.py --threads 1
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from layers import codec_layers, describe, layer_inputs  # noqa: E402


def correlation(layer) -> tuple[torch.Tensor, int]:
    """(weight ``[O, C, k, k]`` of the equivalent correlation, its padding) of a stride-1 layer."""
    if isinstance(layer, nn.ConvTranspose2d):
        return layer.weight.flip(-1, -2).transpose(0, 1), layer.kernel_size[0] - 1
    return layer.weight, 0


def flipped(x, layer):
    weight, padding = correlation(layer)
    return F.conv2d(x, weight, layer.bias, padding=padding)


@functools.lru_cache(maxsize=None)
def phase_index(k: int, r: int) -> torch.Tensor:
    """``[r, r, r, r, taps, taps]``: for output phase (a, b), input phase (qy, qx) and tap (py, px), the flat index
    ky·k + kx of the kernel entry it holds, or k² (a zero) where none."""
    taps = (k + r - 2) // r + 1
    index = torch.full((r, r, r, r, taps, taps), k * k, dtype=torch.long)
    for a in range(r):
        for b in range(r):
            for ky in range(k):
                py, qy = divmod(a + ky, r)
                for kx in range(k):
                    px, qx = divmod(b + kx, r)
                    index[a, b, qy, qx, py, px] = ky * k + kx
    return index


def space_to_depth(x, layer, r: int):
    """The stride-1 ``layer`` as a correlation on ``pixel_unshuffle(x, r)``: r² times the channels, a kernel of
    ⌈(k + r − 1)/r⌉ taps; output phase (a, b) reads input phase ((a + ky) mod r, (b + kx) mod r) at offset
    ((a + ky) // r, (b + kx) // r)."""
    weight, padding = correlation(layer)
    o, c, k, _ = weight.shape
    if padding:
        x = F.pad(x, (padding,) * 4)
    h, w = x.shape[-2:]
    out_h, out_w = h - k + 1, w - k + 1
    taps = (k + r - 2) // r + 1
    x = F.pad(x, (0, r * (-(-out_w // r) + taps - 1) - w, 0, r * (-(-out_h // r) + taps - 1) - h))  # whole phases
    packed = weight.reshape(o, c, k * k)
    packed = torch.cat([packed, packed.new_zeros(o, c, 1)], dim=2)[:, :, phase_index(k, r)]  # one gather
    packed = packed.permute(0, 2, 3, 1, 4, 5, 6, 7)  # [o, a, b, c, qy, qx, py, px]
    y = F.conv2d(F.pixel_unshuffle(x, r), packed.reshape(o * r * r, c * r * r, taps, taps),
                 layer.bias.repeat_interleave(r * r))
    return F.pixel_shuffle(y, r)[..., :out_h, :out_w]


def fft_transposed(x, layer):
    """A stride-1 transposed convolution (a full convolution) as a product of 2-D real FFTs of its output size,
    at which the circular convolution does not wrap."""
    k = layer.kernel_size[0]
    size = (x.shape[-2] + k - 1, x.shape[-1] + k - 1)
    spectrum = torch.einsum("nchw,cohw->nohw", torch.fft.rfft2(x, s=size), torch.fft.rfft2(layer.weight, s=size))
    return torch.fft.irfft2(spectrum, s=size) + layer.bias[:, None, None]


class BackwardData(torch.autograd.Function):
    """A transposed convolution's forward as the input gradient of the convolution it mirrors
    (``aten.convolution_backward``); its backward is the plain layer's."""

    @staticmethod
    def forward(ctx, x, weight, bias, layer):
        ctx.save_for_backward(x, weight)
        ctx.layer = layer
        with torch.no_grad():
            size = layer(x[:1]).shape[-2:]
        fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        like = torch.empty((x.shape[0], weight.shape[1], *size), dtype=x.dtype).contiguous(memory_format=fmt)
        y = torch.ops.aten.convolution_backward(x, like, weight, None, layer.stride, layer.padding, (1, 1),
                                                False, (0, 0), 1, (True, False, False))[0]
        return y + bias[:, None, None]

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        layer = ctx.layer
        gx, gw, gb = torch.ops.aten.convolution_backward(grad, x, weight, [weight.shape[1]], layer.stride,
                                                         layer.padding, (1, 1), True, layer.output_padding, 1,
                                                         (True, True, True))
        return gx, gw, gb, None


def forms(layer) -> dict:
    """Name → call ``x ↦ y`` for every formulation that applies to ``layer``."""
    out = {"plain": layer}
    transposed = isinstance(layer, nn.ConvTranspose2d)
    if transposed:
        out["backward-data"] = lambda x: BackwardData.apply(x, layer.weight, layer.bias, layer)
    plain_geometry = all(p == 0 for p in layer.padding) and all(p == 0 for p in getattr(layer, "output_padding", (0,)))
    if layer.stride[0] == 1 and plain_geometry:
        if transposed:
            out["flipped"] = lambda x: flipped(x, layer)
            if layer.kernel_size[0] >= 7:
                out["fft"] = lambda x: fft_transposed(x, layer)
        for r in (2, 4):
            out[f"s2d-{r}"] = lambda x, r=r: space_to_depth(x, layer, r)
    return out


def _relative(a, b) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def measure(layer, shape, memory_format, repeats: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=generator).contiguous(memory_format=memory_format)
    grad = None
    calls, results = forms(layer), {}

    def run(call):
        nonlocal grad
        inp = x.detach().requires_grad_()
        layer.zero_grad(set_to_none=True)
        y = call(inp)
        if grad is None:
            grad = torch.randn(y.shape, generator=generator)
        y.backward(grad)
        return y.detach(), inp.grad, layer.weight.grad.clone()

    for name, call in calls.items():
        results[name] = {"values": run(call), "times": []}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            run(call)
            results[name]["times"].append(time.perf_counter() - start)
    plain = results["plain"]
    base = statistics.median(plain["times"])
    return {name: {"ms": statistics.median(r["times"]) * 1e3, "speed_up": base / statistics.median(r["times"]),
                   "error": max(_relative(a, b) for a, b in zip(r["values"], plain["values"]))}
            for name, r in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="videovae", help="model preset (default videovae: the A.4 sizes)")
    parser.add_argument("--batch", type=int, default=320, help="frames per layer call (default 320: 32 videos x 10)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from videovae import build_model
    from videovae.engine.precision import REPORTED_FLAGS, cpu_flags

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(args.preset).train()
    shapes = layer_inputs(model, args.batch)
    memory_format = getattr(model.encoder, "memory_format", torch.contiguous_format)
    flags = " ".join(f for f in REPORTED_FLAGS if f in (cpu_flags() or ()))
    print(f"# {args.preset}, {args.batch} frames, {args.threads} threads, torch {torch.__version__}, CPU flags: {flags}")
    print("| layer | what | form | fwd+bwd ms | × plain | relative error |")
    print("|---|---|---|---:|---:|---:|")
    for name, layer in codec_layers(model):
        if not isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        for form, row in measure(layer, shapes[name], memory_format, args.repeats).items():
            print(f"| `{name}` | {describe(layer)} | {form} | {row['ms']:.1f} | {row['speed_up']:.2f} | {row['error']:.1e} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
