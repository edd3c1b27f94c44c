"""``checkpoint.best.pt``: the saved step whose held-out loss was the lowest of the run's healthy checks.

Why: a run that diverges late overwrites its good weights. Measured on ``moving-sprites`` at 64×64 with the
defaults (docs/own_data.md, "A late divergence at 64×64, and the best checkpoint"): a gradient spike at step
~6760 sent the model to the mean frame for good; the collapse check said so every 100 steps, but by the time a
user read it both ``checkpoint.pt`` and ``checkpoint.prev.pt`` held the collapsed model. The best checkpoint keeps
the good one, and the collapse warning names it; resumed from step 6750 of that run with ``--spike-clip 10``, the
same spike was cut and the model stayed healthy, hence the warning's advice for a run without the clip (the
default since, :attr:`VideoModel.default_spike_clip`).

Rule: a checkpoint written at a step with a validation row of its own (validation and checkpoint intervals
meet: with the defaults every 100 steps) becomes the best when that row passed the collapse check
(:mod:`.health`, no ``health_warning``) and its held-out ``val_loss`` (the model's loss named ``loss`` on the
validation clips: −Eq. 9 for the VAEs; a model without one gets no best checkpoint) is lower than that of every
earlier such row. The rule reads only the run's history (kept in every checkpoint), so a resumed run goes on
choosing as the straight run would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..io.atomic import keep_as_previous

#: the best checkpoint's file name, beside ``checkpoint.pt``
BEST_NAME = "checkpoint.best.pt"


def held_out_loss(row: Mapping[str, Any]) -> float | None:
    """The row's held-out loss when it is a healthy validation row, else None."""
    if "health_warning" in row:
        return None
    value = row.get("val_loss")
    return float(value) if isinstance(value, (int, float)) else None


def best_row(history: Sequence[Mapping[str, Any]], checkpoint_every: int, *, before: int | None = None) -> dict | None:
    """The healthy validation row with the lowest held-out loss among those at checkpointed steps (multiples of
    ``checkpoint_every``; 0: none), before step ``before`` when given; None when there is none."""
    if not checkpoint_every:
        return None
    best = None
    for row in history:
        step, loss = row.get("step"), held_out_loss(row)
        if loss is None or not isinstance(step, int) or step % checkpoint_every:
            continue
        if before is not None and step >= before:
            continue
        if best is None or loss < best["val_loss"]:
            best = dict(row)
    return best


def is_new_best(history: Sequence[Mapping[str, Any]], step: int, checkpoint_every: int) -> bool:
    """Whether the checkpoint of ``step`` is the run's best (the module's rule): ``history`` holds a healthy
    validation row of ``step`` whose loss is below every earlier checkpointed one's."""
    best = best_row(history, checkpoint_every, before=step + 1)  # a tie keeps the earlier row
    return best is not None and best["step"] == step


def keep_best(checkpoint: Path) -> Path:
    """Make ``checkpoint.best.pt`` beside ``checkpoint`` a copy of it, atomically (a hard link where the file
    system has them, so it costs no room until ``checkpoint.pt`` is replaced)."""
    best = checkpoint.with_name(BEST_NAME)
    keep_as_previous(checkpoint, best)
    return best


def collapse_hint(history: Sequence[Mapping[str, Any]], checkpoint_every: int, out_dir: Path,
                  spike_clip: float = 0.0) -> str:
    """For a collapse warning: where the best checkpoint is and how to go on from it ("" when there is none).
    The way on is the measured one where the run's spikes were not cut (``spike_clip`` 0): ``--spike-clip 10``;
    where they were, a lower rate (a Weizmann run that fell to the mean frame at lr 2e-3 with its spikes cut
    trained at 1e-3: docs/own_data.md)."""
    best = best_row(history, checkpoint_every)
    if best is None or not (out_dir / BEST_NAME).is_file():
        return ""
    change = ("a lower --lr, e.g. half" if spike_clip else "--spike-clip 10")
    return (f"; {out_dir / BEST_NAME} keeps step {best['step']} (held-out loss {best['val_loss']:.1f}, healthy): "
            f"--resume-from it goes on from there (where grad_norm jumped before the collapse, with {change})")


__all__ = ["BEST_NAME", "best_row", "collapse_hint", "held_out_loss", "is_new_best", "keep_best"]
