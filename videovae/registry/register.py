"""The ``register`` callbacks handed to each hook, checked when called.

A refused call is recorded as a one-line failure naming the plugin (and the module that made the
call, when it is not the plugin itself) and does not stop the plugin's other registrations.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable

import attrs

from ..core.config import ModelConfig
from ..core.errors import ConfigError
from .kinds import KINDS, Kind
from .tables import Entry, Registry


def _part_call(name, factory, *, options, description=""): ...  # the signature of hookspecs.Register


def _preset_call(name, config, *, description=""): ...  # the signature of hookspecs.RegisterPreset


def _usage(call: Callable) -> str:
    return f"register{inspect.signature(call)}"


def _bind(call: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        return inspect.signature(call).bind(*args, **kwargs).arguments
    except TypeError as exc:
        raise ConfigError(f"register(...) {exc}; call {_usage(call)}") from None


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name or name != name.strip() or any(c.isspace() for c in name):
        raise ConfigError(f"the name must be a non-empty string without spaces, got {name!r}")


def _check_description(what: str, description: Any) -> None:
    if not isinstance(description, str):
        raise ConfigError(f"{what}: description must be a string, got {type(description).__name__}")


def _builds(factory: Callable) -> type | None:
    """The class a factory declares it builds: the class itself, or its return annotation."""
    if isinstance(factory, type):
        return factory
    try:
        built = typing.get_type_hints(factory).get("return")
    except Exception:  # unresolvable annotations: nothing to check
        return None
    return built if isinstance(built, type) else None


def _check_factory(kind: Kind, what: str, factory: Any, options: Any) -> None:
    if not callable(factory):
        raise ConfigError(f"{what}: the factory must be callable, got {type(factory).__name__}")
    if options is not None and not (isinstance(options, type) and attrs.has(options)):
        raise ConfigError(f"{what}: options must be an attrs class (or None for a part without options), got {options!r}")
    call = kind.call_signature(options is not None)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        signature = None
    if signature is not None:
        try:
            signature.bind(*kind.inputs, *(("options",) if options is not None else ()))
        except TypeError as exc:
            hint = "" if options is not None else " (registered with options=None, so it gets no options)"
            raise ConfigError(
                f"{what}: factory {getattr(factory, '__qualname__', factory)!r} cannot be called as {call}{hint}: {exc}"
            ) from None
    built = _builds(factory)
    if kind.builds is not None and built is not None and not issubclass(built, kind.builds):
        other = [k.hook for k in KINDS if k.builds is not None and issubclass(built, k.builds)]
        where = f"; register it in {other[0]}" if other else ""
        raise ConfigError(f"{what}: factory builds a {built.__name__}, not a {kind.builds.__name__}{where}")


def _origin(plugin: str, module: str | None) -> str:
    return f"plugin {plugin}" if module in (None, plugin) else f"plugin {plugin} ({module})"


def part_register(registry: Registry, kind: Kind, plugin: str, package: str, module: str | None = None) -> Callable:
    """The ``register`` callback of hook ``kind.hook`` for one plugin."""

    def register(*args: Any, **kwargs: Any) -> None:
        try:
            given = _bind(_part_call, args, kwargs)
            name, factory, options = given["name"], given["factory"], given["options"]
            description = given.get("description", "")
            _check_name(name)
            what = f"{kind.name} {name!r}"
            _check_description(what, description)
            _check_factory(kind, what, factory, options)
            registry.add(Entry(kind.name, name, factory, plugin, package, description, options))
        except ConfigError as exc:
            registry.record_failure(plugin, f"{kind.hook} of {_origin(plugin, module)}: {exc}")

    return register


def preset_register(registry: Registry, plugin: str, package: str, module: str | None = None) -> Callable:
    """The ``register`` callback of ``register_presets`` for one plugin."""

    def register(*args: Any, **kwargs: Any) -> None:
        try:
            given = _bind(_preset_call, args, kwargs)
            name, config, description = given["name"], given["config"], given.get("description", "")
            _check_name(name)
            _check_description(f"preset {name!r}", description)
            if not isinstance(config, ModelConfig):
                raise ConfigError(f"preset {name!r}: config must be a ModelConfig, got {type(config).__name__}")
            registry.add(Entry("preset", name, config, plugin, package, description))
        except ConfigError as exc:
            registry.record_failure(plugin, f"register_presets of {_origin(plugin, module)}: {exc}")

    return register
