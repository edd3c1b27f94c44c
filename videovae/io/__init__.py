"""Files in and out: the one atomic-write helper (:mod:`.atomic`), the one image reader
(:mod:`.images`), video files read (:mod:`.video_files`) and generated videos written as animated
GIF, PNG frame grid and H.264 MP4 (:mod:`.video`)."""

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
