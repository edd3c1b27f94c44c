"""A fixed standard-normal prior N(0, I) with no temporal state.

Paired with the "flat" latent, every frame is an independent VAE sample: the
static model of Table 1 ("15 consecutively generated images are then treated as
one video sequence"). The KL term of Eq. 9 becomes the static VAE's KL(q ‖ N(0, I)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.distributions import DiagonalGaussian
from ...core.interfaces import BuildContext, TemporalPrior
from ...registry import hookimpl


class StandardNormalPrior(TemporalPrior):
    def __init__(self, context: BuildContext):
        super().__init__()
        self.latent_dim = context.latent_dim
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # follows .to(device)

    def initial_state(self, batch_size: int, *, device=None, generator=None):
        device = device if device is not None else self._anchor.device
        return torch.zeros(batch_size, 0, device=device)

    def hidden(self, state) -> Tensor:
        return state

    def prior(self, hidden: Tensor, attributes: Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.standard((hidden.shape[0], self.latent_dim), device=hidden.device)

    def step(self, lstm_input: Tensor, state):
        return state


@hookimpl
def register_priors(register):
    register("standard-normal", StandardNormalPrior, options=None,
             description="fixed N(0, I) prior without temporal state (static VAE)")
