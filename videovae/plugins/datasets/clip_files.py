"""One clip on disk in any of the forms users keep them, read into frames ``uint8 [T, H, W, 3]``:
an image strip of square frames, a folder of frame images (natural order of their names) or a
video file. The ``folder`` data set and ``videovae generate --first-frame`` read clips through here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.errors import DataError
from ...io.images import IMAGE_EXTENSIONS, read_image
from ...io.video_files import VIDEO_EXTENSIONS, read_video
from .frames import center_crop_square, resize_frames, split_strip
from .names import natural_key

CLIP_FORMS = "an image strip, a folder of frame images or a video file"


def is_clip_file(path: Path) -> bool:
    """Whether ``path`` has the extension of an image or a video file."""
    return path.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def frame_files(folder: Path, owner: str) -> list[Path]:
    """The frame images of a clip folder in natural order of their names (``f2`` before ``f10``)."""
    paths = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda p: natural_key(p.name))
    if not paths:
        raise DataError(f"{owner}: clip folder {folder} holds no frame images ({', '.join(IMAGE_EXTENSIONS)})")
    return paths


def read_frame_folder(folder: Path, owner: str, limit: int | None = None) -> np.ndarray:
    """The frames of a clip folder (the first ``limit`` of them with ``limit``); all must share one size."""
    paths = frame_files(folder, owner)[:limit]
    frames = []
    for path in paths:
        frame = read_image(path, owner)
        if frames and frame.shape != frames[0].shape:
            raise DataError(f"{owner}: frame {path} is {frame.shape[1]}x{frame.shape[0]} px; the clip's first frame "
                            f"{paths[0].name} is {frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(frame)
    return np.stack(frames)


def read_clip(path: Path, owner: str, strip_axis: str = "horizontal") -> np.ndarray:
    """All frames of the clip at ``path``: a folder of frames, a video file or an image strip cut along ``strip_axis``."""
    if path.is_dir():
        return read_frame_folder(path, owner)
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return read_video(path, owner)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return split_strip(read_image(path, owner), strip_axis, path, owner)
    raise DataError(f"{owner}: {path} is not a clip; expected {CLIP_FORMS}")


def source_files(path: Path) -> list[Path]:
    """The files a clip is read from (the clip file, or the frame images of a clip folder)."""
    if path.is_dir():
        return sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                      key=lambda p: natural_key(p.name))
    return [path]


def square_frames(frames: np.ndarray, size: int, crop: str = "center") -> np.ndarray:
    """Frames ``[T, H, W, 3]`` made ``[T, size, size, 3]``: the centred square (``crop="center"``) or the
    whole frame stretched (``crop="stretch"``), resized with PIL Lanczos."""
    if crop == "center":
        frames = center_crop_square(frames)
    return resize_frames(frames, size)
