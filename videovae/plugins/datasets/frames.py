"""Frame arrays ``uint8 [T, H, W, 3]`` of the file-based data sets: image strips cut into
frames, centre crops and resizing (PIL Lanczos, antialiased)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.errors import DataError


def split_strip(image: np.ndarray, axis: str, path: Path, owner: str) -> np.ndarray:
    """Square frames laid side by side (``horizontal``) or stacked (``vertical``) → ``[T, s, s, 3]``."""
    height, width = image.shape[:2]
    if axis == "horizontal":
        size, total, across = height, width, "wide"
    else:
        size, total, across = width, height, "high"
    if size == 0 or total % size:
        side = "height" if axis == "horizontal" else "width"
        raise DataError(
            f"{owner}: image strip {path} is {width}x{height} px; expected it {across} a whole multiple of its {side} "
            f"({axis} strip of square frames)"
        )
    count = total // size
    if axis == "horizontal":
        return np.ascontiguousarray(image.reshape(size, count, size, 3).transpose(1, 0, 2, 3))
    return np.ascontiguousarray(image.reshape(count, size, size, 3))


def center_crop_square(frames: np.ndarray) -> np.ndarray:
    """The centred square of frames ``[T, H, W, 3]``."""
    height, width = frames.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return frames[:, top : top + side, left : left + side]


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames ``uint8 [T, H, W, 3]`` resized to ``[T, size, size, 3]`` (PIL Lanczos, antialiased)."""
    from PIL import Image

    if frames.shape[1] == size and frames.shape[2] == size:
        return np.ascontiguousarray(frames, dtype=np.uint8)
    out = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.LANCZOS))
    return out
