"""Small building blocks shared by the built-in parts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..core.errors import ConfigError


#: how a :class:`PhiTau` draws its weights (``BuildContext.phi_init``)
PHI_INITS = ("torch", "he")


class PhiTau(nn.Module):
    """φ_τ of Eq. 4 and Eq. 5: two fully-connected layers with a central ReLU.

    Several inputs are concatenated first, so φ_τ(ψ_q, a) is ``PhiTau(ψ_q ⊕ a)``.
    Every use in a model is a separate instance with its own weights (Sec. 3.2).

    ``init="torch"`` keeps PyTorch's default initialisation, which shrinks a signal by about √3 per layer; the
    composed model chains three φ_τ between its encoder and its decoder (Eq. 4), so at the start its decoder
    hardly sees the frame, and on small objects the outline was learned thousands of steps late
    (docs/own_data.md). ``init="he"``: He initialisation of the ReLU layer and a variance-preserving
    N(0, 1/hidden) output layer, zero biases, as the codec's layers (``paper_conv.init_relu_layers``). It learned
    the sprites' outline sooner but, at 12000 steps on two seeds, generated them worse, so the composed model's
    default (option ``phi_init``) stays ``"torch"``.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, init: str = "torch"):
        super().__init__()
        if init not in PHI_INITS:
            raise ConfigError(f"init must be one of {', '.join(PHI_INITS)}, got {init!r}")
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))
        if init == "he":  # redrawn after the layers' own draws, as the runs of docs/own_data.md were made
            nn.init.kaiming_normal_(self.net[0].weight, nonlinearity="relu")
            nn.init.normal_(self.net[2].weight, 0.0, hidden_dim ** -0.5)
            nn.init.zeros_(self.net[0].bias)
            nn.init.zeros_(self.net[2].bias)

    def forward(self, *inputs: Tensor) -> Tensor:
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=-1)
        return self.net(x)
