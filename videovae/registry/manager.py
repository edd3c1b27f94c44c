"""The plugin manager: built-in plugins, third-party entry points, and the registry built from them.

Entry points are discovered with the ``entrypoints`` package in the ``videovae``
group and loaded once, lazily, on first use. ``VIDEOVAE_PLUGINS`` limits which
third-party plugins load: a comma-separated list of entry-point names, or empty
for none (handy in tests). A plugin that fails to import, or whose hook raises,
is recorded with its error and does not stop the others.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import warnings

import entrypoints
import pluggy

from . import hookspecs
from .tables import Registry, make_register

ENTRY_POINT_GROUP = "videovae"
PLUGINS_ENV = "VIDEOVAE_PLUGINS"

#: Built-in plugin modules, registered through the same hooks as third-party ones.
BUILTIN_PLUGINS = (
    "videovae.plugins.codecs.paper_conv",
    "videovae.plugins.latents.hierarchical",
    "videovae.plugins.latents.flat",
    "videovae.plugins.priors.lstm",
    "videovae.plugins.priors.standard_normal",
    "videovae.plugins.samplers.conditional",
    "videovae.plugins.datasets.synthetic_chairs",
    "videovae.plugins.datasets.moving_sprites",
    "videovae.plugins.datasets.bouncing_balls",
    "videovae.plugins.datasets.weizmann",
    "videovae.plugins.datasets.chair_cad",
    "videovae.plugins.datasets.flickr",
    "videovae.plugins.datasets.folder",
    "videovae.plugins.metrics.entropy",
    "videovae.plugins.metrics.prediction",
    "videovae.plugins.presets",
    "videovae.plugins.baselines.deep_rotator",
)

_lock = threading.Lock()
_registry: Registry | None = None


def _version() -> str:
    from .. import __version__

    return __version__


def _canonical(name: str) -> str:
    """The distribution name as users type it (PEP 503: dist-info folders use underscores)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted_entry_points() -> set[str] | None:
    value = os.environ.get(PLUGINS_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def build_plugin_manager(registry: Registry) -> pluggy.PluginManager:
    """Register built-in plugins and every wanted entry point; record failures in ``registry``."""
    pm = pluggy.PluginManager("videovae")
    pm.add_hookspecs(hookspecs)
    builtin_package = f"videovae {_version()}"
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        registry.plugins[module_name] = builtin_package
    wanted = _wanted_entry_points()
    for ep in entrypoints.get_group_all(ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        distro = getattr(ep, "distro", None)
        package = f"{_canonical(distro.name)} {distro.version}" if distro is not None else ep.module_name
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not stop the others
            registry.record_failure(ep.name, f"failed to load: {type(exc).__name__}: {exc}")
            continue
        registry.plugins[ep.name] = package
    return pm


def _call_each(pm: pluggy.PluginManager, registry: Registry, hook_name: str, kind: str | None) -> None:
    """Call one hook per plugin so that each registration is attributed to its plugin."""
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin = impl.plugin_name
        register = make_register(registry, kind, plugin, registry.plugins.get(plugin, plugin))
        try:
            impl.function(**({"register": register} if "register" in impl.argnames else {}))
        except Exception as exc:
            registry.record_failure(plugin, f"{hook_name} raised {type(exc).__name__}: {exc}")


def build_registry() -> Registry:
    """A fresh registry from every plugin (not cached; see :func:`get_registry`)."""
    registry = Registry(hookspecs.COMPONENT_KINDS + ("preset",))
    pm = build_plugin_manager(registry)
    _call_each(pm, registry, "register_components", None)
    _call_each(pm, registry, "register_presets", "preset")
    for failure in registry.failures:
        warnings.warn(f"videovae plugin {failure.plugin!r}: {failure.error}", stacklevel=3)
    return registry


def get_registry() -> Registry:
    """The process-wide registry, built once on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = build_registry()
        return _registry


def reset_registry() -> None:
    """Forget the cached registry (after installing a plugin, or in tests)."""
    global _registry
    with _lock:
        _registry = None
