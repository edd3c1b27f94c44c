"""``train(config, out_dir)``: a training run from its settings, in the order the paper's pipeline needs.

1. On resume, the stored settings (with the ones a resumed run may change) and the checkpoint.
2. The device, the process group (``torchrun``) and the seed.
3. The model's config (its preset, the named ``size`` and the overrides; on resume the stored one), so that
   a data set with a ``size`` option is loaded at the model's frame size (or refused at once, when told
   another size), then the data set by name, its training split and its validation split (``val``, else
   ``test``).
4. Stage 1 (Sec. 4.1), with ``labelled_fraction < 1``: the attribute net φ_att is trained on that
   fraction of the training clips (:mod:`videovae.engine.attribute_inference`), infers the others'
   labels and is written to ``attribute_net.pt`` with ``inferred_labels.csv``; stage 2 trains on those
   labels as fixed controls. The net also goes into every checkpoint (``attribute_net``), so a resumed
   run does not repeat stage 1 and generation can infer free attributes from a first frame.
5. The model, built from that config or restored from the checkpoint, checked against the frames.
6. A :class:`~videovae.engine.trainer.Trainer` over those objects, which runs stage 2.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import attrs
import torch

from ..core.config import ModelConfig
from ..core.errors import CheckpointError, ConfigError
from ..io.atomic import STORAGE_ERRNOS, storage_error
from ..registry.factory import build_from_config, fit_to_data
from . import distributed
from .attribute_inference import NET_FILE, LabelledView, reuse_stage_one, run_stage_one, stage_one_from_payload
from .checkpoint import Checkpoint, model_from_checkpoint, open_checkpoint, previous_path
from .data import fit_dataset_size, load_dataset, validation_split
from .precision import check_precision
from .resume import resume_config
from .run_config import RUN_CONFIG_NAME, model_config_of, started_config, write_run_config
from .run_folder import RunLock, sigterm_as_interrupt
from .train_config import CHECKPOINT_NAME, TrainConfig, TrainResult, resolve_device
from .trainer import TrainCallback, Trainer

logger = logging.getLogger(__name__)


def _resumed_config(stored: Checkpoint, path: Path, requested: TrainConfig, adjust: dict[str, Any],
                    match_stored: bool = False) -> tuple[TrainConfig, list]:
    """The stored config with ``requested``'s RESUMABLE fields and the ``adjust``ed ADJUSTABLE ones,
    and the list of adjustments so far (:func:`~videovae.engine.resume.resume_config`). With ``match_stored``
    (``requested`` is a whole run's settings, e.g. of ``--config``) every other field must be the stored one."""
    if stored.train_config is None:
        raise CheckpointError(f"{path} lacks the checkpoint field 'train_config'; it cannot be resumed")
    config = TrainConfig.from_stored(stored.train_config)
    if not match_stored:
        return resume_config(config, requested, adjust, stored.step, stored.adjustments)
    requested = sized_config(requested) if "size" in config.dataset_options else requested  # as the run stored it
    return resume_config(config, requested, adjust, stored.step, stored.adjustments, where=str(path))


def stage_one_settings(cfg: TrainConfig) -> dict:
    """The settings stage 1 depends on (an ``attribute_net.pt`` made with other ones is not reused)."""
    settings = {name: getattr(cfg, name) for name in (
        "preset", "model", "dataset", "dataset_options", "data_root", "labelled_fraction", "inference_steps",
        "inference_lr", "inference_pretrain_steps", "inference_self_training_steps", "batch_size", "seed")}
    if cfg.size is not None:  # only when set, so that runs from before the field keep their settings
        settings["size"] = cfg.size
    if cfg.inference_shift != 0:  # likewise: a stage 1 made before the field moved no clip (None: chosen)
        settings["inference_shift"] = cfg.inference_shift
    if cfg.inference_relabel_every != 0:  # likewise: labelled once before the field
        settings["inference_relabel_every"] = cfg.inference_relabel_every
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def sized_config(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` as a new run stores it: the data set's ``size`` option filled in with the model's frame size
    when the data set has one and ``cfg`` leaves it unset (:func:`~videovae.engine.data.fit_dataset_size`)."""
    options, filled = fit_dataset_size(cfg.dataset, cfg.dataset_options, model_config_of(cfg).frame_size)
    return attrs.evolve(cfg, dataset_options=options) if filled else cfg


def stage_one(cfg: TrainConfig, dataset, train_split, out_dir: Path, stored: Checkpoint | None, *,
              process: distributed.ProcessInfo, device: torch.device, progress: bool = True,
              model_config: ModelConfig | None = None):
    """Stage 1 (Sec. 4.1): train φ_att on the labelled clips and infer the rest, or read it back.

    A resumed run takes stage 1 from its checkpoint (or ``attribute_net.pt``); a new run reuses an
    ``attribute_net.pt`` made with the same settings (a run stopped before its first checkpoint).
    Rank 0 runs it; the other processes read what it wrote. ``model_config`` (default: the run's, from
    its preset, size and overrides) gives the attribute net's encoder its sizes.
    """
    checkpoint_path = out_dir / CHECKPOINT_NAME
    settings = stage_one_settings(cfg)
    path = out_dir / NET_FILE
    count = len(train_split)
    if stored is not None:
        if stored.attribute_net is not None:
            return stage_one_from_payload(stored.attribute_net, count, f"{checkpoint_path} (attribute_net)")
        reused = reuse_stage_one(path, settings, count)
        if reused is None:
            raise CheckpointError(f"{checkpoint_path} was trained with labelled_fraction={cfg.labelled_fraction} "
                                  f"but neither it nor {path} holds the inferred labels of stage 1")
        return reused
    stage = None
    if process.is_main:
        stage = reuse_stage_one(path, settings, count)
        if stage is not None:
            logger.info(f"attribute inference: reusing {path} (same settings)")
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            stage = run_stage_one(
                dataset, out_dir, fraction=cfg.labelled_fraction, steps=cfg.inference_steps,
                batch_size=cfg.batch_size, lr=cfg.inference_lr, seed=cfg.seed, device=device,
                model_config=model_config or model_config_of(cfg), settings=settings,
                pretrain_steps=cfg.inference_pretrain_steps,
                self_training_steps=cfg.inference_self_training_steps,
                relabel_every=cfg.inference_relabel_every, shift=cfg.inference_shift, progress=progress,
                log=logger.info,
            )
    distributed.barrier(process)
    if stage is None:  # other processes read what rank 0 wrote
        stage = reuse_stage_one(path, settings, count)
        if stage is None:
            raise CheckpointError(f"{path} (stage 1 of rank 0) cannot be read")
    return stage


def build_trainer(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True,
                  adjust: dict[str, Any] | None = None, callbacks: Sequence[TrainCallback] = (),
                  resume_from: str | Path | None = None, match_stored: bool = False) -> Trainer:
    """Everything a run needs, built in order (module docstring), as a :class:`Trainer` ready to ``run()``.

    ``resume`` continues the checkpoint in ``out_dir`` with ``config``'s RESUMABLE fields and the
    ``adjust``ed ADJUSTABLE ones (recorded in the checkpoint); without it, ``out_dir`` must hold no checkpoint.
    ``resume_from`` (implies ``resume``) continues another checkpoint file of ``out_dir`` instead, e.g.
    ``checkpoint.prev.pt`` when ``checkpoint.pt`` is damaged; its next save replaces ``checkpoint.pt``.
    ``match_stored`` (with ``resume``): ``config`` is a whole run's settings (``--config``), so each field
    that is neither RESUMABLE nor adjusted must equal the stored one, or it is a one-line :class:`ConfigError`.
    A new run writes its settings as ``config.toml`` into ``out_dir`` (:mod:`~videovae.engine.run_config`);
    a resumed one only when the folder has none (the settings it started with, as far as the checkpoint says).
    Rank 0 owns ``out_dir`` from here on (:class:`~videovae.engine.run_folder.RunLock`; another run into it
    is refused before anything is written), until the trainer's ``run()`` ends.
    """
    out_dir = Path(out_dir)
    lock = RunLock.acquire(out_dir) if int(os.environ.get("RANK", "0")) == 0 else None
    try:
        return _build_trainer(config, out_dir, resume=resume or resume_from is not None, progress=progress,
                              adjust=adjust, callbacks=callbacks, resume_from=resume_from, lock=lock,
                              match_stored=match_stored)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _resume_source(out_dir: Path, resume_from: str | Path | None) -> Path:
    """The checkpoint file a resumed run continues: ``checkpoint.pt``, or ``resume_from`` when it lies in ``out_dir``
    (or ``out_dir`` holds no checkpoint.pt that it would replace)."""
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if resume_from is None:
        return checkpoint_path
    source = Path(resume_from)
    if source.resolve().parent != out_dir.resolve() and checkpoint_path.exists():
        raise ConfigError(f"--resume-from {source} is not in {out_dir}, whose {CHECKPOINT_NAME} it would replace; "
                          f"resume it into its own folder or choose another --out")
    return source


def _build_trainer(config: TrainConfig, out_dir: Path, *, resume: bool, progress: bool, adjust: dict[str, Any] | None,
                   callbacks: Sequence[TrainCallback], resume_from: str | Path | None, lock: RunLock | None,
                   match_stored: bool = False) -> Trainer:
    checkpoint_path = out_dir / CHECKPOINT_NAME
    stored: Checkpoint | None = None
    adjustments: list[dict[str, Any]] = []
    if adjust and not resume:
        raise ConfigError("adjust changes the settings of a resumed run; a new run takes them from its config")
    if resume:
        source = _resume_source(out_dir, resume_from)
        stored = open_checkpoint(source, fallback_flag="--resume-from" if source == checkpoint_path else None)
        config, adjustments = _resumed_config(stored, source, config, adjust or {}, match_stored)
        if source != checkpoint_path:
            logger.info(f"resuming from {source} (step {stored.step}); its next save replaces {checkpoint_path}")
    elif checkpoint_path.exists():
        hint = f" (or {previous_path(checkpoint_path).name} with --resume-from)" if previous_path(checkpoint_path).exists() else ""
        raise ConfigError(f"{checkpoint_path} already exists; resume it with --resume{hint} or choose another output folder")
    cfg = config
    # the model's config first: the data set is loaded at its frame size, or refused before anything is loaded
    model_config = ModelConfig.from_dict(stored.model_config) if stored is not None else model_config_of(cfg)
    options, filled = fit_dataset_size(cfg.dataset, cfg.dataset_options, model_config.frame_size, fill=stored is None)
    if filled:  # stored with the run, so that a resumed run loads exactly these frames
        cfg = attrs.evolve(cfg, dataset_options=options)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    check_precision(cfg.precision, device)
    process = distributed.setup(device)
    if device.type == "cuda" and process.distributed:
        device = torch.device("cuda", process.local_rank)
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed + process.rank)

    if filled and process.is_main:
        logger.info(f"{cfg.dataset}: loading frames at {options['size']}x{options['size']}, the model's frame size "
                    f"(dataset option size={options['size']})")
    dataset = load_dataset(cfg.dataset, cfg.data_root, dict(cfg.dataset_options))
    train_split = dataset.split("train")
    label_table = dataset.label_rows("train")
    clip_length = int(train_split[0][0].shape[0]) if len(train_split) else None
    if stored is None and clip_length is not None:  # a model's options left to the data (fit_to_data), stored with the run
        model_config = fit_to_data(model_config, dataset, clip_length)
    stage = None
    if cfg.labelled_fraction < 1.0:  # Sec. 4.1 stage 1; stage 2 trains on the inferred labels
        stage = stage_one(cfg, dataset, train_split, out_dir, stored, process=process, device=device, progress=progress,
                          model_config=model_config)
        train_split = LabelledView(train_split, stage.label_rows)
        label_table = stage.label_rows.clone()

    if stored is not None:
        model = model_from_checkpoint(stored)
    else:
        model = build_from_config(model_config, dataset.attributes)
    if tuple(model.config.frame_shape) != tuple(dataset.frame_shape):
        raise ConfigError(
            f"{cfg.dataset} has frames of shape {tuple(dataset.frame_shape)} but the model expects "
            f"{tuple(model.config.frame_shape)}; set the model's frame_size/channels or the data set's size"
        )
    if clip_length is not None:
        model.check_clip_length(clip_length, cfg.dataset)
    step = stored.step if stored is not None else 0
    for change in adjustments:
        if change["step"] == step and process.is_main:
            logger.info(f"from step {change['step']}: {change['field']} {change['from']} -> {change['to']}")
    trainer = Trainer(model, train_split, validation_split(dataset), cfg, out_dir, callbacks=callbacks,
                      progress=progress, checkpoint=stored, adjustments=adjustments, dataset=dataset,
                      label_table=label_table, stage_one=stage, device=device, process=process, lock=lock)
    if process.is_main and (stored is None or not (out_dir / RUN_CONFIG_NAME).exists()):
        # the trainer's config: the model's own rate and relative clip filled in where unset (TrainConfig.resolved_for)
        _write_run_config(out_dir, trainer.config, model_config, stored, adjustments)
    return trainer


def _write_run_config(out_dir: Path, cfg: TrainConfig, model_config: ModelConfig, stored: Checkpoint | None,
                      adjustments: Sequence[dict[str, Any]]) -> None:
    """``config.toml`` of a run that starts, or of a resumed one whose folder has none (a run from before
    config.toml): then the settings it started with, as far as the checkpoint records them."""
    when = "written when the run started"
    if stored is not None:
        cfg = started_config(cfg, adjustments)
        when = (f"written when it was resumed at step {stored.step} (the folder had no config.toml); steps and the "
                "other settings a resume may change are those of the resumed run")
    try:
        write_run_config(out_dir, cfg, model_config, when)
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            raise
        raise storage_error(exc, out_dir / RUN_CONFIG_NAME, "the run did not start") from None


def train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True,
          adjust: dict[str, Any] | None = None, callbacks: Sequence[TrainCallback] = (),
          resume_from: str | Path | None = None, match_stored: bool = False) -> TrainResult:
    """Build the run (:func:`build_trainer`) and train it to ``config.steps`` (or its time limit); SIGTERM
    during either stops it as Ctrl-C does (:func:`~videovae.engine.run_folder.sigterm_as_interrupt`)."""
    with sigterm_as_interrupt():
        trainer = build_trainer(config, out_dir, resume=resume, progress=progress, adjust=adjust, callbacks=callbacks,
                                resume_from=resume_from, match_stored=match_stored)
    return trainer.run()


__all__ = ["build_trainer", "model_config_of", "sized_config", "stage_one", "stage_one_settings", "train"]
