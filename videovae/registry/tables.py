"""Name tables: every registered part, by kind and name, with the plugin that added it and its options class."""

from __future__ import annotations

import fnmatch
from typing import Any, Mapping

import attrs

from ..core.config import make_options, require_no_options
from ..core.errors import ConfigError, UnknownNameError, unknown_name_message
from .kinds import KIND_BY_NAME


@attrs.frozen
class Entry:
    """One registered name. ``factory`` is what the plugin registered (for presets: the
    :class:`ModelConfig`); ``options`` its attrs options class, or None when it takes none."""

    kind: str
    name: str
    factory: Any
    plugin: str
    package: str
    description: str = ""
    options: type | None = None

    def build(self, *inputs: Any, options: Mapping[str, Any] | None = None) -> Any:
        """Build the part: its options from the mapping ``options`` (one-line errors naming the part and
        the option), then ``factory(*inputs, built_options)``, or ``factory(*inputs)`` for a part without
        options; a result that is not what the kind builds is a one-line error naming the plugin."""
        owner = f"{self.kind} {self.name!r}"
        given = {} if options is None else options
        if self.options is None:
            require_no_options(given, owner)
            part = self.factory(*inputs)
        else:
            part = self.factory(*inputs, make_options(self.options, given, owner))
        kind = KIND_BY_NAME.get(self.kind)
        if kind is not None and kind.builds is not None and not isinstance(part, kind.builds):
            raise ConfigError(
                f"{owner} from plugin {self.plugin} built a {type(part).__name__}, expected a {kind.builds.__name__}"
            )
        return part

    def option_names(self) -> list[str]:
        return [] if self.options is None else [field.name for field in attrs.fields(self.options)]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for listings (``videovae plugins --json``)."""
        return {"kind": self.kind, "name": self.name, "plugin": self.plugin, "package": self.package,
                "description": self.description, "options": self.option_names()}


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or a registration that was refused."""

    plugin: str
    error: str


class Registry:
    """Tables of :class:`Entry` by kind; unknown names and duplicates give one-line errors."""

    def __init__(self, kinds: tuple[str, ...]):
        self.kinds = kinds
        self.tables: dict[str, dict[str, Entry]] = {kind: {} for kind in kinds}
        self.failures: list[PluginFailure] = []
        self.plugins: dict[str, str] = {}  # plugin name -> package (with version)
        self.hooks: dict[str, list[str]] = {}  # plugin name -> the hooks it implements

    def add(self, entry: Entry) -> None:
        if entry.kind not in self.tables:
            raise ConfigError(
                f"plugin {entry.plugin} registered {entry.name!r} under unknown kind {entry.kind!r}; kinds: {', '.join(self.kinds)}"
            )
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

    def build(self, kind: str, name: str, *inputs: Any, options: Mapping[str, Any] | None = None) -> Any:
        """Build the part ``name`` of ``kind`` from the inputs its kind takes and an options mapping
        (see :meth:`Entry.build`), e.g. ``registry.build("dataset", "weizmann", root, options={"size": 32})``."""
        return self.get(kind, name).build(*inputs, options=options)

    def names(self, kind: str, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.tables[kind] if fnmatch.fnmatch(n, pattern))

    def entries(self, kind: str, pattern: str = "*") -> list[Entry]:
        """The entries of ``kind`` whose names match the shell-style ``pattern``, by name."""
        return [self.tables[kind][n] for n in self.names(kind, pattern)]

    def record_failure(self, plugin: str, error: str) -> None:
        self.failures.append(PluginFailure(plugin, " ".join(str(error).split())))
