"""What the GAN baselines of Table 2 (MoCoGAN, VGAN) share: the GAN objective, the discriminators' accuracy
and how their widths and depth follow from a model size.

The objective is Goodfellow et al.'s with the non-saturating generator loss, as both papers train it:
the discriminator minimises −log D(x) − log(1 − D(G(z))), the generator −log D(G(z)), each a binary
cross-entropy on logits (numerically stable, and in float32 under ``--precision bf16``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core.config import ModelConfig
from ...core.errors import ConfigError
from ...core.mixed_precision import float32


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """−log D(x) − log(1 − D(G(z))), each averaged over its logits."""
    with float32():
        real, fake = real_logits.float(), fake_logits.float()
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def generator_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss −log D(G(z)), averaged over the logits."""
    with float32():
        fake = fake_logits.float()
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def accuracy(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    """The fraction of real logits a discriminator calls real (> 0) and of fake ones it calls fake (< 0):
    near 1 and 1 it wins, near 0.5 and 0.5 the generator fools it (training health, logged each step)."""
    with torch.no_grad():
        return (real_logits.detach() > 0).float().mean(), (fake_logits.detach() < 0).float().mean()


def base_width(config: ModelConfig, width: int | None) -> int:
    """Channels of a GAN's widest-resolution layer: ``width`` when set, else ``hidden_dim // 8`` of the model
    size (64 at the ``paper`` size, DCGAN's and MoCoGAN's ngf/ndf; 32 at ``demo``; 4 at ``tiny``)."""
    return width if width is not None else max(config.hidden_dim // 8, 1)


def doublings(frame_size: int, owner: str, start: int = 4) -> int:
    """How many ×2 up-samplings take a ``start``×``start`` map to ``frame_size`` (a DCGAN stack); a one-line
    :class:`ConfigError` unless ``frame_size`` is ``start`` times a power of two, at least twice ``start``."""
    count, size = 0, start
    while size < frame_size:
        size, count = size * 2, count + 1
    if size != frame_size or count < 1:
        raise ConfigError(f"{owner} needs a frame_size of {start} times a power of two (e.g. 32 or 64), got {frame_size}")
    return count


__all__ = ["accuracy", "base_width", "discriminator_loss", "doublings", "generator_loss"]
