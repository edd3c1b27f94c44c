"""The kinds of registered parts: which hook registers each, what the host hands its factories,
and what they must build. Every check of a registration and every build reads this one table."""

from __future__ import annotations

import attrs

from ..core.interfaces import (
    FrameDecoder, FrameEncoder, LatentStructure, Likelihood, Metric, Sampler, TemporalPrior, VideoDataset,
)


@attrs.frozen
class Kind:
    name: str
    #: the hook that registers parts of this kind (one hook per kind, see hookspecs)
    hook: str
    #: what the host passes a factory, in order, before the built options (None: nothing)
    inputs: tuple[str, ...]
    #: what a factory must build (None: checked where the part is used)
    builds: type | None

    def call_signature(self, with_options: bool) -> str:
        """How the host calls a factory of this kind, e.g. ``factory(context, options)``."""
        return f"factory({', '.join(self.inputs + (('options',) if with_options else ()))})"


#: In the order ``videovae plugins`` lists them; "preset" is registered by its own hook (a config, no factory).
KINDS: tuple[Kind, ...] = (
    Kind("encoder", "register_encoders", ("context",), FrameEncoder),
    Kind("decoder", "register_decoders", ("context",), FrameDecoder),
    Kind("latent", "register_latents", ("context",), LatentStructure),
    Kind("prior", "register_priors", ("context",), TemporalPrior),
    Kind("sampler", "register_samplers", ("context",), Sampler),
    Kind("likelihood", "register_likelihoods", ("context",), Likelihood),
    Kind("metric", "register_metrics", (), Metric),
    Kind("dataset", "register_datasets", ("root",), VideoDataset),
    # whole models are checked by build_from_config against the model protocol (core.interfaces.VideoModel)
    Kind("model", "register_models", ("config", "attributes"), None),
)
KIND_BY_NAME = {kind.name: kind for kind in KINDS}
PRESET_HOOK = "register_presets"

#: The part kinds, in listing order (presets come last in the registry's tables).
COMPONENT_KINDS = tuple(kind.name for kind in KINDS)
