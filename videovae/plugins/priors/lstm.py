"""The temporal model: a one-layer LSTM (Eq. 2, Eq. 8) and the learned prior of Eq. 5.

ψ_p^(t) = [µ_p, σ_p] = φ_τ(φ_τ(h^(t-1)), a); without a structured latent space (−S)
the attribute code is empty and the prior is φ_τ(φ_τ(h^(t-1))).

h^(0) is drawn at random (Sec. 4.2: "The initial LSTM state h^(0) is randomly
initialized") both when training and when generating, so that the model learns
the state it will be started from.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn

from ...core.distributions import DiagonalGaussian
from ...core.interfaces import BuildContext, TemporalPrior
from ...core.validators import choice, non_negative_float, to_float
from ...registry import hookimpl
from ..layers import PhiTau


@attrs.frozen
class LSTMPriorOptions:
    initial_state: str = attrs.field(default="random", validator=choice("random", "zeros"))
    initial_std: float = attrs.field(default=1.0, converter=to_float, validator=non_negative_float)


class LSTMPrior(TemporalPrior):
    def __init__(self, context: BuildContext, options: LSTMPriorOptions):
        super().__init__()
        d, h = context.latent_dim, context.hidden_dim
        self.options = options
        self.state_dim = context.state_dim
        self.cell = nn.LSTMCell(context.lstm_input_dim, context.state_dim)
        self.from_hidden = PhiTau(context.state_dim, h, 2 * d, init=context.phi_init)
        self.head = PhiTau(2 * d + context.attribute_dim, h, 2 * d, init=context.phi_init)

    def initial_state(self, batch_size: int, *, device=None, generator=None):
        shape = (batch_size, self.state_dim)
        dtype = self.cell.weight_ih.dtype
        device = device if device is not None else self.cell.weight_ih.device
        cell = torch.zeros(shape, device=device, dtype=dtype)
        if self.options.initial_state == "zeros":
            return cell.clone(), cell
        noise = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        return noise * self.options.initial_std, cell

    def hidden(self, state) -> Tensor:
        return state[0]

    def prior(self, hidden: Tensor, attributes: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.head(self.from_hidden(hidden), attributes))

    def step(self, lstm_input: Tensor, state):
        return self.cell(lstm_input, state)


@hookimpl
def register_priors(register):
    register("lstm", LSTMPrior, options=LSTMPriorOptions, description="one-layer LSTM with the learned prior of Eq. 5")
