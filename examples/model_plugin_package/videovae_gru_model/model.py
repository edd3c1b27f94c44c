"""A frame autoencoder whose codes a GRU carries through time: a whole model with its own training step.

It is not a VAE, so it shows what the engine needs from any model (the ``VideoModel``
protocol of ``videovae.core``): two optimizers updated one after the other in one step
(the autoencoder on reconstruction, then the GRU on predicting the next code with the
autoencoder's codes held fixed), generation from a first frame or from attributes alone,
and declared capabilities.

* code z⁽ᵗ⁾ = enc(x⁽ᵗ⁾), frame dec(z⁽ᵗ⁾), loss Σ_pixels |x − dec(enc(x))|;
* z⁽ᵗ⁺¹⁾ = z⁽ᵗ⁾ + W·h⁽ᵗ⁾ with h⁽ᵗ⁾ = GRU([z⁽ᵗ⁾, a], h⁽ᵗ⁻¹⁾), loss ‖ẑ⁽ᵗ⁺¹⁾ − sg(z⁽ᵗ⁺¹⁾)‖²;
* from attributes alone, z⁽¹⁾ is the mean first code of the clips with those attributes (a linear map
  of the attribute codes, fitted with the GRU) plus Gaussian noise of the codes' spread.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn

from videovae.core import AttributeSet, Capabilities, ModelConfig, StepContext, VideoBatch, VideoModel
from videovae.core.errors import AttributeValueError, InputShapeError


@attrs.frozen
class GRUModelOptions:
    channels: int = attrs.field(default=32, validator=attrs.validators.gt(0))


def _codec(frame_shape: tuple[int, int, int], code_dim: int, channels: int) -> tuple[nn.Module, nn.Module]:
    """Two stride-2 convolutions each way around a linear code (frame sides divisible by 4)."""
    c, h, w = frame_shape
    if h % 4 or w % 4:
        raise InputShapeError(f"gru-autoencoder needs frame sides divisible by 4, got {h}x{w}")
    flat = 2 * channels * (h // 4) * (w // 4)
    encoder = nn.Sequential(
        nn.Conv2d(c, channels, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(flat, code_dim),
    )
    decoder = nn.Sequential(
        nn.Linear(code_dim, flat), nn.LeakyReLU(0.2), nn.Unflatten(1, (2 * channels, h // 4, w // 4)),
        nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(channels, c, 4, 2, 1),
    )
    return encoder, decoder


class GRUAutoencoder(VideoModel):
    capabilities = Capabilities(first_frame=True, attributes_only=True, posterior=False)

    def __init__(self, config: ModelConfig, attributes: AttributeSet, options: GRUModelOptions):
        super().__init__()
        self.config = config
        self.attributes = attributes
        self.encoder, self.decoder = _codec(config.frame_shape, config.latent_dim, options.channels)
        self.cell = nn.GRUCell(config.latent_dim + attributes.code_dim, config.state_dim)
        self.to_step = nn.Linear(config.state_dim, config.latent_dim)
        self.first_code = nn.Linear(attributes.code_dim, config.latent_dim)  # mean z⁽¹⁾ given a
        self.register_buffer("code_spread", torch.zeros(config.latent_dim))  # std of z⁽¹⁾ around that mean

    # -- the two parts -----------------------------------------------------------------------
    def encode(self, frames: Tensor) -> Tensor:
        """Codes ``[B, T, D]`` of videos ``[B, T, C, H, W]``."""
        return self.encoder(frames.flatten(0, 1)).unflatten(0, frames.shape[:2])

    def decode(self, codes: Tensor) -> Tensor:
        return self.decoder(codes.flatten(0, 1)).unflatten(0, codes.shape[:2])

    def rollout(self, first: Tensor, codes: Tensor) -> Tensor:
        """Codes ``[B, T, D]``: ``first [B, D]``, then one GRU step per frame under attribute codes ``[B, T, K]``."""
        z, hidden, out = first, None, [first]
        for t in range(1, codes.shape[1]):
            hidden = self.cell(torch.cat([z, codes[:, t - 1]], dim=-1), hidden)
            z = z + self.to_step(hidden)
            out.append(z)
        return torch.stack(out, dim=1)

    # -- the protocol ----------------------------------------------------------------------------
    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        codec = [*self.encoder.parameters(), *self.decoder.parameters()]
        dynamics = [*self.cell.parameters(), *self.to_step.parameters(), *self.first_code.parameters()]
        return {"autoencoder": torch.optim.Adam(codec, lr=lr), "dynamics": torch.optim.Adam(dynamics, lr=lr)}

    def _check(self, batch: VideoBatch) -> None:
        if tuple(batch.frames.shape[2:]) != tuple(self.config.frame_shape):
            raise InputShapeError(f"expected videos of shape [B, T, {', '.join(map(str, self.config.frame_shape))}], "
                                  f"got {tuple(batch.frames.shape)}")

    def losses(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        self._check(batch)
        codes = self.encode(batch.frames)
        reconstruction = (self.decode(codes) - batch.frames).abs().flatten(2).sum(-1).mean()
        target = codes.detach()
        attribute_codes = self.attribute_codes(batch.labels)
        predicted = self.rollout(target[:, 0], attribute_codes)
        dynamics = (predicted[:, 1:] - target[:, 1:]).pow(2).sum(-1).mean()
        first = (self.first_code(attribute_codes[:, 0]) - target[:, 0]).pow(2).sum(-1).mean()
        if self.training:  # track the spread of first codes around their mean (for sampling)
            with torch.no_grad():
                spread = (target[:, 0] - self.first_code(attribute_codes[:, 0])).pow(2).mean(0).sqrt()
                self.code_spread.mul_(0.99).add_(0.01 * spread)
        return {"loss": reconstruction + dynamics + first, "reconstruction": reconstruction,
                "dynamics": dynamics + first}

    def training_step(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        losses = self.losses(batch, context)
        context.optimize("autoencoder", losses["reconstruction"])
        context.optimize("dynamics", losses["dynamics"])
        return losses

    @torch.no_grad()
    def generate(self, labels: Tensor, first_frame: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        if torch.isnan(labels).any():
            raise AttributeValueError("every attribute must be set for generation; resolve free attributes first")
        codes = self.attribute_codes(labels)
        if first_frame is not None:
            first = self.encoder(first_frame)
        else:
            noise = torch.randn(codes.shape[0], self.config.latent_dim, generator=generator).to(codes.device)
            first = self.first_code(codes[:, 0]) + noise * self.code_spread
        return self.decode(self.rollout(first, codes)).clamp(0.0, 1.0)
