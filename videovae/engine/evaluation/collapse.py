"""Collapse marks of evaluated models: :func:`videovae.engine.health.check_health` on the real test clips,
against the mean frame of the training split.

A model that settled on one frame for every clip can still score well on PSNR/SSIM on sparse data
(issue 21: all-black frames got 22.7 dB / 0.78 on small objects on black), so each model's rows carry
its ``health`` (:meth:`~videovae.engine.health.Health.as_row`) and the table marks the rows of a model
for which a check failed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.errors import DataError
from ...core.interfaces import VideoDataset
from ..data import validation_indices
from ..health import Health, check_health
from .protocol import EvalProtocol


class _Cropped(torch.utils.data.Dataset):
    """A split whose clips are cut to their first ``length`` frames (test clips may differ in length)."""

    def __init__(self, split, length: int):
        self.split, self.length = split, length

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        frames, labels = self.split[index]
        return frames[:self.length], labels[:self.length]


def model_health(loaded, dataset: VideoDataset, protocol: EvalProtocol, references: tuple[Tensor, Tensor],
                 clips: int) -> Health:
    """:func:`check_health` of a loaded checkpoint's model on up to ``clips`` real test clips spread evenly over
    the test split (``protocol.length`` frames each), its draws from the protocol's seed."""
    test = dataset.split("test")
    if len(test) == 0:
        raise DataError("the data set's test split is empty")
    model = loaded.model
    device = next(model.parameters()).device
    return check_health(model, _Cropped(test, protocol.length), validation_indices(len(test), clips),
                        references=references, label_table=loaded.label_table, step=loaded.step, seed=protocol.seed,
                        device=device)


def collapsed_seeds(results: dict) -> dict[str, str]:
    """``{training seed: warning}`` of the per-seed rows (``{seed: row}``) whose health check failed."""
    return {seed: row["health"]["health_warning"] for seed, row in results.items()
            if "health_warning" in row.get("health", {})}
