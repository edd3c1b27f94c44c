"""Write generated videos to GIF, PNG-grid and MP4 files.

Videos are float arrays (``torch.Tensor`` or ``numpy.ndarray``) of shape
``[T, C, H, W]`` with values in ``[0, 1]`` and ``C`` in ``{1, 3}``; a batch is
``[B, T, C, H, W]``. Every writer is atomic: it encodes into a hidden
temporary file next to the target and moves it into place (:mod:`videovae.io.atomic`), so a
failed write never leaves a partial file or clobbers an existing one.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.errors import ConfigError, VideoVAEError
from .atomic import atomic_path

__all__ = [
    "VideoWriterUnavailable",
    "available_formats",
    "gif_bytes",
    "save_gif",
    "save_grid_png",
    "save_mp4",
    "save_video",
    "to_uint8_frames",
]

_WHITE = 255


class VideoWriterUnavailable(VideoVAEError, RuntimeError):
    """Raised when the optional encoder backend (PyAV) is not installed."""


def _to_numpy(video) -> np.ndarray:
    if hasattr(video, "detach"):  # torch.Tensor, without importing torch
        video = video.detach().cpu()
        if video.is_floating_point():
            video = video.float()  # bfloat16/half have no numpy equivalent
        video = video.numpy()
    return np.asarray(video)


def to_uint8_frames(video) -> np.ndarray:
    """Convert one video ``[T, C, H, W]`` (float in [0, 1], ``C`` = 1 or 3) to uint8 ``[T, H, W, 3]``.

    Accepts a ``torch.Tensor`` (any device, grad or not) or a numpy array.
    Float values are clipped to [0, 1] and rounded; uint8 input is used as is;
    single-channel video is repeated to RGB. Raises a one-line ``ValueError``
    on a wrong ndim, a channel count other than 1 or 3, an empty time/space
    axis, or non-finite values.
    """
    arr = _to_numpy(video)
    if arr.ndim != 4:
        raise ValueError(f"expected a video of shape [T,C,H,W] (ndim 4), received shape {tuple(arr.shape)} (ndim {arr.ndim})")
    t, c, h, w = arr.shape
    if c not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels in [T,C,H,W], received C={c} (shape {tuple(arr.shape)})")
    if t == 0 or h == 0 or w == 0:
        raise ValueError(f"expected a non-empty video (T, H, W > 0), received shape {tuple(arr.shape)}")
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            bad = int(arr.size - np.isfinite(arr).sum())
            raise ValueError(f"expected finite values in [0,1], received {bad} non-finite (NaN/inf) entries")
        arr = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    arr = arr.transpose(0, 2, 3, 1)
    if c == 1:
        arr = np.repeat(arr, 3, axis=3)
    return np.ascontiguousarray(arr)


def _uint8_batch(videos, allow_single: bool = True) -> list[np.ndarray]:
    """Return a list of uint8 ``[T, H, W, 3]`` arrays from ``[T,C,H,W]`` or ``[B,T,C,H,W]``."""
    arr = _to_numpy(videos)
    if arr.ndim == 4 and allow_single:
        return [to_uint8_frames(arr)]
    if arr.ndim != 5:
        want = "[T,C,H,W] or [B,T,C,H,W]" if allow_single else "[B,T,C,H,W]"
        raise ValueError(f"expected a video of shape {want}, received shape {tuple(arr.shape)} (ndim {arr.ndim})")
    if arr.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch (B > 0), received shape {tuple(arr.shape)}")
    return [to_uint8_frames(v) for v in arr]


def _tile_side_by_side(videos: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Tile same-shape ``[T, H, W, 3]`` videos horizontally with a white gap."""
    if len(videos) == 1:
        return videos[0]
    t, h, _, _ = videos[0].shape
    spacer = np.full((t, h, gap, 3), _WHITE, dtype=np.uint8)
    parts = [videos[0]]
    for v in videos[1:]:
        parts += [spacer, v]
    return np.concatenate(parts, axis=2)


#: the frame rates every writer can store (a GIF keeps each frame's duration in 16 bits of centiseconds)
FPS_RANGE = (0.01, 1000.0)


def check_fps(fps: float, name: str = "fps") -> float:
    """``fps`` as a float, or a one-line :class:`ConfigError` naming ``name`` unless it is a number in
    :data:`FPS_RANGE`."""
    low, high = FPS_RANGE
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(fps, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g}, got {fps!r}")
    return value


