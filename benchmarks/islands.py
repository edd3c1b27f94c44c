#!/usr/bin/env python
"""Which codec layers to keep in fp32 under ``--precision bf16``: a training step with each choice, turn by turn.

Builds one model per variant from the same seed: fp32; bf16 with no fp32 island; bf16 with the strided transposed
convolutions as islands (any stride > 1); bf16 with every strided convolution as an island; bf16 as the codec
chooses (``videovae.plugins.codecs.paper_conv.stays_float32``). Prints, per variant, the loss and the gradient's
relative error against fp32 on one batch, then the median seconds of a training iteration (forward under autocast,
backward, Adam), the variants taking turns round after round so that other processes slow them alike. The rule in
``paper_conv.py`` was chosen from these numbers (docs/benchmarks.md)::

    PYTHONPATH=. .venv/bin/python benchmarks/islands.py --threads 1                              # A.4, 32 x 10 frames
    PYTHONPATH=. .venv/bin/python benchmarks/islands.py --threads 1 --preset demo --batch 8 --rounds 15
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

for folder in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parent):  # the repository, benchmarks/
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
from parts import chair_attributes, random_labels  # noqa: E402  (benchmarks/parts.py)

VARIANTS = ("fp32", "bf16, no islands", "bf16, strided deconvs", "bf16, all strided convs", "bf16, the codec's rule")


def build(preset: str, variant: str):
    import torch

    from videovae import build_model
    from videovae.core.mixed_precision import ISLAND, keep_float32

    torch.manual_seed(0)
    model = build_model(preset, attributes=chair_attributes()).train()
    for layer in model.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0  # the same arithmetic in every variant
        if variant not in ("fp32", "bf16, the codec's rule") and getattr(layer, ISLAND, False):
            del layer.forward  # the codec's islands off
            delattr(layer, ISLAND)
    for layer in model.modules():
        strided = isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and max(layer.stride) > 1
        if strided and (variant == "bf16, all strided convs" or
                        (variant == "bf16, strided deconvs" and isinstance(layer, torch.nn.ConvTranspose2d))):
            keep_float32(layer)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="videovae")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=6, help="timed iterations per variant (the first is dropped)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    from videovae.engine.precision import autocast

    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    models = {variant: build(args.preset, variant) for variant in VARIANTS}
    reference = models["fp32"]
    frames = torch.rand(args.batch, args.frames, *reference.config.frame_shape, generator=generator)
    labels = random_labels(reference.attributes, args.batch, args.frames, generator)
    noise = torch.randn(args.batch, args.frames, reference.config.latent_dim, generator=generator)
    optimizers = {variant: torch.optim.Adam(model.parameters(), lr=1e-4) for variant, model in models.items()}

    def step(variant: str):
        model = models[variant]
        torch.manual_seed(1)  # the same h(0)
        with autocast("fp32" if variant == "fp32" else "bf16", "cpu"):
            terms = model.loss(frames, labels, noise=noise)
        optimizers[variant].zero_grad(set_to_none=True)
        terms.total.backward()
        return float(terms.total.detach())

    grads, losses = {}, {}
    for variant, model in models.items():
        losses[variant] = step(variant)
        grads[variant] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    times = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            start = time.perf_counter()
            step(variant)
            optimizers[variant].step()
            times[variant].append(time.perf_counter() - start)
    base = statistics.median(times["fp32"][1:])
    print(f"# {args.preset}, batch {args.batch} x {args.frames} frames, {args.threads} threads")
    for variant in VARIANTS:
        error = float((grads[variant] - grads["fp32"]).norm() / grads["fp32"].norm())
        seconds = statistics.median(times[variant][1:])
        print(f"{variant:24s} loss {losses[variant]:.3f}  gradient error {error:.1e}  {seconds:.3f} s/iteration  "
              f"{base / seconds:.2f}x fp32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
