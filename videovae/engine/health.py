"""Collapse checks: is a model better than a predictor that knows nothing of the clip?

On sparse data (small objects on a plain background) a VAE can settle on one frame for every clip
(docs/own_data.md: the decoder's output then varies between clips by 0.0003 of the pixel range) while
its loss still falls, so a falling loss proves nothing. Two references a model must beat:

* **the mean frame**: the per-pixel mean of the training frames, the best constant under squared error.
  A model whose posterior reconstructions (Eq. 4, 6) of held-out clips are no closer to them, in squared
  error, than the mean frame has not learnt to read its frames. (Under L1 the best constant is the
  per-pixel median, on sparse data the black background, which a collapsed L1 model reproduces while
  "beating" the mean frame; in squared error black is worse than the mean frame, so both kinds of
  collapse, to the median and to the mean, fail this check.)
* **spread**: the standard deviation over clips of each pixel, averaged over pixels and frames. Real
  clips differ from each other; samples or reconstructions whose spread is a small fraction of the real
  clips' are (nearly) one clip whatever the input.

:func:`check_health` measures both on a fixed set of clips and says, in one line per failed check, what
is wrong; the trainer runs it with every validation and ``videovae evaluate`` marks such rows.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import torch
from torch import Tensor

from ..core.interfaces import VideoModel
from .data import clip_batches
from .generation import generate_videos
from .modes import eval_mode

#: generated or reconstructed clips whose spread is below this fraction of the real clips' are "constant"
SPREAD_FRACTION = 0.1


def squared_error_per_frame(a: Tensor, b: Tensor) -> float:
    """Mean over frames of the squared error summed over a frame's values; ``a`` and ``b`` broadcast."""
    a, b = torch.broadcast_tensors(a, b)
    return float((a - b).pow(2).flatten(-3).sum(-1).mean())


def l1_per_frame(a: Tensor, b: Tensor) -> float:
    """Mean over frames of the L1 error summed over a frame's values (the training loss's scale);
    ``a`` and ``b`` broadcast to ``[..., C, H, W]``."""
    a, b = torch.broadcast_tensors(a, b)
    return float((a - b).abs().flatten(-3).sum(-1).mean())


def spread(videos: Tensor) -> float:
    """Standard deviation over the clips of ``videos [N, T, C, H, W]`` of each value, averaged over
    values and frames (0 for a set of identical clips)."""
    if videos.shape[0] < 2:
        return 0.0
    return float(videos.float().std(dim=0, unbiased=False).mean())


