"""Name tables: every registered part, by kind and name, with the plugin that added it."""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

import attrs

from ..core.errors import ConfigError, UnknownNameError, unknown_name_message


@attrs.frozen
class Entry:
    kind: str
    name: str
    factory: Any
    plugin: str
    package: str
    description: str = ""


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or whose registration was refused."""

    plugin: str
    error: str


class Registry:
    """Tables of :class:`Entry` by kind; unknown names and duplicates give one-line errors."""

    def __init__(self, kinds: tuple[str, ...]):
        self.kinds = kinds
        self.tables: dict[str, dict[str, Entry]] = {kind: {} for kind in kinds}
        self.failures: list[PluginFailure] = []
        self.plugins: dict[str, str] = {}  # plugin name -> package (with version)

    def add(self, entry: Entry) -> None:
        if entry.kind not in self.tables:
            raise ConfigError(
                f"plugin {entry.plugin} registered {entry.name!r} under unknown kind {entry.kind!r}; kinds: {', '.join(self.kinds)}"
            )
        if not isinstance(entry.name, str) or not entry.name:
            raise ConfigError(f"plugin {entry.plugin} registered a {entry.kind} with an empty or non-string name")
        existing = self.tables[entry.kind].get(entry.name)
        if existing is not None:
            raise ConfigError(
                f"{entry.kind} {entry.name!r} from plugin {entry.plugin} is already registered by plugin {existing.plugin}; the first one is kept"
            )
        self.tables[entry.kind][entry.name] = entry

    def get(self, kind: str, name: str) -> Entry:
        if kind not in self.tables:
            raise UnknownNameError(unknown_name_message("kind", kind, self.kinds))
        table = self.tables[kind]
        if name not in table:
            raise UnknownNameError(unknown_name_message(kind, str(name), table, "list them with `videovae plugins`"))
        return table[name]

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.tables[kind] if fnmatch.fnmatch(n, pattern))

    def entries(self, kind: str) -> list[Entry]:
        return [self.tables[kind][n] for n in self.names(kind)]

    def record_failure(self, plugin: str, error: str) -> None:
        self.failures.append(PluginFailure(plugin, error))


def make_register(registry: Registry, kind: str | None, plugin: str, package: str) -> Callable:
    """A ``register`` callback for one plugin; refusals are recorded as that plugin's failures."""

    def register(*args, **kwargs) -> None:
        if kind is None:  # components: register(kind, name, factory, description="")
            entry_kind, name, factory, *rest = args
        else:  # presets: register(name, config, description="")
            entry_kind = kind
            name, factory, *rest = args
        description = kwargs.get("description", rest[0] if rest else "")
        try:
            registry.add(Entry(entry_kind, name, factory, plugin, package, description))
        except ConfigError as exc:
            registry.record_failure(plugin, str(exc))

    return register
