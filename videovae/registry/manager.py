"""The plugin manager: built-in plugins, third-party entry points, and the registry built from them.

Entry points are discovered with the ``entrypoints`` package in the ``videovae``
group and loaded once, lazily, on first use. ``VIDEOVAE_PLUGINS`` limits which
third-party plugins load: a comma-separated list of entry-point names, or empty
for none (handy in tests). Built-in plugins are registered through the same path. A plugin that
fails to import, implements a hook videovae does not define, or whose hook raises, is recorded
with a one-line error and does not stop the others; so is each refused ``register(...)`` call.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import re
import threading
import warnings

import entrypoints
import pluggy

from . import hookspecs
from .kinds import COMPONENT_KINDS, KINDS, PRESET_HOOK
from .register import part_register, preset_register
from .tables import Registry

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
    "videovae.plugins.likelihoods.l1",
    "videovae.plugins.likelihoods.gaussian",
    "videovae.plugins.datasets.synthetic_chairs",
    "videovae.plugins.datasets.moving_sprites",
    "videovae.plugins.datasets.bouncing_balls",
    "videovae.plugins.datasets.weizmann",
    "videovae.plugins.datasets.chair_cad",
    "videovae.plugins.datasets.flickr",
    "videovae.plugins.datasets.folder",
    "videovae.plugins.metrics.entropy",
    "videovae.plugins.metrics.prediction",
    "videovae.plugins.metrics.fvd",
    "videovae.plugins.presets",
    "videovae.plugins.models.composed",
    "videovae.plugins.baselines.deep_rotator",
    "videovae.plugins.baselines.mocogan",
    "videovae.plugins.baselines.vgan",
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


def _add_plugin(pm: pluggy.PluginManager, registry: Registry, name: str, load, package: str) -> None:
    """Load one plugin and register it; any failure is recorded under its name and the others go on."""
    try:
        plugin = load()
    except Exception as exc:  # a broken plugin must not stop the others
        registry.record_failure(name, f"plugin {name} failed to load: {type(exc).__name__}: {exc}")
        return
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # e.g. a hook taking an argument its spec does not pass
        registry.record_failure(name, f"plugin {name} was refused: {type(exc).__name__}: {exc}")
        return
    hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
    unknown = [hook for hook in hooks if not getattr(pm.hook, hook).has_spec()]
    if unknown:
        pm.unregister(plugin)
        known = [kind.hook for kind in KINDS] + [PRESET_HOOK]
        close = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        if "register_components" in unknown:  # the single hook of videovae <= 0.1
            hint = "register_components(register) was replaced by one hook per kind, each register(...) taking options=; "
        registry.record_failure(
            name, f"plugin {name} implements {', '.join(unknown)}, which videovae does not define; {hint}"
            f"its hooks, one per kind: {', '.join(known)} (nothing of this plugin was registered)"
        )
        return
    registry.plugins[name] = package
    registry.hooks[name] = hooks


def build_plugin_manager(registry: Registry) -> pluggy.PluginManager:
    """Register built-in plugins and every wanted entry point through the same path; record failures in ``registry``."""
    pm = pluggy.PluginManager("videovae")
    pm.add_hookspecs(hookspecs)
    builtin_package = f"videovae {_version()}"
    for module_name in BUILTIN_PLUGINS:
        _add_plugin(pm, registry, module_name, functools.partial(importlib.import_module, module_name), builtin_package)
    wanted = _wanted_entry_points()
    for ep in entrypoints.get_group_all(ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        distro = getattr(ep, "distro", None)
        package = f"{_canonical(distro.name)} {distro.version}" if distro is not None else ep.module_name
        _add_plugin(pm, registry, ep.name, ep.load, package)
    return pm


def _call_each(pm: pluggy.PluginManager, registry: Registry, hook_name: str, make_register) -> None:
    """Call one hook per plugin so that each registration is attributed to its plugin."""
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin = impl.plugin_name
        register = make_register(plugin, registry.plugins.get(plugin, plugin), getattr(impl.function, "__module__", None))
        try:
            impl.function(**({"register": register} if "register" in impl.argnames else {}))
        except Exception as exc:
            registry.record_failure(plugin, f"{hook_name} of plugin {plugin} raised {type(exc).__name__}: {exc}")


def build_registry() -> Registry:
    """A fresh registry from every plugin (not cached; see :func:`get_registry`)."""
    registry = Registry(COMPONENT_KINDS + ("preset",))
    pm = build_plugin_manager(registry)
    for kind in KINDS:
        _call_each(pm, registry, kind.hook, functools.partial(part_register, registry, kind))
    _call_each(pm, registry, PRESET_HOOK, functools.partial(preset_register, registry))
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
