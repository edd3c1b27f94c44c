"""The built-in data set: procedurally rendered chairs standing in for Chair CAD (Sec. 5.1).

Each object's 31-view circle (per elevation) is cut into two 16-frame sequences
that both start at the 16th view, one turning each way: views 15→30 (azimuth
increasing, the chair turns counter-clockwise seen from above: ``ccw``) and
15→0 (``cw``). Two elevations make four sequences per object; three go to
training and one to testing, picked at random per object (Sec. 5.1).

Option ``starts`` (default 1, the paper's protocol) adds sequences that start at
other views: ``starts`` starting views evenly spaced around the circle from the
16th (the circle is closed, so a sequence may run over view 0/30), each with
the same four (tilt, rotation) sequences; the (tilt, rotation) pair held out for
testing is the same for all starts of an object. With the paper's protocol every
chair has only three training clips, which A.4 notes is too few to learn to
infer the chair's identity (with 20% of the clips labelled most chairs have no
labelled clip at all); ``starts=4`` gives twelve.

Attributes: ``chair`` (object id), ``tilt`` (elevation) and ``rotation``
(direction) — the controls the paper uses for Chair CAD (A.4).

The rendered views are cached on disk (``$VIDEOVAE_CACHE`` or
``~/.cache/videovae``) and are identical for a given seed.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options
from ...core.errors import DataError
from ...core.interfaces import VideoDataset
from ...core.validators import integer, positive_int
from ...io.atomic import atomic_path
from ...registry import hookimpl
from .cache import cache_dir
from .chair_render import ELEVATIONS_DEG, NUM_AZIMUTHS, render_chair_set

START_VIEW = 15  # "starting from the 16th frame"
SEQUENCE_LENGTH = 16
ROTATIONS = ("ccw", "cw")


@attrs.frozen
class SyntheticChairsOptions:
    num_objects: int = attrs.field(default=100, validator=positive_int)
    seed: int = attrs.field(default=0, validator=integer)
    size: int = attrs.field(default=64, validator=positive_int)
    length: int = attrs.field(default=SEQUENCE_LENGTH, validator=positive_int)
    starts: int = attrs.field(default=1, validator=positive_int)

    def __attrs_post_init__(self):
        if self.length > SEQUENCE_LENGTH:
            raise DataError(f"synthetic-chairs: length must be at most {SEQUENCE_LENGTH} frames, got {self.length}")
        if self.starts > NUM_AZIMUTHS:
            raise DataError(f"synthetic-chairs: starts must be at most {NUM_AZIMUTHS} (one per view), got {self.starts}")


def start_views(starts: int) -> list[int]:
    """The first view of the sequences: the 16th, then ``starts - 1`` more evenly spaced around the circle."""
    return [(START_VIEW + round(k * NUM_AZIMUTHS / starts)) % NUM_AZIMUTHS for k in range(starts)]


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
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, views, allow_pickle=False)
    except OSError:
        pass  # caching is an optimisation; an unwritable cache only costs time
    return views


class ChairSequences(torch.utils.data.Dataset):
    """Items ``(frames [T, 3, H, W] in [0, 1], labels [T, 3])`` indexing into shared views."""

    def __init__(self, views: torch.Tensor, sequences: np.ndarray, length: int, first_views: np.ndarray | None = None):
        self.views = views  # uint8 [N, 2, 31, H, W, 3]
        self.sequences = torch.as_tensor(sequences)  # [S, 3]: object, tilt, rotation
        self.first_views = torch.as_tensor(first_views if first_views is not None else np.full(len(sequences), START_VIEW))
        self.length = length
        steps = torch.arange(length)
        self.steps = torch.stack([steps, -steps])  # ccw, cw

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int):
        obj, tilt, rotation = (int(v) for v in self.sequences[index])
        order = (int(self.first_views[index]) + self.steps[rotation]) % NUM_AZIMUTHS
        frames = self.views[obj, tilt, order]
        frames = frames.permute(0, 3, 1, 2).float() / 255.0
        labels = self.sequences[index].float().expand(self.length, 3).clone()
        return frames, labels


class SyntheticChairs(VideoDataset):
    #: the joint label of the evaluation classifier (Sec. 5.2)
    evaluation_attributes = ("tilt", "rotation")
    #: played backwards, a clip turns the other way
    time_reversal = {"rotation": {"ccw": "cw", "cw": "ccw"}}

    def __init__(self, root: str | Path | None = None, options: SyntheticChairsOptions | None = None, **keywords):
        self.options = given_options(SyntheticChairsOptions, options, keywords, "dataset 'synthetic-chairs'")
        n = self.options.num_objects
        self.attributes = AttributeSet((
            AttributeSpec("chair", values=tuple(f"chair{i:03d}" for i in range(n))),
            AttributeSpec("tilt", values=tuple(f"{e:g}deg" for e in ELEVATIONS_DEG)),
            AttributeSpec("rotation", values=ROTATIONS),
        ))
        self.frame_shape = (3, self.options.size, self.options.size)
        self._views = torch.from_numpy(load_views(self.options, Path(root) if root else None))
        firsts = start_views(self.options.starts)
        # [n, starts, 4, 4]: object, tilt, rotation, first view
        every = np.array([(o, t, r, v) for o in range(n) for v in firsts for t in range(2) for r in range(2)])
        every = every.reshape(n, len(firsts), 4, 4)
        held_out = np.random.default_rng(self.options.seed).integers(0, 4, size=n)
        is_test = np.broadcast_to(np.arange(4)[None, None, :] == held_out[:, None, None], every.shape[:3])
        self._splits = {"train": every[~is_test], "test": every[is_test]}

    def split(self, name: str) -> ChairSequences:
        if name not in self._splits:
            raise DataError(f"synthetic-chairs has splits {', '.join(self._splits)}, got {name!r}")
        rows = self._splits[name]
        return ChairSequences(self._views, rows[:, :3], self.options.length, rows[:, 3])

    def label_rows(self, name: str) -> torch.Tensor:
        return self.split(name).sequences.float()

    def describe(self) -> str:
        o = self.options
        starts = f", {o.starts} starting views" if o.starts > 1 else ""
        return f"synthetic-chairs: {o.num_objects} chairs, {o.size}x{o.size}, {o.length} frames{starts}, seed {o.seed}"


@hookimpl
def register_datasets(register):
    register("synthetic-chairs", SyntheticChairs, options=SyntheticChairsOptions,
             description="built-in procedural Chair-CAD stand-in (no download)")
