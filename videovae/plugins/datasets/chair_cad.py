"""Chair CAD (Aubry et al.; Sec. 5.1), from the renders as their authors distribute them.

Layout::

    <root>/rendered_chairs/<chair_dir>/renders/image_NNN_pPPP_tTTT_rRRR.png

(``<root>`` may also be the ``rendered_chairs`` folder itself): per chair, 31
azimuths ``tTTT`` × 2 elevations ``pPPP`` at one distance ``rRRR``. The first
``num_chairs`` chair folders in sorted order are used (809, as Deep Rotator
[39] and the paper; all of them, with a note in ``describe()``, when fewer exist).

Preprocessing: each chair is cropped to the bounding box of the object over all
of its 62 views (one box per chair, so the chair keeps its scale as it turns;
object = alpha > 0 for RGBA renders, else pixels that differ from the corner
colour), widened to a square with a border of ``border`` × its side on each
side (padding with the background colour), and resized to ``size``×``size``
(PIL Lanczos, antialiased). The result is cached as ``.npy`` (plus a ``.json``
of the chair names) in ``$VIDEOVAE_CACHE`` or ``~/.cache/videovae``, written
atomically, keyed by the root path, the chair folders and the options.

Sequences (Sec. 5.1): per elevation, two sequences of ``length`` (16) views that
both start at the 16th azimuth (index 15): 15→30 (azimuth increasing: ``ccw``)
and 15→0 (``cw``); four per chair, of which a generator seeded with ``seed``
picks one per chair for testing, the other three for training.
Attributes: ``chair`` (folder name), ``tilt`` (elevation, e.g. ``20deg``), ``rotation``.
"""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import numpy as np

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options
from ...core.errors import ConfigError, DataError
from ...core.validators import boolean, integer, positive_int
from ...registry import hookimpl
from ...io.images import read_alpha_mask
from .cache import cache_dir, load_cached, save_cached
from .clips import ClipStore, ItemBuilder
from .frames import resize_frames
from .splits import StoredSplits, require_dir, skipped_note

OWNER = "chair-cad"
NUM_AZIMUTHS, NUM_ELEVATIONS = 31, 2
START_VIEW = 15  # "starting from the 16th frame"
SEQUENCE_LENGTH = 16
ROTATIONS = ("ccw", "cw")
RENDER = re.compile(r"^image_(\d+)_p(\d+)_t(\d+)_r(\d+)\.png$", re.IGNORECASE)
LAYOUT = "<root>/rendered_chairs/<chair>/renders/image_NNN_pPPP_tTTT_rRRR.png"
CACHE_VERSION = 1


