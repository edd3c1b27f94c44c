"""Building models from registry names: one entry point, ``build_model``."""

from __future__ import annotations

from typing import Any

import attrs
import torch

from ..core.attributes import AttributeSet
from ..core.config import PART_KINDS, ModelConfig
from ..core.errors import ConfigError
from ..core.interfaces import BuildContext
from ..core.model import VideoModel
from .manager import get_registry


def resolve_config(preset: str | None = None, **overrides: Any) -> ModelConfig:
    """The :class:`ModelConfig` of a preset (or the defaults) with ``overrides`` applied."""
    base = get_registry().get("preset", preset).factory if preset is not None else ModelConfig()
    return base.evolve(**overrides) if overrides else base


def _build_part(kind: str, config: ModelConfig, context: BuildContext):
    """The part of ``kind`` named by ``config``, with the options the host builds from ``config.<kind>_options``
    (the registry checks what it builds)."""
    return get_registry().build(kind, getattr(config, kind), context, options=getattr(config, f"{kind}_options"))


def build_part(kind: str, config: ModelConfig, context: BuildContext):
    """One registered part named by ``config`` (used by whole-model plugins too)."""
    return _build_part(kind, config, context)


def build_from_config(config: ModelConfig, attributes: AttributeSet | None = None) -> VideoModel:
    """Compose one registered part of each kind into a :class:`VideoModel`, or build a whole
    registered model when ``config.architecture`` names one."""
    attributes = attributes if attributes is not None else AttributeSet()
    if config.architecture != "composed":
        entry = get_registry().get("model", config.architecture)
        model = entry.build(config, attributes, options=config.architecture_options)
        missing = [m for m in ("forward", "generate", "attribute_codes") if not hasattr(model, m)]
        if not isinstance(model, torch.nn.Module) or missing:
            raise ConfigError(
                f"model {config.architecture!r} from plugin {entry.plugin} built a {type(model).__name__}, "
                "expected an nn.Module with forward, generate and attribute_codes like VideoModel"
            )
        return model
    context = BuildContext(config.frame_shape, config.latent_dim, config.state_dim, config.hidden_dim, attributes)
    encoder = _build_part("encoder", config, context)
    context = attrs.evolve(context, feature_dim=encoder.feature_dim, attribute_dim=attributes.code_dim)
    latent = _build_part("latent", config, context)
    if not latent.uses_attributes:
        context = attrs.evolve(context, attribute_dim=0)
    sampler = _build_part("sampler", config, context)
    context = attrs.evolve(context, lstm_input_dim=sampler.input_dim(config.latent_dim))
    prior = _build_part("prior", config, context)
    decoder = _build_part("decoder", config, context)
    return VideoModel(config, attributes, encoder, decoder, latent, prior, sampler)


def build_model(preset: str | None = None, *, attributes: AttributeSet | None = None, **overrides: Any) -> VideoModel:
    """Build a model from a preset name and/or part names.

    >>> from videovae import build_model
    >>> model = build_model("tiny")                       # a registered composition
    >>> model = build_model("tiny", sampler="unconditional")  # swap one part by name
    >>> model = build_model(encoder="paper-conv", decoder="paper-deconv", latent="hierarchical",
    ...                     prior="lstm", sampler="conditional", latent_dim=64)

    :param preset: a name from ``videovae plugins`` (presets table); None uses the paper's defaults.
    :param attributes: the attribute specification of the data (from its data set).
    :param overrides: any :class:`ModelConfig` field, e.g. part names or sizes.
    """
    unknown = sorted(set(overrides) - {f.name for f in attrs.fields(ModelConfig)})
    if unknown:
        raise ConfigError(
            f"build_model got unknown argument(s) {', '.join(unknown)}; expected ModelConfig fields: "
            + ", ".join(f.name for f in attrs.fields(ModelConfig))
        )
    return build_from_config(resolve_config(preset, **overrides), attributes)


__all__ = ["build_model", "build_from_config", "resolve_config", "PART_KINDS"]
