"""Small building blocks shared by the built-in parts."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PhiTau(nn.Module):
    """φ_τ of Eq. 4 and Eq. 5: two fully-connected layers with a central ReLU.

    Several inputs are concatenated first, so φ_τ(ψ_q, a) is ``PhiTau(ψ_q ⊕ a)``.
    Every use in a model is a separate instance with its own weights (Sec. 3.2).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))

    def forward(self, *inputs: Tensor) -> Tensor:
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=-1)
        return self.net(x)
