"""attrs validators and converters shared by every config class; each raises a one-line
:class:`ConfigError` naming the field, what it expects and what it got."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Mapping

from .errors import ConfigError


def positive_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be a positive integer, got {short_repr(value)}")


def non_negative_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{attribute.name} must be a non-negative integer, got {short_repr(value)}")


def optional_positive_int(instance, attribute, value):
    if value is not None:
        positive_int(instance, attribute, value)


def integer(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{attribute.name} must be an integer, got {short_repr(value)}")


def boolean(instance, attribute, value):
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {short_repr(value)}")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def non_negative_float(instance, attribute, value):
    if not _number(value) or not value >= 0 or value == float("inf"):
        raise ConfigError(f"{attribute.name} must be a finite number >= 0, got {short_repr(value)}")


def positive_float(instance, attribute, value):
    if not _number(value) or not value > 0 or value == float("inf"):
        raise ConfigError(f"{attribute.name} must be a finite number > 0, got {short_repr(value)}")


def unit_fraction(instance, attribute, value):
    """A number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise ConfigError(f"{attribute.name} must be a number in (0, 1], got {short_repr(value)}")


def fraction(instance, attribute, value):
    """A number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{attribute.name} must be a number in [0, 1), got {short_repr(value)}")


def mapping(instance, attribute, value):
    """A mapping with string keys, nested at most :data:`MAX_DEPTH` levels (it is stored in checkpoints)."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ConfigError(f"{attribute.name} must be a mapping of names (strings) to values, got {short_repr(value)}")
    shallow(instance, attribute, value)


def string(instance, attribute, value):
    if not isinstance(value, str):
        raise ConfigError(f"{attribute.name} must be a string, got {short_repr(value)}")


def optional_path(instance, attribute, value):
    """``None`` or a non-empty path string (a :class:`~pathlib.Path` is converted by :func:`path_text`)."""
    if value is not None and (not isinstance(value, str) or not value or "\x00" in value):
        raise ConfigError(f"{attribute.name} must be a folder path (a non-empty string), got {short_repr(value)}")


def path_text(value):
    """Converter: an ``os.PathLike`` as its string; anything else unchanged (for the validator to judge)."""
    import os

    return os.fspath(value) if isinstance(value, os.PathLike) else value


#: how deeply option values may nest (lists and mappings in lists and mappings): far more than any part
#: needs, far less than what makes Python's recursion fail when the value is copied, compared or stored
MAX_DEPTH = 32


def nesting_depth(value) -> int:
    """How many levels of lists, tuples and mappings ``value`` holds (0 for a scalar), counted without
    recursion, stopping once past :data:`MAX_DEPTH`."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def shallow(instance, attribute, value):
    """Nested at most :data:`MAX_DEPTH` levels."""
    if nesting_depth(value) > MAX_DEPTH:
        raise ConfigError(f"{attribute.name} is nested more than {MAX_DEPTH} levels deep; expected plain options")


def short_repr(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a message stays one short line)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def choice(*choices: str):
    def check(instance, attribute, value):
        if not isinstance(value, str) or value not in choices:
            raise ConfigError(f"{attribute.name} must be one of {', '.join(choices)}, got {short_repr(value)}")

    return check


def to_float(value):
    """Converter: a number or a numeric string as float; anything else is left as it is, for the field's
    validator (:func:`positive_float`, :func:`non_negative_float`, :func:`unit_fraction`) to refuse in a
    line that names the field."""
    if isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return value


def check(validator: Callable, name: str, value: Any) -> Any:
    """Apply one of these validators to a plain argument (not an attrs field): the message names
    ``name``, e.g. ``check(positive_int, "attribute inference steps", steps)``; returns ``value``."""
    validator(None, SimpleNamespace(name=name), value)
    return value
