"""What the LSTM sees at each step: with (+C) or without (−C) conditional sampling.

+C (Eq. 8): h^(t) = f_h(ψ_q^(t), z^(t), h^(t-1)): the sample z^(t) is passed along
time with ψ_q^(t), so the next sample starts from where this one landed.
−C: only ψ_q^(t) = [µ_q, σ_q] is passed, and samples are independent across time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.distributions import DiagonalGaussian
from ...core.interfaces import BuildContext, Sampler
from ...registry import hookimpl


class ConditionalSampler(Sampler):
    """+C: v^(t) = [ψ_q^(t), z^(t)] (Eq. 8)."""

    def input_dim(self, latent_dim: int) -> int:
        return 3 * latent_dim

    def lstm_input(self, psi_q: DiagonalGaussian, z: Tensor) -> Tensor:
        return torch.cat([psi_q.params(), z], dim=-1)


class UnconditionalSampler(Sampler):
    """−C: v^(t) = ψ_q^(t)."""

    def input_dim(self, latent_dim: int) -> int:
        return 2 * latent_dim

    def lstm_input(self, psi_q: DiagonalGaussian, z: Tensor) -> Tensor:
        return psi_q.params()


def build_conditional(context: BuildContext) -> ConditionalSampler:
    return ConditionalSampler()


def build_unconditional(context: BuildContext) -> UnconditionalSampler:
    return UnconditionalSampler()


@hookimpl
def register_samplers(register):
    register("conditional", build_conditional, options=None, description="conditional sampling, LSTM input [ψ_q, z] (Eq. 8, +C)")
    register("unconditional", build_unconditional, options=None, description="LSTM input ψ_q only (−C)")
