"""VGAN (Vondrick et al., NIPS 2016) as ``model``-kind plugins ``vgan`` and ``vgan-first-frame``, with presets of
the same names at the paper's 64×64 (``--size demo``: 32×32; ``--size tiny`` for tests). See :mod:`.model` and
docs/baselines/vgan.md."""

from __future__ import annotations

import attrs

from ....registry import hookimpl
from ...presets import PAPER
from .model import VGAN, VGANFirstFrame, VGANFirstFrameOptions, VGANOptions


@hookimpl
def register_models(register):
    register("vgan", VGAN, options=VGANOptions,
             description="VGAN: two-stream (3-D foreground + mask, 2-D background) GAN from noise (Table 2, mode i)")
    register("vgan-first-frame", VGANFirstFrame, options=VGANFirstFrameOptions,
             description="VGAN continuing a first frame: an image encoder replaces the noise (Table 2, mode iv)")


@hookimpl
def register_presets(register):
    register("vgan", attrs.evolve(PAPER, architecture="vgan"),
             description="VGAN baseline at 64x64 (--size demo: 32x32), Adam 2e-4")
    register("vgan-first-frame", attrs.evolve(PAPER, architecture="vgan-first-frame"),
             description="VGAN first-frame baseline at 64x64 (--size demo: 32x32), Adam 2e-4")


__all__ = ["VGAN", "VGANFirstFrame", "VGANFirstFrameOptions", "VGANOptions"]
