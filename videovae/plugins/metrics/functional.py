"""Pure torch implementations of the evaluation metrics (Sec. 5.2), natural logarithms throughout.

Classifier-based scores of a set of generated videos {x_i}, from the class
probabilities ``probs [N, K]`` that a pre-trained classifier ρ gives them:

* :func:`intra_entropy`: S_intra = Σ_i H[ρ(a|x_i)] (Eq. 11), a sum over videos, lower is better.
* :func:`inter_entropy`: S_inter = H[ρ(a)] (Eq. 12), the entropy of the assigned labels, higher is better.
* :func:`inception_score`: I = exp(E_x KL[ρ(y|x) ‖ ρ(y)]) (Eq. 10), higher is better.

Frame-wise scores of predicted continuations against the real ones
(``[N, T, C, H, W]``): :func:`psnr`, :func:`ssim`, and :func:`best_of_n` to keep,
per video, the best of S sampled continuations (the protocol of SVG, Denton & Fergus 2018).

Bad input raises :class:`MetricInputError` (a ``ValueError``) with one line saying what was expected.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ...core.errors import VideoVAEError

#: how far a row of class probabilities may sum from 1 (float32 softmax over many classes stays well inside)
PROBABILITY_TOLERANCE = 1e-3

#: SSIM constants (Wang et al. 2004)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


class MetricInputError(VideoVAEError, ValueError):
    """Input to a metric is malformed (shape, range, or a missing context entry)."""


# ---------------------------------------------------------------------------------------------
# classifier-based scores (Eq. 10-12)


def check_probs(probs) -> Tensor:
    """Validate class probabilities ``[N, K]`` and return them as float64 rows renormalised to sum to 1.

    Rows must be finite, non-negative and sum to 1 within :data:`PROBABILITY_TOLERANCE`
    (logits are refused: apply a softmax first).
    """
    probs = torch.as_tensor(probs).detach()
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 1:
        raise MetricInputError(f"expected class probabilities of shape [N, K] with N, K >= 1, got shape {tuple(probs.shape)}")
    if probs.is_complex():
        raise MetricInputError(f"expected real class probabilities, got dtype {probs.dtype}")
    probs = probs.to(torch.float64)
    if not torch.isfinite(probs).all():
        raise MetricInputError("expected finite class probabilities, got NaN or infinite values")
    if (probs < 0).any():
        raise MetricInputError(f"expected non-negative class probabilities, got a minimum of {probs.min().item():.4g} (apply a softmax to logits)")
    sums = probs.sum(dim=1)
    worst = (sums - 1).abs().max().item()
    if worst > PROBABILITY_TOLERANCE:
        row = int((sums - 1).abs().argmax())
        raise MetricInputError(
            f"expected each row of class probabilities to sum to 1, row {row} sums to {sums[row].item():.6g} (apply a softmax to logits)"
        )
    return probs / sums.unsqueeze(1)


def entropy(probs: Tensor) -> Tensor:
    """H[p] = −Σ_k p_k ln p_k over the last dimension, with 0 ln 0 = 0 (nats)."""
    return torch.special.entr(probs).sum(dim=-1)


def intra_entropy(probs) -> float:
    """S_intra = Σ_i H[ρ(a|x_i)] (Eq. 11), in nats.

    A *sum* over the N videos, not a mean, as in the paper: it grows with the size
    of the set, so compare values over sets of the same size. Lower is better
    (the classifier is confident). A uniform classifier over K classes gives N·ln K,
    a one-hot one gives 0.
    """
    return float(entropy(check_probs(probs)).sum())


def label_marginal(probs, marginal: str = "argmax") -> Tensor:
    """ρ(a) over the set: the frequency of the assigned labels (``"argmax"``) or the mean of the rows (``"soft"``).

    ``"argmax"`` (Eq. 12: the classifier "assigns a label" to each sequence) breaks a
    tie between equally likely classes towards the lowest class index
    (:func:`torch.argmax` returns the first maximum), so a uniform classifier assigns
    every video to class 0.
    """
    probs = check_probs(probs)
    if marginal == "argmax":
        labels = probs.argmax(dim=1)
        counts = torch.bincount(labels, minlength=probs.shape[1]).to(torch.float64)
        return counts / counts.sum()
    if marginal == "soft":
        return probs.mean(dim=0)
    raise MetricInputError(f"expected marginal 'argmax' or 'soft', got {marginal!r}")


def inter_entropy(probs, marginal: str = "argmax") -> float:
    """S_inter = H[ρ(a)] (Eq. 12), in nats; at most ln K. Higher is better (diverse samples).

    :param marginal: ``"argmax"`` (default, the paper's protocol): ρ(a) is the histogram
        of the labels the classifier assigns, ties going to the lowest class index;
        ``"soft"``: ρ(a) is the mean of the class probabilities (the ρ(y) of Eq. 10).
    """
    return float(entropy(label_marginal(probs, marginal)))


def inception_score(probs) -> float:
    """I = exp(E_x KL[ρ(y|x) ‖ ρ(y)]) (Eq. 10), with ρ(y) the mean of the rows; in [1, K].

    Computed over the whole set in one split (no split-averaging as in Salimans et al.'s
    code). Equals exp(H[ρ(y)] − S_intra / N) with the soft marginal.
    """
    probs = check_probs(probs)
    marginal = probs.mean(dim=0, keepdim=True)
    kl = (torch.special.xlogy(probs, probs) - torch.special.xlogy(probs, marginal)).sum(dim=1)
    return float(torch.exp(kl.mean()))


# ---------------------------------------------------------------------------------------------
# prediction scores (PSNR, SSIM, best of N)


def check_videos(pred, target, data_range: float) -> tuple[Tensor, Tensor]:
    """Validate predicted and real videos ``[N, T, C, H, W]`` of equal shape; return them as float64."""
    pred = torch.as_tensor(pred).detach()
    target = torch.as_tensor(target).detach()
    if pred.ndim != 5:
        raise MetricInputError(f"expected predicted videos of shape [N, T, C, H, W], got shape {tuple(pred.shape)}")
    if tuple(pred.shape) != tuple(target.shape):
        raise MetricInputError(f"expected predicted and target videos of the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.numel() == 0:
        raise MetricInputError(f"expected non-empty videos, got shape {tuple(pred.shape)}")
    if not (isinstance(data_range, (int, float)) and math.isfinite(data_range) and data_range > 0):
        raise MetricInputError(f"expected a positive data_range (1.0 for frames in [0, 1], 255 for bytes), got {data_range!r}")
    pred = pred.to(torch.float64)
    target = target.to(torch.float64)
    if not (torch.isfinite(pred).all() and torch.isfinite(target).all()):
        raise MetricInputError("expected finite pixel values, got NaN or infinite values")
    return pred, target


def psnr(pred, target, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per frame, ``[N, T]`` in dB: 10·log10(data_range² / MSE).

    The MSE is taken over the channels and pixels of each frame; identical frames give +inf.
    """
    pred, target = check_videos(pred, target, data_range)
    mse = (pred - target).pow(2).mean(dim=(2, 3, 4))
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype=torch.float64, device=None) -> Tensor:
    """Normalised 1-D Gaussian taps ``[size]`` centred on the middle tap."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred, target, data_range: float = 1.0, *, chunk: int = 1024) -> Tensor:
    """Structural similarity per frame, ``[N, T]`` (Wang et al. 2004).

    An 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, population (biased)
    local variances, and only the positions where the window fits inside the frame
    ("valid" convolution, no padding): the mean SSIM map of each channel, averaged over
    channels. This matches skimage's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=...)``.
    Frames must be at least 11×11. ``chunk`` bounds how many frames are filtered at once.
    """
    pred, target = check_videos(pred, target, data_range)
    n, t, c, h, w = pred.shape
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise MetricInputError(f"expected frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels for SSIM, got {h}x{w}")
    g = gaussian_window(device=pred.device)
    row = g.view(1, 1, 1, SSIM_WINDOW)
    col = g.view(1, 1, SSIM_WINDOW, 1)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2

    def blur(z: Tensor) -> Tensor:
        return torch.nn.functional.conv2d(torch.nn.functional.conv2d(z, row), col)

    x_all = pred.reshape(n * t * c, 1, h, w)
    y_all = target.reshape(n * t * c, 1, h, w)
    step = max(1, int(chunk)) * c
    means = []
    for start in range(0, x_all.shape[0], step):
        x = x_all[start : start + step]
        y = y_all[start : start + step]
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x**2
        var_y = blur(y * y) - mu_y**2
        cov = blur(x * y) - mu_x * mu_y
        s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        means.append(s.mean(dim=(1, 2, 3)))
    return torch.cat(means).view(n, t, c).mean(dim=2)


def best_of_n(scores, *, return_index: bool = False):
    """Per video, the per-frame scores of the sample with the highest mean score over frames.

    :param scores: ``[S, N, T]``: a higher-is-better frame score (PSNR, SSIM) of S sampled
        continuations of each of N videos.
    :returns: ``[N, T]``, and with ``return_index`` also the chosen sample per video ``[N]``.
        Ties go to the lowest sample index; a +inf frame (a perfect PSNR) makes its sample win.
    """
    scores = torch.as_tensor(scores).detach()
    if scores.ndim != 3 or 0 in scores.shape:
        raise MetricInputError(f"expected scores of shape [S, N, T] (samples, videos, frames), got shape {tuple(scores.shape)}")
    if torch.isnan(scores).any():
        raise MetricInputError("expected scores without NaN")
    index = scores.mean(dim=2).argmax(dim=0)  # [N]
    best = scores.gather(0, index.view(1, -1, 1).expand(1, *scores.shape[1:])).squeeze(0)
    return (best, index) if return_index else best