def reference_frames(split, indices: Sequence[int], *, limit: int = 256) -> tuple[Tensor, Tensor]:
    """The per-pixel mean and median frame ``[C, H, W]`` over every frame of up to ``limit`` clips of
    ``split`` (the clips ``indices``, evenly thinned to ``limit``)."""
    if not len(indices):
        raise ValueError("reference_frames needs at least one clip")
    step = max(1, len(indices) // limit)
    frames = torch.cat([split[i][0] for i in list(indices)[::step][:limit]])  # [N·T, C, H, W]
    return frames.mean(0), frames.median(0).values


@attrs.frozen
class Health:
    """What :func:`check_health` measured at one step; ``warnings`` is empty for a healthy model."""

    step: int
    reconstruction_error: float | None  # squared error per frame of posterior reconstructions (None: no posterior)
    mean_frame_error: float  # the same error of the mean training frame
    real_spread: float
    reconstruction_spread: float | None
    sample_spread: float | None  # generated clips (None: the model was not asked to generate)
    warnings: tuple[str, ...] = ()

    @property
    def collapsed(self) -> bool:
        return bool(self.warnings)

    def as_row(self) -> dict:
        """The history / report keys (``health_*``); ``health_warning`` only when a check failed."""
        row = {f"health_{key}": value for key, value in attrs.asdict(self).items()
               if key not in ("step", "warnings") and value is not None}
        if self.warnings:
            row["health_warning"] = "; ".join(self.warnings)
        return row


def verdict(*, reconstruction_error: float | None, mean_frame_error: float, real_spread: float,
            reconstruction_spread: float | None, sample_spread: float | None) -> tuple[str, ...]:
    """One line per failed check (see the module docstring); empty when every check passes."""
    found = []
    if reconstruction_error is not None and reconstruction_error >= mean_frame_error:
        found.append(f"reconstructions are no better than the mean training frame "
                     f"(squared error per frame {reconstruction_error:.1f} vs {mean_frame_error:.1f})")
    floor = SPREAD_FRACTION * real_spread
    if reconstruction_spread is not None and reconstruction_spread < floor:
        found.append(f"reconstructions of different clips are nearly identical (spread {reconstruction_spread:.4f} "
                     f"vs {real_spread:.4f} of the real clips)")
    if sample_spread is not None and sample_spread < floor:
        found.append(f"generated clips are nearly identical (spread {sample_spread:.4f} vs {real_spread:.4f} "
                     "of the real clips)")
    return tuple(found)


#: a run whose held-out reconstruction error fell by more than this fraction over its last quarter is still learning
STILL_LEARNING_FRACTION = 0.05


def still_learning(history: Sequence[dict], *, quarter: float = 0.25,
                   fraction: float = STILL_LEARNING_FRACTION) -> str | None:
    """A one-line notice when the held-out reconstruction error (``health_reconstruction_error`` of the
    validation rows) fell by more than ``fraction`` over the last ``quarter`` of the run, else None.

    On sparse data the default 3000 steps stop a model that is far from done (docs/own_data.md: on
    ``moving-sprites`` the error halves again between 3000 and 8000 steps and the mode-iv I-score nearly
    doubles), and a run that ends says nothing of it unless told; the notice names the resume that goes on.
    """
    rows = [(row["step"], row["health_reconstruction_error"]) for row in history
            if "health_reconstruction_error" in row]
    if len(rows) < 2:
        return None
    last_step, last = rows[-1]
    earlier = [(step, value) for step, value in rows[:-1] if step <= (1 - quarter) * last_step]
    if not earlier:
        return None
    step, value = earlier[-1]
    if value <= 0 or last >= (1 - fraction) * value:
        return None
    return (f"the held-out reconstruction error still fell {1 - last / value:.0%} between steps {step} and {last_step} "
            f"({value:.1f} -> {last:.1f} squared error per frame): the model is still learning; "
            f"--resume --steps {2 * last_step} goes on from here")


@torch.no_grad()
def check_health(model: VideoModel, split, indices: Sequence[int], *, references: tuple[Tensor, Tensor],
                 label_table: Tensor | None = None, step: int = 0, seed: int = 0, batch_size: int = 16,
                 device: torch.device | str = "cpu", generate: bool = True) -> Health:
    """Measure ``model`` on the clips ``indices`` of ``split`` against ``references`` (the mean and median
    frame of :func:`reference_frames`, from the training split; the checks use the mean).

    Reconstructions (when the model has a posterior) use the clips' own labels; generated clips (when
    ``generate``) continue each clip's first frame where the model cannot generate from attributes alone,
    and are otherwise drawn from the clips' labels. Draws come from ``seed`` inside a fork of the global
    random state, so training goes on with the state it had.
    """
    device = torch.device(device)
    mean_frame = references[0]
    real, reconstructions, labels, firsts = [], [], [], []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), eval_mode(model):
        torch.manual_seed(seed)
        for batch, _ in clip_batches(split, list(indices), batch_size):
            real.append(batch.frames)
            labels.append(batch.labels)
            firsts.append(batch.frames[:, 0])
            if model.capabilities.posterior:
                out = model.reconstruct(batch.frames.to(device), batch.labels.to(device), generator=None)
                reconstructions.append(out.float().cpu())
        real_clips = torch.cat(real)
        samples = None
        if generate:
            all_labels = torch.cat(labels)
            first_frames = None if model.capabilities.attributes_only else torch.cat(firsts)
            length = model.trained_length(real_clips.shape[1])
            samples, _ = generate_videos(model, num=len(real_clips), length=length, labels=all_labels[:, :length],
                                         first_frames=first_frames, label_table=label_table, seed=seed)
    recon = torch.cat(reconstructions) if reconstructions else None
    values = dict(
        reconstruction_error=None if recon is None else squared_error_per_frame(recon, real_clips),
        mean_frame_error=squared_error_per_frame(mean_frame, real_clips),
        real_spread=spread(real_clips),
        reconstruction_spread=None if recon is None else spread(recon),
        sample_spread=None if samples is None else spread(samples),
    )
    return Health(step=step, **values, warnings=verdict(**values))


__all__ = ["Health", "SPREAD_FRACTION", "check_health", "l1_per_frame", "reference_frames", "spread",
           "squared_error_per_frame", "still_learning", "verdict"]
