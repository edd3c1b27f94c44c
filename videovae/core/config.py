"""Model configuration: which registered part fills each role, and the shared sizes."""

from __future__ import annotations

import json
from typing import Any, Mapping

import attrs

from .errors import ConfigError, one_line
from .validators import positive_int, shallow, short_repr  # positive_int: importable from here as before


def _part_name(instance, attribute, value):
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{attribute.name} must be a registered {attribute.name} name (a string), got {value!r}")


def _options(instance, attribute, value):
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{attribute.name} must be a mapping of option names to values, got {short_repr(value)}")
    shallow(instance, attribute, value)


def _as_dict(value):
    """Converter: a mapping as a plain dict; anything else as it is, for :func:`_options` to refuse by name."""
    return dict(value) if isinstance(value, Mapping) else value


def _channels(instance, attribute, value):
    if value not in (1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {value!r}")


def _frame_size(instance, attribute, value):
    positive_int(instance, attribute, value)
    if value < 8:
        raise ConfigError(f"frame_size must be at least 8 pixels, got {value}")


PART_KINDS = ("encoder", "decoder", "latent", "prior", "sampler", "likelihood")


@attrs.frozen
class ModelConfig:
    """A composition of registered parts (one per kind) and the sizes they share.

    The defaults are the paper's model (+C+S) with the sizes of its appendix A.4:
    64×64×3 frames, 512-d distributions, a 512-unit LSTM.
    """

    #: the registered whole model (kind "model") that builds this config: "composed" = VideoVAE
    #: made of the five parts below; others (e.g. a baseline) may use some of the parts
    architecture: str = attrs.field(default="composed", validator=_part_name)
    encoder: str = attrs.field(default="paper-conv", validator=_part_name)
    decoder: str = attrs.field(default="paper-deconv", validator=_part_name)
    latent: str = attrs.field(default="hierarchical", validator=_part_name)
    prior: str = attrs.field(default="lstm", validator=_part_name)
    sampler: str = attrs.field(default="conditional", validator=_part_name)
    #: the reconstruction term of Eq. 9; "l1" is the paper's unit-scale pixel-wise L1 (checkpoints written
    #: before this field existed were trained with it), "gaussian" fits its scale to each batch
    likelihood: str = attrs.field(default="gaussian", validator=_part_name)
    frame_size: int = attrs.field(default=64, validator=_frame_size)
    channels: int = attrs.field(default=3, validator=_channels)
    latent_dim: int = attrs.field(default=512, validator=positive_int)
    state_dim: int = attrs.field(default=512, validator=positive_int)
    hidden_dim: int = attrs.field(default=512, validator=positive_int)
    encoder_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)
    decoder_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)
    latent_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)
    prior_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)
    sampler_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)
    likelihood_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)
    architecture_options: dict = attrs.field(factory=dict, validator=_options, converter=_as_dict)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.frame_size, self.frame_size)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        return make_config(cls, data)

    def evolve(self, **changes: Any) -> "ModelConfig":
        return make_config(type(self), {**self.to_dict(), **changes})


def make_config(cls, data: Mapping[str, Any]):
    """Build an attrs config from a mapping; unknown fields give a one-line error listing the known ones."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{cls.__name__} expects a mapping, got {type(data).__name__}")
    known = [f.name for f in attrs.fields(cls)]
    unknown = sorted((key if isinstance(key, str) and key.isidentifier() else repr(key))
                     for key in data if key not in known)
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {', '.join(unknown)}; known fields: {', '.join(known)}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise ConfigError(f"{cls.__name__}: {one_line(message)}") from None


def name_tuple(value) -> tuple:
    """Option converter: a single name or a sequence of names → tuple (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    try:
        return tuple(value)
    except TypeError:
        raise ConfigError(f"expected a list of names, got {value!r}") from None


def make_options(cls, options: Mapping[str, Any], owner: str):
    """Build a part's own attrs options class, naming the part in any error."""
    try:
        return make_config(cls, options)
    except ConfigError as exc:
        raise ConfigError(f"{owner}: {exc}") from None


def plain_value(value: Any) -> Any:
    """``value`` as JSON holds it: the presets' sizes are tuples, ``--set``'s lists, and a checkpoint stores
    either; compared in this form the same sizes are the same setting."""
    return json.loads(json.dumps(value, default=str))


def config_to_json(config) -> str:
    return json.dumps(attrs.asdict(config), sort_keys=True)


def require_no_options(options: Mapping[str, Any], owner: str) -> None:
    """For parts without options: any option given is an error naming the part."""
    if options:
        raise ConfigError(f"{owner} takes no options, got {', '.join(sorted(options))}")


def given_options(cls, options, keywords: Mapping[str, Any], owner: str):
    """A part's options: the object the host built (``options``), or one built here from keyword
    arguments when the part is constructed directly in Python; not both."""
    if options is None:
        return make_options(cls, keywords, owner)
    if keywords:
        raise ConfigError(f"{owner}: pass an options object or keyword options, not both (got {', '.join(sorted(keywords))})")
    if not isinstance(options, cls):
        raise ConfigError(f"{owner}: options must be a {cls.__name__}, got {type(options).__name__}")
    return options
