"""Video-level labels from φ_att and their accuracy: inferred labels of a split, the confident
subset used for self-training, and the accuracy against known labels."""

from __future__ import annotations

import math
from typing import Callable, Mapping

import torch
from torch import Tensor

from ...core.attributes import AttributeSet
from ...core.errors import DataError
from ..modes import eval_mode
from .net import AttributeInferenceNet


def infer_labels(net: AttributeInferenceNet, split_dataset, batch_size: int = 32, indices=None,
                 progress: bool = False) -> Tensor:
    """Video-level labels ``[N, A]`` (first-frame-row form, as ``label_rows``) of every clip of a split
    (or of ``indices``), from all its frames (:meth:`AttributeInferenceNet.predict`)."""
    return _video_rows(net, split_dataset, net.labels_from_outputs, batch_size, indices, progress)


@torch.no_grad()
def _video_rows(net: AttributeInferenceNet, split_dataset, rows_of: Callable[[list[Tensor]], Tensor],
                batch_size: int = 32, indices=None, progress: bool = False, width: int | None = None) -> Tensor:
    """``rows_of(net(clips))`` for every clip of a split (or of ``indices``) in eval mode, batched
    where the clips have the same length and one at a time where they do not: ``[N, width]`` on the CPU
    (``width`` default: one column per attribute)."""
    device = next(net.parameters()).device
    chosen = list(range(len(split_dataset))) if indices is None else [int(i) for i in torch.as_tensor(indices).tolist()]
    out = torch.full((len(chosen), len(net.attributes) if width is None else width), float("nan"))
    from tqdm import tqdm

    with eval_mode(net):
        for start in tqdm(range(0, len(chosen), batch_size), disable=not progress, desc="infer", unit="batch"):
            frames = [split_dataset[i][0] for i in chosen[start:start + batch_size]]
            if all(f.shape == frames[0].shape for f in frames):
                out[start:start + len(frames)] = rows_of(net(torch.stack(frames).to(device))).float().cpu()
            else:  # clips of different lengths: one at a time
                for j, f in enumerate(frames):
                    out[start + j] = rows_of(net(f.unsqueeze(0).to(device))).float().cpu()[0]
    return out


def accuracy(pred: Tensor, truth: Tensor, attributes: AttributeSet, mask: Tensor | None = None,
             tolerance: float = 0.05) -> dict[str, float]:
    """Fraction of correct labels per attribute, over the clips whose truth is known (NaN truth is ignored).

    A continuous attribute counts as correct within ``tolerance`` times its range (wrapping
    around for periodic ones). ``mask [N, A]`` (bool) restricts the clips per attribute.
    An attribute without any clip to score gives NaN.
    """
    pred, truth = torch.as_tensor(pred, dtype=torch.float32), torch.as_tensor(truth, dtype=torch.float32)
    if pred.shape != truth.shape or pred.ndim != 2 or pred.shape[1] != len(attributes):
        raise DataError(f"accuracy needs predictions and truth of the same shape [N, {len(attributes)}], "
                        f"got {tuple(pred.shape)} and {tuple(truth.shape)}")
    result = {}
    for a, spec in enumerate(attributes):
        known = ~torch.isnan(truth[:, a])
        if mask is not None:
            known &= torch.as_tensor(mask)[:, a].bool()
        if not known.any():
            result[spec.name] = float("nan")
            continue
        p, t = pred[known, a], truth[known, a]
        if spec.kind == "categorical":
            correct = p == t
        else:
            span = spec.high - spec.low
            diff = (p - t).abs()
            if spec.periodic:
                diff = torch.minimum(diff % span, span - diff % span)
            correct = diff <= tolerance * span
        result[spec.name] = int(correct.sum()) / len(correct)
    return result


def mean_log_posterior(net: AttributeInferenceNet, split_dataset, indices, truth: Tensor) -> float:
    """The mean over clips and categorical attributes of the log posterior the net gives each clip's true value
    (the softmax of its frame-averaged log-probabilities, as :func:`confident_labels`); unknown truths are skipped,
    and 0.0 when none is known. ``truth [len(indices), A]``. Finer than the accuracy on a few clips."""
    specs = list(net.attributes)
    categorical = [a for a, spec in enumerate(specs) if spec.kind == "categorical"]
    offsets = torch.tensor([0] + [specs[a].num_classes for a in categorical]).cumsum(0)

    def log_posteriors(outputs: list[Tensor]) -> Tensor:  # [B, Σ K_a]: each categorical attribute's log posterior
        pooled = net.pooled_scores(outputs, "mean")
        return torch.cat([torch.log_softmax(pooled[a].float(), -1) for a in categorical], dim=-1)

    table = _video_rows(net, split_dataset, log_posteriors, indices=indices, width=int(offsets[-1]))
    truth = torch.as_tensor(truth, dtype=torch.float32)[:, categorical]
    known = ~torch.isnan(truth)
    if not known.any():
        return 0.0
    columns = (offsets[:-1] + truth.nan_to_num(0.0).long())  # [N, A_categorical]: the true value's column
    return float(table.gather(1, columns)[known].mean())


def seen_values_mask(truth: Tensor, labelled_truth: Tensor, attributes: AttributeSet) -> Tensor:
    """``[N, A]`` bool: for categorical attributes, whether the clip's true value occurs among the
    labelled clips' labels (only those can be inferred); True for continuous attributes."""
    truth = torch.as_tensor(truth, dtype=torch.float32)
    mask = torch.ones_like(truth, dtype=torch.bool)
    for a, spec in enumerate(attributes):
        if spec.kind == "categorical":
            seen = labelled_truth[:, a][~torch.isnan(labelled_truth[:, a])]
            mask[:, a] = torch.isin(truth[:, a], seen)
    return mask


def format_accuracy(scores: Mapping[str, float], seen: Mapping[str, float] | None = None) -> str:
    parts = []
    for name, value in scores.items():
        text = f"{name} {value:.3f}" if not math.isnan(value) else f"{name} n/a"
        if seen is not None and name in seen and not math.isnan(seen[name]) and seen[name] != value:
            text += f" ({seen[name]:.3f} where the value has a labelled clip)"
        parts.append(text)
    return ", ".join(parts)



def confident_labels(net: AttributeInferenceNet, split_dataset, threshold: float = 0.9,
                     batch_size: int = 32) -> Tensor:
    """Video-level labels ``[N, A]`` of every clip of a split where the net is confident, NaN elsewhere.

    Per categorical attribute, the clip's posterior is the softmax of its frame-averaged
    log-probabilities (the rule of ``pooling="mean"``); its argmax is kept when that posterior's
    maximum is at least ``threshold``. Continuous attributes stay NaN (the net gives no confidence).
    """
    def confident(outputs: list[Tensor]) -> Tensor:
        columns = []
        for spec, pooled in zip(net.attributes, net.pooled_scores(outputs, "mean")):
            if spec.kind != "categorical":
                columns.append(torch.full(pooled.shape[:1], float("nan"), device=pooled.device))
                continue
            confidence, value = torch.softmax(pooled, -1).max(-1)
            columns.append(torch.where(confidence >= threshold, value.float(), torch.nan))
        return torch.stack(columns, -1)

    return _video_rows(net, split_dataset, confident, batch_size)

