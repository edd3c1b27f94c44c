"""attrs validators and converters shared by every config class; each raises a one-line
:class:`ConfigError` naming the field, what it expects and what it got."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Mapping

from .errors import ConfigError


def positive_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be a positive integer, got {value!r}")


def non_negative_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{attribute.name} must be a non-negative integer, got {value!r}")


def optional_positive_int(instance, attribute, value):
    if value is not None:
        positive_int(instance, attribute, value)


def integer(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{attribute.name} must be an integer, got {value!r}")


def boolean(instance, attribute, value):
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {value!r}")


def non_negative_float(instance, attribute, value):
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def positive_float(instance, attribute, value):
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def unit_fraction(instance, attribute, value):
    """A number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise ConfigError(f"{attribute.name} must be a number in (0, 1], got {value!r}")


def fraction(instance, attribute, value):
    """A number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{attribute.name} must be a number in [0, 1), got {value!r}")


def mapping(instance, attribute, value):
    if not isinstance(value, Mapping):
        raise ConfigError(f"{attribute.name} must be a mapping, got {value!r}")


def choice(*choices: str):
    def check(instance, attribute, value):
        if value not in choices:
            raise ConfigError(f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def to_float(value):
    """Converter: a number (or numeric string) as float; anything else is a one-line error."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, got {value!r}") from None


def check(validator: Callable, name: str, value: Any) -> Any:
    """Apply one of these validators to a plain argument (not an attrs field): the message names
    ``name``, e.g. ``check(positive_int, "attribute inference steps", steps)``; returns ``value``."""
    validator(None, SimpleNamespace(name=name), value)
    return value
