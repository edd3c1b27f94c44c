"""VGAN (Vondrick et al., NIPS 2016) as ``model``-kind plugins ``vgan`` and ``vgan-first-frame``, with presets of
the same names at the paper's 64×64 (``--size demo``: 32×32; ``--size tiny`` for tests). See :mod:`.model` and
docs/baselines/vgan.md."""

from __future__ import annotations

import attrs

from ....registry import hookimpl
from ...presets import PAPER
from .model import VGAN, VGANFirstFrame, VGANFirstFrameOptions, VGANOptions


#: name: (model class, options class, what it is) for the model and the preset of that name
MODELS = {
    "vgan": (VGAN, VGANOptions, "two-stream (3-D foreground + mask, 2-D background) GAN from noise (Table 2, mode i)"),
    "vgan-first-frame": (VGANFirstFrame, VGANFirstFrameOptions,
                         "continuing a first frame: an image encoder replaces the noise (Table 2, mode iv)"),
}


@hookimpl
def register_models(register):
    for name, (model, options, what) in MODELS.items():
        register(name, model, options=options, description=f"VGAN {what}")


@hookimpl
def register_presets(register):
    for name, (_, _, what) in MODELS.items():
        register(name, attrs.evolve(PAPER, architecture=name),
                 description=f"VGAN at 64x64 (--size demo: 32x32), Adam 2e-4: {what}")


__all__ = ["MODELS", "VGAN", "VGANFirstFrame", "VGANFirstFrameOptions", "VGANOptions"]
