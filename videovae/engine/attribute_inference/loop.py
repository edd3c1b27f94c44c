"""The one training loop of stage 1: encoder pretraining, supervised training and self-training
(:mod:`videovae.engine.attribute_inference.training`) all run their steps through :func:`run_steps`."""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import Tensor

#: one step's loss: ``batch_loss(step) -> (loss, {name: part})``, the parts only logged
BatchLoss = Callable[[int], "tuple[Tensor, Mapping[str, Tensor]]"]


def run_steps(optimizer: torch.optim.Optimizer, steps: int, batch_loss: BatchLoss, *, log_every: int = 10,
              progress: bool = False, desc: str = "attribute net", loss_name: str = "loss",
              step_offset: int = 0) -> list[dict]:
    """``steps`` optimiser steps on ``batch_loss(step)`` (step = 1..steps); every ``log_every`` steps
    (and at the last) a history row ``{"step": step + step_offset, loss_name: mean loss, <part>: mean}``
    averaged over the steps since the previous row."""
    from tqdm import tqdm

    history: list[dict] = []
    running: dict[str, float] = {}
    bar = tqdm(total=steps, disable=not progress, desc=desc, unit="step")
    try:
        for step in range(1, steps + 1):
            loss, parts = batch_loss(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update(1)
            for key, value in ((loss_name, loss), *parts.items()):
                running[key] = running.get(key, 0.0) + float(value.detach())
            if step % log_every == 0 or step == steps:
                count = log_every if step % log_every == 0 else step % log_every
                history.append({"step": step + step_offset, **{k: v / count for k, v in running.items()}})
                running = {}
                bar.set_postfix(loss=f"{history[-1][loss_name]:.3f}")
    finally:
        bar.close()
    return history
