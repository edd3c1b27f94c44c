"""The frame a generated clip continues (``videovae generate --first-frame``), read from an image, an
image strip, a folder of frame images or a video file (the readers of the ``folder`` data set), and
fitted to the model's frames: the first frame of a clip is used, and a frame of another size is
centre-cropped to a square and resized (PIL Lanczos), with one logged line saying what was done."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ..core.errors import DataError
from ..io.images import IMAGE_EXTENSIONS, read_image
from ..io.video_files import VIDEO_EXTENSIONS, read_video
from ..plugins.datasets.clip_files import CLIP_FORMS, frame_files, square_frames

logger = logging.getLogger(__name__)

OWNER = "first frame"


def _strip_frame(image: np.ndarray, path: Path) -> tuple[np.ndarray, str]:
    """The first square of an image strip (width or height a whole multiple, ≥ 2, of the other side), or
    the whole image; and where it came from."""
    height, width = image.shape[:2]
    if width >= 2 * height and width % height == 0:
        return image[:, :height], f"frame 1 of the horizontal strip {path} ({width // height} frames)"
    if height >= 2 * width and height % width == 0:
        return image[:width], f"frame 1 of the vertical strip {path} ({height // width} frames)"
    return image, str(path)


def _read(path: Path) -> tuple[np.ndarray, str]:
    """The first frame ``uint8 [H, W, 3]`` of whatever ``path`` holds, and where it came from."""
    if path.is_dir():
        paths = frame_files(path, OWNER)
        return read_image(paths[0], OWNER), f"{paths[0].name}, the first of {len(paths)} frames in {path}"
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return read_video(path, OWNER, limit=1)[0], f"the first frame of the video {path}"
    if suffix in IMAGE_EXTENSIONS:
        return _strip_frame(read_image(path, OWNER), path)
    raise DataError(f"{OWNER}: {path} is not an image or a clip; expected an image, {CLIP_FORMS} "
                    f"({', '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})")


def read_first_frame(path: str | Path, frame_shape: tuple[int, int, int]) -> torch.Tensor:
    """The frame ``[C, H, W]`` in [0, 1] to continue, from the image or clip at ``path``, fitted to the
    model's ``frame_shape`` (square frames): centre-cropped and resized when its size differs."""
    path = Path(path)
    channels, height, width = frame_shape
    if channels not in (1, 3):
        raise DataError(f"{OWNER}: the model takes frames of {channels} channels; images give 1 (grey) or 3 (RGB)")
    if not path.exists():
        raise DataError(f"{OWNER}: {path} does not exist; expected an image, {CLIP_FORMS}")
    frame, source = _read(path)
    notes = []
    if frame.shape[:2] != (height, width):
        h, w = frame.shape[:2]
        side = min(h, w)
        crop = f"centre-cropped to {side}x{side} and " if h != w else ""
        notes.append(f"{w}x{h} px, {crop}resized to the model's {width}x{height}")
        frame = square_frames(frame[None], height, "center")[0]
    if source != str(path) or notes:
        logger.info(f"first frame: {'; '.join([source, *notes])}")
    if channels == 1:
        from PIL import Image

        frame = np.asarray(Image.fromarray(frame).convert("L"))[..., None]
    return torch.from_numpy(np.array(frame, dtype=np.uint8)).permute(2, 0, 1).float().div_(255.0)  # a copy: writable
