"""YFCC100M – MIT Flickr scenes (Sec. 5.1) in the format of the VGAN authors (Vondrick et al. 2016).

Layout::

    <root>/<category>/**/*.jpg    each JPEG one clip: 32 frames of 128×128 stacked vertically (128 × 4096 px)

The scene label is the category folder (the paper uses ``beach`` and ``golf``).
Each clip gives one item: its first ``length`` frames, each resized to
``size``×``size``. Per category, a generator seeded with ``seed`` puts
``round(test_fraction · n)`` clips (at least one when there are two or more) in
test, the rest in train. ``max_clips`` keeps the first N clips (sorted by path)
of each category.

By default all frames are decoded once and held in memory as uint8 (a 64×64, 32
frame clip is 384 KiB, so 10,000 clips take about 4 GB). For the full VGAN sets
pass ``in_memory=False``: items are then decoded from their files on access (and a
broken file raises its error then rather than at load time).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options, name_tuple
from ...core.errors import ConfigError, DataError
from ...core.validators import boolean, fraction, integer, optional_positive_int, positive_int
from ...registry import hookimpl
from ...io.images import read_image
from .clips import ClipStore, ItemBuilder
from .frames import resize_frames, split_strip
from .names import natural_sorted
from .sampling import seeded_split
from .splits import StoredSplits, require_dir, skipped_note

OWNER = "yfcc-flickr"
LAYOUT = "<root>/<category>/**/*.jpg, each a vertical strip of square frames (VGAN format: 128 x 4096 px)"


def _categories(instance, attribute, value):
    if value is not None and (not value or not all(isinstance(v, str) and v for v in value)):
        raise ConfigError(f"categories must be a non-empty list of folder names, got {value!r}")


@attrs.frozen
class FlickrOptions:
    categories: tuple | None = attrs.field(default=None, converter=name_tuple, validator=_categories)
    size: int = attrs.field(default=64, validator=positive_int)
    length: int = attrs.field(default=32, validator=positive_int)
    test_fraction: float = attrs.field(default=0.1, validator=fraction)
    seed: int = attrs.field(default=0, validator=integer)
    max_clips: int | None = attrs.field(default=None, validator=optional_positive_int)
    in_memory: bool = attrs.field(default=True, validator=boolean)
    skip_bad: bool = attrs.field(default=False, validator=boolean)


def load_clip(path: Path, length: int, size: int) -> np.ndarray:
    """The first ``length`` frames of one VGAN strip, resized: ``uint8 [length, size, size, 3]``."""
    frames = split_strip(read_image(path, OWNER, alpha="drop"), "vertical", path, OWNER)
    if len(frames) < length:
        raise DataError(f"{OWNER}: clip {path} has {len(frames)} frames; expected at least length={length}")
    return resize_frames(frames[:length], size)


class LazyClips(torch.utils.data.Dataset):
    """Items decoded from their files on access (``in_memory=False``)."""

    def __init__(self, paths: list[Path], labels: np.ndarray, length: int, size: int):
        self.paths = paths
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.float32).reshape(len(paths), 1))
        self.length, self.size = length, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        frames = torch.from_numpy(load_clip(self.paths[i], self.length, self.size))
        return frames.permute(0, 3, 1, 2).float().div_(255.0), self.labels[i].expand(self.length, -1).clone()

    def clip_name(self, i: int) -> str:
        return str(self.paths[i])


class FlickrScenes(StoredSplits):
    owner = OWNER
    #: the joint label of the evaluation classifier (Sec. 5.2)
    evaluation_attributes = ("scene",)

    def __init__(self, root: str | Path | None = None, options: FlickrOptions | None = None, **keywords):
        o = self.options = given_options(FlickrOptions, options, keywords, f"dataset {OWNER!r}")
        self.root = require_dir(root, OWNER, LAYOUT)
        present = natural_sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if o.categories is None:
            categories = present
            if not categories:
                raise DataError(f"{OWNER}: {self.root} has no category folders; expected {LAYOUT}")
        else:
            missing = [c for c in o.categories if c not in present]
            if missing:
                raise DataError(f"{OWNER}: no category folder {', '.join(missing)} in {self.root}; found: {', '.join(present) or 'none'}")
            categories = list(dict.fromkeys(o.categories))
        try:
            self.attributes = AttributeSet((AttributeSpec("scene", values=tuple(categories)),))
        except ConfigError as exc:
            raise DataError(f"{OWNER}: category folder names of {self.root} cannot be scene labels: {exc}") from None
        self.frame_shape = (3, o.size, o.size)

        self.skipped: list[tuple[str, str]] = []
        self.counts: dict[str, int] = {}
        chosen: dict[str, list[tuple[Path, float]]] = {"train": [], "test": []}
        for label, category in enumerate(categories):
            folder = self.root / category
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
            if not paths:
                raise DataError(f"{OWNER}: category folder {folder} holds no .jpg clips; expected {LAYOUT}")
            if o.max_clips is not None:
                paths = paths[: o.max_clips]
            self.counts[category] = len(paths)
            relative = [str(p.relative_to(folder)) for p in paths]
            test = seeded_split(relative, o.test_fraction, o.seed, category)
            for path, rel in zip(paths, relative):
                chosen["test" if rel in test else "train"].append((path, float(label)))

        if not o.in_memory:
            self.store = None
            self._splits = {
                name: LazyClips([p for p, _ in items], np.array([[l] for _, l in items]), o.length, o.size)
                for name, items in chosen.items()
            }
            return
        store = ClipStore()
        builders = {"train": ItemBuilder(1, o.length), "test": ItemBuilder(1, o.length)}
        for split, items in chosen.items():
            for path, label in items:
                name = str(path.relative_to(self.root))
                try:
                    frames = load_clip(path, o.length, o.size)
                except DataError as exc:
                    if not o.skip_bad:
                        raise
                    self.skipped.append((name, str(exc)))
                    continue
                clip_id = store.add(name, frames)
                builders[split].windows(store, clip_id, 0, [0], np.array([label], dtype=np.float32))
        if not store.names:
            raise DataError(f"{OWNER}: no usable clip in {self.root}" + skipped_note(self.skipped))
        self.store = store.finish((o.size, o.size))
        self._splits = {name: b.build(store) for name, b in builders.items()}

    def describe(self) -> str:
        o = self.options
        counts = ", ".join(f"{c} {n}" for c, n in self.counts.items())
        return (
            f"yfcc-flickr: {sum(self.counts.values())} clips ({counts}), first {o.length} frames at {o.size}x{o.size}; "
            f"train {len(self._splits['train'])}, test {len(self._splits['test'])} (test_fraction {o.test_fraction}, seed {o.seed})"
            + ("" if o.in_memory else ", decoded on access")
            + skipped_note(self.skipped)
        )


@hookimpl
def register_datasets(register):
    register(OWNER, FlickrScenes, options=FlickrOptions,
             description="YFCC-MIT Flickr scenes in VGAN format (<category>/**/*.jpg vertical strips): scene")