def save_gif(video, path, fps: float = 8.0) -> Path:
    """Save a video ``[T,C,H,W]`` or a batch ``[B,T,C,H,W]`` as one looping animated GIF.

    A batch is tiled side by side with a 2-px white gap. Frame duration is
    ``1000 / fps`` ms (GIF stores centiseconds). Note that Pillow merges
    consecutive identical frames into one longer frame. Returns the path.
    """
    encode = _gif_encoder(video, fps)  # bad input is refused before anything is written
    with atomic_path(path) as tmp:
        encode(tmp)
    return Path(path)


def gif_bytes(video, fps: float = 8.0) -> bytes:
    """The GIF :func:`save_gif` writes, as bytes (e.g. for a TensorBoard image summary, which shows it animated)."""
    buffer = io.BytesIO()
    _gif_encoder(video, fps)(buffer)
    return buffer.getvalue()


def _gif_encoder(video, fps: float) -> Callable[[Any], None]:
    """Check and convert ``video`` now; the function returned encodes it into a path or a binary file object."""
    fps = check_fps(fps)
    images = [Image.fromarray(f) for f in _tile_side_by_side(_uint8_batch(video))]
    return lambda target: images[0].save(target, format="GIF", save_all=True, append_images=images[1:],
                                         duration=max(1, round(1000.0 / fps)), loop=0)


def save_grid_png(videos, path, gap: int = 2, row_labels: list[str] | None = None) -> Path:
    """Save a batch ``[B,T,C,H,W]`` as a PNG grid: one row per video, one column per frame.

    Cells are separated by ``gap`` white pixels. With ``row_labels`` (one string
    per video) a left margin holds each row's label in PIL's default font.
    A single video ``[T,C,H,W]`` is drawn as one row. Returns the path.
    """
    batch = _uint8_batch(videos)
    if gap < 0:
        raise ValueError(f"expected gap >= 0, received {gap}")
    if row_labels is not None and len(row_labels) != len(batch):
        raise ValueError(f"expected {len(batch)} row_labels (one per video), received {len(row_labels)}")
    t, h, w, _ = batch[0].shape
    font = ImageFont.load_default()
    margin = 0
    if row_labels is not None:
        measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        margin = max(measure.textbbox((0, 0), str(s), font=font)[2] for s in row_labels) + 2 * max(gap, 4)
    grid = np.full((len(batch) * (h + gap) - gap, margin + t * (w + gap) - gap, 3), _WHITE, dtype=np.uint8)
    for i, video in enumerate(batch):
        for j, frame in enumerate(video):
            y, x = i * (h + gap), margin + j * (w + gap)
            grid[y:y + h, x:x + w] = frame
    image = Image.fromarray(grid)
    if row_labels is not None:
        draw = ImageDraw.Draw(image)
        for i, label in enumerate(row_labels):
            # centre via the bbox (no `anchor=`: bitmap fallback fonts reject it)
            _, top, _, bottom = draw.textbbox((0, 0), str(label), font=font)
            draw.text((max(gap, 4), i * (h + gap) + (h - bottom - top) // 2), str(label), fill=(0, 0, 0), font=font)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)


def _import_av():
    try:
        import av
    except ImportError as exc:
        raise VideoWriterUnavailable(f"MP4 output needs PyAV, which is not importable ({exc}); run `pip install av`") from None
    return av


def save_mp4(video, path, fps: float = 8.0) -> Path:
    """Save a video ``[T,C,H,W]`` or a tiled batch ``[B,T,C,H,W]`` as an H.264 MP4 via PyAV.

    Encodes with libx264 in yuv420p; width and height are padded (edge
    pixels repeated) to even sizes as yuv420p requires. Raises
    ``VideoWriterUnavailable`` if PyAV is not installed. Returns the path.
    """
    av = _import_av()
    fps = check_fps(fps)
    frames = _tile_side_by_side(_uint8_batch(video))
    _, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode(None))
    return Path(path)


def available_formats() -> tuple[str, ...]:
    """Return the formats this machine can write: ``("gif", "png")`` plus ``"mp4"`` when PyAV imports."""
    try:
        _import_av()
    except VideoWriterUnavailable:
        return ("gif", "png")
    return ("gif", "png", "mp4")


_WRITERS = {".gif": save_gif, ".mp4": save_mp4}


def save_video(video, path, fps: float = 8.0) -> Path:
    """Save ``video`` choosing the writer from the suffix: ``.gif``, ``.png`` (grid; ``fps`` unused) or ``.mp4``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return save_grid_png(video, path)
    if suffix not in _WRITERS:
        raise ValueError(f"unsupported video suffix {suffix or '(none)'!r} for {str(path)!r}; supported: .gif, .png, .mp4")
    return _WRITERS[suffix](video, path, fps=fps)
