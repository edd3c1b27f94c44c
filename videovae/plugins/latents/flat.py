"""The unstructured latent space (−S): a single approximate posterior.

Sec. 5.3 builds the −S variants "by replacing the structured latent space with a
single approximate posterior": q(z^(t) | x^(t)) = ψ_q = φ_τ(φ_enc(x^(t))), with no
attributes and no attribute-conditioned prior. The temporal model still shapes
the prior p(z^(t) | h^(t-1)) through the KL term of Eq. 9. The same part, paired
with a standard-normal prior, is the static VAE of Table 1.
"""

from __future__ import annotations

from torch import Tensor

from ...core.distributions import DiagonalGaussian
from ...core.interfaces import BuildContext, LatentStructure
from ...registry import hookimpl
from ..layers import PhiTau


class FlatLatent(LatentStructure):
    uses_attributes = False

    def __init__(self, context: BuildContext):
        super().__init__()
        self.to_q = PhiTau(context.feature_dim, context.hidden_dim, 2 * context.latent_dim, init=context.phi_init)

    def residual(self, features: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.to_q(features))

    def conditional(self, psi_q: DiagonalGaussian, attributes: Tensor) -> DiagonalGaussian:
        return psi_q

    def dynamic(self, psi_a: DiagonalGaussian, hidden: Tensor) -> DiagonalGaussian:
        return psi_a


@hookimpl
def register_latents(register):
    register("flat", FlatLatent, options=None, description="single approximate posterior, no attributes (−S, static VAE)")
