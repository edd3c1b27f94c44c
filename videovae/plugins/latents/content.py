"""A per-clip content latent c beside the per-step z^(t): the composed model's option ``content_dim``.

Not in the paper. Its model (Eq. 4-8) has no latent that holds for a whole clip except the attributes a; what
else stays constant in a clip (an object's size, colour, a person's look) has to be carried from step to step
by z^(t) and the LSTM state, and in free-running generation it drifts: continuations of moving-sprites clips
(mode iv) changed the sprite's size by a factor of about 1.5 by the last frame (docs/own_data.md, "The codec's
ceiling"). Here, as in the static/dynamic split of disentangled sequential autoencoders and MoCoGAN's content
code, one c per clip is decoded with every frame:

    q(c | x^(1)) = N(µ, σ²) = φ_τ(φ_enc(x^(1)))       read from the clip's first frame
    p(c | a^(1)) = φ_τ(a^(1))                          the prior, given the first frame's attributes (+S)
    µ_x^(t) = φ_dec(z^(t) ⊕ c)                         Eq. 6 with c appended

and −Eq. 9 gains KL(q(c | x^(1)) ‖ p(c | a^(1))) once per clip (spread over its T frames, so the per-frame average
stays the negative ELBO per frame). It is read from the first frame alone so that a continuation (mode iv, one
frame given) infers c exactly as training does; without a first frame (modes i-iii) c is drawn from the prior.

The prior (option ``content_prior``): ``"attributes"`` learns p(c | a^(1)) as above (for a model without
attributes, −S, a learned N(µ, σ²)); ``"standard"`` is p(c) = N(0, I). c is read from the pixels, so it also
holds what the attributes say (a sprite's colour and shape); drawn from N(0, I), independent of the commanded
attributes, it overrode them in mode i (measured on moving-sprites: docs/own_data.md, "A per-clip content latent").
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...core.distributions import DiagonalGaussian
from ...core.interfaces import BuildContext
from ..layers import PhiTau


class ClipContent(nn.Module):
    """q(c | x^(1)) from the encoder's features of a clip's first frame, and the prior p(c | a^(1)) or N(0, I)
    (``prior``: ``"attributes"`` or ``"standard"``)."""

    def __init__(self, context: BuildContext, content_dim: int, prior: str = "attributes"):
        super().__init__()
        self.content_dim = content_dim
        self.to_c = PhiTau(context.feature_dim, context.hidden_dim, 2 * content_dim, init=context.phi_init)
        self.to_prior, self.prior_params = None, None
        if prior == "attributes" and context.attribute_dim > 0:
            self.to_prior = PhiTau(context.attribute_dim, context.hidden_dim, 2 * content_dim, init=context.phi_init)
        elif prior == "attributes":  # a -S model has no attribute codes: a learned N(µ, σ²), from N(0, I)
            self.prior_params = nn.Parameter(torch.zeros(2 * content_dim))

    def posterior(self, first_features: Tensor) -> DiagonalGaussian:
        """q(c | x^(1)) for the features ``[B, F]`` of each clip's first frame."""
        return DiagonalGaussian.from_params(self.to_c(first_features))

    def prior(self, codes: Tensor) -> DiagonalGaussian:
        """p(c | a^(1)) for the attribute codes ``[B, attribute_dim]`` of each clip's first frame (N(0, I) with
        ``prior="standard"``)."""
        if self.to_prior is not None:
            return DiagonalGaussian.from_params(self.to_prior(codes))
        if self.prior_params is not None:
            return DiagonalGaussian.from_params(self.prior_params.expand(codes.shape[0], -1))
        return DiagonalGaussian.standard((codes.shape[0], self.content_dim), device=codes.device)

    def noise_rows(self, latent_dim: int) -> int:
        """How many rows of ``latent_dim`` standard normal values one clip's ε of c takes (the training step
        draws its noise in rows of the latent's size; see :meth:`noise_from_rows`)."""
        return math.ceil(self.content_dim / latent_dim)

    def noise_from_rows(self, rows: Tensor) -> Tensor:
        """ε of c ``[B, content_dim]`` from ``rows [B, noise_rows, latent_dim]``."""
        return rows.flatten(1)[:, :self.content_dim]


def decoder_input(z: Tensor, content: Tensor | None) -> Tensor:
    """z^(t) ⊕ c: one step's ``z [B, D]`` or a clip's ``z [B, T, D]`` (c then repeated per frame) with each clip's
    ``content [B, C]`` appended; ``z`` itself when there is no c."""
    if content is None:
        return z
    if z.ndim == 3:
        content = content[:, None].expand(-1, z.shape[1], -1)
    return torch.cat([z, content.to(z.dtype)], dim=-1)


__all__ = ["ClipContent", "decoder_input"]
