"""A Deep Rotator-style baseline (Yang et al., NIPS 2015; the Chair CAD baseline of Table 2).

"Deep Rotator uses a simple autoencoder and LSTM structure to generate rotating
chairs" (Sec. 5.3): a deterministic encoder maps the first frame to a code, an
LSTM applies the action (the attribute codes, e.g. rotate ``ccw``/``cw``) step by
step, z^(t) = z^(t-1) + W·h^(t), and the decoder renders every code. It is
trained by rolling out from the first frame under the configured likelihood (the
pixel-wise L1 of Yang et al. and Sec. 4.1 with ``likelihood="l1"``), so it has no KL term (its ``kl`` loss is 0), no posterior to reconstruct with, and generates only
from a first frame (:attr:`DeepRotator.capabilities`).

Option ``actions``: the attributes the LSTM receives. By default all of the data
set's attributes (the same holistic attributes VideoVAE gets); Yang et al.'s model
receives the action alone (``architecture_options={"actions": ["rotation"]}`` on the
chairs), and identity and view then come from the first frame only.

It reuses the registered encoder and decoder named in the configuration.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn

from ...core.attributes import AttributeSet
from ...core.batch import VideoBatch
from ...core.config import ModelConfig, name_tuple
from ...core.distributions import DiagonalGaussian
from ...core.errors import AttributeValueError, ConfigError, InputShapeError
from ...core.interfaces import BuildContext, Capabilities, StepContext, VideoModel
from ...registry import hookimpl
from ...registry.factory import build_part
from ..layers import PhiTau
from ..models.vae_loss import ModelOutput, loss_terms
from ..presets import PAPER


def _distinct_names(instance, attribute, value) -> None:
    if value is not None and (not value or len(set(value)) != len(value)):
        raise ConfigError(f"actions must be distinct attribute names, got {list(value)}")


@attrs.frozen
class DeepRotatorOptions:
    #: attribute names fed to the LSTM (None: every attribute of the data set)
    actions: tuple[str, ...] | None = attrs.field(default=None, converter=name_tuple, validator=_distinct_names)


class DeepRotator(VideoModel):
    capabilities = Capabilities(first_frame=True, attributes_only=False, posterior=False)

    def __init__(self, config: ModelConfig, attributes: AttributeSet, options: DeepRotatorOptions):
        super().__init__()
        self.actions = attributes.names if options.actions is None else options.actions
        self.action_columns = [attributes.index(name) for name in self.actions]  # unknown names: one-line error
        self.action_attributes = AttributeSet(tuple(attributes.spec(name) for name in self.actions))
        self.config = config
        self.attributes = attributes
        context = BuildContext(config.frame_shape, config.latent_dim, config.state_dim, config.hidden_dim, attributes)
        self.encoder = build_part("encoder", config, context)
        self.decoder = build_part("decoder", config, context)
        self.likelihood = build_part("likelihood", config, context)
        self.to_code = nn.Linear(self.encoder.feature_dim, config.latent_dim)
        self.cell = nn.LSTMCell(config.latent_dim + self.action_attributes.code_dim, config.state_dim)
        self.transform = PhiTau(config.state_dim, config.hidden_dim, config.latent_dim)

    @property
    def controlled_attributes(self) -> tuple[str, ...]:
        """The actions: the other attributes come from the first frame."""
        return tuple(self.actions)

    def attribute_codes(self, labels: Tensor) -> Tensor:
        """Codes of the action attributes (the columns of ``labels [..., A]`` named in ``actions``)."""
        return self.action_attributes.encode(labels[..., self.action_columns])

    def rollout(self, first_frame: Tensor, codes: Tensor) -> Tensor:
        """Codes ``[B, T, D]``: the first frame's, then one recurrent transformation per step."""
        z = self.to_code(self.encoder(first_frame))
        zs, state = [z], None
        for t in range(1, codes.shape[1]):
            state = self.cell(torch.cat([z, codes[:, t - 1]], dim=-1), state)
            z = z + self.transform(state[0])
            zs.append(z)
        return torch.stack(zs, dim=1)

    def forward(self, frames: Tensor, labels: Tensor, noise: Tensor | None = None,
                generator: torch.Generator | None = None) -> ModelOutput:
        if frames.ndim != 5 or tuple(frames.shape[2:]) != tuple(self.config.frame_shape):
            raise InputShapeError(f"expected videos of shape [B, T, {', '.join(map(str, self.config.frame_shape))}], got {tuple(frames.shape)}")
        batch, length = frames.shape[:2]
        z = self.rollout(frames[:, 0], self.attribute_codes(labels))
        reconstruction = self.decoder(z.flatten(0, 1)).unflatten(0, (batch, length))
        point = DiagonalGaussian(z, torch.zeros_like(z))
        return ModelOutput(reconstruction, z.new_zeros(batch, length), z, point, point)

    def losses(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """−log p(x | z) of the rollout from each clip's first frame under the configured likelihood (the
        paper's pixel-wise L1 with ``likelihood="l1"``); ``kl`` is 0."""
        return loss_terms(self(batch.frames, batch.labels), batch.frames, context.kl_weight, self.likelihood).as_dict()

    @torch.no_grad()
    def generate(self, labels: Tensor, first_frame: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        self.check_capabilities(first_frame=first_frame is not None)
        if torch.isnan(labels[..., self.action_columns]).any():
            raise AttributeValueError(f"the actions ({', '.join(self.actions)}) must be set for generation; resolve free attributes first")
        z = self.rollout(first_frame, self.attribute_codes(labels))
        return self.decoder(z.flatten(0, 1)).unflatten(0, z.shape[:2]).clamp(0.0, 1.0)


@hookimpl
def register_models(register):
    register("deep-rotator", DeepRotator, options=DeepRotatorOptions,
             description="Deep Rotator-style AE + action LSTM, rolled out from the first frame")


@hookimpl
def register_presets(register):
    register("deep-rotator", attrs.evolve(PAPER, architecture="deep-rotator"),
             description="Deep Rotator-style baseline with the A.4 encoder and decoder (Table 2)")
