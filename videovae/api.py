"""The Python API: build, train, load and sample models with a few calls.

>>> import videovae
>>> result = videovae.train(out_dir="runs/chairs", steps=2000)          # doctest: +SKIP
>>> loaded = videovae.load("runs/chairs/checkpoint.pt")                  # doctest: +SKIP
>>> videos, labels = videovae.generate(loaded, num=4, attributes={"rotation": "cw"})  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from .core.interfaces import VideoModel
from .engine.checkpoint import LoadedCheckpoint, load_checkpoint
from .engine.generation import generate_videos
from .engine.train_config import TrainConfig, TrainResult
from .engine.training import train as train_run
from .registry import get_registry


def train(out_dir: str | Path, config: TrainConfig | None = None, *, resume: bool = False, progress: bool = True,
          resume_from: str | Path | None = None, **overrides: Any) -> TrainResult:
    """Train a model; ``overrides`` are :class:`TrainConfig` fields (``steps=``, ``preset=``, ``dataset=``...).
    ``resume_from`` resumes another checkpoint file of ``out_dir``, e.g. ``checkpoint.prev.pt``."""
    config = config if config is not None else TrainConfig()
    if overrides:
        config = TrainConfig.from_dict({**config.to_dict(), **overrides})
    return train_run(config, out_dir, resume=resume, progress=progress, resume_from=resume_from)


def load(path: str | Path) -> LoadedCheckpoint:
    """A trained model (eval mode) and its checkpoint data."""
    return load_checkpoint(path)


def clip_length(loaded: LoadedCheckpoint) -> int:
    """The clip length a checkpoint was trained on (16 when unknown)."""
    return loaded.clip_length


def generate(model: VideoModel | LoadedCheckpoint, *, num: int = 8, length: int | None = None,
             attributes: Mapping[str, str] | None = None, first_frames: torch.Tensor | None = None,
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``num`` videos ``[num, length, C, H, W]`` and the labels ``[num, length, A]`` that steered them.

    ``attributes`` maps names to a value or a transient schedule (``"walk@0,run@6"``); the
    others are free and drawn from the training distribution. ``first_frames``
    ``[num, C, H, W]`` (or one ``[C, H, W]`` frame for all) are continued; when the checkpoint
    holds an attribute inference net (semi-supervised training), the free attributes are
    inferred from the first frames instead.
    """
    label_table = None
    attribute_net = None
    if isinstance(model, LoadedCheckpoint):
        label_table = model.label_table
        if first_frames is not None and model.checkpoint.attribute_net is not None:
            from .engine.attribute_inference import net_from_payload

            attribute_net = net_from_payload(model.checkpoint.attribute_net, "the checkpoint's attribute_net")
        length = length if length is not None else clip_length(model)
        model = model.model
    length = length if length is not None else 16
    if first_frames is not None and first_frames.ndim == 3:
        first_frames = first_frames.unsqueeze(0).expand(num, *first_frames.shape)
    return generate_videos(model, num=num, length=length, assignments=attributes or {},
                           first_frames=first_frames, label_table=label_table, seed=seed,
                           attribute_net=attribute_net)


def list_components() -> dict[str, list[dict]]:
    """Every registered part by kind: name, plugin, package, description and option names."""
    registry = get_registry()
    return {
        kind: [e.to_dict() for e in registry.entries(kind)]
        for kind in registry.kinds
    }
