"""``videovae evaluate`` into the runs' TensorBoard logs: each scored checkpoint's numbers at its step.

For every checkpoint whose run folder has a ``tensorboard/`` folder (the one ``videovae train`` writes), one new
event file there holds, at the checkpoint's step:

* ``eval/<mode>/<score>`` for each of the checkpoint's own rows, ``<mode>`` being ``i`` (generated from attributes),
  ``iv`` (continuing real first frames) or ``reconstruction``, ``<score>`` each of :data:`~.scores.SCORES` the row
  has (``intra_entropy``, ``inter_entropy``, ``inception_score``, ``psnr``, ``ssim``, ``fvd``);
* ``eval/bound/<score>``, the real test clips' numbers, and ``eval/classifier_accuracy`` (joint, on the real test
  clips), the references those rows are read against;
* ``eval/table`` (text): the Markdown table of the whole evaluation.

It runs after the report is written; a run folder without ``tensorboard/`` or that cannot be written is skipped
with one line, never an error.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..tensorboard_log import open_writer
from .scores import MODE_ATTRIBUTES, MODE_FIRST_FRAME, MODE_RECONSTRUCTION, PER_ATTRIBUTE, SCORES

logger = logging.getLogger(__name__)

#: the ``<mode>`` of the tags of a row of each mode
MODE_TAGS = {MODE_ATTRIBUTES: "i", MODE_FIRST_FRAME: "iv", MODE_RECONSTRUCTION: "reconstruction"}


def mode_tag(mode: str) -> str:
    return MODE_TAGS.get(mode) or re.sub(r"[^\w.-]+", "_", mode).strip("_")


def eval_scalars(rows: Sequence[tuple[str, Mapping[str, Any]]], bound: Mapping[str, Any],
                 accuracy: Mapping[str, Any] | None) -> dict[str, float]:
    """The ``eval/*`` scalars of one checkpoint: its ``rows`` (label, row), the ``bound`` row and the classifier's
    ``accuracy`` (:func:`~.classifier.classifier_accuracy`)."""
    values = {}
    for prefix, row in [(mode_tag(row.get("mode", label)), row) for label, row in rows] + [("bound", bound)]:
        values.update({f"eval/{prefix}/{score}": float(row[score]) for score in SCORES if row.get(score) is not None})
        for key in PER_ATTRIBUTE:
            values.update({f"eval/{prefix}/{key}/{name}": float(value) for name, value in row.get(key, {}).items()})
    if accuracy is not None and accuracy.get("joint") is not None:
        values["eval/classifier_accuracy"] = float(accuracy["joint"])
    return values


def _skip_reason(folder: Path) -> str | None:
    if not folder.is_dir():
        return f"{folder.parent} has no tensorboard/ folder"
    if not os.access(folder, os.W_OK):
        return f"{folder} is read-only"
    return None


def write_to_runs(scored: Sequence[tuple[Any, Sequence[tuple[str, Mapping[str, Any]]]]], *, bound: Mapping[str, Any],
                  accuracy: Mapping[str, Any] | None, table: str) -> list[Path]:
    """Write ``scored`` (each checkpoint, a :class:`~videovae.engine.checkpoint.LoadedCheckpoint`, with its own rows)
    into its run folder's ``tensorboard/`` (module docstring); the folders written. A folder that is missing or
    cannot be written is skipped with one line on the ``videovae`` logger."""
    by_folder: dict[Path, list] = {}
    for checkpoint, rows in scored:
        where = Path(checkpoint.checkpoint.where)
        if where.is_file():  # not a checkpoint built in memory
            by_folder.setdefault(where.parent / "tensorboard", []).append((checkpoint.step, rows))
    written = []
    for folder, entries in by_folder.items():
        reason = _skip_reason(folder)
        if reason is None:
            try:
                writer = open_writer(folder)
                try:
                    for step, rows in entries:
                        for tag, value in eval_scalars(rows, bound, accuracy).items():
                            writer.add_scalar(tag, value, step)
                        writer.add_text("eval/table", table, step)
                finally:
                    writer.close()
            except OSError as exc:
                reason = f"{folder} cannot be written ({exc.strerror or exc})"
        if reason is not None:
            logger.warning(f"TensorBoard: {reason}; its scores are only in the report")
            continue
        steps = ", ".join(str(step) for step, _ in entries)
        logger.info(f"TensorBoard: eval/* at step {steps} in {folder}")
        written.append(folder)
    return written


__all__ = ["MODE_TAGS", "eval_scalars", "mode_tag", "write_to_runs"]
