"""What the trainer hands a model's step (:class:`~videovae.core.StepContext`): the update of a named
optimizer and the per-clip noise; and the optimizers' states in a checkpoint.

``Optimizers.optimize(name, loss)`` is one update of the optimizer ``name``: zero its gradients,
back-propagate, average the gradients over the processes of a ``torchrun`` run (an all-reduce, as
DistributedDataParallel would), clip their norm over that optimizer's parameters and step. The norm is
clipped at ``grad_clip`` (absolute; 0: no limit) and at ``spike_clip`` times the median norm of that
optimizer's previous ``SPIKE_WINDOW`` steps (relative; 0: off); the norm before clipping is kept for the
history row. ``sample_noise`` gives the ε of Eq. 7 as a
function of (seed, step, clip index) only, so a resumed or distributed run draws exactly the noise of an
uninterrupted single-process one.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any, Callable, Mapping

import torch
import torch.distributed as dist
from torch import Tensor

from ..core.errors import ConfigError, UnknownNameError, unknown_name_message
from ..core.interfaces import VideoModel
from ..core.mixed_precision import float32
from .distributed import ProcessInfo


def sample_noise(indices: list[int], step: int, seed: int, *shape: int) -> Tensor:
    """ε ``[B, *shape]`` for the clips ``indices`` at ``step``: a function of (seed, step, clip) only."""
    noise = torch.empty(len(indices), *shape)
    for row, index in enumerate(indices):
        generator = torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1_000_033 + index) % (2**63))
        noise[row] = torch.randn(*shape, generator=generator)
    return noise


def clip_noise(indices: list[int], step: int, seed: int, device: torch.device) -> Callable[..., Tensor]:
    """The ``noise(*shape)`` of a :class:`~videovae.core.StepContext`: :func:`sample_noise` on ``device``."""
    return lambda *shape: sample_noise(indices, step, seed, *shape).to(device)


def synchronize_model(model: torch.nn.Module, process: ProcessInfo) -> None:
    """Give every process rank 0's weights and buffers (what DistributedDataParallel does when built)."""
    if process.distributed:
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor, src=0)


def average_gradients(parameters: list[Tensor], world_size: int) -> None:
    """Replace each gradient by its mean over the processes: one all-reduce per dtype and device."""
    buckets: dict[tuple, list[Tensor]] = {}
    for p in parameters:
        if p.grad is not None:
            buckets.setdefault((p.grad.device, p.grad.dtype), []).append(p.grad)
    for grads in buckets.values():
        flat = torch.cat([g.reshape(-1) for g in grads]).div_(world_size)
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


#: steps whose gradient norms set the relative clipping threshold, and how many it needs before it acts
SPIKE_WINDOW, SPIKE_MIN_STEPS = 100, 20
#: the key under which an optimizer's recent norms travel in :meth:`Optimizers.state_dict`
RECENT_NORMS = "recent_grad_norms"


