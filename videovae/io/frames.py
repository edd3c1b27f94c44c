"""Reading a conditioning frame from an image file (through the one image reader, :mod:`videovae.io.images`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core.errors import DataError, InputShapeError
from .images import open_image


def read_frame(path: str | Path, frame_shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as a frame ``[C, H, W]`` in [0, 1]; its size must match ``frame_shape``."""
    path = Path(path)
    channels, height, width = frame_shape
    if not path.is_file():
        raise DataError(f"frame image not found: {path}")
    array = open_image(path, lambda image: np.asarray(image.convert("RGB" if channels == 3 else "L"), dtype=np.uint8),
                       lambda exc: DataError(f"{path} is not a readable image ({exc})"))
    if array.shape[:2] != (height, width):
        raise InputShapeError(
            f"{path} is {array.shape[1]}x{array.shape[0]} pixels; the model expects {width}x{height} frames"
        )
    tensor = torch.from_numpy(array.copy()).float() / 255.0
    return tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor.unsqueeze(0)
