"""Building models from registry names: one entry point, ``build_model``."""

from __future__ import annotations

import os
from typing import Any

import attrs

from ..core.attributes import AttributeSet
from ..core.config import PART_KINDS, ModelConfig
from ..core.errors import ConfigError
from ..core.interfaces import BuildContext, VideoModel
from .manager import get_registry


def resolve_config(preset: str | None = None, **overrides: Any) -> ModelConfig:
    """The :class:`ModelConfig` of a preset (or the defaults) with ``overrides`` applied."""
    base = get_registry().get("preset", preset).factory if preset is not None else ModelConfig()
    return base.evolve(**overrides) if overrides else base


def build_part(kind: str, config: ModelConfig, context: BuildContext):
    """The part of ``kind`` named by ``config`` (for whole-model plugins that are made of parts), with the
    options the host builds from ``config.<kind>_options`` (the registry checks what it builds)."""
    return get_registry().build(kind, getattr(config, kind), context, options=getattr(config, f"{kind}_options"))


def build_from_config(config: ModelConfig, attributes: AttributeSet | None = None) -> VideoModel:
    """The whole model registered (kind ``model``) under ``config.architecture``, e.g. ``"composed"``
    (VideoVAE made of the parts the config names) or ``"deep-rotator"``."""
    attributes = attributes if attributes is not None else AttributeSet()
    entry = get_registry().get("model", config.architecture)
    model = entry.build(config, attributes, options=config.architecture_options)
    if not isinstance(model, VideoModel):
        raise ConfigError(
            f"model {config.architecture!r} from plugin {entry.plugin} built a {type(model).__name__}, "
            "expected a videovae.VideoModel (the whole-model protocol of videovae.core.interfaces)"
        )
    return model


def fit_to_data(config: ModelConfig, dataset: Any, clip_length: int) -> ModelConfig:
    """``config`` with the whole model's data-dependent options filled in from the data set a new run trains on.

    A model's options class may define ``from_data(options: dict, dataset, clip_length) -> dict``: the
    ``architecture_options`` with what was left unset taken from the data (e.g. a GAN's category attribute,
    the data set's motion attribute, or its generator's clip length), or a one-line :class:`ConfigError`
    naming the option to set. The run stores the filled config, so resuming and loading never need the data.
    """
    entry = get_registry().get("model", config.architecture)
    fill = getattr(entry.options, "from_data", None)
    if fill is None:
        return config
    options = fill(dict(config.architecture_options), dataset, clip_length)
    return config if options == config.architecture_options else config.evolve(architecture_options=options)


def build_model(preset: str | None = None, *, attributes: AttributeSet | None = None,
                checkpoint: str | os.PathLike | None = None, **overrides: Any) -> VideoModel:
    """Build a model from a preset name and/or part names.

    >>> from videovae import build_model
    >>> model = build_model("tiny")                       # a registered composition
    >>> model = build_model("tiny", sampler="unconditional")  # swap one part by name
    >>> model = build_model(encoder="paper-conv", decoder="paper-deconv", latent="hierarchical",
    ...                     prior="lstm", sampler="conditional", latent_dim=64)
    >>> model = build_model("demo", checkpoint="runs/demo/checkpoint.pt")  # doctest: +SKIP

    :param preset: a name from ``videovae plugins`` (presets table); None uses the paper's defaults.
    :param attributes: the attribute specification of the data (from its data set).
    :param checkpoint: a checkpoint file, an exported folder or ``pretrained:NAME`` to take the weights (and,
        unless given, the attributes) from, in eval mode; the preset with ``overrides`` must be the model it
        stores (without a preset or overrides, the stored model is built), or a one-line ``CheckpointError``
        names the fields that differ.
    :param overrides: any :class:`ModelConfig` field, e.g. part names or sizes.
    """
    unknown = sorted(set(overrides) - {f.name for f in attrs.fields(ModelConfig)})
    if unknown:
        raise ConfigError(
            f"build_model got unknown argument(s) {', '.join(unknown)}; expected ModelConfig fields: "
            + ", ".join(f.name for f in attrs.fields(ModelConfig))
        )
    if checkpoint is not None:
        from ..engine.checkpoint import model_with_weights  # the engine reads files; the registry only names parts

        config = resolve_config(preset, **overrides) if preset is not None or overrides else None
        what = f"preset {preset!r}" if preset is not None else "the defaults"
        return model_with_weights(checkpoint, config, attributes, what + (" with the overrides" if overrides else ""))
    return build_from_config(resolve_config(preset, **overrides), attributes)


__all__ = ["build_model", "build_from_config", "fit_to_data", "build_part", "resolve_config", "PART_KINDS"]
