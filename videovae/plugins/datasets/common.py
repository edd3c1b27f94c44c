"""Shared parts of the file-based data sets (Weizmann, Chair CAD, Flickr, user folders).

* reading images and videos into ``uint8 [T, H, W, 3]`` arrays, slicing image
  strips into frames, centre-cropping and resizing (PIL, antialiased);
* sampling mini-clips deterministically (seeded per clip name) and cutting
  non-overlapping windows;
* :class:`ClipStore` (all frames of a data set in one ``uint8`` array) and
  :class:`FrameClips` (the torch Dataset over it: items are index rows into the
  store plus one label row per item, converted to float per item);
* label CSV reading, seeded per-group splits, option validators and an atomic
  on-disk cache.

Every problem with the input is a one-line :class:`DataError` that names the file,
row or value and what was expected.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from ...core.config import positive_int
from ...core.errors import ConfigError, DataError
from ...core.interfaces import VideoDataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".gif", ".mkv", ".webm")
SPLITS = ("train", "test")
TEST_CLIP_MODES = ("windows", "first")


# --- messages and option validators ---------------------------------------------------


def one_line(text: Any) -> str:
    """``text`` with all whitespace runs (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def optional_positive_int(instance, attribute, value):
    if value is not None:
        positive_int(instance, attribute, value)


def integer(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{attribute.name} must be an integer, got {value!r}")


def boolean(instance, attribute, value):
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {value!r}")


def fraction(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{attribute.name} must be a number in [0, 1), got {value!r}")


def choice(*choices: str):
    def check(instance, attribute, value):
        if value not in choices:
            raise ConfigError(f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}")

    return check


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


# --- images and videos --------------------------------------------------------------


def _to_rgb(image, alpha: str):
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        if alpha == "white":
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(canvas, rgba).convert("RGB")
        return image.convert("RGBA").convert("RGB")  # drop alpha
    return image.convert("RGB")


def read_image(path: Path, owner: str, alpha: str = "drop") -> np.ndarray:
    """An image file as ``uint8 [H, W, 3]``; alpha is dropped (``"drop"``) or composited on white (``"white"``)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(_to_rgb(image, alpha), dtype=np.uint8)
    except Exception as exc:  # PIL raises many kinds for broken files
        raise DataError(f"{owner}: cannot read image {path}: {one_line(exc) or type(exc).__name__}; expected a readable image file") from None


def read_alpha_mask(path: Path, owner: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(rgb uint8 [H, W, 3] composited on white, alpha uint8 [H, W] or None)``."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            alpha = None
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                alpha = np.asarray(image.convert("RGBA"))[..., 3]
            return np.asarray(_to_rgb(image, "white"), dtype=np.uint8), alpha
    except Exception as exc:
        raise DataError(f"{owner}: cannot read image {path}: {one_line(exc) or type(exc).__name__}; expected a readable image file") from None


def split_strip(image: np.ndarray, axis: str, path: Path, owner: str) -> np.ndarray:
    """Square frames laid side by side (``horizontal``) or stacked (``vertical``) → ``[T, s, s, 3]``."""
    height, width = image.shape[:2]
    if axis == "horizontal":
        size, total, across = height, width, "wide"
    else:
        size, total, across = width, height, "high"
    if size == 0 or total % size:
        side = "height" if axis == "horizontal" else "width"
        raise DataError(
            f"{owner}: image strip {path} is {width}x{height} px; expected it {across} a whole multiple of its {side} "
            f"({axis} strip of square frames)"
        )
    count = total // size
    if axis == "horizontal":
        return np.ascontiguousarray(image.reshape(size, count, size, 3).transpose(1, 0, 2, 3))
    return np.ascontiguousarray(image.reshape(count, size, size, 3))


def center_crop_square(frames: np.ndarray) -> np.ndarray:
    """The centred square of frames ``[T, H, W, 3]``."""
    height, width = frames.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return frames[:, top : top + side, left : left + side]


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames ``uint8 [T, H, W, 3]`` resized to ``[T, size, size, 3]`` (PIL Lanczos, antialiased)."""
    from PIL import Image

    if frames.shape[1] == size and frames.shape[2] == size:
        return np.ascontiguousarray(frames, dtype=np.uint8)
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.LANCZOS))
    return out


def read_video(path: Path, owner: str) -> np.ndarray:
    """All frames of a video file as ``uint8 [T, H, W, 3]`` (PyAV; GIFs fall back to PIL)."""
    try:
        import av
    except ImportError:
        if path.suffix.lower() == ".gif":
            return _read_gif(path, owner)
        raise DataError(f"{owner}: reading video {path} needs PyAV: pip install av") from None
    try:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except Exception as exc:
        raise DataError(f"{owner}: cannot read video {path}: {one_line(exc) or type(exc).__name__}; expected a readable video file") from None
    if not frames:
        raise DataError(f"{owner}: video {path} has no frames")
    return np.stack(frames).astype(np.uint8, copy=False)


def _read_gif(path: Path, owner: str) -> np.ndarray:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            frames = [np.asarray(frame.convert("RGB"), dtype=np.uint8) for frame in ImageSequence.Iterator(image)]
    except Exception as exc:
        raise DataError(f"{owner}: cannot read GIF {path}: {one_line(exc) or type(exc).__name__}") from None
    return np.stack(frames)


# --- mini-clips -----------------------------------------------------------------------


def stable_rng(seed: int, name: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``name`` (not on the order clips are read in)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def sample_starts(n_frames: int, length: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted start frames of up to ``count`` distinct windows of ``length`` in ``n_frames`` frames.

    Drawn without replacement; a clip with fewer than ``count`` possible windows gives
    all of them (no duplicated items).
    """
    possible = n_frames - length + 1
    if possible < 1:
        return np.zeros(0, dtype=np.int64)
    if possible <= count:
        return np.arange(possible, dtype=np.int64)
    return np.sort(rng.choice(possible, size=count, replace=False)).astype(np.int64)


def window_starts(n_frames: int, length: int, mode: str = "windows") -> np.ndarray:
    """Test windows: non-overlapping ones from frame 0 (``windows``) or only the first (``first``)."""
    if n_frames < length:
        return np.zeros(0, dtype=np.int64)
    if mode == "first":
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, n_frames - length + 1, length, dtype=np.int64)


def seeded_split(names: Sequence[str], test_fraction: float, seed: int, group: str = "") -> set[str]:
    """The names drawn for testing: ``round(test_fraction · n)`` of them (at least one when n ≥ 2 and the fraction > 0)."""
    n = len(names)
    n_test = int(round(test_fraction * n))
    if test_fraction > 0 and n_test == 0 and n >= 2:
        n_test = 1
    order = stable_rng(seed, "split:" + group).permutation(n)
    ordered = sorted(names)
    return {ordered[i] for i in order[:n_test]}


class ClipStore:
    """All frames of a data set in one ``uint8 [F, H, W, 3]`` array, clip by clip."""

    def __init__(self):
        self.names: list[str] = []
        self.offsets: list[int] = []
        self.lengths: list[int] = []
        self._parts: list[np.ndarray] = []
        self._total = 0
        self.frames: torch.Tensor | None = None

    def add(self, name: str, frames: np.ndarray) -> int:
        """Append a clip's frames; returns its clip id."""
        self.names.append(name)
        self.offsets.append(self._total)
        self.lengths.append(len(frames))
        self._parts.append(np.ascontiguousarray(frames, dtype=np.uint8))
        self._total += len(frames)
        return len(self.names) - 1

    def finish(self, frame_shape_hw: tuple[int, int]) -> "ClipStore":
        if self._parts:
            self.frames = torch.from_numpy(np.concatenate(self._parts))
        else:
            self.frames = torch.zeros((0, *frame_shape_hw, 3), dtype=torch.uint8)
        self._parts = []
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


# --- label tables ---------------------------------------------------------------------


def read_labels_csv(path: Path, owner: str, required: Sequence[str] = ("clip",)) -> tuple[list[str], list[tuple[int, dict]]]:
    """``(columns, [(line number, row), ...])`` of a CSV with a header; cells are stripped."""
    if not path.is_file():
        raise DataError(f"{owner}: labels file {path} does not exist; expected a CSV with a header row ({', '.join(required)}, ...)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{owner}: labels file {path} is empty; expected a header row with columns {', '.join(required)}")
            columns = [c.strip() for c in header]
            rows = []
            for line, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue  # blank line
                if len(cells) != len(columns):
                    raise DataError(f"{owner}: {path} line {line} has {len(cells)} cells; expected {len(columns)} ({', '.join(columns)})")
                rows.append((line, {c: v.strip() for c, v in zip(columns, cells)}))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{owner}: cannot read labels file {path}: {one_line(exc)}") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{owner}: {path} has no column(s) {', '.join(missing)}; expected columns {', '.join(required)} (found: {', '.join(columns) or 'none'})")
    dupes = [c for c in set(columns) if columns.count(c) > 1]
    if dupes:
        raise DataError(f"{owner}: {path} has duplicate column(s) {', '.join(sorted(dupes))}")
    seen: dict[str, int] = {}
    for line, row in rows:
        clip = row.get("clip", None)
        if clip is None:
            continue
        if not clip:
            raise DataError(f"{owner}: {path} line {line} has an empty clip name")
        if clip in seen:
            raise DataError(f"{owner}: {path} line {line} repeats clip {clip!r} (first on line {seen[clip]})")
        seen[clip] = line
    return columns, rows


# --- on-disk cache --------------------------------------------------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("VIDEOVAE_CACHE", Path.home() / ".cache" / "videovae"))


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, mode) as handle:
                write(handle)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return True
    except OSError:
        return False  # caching is an optimisation; an unwritable cache only costs time


def save_cached(path: Path, array: np.ndarray, meta: dict) -> bool:
    """Write ``array`` (``.npy``) and then ``meta`` (``.json`` beside it), each atomically."""
    ok = _atomic_write(path, lambda h: np.save(h, array, allow_pickle=False), "wb")
    return ok and _atomic_write(path.with_suffix(".json"), lambda h: h.write(json.dumps(meta)), "w")


def load_cached(path: Path) -> tuple[np.ndarray, dict] | None:
    """``(array, meta)`` written by :func:`save_cached`, or None when absent or unreadable."""
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return array, meta


def natural_key(text: str):
    """Sort key that orders ``p2`` before ``p10``."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def natural_sorted(values: Iterable[str]) -> list[str]:
    return sorted(values, key=natural_key)
