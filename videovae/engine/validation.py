"""The held-out loss: the objective of Eq. 9 on a fixed set of validation clips, with fixed noise and
no gradients, so that two rows of a run differ only by what the model learnt in between."""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.batch import VideoBatch
from ..core.model import loss_terms
from .data import VALIDATION_STEP, clip_batches, sample_noise


def model_losses(model, batch: VideoBatch, noise: Tensor, kl_weight: float) -> dict[str, Tensor]:
    """Named scalar losses of ``batch`` with the ε ``noise [B, T, D]``: ``loss`` (−Eq. 9 per frame with β =
    ``kl_weight``), ``reconstruction`` and ``kl``.

    The one place validation asks a model for its losses. Today it runs the composed model's posterior
    pass and :func:`loss_terms`; with the whole-model protocol it becomes ``model.losses(batch, context)``
    (:class:`videovae.core.interfaces.VideoModel`) with a context whose ``noise`` gives this ε.
    """
    terms = loss_terms(model(batch.frames, batch.labels, noise=noise), batch.frames, kl_weight)
    return {"loss": terms.total, "reconstruction": terms.reconstruction, "kl": terms.kl}


def validation_losses(model, split, indices: list[int], *, batch_size: int, seed: int, kl_weight: float,
                      device: torch.device | str = "cpu") -> dict[str, float]:
    """The mean over the clips ``indices`` of ``split`` of each of :func:`model_losses`.

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
                noise = sample_noise(chunk, VALIDATION_STEP, seed, batch.length, model.config.latent_dim)
                losses = model_losses(model, batch.to(device), noise.to(device), kl_weight)
                for name, value in losses.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(chunk)
    finally:
        model.train(was_training)
    return {name: total / len(indices) for name, total in sums.items()}


__all__ = ["model_losses", "validation_losses"]
