"""Training: the objective of Eq. 9 with Adam (A.4 used learning rate 1e-4; the default recipe is TrainConfig's), checkpoints and resume.

:class:`Trainer` trains a built model on built splits (:func:`videovae.engine.training.train` builds
them from a :class:`TrainConfig`). One process or many (``torchrun``): each process loads its share
of every global batch through a :class:`torch.utils.data.DataLoader` over a step-indexed
:class:`~videovae.engine.data.StepBatchSampler`, gradients are averaged over the processes in each
update (:mod:`videovae.engine.optimization`), and only rank 0 logs, validates, writes samples and saves
checkpoints. Each step is the model's own :meth:`~videovae.core.VideoModel.training_step` with its
named optimizers.

Everything random is reproducible: the data order depends only on (seed, epoch),
the ε of each video's reparameterised samples only on (seed, step, clip index),
so a resumed run continues exactly where it stopped (with any number of loader workers) and N
processes with batch B see the same global batch as one process with batch N·B. A resumed run may
change the learning rate and the gradient clipping (``TrainConfig.ADJUSTABLE``), e.g. to go on from
the last good checkpoint of a run that diverged, and the precision; the checkpoint's ``adjustments`` keep
each change with the step it took effect, and nothing else that defines the run can change.

``precision="bf16"`` runs each training step's forward passes under bf16 autocast
(:mod:`videovae.engine.precision`); backward, the clipping and the optimizer step run outside it, on float32
weights, gradients and Adam state; validation, the collapse check and the sample grids run in float32.

Every ``val_every`` steps the held-out loss of a fixed set of validation clips, with fixed noise
(:mod:`videovae.engine.validation`), goes into ``history.jsonl`` as a row of ``val_*`` keys beside the
training rows, and into TensorBoard as ``val/*`` (what TensorBoard shows: :mod:`videovae.engine.tensorboard_log`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from ..core.errors import CheckpointError, DataError, RunInterrupted, TrainingError
from ..core.interfaces import StepContext
from ..io.atomic import STORAGE_ERRNOS, atomic_write_text, storage_error
from ..io.video import save_grid_png
from . import distributed
from .best_checkpoint import collapse_hint, is_new_best, keep_best
from .checkpoint import Checkpoint, previous_path, save_checkpoint, versions
from .data import StepBatchSampler, load_dataset, training_loader, validation_indices
from .generation import generate_videos
from .health import check_health, reference_frames, still_learning
from .optimization import Optimizers, clip_noise, sample_noise, synchronize_model
from .plots import save_loss_curve
from .precision import autocast
from .run_folder import RunLock, sigterm_as_interrupt
from .tensorboard_log import RunBoard
from .train_config import CHECKPOINT_NAME, TrainConfig, TrainResult, resolve_device
from .validation import validation_losses

logger = logging.getLogger(__name__)


class TrainCallback:
    """Hooks a caller can attach to a :class:`Trainer` (rank 0 only); override the ones you need."""

    def on_log(self, row: dict[str, Any]) -> None:
        """A training row of ``history.jsonl`` was made (every ``log_every`` steps)."""

    def on_validation(self, row: dict[str, Any]) -> None:
        """A validation row (``val_*`` keys) was made (every ``val_every`` steps)."""

    def on_checkpoint(self, step: int) -> None:
        """The checkpoint of ``step`` was written."""


class Trainer:
    """Trains ``model`` on ``train_split``, writing into ``out_dir``:

    ``checkpoint.pt`` (latest), ``checkpoint.prev.pt`` (the one before), ``checkpoint.best.pt`` (the healthy one of
    the lowest held-out loss, :mod:`.best_checkpoint`), ``history.jsonl``, ``loss_curve.png``,
    ``samples/step_NNNNNN.png`` and ``tensorboard/`` (one event file per start; rank 0 only). Rank 0 owns
    ``out_dir`` while it runs (:class:`~videovae.engine.run_folder.RunLock`, taken by :meth:`run` unless
    ``lock`` hands it over); SIGTERM stops it as Ctrl-C does (:class:`~videovae.core.errors.RunInterrupted`).

    :param model: the built model (on any device; moved to ``device``).
    :param train_split: items ``(frames [T, C, H, W], labels [T, A])``: the clips trained on.
    :param val_split: held-out items of the same form; ``config.val_clips`` of them, spread evenly,
        are scored every ``config.validation_interval`` steps (None: no validation).
    :param checkpoint: a checkpoint's data to continue from (optimizer state, step, history, random state).
    :param dataset: the data set the splits come from (recorded in the checkpoint).
    :param label_table: first-frame labels ``[N, A]`` of the training clips that free attributes are
        drawn from when sampling (default: read from ``train_split``).
    :param stage_one: the result of stage-1 attribute inference (Sec. 4.1), kept in every checkpoint.
    :param lock: the ownership of ``out_dir`` already taken (:func:`~videovae.engine.training.build_trainer`).
    """

    def __init__(self, model, train_split, val_split, config: TrainConfig, out_dir: str | Path, *,
                 callbacks: Sequence[TrainCallback] = (), progress: bool = True, checkpoint: Checkpoint | None = None,
                 adjustments: Sequence[dict[str, Any]] = (), dataset=None, label_table: torch.Tensor | None = None,
                 stage_one=None, device: torch.device | None = None, process: distributed.ProcessInfo | None = None,
                 lock: RunLock | None = None):
        self.config = cfg = config.resolved_for(model)
        self.out_dir = Path(out_dir)
        self.checkpoint_path = self.out_dir / CHECKPOINT_NAME
        self.lock = lock
        self.progress = progress
        self.callbacks = list(callbacks)
        #: optimiser settings changed on resume: ``{"step", "field", "from", "to"}`` rows, oldest first
        self.adjustments: list[dict[str, Any]] = list(adjustments)
        self.dataset = dataset
        self.stage_one = stage_one
        self.device = device if device is not None else resolve_device(cfg.device)
        self.process = process if process is not None else distributed.ProcessInfo()
        self.train_split, self.val_split = train_split, val_split
        if label_table is None:
            label_table = torch.stack([train_split[i][1][0] for i in range(len(train_split))])
        self.label_table = label_table
        global_batch = cfg.batch_size * self.process.world_size
        if len(self.train_split) < global_batch:
            raise DataError(
                f"the training split of {cfg.dataset} has {len(self.train_split)} clips, fewer than one batch "
                f"({cfg.batch_size} per process x {self.process.world_size} processes)"
            )
        self.sampler = StepBatchSampler(len(train_split), cfg.batch_size, seed=cfg.seed, stop=cfg.steps,
                                        world_size=self.process.world_size, rank=self.process.rank)
        self.steps_per_epoch = self.sampler.steps_per_epoch
        self.val_indices = validation_indices(len(val_split), cfg.val_clips) if val_split is not None else []
        #: the mean and median training frame the collapse check compares with (engine.health)
        self.references = reference_frames(train_split, range(len(train_split))) if self.val_indices else None

        self.model = model
        self.model.to(self.device)
        #: the model's named optimizers (Adam, A.4, for the VAEs) and the update its steps call
        self.optimizers = Optimizers(self.model, cfg.lr, grad_clip=cfg.grad_clip, spike_clip=cfg.spike_clip,
                                     process=self.process)
        self.step = 0
        self.saved_step: int | None = None  # the step of the checkpoint on disk
        self.saved_path: Path | None = None  # and its file
        # the checkpoint.pt on disk is kept as checkpoint.prev.pt at the next save only when it is known to be
        # good: this run wrote it or resumed from it (not when it resumed from checkpoint.prev.pt)
        self._keep_previous = checkpoint is None or Path(checkpoint.where) == self.checkpoint_path
        self.history: list[dict[str, Any]] = []
        if checkpoint is not None:
            self._restore(checkpoint)
        synchronize_model(self.model, self.process)

    # -- set-up helpers -------------------------------------------------------------
    def _restore(self, stored: Checkpoint) -> None:
        try:
            if stored.optimizer_state is None or stored.rng is None:
                raise KeyError("optimizer_state" if stored.optimizer_state is None else "rng")
            self.optimizers.load_state_dict(stored.optimizer_state)
            self.optimizers.set_lr(self.config.lr)  # the stored states carry the old learning rate
            self.step = stored.step
            self.saved_step, self.saved_path = self.step, Path(stored.where)
            self.history = list(stored.history)
            torch.set_rng_state(stored.rng["torch"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{self.checkpoint_path} cannot be resumed: {exc}") from None

    def kl_weight(self, step: int) -> float:
        """β at ``step``: ramped linearly from 0 over ``kl_warmup`` steps (against posterior collapse)."""
        cfg = self.config
        return cfg.kl_weight * min(1.0, (step + 1) / cfg.kl_warmup) if cfg.kl_warmup else cfg.kl_weight

    @property
    def clip_length(self) -> int:
        """The frames of a training clip the model trains on (:meth:`~videovae.core.VideoModel.trained_length`): the
        length of its sample grids and of the ``clip_length`` its checkpoints record for generation."""
        return self.model.trained_length(int(self.train_split[0][0].shape[0]))

    def batch_indices(self, step: int) -> list[int]:
        """This process's clip indices for ``step`` (its share of the global batch)."""
        return self.sampler.indices(step)

    # -- the loop -------------------------------------------------------------------
    def kept(self) -> str:
        """What a stopped run leaves, for its one-line message."""
        if self.saved_step is None:
            return "no checkpoint was written yet"
        return f"the last good checkpoint {self.saved_path} (step {self.saved_step}) is intact"

    def run(self) -> TrainResult:
        """Train to ``config.steps`` (or the time limit), owning ``out_dir``; a full disk, a read-only folder
        or a signal stops it with one line that says which checkpoint is intact."""
        if self.process.is_main and (self.lock is None or not self.lock.held):
            self.lock = RunLock.acquire(self.out_dir)
        try:
            with sigterm_as_interrupt():
                return self._run()
        except KeyboardInterrupt as exc:
            how = str(exc) if isinstance(exc, RunInterrupted) else "interrupted (Ctrl-C)"
            raise RunInterrupted(f"{how} at step {self.step}; {self.kept()}",
                                 exit_code=getattr(exc, "exit_code", 130)) from None
        except OSError as exc:
            if exc.errno not in STORAGE_ERRNOS:
                raise
            raise storage_error(exc, kept=self.kept()) from None
        finally:
            if self.lock is not None:
                self.lock.release()

    def _run(self) -> TrainResult:
        cfg = self.config
        main = self.process.is_main
        board = None
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            board = RunBoard(self.out_dir / "tensorboard", self.step)  # one event file per start
            board.start(cfg, self.model.config, step=self.step, dataset=self.dataset_info(), versions=versions(),
                        world_size=self.process.world_size, device=str(self.device), adjustments=self.adjustments)
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=self.step, disable=not (self.progress and main), desc="train", unit="step")
        started = time.monotonic()
        stopped = False
        self.sampler.start = self.step
        validate_every = cfg.validation_interval if self.val_indices else 0
        try:
            for batch, indices in training_loader(self.train_split, self.sampler, workers=cfg.workers, seed=cfg.seed):
                terms = self._train_step(batch.to(self.device), indices)
                self.step += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    row = self._log_row(terms, time.monotonic() - started)
                    bar.set_postfix({key: f"{row[key]:.1f}" for key in ("loss", "kl") if key in row})
                    if board is not None:
                        board.log_train(row, self.step)
                        for callback in self.callbacks:
                            callback.on_log(row)
                if main and validate_every and self.step % validate_every == 0:
                    self.validate(board, time.monotonic() - started)
                if main and cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.write_samples(board)
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save()
                out_of_time = bool(cfg.time_limit) and time.monotonic() - started > cfg.time_limit
                if distributed.any_process(out_of_time, self.process, self.device):
                    stopped = self.step < cfg.steps
                    break
            if (self.saved_step, self.saved_path) != (self.step, self.checkpoint_path):  # not just saved
                self.save()
            if main:
                if not (cfg.sample_every and self.step % cfg.sample_every == 0):  # else written at this step already
                    self.write_samples(board)
                save_loss_curve(self.history, self.out_dir / "loss_curve.png")
                notice = still_learning(self.history) if self.step >= cfg.steps else None
                if notice:
                    logger.info("step %d: %s", self.step, notice)
                board.finish(self.history, self.step, complete=self.step >= cfg.steps)
        finally:
            bar.close()
            if board is not None:
                board.close()
        return TrainResult(self.step, self.history, self.checkpoint_path, stopped, time.monotonic() - started)

    def _train_step(self, batch, indices: list[int]) -> dict[str, torch.Tensor]:
        """One update on ``batch`` (the clips ``indices``): the model's own training step, handed the
        step's β, its per-clip noise and the update of its named optimizers; under ``precision`` bf16 its forward
        passes run in bf16 autocast (the update itself, backward and the optimizer step, runs outside it)."""
        if self.config.lr_schedule != "constant":
            self.optimizers.set_lr(self.config.lr_at(self.step))
        context = StepContext(self.step, self.kl_weight(self.step),
                              clip_noise(indices, self.step, self.config.seed, self.device), self.optimizers.optimize)
        self.model.train()
        with autocast(self.config.precision, self.device):
            return self.model.training_step(batch, context)

    def validate(self, board: RunBoard | None = None, elapsed: float = 0.0) -> dict[str, Any]:
        """The held-out losses now: a ``val_*`` row appended to the history, ``val/*`` and ``health/*`` on ``board``.

        β is the configured ``kl_weight`` (not the warm-up's), so rows of one run compare.
        """
        cfg = self.config
        losses = validation_losses(self.model, self.val_split, self.val_indices, batch_size=cfg.batch_size,
                                   seed=cfg.seed, kl_weight=cfg.kl_weight, device=self.device)
        row = {"step": self.step, **{f"val_{name}": value for name, value in losses.items()},
               "val_clips": len(self.val_indices)}
        health = check_health(self.model, self.val_split, self.val_indices, references=self.references,
                              label_table=self.label_table, step=self.step, seed=cfg.seed, batch_size=cfg.batch_size,
                              device=self.device)
        row.update(health.as_row())
        row["seconds"] = round(elapsed, 3)
        self.history.append(row)
        first = "loss" if "loss" in losses else next(iter(losses), None)  # the model's named losses, "loss" first
        others = ", ".join(f"{name} {value:.2f}" for name, value in losses.items() if name != first)
        logger.info("step %d: validation %s%s on %d clips", self.step,
                    f"{first} {losses[first]:.2f}" if first is not None else "(no losses)",
                    f" ({others})" if others else "", row["val_clips"])
        if health.warnings:
            logger.warning("step %d: the model looks collapsed: %s%s", self.step, row["health_warning"],
                           collapse_hint(self.history, cfg.checkpoint_every, self.out_dir, cfg.spike_clip))
        if board is not None:
            board.log_validation(losses, health, self.step)
        for callback in self.callbacks:
            callback.on_validation(row)
        return row

    def _log_row(self, losses: dict[str, Any], elapsed: float) -> dict[str, Any]:
        """One history row: every named loss of this step (mean over processes) and ``grad_norm``, the largest
        gradient norm (before clipping) of the steps since the previous row (with several optimizers also
        ``grad_norm/<name>`` for each). Stops on a non-finite loss."""
        values = torch.stack([torch.as_tensor(value, device=self.device).detach().float() for value in losses.values()])
        if self.process.distributed:
            torch.distributed.all_reduce(values)
            values /= self.process.world_size
        named = dict(zip(losses, values.tolist()))
        row = {"step": self.step, **named}
        norms = self.optimizers.take_norms()
        row["grad_norm"] = max(norms.values()) if norms else float("nan")
        if len(norms) > 1:
            row.update({f"grad_norm/{name}": norm for name, norm in norms.items()})
        spikes = self.optimizers.take_spikes()
        if spikes:  # updates cut by the relative clip (spike_clip) since the previous row
            row["spikes_clipped"] = spikes
        if self.config.lr_schedule != "constant":
            row["lr"] = self.config.lr_at(self.step - 1)  # the rate of the step just taken
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
        """Write the checkpoint (rank 0), atomically, keeping the one before as ``checkpoint.prev.pt``; every
        process waits for it. A failed write is a one-line :class:`~videovae.core.errors.StorageError` and
        leaves the last good checkpoint as it was.

        Weights that are no longer finite are never saved over the last good checkpoint.
        """
        if not torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all():  # one device sync
            self._diverged(f"the weights are not finite at step {self.step}")
        if self.process.is_main:
            try:
                self._write_checkpoint()
                if is_new_best(self.history, self.step, self.config.checkpoint_every):
                    keep_best(self.checkpoint_path)
            except OSError as exc:
                if exc.errno not in STORAGE_ERRNOS:
                    raise
                raise storage_error(exc, self.checkpoint_path, self.kept()) from None
        self.saved_step, self.saved_path = self.step, self.checkpoint_path
        distributed.barrier(self.process)
        if self.process.is_main:
            for callback in self.callbacks:
                callback.on_checkpoint(self.step)

    def _write_checkpoint(self) -> None:
        """The checkpoint and ``history.jsonl`` of now (rank 0)."""
        save_checkpoint(
            self.checkpoint_path,
            self.model,
            previous=previous_path(self.checkpoint_path) if self._keep_previous else None,
            step=self.step,
            optimizer_state=self.optimizers.state_dict(),
            train_config=self.config.to_dict(),
            dataset=self.dataset_info(),
            label_table=self.label_table,
            clip_length=self.clip_length,
            rng={"torch": torch.get_rng_state()},
            history=self.history,
            adjustments=self.adjustments,
            **({"attribute_net": self.stage_one.payload} if self.stage_one is not None else {}),
        )
        self._keep_previous = True
        self.saved_step, self.saved_path = self.step, self.checkpoint_path
        atomic_write_text(self.out_dir / "history.jsonl", "".join(json.dumps(row) + "\n" for row in self.history))

    def dataset_info(self) -> dict[str, Any]:
        """The data set as the checkpoint records it: name, options, root and description."""
        return {"name": self.config.dataset, "options": dict(self.config.dataset_options), "root": self.config.data_root,
                "description": self.dataset.describe() if self.dataset is not None else None}

    def write_samples(self, board: RunBoard | None = None) -> Path:
        """A grid of samples with free attributes (rows) into ``samples/``, and on ``board`` (also as a video)."""
        length = self.clip_length
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
        if board is not None:
            board.log_samples(videos, self.step)
        return path


__all__ = ["CHECKPOINT_NAME", "TrainCallback", "TrainConfig", "Trainer", "TrainResult", "load_dataset", "resolve_device",
           "sample_noise"]
