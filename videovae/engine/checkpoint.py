"""Checkpoints: plain data (weights, resolved configuration, versions), never pickled code.

A checkpoint is a ``torch.save`` archive of tensors, numbers, strings, lists and
dicts, read back with ``weights_only=True``. It is written to a temporary file
beside the target and moved into place, so a crash never leaves a half-written
checkpoint and never destroys the previous one.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import Any

import attrs
import torch

from .. import __version__
from ..core.attributes import AttributeSet
from ..core.config import ModelConfig
from ..core.errors import CheckpointError, VideoVAEError
from ..core.interfaces import VideoModel
from ..io.atomic import atomic_path
from ..registry.factory import build_from_config

FORMAT = "videovae-checkpoint"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    return {"videovae": __version__, "torch": str(torch.__version__), "python": platform.python_version()}


def atomic_torch_save(payload: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` onto ``path`` atomically (:func:`videovae.io.atomic.atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)
    return Path(path)


def save_checkpoint(path: str | Path, model: VideoModel, **extra: Any) -> Path:
    """Write the model's weights, configuration and attributes, plus ``extra`` data fields."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": versions(),
        "model_config": model.config.to_dict(),
        "attributes": model.attributes.to_list(),
        "model_state": model.state_dict(),
        **extra,
    }
    return atomic_torch_save(payload, path)


def load_plain_data(path: str | Path, what: str, marker: str, missing_hint: str) -> dict[str, Any]:
    """A ``weights_only`` archive with ``{"format": marker}``; one-line :class:`CheckpointError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path} ({missing_hint})")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable videovae {what} ({reason[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != marker:
        raise CheckpointError(f"{path} is not a videovae {what} (no '{marker}' format marker)")
    return payload


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's data; a one-line :class:`CheckpointError` if it is missing or not one of ours."""
    payload = load_plain_data(path, "checkpoint", FORMAT, "expected a file written by `videovae train`")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')}, this videovae reads version {FORMAT_VERSION}"
        )
    return payload


def model_from_checkpoint(payload: dict[str, Any]) -> VideoModel:
    """Rebuild the model from its stored configuration (by registry names) and load its weights."""
    try:
        config = ModelConfig.from_dict(payload["model_config"])
        attributes = AttributeSet.from_list(payload["attributes"])
    except KeyError as exc:
        raise CheckpointError(f"checkpoint lacks the field {exc.args[0]!r}") from None
    model = build_from_config(config, attributes)
    try:
        model.load_state_dict(payload["model_state"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint weights do not fit the model they describe: {first[:200]}") from None
    return model


@attrs.frozen(eq=False)
class LoadedCheckpoint:
    model: VideoModel
    payload: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.payload.get("step", 0))

    @property
    def label_table(self) -> torch.Tensor | None:
        return self.payload.get("label_table")


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint and rebuild its model in eval mode."""
    payload = read_checkpoint(path)
    try:
        model = model_from_checkpoint(payload)
    except CheckpointError:
        raise
    except VideoVAEError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    model.eval()
    return LoadedCheckpoint(model, payload)
