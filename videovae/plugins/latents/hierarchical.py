"""The structured latent space (+S): hierarchical approximate posteriors of Eq. 4.

ψ_q = φ_τ(φ_enc(x))            residual information not captured by the attributes
ψ_a = φ_τ(ψ_q, a)              full appearance: ψ_q merged with the holistic attributes
ψ_dy = φ_τ(ψ_a, φ_τ(h^(t-1)))  the dynamic posterior, adding the LSTM's temporal context

Four separate φ_τ instances (Sec. 3.2: same architecture, different weights).
"""

from __future__ import annotations

from torch import Tensor

from ...core.distributions import DiagonalGaussian
from ...core.interfaces import BuildContext, LatentStructure
from ...registry import hookimpl
from ..layers import PhiTau


class HierarchicalLatent(LatentStructure):
    uses_attributes = True

    def __init__(self, context: BuildContext):
        super().__init__()
        d, h = context.latent_dim, context.hidden_dim
        self.to_q = PhiTau(context.feature_dim, h, 2 * d, init=context.phi_init)
        self.to_a = PhiTau(2 * d + context.attribute_dim, h, 2 * d, init=context.phi_init)
        self.from_hidden = PhiTau(context.state_dim, h, 2 * d, init=context.phi_init)
        self.to_dy = PhiTau(4 * d, h, 2 * d, init=context.phi_init)

    def residual(self, features: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.to_q(features))

    def conditional(self, psi_q: DiagonalGaussian, attributes: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.to_a(psi_q.params(), attributes))

    def dynamic(self, psi_a: DiagonalGaussian, hidden: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.to_dy(psi_a.params(), self.from_hidden(hidden)))


@hookimpl
def register_latents(register):
    register("hierarchical", HierarchicalLatent, options=None,
             description="structured latent space with attribute control (Eq. 4, +S)")
