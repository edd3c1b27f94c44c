"""Reading video files into frame arrays ``uint8 [T, H, W, 3]`` (PyAV; GIFs through the image
reader when PyAV is missing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import DataError, one_line
from .images import open_image

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".gif", ".mkv", ".webm")


def read_video(path: Path, owner: str, limit: int | None = None) -> np.ndarray:
    """The frames of a video file (all, or the first ``limit``) as ``uint8 [T, H, W, 3]`` (PyAV; GIFs fall
    back to PIL)."""
    try:
        import av
    except ImportError:
        if path.suffix.lower() == ".gif":
            return _read_gif(path, owner, limit)
        raise DataError(f"{owner}: reading video {path} needs PyAV: pip install av") from None
    try:
        with av.open(str(path)) as container:
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if limit is not None and len(frames) >= limit:
                    break
    except Exception as exc:
        raise DataError(f"{owner}: cannot read video {path}: {one_line(exc) or type(exc).__name__}; expected a readable video file") from None
    if not frames:
        raise DataError(f"{owner}: video {path} has no frames")
    return np.stack(frames).astype(np.uint8, copy=False)


def _read_gif(path: Path, owner: str, limit: int | None = None) -> np.ndarray:
    from itertools import islice

    from PIL import ImageSequence

    frames = open_image(
        path, lambda image: [np.asarray(frame.convert("RGB"), dtype=np.uint8)
                             for frame in islice(ImageSequence.Iterator(image), limit)],
        lambda exc: DataError(f"{owner}: cannot read GIF {path}: {one_line(exc) or type(exc).__name__}"))
    return np.stack(frames)
