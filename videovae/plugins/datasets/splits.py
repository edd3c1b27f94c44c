"""The splits of a file-based data set and the one-line checks of its input: the data root,
split names, and bad clips (raised, or skipped and summarised)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ...core.errors import DataError, one_line
from ...core.interfaces import VideoDataset

SPLITS = ("train", "test")
TEST_CLIP_MODES = ("windows", "first")


def require_dir(root, owner: str, expected: str) -> Path:
    """``root`` as a Path, or a one-line error if it is missing or not a folder."""
    if root is None or str(root) == "":
        raise DataError(f"{owner}: needs a data root folder ({expected})")
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{owner}: data root {path} does not exist; expected {expected}")
    if not path.is_dir():
        raise DataError(f"{owner}: data root {path} is not a folder; expected {expected}")
    return path


def check_split(name: str, owner: str) -> None:
    if name not in SPLITS:
        raise DataError(f"{owner} has splits {', '.join(SPLITS)}, got {name!r}")


class StoredSplits(VideoDataset):
    """A loader that keeps its splits as clip tables in ``self._splits`` (each with a ``labels``
    tensor ``[N, A]``); ``owner`` names it in the error for an unknown split."""

    owner = "data set"
    _splits: dict

    def split(self, name: str):
        check_split(name, self.owner)
        return self._splits[name]

    def label_rows(self, name: str) -> torch.Tensor:
        return self.split(name).labels.clone()


def report_bad(skipped: list, skip_bad: bool, name: str, reason: str) -> None:
    """Raise ``reason`` as a DataError, or (with ``skip_bad``) record ``(name, reason)`` in ``skipped``."""
    reason = one_line(reason)
    if not skip_bad:
        raise DataError(reason)
    skipped.append((name, reason))


def skipped_note(skipped: Sequence[tuple[str, str]], limit: int = 3) -> str:
    """A short summary of skipped clips for ``describe()`` ('' when none)."""
    if not skipped:
        return ""
    shown = "; ".join(f"{name}: {reason}" for name, reason in skipped[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"; skipped {len(skipped)} clip(s) ({shown}{more})"