class Optimizers:
    """A model's named optimizers (:meth:`VideoModel.configure_optimizers`) and the update each step runs.

    Why a relative clip (``spike_clip``; a run's default is its model's ``default_spike_clip``, 10 for the VAEs):
    the gradient norm's scale depends on the data, the likelihood and the model (a median of about 7,000 on
    Weizmann under the Gaussian likelihood, 340-440 there under L1), so no absolute ``grad_clip`` suits every
    data set; ``spike_clip=10`` cuts a norm above ten times the recent median and leaves ordinary steps
    (within about 2x of it) untouched, bit for bit. At 64×64 on ``moving-sprites`` it cut the one step that
    sent the default run to the mean frame, and the run stayed healthy; it does not save everything: a
    Weizmann run at lr 2e-3 still fell back to the mean frame at step ~1100 with its spikes cut
    (docs/own_data.md)."""

    def __init__(self, model: VideoModel, lr: float, *, grad_clip: float = 0.0, spike_clip: float = 0.0,
                 process: ProcessInfo | None = None):
        optimizers = model.configure_optimizers(lr)
        name = model.config.architecture
        if not isinstance(optimizers, Mapping) or not optimizers:
            raise ConfigError(f"model {name!r}: configure_optimizers must return a non-empty dict of named "
                              f"torch.optim.Optimizer, got {type(optimizers).__name__}")
        wrong = [key for key, value in optimizers.items()
                 if not isinstance(key, str) or not isinstance(value, torch.optim.Optimizer)]
        if wrong:
            raise ConfigError(f"model {name!r}: configure_optimizers must map names to torch.optim.Optimizer, "
                              f"got {', '.join(f'{k!r}: {type(optimizers[k]).__name__}' for k in wrong)}")
        self.optimizers: dict[str, torch.optim.Optimizer] = dict(optimizers)
        self.grad_clip = grad_clip
        self.spike_clip = spike_clip
        #: the last SPIKE_WINDOW gradient norms (before clipping) per optimizer
        self.recent: dict[str, deque] = {name: deque(maxlen=SPIKE_WINDOW) for name in self.optimizers}
        #: steps whose gradient was cut by the relative clip since :meth:`take_norms`
        self.spikes_clipped = 0
        self.process = process if process is not None else ProcessInfo()
        #: the largest gradient norm (before clipping) per optimizer since :meth:`take_norms`
        self.norms: dict[str, Tensor] = {}

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        if name not in self.optimizers:
            raise UnknownNameError(unknown_name_message("optimizer", name, self.optimizers,
                                                        "the model's configure_optimizers names them"))
        return self.optimizers[name]

    def __iter__(self):
        return iter(self.optimizers)

    def parameters(self, name: str) -> list[Tensor]:
        return [p for group in self[name].param_groups for p in group["params"]]

    def optimize(self, name: str, loss: Tensor) -> None:
        """One update of optimizer ``name`` on ``loss`` (the ``optimize`` of a StepContext)."""
        optimizer = self[name]
        with float32():  # under --precision bf16: autocast is for the forward passes only
            self._update(name, optimizer, loss)

    def _update(self, name: str, optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parameters = self.parameters(name)
        if self.process.distributed:
            average_gradients(parameters, self.process.world_size)
        # the norm before clipping; max_norm=inf scales by exactly 1 (reported, not clipped); after the
        # all-reduce every process holds the same gradients, hence the same norm and the same threshold
        limit, spike_limit = self.clip_threshold(name)
        norm = torch.nn.utils.clip_grad_norm_(parameters, limit).detach()
        value = float(norm)
        if math.isfinite(value):  # a non-finite loss stops the run; its norm must not set the threshold
            self.recent[name].append(value)
        if value > spike_limit:
            self.spikes_clipped += 1
        previous = self.norms.get(name)
        self.norms[name] = norm if previous is None else torch.maximum(previous, norm)
        optimizer.step()

    def clip_threshold(self, name: str) -> tuple[float, float]:
        """(the norm the next update of ``name`` is clipped at, the relative limit alone); inf = no limit."""
        recent = self.recent[name]
        spike = (self.spike_clip * statistics.median(recent)
                 if self.spike_clip and len(recent) >= SPIKE_MIN_STEPS else float("inf"))
        return min(self.grad_clip or float("inf"), spike), spike

    def take_norms(self) -> dict[str, float]:
        """The largest gradient norm per optimizer since the previous call (those that stepped), then forget them."""
        norms = {name: value.item() for name, value in self.norms.items()}
        self.norms = {}
        return norms

    def take_spikes(self) -> int:
        """Updates whose gradient the relative clip cut since the previous call, then forget them."""
        count, self.spikes_clipped = self.spikes_clipped, 0
        return count

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every parameter group of every optimizer (a resumed run's ``lr``)."""
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: optimizer state}``: the checkpoint's ``optimizer_state``; each state also holds the
        optimizer's recent gradient norms (``RECENT_NORMS``), so a resumed run clips exactly as an
        uninterrupted one."""
        return {name: {**optimizer.state_dict(), RECENT_NORMS: list(self.recent[name])}
                for name, optimizer in self.optimizers.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; one plain optimizer state (checkpoints written before optimizers had
        names) restores the single optimizer ``model``. Mismatched names raise ValueError."""
        if isinstance(state, Mapping) and isinstance(state.get("param_groups"), list) and "state" in state:
            state = {"model": state}
        if not isinstance(state, Mapping) or set(state) != set(self.optimizers):
            stored = ", ".join(map(str, state)) if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"its optimizer_state holds optimizer(s) {stored or '(none)'}, "
                             f"the model has {', '.join(self.optimizers)}")
        for name, optimizer in self.optimizers.items():
            stored = dict(state[name])
            norms = stored.pop(RECENT_NORMS, [])  # none in checkpoints written before the relative clip
            optimizer.load_state_dict(stored)
            self.recent[name] = deque((float(v) for v in norms), maxlen=SPIKE_WINDOW)


__all__ = ["Optimizers", "average_gradients", "clip_noise", "sample_noise", "synchronize_model"]
