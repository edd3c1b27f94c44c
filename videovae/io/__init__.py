"""Output of generated videos: animated GIF, PNG frame grid and H.264 MP4."""

from .video import (
    VideoWriterUnavailable,
    available_formats,
    save_gif,
    save_grid_png,
    save_mp4,
    save_video,
    to_uint8_frames,
)

__all__ = [
    "VideoWriterUnavailable",
    "available_formats",
    "save_gif",
    "save_grid_png",
    "save_mp4",
    "save_video",
    "to_uint8_frames",
]
