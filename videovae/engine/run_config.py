"""A run's settings as a TOML file: ``videovae train --config FILE`` (and :meth:`TrainConfig.from_toml`) reads
one, and every run writes its own ``config.toml`` into the run folder when it starts.

The file holds :class:`~videovae.engine.train_config.TrainConfig`'s fields under their own names, ``model``
and ``dataset_options`` as tables; a field left out has its default. ``config.toml`` holds every field, and
for reading also what they resolve to, ``[resolved.model]`` (the ModelConfig after the preset, ``size`` and
``model``) and ``[resolved.dataset_options]`` (every option of the data set, defaults filled in), and
``[versions]`` (videovae, torch, python). Read back, ``[resolved]`` must agree with what the fields resolve to
now (a preset whose meaning changed since, or a file edited in one place only, is refused in one line);
``[versions]`` is not checked. TOML has no null: a field or option that is None is left out, which the
file's header says.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import attrs
# tomli-w rather than a hand writer: the values nest (options tables inside model and dataset_options, lists of
# names) and strings need TOML's escaping, both of which it gets right
import tomli_w

from ..core.config import ModelConfig
from ..core.errors import ConfigError, VideoVAEError, unknown_name_message
from ..core.validators import short_repr
from ..io.atomic import atomic_write_text
from ..registry import get_registry
from ..registry.factory import resolve_config
from .data import fit_dataset_size, resolved_dataset_options
from .train_config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # the backport of tomllib, a dependency on Python 3.10 only
    import tomli as tomllib

RUN_CONFIG_NAME = "config.toml"
#: the sections of a run config that are not TrainConfig fields: what the fields resolve to, and the versions
INFORMATIVE = ("resolved", "versions")


def model_config_of(cfg: TrainConfig) -> ModelConfig:
    """The ModelConfig a new run of ``cfg`` builds: its preset, then its named ``size``, then its overrides."""
    return resolve_config(cfg.preset, **cfg.model_overrides())


def resolved_sections(cfg: TrainConfig, model_config: ModelConfig | None = None) -> dict[str, dict]:
    """``[resolved]`` of ``cfg``: the ModelConfig (default: what ``cfg`` resolves to) and every option of the
    data set, defaults filled in and its ``size`` as a run fills it in."""
    model_config = model_config if model_config is not None else model_config_of(cfg)
    options, _ = fit_dataset_size(cfg.dataset, cfg.dataset_options, model_config.frame_size)
    return {"model": model_config.to_dict(), "dataset_options": resolved_dataset_options(cfg.dataset, options)}


def started_config(cfg: TrainConfig, adjustments: Sequence[Mapping[str, Any]]) -> TrainConfig:
    """A resumed run's ``cfg`` with each ADJUSTABLE field as the run started: the ``from`` of its first adjustment."""
    first: dict[str, Any] = {}
    for row in adjustments:
        first.setdefault(row["field"], row["from"])
    return attrs.evolve(cfg, **{name: value for name, value in first.items() if name in TrainConfig.ADJUSTABLE})


def _holds_none(items) -> bool:
    return any(item is None or isinstance(item, (list, tuple)) and _holds_none(item) for item in items)


def toml_ready(value: Any, name: str = "", left_out: list[str] | None = None) -> Any:
    """``value`` as TOML holds it: tuples as lists, paths and other objects as text, and what is None (TOML has no
    null) left out, its dotted name appended to ``left_out``."""
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            dotted = f"{name}.{key}" if name else str(key)
            if item is None or isinstance(item, (list, tuple)) and _holds_none(item):
                if left_out is not None:
                    left_out.append(dotted)
                continue
            kept[str(key)] = toml_ready(item, dotted, left_out)
        return kept
    if isinstance(value, (list, tuple)):
        return [toml_ready(item, name, left_out) for item in value]
    if isinstance(value, (str, int, float, datetime.date, datetime.time)):  # bool is an int
        return value
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)  # e.g. a data set option's Path default


def run_config_text(cfg: TrainConfig, resolved: Mapping[str, Any], versions: Mapping[str, str],
                    when: str = "written when the run started") -> str:
    """The text of a run's ``config.toml``: a header of comments, ``cfg``'s fields, ``[resolved]``, ``[versions]``."""
    left_out: list[str] = []
    fields = toml_ready({field.name: getattr(cfg, field.name) for field in attrs.fields(TrainConfig)}, "", left_out)
    header = [f"# The settings of a videovae training run, {when}.",
              "# `videovae train --config config.toml --out NEW` trains the same run again (flags given with it",
              "# override these); `videovae.TrainConfig.from_toml(path)` reads them in Python. Every TrainConfig",
              "# field is here, defaults included. [resolved] (the model config and the data set's options these",
              "# settings resolve to) and [versions] are for reading: --config checks [resolved] against the",
              "# settings and ignores [versions]."]
    if left_out:
        header.append(f"# Left out, being None (TOML has no null): {', '.join(left_out)}.")
    document = {**fields, "resolved": toml_ready(resolved), "versions": dict(versions)}
    return "\n".join(header) + "\n\n" + tomli_w.dumps(document)


