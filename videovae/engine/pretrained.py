"""Pretrained models that ship with the package: exported folders under ``videovae/pretrained/<name>/``.

Each is what ``videovae export`` writes (``model.safetensors`` + ``config.json``) plus a small ``card.json``,
``{"description": "...", "command": "<the command that made it>", "checks": {...}}`` (what was measured on it).
A model's name is its folder's name. ``VIDEOVAE_PRETRAINED_DIR`` (or the ``root`` argument) points the registry at
another folder of such folders, e.g. to try a model before it ships.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs

from ..core.errors import CheckpointError, ConfigError, UnknownNameError, one_line, unknown_name_message
from ..core.validators import short_repr
from .checkpoint import LoadedCheckpoint, load_checkpoint
from .export import CONFIG_FILE, WEIGHTS_FILE

PRETRAINED_ENV = "VIDEOVAE_PRETRAINED_DIR"
CARD_FILE = "card.json"
PACKAGE_FOLDER = Path(__file__).resolve().parents[1] / "pretrained"


@attrs.frozen
class PretrainedModel:
    """One shipped model: its name (the folder's), folder, card and the size of its weights file in bytes."""

    name: str
    folder: Path
    description: str = ""
    command: str | None = None
    checks: Any = None
    size: int = 0

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "size": self.size, "file": str(self.weights),
                "command": self.command, "checks": self.checks}


def pretrained_root(root: str | Path | None = None) -> Path:
    """Where shipped models are looked for: ``root``, else ``$VIDEOVAE_PRETRAINED_DIR``, else the package's
    ``videovae/pretrained/``; a one-line :class:`ConfigError` when a folder given so is not one."""
    if root is None and not os.environ.get(PRETRAINED_ENV):
        return PACKAGE_FOLDER
    given, what = (root, "root") if root is not None else (os.environ[PRETRAINED_ENV], PRETRAINED_ENV)
    if not isinstance(given, (str, os.PathLike)) or not Path(given).is_dir():
        raise ConfigError(f"{what} must be a folder of pretrained models (one exported folder each), got {short_repr(given)}")
    return Path(given)


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / CONFIG_FILE).is_file()) if root.is_dir() else []


def _card(folder: Path) -> dict[str, Any]:
    path = folder / CARD_FILE
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path} is not readable JSON ({one_line(exc)[:120]}); expected "
                              '{"description": ..., "command": ..., "checks": ...}') from None
    if not isinstance(card, dict) or not isinstance(card.get("description", ""), str) \
            or not isinstance(card.get("command", ""), (str, type(None))):
        raise CheckpointError(f"{path} should be an object with a string description and command, got {short_repr(card)}")
    return card


def list_pretrained(root: str | Path | None = None) -> list[PretrainedModel]:
    """The models that ship (under :func:`pretrained_root`), by name."""
    models = []
    for folder in _folders(pretrained_root(root)):
        card = _card(folder)
        size = (folder / WEIGHTS_FILE).stat().st_size if (folder / WEIGHTS_FILE).is_file() else 0
        models.append(PretrainedModel(folder.name, folder, card.get("description", ""), card.get("command"),
                                      card.get("checks"), size))
    return models


def pretrained_folder(name: str, root: str | Path | None = None) -> Path:
    """The folder of the shipped model ``name``; an unknown name is a one-line :class:`UnknownNameError`
    listing the known ones."""
    folder = pretrained_root(root)
    known = {p.name: p for p in _folders(folder)}
    if not isinstance(name, str) or name not in known:
        hint = "list them with `videovae pretrained`" if known else f"none ships with this videovae (looked in {folder})"
        raise UnknownNameError(unknown_name_message("pretrained model", str(name), known, hint))
    return known[name]


def load_pretrained(name: str, root: str | Path | None = None) -> LoadedCheckpoint:
    """The shipped model ``name`` loaded as :func:`videovae.load` loads a checkpoint (eval mode)."""
    return load_checkpoint(pretrained_folder(name, root))
