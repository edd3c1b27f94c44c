"""Named compositions: the paper's model, its ablations (Table 1) and a tiny test size.

+S = structured latent space (hierarchical posterior, Eq. 4); −S = single posterior.
+C = conditional sampling (Eq. 8); −C = LSTM fed ψ_q only.
"""

from __future__ import annotations

import copy

from ..core.config import ModelConfig
from ..core.errors import ConfigError
from ..registry import hookimpl


def _sizes_32px(latent_dim: int, state_dim: int, hidden_dim: int, channels: tuple[int, ...], fc_dim: int) -> dict:
    """Model sizes for 32×32 frames: a codec of kernels 5/5/3/3, strides 1/2/1/2, the decoder mirroring the encoder."""
    codec = dict(channels=channels, kernels=(5, 5, 3, 3), strides=(1, 2, 1, 2), fc_dims=(fc_dim,))
    return dict(frame_size=32, latent_dim=latent_dim, state_dim=state_dim, hidden_dim=hidden_dim,
                encoder_options=codec, decoder_options=dict(codec))


#: Sizes small enough for unit tests: 32×32 frames, 16-d latents.
TINY_SIZES = _sizes_32px(latent_dim=16, state_dim=32, hidden_dim=32, channels=(4, 8, 8, 16), fc_dim=64)

PAPER = ModelConfig()  # +C+S with the sizes of A.4

#: The paper's composition (+C+S) at 32×32 with a narrower codec: what `videovae demo`
#: can train on 2 CPU cores in about ten minutes.
DEMO_SIZES = _sizes_32px(latent_dim=128, state_dim=256, hidden_dim=256, channels=(16, 32, 64, 64), fc_dim=512)

#: The sizes of A.4 (64×64 frames, 512-d latents and LSTM, the paper's codec): the defaults of ModelConfig.
PAPER_SIZES = {name: getattr(PAPER, name) for name in
               ("frame_size", "latent_dim", "state_dim", "hidden_dim", "encoder_options", "decoder_options")}

#: Named model sizes that apply to any preset (``videovae train --size``, ``TrainConfig.size``,
#: ``examples/compare_baselines.py --sizes``).
SIZES = {"tiny": TINY_SIZES, "demo": DEMO_SIZES, "paper": PAPER_SIZES}


def size_fields(name: str | None) -> dict:
    """The model fields of the named size (:data:`SIZES`; ``None``: none, the preset's own sizes), a fresh
    copy to put under a preset's fields and over which explicit overrides go; an unknown name is a
    one-line :class:`ConfigError`."""
    if name is None:
        return {}
    if not isinstance(name, str) or name not in SIZES:
        raise ConfigError(f"size must be one of {', '.join(SIZES)} (model sizes for any preset), got {name!r}; "
                          "a data set's frame size is its option size (--dataset-option size=32)")
    return copy.deepcopy(SIZES[name])


ABLATIONS = {
    "plus-c-plus-s": (PAPER, "+C+S: the full VideoVAE (same as 'videovae')"),
    "minus-c-plus-s": (PAPER.evolve(sampler="unconditional"), "−C+S: structured latent space, no conditional sampling"),
    "plus-c-minus-s": (PAPER.evolve(latent="flat"), "+C−S: conditional sampling, single posterior"),
    "minus-c-minus-s": (PAPER.evolve(latent="flat", sampler="unconditional"), "−C−S: VAE + LSTM (VRNN-like)"),
    "static": (
        PAPER.evolve(latent="flat", prior="standard-normal", sampler="unconditional"),
        "static frame VAE with a standard-normal prior (Table 1, 'Static')",
    ),
}


@hookimpl
def register_presets(register):
    register("videovae", PAPER, description="VideoVAE (+C+S) with the paper's A.4 sizes")
    register("tiny", PAPER.evolve(**TINY_SIZES), description="VideoVAE (+C+S) at test size: 32×32 frames, 16-d latents")
    register("demo", PAPER.evolve(**DEMO_SIZES), description="VideoVAE (+C+S) at 32×32 with 128-d latents: the demo's size")
    for name, (config, description) in ABLATIONS.items():
        register(name, config, description=description)
