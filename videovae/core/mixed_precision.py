"""Tools a part uses under ``--precision bf16`` (:mod:`videovae.engine.precision`): :func:`float32`, a region
of float32 arithmetic inside autocast (the losses of Eq. 9), and :func:`keep_float32`, which makes a layer an
fp32 island (a layer that is slower or less accurate in bf16, chosen by measurement: docs/benchmarks.md).
Without autocast both do nothing."""

from __future__ import annotations

import contextlib
import types
from typing import Any, Iterator

import torch
from torch import nn

#: marks a module that :func:`keep_float32` made an fp32 island
ISLAND = "_videovae_float32_island"


def _as_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float32:
        return value.float()
    return value


def autocast_device() -> str | None:
    """The device type whose autocast is on in this thread, if any."""
    for device_type in ("cpu", "cuda"):
        if torch.is_autocast_enabled(device_type):
            return device_type
    return None


@contextlib.contextmanager
def float32() -> Iterator[None]:
    """Autocast off inside (float32 arithmetic for float32 inputs): the losses, the fp32 islands, backward."""
    device_type = autocast_device()
    if device_type is None:
        yield
        return
    with torch.autocast(device_type, enabled=False):
        yield


def _island_forward(self: nn.Module, *args, **kwargs):
    """The forward of an fp32 island: under autocast, autocast off and float32 inputs; else the plain forward."""
    forward = type(self).forward
    if autocast_device() is None:
        return forward(self, *args, **kwargs)
    with float32():
        return forward(self, *map(_as_float32, args), **{k: _as_float32(v) for k, v in kwargs.items()})


def keep_float32(module: nn.Module) -> nn.Module:
    """Make ``module`` an fp32 island: under autocast it runs with autocast off on float32 inputs (its output is
    float32); without autocast nothing changes. Its ``state_dict`` is unchanged (the forward is replaced on the
    instance, as a bound method, so ``copy.deepcopy`` rebinds it to the copy)."""
    module.forward = types.MethodType(_island_forward, module)
    setattr(module, ISLAND, True)
    return module


def is_float32_island(module: nn.Module) -> bool:
    return bool(getattr(module, ISLAND, False))


__all__ = ["autocast_device", "float32", "is_float32_island", "keep_float32"]
