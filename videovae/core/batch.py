"""The video batch value object."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor

from .errors import InputShapeError


@attrs.frozen(eq=False)
class VideoBatch:
    """Frames ``[B, T, C, H, W]`` in [0, 1] and per-frame labels ``[B, T, A]`` (NaN = missing)."""

    frames: Tensor
    labels: Tensor

    def __attrs_post_init__(self):
        if self.frames.ndim != 5:
            raise InputShapeError(f"expected frames of shape [B, T, C, H, W], got {tuple(self.frames.shape)}")
        if self.labels.ndim != 3 or self.labels.shape[:2] != self.frames.shape[:2]:
            raise InputShapeError(
                f"expected labels of shape [B, T, A] = [{self.frames.shape[0]}, {self.frames.shape[1]}, A], got {tuple(self.labels.shape)}"
            )

    @property
    def batch_size(self) -> int:
        return self.frames.shape[0]

    @property
    def length(self) -> int:
        return self.frames.shape[1]

    def to(self, device: torch.device | str) -> "VideoBatch":
        return VideoBatch(self.frames.to(device), self.labels.to(device))

    @classmethod
    def collate(cls, items: list[tuple[Tensor, Tensor]]) -> "VideoBatch":
        """Stack ``(frames [T,C,H,W], labels [T,A])`` pairs from a data set into one batch."""
        return cls(torch.stack([f for f, _ in items]), torch.stack([l for _, l in items]))
