"""Hook specifications, the plugin manager and the name tables."""

from .hookspecs import hookimpl, hookspec
from .kinds import COMPONENT_KINDS, KINDS, Kind
from .manager import ENTRY_POINT_GROUP, PLUGINS_ENV, build_registry, get_registry, reset_registry
from .tables import Entry, PluginFailure, Registry

__all__ = [
    "COMPONENT_KINDS", "KINDS", "Kind", "hookimpl", "hookspec", "ENTRY_POINT_GROUP", "PLUGINS_ENV",
    "build_registry", "get_registry", "reset_registry", "Entry", "PluginFailure", "Registry",
]
