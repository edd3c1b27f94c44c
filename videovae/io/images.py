"""The one image reader: every image file videovae reads (data set frames and strips, Chair CAD
renders with their alpha mask, GIF frames, a conditioning first frame) goes through
:func:`open_image`, so a missing or broken file is always one line naming it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from ..core.errors import DataError, VideoVAEError, one_line

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

T = TypeVar("T")


def open_image(path: str | Path, read: Callable[[object], T], fail: Callable[[Exception], VideoVAEError]) -> T:
    """``read(image)`` of the PIL image at ``path`` (fully loaded, file closed afterwards); any
    error opening or decoding it becomes ``fail(exc)``, raised without a traceback chain."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return read(image)
    except Exception as exc:  # PIL raises many kinds for broken files
        raise fail(exc) from None


def _has_alpha(image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _to_rgb(image, alpha: str):
    from PIL import Image

    if _has_alpha(image):
        if alpha == "white":
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(canvas, rgba).convert("RGB")
        return image.convert("RGBA").convert("RGB")  # drop alpha
    return image.convert("RGB")


def _unreadable(path, owner: str) -> Callable[[Exception], DataError]:
    def fail(exc: Exception) -> DataError:
        from PIL import Image

        if isinstance(exc, Image.DecompressionBombError):  # the header claims more pixels than PIL will decode
            claimed = next(iter(re.findall(r"\d+", str(exc))), "too many")
            return DataError(f"{owner}: image {path} claims {claimed} pixels, more than the {2 * Image.MAX_IMAGE_PIXELS} "
                             "that are read (a decompression bomb?); expected an image of a sensible size")
        return DataError(f"{owner}: cannot read image {path}: {one_line(exc) or type(exc).__name__}; "
                         "expected a readable image file")

    return fail


def read_image(path: Path, owner: str, alpha: str = "drop") -> np.ndarray:
    """An image file as ``uint8 [H, W, 3]``; alpha is dropped (``"drop"``) or composited on white (``"white"``)."""
    return open_image(path, lambda image: np.asarray(_to_rgb(image, alpha), dtype=np.uint8), _unreadable(path, owner))


def read_alpha_mask(path: Path, owner: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(rgb uint8 [H, W, 3] composited on white, alpha uint8 [H, W] or None)``."""
    def read(image):
        alpha = np.asarray(image.convert("RGBA"))[..., 3] if _has_alpha(image) else None
        return np.asarray(_to_rgb(image, "white"), dtype=np.uint8), alpha

    return open_image(path, read, _unreadable(path, owner))
