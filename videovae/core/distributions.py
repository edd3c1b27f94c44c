"""Diagonal Gaussian value object: the ψ = [µ, σ] of the paper's Fig. 2b."""

from __future__ import annotations

import math

import attrs
import torch
from torch import Tensor

# Log-variances are clamped to keep exp() finite early in training.
LOGVAR_MIN, LOGVAR_MAX = -12.0, 8.0


@attrs.frozen(eq=False)
class DiagonalGaussian:
    """N(mean, diag(exp(logvar))) over the last dimension.

    ``params()`` is the concatenation [µ, log σ²] that the paper writes as
    ψ = [µ, σ] and feeds to the next network in the hierarchy (Eq. 4, Eq. 8).
    """

    mean: Tensor
    logvar: Tensor

    @classmethod
    def from_params(cls, params: Tensor) -> "DiagonalGaussian":
        """Split a ``[..., 2D]`` network output into mean and clamped log-variance."""
        mean, logvar = params.chunk(2, dim=-1)
        return cls(mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    @classmethod
    def standard(cls, shape: tuple[int, ...], *, device=None, dtype=None) -> "DiagonalGaussian":
        zeros = torch.zeros(shape, device=device, dtype=dtype)
        return cls(zeros, zeros.clone())

    @property
    def dim(self) -> int:
        return self.mean.shape[-1]

    @property
    def std(self) -> Tensor:
        return torch.exp(0.5 * self.logvar)

    def params(self) -> Tensor:
        return torch.cat([self.mean, self.logvar], dim=-1)

    def rsample(self, noise: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised sample µ + σ·ε; ``noise`` supplies ε explicitly."""
        if noise is None:
            noise = torch.randn(
                self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype
            )
        return self.mean + self.std * noise

    def kl_divergence(self, other: "DiagonalGaussian") -> Tensor:
        """Analytic KL(self ‖ other), summed over the last dimension.

        This is the per-time-step term KL(q(z_t | x_≤t, z_<t) ‖ p(z_t | x_<t, z_<t))
        of the paper's objective, Eq. 9 (derived in Eq. 20 of A.3).
        """
        var_ratio = torch.exp(self.logvar - other.logvar)
        mean_term = (self.mean - other.mean).pow(2) * torch.exp(-other.logvar)
        return 0.5 * (var_ratio + mean_term - 1.0 - (self.logvar - other.logvar)).sum(dim=-1)

    def log_prob(self, value: Tensor) -> Tensor:
        """log N(value; µ, σ²) summed over the last dimension."""
        return -0.5 * (
            (value - self.mean).pow(2) * torch.exp(-self.logvar) + self.logvar + math.log(2 * math.pi)
        ).sum(dim=-1)

    def float(self) -> "DiagonalGaussian":
        """The same distribution with float32 parameters (the KL of Eq. 9 is computed in float32 under bf16)."""
        return DiagonalGaussian(self.mean.float(), self.logvar.float())

    def detach(self) -> "DiagonalGaussian":
        """The same distribution as a constant (no gradient flows back through it)."""
        return DiagonalGaussian(self.mean.detach(), self.logvar.detach())

    def reshape(self, *shape: int) -> "DiagonalGaussian":
        """Reshape the leading (batch) dimensions; the last dimension is kept."""
        return DiagonalGaussian(self.mean.reshape(*shape, self.dim), self.logvar.reshape(*shape, self.dim))

    def __getitem__(self, index) -> "DiagonalGaussian":
        return DiagonalGaussian(self.mean[index], self.logvar[index])

    @staticmethod
    def stack(items: list["DiagonalGaussian"], dim: int = 1) -> "DiagonalGaussian":
        return DiagonalGaussian(
            torch.stack([g.mean for g in items], dim), torch.stack([g.logvar for g in items], dim)
        )
