"""A Gaussian likelihood whose scale is fitted, not tuned: the default reconstruction term of Eq. 9.

−log p(x | z) = Σ_pixels (x − µ_x)² / (2σ²) + D·(log σ + ½ log 2π) per frame of D values. With
``scale=None`` σ² is, at every step, the maximum-likelihood value for the batch: the mean squared
error over its values (held fixed for the gradient; at that optimum the gradient with respect to µ_x
is the same as if σ² were differentiated through, so nothing is lost). β = 1 is then the ELBO with a
calibrated decoder, instead of a constant tuned per data set.

Why it is the default (docs/own_data.md): under the paper's L1 the best answer for a pixel the decoder
knows nothing about is its median over the data, on sparse data the black background, and the model
gets there long before it learns to place objects; under a squared error it is the pixel's mean, whose
error lies where the objects are, so the gradient keeps pointing at them. Measured there, only the
Gaussian made the decoder depend on its latent on small objects on black.
"""

from __future__ import annotations

import math

import attrs
import torch
from torch import Tensor

from ...core.config import given_options
from ...core.interfaces import BuildContext, Likelihood
from ...core.validators import positive_float
from ...registry import hookimpl


def _optional_positive(instance, attribute, value):
    if value is not None:
        positive_float(instance, attribute, value)


@attrs.frozen
class GaussianOptions:
    #: a fixed σ (in pixel units, [0, 1] range); None: the batch's maximum-likelihood σ at every step
    scale: float | None = attrs.field(default=None, validator=_optional_positive)
    #: the smallest fitted σ (a batch reconstructed almost exactly would otherwise make its loss unbounded)
    min_scale: float = attrs.field(default=1e-3, validator=positive_float)


class GaussianLikelihood(Likelihood):
    """N(x; µ_x, σ²) per value, σ shared by every value of the batch."""

    def __init__(self, options: GaussianOptions | None = None, **keywords):
        super().__init__()
        self.options = given_options(GaussianOptions, options, keywords, "likelihood 'gaussian'")

    def variance(self, mean: Tensor, frames: Tensor) -> Tensor:
        """σ²: the fixed scale squared, or the batch's mean squared error (no gradient), floored at min_scale².

        In training under ``torchrun`` the batch is the global one: the squared errors and their count are
        summed over the processes, so N processes with batch B fit the σ of one process with batch N·B (the
        trainer's guarantee). Validation runs on one process in eval mode and uses its own clips."""
        o = self.options
        if o.scale is not None:
            return mean.new_tensor(o.scale ** 2)
        squared = (mean.detach() - frames).pow(2)
        if self.training and torch.distributed.is_available() and torch.distributed.is_initialized():
            total = torch.stack([squared.sum(), squared.new_tensor(float(squared.numel()))])
            torch.distributed.all_reduce(total)
            return (total[0] / total[1]).clamp_min(o.min_scale ** 2)
        return squared.mean().clamp_min(o.min_scale ** 2)

    def nll(self, mean: Tensor, frames: Tensor) -> Tensor:
        variance = self.variance(mean, frames)
        values = mean[0, 0].numel()
        squared = (mean - frames).pow(2).flatten(2).sum(-1)
        return squared / (2 * variance) + values * 0.5 * (torch.log(variance) + math.log(2 * math.pi))


def build_gaussian(context: BuildContext, options: GaussianOptions) -> GaussianLikelihood:
    return GaussianLikelihood(options)


@hookimpl
def register_likelihoods(register):
    register("gaussian", build_gaussian, options=GaussianOptions,
             description="Gaussian around µ_x with σ fitted to each batch (or fixed by scale=)")