def _border(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 0.5:
        raise ConfigError(f"border must be a number in [0, 0.5], got {value!r}")


@attrs.frozen
class ChairCADOptions:
    num_chairs: int = attrs.field(default=809, validator=positive_int)
    size: int = attrs.field(default=64, validator=positive_int)
    border: float = attrs.field(default=0.05, validator=_border)
    length: int = attrs.field(default=SEQUENCE_LENGTH, validator=positive_int)
    seed: int = attrs.field(default=0, validator=integer)
    skip_bad: bool = attrs.field(default=False, validator=boolean)
    cache: bool = attrs.field(default=True, validator=boolean)

    def __attrs_post_init__(self):
        if self.length > SEQUENCE_LENGTH:
            raise ConfigError(f"length must be at most {SEQUENCE_LENGTH} views (15..30 or 15..0), got {self.length}")


def find_chairs(root: Path) -> Path:
    """The ``rendered_chairs`` folder under (or at) ``root``."""
    for candidate in (root / "rendered_chairs", root):
        if candidate.is_dir() and any((d / "renders").is_dir() for d in candidate.iterdir() if d.is_dir()):
            return candidate
    raise DataError(f"{OWNER}: {root} has no chair folders with renders/; expected {LAYOUT}")


def render_grid(renders: Path) -> tuple[list[int], list[int], list[list[Path]]]:
    """``(elevations, azimuths, paths[elevation][azimuth])`` of one chair's renders/ folder."""
    found: dict[tuple[int, int], Path] = {}
    for path in renders.iterdir():
        match = RENDER.match(path.name)
        if match:
            key = (int(match.group(2)), int(match.group(3)))
            if key in found:
                raise DataError(f"{OWNER}: {renders} has two renders of elevation p{key[0]:03d} azimuth t{key[1]:03d}")
            found[key] = path
    elevations = sorted({p for p, _ in found})
    azimuths = sorted({t for _, t in found})
    if len(elevations) != NUM_ELEVATIONS or len(azimuths) != NUM_AZIMUTHS or len(found) != NUM_ELEVATIONS * NUM_AZIMUTHS:
        raise DataError(
            f"{OWNER}: {renders} has {len(found)} renders ({len(elevations)} elevations x {len(azimuths)} azimuths); "
            f"expected {NUM_ELEVATIONS} x {NUM_AZIMUTHS} files named image_NNN_pPPP_tTTT_rRRR.png"
        )
    return elevations, azimuths, [[found[(p, t)] for t in azimuths] for p in elevations]


def preprocess_chair(paths: list[list[Path]], size: int, border: float) -> np.ndarray:
    """One chair's views ``uint8 [2, 31, size, size, 3]``: union-box crop with a border, then resize."""
    images, masks = [], []
    for path in (p for row in paths for p in row):
        rgb, alpha = read_alpha_mask(path, OWNER)
        if images and rgb.shape != images[0].shape:
            raise DataError(f"{OWNER}: {path} is {rgb.shape[1]}x{rgb.shape[0]} px; the chair's other renders are {images[0].shape[1]}x{images[0].shape[0]}")
        if alpha is not None:
            mask = alpha > 8
        else:
            mask = (np.abs(rgb.astype(np.int16) - rgb[0, 0].astype(np.int16)).max(axis=-1) > 8)
        images.append(rgb)
        masks.append(mask)
    union = np.logical_or.reduce(masks)
    if not union.any():
        raise DataError(f"{OWNER}: no object found in the renders of {paths[0][0].parent} (all background)")
    background = images[0][0, 0].copy()  # the corner colour (white for RGBA renders, composited on white)
    rows, cols = np.nonzero(union.any(axis=1))[0], np.nonzero(union.any(axis=0))[0]
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(np.ceil(max(bottom - top, right - left) * (1 + 2 * border)))
    cy, cx = (top + bottom) / 2, (left + right) / 2
    y0, x0 = int(round(cy - side / 2)), int(round(cx - side / 2))
    height, width = images[0].shape[:2]
    pad = max(0, -y0, -x0, y0 + side - height, x0 + side - width)
    stack = np.stack(images)
    if pad:
        stack = np.pad(stack, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant")
        stack[:, :pad] = background
        stack[:, -pad:] = background
        stack[:, :, :pad] = background
        stack[:, :, -pad:] = background
    crop = stack[:, y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    return resize_frames(crop, size).reshape(NUM_ELEVATIONS, NUM_AZIMUTHS, size, size, 3)


class ChairCAD(StoredSplits):
    owner = OWNER
    #: the joint label of the evaluation classifier (Sec. 5.2)
    evaluation_attributes = ("tilt", "rotation")
    #: played backwards, a clip turns the other way
    time_reversal = {"rotation": {"ccw": "cw", "cw": "ccw"}}

    def __init__(self, root: str | Path | None = None, options: ChairCADOptions | None = None, **keywords):
        o = self.options = given_options(ChairCADOptions, options, keywords, f"dataset {OWNER!r}")
        self.root = require_dir(root, OWNER, LAYOUT)
        chairs_dir = find_chairs(self.root)
        folders = sorted(d.name for d in chairs_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
        self.available = len(folders)
        chosen = folders[: o.num_chairs]
        self.note = (
            f"only {len(folders)} chair folders found, {o.num_chairs} asked for: using all" if len(folders) < o.num_chairs else ""
        )
        self.skipped: list[tuple[str, str]] = []
        views, elevations = self._views(chairs_dir, chosen)
        names = [n for n in chosen if n not in dict(self.skipped)]
        if not names:
            raise DataError(f"{OWNER}: no usable chair in {chairs_dir}" + skipped_note(self.skipped))
        self.chairs = names
        self.attributes = AttributeSet((
            AttributeSpec("chair", values=tuple(names)),
            AttributeSpec("tilt", values=tuple(f"{e}deg" for e in elevations)),
            AttributeSpec("rotation", values=ROTATIONS),
        ))
        self.frame_shape = (3, o.size, o.size)
        store = ClipStore()
        for i, name in enumerate(names):
            store.add(name, views[i].reshape(-1, o.size, o.size, 3))
        self.store = store.finish((o.size, o.size))
        steps = np.arange(o.length)
        orders = (START_VIEW + steps, START_VIEW - steps)  # ccw, cw
        held_out = np.random.default_rng(o.seed).integers(0, 4, size=len(names))
        builders = {"train": ItemBuilder(3, o.length), "test": ItemBuilder(3, o.length)}
        for chair in range(len(names)):
            for sequence in range(4):
                tilt, rotation = divmod(sequence, 2)
                index = store.offsets[chair] + tilt * NUM_AZIMUTHS + orders[rotation]
                split = "test" if sequence == held_out[chair] else "train"
                builders[split].add(chair, index, np.array([chair, tilt, rotation], dtype=np.float32))
        self._splits = {name: b.build(store) for name, b in builders.items()}

    def _views(self, chairs_dir: Path, chosen: list[str]) -> tuple[np.ndarray, list[int]]:
        """Views ``uint8 [N, 2, 31, size, size, 3]`` of the usable chairs and the elevations (from the cache when possible)."""
        o = self.options
        key = hashlib.sha256(repr((CACHE_VERSION, str(chairs_dir.resolve()), chosen, o.size, float(o.border), o.skip_bad)).encode()).hexdigest()[:20]
        path = cache_dir() / f"chair-cad-{o.size}px-{key}.npy"
        if o.cache:
            cached = load_cached(path)
            if cached is not None:
                views, meta = cached
                skipped = [tuple(s) for s in meta.get("skipped", [])]
                if views.dtype == np.uint8 and views.shape == (len(chosen) - len(skipped), NUM_ELEVATIONS, NUM_AZIMUTHS, o.size, o.size, 3):
                    self.skipped = skipped
                    self.cache_path = path
                    return views, list(meta["elevations"])

        def work(name):
            renders = chairs_dir / name / "renders"
            try:
                if not renders.is_dir():
                    raise DataError(f"{OWNER}: chair folder {chairs_dir / name} has no renders/ folder; expected {LAYOUT}")
                elevations, _, paths = render_grid(renders)
                return elevations, preprocess_chair(paths, o.size, o.border), None
            except DataError as exc:
                return None, None, exc

        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            results = list(pool.map(work, chosen))
        views, elevations = [], None
        for name, (elev, chair_views, error) in zip(chosen, results):
            if error is None and elevations is not None and elev != elevations:
                error = DataError(f"{OWNER}: chair {name} is rendered at elevations {elev}, the others at {elevations}")
            if error is not None:
                if not o.skip_bad:
                    raise error
                self.skipped.append((name, str(error)))
                continue
            elevations = elevations or elev
            views.append(chair_views)
        if not views:
            raise DataError(f"{OWNER}: no usable chair in {chairs_dir}" + skipped_note(self.skipped))
        views = np.stack(views)
        self.cache_path = path if o.cache and save_cached(path, views, {"elevations": elevations, "skipped": self.skipped}) else None
        return views, elevations

    def describe(self) -> str:
        o = self.options
        note = f" ({self.note})" if self.note else ""
        return (
            f"chair-cad: {len(self.chairs)} chairs{note}, {o.size}x{o.size}, sequences of {o.length} views from azimuth 15 "
            f"(ccw 15->30, cw 15->0) at {len(self.attributes.spec('tilt').values)} elevations; "
            f"train {len(self._splits['train'])}, test {len(self._splits['test'])}, seed {o.seed}" + skipped_note(self.skipped)
        )


@hookimpl
def register_datasets(register):
    register(OWNER, ChairCAD, options=ChairCADOptions,
             description="Chair CAD renders (rendered_chairs/<chair>/renders/*.png): chair, tilt, rotation")
