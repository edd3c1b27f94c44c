"""The built-in data set: procedurally rendered chairs standing in for Chair CAD (Sec. 5.1).

Each object's 31-view circle (per elevation) is cut into two 16-frame sequences
that both start at the 16th view, one turning each way: views 15→30 (azimuth
increasing, the chair turns counter-clockwise seen from above: ``ccw``) and
15→0 (``cw``). Two elevations make four sequences per object; three go to
training and one to testing, picked at random per object (Sec. 5.1).

Attributes: ``chair`` (object id), ``tilt`` (elevation) and ``rotation``
(direction) — the controls the paper uses for Chair CAD (A.4).

The rendered views are cached on disk (``$VIDEOVAE_CACHE`` or
``~/.cache/videovae``) and are identical for a given seed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import attrs
import numpy as np
import torch

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import make_options
from ...core.errors import DataError
from ...core.interfaces import VideoDataset
from ...registry import hookimpl
from .chair_render import ELEVATIONS_DEG, NUM_AZIMUTHS, render_chair_set

START_VIEW = 15  # "starting from the 16th frame"
SEQUENCE_LENGTH = 16
ROTATIONS = ("ccw", "cw")


def cache_dir() -> Path:
    return Path(os.environ.get("VIDEOVAE_CACHE", Path.home() / ".cache" / "videovae"))


def _positive(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"synthetic-chairs: {attribute.name} must be a positive integer, got {value!r}")


@attrs.frozen
class SyntheticChairsOptions:
    num_objects: int = attrs.field(default=100, validator=_positive)
    seed: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    size: int = attrs.field(default=64, validator=_positive)
    length: int = attrs.field(default=SEQUENCE_LENGTH, validator=_positive)

    def __attrs_post_init__(self):
        if self.length > SEQUENCE_LENGTH:
            raise DataError(f"synthetic-chairs: length must be at most {SEQUENCE_LENGTH} frames, got {self.length}")


def load_views(options: SyntheticChairsOptions, root: Path | None = None) -> np.ndarray:
    """Rendered views ``uint8 [N, 2, 31, H, W, 3]``, read from the cache or rendered and cached."""
    root = Path(root) if root is not None else cache_dir()
    path = root / f"synthetic-chairs-n{options.num_objects}-seed{options.seed}-{options.size}px.npy"
    expected = (options.num_objects, len(ELEVATIONS_DEG), NUM_AZIMUTHS, options.size, options.size, 3)
    if path.exists():
        try:
            views = np.load(path, mmap_mode=None, allow_pickle=False)
            if views.shape == expected and views.dtype == np.uint8:
                return views
        except (OSError, ValueError):
            pass  # a corrupt cache file is rendered again below
    views = render_chair_set(options.num_objects, options.seed, options.size)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, views, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # caching is an optimisation; an unwritable cache only costs time
    return views


class ChairSequences(torch.utils.data.Dataset):
    """Items ``(frames [T, 3, H, W] in [0, 1], labels [T, 3])`` indexing into shared views."""

    def __init__(self, views: torch.Tensor, sequences: np.ndarray, length: int):
        self.views = views  # uint8 [N, 2, 31, H, W, 3]
        self.sequences = torch.as_tensor(sequences)  # [S, 3]: object, tilt, rotation
        self.length = length
        steps = torch.arange(length)
        self.orders = torch.stack([START_VIEW + steps, START_VIEW - steps])  # ccw, cw

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int):
        obj, tilt, rotation = (int(v) for v in self.sequences[index])
        frames = self.views[obj, tilt, self.orders[rotation]]
        frames = frames.permute(0, 3, 1, 2).float() / 255.0
        labels = self.sequences[index].float().expand(self.length, 3).clone()
        return frames, labels


class SyntheticChairs(VideoDataset):
    #: the joint label of the evaluation classifier (Sec. 5.2)
    evaluation_attributes = ("tilt", "rotation")

    def __init__(self, root: str | Path | None = None, **options):
        self.options = make_options(SyntheticChairsOptions, options, "dataset 'synthetic-chairs'")
        n = self.options.num_objects
        self.attributes = AttributeSet((
            AttributeSpec("chair", values=tuple(f"chair{i:03d}" for i in range(n))),
            AttributeSpec("tilt", values=tuple(f"{e:g}deg" for e in ELEVATIONS_DEG)),
            AttributeSpec("rotation", values=ROTATIONS),
        ))
        self.frame_shape = (3, self.options.size, self.options.size)
        self._views = torch.from_numpy(load_views(self.options, Path(root) if root else None))
        every = np.array([(o, t, r) for o in range(n) for t in range(2) for r in range(2)]).reshape(n, 4, 3)
        held_out = np.random.default_rng(self.options.seed).integers(0, 4, size=n)
        is_test = np.arange(4)[None, :] == held_out[:, None]
        self._splits = {"train": every[~is_test], "test": every[is_test]}

    def split(self, name: str) -> ChairSequences:
        if name not in self._splits:
            raise DataError(f"synthetic-chairs has splits {', '.join(self._splits)}, got {name!r}")
        return ChairSequences(self._views, self._splits[name], self.options.length)

    def label_rows(self, name: str) -> torch.Tensor:
        return self.split(name).sequences.float()

    def describe(self) -> str:
        o = self.options
        return f"synthetic-chairs: {o.num_objects} chairs, {o.size}x{o.size}, {o.length} frames, seed {o.seed}"


@hookimpl
def register_components(register):
    register("dataset", "synthetic-chairs", SyntheticChairs, "built-in procedural Chair-CAD stand-in (no download)")
