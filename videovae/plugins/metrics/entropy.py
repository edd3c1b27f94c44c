"""Classifier-based scores of generated videos (Sec. 5.2): intra-entropy, inter-entropy and I-score.

Each metric reads ``context["classifier"]``: a callable mapping videos
``[N, T, C, H, W]`` to class probabilities ``[N, K]`` (the classifier pre-trained
on the data set, Sec. 5.2), called without gradients, in batches of ``batch_size``
videos when that option is given. ``context["probs"]`` (``[N, K]``), when present,
is used instead, so that an evaluation can classify once and compute all three.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs
import torch
from torch import Tensor

from ...core.interfaces import Metric
from ...core.validators import choice, optional_positive_int
from ...registry import hookimpl
from . import functional as F


@attrs.frozen
class ClassifierMetricOptions:
    #: videos per classifier call (None: all at once)
    batch_size: int | None = attrs.field(default=None, validator=optional_positive_int)


@attrs.frozen
class InterEntropyOptions(ClassifierMetricOptions):
    #: "argmax": the entropy of the assigned labels; "soft": of the mean class probabilities
    marginal: str = attrs.field(default="argmax", validator=choice("argmax", "soft"))


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

    def __init__(self, options: ClassifierMetricOptions = ClassifierMetricOptions()):
        self.batch_size = options.batch_size

    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, float]:
        probs = classify(videos, context, self.batch_size, f"metric {self.name!r}")
        total = F.intra_entropy(probs)
        n = probs.shape[0]
        return {"intra_entropy": total, "intra_entropy_per_video": total / n, "num_videos": n}


class InterEntropy(Metric):
    """S_inter = H[ρ(a)] (Eq. 12) of the assigned labels (or the mean probabilities); higher is better."""

    name = "inter-entropy"
    higher_is_better = True

    def __init__(self, options: InterEntropyOptions = InterEntropyOptions()):
        self.marginal = options.marginal
        self.batch_size = options.batch_size

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

    def __init__(self, options: ClassifierMetricOptions = ClassifierMetricOptions()):
        self.batch_size = options.batch_size

    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, float]:
        probs = classify(videos, context, self.batch_size, f"metric {self.name!r}")
        return {"inception_score": F.inception_score(probs), "num_videos": probs.shape[0]}


@hookimpl
def register_metrics(register):
    register("intra-entropy", IntraEntropy, options=ClassifierMetricOptions,
             description="Σ_i H[ρ(a|x_i)] of a classifier over generated videos (Eq. 11, lower is better)")
    register("inter-entropy", InterEntropy, options=InterEntropyOptions,
             description="H[ρ(a)] of the labels a classifier assigns (Eq. 12, higher is better)")
    register("inception-score", InceptionScore, options=ClassifierMetricOptions,
             description="exp(E_x KL[ρ(y|x) ‖ ρ(y)]) with the data set's classifier (Eq. 10)")