def write_run_config(out_dir: str | Path, cfg: TrainConfig, model_config: ModelConfig,
                     when: str = "written when the run started") -> Path:
    """Write ``<out_dir>/config.toml`` (atomically): ``cfg``, what it resolves to with ``model_config``, the versions."""
    from .checkpoint import versions

    text = run_config_text(cfg, resolved_sections(cfg, model_config), versions(), when)
    return atomic_write_text(Path(out_dir) / RUN_CONFIG_NAME, text)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The table of a TOML file; a one-line :class:`ConfigError` naming the file when it cannot be read or parsed."""
    path = Path(path)
    expected = "expected a TOML file of training settings (TrainConfig's fields)"
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; {expected}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; {expected}") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror}); {expected}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; {expected}") from None
    except RecursionError:
        raise ConfigError(f"{path} nests its values too deeply; {expected}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; expected KEY = VALUE lines and [tables]") from None


def _refuse_dates(path: Path, data: Mapping[str, Any]) -> None:
    """No setting takes a TOML date or time (nor could a checkpoint store one): a one-line error naming the key."""
    stack: list[tuple[str, Any]] = list(data.items())
    while stack:
        name, value = stack.pop()
        if isinstance(value, (datetime.date, datetime.time)):
            raise ConfigError(f"{path}: {name} = {value} is a TOML date or time; expected a number, a string, "
                              "a boolean, a list or a table")
        if isinstance(value, dict):
            stack.extend((f"{name}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{name}[{i}]", item) for i, item in enumerate(value))


def _in_file(path: Path, where: str, make: Callable[[], Any]) -> Any:
    """``make()``, its one-line errors as a :class:`ConfigError` prefixed with the file and ``where`` in it."""
    try:
        return make()
    except VideoVAEError as exc:
        raise ConfigError(f"{path}: {where}{exc}") from None


def _check_resolved(path: Path, given: Any, resolved: Mapping[str, dict]) -> None:
    """Each key of the file's ``[resolved]`` must have the value the settings resolve to (keys left out pass)."""
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: resolved must be a table; expected [resolved.model] and [resolved.dataset_options]")
    for section, table in given.items():
        if section not in resolved or not isinstance(table, dict):
            raise ConfigError(f"{path}: resolved.{section} is not a section of [resolved]; expected the tables "
                              "[resolved.model] and [resolved.dataset_options]")
        expected = toml_ready(resolved[section])
        for key, value in table.items():
            if key not in expected or expected[key] != value:
                have = short_repr(expected[key]) if key in expected else "nothing (no such setting, or None)"
                raise ConfigError(f"{path}: [resolved.{section}] {key} = {short_repr(value)} contradicts the settings, "
                                  f"which resolve to {have}; [resolved] only records what the settings give: change "
                                  "the settings, or remove [resolved]")


def read_run_config(path: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` of a TOML file (a ``config.toml`` of a run, or one written by hand), checked on
    its own: an unknown key, a value of the wrong type, a model or data set option the settings do not take,
    or ``[resolved]`` that contradicts them is a one-line :class:`ConfigError` naming the file and the key."""
    path = Path(path)
    data = read_toml(path)
    _refuse_dates(path, data)
    known = [field.name for field in attrs.fields(TrainConfig)]
    for key in data:
        if key not in known and key not in INFORMATIVE:
            raise ConfigError(f"{path}: " + unknown_name_message("key", key, [*known, *INFORMATIVE]))
    if not isinstance(data.get("versions", {}), dict):
        raise ConfigError(f"{path}: versions must be a table of names and version strings ([versions])")
    config = _in_file(path, "", lambda: TrainConfig.from_dict({k: v for k, v in data.items() if k not in INFORMATIVE}))
    _in_file(path, "", lambda: (resolve_config(config.preset), get_registry().get("dataset", config.dataset)))
    model_config = _in_file(path, "[model] ", lambda: model_config_of(config))
    resolved = _in_file(path, "[dataset_options] ", lambda: resolved_sections(config, model_config))
    _check_resolved(path, data.get("resolved", {}), resolved)
    return config


__all__ = ["RUN_CONFIG_NAME", "model_config_of", "read_run_config", "read_toml", "resolved_sections",
           "run_config_text", "started_config", "write_run_config"]
