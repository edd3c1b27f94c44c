"""Frame-wise scores of predicted continuations against the real ones: PSNR and SSIM.

``compute(videos, context)`` compares ``videos [N, T, C, H, W]`` with
``context["targets"]`` (the real continuation, same shape). With
``context["samples"] [S, N, T, C, H, W]`` (S sampled continuations of each video)
the samples are scored instead of ``videos`` (which may then be None), and each
video keeps the sample with the best mean score over frames (best of N, the SVG
protocol). The result holds the mean over videos and frames and the per-frame
means over videos (a curve over time). Options: ``data_range`` (1.0 for frames in
[0, 1]) and ``skip_frames`` (leading frames left out, e.g. the given conditioning frames).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import attrs
import torch
from torch import Tensor

from ...core.errors import ConfigError
from ...core.interfaces import Metric
from ...core.validators import non_negative_int
from ...registry import hookimpl
from . import functional as F


def _data_range(instance, attribute, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ConfigError(f"data_range must be a positive number (1.0 for frames in [0, 1]), got {value!r}")


@attrs.frozen
class FrameMetricOptions:
    #: the pixel range of the frames (1.0 for frames in [0, 1])
    data_range: float = attrs.field(default=1.0, validator=_data_range)
    #: leading frames left out of the score (e.g. the given conditioning frame)
    skip_frames: int = attrs.field(default=0, validator=non_negative_int)


class FrameMetric(Metric):
    """A higher-is-better per-frame score ``fn(pred, target, data_range) → [N, T]``, averaged, best of N."""

    higher_is_better = True
    key: str
    fn: Callable[..., Tensor]

    def __init__(self, options: FrameMetricOptions = FrameMetricOptions()):
        self.data_range = float(options.data_range)
        self.skip_frames = options.skip_frames

    def frame_scores(self, pred: Tensor, target: Tensor) -> Tensor:
        return type(self).fn(pred, target, self.data_range)

    def compute(self, videos: Tensor | None, context: Mapping[str, Any]) -> dict[str, Any]:
        owner = f"metric {self.name!r}"
        targets = context.get("targets")
        if targets is None:
            raise F.MetricInputError(f"{owner} needs context['targets']: the real continuation [N, T, C, H, W]")
        targets = torch.as_tensor(targets)
        samples = context.get("samples")
        if samples is not None:
            samples = torch.as_tensor(samples)
            if samples.ndim != 6 or tuple(samples.shape[1:]) != tuple(targets.shape) or samples.shape[0] == 0:
                raise F.MetricInputError(
                    f"{owner} expects context['samples'] of shape [S, N, T, C, H, W] with [N, T, C, H, W] = {tuple(targets.shape)}, got {tuple(samples.shape)}"
                )
            candidates = samples
        else:
            if videos is None:
                raise F.MetricInputError(f"{owner} needs videos [N, T, C, H, W] or context['samples'] [S, N, T, C, H, W]")
            candidates = torch.as_tensor(videos).unsqueeze(0)
        if targets.ndim != 5 or targets.shape[1] <= self.skip_frames:
            raise F.MetricInputError(
                f"{owner} expects targets [N, T, C, H, W] with more than skip_frames={self.skip_frames} frames, got shape {tuple(targets.shape)}"
            )
        s = self.skip_frames
        scores = torch.stack([self.frame_scores(c[:, s:], targets[:, s:]) for c in candidates])  # [S, N, T]
        best = F.best_of_n(scores)  # [N, T]; the identity for one sample
        return {
            self.key: float(best.mean()),
            f"{self.key}_per_frame": [float(v) for v in best.mean(dim=0)],
            "num_videos": int(best.shape[0]),
            "num_samples": int(candidates.shape[0]),
        }


class PSNR(FrameMetric):
    """Peak signal-to-noise ratio in dB (+inf for a perfect frame); higher is better."""

    name = "psnr"
    key = "psnr"
    fn = staticmethod(F.psnr)


class SSIM(FrameMetric):
    """Structural similarity (11×11 Gaussian window, σ = 1.5); higher is better, 1 for identical frames."""

    name = "ssim"
    key = "ssim"
    fn = staticmethod(F.ssim)


@hookimpl
def register_metrics(register):
    register("psnr", PSNR, options=FrameMetricOptions,
             description="per-frame PSNR of predictions against the real continuation, best of N samples")
    register("ssim", SSIM, options=FrameMetricOptions,
             description="per-frame SSIM (Gaussian 11x11, σ=1.5) against the real continuation, best of N samples")
