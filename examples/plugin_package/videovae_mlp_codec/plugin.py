"""A fully-connected frame codec registered with videovae through its hooks.

Each part is registered with its options class: videovae builds ``MLPOptions`` from the
config's ``encoder_options`` / ``decoder_options`` (an unknown or mistyped option is a one-line
error naming the part) and calls ``MLPEncoder(context, options)``.
"""

from __future__ import annotations

import attrs
from torch import nn

from videovae.core import BuildContext, FrameDecoder, FrameEncoder, ModelConfig
from videovae.registry import hookimpl


@attrs.frozen
class MLPOptions:
    hidden: int = attrs.field(default=256, validator=attrs.validators.gt(0))


class MLPEncoder(FrameEncoder):
    def __init__(self, context: BuildContext, options: MLPOptions):
        super().__init__()
        c, h, w = context.frame_shape
        self.frame_shape = (c, h, w)
        self.feature_dim = context.latent_dim
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, options.hidden), nn.ReLU(),
                                 nn.Linear(options.hidden, context.latent_dim))

    def forward(self, frames):
        self.check_frames(frames)
        return self.net(frames)


class MLPDecoder(FrameDecoder):
    def __init__(self, context: BuildContext, options: MLPOptions):
        super().__init__()
        self.frame_shape = tuple(context.frame_shape)
        c, h, w = self.frame_shape
        self.net = nn.Sequential(nn.Linear(context.latent_dim, options.hidden), nn.ReLU(),
                                 nn.Linear(options.hidden, c * h * w))

    def forward(self, z):
        return self.net(z).unflatten(1, self.frame_shape).sigmoid()


@hookimpl
def register_encoders(register):
    register("mlp", MLPEncoder, options=MLPOptions, description="fully-connected frame encoder (example plugin)")


@hookimpl
def register_decoders(register):
    register("mlp", MLPDecoder, options=MLPOptions, description="fully-connected frame decoder (example plugin)")


@hookimpl
def register_presets(register):
    register("mlp-videovae", ModelConfig(encoder="mlp", decoder="mlp", latent_dim=32, state_dim=64, hidden_dim=64),
             description="VideoVAE (+C+S) with the example fully-connected codec")
