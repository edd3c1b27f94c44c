"""The on-disk cache of prepared data sets (``$VIDEOVAE_CACHE``, default ``~/.cache/videovae``):
arrays with a JSON note beside them, each written atomically; an unwritable cache only costs time."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...io.atomic import atomic_path


def cache_dir() -> Path:
    return Path(os.environ.get("VIDEOVAE_CACHE", Path.home() / ".cache" / "videovae"))


def digest(data: Any) -> str:
    """A stable hex digest of JSON-able ``data`` (keys sorted, anything else by ``str``): the name of a
    cache entry keyed by ``data``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> bool:
    try:
        with atomic_path(path) as tmp, open(tmp, mode) as handle:
            write(handle)
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
