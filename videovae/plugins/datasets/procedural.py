"""What the procedural stress data sets share: soft-edged shape rendering, a palette, the
chairs-like split of groups of four clips, and the clip tables built from one uint8 array.

The stress data sets (``moving-sprites``, ``bouncing-balls``) have sparse foreground on a
plain black background: the kind of data on which a model that outputs the background
everywhere already has a small pixel-wise error.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch

from ...core.attributes import AttributeSet
from ...core.errors import ConfigError, DataError
from ...core.interfaces import VideoDataset
from ...core.validators import integer, positive_int

#: saturated colours on black (RGB in [0, 1]); the palette of both stress sets
PALETTE = {
    "red": (1.0, 0.15, 0.1),
    "green": (0.1, 0.9, 0.2),
    "blue": (0.2, 0.35, 1.0),
    "yellow": (1.0, 0.9, 0.1),
    "magenta": (0.95, 0.2, 0.9),
    "cyan": (0.1, 0.9, 0.95),
}
#: clips per group: every group (one object's look) has four motion variants; one is held out for testing
GROUP = 4
MAX_LENGTH = 32
MIN_SIZE, MAX_SIZE = 16, 128


@attrs.frozen
class ProceduralOptions:
    """The options of a stress set; bad values are one-line ConfigErrors (the data set's name is
    added by ``make_options``)."""

    num_clips: int = attrs.field(default=800, validator=positive_int)
    seed: int = attrs.field(default=0, validator=integer)
    size: int = attrs.field(default=32, validator=positive_int)  # the demo preset's frame size
    length: int = attrs.field(default=16, validator=positive_int)  # the chairs' sequence length

    def __attrs_post_init__(self):
        if self.num_clips % GROUP:
            raise ConfigError(f"num_clips must be a positive multiple of {GROUP} (one clip per motion "
                              f"variant of each object), got {self.num_clips}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ConfigError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {self.size}")
        if not 2 <= self.length <= MAX_LENGTH:
            raise ConfigError(f"length must be between 2 and {MAX_LENGTH} frames, got {self.length}")


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x [1, 1, 1, W], y [1, 1, H, 1])`` for broadcasting over [N, T, H, W]."""
    coords = np.arange(size, dtype=np.float32) + 0.5
    return coords[None, None, None, :], coords[None, None, :, None]


def coverage(signed_distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a shape from its signed distance (px, < 0 inside)."""
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


def composite(canvas: np.ndarray, alpha: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Paint ``colours [N, 3]`` with coverage ``alpha [N, T, H, W]`` over ``canvas [N, T, H, W, 3]``."""
    a = alpha[..., None]
    return canvas * (1.0 - a) + a * colours[:, None, None, None, :]


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    return np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)


def held_out_mask(num_clips: int, seed: int) -> np.ndarray:
    """True for test clips: one clip of every group of four, picked at random per group (like the chairs)."""
    groups = num_clips // GROUP
    pick = np.random.default_rng([seed, 1]).integers(0, GROUP, size=groups)
    return (np.arange(GROUP)[None, :] == pick[:, None]).reshape(-1)


class StoredClips(torch.utils.data.Dataset):
    """Items ``(frames [T, 3, H, W] in [0, 1], labels [T, A])`` of rows of one uint8 clip array."""

    def __init__(self, clips: torch.Tensor, rows: np.ndarray, labels: np.ndarray):
        self.clips = clips  # uint8 [N, T, H, W, 3], shared by both splits
        self.rows = torch.as_tensor(rows, dtype=torch.long)
        self.labels = torch.as_tensor(labels, dtype=torch.float32)  # [S, A]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        frames = self.clips[int(self.rows[index])].permute(0, 3, 1, 2).float() / 255.0
        return frames, self.labels[index].expand(frames.shape[0], -1).clone()


@attrs.frozen
class Generated:
    """A generated stress set: clips ``uint8 [N, T, H, W, 3]``, labels ``[N, A]`` (value indices) and
    the number of objects drawn in each clip ``[N]``."""

    clips: np.ndarray
    labels: np.ndarray
    objects: np.ndarray


class ProceduralClips(VideoDataset):
    """Base of the stress sets: subclasses set ``owner``, ``attributes`` and ``options`` and call
    :meth:`_build` with what they generated."""

    owner = "procedural"
    attributes: AttributeSet

    def _build(self, generated: Generated) -> None:
        self.frame_shape = (3, generated.clips.shape[2], generated.clips.shape[3])
        self._clips = torch.from_numpy(generated.clips)
        self._labels = generated.labels.astype(np.float32)
        #: objects drawn per clip (not an attribute: e.g. one or two balls)
        self.objects = torch.from_numpy(generated.objects)
        test = held_out_mask(len(generated.clips), self.options.seed)
        rows = np.arange(len(generated.clips))
        self._rows = {"train": rows[~test], "test": rows[test]}

    def split(self, name: str) -> StoredClips:
        if name not in self._rows:
            raise DataError(f"{self.owner} has splits {', '.join(self._rows)}, got {name!r}")
        rows = self._rows[name]
        return StoredClips(self._clips, rows, self._labels[rows])

    def label_rows(self, name: str) -> torch.Tensor:
        return self.split(name).labels.clone()

    def describe(self) -> str:
        o = self.options
        return (f"{self.owner}: {o.num_clips} clips ({len(self._rows['train'])} train, {len(self._rows['test'])} test), "
                f"{o.size}x{o.size}, {o.length} frames, seed {o.seed}")
