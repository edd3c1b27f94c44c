"""Users' own clips: one folder of clips plus a label table.

Layout::

    <root>/<clip>.png|.jpg|...    an image strip of square frames, side by side (strip_axis="horizontal")
                                  or stacked (strip_axis="vertical")
    <root>/<clip>/                a folder of frame images, in order of their names (natural order: 2 before 10)
    <root>/<clip>.mp4|.avi|.mov|.gif|.mkv|.webm   a video file (read with PyAV: pip install av)
    <root>/labels.csv             clip,<attribute>,...[,split]   (or the file given by option ``labels``)

``clip`` is the file or folder name without its extension. Every other column
but ``split`` is an attribute: categorical, its values the distinct non-empty
cells (natural order), unless the column is named in ``continuous`` — then a
number whose range is ``ranges[name]`` or else [min, max] of the column (a
column with one value v gets [v, v + 1]); names in ``periodic`` are continuous
attributes whose ends meet (angles). An empty cell is a missing label (NaN). An
optional ``split`` column (``train``/``test``) fixes the split; otherwise a
generator seeded with ``seed`` puts ``round(test_fraction · n)`` clips in test.
Without a labels file every clip in ``root`` is used, with no attributes. ``evaluation_attributes``
names the categorical columns whose joint label the evaluation classifier predicts (default: all),
``motion_attributes`` the columns seen in how frames change (the attribute net reads frame
differences for them, as for Weizmann's action).

Frames that are not square are centre-cropped (``crop="center"``) or stretched
(``crop="stretch"``), then resized to ``size``×``size`` (PIL Lanczos).
Training items are up to ``clips_per_video`` distinct windows of ``length``
frames per training clip (starts drawn by a generator seeded with ``seed`` and
the clip name; all windows when there are fewer); test items are the
non-overlapping windows of each test clip from its first frame
(``test_clips="windows"``) or only its first ``length`` frames (``"first"``).
Entries of ``root`` that the labels file does not list are reported as skipped.

The prepared frames are written clip by clip to a memory-mapped file in the cache
(``$VIDEOVAE_CACHE`` or ``~/.cache/videovae``; :mod:`.frame_cache`), keyed by the root, the
options that change which frames are kept or their pixels (``size``, ``crop``, ``strip_axis``,
``length``, ``skip_bad``), the clips listed and each source file's size and modification time,
and read from it on the next load; items are converted to float one at a time. ``cache=False``
(or an unwritable cache folder) keeps the frames in memory instead.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Mapping

import attrs
import numpy as np

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options, name_tuple
from ...core.errors import ConfigError, DataError
from ...core.validators import boolean, choice, fraction, integer, positive_int
from ...registry import hookimpl
from .clip_files import is_clip_file, read_clip, source_files, square_frames
from .clips import ItemBuilder
from .cache import digest
from .frame_cache import FORMAT, cache_file, file_signature, open_frames, writable_cache, write_frames
from .labels_csv import read_labels_csv
from .names import natural_sorted
from .sampling import sample_starts, seeded_split, stable_rng, window_starts
from .splits import TEST_CLIP_MODES, StoredSplits, require_dir, skipped_note

logger = logging.getLogger(__name__)

OWNER = "folder"
LAYOUT = "a folder of clips (image strips, folders of frames or video files) with a labels.csv (clip, <attribute>, ...)"
RESERVED = ("clip", "split")


def _names(instance, attribute, value):
    if not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{attribute.name} must be a list of column names, got {value!r}")


def _ranges(instance, attribute, value):
    if not isinstance(value, Mapping):
        raise ConfigError(f"ranges must map column names to [low, high], got {value!r}")
    for name, pair in value.items():
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ConfigError(f"ranges[{name!r}] must be two numbers [low, high], got {pair!r}") from None
        if not low < high:
            raise ConfigError(f"ranges[{name!r}] needs low < high, got {pair!r}")


def _labels(instance, attribute, value):
    if value is not None and not isinstance(value, (str, Path)):
        raise ConfigError(f"labels must be a path to a CSV file, got {value!r}")


@attrs.frozen
class FolderOptions:
    labels: str | None = attrs.field(default=None, validator=_labels)
    strip_axis: str = attrs.field(default="horizontal", validator=choice("horizontal", "vertical"))
    size: int = attrs.field(default=64, validator=positive_int)
    length: int = attrs.field(default=16, validator=positive_int)
    clips_per_video: int = attrs.field(default=20, validator=positive_int)
    test_fraction: float = attrs.field(default=0.1, validator=fraction)
    test_clips: str = attrs.field(default="windows", validator=choice(*TEST_CLIP_MODES))
    continuous: tuple = attrs.field(default=(), converter=lambda v: name_tuple(v) or (), validator=_names)
    #: the categorical columns whose joint label the evaluation classifier predicts (default: all attributes)
    evaluation_attributes: tuple = attrs.field(default=(), converter=lambda v: name_tuple(v) or (), validator=_names)
    #: columns seen in how frames change (an action, a direction): the attribute net reads frame differences
    motion_attributes: tuple = attrs.field(default=(), converter=lambda v: name_tuple(v) or (), validator=_names)
    periodic: tuple = attrs.field(default=(), converter=lambda v: name_tuple(v) or (), validator=_names)
    ranges: dict = attrs.field(factory=dict, validator=_ranges)
    crop: str = attrs.field(default="center", validator=choice("center", "stretch"))
    seed: int = attrs.field(default=0, validator=integer)
    skip_bad: bool = attrs.field(default=False, validator=boolean)
    cache: bool = attrs.field(default=True, validator=boolean)


def index_clips(root: Path, exclude: Path | None) -> dict[str, list[Path]]:
    """Clip name → candidate paths (folders, images and videos directly in ``root``)."""
    found: dict[str, list[Path]] = {}
    exclude = exclude.resolve() if exclude is not None else None
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or (exclude is not None and path.name == exclude.name and path.resolve() == exclude):
            continue
        if path.is_dir():
            found.setdefault(path.name, []).append(path)
        elif is_clip_file(path):
            found.setdefault(path.stem, []).append(path)
    return found


class FolderClips(StoredSplits):
    owner = OWNER

    def __init__(self, root: str | Path | None = None, options: FolderOptions | None = None, **keywords):
        o = self.options = given_options(FolderOptions, options, keywords, f"dataset {OWNER!r}")
        self.root = require_dir(root, OWNER, LAYOUT)
        self.frame_shape = (3, o.size, o.size)
        self.skipped: list[tuple[str, str]] = []
        self.cache_path: Path | None = None  # the frame cache the frames are mapped from (None: in memory)
        self.labels_path = self._labels_path()
        found = index_clips(self.root, self.labels_path)

        if self.labels_path is None:
            rows = [(0, {"clip": name}) for name in natural_sorted(found)]
            columns = ["clip"]
            if not rows:
                raise DataError(f"{OWNER}: {self.root} holds no clips and no labels.csv; expected {LAYOUT}")
        else:
            columns, rows = read_labels_csv(self.labels_path, OWNER, ("clip",))
            if not rows:
                raise DataError(f"{OWNER}: {self.labels_path} lists no clips")
            listed = {row["clip"] for _, row in rows}
            for name in natural_sorted(found):
                if name not in listed and not any(p.name in listed for p in found[name]):
                    self.skipped.append((name, f"{found[name][0]} is not listed in {self.labels_path}"))
        names = [c for c in columns if c not in RESERVED]
        for option in ("continuous", "periodic", "ranges", "evaluation_attributes", "motion_attributes"):
            unknown = [n for n in getattr(o, option) if n not in names]
            if unknown:
                raise DataError(f"{OWNER}: option {option} names column(s) {', '.join(unknown)} that {self.labels_path} does not have; attribute columns: {', '.join(names) or 'none'}")
        self.attributes = AttributeSet(tuple(self._spec(name, rows) for name in names))
        not_categorical = [n for n in o.evaluation_attributes if self.attributes.spec(n).kind != "categorical"]
        if not_categorical:
            raise DataError(f"{OWNER}: evaluation_attributes must be categorical columns (the classifier predicts their "
                            f"joint label); {', '.join(not_categorical)} is continuous")
        self.evaluation_attributes = o.evaluation_attributes
        self.motion_attributes = o.motion_attributes
        test_names = self._test_names(columns, rows)

        sources = []  # (line, row, path) of the clips to read
        for line, row in rows:
            try:
                sources.append((line, row, self._find(row["clip"], found, line)))
            except DataError as exc:
                if not o.skip_bad:
                    raise
                self.skipped.append((row["clip"], str(exc)))
        labels = {row["clip"]: np.array([self._parse(spec, row[spec.name], line) for spec in self.attributes],
                                        dtype=np.float32) for line, row, _ in sources}
        self.store = self._frames(sources)
        builders = {"train": ItemBuilder(len(names), o.length), "test": ItemBuilder(len(names), o.length)}
        for clip_id, clip in enumerate(self.store.names):
            count = self.store.lengths[clip_id]
            if clip in test_names:
                builders["test"].windows(self.store, clip_id, 0, window_starts(count, o.length, o.test_clips), labels[clip])
            else:
                starts = sample_starts(count, o.length, o.clips_per_video, stable_rng(o.seed, clip))
                builders["train"].windows(self.store, clip_id, 0, starts, labels[clip])
        self._splits = {name: b.build(self.store) for name, b in builders.items()}

    # --- labels ---------------------------------------------------------------------

    def _labels_path(self) -> Path | None:
        given = self.options.labels
        if given is None:
            default = self.root / "labels.csv"
            return default if default.is_file() else None
        path = Path(given).expanduser()
        path = path if path.is_absolute() else self.root / path
        if not path.is_file():
            raise DataError(f"{OWNER}: labels file {path} does not exist; expected a CSV with a clip column")
        return path

    def _spec(self, name: str, rows) -> AttributeSpec:
        o, where = self.options, self.labels_path
        cells = [(line, row[name]) for line, row in rows if row[name] != ""]
        if not cells:
            raise DataError(f"{OWNER}: column {name!r} of {where} has no values; fill it or remove it")
        try:
            if name in o.continuous or name in o.periodic:
                values = [self._number(name, text, line) for line, text in cells]
                if name in o.ranges:
                    low, high = (float(v) for v in o.ranges[name])
                else:
                    low, high = min(values), max(values) if max(values) > min(values) else min(values) + 1
                return AttributeSpec(name, kind="continuous", low=low, high=high, periodic=name in o.periodic)
            for line, text in cells:
                bad = [c for c in "=,@" if c in text]
                if bad:
                    raise DataError(f"{OWNER}: {where} line {line}, column {name!r}: value {text!r} contains {bad[0]!r}; label values may not contain '=', ',' or '@'")
            return AttributeSpec(name, values=tuple(natural_sorted({text for _, text in cells})))
        except ConfigError as exc:
            raise DataError(f"{OWNER}: column {name!r} of {where} cannot be an attribute: {exc}") from None

    def _number(self, name: str, text: str, line: int) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(f"{OWNER}: {self.labels_path} line {line}, column {name!r}: expected a number, got {text!r}")
        return value

    def _parse(self, spec: AttributeSpec, text: str, line: int) -> float:
        if text == "":
            return math.nan
        if spec.kind == "categorical":
            return float(spec.values.index(text))
        value = self._number(spec.name, text, line)
        if not spec.low <= value <= spec.high:
            raise DataError(f"{OWNER}: {self.labels_path} line {line}, column {spec.name!r}: {value:g} is outside the range [{spec.low:g}, {spec.high:g}] given in ranges")
        return value

    def _test_names(self, columns, rows) -> set[str]:
        if "split" not in columns:
            return seeded_split([row["clip"] for _, row in rows], self.options.test_fraction, self.options.seed)
        test = set()
        for line, row in rows:
            split = row["split"].lower()
            if split not in ("train", "test"):
                raise DataError(f"{OWNER}: {self.labels_path} line {line}: split must be train or test, got {row['split']!r}")
            if split == "test":
                test.add(row["clip"])
        return test

    # --- clips ----------------------------------------------------------------------

    def _find(self, clip: str, found: dict[str, list[Path]], line: int) -> Path:
        candidates = found.get(clip) or [p for paths in found.values() for p in paths if p.name == clip]
        if not candidates:
            raise DataError(
                f"{OWNER}: clip {clip!r} ({self.labels_path} line {line}) not found in {self.root}; expected a folder {clip}/, "
                f"an image strip {clip}.png/.jpg or a video {clip}.mp4/.avi/.mov/.gif"
            )
        if len(candidates) > 1:
            raise DataError(f"{OWNER}: clip {clip!r} is ambiguous: {', '.join(p.name for p in candidates)} in {self.root}; keep one")
        return candidates[0]

    def _frames(self, sources):
        """The store of the clips' prepared frames: from the cache when it holds them, else read clip by
        clip into it (clips that fail are raised, or skipped with ``skip_bad``)."""
        o, hw = self.options, (self.options.size, self.options.size)
        identity = {"format": FORMAT, "root": str(self.root.resolve()), "size": o.size, "crop": o.crop,
                    "strip_axis": o.strip_axis, "length": o.length, "skip_bad": o.skip_bad}
        path = cache_file(OWNER, identity) if o.cache else None
        if path is not None and not writable_cache(path):
            logger.warning(f"{OWNER}: the cache folder {path.parent} cannot be written; keeping the frames in memory")
            path = None
        key = ""
        if path is not None:
            try:
                key = digest({**identity, "clips": [[row["clip"], [file_signature(f, self.root) for f in source_files(p)]]
                                                    for _, row, p in sources]})
            except OSError as exc:
                raise DataError(f"{OWNER}: cannot read the clips in {self.root}: {exc}") from None
            cached = open_frames(path, key, hw)
            if cached is not None:
                store, notes = cached
                self.skipped.extend((name, reason) for name, reason in notes.get("skipped", []))
                self.cache_path = path
                return store
        bad: list[tuple[str, str]] = []
        with write_frames(path, key, hw, OWNER) as writer:
            for line, row, source in sources:
                try:
                    writer.store.add(row["clip"], self._load(source))
                except DataError as exc:
                    if not o.skip_bad:
                        raise
                    bad.append((row["clip"], str(exc)))
            if not writer.store.names:
                raise DataError(f"{OWNER}: no usable clip in {self.root}" + skipped_note(self.skipped + bad))
            writer.notes["skipped"] = bad
        self.skipped.extend(bad)
        self.cache_path = path
        return writer.store

    def _load(self, path: Path) -> np.ndarray:
        o = self.options
        frames = read_clip(path, OWNER, o.strip_axis)
        if len(frames) < o.length:
            raise DataError(f"{OWNER}: clip {path} has {len(frames)} frames; expected at least length={o.length} (lower length, or pass skip_bad=True)")
        return square_frames(frames, o.size, o.crop)  # stretching non-square frames when crop="stretch"

    # --- interface ------------------------------------------------------------------

    def describe(self) -> str:
        o = self.options
        labels = self.labels_path if self.labels_path is not None else "no labels file"
        attributes = ", ".join(f"{s.name} ({s.kind})" for s in self.attributes) or "no attributes"
        return (
            f"folder: {len(self.store.names)} clips in {self.root} ({labels}; {attributes}), {o.size}x{o.size}; "
            f"train {len(self._splits['train'])} mini-clips of {o.length} frames, test {len(self._splits['test'])}, seed {o.seed}"
            + skipped_note(self.skipped)
        )


@hookimpl
def register_datasets(register):
    register(OWNER, FolderClips, options=FolderOptions,
             description="your own clips (image strips, frame folders or videos) with a labels.csv")
