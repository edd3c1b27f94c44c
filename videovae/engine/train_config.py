"""The settings of a training run (:class:`TrainConfig`, stored in every checkpoint), its result and the
device it runs on."""

from __future__ import annotations

from pathlib import Path

import attrs
import torch

from ..core.config import make_config
from ..core.errors import ConfigError
from ..plugins.presets import size_fields
from ..core.validators import (mapping, non_negative_float, non_negative_int, optional_path, path_text, positive_float,
                               positive_int, string, to_float, unit_fraction)

CHECKPOINT_NAME = "checkpoint.pt"
#: TrainConfig fields added after checkpoints were first written, with the value those runs trained with
STORED_TRAIN_DEFAULTS = {"spike_clip": 0.0}


@attrs.frozen
class TrainConfig:
    """Everything a training run depends on; stored in every checkpoint."""

    preset: str = attrs.field(default="videovae", validator=string)
    model: dict = attrs.field(factory=dict, validator=mapping)  # ModelConfig overrides
    # named model sizes applied to the preset before the overrides (tiny, demo, paper; None: the preset's)
    size: str | None = attrs.field(default=None, validator=lambda _, __, value: size_fields(value))
    dataset: str = attrs.field(default="synthetic-chairs", validator=string)
    dataset_options: dict = attrs.field(factory=dict, validator=mapping)
    data_root: str | None = attrs.field(default=None, converter=path_text, validator=optional_path)
    # The one training recipe (README, "Design decisions"): measured at 32×32 on the built-in chairs, Weizmann
    # and the two stress sets (docs/own_data.md); A.4's own settings were lr 1e-4, batch 16, no warm-up.
    steps: int = attrs.field(default=3000, validator=positive_int)
    batch_size: int = attrs.field(default=8, validator=positive_int)
    lr: float = attrs.field(default=1e-3, converter=to_float, validator=positive_float)
    kl_weight: float = attrs.field(default=1.0, converter=to_float, validator=non_negative_float)
    kl_warmup: int = attrs.field(default=200, validator=non_negative_int)  # steps of linear β ramp from 0
    grad_clip: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_float)
    # clip a gradient norm above this many times the median of the last 100 steps' (0: off; engine.optimization)
    spike_clip: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_float)
    seed: int = attrs.field(default=0, validator=non_negative_int)
    device: str = attrs.field(default="auto", validator=string)
    log_every: int = attrs.field(default=10, validator=positive_int)
    sample_every: int = attrs.field(default=0, validator=non_negative_int)
    checkpoint_every: int = attrs.field(default=100, validator=non_negative_int)
    time_limit: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_float)
    num_samples: int = attrs.field(default=8, validator=positive_int)
    threads: int = attrs.field(default=0, validator=non_negative_int)
    # semi-supervised attribute inference (Sec. 4.1): with labelled_fraction < 1, stage 1 trains
    # φ_att on that fraction of the training clips and infers the labels of the others
    labelled_fraction: float = attrs.field(default=1.0, converter=to_float, validator=unit_fraction)
    inference_steps: int = attrs.field(default=1500, validator=positive_int)
    inference_lr: float = attrs.field(default=1e-3, converter=to_float, validator=positive_float)
    # frame-autoencoder steps of the attribute net's encoder on all training clips before its supervised steps
    inference_pretrain_steps: int = attrs.field(default=1500, validator=non_negative_int)
    # then steps on the labelled clips plus the unlabelled ones the net labels confidently (self-training)
    inference_self_training_steps: int = attrs.field(default=1000, validator=non_negative_int)
    # DataLoader worker processes that load the training clips (0: in the training process)
    workers: int = attrs.field(default=0, validator=non_negative_int)
    # the held-out loss every val_every steps (None: 10 x log_every; 0: never) on val_clips clips
    val_every: int | None = attrs.field(default=None, validator=attrs.validators.optional(non_negative_int))
    val_clips: int = attrs.field(default=64, validator=positive_int)

    #: fields that may change when a run is resumed; the others define the run
    RESUMABLE = ("steps", "time_limit", "log_every", "sample_every", "checkpoint_every", "device", "num_samples", "threads",
                 "workers", "val_every", "val_clips")
    #: optimiser settings a resumed run may change on request (to go on from the last good checkpoint of a
    #: run that diverged); each change is recorded with its step in the checkpoint's ``adjustments``
    ADJUSTABLE = ("lr", "grad_clip", "spike_clip")

    @property
    def validation_interval(self) -> int:
        """Steps between two validation rows (0: no validation)."""
        return 10 * self.log_every if self.val_every is None else self.val_every

    def model_overrides(self) -> dict:
        """The ModelConfig fields this run sets on its preset: the named ``size``'s, then ``model``'s."""
        return {**size_fields(self.size), **self.model}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return make_config(cls, data)

    @classmethod
    def from_stored(cls, data: dict) -> "TrainConfig":
        """A checkpoint's stored config, the fields it predates filled in as it trained (``STORED_TRAIN_DEFAULTS``)."""
        return cls.from_dict({**STORED_TRAIN_DEFAULTS, **data})

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen(eq=False)
class TrainResult:
    step: int
    history: list
    checkpoint: Path
    stopped_by_time_limit: bool
    seconds: float

    @property
    def last_losses(self) -> dict:
        """The last training row of ``history`` (validation rows skipped); empty when there is none."""
        return next((row for row in reversed(self.history) if "loss" in row), {})


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for but CUDA is not available here; use --device cpu")
    return device


__all__ = ["CHECKPOINT_NAME", "TrainConfig", "TrainResult", "resolve_device"]
