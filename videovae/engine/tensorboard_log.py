"""What a training run shows in TensorBoard: ``<run>/tensorboard/``, written by rank 0 (:class:`RunBoard`).

Every start writes an event file of its own (:func:`open_writer`); a resumed start hides, in TensorBoard, what
an earlier start logged after the checkpoint it continues (``purge_step``). The tags (README, "What
TensorBoard shows"):

* ``train/<loss>``, ``train/grad_norm`` (…) every ``log_every`` steps; ``val/<loss>`` every ``val_every`` steps;
  ``health/*`` (the collapse checks, :mod:`videovae.engine.health`) with each validation.
* Custom Scalars, category ``train vs validation``: one chart per loss with ``train/<loss>`` and
  ``val/<loss>`` on one axis, and the reconstruction error against the mean frame's.
* ``samples`` (the PNG grid: a row per sample) and ``samples/video`` (the same samples side by side as an
  animated GIF) every ``sample_every`` steps and at the end.
* ``config`` (text) at every start: the training settings with their defaults, the model's config as built,
  the data set, the processes, the versions and the settings changed on resume.
* HParams: the run folder's ``tensorboard/`` is one session. A new run (step 0) writes its hyper-parameters
  (:func:`hyper_parameters`); every end, the last step or the time limit, writes the metrics
  ``hparams/train_loss``, ``hparams/val_loss`` and ``hparams/reconstruction_vs_mean_frame`` at its step, and a
  run that reached its steps marks the session done. ``--resume`` adds no session: the hyper-parameters stay
  the first start's (TensorBoard keeps a run's first) and the metrics are the latest end's.

``videovae evaluate`` adds ``eval/*`` to the same folder (:mod:`videovae.engine.evaluation.tensorboard`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..io.video import gif_bytes

logger = logging.getLogger(__name__)

#: frames per second of the ``samples/video`` GIF
VIDEO_FPS = 8.0
#: the metrics of the HParams session, written at every end of a run
METRICS = ("hparams/train_loss", "hparams/val_loss", "hparams/reconstruction_vs_mean_frame")
#: TrainConfig fields that are hyper-parameters (the others say where and how the run is logged)
TRAIN_HPARAMS = ("preset", "size", "dataset", "steps", "batch_size", "lr", "kl_weight", "kl_warmup", "grad_clip",
                 "spike_clip", "precision", "seed", "labelled_fraction")
#: ModelConfig fields that are hyper-parameters
MODEL_HPARAMS = ("architecture", "encoder", "decoder", "latent", "prior", "sampler", "likelihood", "frame_size",
                 "channels", "latent_dim", "state_dim", "hidden_dim")
LAYOUT_CATEGORY = "train vs validation"


def open_writer(folder: str | Path, purge_step: int | None = None):
    """A tensorboardX ``SummaryWriter`` on an event file of its own in ``folder`` (created if missing), so that
    two writers of one folder (two starts, or ``videovae evaluate`` beside a run) never share a file."""
    from tensorboardX import SummaryWriter

    return SummaryWriter(logdir=str(folder), purge_step=purge_step,
                         filename_suffix=f".{os.getpid()}.{uuid.uuid4().hex[:8]}")


def close_writer(writer) -> None:
    """Close ``writer``; a failed write (e.g. a full disk) is a warning, not an error: the checkpoint matters."""
    try:
        writer.close()
    except OSError as exc:
        logger.warning(f"TensorBoard events could not be written: {exc}")


def video_summary(tag: str, videos: torch.Tensor, fps: float = VIDEO_FPS):
    """An image summary holding ``videos [N, T, C, H, W]`` (in [0, 1]) side by side as an animated GIF, which
    TensorBoard's Images tab plays (tensorboardX's ``add_video`` needs moviepy, not a videovae dependency)."""
    from PIL import Image
    from tensorboardX.proto.summary_pb2 import Summary

    data = gif_bytes(videos, fps)
    with Image.open(io.BytesIO(data)) as gif:
        width, height = gif.size
    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=data)
    return Summary(value=[Summary.Value(tag=tag, image=image)])


def hyper_parameters(config, model_config, world_size: int = 1) -> dict[str, Any]:
    """The flat hyper-parameters of a run: :data:`TRAIN_HPARAMS` of its TrainConfig, :data:`MODEL_HPARAMS` of its
    ModelConfig as built, and ``processes`` (the global batch is ``batch_size`` × ``processes``). An unset ``size``
    reads ``preset`` (the preset's own sizes), so that every run has the same columns."""
    values = {name: getattr(config, name) for name in TRAIN_HPARAMS}
    values.update({name: getattr(model_config, name) for name in MODEL_HPARAMS})
    values["processes"] = world_size
    return {name: "preset" if value is None else value for name, value in values.items()}


def final_metrics(history: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """:data:`METRICS` from a run's history: the last training row's loss, the last validation row's and the
    last collapse check's reconstruction error over the mean frame's (below 1: better than the mean frame);
    a metric without such a row is left out."""
    def last(*keys):
        return next((row for row in reversed(history) if all(key in row for key in keys)), None)

    metrics = {}
    if (row := last("loss")) is not None:
        metrics["hparams/train_loss"] = float(row["loss"])
    if (row := last("val_loss")) is not None:
        metrics["hparams/val_loss"] = float(row["val_loss"])
    if (row := last("health_reconstruction_error", "health_mean_frame_error")) is not None and row["health_mean_frame_error"]:
        metrics["hparams/reconstruction_vs_mean_frame"] = row["health_reconstruction_error"] / row["health_mean_frame_error"]
    return metrics


def _settings_block(data: Mapping[str, Any]) -> str:
    """A code block of ``name = value`` lines, each value as compact JSON (nested settings on their line)."""
    lines = [f"{name} = {json.dumps(value, sort_keys=True, default=str)}" for name, value in sorted(data.items())]
    return "```\n" + "\n".join(lines) + "\n```"


def config_markdown(config, model_config, *, step: int, dataset: Mapping[str, Any], versions: Mapping[str, str],
                    world_size: int = 1, device: str = "", adjustments: Sequence[Mapping[str, Any]] = ()) -> str:
    """The ``config`` text of a start: what the run trains with, in Markdown (TensorBoard's Text tab renders it)."""
    started = f"Resumed at step {step}" if step else "New run"
    lines = [f"**{started}** on {world_size} process{'es' if world_size > 1 else ''}"
             + (f" ({device})" if device else ""),
             "", "**Training settings** (TrainConfig, defaults filled in)", "", _settings_block(config.to_dict()),
             "", "**Model** (its ModelConfig as built: preset, size and overrides resolved)", "",
             _settings_block(model_config.to_dict()), "", "**Data set**", "", _settings_block(dict(dataset)),
             "", "**Versions**: " + ", ".join(f"{name} {version}" for name, version in versions.items())]
    if adjustments:
        lines += ["", "**Changed on resume**: " + "; ".join(
            f"{a['field']} {a['from']} → {a['to']} from step {a['step']}" for a in adjustments)]
    return "\n".join(lines) + "\n"


class RunBoard:
    """The TensorBoard log of one start of a run (rank 0): opened at ``step``, the step it starts from."""

    def __init__(self, folder: str | Path, step: int):
        # events an earlier start wrote after this start's checkpoint (step) are hidden; the checkpoint's own stay
        self.writer = open_writer(folder, purge_step=step + 1)
        self._layout_written = False

    def start(self, config, model_config, *, step: int, dataset: Mapping[str, Any], versions: Mapping[str, str],
              world_size: int = 1, device: str = "", adjustments: Sequence[Mapping[str, Any]] = ()) -> None:
        """The ``config`` text at ``step``, and, for a new run (step 0), the HParams session."""
        import tensorboardX

        versions = {**versions, "tensorboardX": tensorboardX.__version__}
        self.writer.add_text("config", config_markdown(config, model_config, step=step, dataset=dataset,
                                                       versions=versions, world_size=world_size, device=device,
                                                       adjustments=adjustments), step)
        if step == 0:
            from tensorboardX.summary import hparams

            experiment, session_start, _ = hparams(hyper_parameters(config, model_config, world_size),
                                                   dict.fromkeys(METRICS, 0.0))
            for summary in (experiment, session_start):
                self.writer.file_writer.add_summary(summary, 0)

    def log_train(self, row: Mapping[str, Any], step: int) -> None:
        """``train/<key>`` of a training row (all but its step and time)."""
        for key, value in row.items():
            if key not in ("step", "seconds"):
                self.writer.add_scalar(f"train/{key}", value, step)

    def log_validation(self, losses: Mapping[str, float], health, step: int) -> None:
        """``val/<loss>``, ``health/*`` (and ``health/warning`` text when a check failed) of a validation; the first
        one of a start also writes the Custom Scalars layout that puts each loss's train and val curves on one chart."""
        for name, value in losses.items():
            self.writer.add_scalar(f"val/{name}", value, step)
        for key, value in health.as_row().items():
            if key != "health_warning":
                self.writer.add_scalar(f"health/{key[len('health_'):]}", value, step)
        self.writer.add_scalar("health/collapsed", float(health.collapsed), step)
        if health.warnings:
            self.writer.add_text("health/warning", health.as_row()["health_warning"], step)
        if not self._layout_written:
            self.writer.add_custom_scalars(losses_layout(losses))
            self._layout_written = True

    def log_samples(self, videos: torch.Tensor, step: int) -> None:
        """``samples`` (the grid, a row per sample) and ``samples/video`` (animated) of ``videos [N, T, C, H, W]``."""
        from torchvision.utils import make_grid

        self.writer.add_image("samples", make_grid(videos.flatten(0, 1), nrow=videos.shape[1], padding=2), step)
        self.writer.file_writer.add_summary(video_summary("samples/video", videos), step)

    def finish(self, history: Sequence[Mapping[str, Any]], step: int, *, complete: bool) -> None:
        """The HParams metrics at the run's last step (:func:`final_metrics`); ``complete`` (the run reached its
        steps) also marks the session done."""
        for tag, value in final_metrics(history).items():
            self.writer.add_scalar(tag, value, step)
        if complete:
            from tensorboardX.summary import hparams

            self.writer.file_writer.add_summary(hparams({}, {})[2], step)

    def close(self) -> None:
        close_writer(self.writer)


def losses_layout(losses: Mapping[str, float]) -> dict:
    """The Custom Scalars layout: one chart per loss holding ``train/<loss>`` and ``val/<loss>``, and one of the
    reconstruction error against the mean frame's (tags are matched as regular expressions, so anchored)."""
    charts = {name: ["Multiline", [f"train/{re.escape(name)}$", f"val/{re.escape(name)}$"]] for name in losses}
    charts["reconstruction vs mean frame"] = ["Multiline", ["health/reconstruction_error$", "health/mean_frame_error$"]]
    return {LAYOUT_CATEGORY: charts}


__all__ = ["METRICS", "RunBoard", "close_writer", "config_markdown", "final_metrics", "hyper_parameters",
           "losses_layout", "open_writer", "video_summary"]
