"""Training: the objective of Eq. 9 with Adam (A.4: learning rate 1e-4), checkpoints and resume.

One process or many (``torchrun``): each process takes its share of every global
batch through a :class:`torch.utils.data.DistributedSampler`, gradients are
averaged over the processes in each update (:mod:`videovae.engine.optimization`), and only rank 0
logs, writes samples and saves checkpoints. Each step is the model's own
:meth:`~videovae.core.VideoModel.training_step` with its named optimizers.

Everything random is reproducible: the data order depends only on (seed, epoch),
the ε of each video's reparameterised samples only on (seed, step, clip index),
so a resumed run continues exactly where it stopped and N processes with batch B
see the same global batch as one process with batch N·B. A resumed run may change the
learning rate and the gradient clipping (``TrainConfig.ADJUSTABLE``), e.g. to go on from
the last good checkpoint of a run that diverged; the checkpoint's ``adjustments`` keep
each change with the step it took effect, and nothing else that defines the run can change.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import attrs
import torch
from torch.utils.data import DistributedSampler

from ..core.batch import VideoBatch
from ..core.config import make_config, positive_int
from ..core.errors import CheckpointError, ConfigError, DataError, TrainingError
from ..core.interfaces import StepContext
from ..io.video import save_grid_png
from ..registry import get_registry
from ..registry.factory import build_model, resolve_config
from . import distributed
from .attribute_inference import NET_FILE, LabelledView, reuse_stage_one, run_stage_one, stage_one_from_payload
from .checkpoint import Checkpoint, model_from_checkpoint, open_checkpoint, save_checkpoint
from .generation import generate_videos
from .optimization import Optimizers, clip_noise, synchronize_model
from .plots import save_loss_curve
from .resume import resume_config

CHECKPOINT_NAME = "checkpoint.pt"


def _non_negative_int(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{attribute.name} must be a non-negative integer, got {value!r}")


def _non_negative_float(instance, attribute, value):
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _positive_float(instance, attribute, value):
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, got {value!r}") from None


def _fraction(instance, attribute, value):
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{attribute.name} must be a number in (0, 1], got {value!r}")


def _mapping(instance, attribute, value):
    if not isinstance(value, dict):
        raise ConfigError(f"{attribute.name} must be a mapping, got {value!r}")


@attrs.frozen
class TrainConfig:
    """Everything a training run depends on; stored in every checkpoint."""

    preset: str = attrs.field(default="videovae", validator=attrs.validators.instance_of(str))
    model: dict = attrs.field(factory=dict, validator=_mapping)  # ModelConfig overrides
    dataset: str = attrs.field(default="synthetic-chairs", validator=attrs.validators.instance_of(str))
    dataset_options: dict = attrs.field(factory=dict, validator=_mapping)
    data_root: str | None = attrs.field(default=None)
    steps: int = attrs.field(default=1000, validator=positive_int)
    batch_size: int = attrs.field(default=16, validator=positive_int)
    lr: float = attrs.field(default=1e-4, converter=_float, validator=_positive_float)
    kl_weight: float = attrs.field(default=1.0, converter=_float, validator=_non_negative_float)
    kl_warmup: int = attrs.field(default=0, validator=_non_negative_int)  # steps of linear β ramp from 0
    grad_clip: float = attrs.field(default=0.0, converter=_float, validator=_non_negative_float)
    seed: int = attrs.field(default=0, validator=_non_negative_int)
    device: str = attrs.field(default="auto", validator=attrs.validators.instance_of(str))
    log_every: int = attrs.field(default=10, validator=positive_int)
    sample_every: int = attrs.field(default=0, validator=_non_negative_int)
    checkpoint_every: int = attrs.field(default=100, validator=_non_negative_int)
    time_limit: float = attrs.field(default=0.0, converter=_float, validator=_non_negative_float)
    num_samples: int = attrs.field(default=8, validator=positive_int)
    threads: int = attrs.field(default=0, validator=_non_negative_int)
    # semi-supervised attribute inference (Sec. 4.1): with labelled_fraction < 1, stage 1 trains
    # φ_att on that fraction of the training clips and infers the labels of the others
    labelled_fraction: float = attrs.field(default=1.0, converter=_float, validator=_fraction)
    inference_steps: int = attrs.field(default=1500, validator=positive_int)
    inference_lr: float = attrs.field(default=1e-3, converter=_float, validator=_positive_float)
    # frame-autoencoder steps of the attribute net's encoder on all training clips before its supervised steps
    inference_pretrain_steps: int = attrs.field(default=1500, validator=_non_negative_int)
    # then steps on the labelled clips plus the unlabelled ones the net labels confidently (self-training)
    inference_self_training_steps: int = attrs.field(default=1000, validator=_non_negative_int)

    #: fields that may change when a run is resumed; the others define the run
    RESUMABLE = ("steps", "time_limit", "log_every", "sample_every", "checkpoint_every", "device", "num_samples", "threads")
    #: optimiser settings a resumed run may change on request (to go on from the last good checkpoint of a
    #: run that diverged); each change is recorded with its step in the checkpoint's ``adjustments``
    ADJUSTABLE = ("lr", "grad_clip")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return make_config(cls, data)

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen(eq=False)
class TrainResult:
    step: int
    history: list
    checkpoint: Path
    stopped_by_time_limit: bool
    seconds: float


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


def load_dataset(name: str, root: str | None, options: dict):
    """Instantiate a registered data set by name."""
    return get_registry().build("dataset", name, root, options=options)


class Trainer:
    """Trains one model on one data set, writing into ``out_dir``:

    ``checkpoint.pt`` (latest), ``history.jsonl``, ``loss_curve.png``,
    ``samples/step_NNNNNN.png`` and ``tensorboard/`` (rank 0 only).

    With ``labelled_fraction < 1`` (semi-supervised, Sec. 4.1) stage 1 runs first, in
    ``__init__``: φ_att is trained on that fraction of the training clips
    (:mod:`videovae.engine.attribute_inference`), infers the others' labels and is written
    to ``attribute_net.pt`` with ``inferred_labels.csv``; stage 2 trains VideoVAE on those
    labels as fixed controls. The net also goes into every checkpoint (``attribute_net``),
    so a resumed run does not repeat stage 1 and generation can infer free attributes
    from a first frame.
    """

    def __init__(self, config: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True,
                 log: Callable[[str], None] = print, adjust: dict[str, Any] | None = None):
        self.config = config
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.log = log
        self.checkpoint_path = self.out_dir / CHECKPOINT_NAME
        stored: Checkpoint | None = None
        #: optimiser settings changed on resume: ``{"step", "field", "from", "to"}`` rows, oldest first
        self.adjustments: list[dict[str, Any]] = []
        if adjust and not resume:
            raise ConfigError("adjust changes the settings of a resumed run; a new run takes them from its config")
        if resume:
            stored = open_checkpoint(self.checkpoint_path)
            self.config, self.adjustments = self._resumed_config(stored, config, adjust or {})
        elif self.checkpoint_path.exists():
            raise ConfigError(
                f"{self.checkpoint_path} already exists; resume it with --resume or choose another output folder"
            )
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        self.process = distributed.setup(self.device)
        if self.device.type == "cuda" and self.process.distributed:
            self.device = torch.device("cuda", self.process.local_rank)
            torch.cuda.set_device(self.device)
        torch.manual_seed(cfg.seed + self.process.rank)

        self.dataset = load_dataset(cfg.dataset, cfg.data_root, dict(cfg.dataset_options))
        self.train_split = self.dataset.split("train")
        self.label_table = self.dataset.label_rows("train")
        self.stage_one = None
        if cfg.labelled_fraction < 1.0:  # Sec. 4.1 stage 1; stage 2 trains on the inferred labels
            self.stage_one = self._stage_one(stored)
            self.train_split = LabelledView(self.train_split, self.stage_one.label_rows)
            self.label_table = self.stage_one.label_rows.clone()
        global_batch = cfg.batch_size * self.process.world_size
        if len(self.train_split) < global_batch:
            raise DataError(
                f"the training split of {cfg.dataset} has {len(self.train_split)} clips, fewer than one batch "
                f"({cfg.batch_size} per process x {self.process.world_size} processes)"
            )
        self.sampler = DistributedSampler(
            self.train_split, num_replicas=self.process.world_size, rank=self.process.rank,
            shuffle=True, seed=cfg.seed, drop_last=True,
        )
        self.steps_per_epoch = len(self.sampler) // cfg.batch_size
        self._epoch_indices: tuple[int, list[int]] | None = None

        if stored is not None:
            self.model = model_from_checkpoint(stored)
        else:
            self.model = build_model(cfg.preset, attributes=self.dataset.attributes, **cfg.model)
        if tuple(self.model.config.frame_shape) != tuple(self.dataset.frame_shape):
            raise ConfigError(
                f"{cfg.dataset} has frames of shape {tuple(self.dataset.frame_shape)} but the model expects "
                f"{tuple(self.model.config.frame_shape)}; set the model's frame_size/channels or the data set's size"
            )
        self.model.to(self.device)
        #: the model's named optimizers (Adam, A.4, for the VAEs) and the update its steps call
        self.optimizers = Optimizers(self.model, cfg.lr, grad_clip=cfg.grad_clip, process=self.process)
        self.step = 0
        self.saved_step: int | None = None  # the step of the checkpoint on disk
        self.history: list[dict[str, Any]] = []
        if stored is not None:
            self._restore(stored)
        synchronize_model(self.model, self.process)

    # -- set-up helpers -------------------------------------------------------------
    def _resumed_config(self, stored: Checkpoint, requested: TrainConfig, adjust: dict[str, Any]) -> tuple[TrainConfig, list]:
        """The stored config with ``requested``'s RESUMABLE fields and the ``adjust``ed ADJUSTABLE ones,
        and the list of adjustments so far (:func:`~videovae.engine.resume.resume_config`)."""
        if stored.train_config is None:
            raise CheckpointError(f"{self.checkpoint_path} lacks the checkpoint field 'train_config'; it cannot be resumed")
        return resume_config(TrainConfig.from_dict(stored.train_config), requested, adjust, stored.step, stored.adjustments)

    def _stage_one_settings(self) -> dict:
        cfg = self.config
        settings = {name: getattr(cfg, name) for name in (
            "preset", "model", "dataset", "dataset_options", "data_root", "labelled_fraction", "inference_steps",
            "inference_lr", "inference_pretrain_steps", "inference_self_training_steps", "batch_size", "seed")}
        return json.loads(json.dumps(settings, sort_keys=True, default=str))

    def _stage_one(self, stored: Checkpoint | None):
        """Stage 1 (Sec. 4.1): train φ_att on the labelled clips and infer the rest, or read it back.

        A resumed run takes stage 1 from its checkpoint (or ``attribute_net.pt``); a new run reuses an
        ``attribute_net.pt`` made with the same settings (a run stopped before its first checkpoint).
        """
        cfg = self.config
        settings = self._stage_one_settings()
        path = self.out_dir / NET_FILE
        count = len(self.train_split)
        if stored is not None:
            if stored.attribute_net is not None:
                return stage_one_from_payload(stored.attribute_net, count, f"{self.checkpoint_path} (attribute_net)")
            reused = reuse_stage_one(path, settings, count)
            if reused is None:
                raise CheckpointError(f"{self.checkpoint_path} was trained with labelled_fraction={cfg.labelled_fraction} "
                                      f"but neither it nor {path} holds the inferred labels of stage 1")
            return reused
        stage = None
        if self.process.is_main:
            stage = reuse_stage_one(path, settings, count)
            if stage is not None:
                self.log(f"attribute inference: reusing {path} (same settings)")
            else:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                stage = run_stage_one(
                    self.dataset, self.out_dir, fraction=cfg.labelled_fraction, steps=cfg.inference_steps,
                    batch_size=cfg.batch_size, lr=cfg.inference_lr, seed=cfg.seed, device=self.device,
                    model_config=resolve_config(cfg.preset, **cfg.model), settings=settings,
                    pretrain_steps=cfg.inference_pretrain_steps,
                    self_training_steps=cfg.inference_self_training_steps, progress=self.progress, log=self.log,
                )
        distributed.barrier(self.process)
        if stage is None:  # other processes read what rank 0 wrote
            stage = reuse_stage_one(path, settings, count)
            if stage is None:
                raise CheckpointError(f"{path} (stage 1 of rank 0) cannot be read")
        return stage

    def _restore(self, stored: Checkpoint) -> None:
        try:
            if stored.optimizer_state is None or stored.rng is None:
                raise KeyError("optimizer_state" if stored.optimizer_state is None else "rng")
            self.optimizers.load_state_dict(stored.optimizer_state)
            self.optimizers.set_lr(self.config.lr)  # the stored states carry the old learning rate
            self.step = stored.step
            self.saved_step = self.step
            self.history = list(stored.history)
            torch.set_rng_state(stored.rng["torch"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{self.checkpoint_path} cannot be resumed: {exc}") from None

    def kl_weight(self, step: int) -> float:
        """β at ``step``: ramped linearly from 0 over ``kl_warmup`` steps (against posterior collapse)."""
        cfg = self.config
        return cfg.kl_weight * min(1.0, (step + 1) / cfg.kl_warmup) if cfg.kl_warmup else cfg.kl_weight

    def batch_indices(self, step: int) -> list[int]:
        """This process's clip indices for ``step`` (its share of the global batch)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if self._epoch_indices is None or self._epoch_indices[0] != epoch:
            self.sampler.set_epoch(epoch)
            self._epoch_indices = (epoch, list(self.sampler))
        size = self.config.batch_size
        return self._epoch_indices[1][position * size:(position + 1) * size]

    # -- the loop -------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.config
        main = self.process.is_main
        writer = None
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            from tensorboardX import SummaryWriter

            writer = SummaryWriter(logdir=str(self.out_dir / "tensorboard"), purge_step=self.step or None)
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=self.step, disable=not (self.progress and main), desc="train", unit="step")
        started = time.monotonic()
        stopped = False
        try:
            while self.step < cfg.steps:
                indices = self.batch_indices(self.step)
                batch = VideoBatch.collate([self.train_split[i] for i in indices]).to(self.device)
                context = StepContext(self.step, self.kl_weight(self.step),
                                      clip_noise(indices, self.step, cfg.seed, self.device), self.optimizers.optimize)
                self.model.train()
                losses = self.model.training_step(batch, context)
                self.step += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    row = self._log_row(losses, time.monotonic() - started)
                    bar.set_postfix({key: f"{row[key]:.1f}" for key in ("loss", "kl") if key in row})
                    if writer is not None:
                        for key in [key for key in row if key not in ("step", "seconds")]:
                            writer.add_scalar(f"train/{key}", row[key], self.step)
                if main and cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.write_samples(writer)
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save()
                out_of_time = bool(cfg.time_limit) and time.monotonic() - started > cfg.time_limit
                if distributed.any_process(out_of_time, self.process, self.device):
                    stopped = self.step < cfg.steps
                    break
            self.save()
            if main:
                self.write_samples(writer)
                save_loss_curve(self.history, self.out_dir / "loss_curve.png")
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        return TrainResult(self.step, self.history, self.checkpoint_path, stopped, time.monotonic() - started)

    def _log_row(self, losses: dict[str, Any], elapsed: float) -> dict[str, Any]:
        """One history row: every named loss of this step (mean over processes) and ``grad_norm``, the largest
        gradient norm (before clipping) of the steps since the previous row (with several optimizers also
        ``grad_norm/<name>`` for each). Stops on a non-finite loss."""
        values = torch.stack([torch.as_tensor(value, device=self.device).detach() for value in losses.values()])
        if self.process.distributed:
            torch.distributed.all_reduce(values)
            values /= self.process.world_size
        named = dict(zip(losses, values.tolist()))
        row = {"step": self.step, **named}
        norms = self.optimizers.take_norms()
        row["grad_norm"] = max(norms.values()) if norms else float("nan")
        if len(norms) > 1:
            row.update({f"grad_norm/{name}": norm for name, norm in norms.items()})
        row["seconds"] = round(elapsed, 3)
        for name, value in named.items():
            if not math.isfinite(value):
                self._diverged(f"the {name} is {value} at step {self.step}")
        self.history.append(row)
        return row

    def _diverged(self, what: str) -> None:
        if self.saved_step is None:
            kept = "no checkpoint was written (start again with --grad-clip or a lower --lr)"
        else:
            kept = f"{self.checkpoint_path} keeps step {self.saved_step} (resume it with --grad-clip or a lower --lr)"
        raise TrainingError(f"training diverged: {what}; {kept}")

    # -- outputs --------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint (rank 0), atomically; every process waits for it.

        Weights that are no longer finite are never saved over the last good checkpoint.
        """
        if not torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all():  # one device sync
            self._diverged(f"the weights are not finite at step {self.step}")
        if self.process.is_main:
            save_checkpoint(
                self.checkpoint_path,
                self.model,
                step=self.step,
                optimizer_state=self.optimizers.state_dict(),
                train_config=self.config.to_dict(),
                dataset={"name": self.config.dataset, "options": dict(self.config.dataset_options),
                         "root": self.config.data_root, "description": self.dataset.describe()},
                label_table=self.label_table,
                clip_length=int(self.train_split[0][0].shape[0]),
                rng={"torch": torch.get_rng_state()},
                history=self.history,
                adjustments=self.adjustments,
                **({"attribute_net": self.stage_one.payload} if self.stage_one is not None else {}),
            )
            lines = "".join(json.dumps(row) + "\n" for row in self.history)
            tmp = self.out_dir / ".history.jsonl.tmp"
            tmp.write_text(lines)
            os.replace(tmp, self.out_dir / "history.jsonl")
        self.saved_step = self.step
        distributed.barrier(self.process)

    def write_samples(self, writer=None) -> Path:
        """A grid of samples with free attributes (rows) into ``samples/`` and TensorBoard."""
        length = int(self.train_split[0][0].shape[0])
        first_frames = labels = None
        if not self.model.capabilities.attributes_only:  # e.g. the Deep Rotator baseline
            items = [self.train_split[i % len(self.train_split)] for i in range(self.config.num_samples)]
            first_frames = torch.stack([frames[0] for frames, _ in items])
            labels = torch.stack([item_labels for _, item_labels in items])
        videos, _ = generate_videos(
            self.model, num=self.config.num_samples, length=length, labels=labels, first_frames=first_frames,
            label_table=self.label_table, seed=self.config.seed + self.step,
        )
        path = save_grid_png(videos, self.out_dir / "samples" / f"step_{self.step:06d}.png")
        if writer is not None:
            from torchvision.utils import make_grid

            writer.add_image("samples", make_grid(videos.flatten(0, 1), nrow=length, padding=2), self.step)
        return path


__all__ = ["TrainConfig", "Trainer", "TrainResult", "load_dataset", "resolve_device"]
