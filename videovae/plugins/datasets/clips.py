"""Clip stores: :class:`ClipStore` (all frames of a data set in one ``uint8`` array, in memory or
memory-mapped from the cache), :class:`FrameClips` (the torch Dataset over it: items are index rows into
the store plus one label row per item, converted to float per item) and :class:`ItemBuilder` (one split's items)."""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
import torch


class ClipStore:
    """All frames of a data set as one ``uint8 [F, H, W, 3]`` array, clip by clip.

    ``frames`` is a tensor in memory, or (a store written to or opened from the frame cache,
    :mod:`~videovae.plugins.datasets.frame_cache`) a memory-mapped array; either way
    ``frames[index]`` gives a ``torch.uint8`` tensor of those frames. With ``write``, each added
    clip is handed to it (e.g. appended to a file) instead of being kept in memory.
    """

    def __init__(self, write: Callable[[np.ndarray], None] | None = None):
        self.names: list[str] = []
        self.offsets: list[int] = []
        self.lengths: list[int] = []
        self._parts: list[np.ndarray] = []
        self._write = write
        self._total = 0
        self.frames = None

    @classmethod
    def opened(cls, names: Sequence[str], lengths: Sequence[int], frames) -> "ClipStore":
        """A finished store of the clips ``names`` (``lengths`` frames each, in order) over ``frames``."""
        store = cls()
        for name, length in zip(names, lengths):
            store.names.append(name)
            store.offsets.append(store._total)
            store.lengths.append(int(length))
            store._total += int(length)
        store.frames = frames
        return store

    def add(self, name: str, frames: np.ndarray) -> int:
        """Append a clip's frames; returns its clip id."""
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        if self._write is not None:
            self._write(frames)
        else:
            self._parts.append(frames)
        self.names.append(name)
        self.offsets.append(self._total)
        self.lengths.append(len(frames))
        self._total += len(frames)
        return len(self.names) - 1

    def finish(self, frame_shape_hw: tuple[int, int], frames=None) -> "ClipStore":
        """Gather the added clips into ``frames`` (or take ``frames``, the written clips read back)."""
        if frames is not None:
            self.frames = frames
        elif self._parts:
            self.frames = torch.from_numpy(np.concatenate(self._parts))
        else:
            self.frames = torch.zeros((0, *frame_shape_hw, 3), dtype=torch.uint8)
        self._parts = []
        self._write = None
        return self

    @property
    def num_frames(self) -> int:
        return self._total


class FrameClips(torch.utils.data.Dataset):
    """Items ``(frames [T, 3, H, W] float in [0, 1], labels [T, A])`` gathered from a :class:`ClipStore`.

    ``index [N, T]`` holds each item's frame numbers in the store (so sequences may run
    backwards, e.g. a chair turning clockwise), ``clip_ids [N]`` the clip it came from
    and ``labels [N, A]`` its label row (held for all T frames; NaN = missing).
    """

    def __init__(self, store: ClipStore, index: np.ndarray, clip_ids: np.ndarray, labels: np.ndarray):
        self.store = store
        self.index = torch.as_tensor(np.asarray(index, dtype=np.int64))  # [N, T]
        self.clip_ids = torch.as_tensor(np.asarray(clip_ids, dtype=np.int64))  # [N]
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.float32))  # [N, A]
        if self.index.ndim != 2 or self.labels.ndim != 2 or not len(self.index) == len(self.clip_ids) == len(self.labels):
            raise ValueError(f"FrameClips needs index [N, T], clip_ids [N], labels [N, A]; got {tuple(self.index.shape)}, {tuple(self.clip_ids.shape)}, {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return len(self.clip_ids)

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"item {i} is out of range for {len(self)} items")
        frames = self.store.frames[self.index[i]].permute(0, 3, 1, 2).float().div_(255.0)
        labels = self.labels[i].expand(self.index.shape[1], -1).clone()
        return frames, labels

    def clip_name(self, i: int) -> str:
        return self.store.names[int(self.clip_ids[i])]

    def frame_positions(self, i: int) -> torch.Tensor:
        """The item's frame numbers within its own clip."""
        return self.index[i] - self.store.offsets[int(self.clip_ids[i])]


class ItemBuilder:
    """Collects items (frame index rows, clip ids, label rows) of one split."""

    def __init__(self, num_attributes: int, length: int):
        self.index: list[np.ndarray] = []
        self.clip_ids: list[int] = []
        self.labels: list[np.ndarray] = []
        self.num_attributes = num_attributes
        self.length = length

    def add(self, clip_id: int, frame_index: np.ndarray, labels: np.ndarray) -> None:
        self.index.append(np.asarray(frame_index, dtype=np.int64))
        self.clip_ids.append(clip_id)
        self.labels.append(np.asarray(labels, dtype=np.float32))

    def windows(self, store: ClipStore, clip_id: int, first: int, starts: Iterable[int], labels: np.ndarray) -> None:
        """Add windows of ``length`` frames starting at ``first + s`` (frames of the clip) for each ``s``."""
        base = store.offsets[clip_id] + first
        for s in starts:
            self.add(clip_id, base + int(s) + np.arange(self.length), labels)

    def build(self, store: ClipStore) -> FrameClips:
        n = len(self.clip_ids)
        index = np.stack(self.index) if n else np.zeros((0, self.length), dtype=np.int64)
        labels = np.stack(self.labels) if n else np.zeros((0, self.num_attributes), dtype=np.float32)
        return FrameClips(store, index, np.asarray(self.clip_ids, dtype=np.int64), labels)
