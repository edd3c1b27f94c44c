"""Frames of a data set in a memory-mapped file of the cache (``$VIDEOVAE_CACHE``, default
``~/.cache/videovae``), so that a data set larger than memory loads in constant memory.

:func:`write_frames` appends clip after clip (one clip in memory at a time) to a raw ``uint8``
file under a temporary name and moves it into place only when every clip was written
(:func:`videovae.io.atomic.atomic_path`), then writes a JSON note beside it (clip names, lengths,
the content key); an interrupted load leaves no file that a later load would trust.
:func:`open_frames` maps such a file read-only when its note, its size and the key in its header
all match. :class:`MappedFrames` is what :class:`~videovae.plugins.datasets.clips.ClipStore`
holds then: indexing it copies only the frames asked for; pickled (a DataLoader worker under
``spawn``), it carries its path and reopens the file, checking the key again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ...core.errors import DataError, one_line
from ...io.atomic import atomic_path, atomic_write_text
from .cache import cache_dir, digest
from .clips import ClipStore

logger = logging.getLogger(__name__)

FORMAT = "videovae-frames-1"
MAGIC = b"VVFRAMES"
HEADER = 128  # bytes before the frames: MAGIC, then the content key (ASCII), padded with spaces


def file_signature(path: Path, relative_to: Path) -> list:
    """``[name, size, mtime_ns]`` of a source file: a change of either makes a new content key."""
    info = path.stat()
    return [path.relative_to(relative_to).as_posix(), info.st_size, info.st_mtime_ns]


def _header(key: str) -> bytes:
    data = MAGIC + key.encode("ascii")
    if len(data) > HEADER:
        raise ValueError(f"frame cache key {key!r} is too long for the header")
    return data.ljust(HEADER, b" ")


def _read_header(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEADER)


class MappedFrames:
    """Frames ``uint8 [F, H, W, 3]`` in a cache file, mapped read-only when made (and again when
    unpickled, after checking that the file still holds the frames of ``key``); ``frames[index]`` (an
    int, a slice or an index tensor/array) is a new ``torch.uint8`` tensor of just those frames."""

    dtype = torch.uint8

    def __init__(self, path: str | Path, shape: tuple[int, int, int, int], key: str):
        self.path, self.shape, self.key = str(path), tuple(int(s) for s in shape), key
        if _read_header(self.path) != _header(key):
            raise DataError(f"frame cache {self.path} was replaced by frames of other clips since this data set "
                            "was loaded; load the data set again")
        if self.shape[0] == 0:
            self.array = np.zeros(self.shape, dtype=np.uint8)
        else:
            self.array = np.memmap(self.path, dtype=np.uint8, mode="r", offset=HEADER, shape=self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        return torch.from_numpy(np.array(self.array[index], dtype=np.uint8, copy=True))

    def __getstate__(self) -> dict:
        return {"path": self.path, "shape": self.shape, "key": self.key}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["shape"], state["key"])


def cache_file(kind: str, identity: Any) -> Path:
    """The cache file of a data set: one per ``kind`` and ``identity`` (its root and the options that
    change its pixels), replaced when the content key changes."""
    return cache_dir() / f"{kind}-frames-{digest(identity)[:20]}.u8"


def writable_cache(path: Path) -> bool:
    """Whether the folder of ``path`` exists (or can be made) and can be written to."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path.parent, os.W_OK)


def open_frames(path: Path, key: str, frame_hw: tuple[int, int]) -> tuple[ClipStore, dict] | None:
    """The store written by :func:`write_frames` for ``key``, and its notes; None when the file or its
    note is absent, unreadable, of another key or shape, or not of the size the note says."""
    note = path.with_suffix(".json")
    try:
        meta = json.loads(note.read_text())
        names, lengths = list(meta["names"]), [int(n) for n in meta["lengths"]]
        shape = (sum(lengths), *frame_hw, 3)
        if meta["format"] != FORMAT or meta["key"] != key or tuple(meta["frame_hw"]) != tuple(frame_hw):
            return None
        if len(names) != len(lengths) or path.stat().st_size != HEADER + int(np.prod(shape)):
            return None
        if _read_header(str(path)) != _header(key):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ClipStore.opened(names, lengths, MappedFrames(path, shape, key)), dict(meta.get("notes", {}))


def _write_error(owner: str, path: Path, exc: OSError) -> DataError:
    return DataError(f"{owner}: cannot write the frame cache {path}: {one_line(exc) or type(exc).__name__}; free "
                     "space there, set VIDEOVAE_CACHE to another folder, or pass cache=false")


class FrameWriter:
    """What :func:`write_frames` yields: ``store`` (add clips to it) and ``notes`` (kept in the JSON note)."""

    def __init__(self, store: ClipStore):
        self.store = store
        self.notes: dict[str, Any] = {}


@contextlib.contextmanager
def write_frames(path: Path | None, key: str, frame_hw: tuple[int, int], owner: str) -> Iterator[FrameWriter]:
    """Yield a :class:`FrameWriter` whose store writes each added clip to ``path`` (under a temporary
    name); when the block ends without an error the file is moved into place, its note written and
    the store's frames mapped from it. With ``path=None`` the frames stay in memory. An error in the
    block removes the temporary file; a failed write is a one-line :class:`DataError`."""
    if path is None:
        writer = FrameWriter(ClipStore())
        yield writer
        writer.store.finish(frame_hw)
        return
    in_block = False
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            handle.write(_header(key))

            def write(frames: np.ndarray) -> None:
                if frames.shape[1:] != (*frame_hw, 3):
                    raise ValueError(f"frames of shape {frames.shape[1:]} in a cache of {(*frame_hw, 3)}")
                try:
                    handle.write(memoryview(frames).cast("B"))
                except OSError as exc:
                    raise _write_error(owner, path, exc) from None

            writer = FrameWriter(ClipStore(write=write))
            in_block = True
            yield writer
            in_block = False
        meta = {"format": FORMAT, "key": key, "frame_hw": list(frame_hw), "names": writer.store.names,
                "lengths": writer.store.lengths, "notes": writer.notes}
        atomic_write_text(path.with_suffix(".json"), json.dumps(meta))
    except OSError as exc:
        if in_block:  # not a write of the cache: the caller's own error
            raise
        raise _write_error(owner, path, exc) from None
    shape = (writer.store.num_frames, *frame_hw, 3)
    writer.store.finish(frame_hw, frames=MappedFrames(path, shape, key))
    logger.debug(f"{owner}: wrote {len(writer.store.names)} clips ({writer.store.num_frames} frames) to {path}")
