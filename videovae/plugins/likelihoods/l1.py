"""The paper's reconstruction term: the pixel-wise L1 loss of Sec. 4.1.

Σ_pixels |x − µ_x| is −log p(x | z) of a Laplace distribution of unit scale around µ_x, up to the
constant D·log 2 that is dropped (so losses read as in every result of this project before the
likelihood became a part). Its optimum for a pixel the decoder knows nothing about is the pixel's
median over the data: on sparse data (small objects on black) that is the background, and a decoder
that has not yet learnt to read its latent settles there (docs/own_data.md).
"""

from __future__ import annotations

from torch import Tensor

from ...core.interfaces import BuildContext, Likelihood
from ...registry import hookimpl


class L1Likelihood(Likelihood):
    """−log p(x | z) = Σ |x − µ_x| per frame (unit-scale Laplace, constant dropped)."""

    def nll(self, mean: Tensor, frames: Tensor) -> Tensor:
        return (mean - frames).abs().flatten(2).sum(-1)


def build_l1(context: BuildContext) -> L1Likelihood:
    return L1Likelihood()


@hookimpl
def register_likelihoods(register):
    register("l1", build_l1, options=None,
             description="the paper's pixel-wise L1 loss (Sec. 4.1): a unit-scale Laplace around µ_x")
