"""Reading conditioning frames from image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..core.errors import DataError, InputShapeError


def read_frame(path: str | Path, frame_shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as a frame ``[C, H, W]`` in [0, 1]; its size must match ``frame_shape``."""
    path = Path(path)
    channels, height, width = frame_shape
    if not path.is_file():
        raise DataError(f"frame image not found: {path}")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if channels == 3 else "L")
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path} is not a readable image ({exc})") from None
    if array.shape[:2] != (height, width):
        raise InputShapeError(
            f"{path} is {array.shape[1]}x{array.shape[0]} pixels; the model expects {width}x{height} frames"
        )
    tensor = torch.from_numpy(array.copy()).float() / 255.0
    return tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor.unsqueeze(0)
