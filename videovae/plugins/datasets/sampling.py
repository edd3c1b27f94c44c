"""Which mini-clips a data set cuts: seeded per clip name (independent of the order clips are
read in), non-overlapping test windows, and seeded train/test splits of names."""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np


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
