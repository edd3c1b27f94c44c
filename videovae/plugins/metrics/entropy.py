"""Classifier-based scores of generated videos (Sec. 5.2): intra-entropy, inter-entropy and I-score.

Each metric reads ``context["classifier"]``: a callable mapping videos
``[N, T, C, H, W]`` to class probabilities ``[N, K]`` (the classifier pre-trained
on the data set, Sec. 5.2), called without gradients, in batches of ``batch_size``
videos when that option is given. ``context["probs"]`` (``[N, K]``), when present,
is used instead, so that an evaluation can classify once and compute all three.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import Tensor

from ...core.errors import ConfigError
from ...core.interfaces import Metric
from ...registry import hookimpl
from . import functional as F


def check_options(options: Mapping[str, Any], allowed: tuple[str, ...], owner: str) -> None:
    """Raise a one-line :class:`ConfigError` for options ``owner`` does not take."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no options"
        raise ConfigError(f"{owner} got unknown option(s) {', '.join(unknown)}; it takes: {takes}")


def check_batch_size(value: Any, owner: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}: batch_size must be a positive integer or None, got {value!r}")
    return value


def classify(videos: Tensor | None, context: Mapping[str, Any], batch_size: int | None, owner: str) -> Tensor:
    """Class probabilities ``[N, K]`` of ``videos``: ``context["probs"]`` if given, else the classifier's output."""
    if context.get("probs") is not None:
        return F.check_probs(context["probs"])
    classifier: Callable[[Tensor], Tensor] | None = context.get("classifier")
    if classifier is None or not callable(classifier):
        raise F.MetricInputError(
            f"{owner} needs context['classifier']: a callable mapping videos [N, T, C, H, W] to class probabilities [N, K]"
        )
    if videos is None or not isinstance(videos, Tensor) or videos.ndim != 5:
        shape = tuple(videos.shape) if isinstance(videos, Tensor) else type(videos).__name__
        raise F.MetricInputError(f"{owner} expects videos of shape [N, T, C, H, W], got {shape}")
    if videos.shape[0] == 0:
        raise F.MetricInputError(f"{owner} expects at least one video, got shape {tuple(videos.shape)}")
    step = batch_size or videos.shape[0]
    with torch.no_grad():
        parts = [torch.as_tensor(classifier(videos[i : i + step])).detach() for i in range(0, videos.shape[0], step)]
    probs = F.check_probs(torch.cat([p.to(torch.float64) for p in parts]) if len(parts) > 1 else parts[0])
    if probs.shape[0] != videos.shape[0]:
        raise F.MetricInputError(f"{owner}: the classifier returned {probs.shape[0]} rows for {videos.shape[0]} videos")
    return probs


class IntraEntropy(Metric):
    """S_intra = Σ_i H[ρ(a|x_i)] (Eq. 11): a sum over the N videos; lower is better."""

    name = "intra-entropy"
    higher_is_better = False

    def __init__(self, batch_size: int | None = None):
        self.batch_size = check_batch_size(batch_size, f"metric {self.name!r}")

    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, float]:
        probs = classify(videos, context, self.batch_size, f"metric {self.name!r}")
        total = F.intra_entropy(probs)
        n = probs.shape[0]
        return {"intra_entropy": total, "intra_entropy_per_video": total / n, "num_videos": n}


class InterEntropy(Metric):
    """S_inter = H[ρ(a)] (Eq. 12) of the assigned labels (or the mean probabilities); higher is better."""

    name = "inter-entropy"
    higher_is_better = True

    def __init__(self, marginal: str = "argmax", batch_size: int | None = None):
        if marginal not in ("argmax", "soft"):
            raise ConfigError(f"metric {self.name!r}: marginal must be 'argmax' or 'soft', got {marginal!r}")
        self.marginal = marginal
        self.batch_size = check_batch_size(batch_size, f"metric {self.name!r}")

    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, float]:
        probs = classify(videos, context, self.batch_size, f"metric {self.name!r}")
        n, k = probs.shape
        return {
            "inter_entropy": F.inter_entropy(probs, self.marginal),
            "max_inter_entropy": float(torch.log(torch.tensor(float(k), dtype=torch.float64))),
            "num_videos": n,
            "num_classes": k,
        }


class InceptionScore(Metric):
    """I = exp(E_x KL[ρ(y|x) ‖ ρ(y)]) (Eq. 10) with the data set's classifier; higher is better."""

    name = "inception-score"
    higher_is_better = True

    def __init__(self, batch_size: int | None = None):
        self.batch_size = check_batch_size(batch_size, f"metric {self.name!r}")

    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, float]:
        probs = classify(videos, context, self.batch_size, f"metric {self.name!r}")
        return {"inception_score": F.inception_score(probs), "num_videos": probs.shape[0]}


def build_intra_entropy(**options) -> IntraEntropy:
    check_options(options, ("batch_size",), "metric 'intra-entropy'")
    return IntraEntropy(**options)


def build_inter_entropy(**options) -> InterEntropy:
    check_options(options, ("marginal", "batch_size"), "metric 'inter-entropy'")
    return InterEntropy(**options)


def build_inception_score(**options) -> InceptionScore:
    check_options(options, ("batch_size",), "metric 'inception-score'")
    return InceptionScore(**options)


@hookimpl
def register_components(register):
    register("metric", "intra-entropy", build_intra_entropy, "Σ_i H[ρ(a|x_i)] of a classifier over generated videos (Eq. 11, lower is better)")
    register("metric", "inter-entropy", build_inter_entropy, "H[ρ(a)] of the labels a classifier assigns (Eq. 12, higher is better)")
    register("metric", "inception-score", build_inception_score, "exp(E_x KL[ρ(y|x) ‖ ρ(y)]) with the data set's classifier (Eq. 10)")
