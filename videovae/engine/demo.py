"""``videovae demo``: train VideoVAE on the built-in chairs and show what it generates.

Writes into the output folder:

* ``checkpoint.pt``, ``loss_curve.png``, ``history.jsonl``, ``tensorboard/``;
* ``first_frame.png`` / ``.gif``: held-out test chairs; per chair the real clip,
  then the model continuing its first frame with rotation ``ccw`` and ``cw``;
* ``attributes_only.png`` / ``.gif``: the same chairs generated from attributes
  alone (chair, tilt, rotation; no frame given);
* ``demo.json``: steps, time, losses, and two checks measured on the samples:
  how often a generated clip is closer to the real clip of the commanded
  rotation than to the opposite one, and how often its nearest real chair (at
  the same views) is the commanded chair.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from ..core.validators import check, positive_float, to_float
from ..io.atomic import atomic_write_text
from ..io.video import save_gif, save_grid_png
from .checkpoint import versions
from .generation import generate_videos
from .train_config import TrainConfig
from .training import build_trainer

logger = logging.getLogger(__name__)

#: The demo's run: the paper's +C+S composition at 32×32 ("demo" preset) on 30 procedural
#: chairs, with the training defaults of every run (steps, batch, learning rate, KL warm-up).
#: The A.4 sizes at 64×64 learn about ten times slower per second on 2 CPU cores and
#: show only grey silhouettes after ten minutes; `videovae train` trains them.
DEMO_CONFIG = TrainConfig(
    preset="demo",
    dataset="synthetic-chairs",
    dataset_options={"num_objects": 30, "size": 32},
    log_every=10,
    checkpoint_every=200,
    time_limit=10.5 * 60,
)
SHOWN_CHAIRS = 6


def real_clips(dataset) -> dict[tuple[int, int, int], torch.Tensor]:
    """Every clip of both splits by (chair, tilt, rotation) label."""
    clips = {}
    for split in ("train", "test"):
        items = dataset.split(split)
        for i in range(len(items)):
            frames, labels = items[i]
            clips[tuple(int(v) for v in labels[0])] = frames
    return clips


def rotation_and_identity_checks(videos: torch.Tensor, labels: torch.Tensor, clips: dict) -> dict[str, float]:
    """Direction: closer (L1) to the commanded rotation's real clip than to the other one.
    Identity: among all chairs' real clips with the commanded tilt and rotation, the closest is the commanded chair."""
    direction_hits, identity_hits = 0, 0
    chairs = sorted({key[0] for key in clips})
    for video, label in zip(videos, labels[:, 0]):
        chair, tilt, rotation = (int(v) for v in label)
        error = lambda key: (video - clips[key]).abs().mean().item()  # noqa: E731
        direction_hits += error((chair, tilt, rotation)) < error((chair, tilt, 1 - rotation))
        nearest = min(chairs, key=lambda c: error((c, tilt, rotation)))
        identity_hits += nearest == chair
    n = len(videos)
    return {"rotation_direction_correct": direction_hits / n, "nearest_chair_correct": identity_hits / n, "videos": n}


def sample_and_check(model, dataset, label_table, out: Path, *, seed: int = 0, shown: int = SHOWN_CHAIRS,
                     precision: str = "fp32") -> dict:
    """Write ``first_frame.png``/``.gif`` and ``attributes_only.png``/``.gif`` of the first ``shown`` test chairs
    into ``out`` and return the two checks (:func:`rotation_and_identity_checks`) of each mode, generated in
    ``precision``."""
    out = Path(out)
    clips = real_clips(dataset)
    test = dataset.split("test")
    picks = [test[i] for i in range(min(shown, len(test)))]
    first = torch.stack([frames[0] for frames, _ in picks])
    base = torch.stack([labels for _, labels in picks])  # [K, T, 3]
    length = base.shape[1]
    all_videos, all_labels = [], []
    for mode, first_frames in (("first_frame", first), ("attributes_only", None)):
        grid, names = [], []
        for rotation, name in enumerate(dataset.attributes.spec("rotation").values):
            labels = base.clone()
            labels[..., 2] = rotation
            videos, used = generate_videos(model, num=len(picks), length=length, labels=labels,
                                           first_frames=first_frames, label_table=label_table,
                                           seed=seed + rotation, precision=precision)
            grid.append(videos)
            names.append(name)
            all_videos.append(videos)
            all_labels.append(used)
        real = torch.stack([frames for frames, _ in picks])
        stacked, labels_text = [], []
        for k in range(len(picks)):
            chair = dataset.attributes.specs[0].format(float(base[k, 0, 0]))
            stacked += [real[k], grid[0][k], grid[1][k]]
            labels_text += [f"{chair} real", f"{names[0]}", f"{names[1]}"]
        stacked = torch.stack(stacked)
        save_grid_png(stacked, out / f"{mode}.png", row_labels=labels_text)
        save_gif(stacked, out / f"{mode}.gif")
    return {
        "first_frame": rotation_and_identity_checks(torch.cat(all_videos[:2]), torch.cat(all_labels[:2]), clips),
        "attributes_only": rotation_and_identity_checks(torch.cat(all_videos[2:]), torch.cat(all_labels[2:]), clips),
    }


def run_demo(out_dir: str | Path, *, minutes: float | None = None, device: str = "auto", resume: bool = False,
             config: TrainConfig = DEMO_CONFIG, shown: int = SHOWN_CHAIRS, precision: str | None = None) -> dict:
    """Train ``config`` (the demo's run) into ``out_dir``, then sample and check it (``demo.json``). ``precision``
    (default: ``config``'s) trains and samples in fp32 or bf16 (``videovae train --precision``)."""
    out = Path(out_dir)
    started = time.monotonic()
    overrides = {"device": device}
    if precision is not None:
        overrides["precision"] = precision
    if minutes is not None:
        check(positive_float, "--minutes", to_float(minutes))
        overrides["time_limit"] = float(minutes) * 60
    config = TrainConfig.from_dict({**config.to_dict(), **overrides})
    logger.info(f"videovae demo: training '{config.preset}' on {config.dataset} for up to {config.time_limit / 60:.1f} min -> {out}")
    adjust = {"precision": precision} if resume and precision is not None else None  # recorded as an adjustment
    trainer = build_trainer(config, out, resume=resume, adjust=adjust)  # the data set, the model and its trainer
    result = trainer.run()
    checks = sample_and_check(trainer.model.eval(), trainer.dataset, trainer.label_table, out, seed=config.seed,
                              shown=shown, precision=trainer.config.precision)
    summary = {
        "command": "videovae demo",
        "steps": result.step,
        "train_seconds": round(result.seconds, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "stopped_by_time_limit": result.stopped_by_time_limit,
        "precision": trainer.config.precision,
        "final_loss": result.last_losses or None,
        "dataset": trainer.dataset.describe(),
        "checks": checks,
        "threads": torch.get_num_threads(),
        "versions": versions(),
    }
    atomic_write_text(out / "demo.json", json.dumps(summary, indent=2))
    logger.info(json.dumps(checks, indent=2))
    for name in ("first_frame.png", "attributes_only.png", "loss_curve.png", "checkpoint.pt", "demo.json"):
        logger.info(f"wrote {out / name}")
    return summary

