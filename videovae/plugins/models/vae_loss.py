"""The objective of Eq. 9: what one posterior pass produced and the per-frame negative ELBO."""

from __future__ import annotations

import attrs
from torch import Tensor

from ...core.distributions import DiagonalGaussian
from ...core.mixed_precision import float32
from ...core.interfaces import Likelihood


@attrs.frozen(eq=False)
class ModelOutput:
    """What one training pass produced; tensors are ``[B, T, ...]``."""

    reconstruction: Tensor  # µ_x, [B, T, C, H, W]
    kl: Tensor  # KL(q_dy ‖ p) per frame, [B, T]
    z: Tensor  # samples, [B, T, D]
    posterior: DiagonalGaussian  # ψ_dy, [B, T, D]
    prior: DiagonalGaussian  # ψ_p, [B, T, D]
    rollout_kl: Tensor | None = None  # KL(q_dy ‖ p_free) per frame t ≥ 1, [B, T-1] (composed option rollout_kl)
    rollout_counted: Tensor | None = None  # whether frame t ≥ 1 was predicted free-running, [B, T-1]
    content_kl: Tensor | None = None  # KL(q(c | x^(1)) ‖ p(c)) per clip, [B] (composed option content_dim); in kl too


@attrs.frozen(eq=False)
class LossTerms:
    """Negative Eq. 9 per frame: the likelihood's reconstruction term plus β·KL (plus the weighted
    free-running KL, ``rollout_kl``, where the model computed one)."""

    total: Tensor
    reconstruction: Tensor
    kl: Tensor
    rollout_kl: Tensor | None = None
    content_kl: Tensor | None = None  # per clip (nats), already counted in kl as content_kl / T per frame

    def as_dict(self) -> dict[str, Tensor]:
        """The named losses a :class:`~videovae.core.VideoModel` step returns (``loss`` first)."""
        terms = {"loss": self.total, "reconstruction": self.reconstruction, "kl": self.kl}
        if self.rollout_kl is not None:
            terms["rollout_kl"] = self.rollout_kl
        if self.content_kl is not None:
            terms["content_kl"] = self.content_kl
        return terms

    def as_floats(self) -> dict[str, float]:
        return {name: float(value) for name, value in self.as_dict().items()}


def loss_terms(output: ModelOutput, frames: Tensor, kl_weight: float, likelihood: Likelihood,
               rollout_weight: float = 0.0) -> LossTerms:
    """−Eq. 9 per frame: −log p(x^(t) | z^(t)) under ``likelihood`` (the model's part; ``l1`` is the paper's
    pixel-wise L1) plus β times the per-step KL, both averaged over the frames of the batch; where the output
    carries a free-running KL, plus ``rollout_weight`` · β times its mean over the free-running frames. Always
    in float32: under ``--precision bf16`` autocast is off here and a bf16 µ_x is cast up first."""
    with float32():
        reconstruction = likelihood.nll(output.reconstruction.float(), frames.float()).mean()
        kl = output.kl.float().mean()
        total = reconstruction + kl_weight * kl
        content = None if output.content_kl is None else output.content_kl.float().mean()
        if output.rollout_kl is None:
            return LossTerms(total, reconstruction, kl, content_kl=content)
        rollout = output.rollout_kl.float().sum() / output.rollout_counted.sum()
        return LossTerms(total + rollout_weight * kl_weight * rollout, reconstruction, kl, rollout, content)


__all__ = ["LossTerms", "ModelOutput", "loss_terms"]
