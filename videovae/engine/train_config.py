"""The settings of a training run (:class:`TrainConfig`, stored in every checkpoint), its result and the
device it runs on."""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import torch

from ..core.config import make_config
from ..core.errors import ConfigError
from ..plugins.presets import size_fields
from ..core.validators import (choice, mapping, non_negative_float, non_negative_int, optional_path, path_text,
                               positive_float, positive_int, string, to_float, unit_fraction)

CHECKPOINT_NAME = "checkpoint.pt"
#: TrainConfig fields added after checkpoints were first written, with the value those runs trained with
STORED_TRAIN_DEFAULTS = {"spike_clip": 0.0, "precision": "fp32", "inference_shift": 0, "lr_schedule": "constant",
                         "inference_relabel_every": 0}
#: where ``lr_schedule="cosine"`` ends, as a fraction of ``lr``
LR_FLOOR = 0.01


@attrs.frozen
class TrainConfig:
    """Everything a training run depends on; stored in every checkpoint.

    Each field's ``metadata`` holds the help text of its ``videovae train`` flag (``help``; the flag is the
    field's name with dashes unless ``flag`` names another), from which :mod:`videovae.cli_parser` makes the
    flags.
    """

    preset: str = attrs.field(default="videovae", validator=string, metadata={
        "help": "model preset: a composition of parts and sizes (videovae plugins lists them)"})
    model: dict = attrs.field(factory=dict, validator=mapping, metadata={
        "flag": "--set", "metavar": "FIELD=VALUE",
        "help": "override a model field (ModelConfig), e.g. --set latent_dim=64 --set sampler=unconditional; repeatable"})
    size: str | None = attrs.field(default=None, validator=lambda _, __, value: size_fields(value), metadata={
        "help": "model sizes for any preset, applied before --set: tiny (32x32, 16-d), demo (32x32, 128-d) or paper "
                "(A.4: 64x64, 512-d) (default: the preset's own)"})
    dataset: str = attrs.field(default="synthetic-chairs", validator=string, metadata={"help": "data set name"})
    dataset_options: dict = attrs.field(factory=dict, validator=mapping, metadata={
        "flag": "--dataset-option", "metavar": "KEY=VALUE",
        "help": "data set option, e.g. --dataset-option num_objects=200; repeatable"})
    data_root: str | None = attrs.field(default=None, converter=path_text, validator=optional_path, metadata={
        "metavar": "FOLDER", "help": "folder of the data set's files (default: the data set's own)"})
    # The one training recipe (README, "Design decisions"): measured at 32×32 on the built-in chairs, Weizmann
    # and the two stress sets (docs/own_data.md); A.4's own settings were lr 1e-4, batch 16, no warm-up.
    steps: int = attrs.field(default=3000, validator=positive_int, metadata={"help": "training steps"})
    batch_size: int = attrs.field(default=8, validator=positive_int, metadata={
        "help": "clips per batch (per process under torchrun)"})
    # None until the run starts: then the model's own rate (VideoModel.default_lr), stored with the run
    lr: float | None = attrs.field(default=None, converter=attrs.converters.optional(to_float),
                                   validator=attrs.validators.optional(positive_float), metadata={
        "help": "learning rate of Adam (default: the model's own, 0.001 for VideoVAE and its ablations, the recipe "
                "measured in docs/own_data.md; 0.0002 for the GAN baselines, their papers')"})
    lr_schedule: str = attrs.field(default="constant", validator=choice("constant", "cosine"), metadata={
        "metavar": "constant|cosine",
        "help": "constant: --lr throughout; cosine: from --lr down to 1% of it at --steps (a run resumed with more "
                "--steps decays over the new total from the step it stands at)"})
    kl_weight: float = attrs.field(default=1.0, converter=to_float, validator=non_negative_float, metadata={
        "help": "beta, the weight of the KL term of Eq. 9 (with --set likelihood=l1: the Laplace scale)"})
    kl_warmup: int = attrs.field(default=200, validator=non_negative_int, metadata={
        "help": "steps over which beta ramps linearly from 0, against posterior collapse (0: none)"})
    grad_clip: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_float, metadata={
        "help": "cap the gradient norm at this value (0: off)"})
    # None until the run starts: then the model's own (VideoModel.default_spike_clip), stored with the run
    spike_clip: float | None = attrs.field(default=None, converter=attrs.converters.optional(to_float),
                                           validator=attrs.validators.optional(non_negative_float), metadata={
        "help": "cut a gradient norm above this many times the median of the last 100 steps' norms (0: off; default: "
                "the model's own: 10 for VideoVAE, its ablations and the Deep Rotator baseline, measured in "
                "docs/own_data.md; 0 for the GAN baselines)"})
    seed: int = attrs.field(default=0, validator=non_negative_int, metadata={
        "help": "random seed (weights, data order, noise)"})
    device: str = attrs.field(default="auto", validator=string, metadata={"help": "auto, cpu or cuda[:N]"})
    precision: str = attrs.field(default="fp32", validator=choice("fp32", "bf16"), metadata={
        "metavar": "fp32|bf16",
        "help": "bf16 runs the forward passes under bf16 autocast (the losses, the weights, Adam's state and the layers "
                "measured slower in bf16 stay fp32), only where bf16 is native: a CPU with avx512_bf16 or amx_bf16, or "
                "a CUDA device that supports it"})
    log_every: int = attrs.field(default=10, validator=positive_int, metadata={
        "help": "steps between training rows of history.jsonl"})
    sample_every: int = attrs.field(default=0, validator=non_negative_int, metadata={
        "help": "steps between sample grids in samples/ (0: at the end only)"})
    checkpoint_every: int = attrs.field(default=100, validator=non_negative_int, metadata={
        "help": "steps between checkpoints (0: at the end only)"})
    time_limit: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_float, metadata={
        "help": "stop after this many seconds of training, with a checkpoint (0: no limit)"})
    num_samples: int = attrs.field(default=8, validator=positive_int, metadata={"help": "videos in each sample grid"})
    threads: int = attrs.field(default=0, validator=non_negative_int, metadata={
        "help": "torch CPU threads (0: torch's default)"})
    # semi-supervised attribute inference (Sec. 4.1): with labelled_fraction < 1, stage 1 trains
    # φ_att on that fraction of the training clips and infers the labels of the others
    labelled_fraction: float = attrs.field(default=1.0, converter=to_float, validator=unit_fraction, metadata={
        "help": "semi-supervised (Sec. 4.1): keep the labels of this fraction of the training clips, infer the "
                "others with an attribute net first (1: use the data's labels)"})
    inference_steps: int = attrs.field(default=1500, validator=positive_int, metadata={
        "help": "supervised training steps of the attribute net"})
    inference_lr: float = attrs.field(default=1e-3, converter=to_float, validator=positive_float, metadata={
        "help": "learning rate of the attribute net"})
    inference_pretrain_steps: int = attrs.field(default=1500, validator=non_negative_int, metadata={
        "help": "autoencoder steps of the attribute net's encoder on all training clips, labelled or not, before "
                "its supervised steps (0: none)"})
    inference_self_training_steps: int = attrs.field(default=1000, validator=non_negative_int, metadata={
        "help": "then steps on the labelled clips plus the unlabelled ones the attribute net labels with "
                "confidence >= 0.9 (0: none)"})
    inference_relabel_every: int = attrs.field(default=0, validator=non_negative_int, metadata={
        "help": "during self-training, label the unlabelled clips again with the attribute net as it is every this "
                "many steps (0: once, before the first)"})
    inference_shift: int | None = attrs.field(default=None, validator=attrs.validators.optional(non_negative_int),
                                              metadata={
        "help": "move each clip of the attribute net's supervised and self-training steps by a random offset of up "
                "to this many pixels, the same for all its frames, edges repeated (0: none; default: none or a fifth "
                "of the frame, whichever labels held-out labelled clips better: docs/attribute_inference.md)"})
    workers: int = attrs.field(default=0, validator=non_negative_int, metadata={
        "help": "DataLoader processes that load the training clips (0: the training process itself); the batches "
                "are the same for any number"})
    val_every: int | None = attrs.field(default=None, validator=attrs.validators.optional(non_negative_int), metadata={
        "help": "steps between held-out losses on the validation split, written to history.jsonl (val_* keys) and "
                "TensorBoard (val/*) (default: 10 x --log-every; 0: never)"})
    val_clips: int = attrs.field(default=64, validator=positive_int, metadata={
        "help": "validation clips scored each time, spread over the split"})

    #: fields that may change when a run is resumed; the others define the run
    RESUMABLE = ("steps", "time_limit", "log_every", "sample_every", "checkpoint_every", "device", "num_samples", "threads",
                 "workers", "val_every", "val_clips")
    #: settings a resumed run may change on request, each change recorded with its step in the checkpoint's
    #: ``adjustments``: the optimiser's (to go on from the last good checkpoint of a run that diverged) and the
    #: precision (to go on with a bf16 run on a machine without native bf16, or the other way round: the
    #: arithmetic changes, so the change is recorded, but the model, the data and Adam's state do not)
    ADJUSTABLE = ("lr", "grad_clip", "spike_clip", "precision")
    #: fields whose None means "decided when the run starts" (lr: the model's ``default_lr``; spike_clip: its
    #: ``default_spike_clip``); a run stores the value it decided, and a resumed run given None keeps it
    RESOLVED_AT_START = ("lr", "spike_clip")

    def resolved_for(self, model) -> "TrainConfig":
        """This config with each RESOLVED_AT_START field left unset taken from ``model``'s class
        (``VideoModel.default_lr``, ``VideoModel.default_spike_clip``)."""
        own = {"lr": type(model).default_lr, "spike_clip": type(model).default_spike_clip}
        return attrs.evolve(self, **{name: own[name] for name in self.RESOLVED_AT_START if getattr(self, name) is None})

    def lr_at(self, step: int) -> float:
        """The learning rate of ``step`` under ``lr_schedule`` (``lr`` resolved): constant, or a half cosine
        from ``lr`` at step 0 to ``LR_FLOOR`` × ``lr`` at ``steps``."""
        if self.lr is None:
            raise ConfigError("lr is decided when the run starts; lr_at needs a resolved config")
        if self.lr_schedule == "constant":
            return self.lr
        progress = min(1.0, step / self.steps)
        return self.lr * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * progress)))

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
    def from_toml(cls, path: str | Path) -> "TrainConfig":
        """The settings of a TOML file: a run's ``config.toml`` or one written by hand with these fields' names
        (:mod:`videovae.engine.run_config`); a one-line :class:`ConfigError` naming the file and the key when
        it cannot be used."""
        from .run_config import read_run_config

        return read_run_config(path)

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
