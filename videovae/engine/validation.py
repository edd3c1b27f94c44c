"""The held-out loss: the objective of Eq. 9 on a fixed set of validation clips, with fixed noise and
no gradients, so that two rows of a run differ only by what the model learnt in between."""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.interfaces import StepContext, VideoModel
from .data import VALIDATION_STEP, clip_batches
from .optimization import clip_noise


def _no_update(name: str, loss: Tensor) -> None:
    raise RuntimeError("validation does not update the model")


def validation_losses(model: VideoModel, split, indices: list[int], *, batch_size: int, seed: int, kl_weight: float,
                      device: torch.device | str = "cpu") -> dict[str, float]:
    """The mean over the clips ``indices`` of ``split`` of each of the model's named losses
    (:meth:`~videovae.core.VideoModel.losses`; −Eq. 9 with β = ``kl_weight`` for the VAEs).

    The model runs in eval mode without gradients and is put back in its mode afterwards. The ε of a
    clip depends on (seed, clip) only; any other draw (e.g. a random h^(0)) comes from the global random
    state seeded with ``seed`` inside a fork of it, so validation neither varies between calls nor moves
    the random state training goes on with.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            for batch, chunk in clip_batches(split, indices, batch_size):
                context = StepContext(VALIDATION_STEP, kl_weight, clip_noise(chunk, VALIDATION_STEP, seed, device),
                                      _no_update)
                losses = model.losses(batch.to(device), context)
                for name, value in losses.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(chunk)
    finally:
        model.train(was_training)
    return {name: total / len(indices) for name, total in sums.items()}


__all__ = ["validation_losses"]
