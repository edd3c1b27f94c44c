"""Weizmann Human Action (Sec. 5.1), from the 64×64 strip layout of the MoCoGAN repository.

Layout (``<root>``)::

    clips/NNNNNNNN.jpg   one clip per file: frames side by side, left to right (RGBA JPEG; alpha dropped)
    labels.csv           clip, action, performer (empty = unknown), mirror_of, frames

Protocol of the paper: the first 2/3 of each clip's frames (``2 * frames // 3``
of them) are for training, the rest (the last 1/3) for testing.
Training items are ``clips_per_video`` mini-clips of ``length`` frames whose
starts are drawn without replacement from the training part by a generator
seeded with ``seed`` and the clip name (all possible windows when there are
fewer). Test items are the non-overlapping windows of ``length`` frames that
start at the test part's first frame (``test_clips="windows"``, the default;
frames left over at its end are unused), or only the window at its first frame
(``test_clips="first"``: one test sequence per clip, for first-frame conditioned
generation). Since every clip is split by time, a mirror and its original have
their training frames in train and their test frames in test: nothing of a test
frame, mirrored or not, is in train.

Attributes: ``action`` and ``performer`` (values from ``labels.csv``; a missing
performer is NaN). All frames are held in memory as uint8 (about 70 MB).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options
from ...core.errors import DataError
from ...core.validators import boolean, choice, integer, positive_int
from ...registry import hookimpl
from ...io.images import read_image
from .clips import ClipStore, ItemBuilder
from .frames import resize_frames, split_strip
from .labels_csv import read_labels_csv
from .names import natural_sorted
from .sampling import sample_starts, stable_rng, window_starts
from .splits import TEST_CLIP_MODES, StoredSplits, require_dir, skipped_note

OWNER = "weizmann"
COLUMNS = ("clip", "action", "performer", "mirror_of", "frames")
LAYOUT = "a folder with clips/NNNNNNNN.jpg image strips and labels.csv (clip, action, performer, mirror_of, frames)"


def train_frames(n_frames: int) -> int:
    """Frames in the training part of a clip of ``n_frames`` (the first 2/3, rounded down)."""
    return 2 * n_frames // 3


@attrs.frozen
class WeizmannOptions:
    length: int = attrs.field(default=10, validator=positive_int)
    clips_per_video: int = attrs.field(default=20, validator=positive_int)
    include_mirrors: bool = attrs.field(default=True, validator=boolean)
    test_clips: str = attrs.field(default="windows", validator=choice(*TEST_CLIP_MODES))
    size: int = attrs.field(default=64, validator=positive_int)
    seed: int = attrs.field(default=0, validator=integer)
    skip_bad: bool = attrs.field(default=False, validator=boolean)


class Weizmann(StoredSplits):
    owner = OWNER
    #: the joint label of the evaluation classifier (Sec. 5.2)
    evaluation_attributes = ("action", "performer")
    #: the four actions are cyclic: played backwards a clip shows the same action and performer
    time_reversal: dict = {}
    #: the action is in the motion; the performer in the look
    motion_attributes = ("action",)

    def __init__(self, root: str | Path | None = None, options: WeizmannOptions | None = None, **keywords):
        o = self.options = given_options(WeizmannOptions, options, keywords, f"dataset {OWNER!r}")
        self.root = require_dir(root, OWNER, LAYOUT)
        clips_dir = self.root / "clips"
        if not clips_dir.is_dir():
            raise DataError(f"{OWNER}: {self.root} has no clips/ folder; expected {LAYOUT}")
        labels_path = self.root / "labels.csv"
        _, rows = read_labels_csv(labels_path, OWNER, COLUMNS)
        if not rows:
            raise DataError(f"{OWNER}: {labels_path} lists no clips")
        by_name = {row["clip"]: (line, row) for line, row in rows}
        for line, row in rows:
            if not row["frames"].isdigit() or int(row["frames"]) < 1:
                raise DataError(f"{OWNER}: {labels_path} line {line}: frames must be a positive integer, got {row['frames']!r}")
            original = row["mirror_of"]
            if original:
                if original not in by_name:
                    raise DataError(f"{OWNER}: {labels_path} line {line}: mirror_of {original!r} is not a clip of this table")
                if by_name[original][1]["frames"] != row["frames"]:
                    raise DataError(
                        f"{OWNER}: {labels_path} line {line}: clip {row['clip']} has {row['frames']} frames but its original "
                        f"{original} has {by_name[original][1]['frames']}; a mirror must have its original's frames"
                    )

        actions = natural_sorted({row["action"] for _, row in rows if row["action"]})
        performers = natural_sorted({row["performer"] for _, row in rows if row["performer"]})
        if not actions or not performers:
            raise DataError(f"{OWNER}: {labels_path} has no action or no performer labels")
        self.attributes = AttributeSet((AttributeSpec("action", values=actions), AttributeSpec("performer", values=performers)))
        self.frame_shape = (3, o.size, o.size)

        self.skipped: list[tuple[str, str]] = []
        listed = set(by_name)
        for path in sorted(clips_dir.iterdir()):
            if path.suffix.lower() == ".jpg" and path.stem not in listed:
                self.skipped.append((path.stem, f"{path} is not listed in {labels_path}"))

        store = ClipStore()
        train, test = ItemBuilder(2, o.length), ItemBuilder(2, o.length)
        self.num_mirrors = self.excluded_mirrors = self.unlabelled_clips = 0
        for line, row in rows:
            name = row["clip"]
            if row["mirror_of"] and not o.include_mirrors:
                self.excluded_mirrors += 1
                continue
            try:
                frames = self._load(clips_dir / f"{name}.jpg", int(row["frames"]), f"{labels_path} line {line}")
            except DataError as exc:
                if not o.skip_bad:
                    raise
                self.skipped.append((name, str(exc)))
                continue
            labels = np.array([self._label(0, row["action"]), self._label(1, row["performer"])], dtype=np.float32)
            self.num_mirrors += bool(row["mirror_of"])
            self.unlabelled_clips += bool(np.isnan(labels).any())
            n_train = train_frames(len(frames))
            clip_id = store.add(name, frames)
            train.windows(store, clip_id, 0, sample_starts(n_train, o.length, o.clips_per_video, stable_rng(o.seed, name)), labels)
            test.windows(store, clip_id, n_train, window_starts(len(frames) - n_train, o.length, o.test_clips), labels)
        if not store.names:
            raise DataError(f"{OWNER}: no usable clip in {self.root}" + skipped_note(self.skipped))
        self.store = store.finish((o.size, o.size))
        self._splits = {"train": train.build(store), "test": test.build(store)}

    def _label(self, column: int, text: str) -> float:
        return self.attributes.specs[column].parse(text) if text else float("nan")

    def _load(self, path: Path, expected: int, where: str) -> np.ndarray:
        o = self.options
        if not path.is_file():
            raise DataError(f"{OWNER}: clip file {path} (listed on {where}) not found; expected {LAYOUT}")
        frames = split_strip(read_image(path, OWNER, alpha="drop"), "horizontal", path, OWNER)
        if len(frames) != expected:
            raise DataError(f"{OWNER}: {path} holds {len(frames)} frames but {where} says frames={expected}")
        n_train = train_frames(len(frames))
        if min(n_train, len(frames) - n_train) < o.length:
            raise DataError(
                f"{OWNER}: clip {path.stem} has {len(frames)} frames, split {n_train} train / {len(frames) - n_train} test; "
                f"both parts need at least length={o.length} frames (lower length, or pass skip_bad=True)"
            )
        return resize_frames(frames, o.size)

    def describe(self) -> str:
        o = self.options
        n = len(self.store.names)
        mirrors = f"{self.num_mirrors} mirrors" if o.include_mirrors else f"{self.excluded_mirrors} mirrors excluded"
        return (
            f"weizmann: {n} clips ({mirrors}; {self.unlabelled_clips} without performer), "
            f"{len(self.attributes.spec('action').values)} actions, {len(self.attributes.spec('performer').values)} performers, "
            f"{o.size}x{o.size}; train {len(self._splits['train'])} mini-clips of {o.length} frames "
            f"(up to {o.clips_per_video} per clip from its first 2/3), test {len(self._splits['test'])} "
            f"({'non-overlapping windows of' if o.test_clips == 'windows' else 'first window of'} its last 1/3), seed {o.seed}"
            + skipped_note(self.skipped)
        )


@hookimpl
def register_datasets(register):
    register(OWNER, Weizmann, options=WeizmannOptions,
             description="Weizmann Human Action, 64x64 strips (MoCoGAN layout): action, performer")
