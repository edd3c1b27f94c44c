"""Mixed precision: where bf16 runs natively, the autocast of ``--precision bf16``, and fp32 islands.

``--precision bf16`` runs the forward passes of training (and of ``generate``) under
``torch.autocast(device_type, dtype=torch.bfloat16)``; the weights, their gradients and the optimizer's state
stay float32, the losses (the likelihood and the KL of Eq. 9) are computed in float32 (:func:`float32`), and
the layers that are slower or less accurate in bf16 (chosen by measurement, docs/benchmarks.md) are kept in
float32 by :func:`keep_float32` (both in :mod:`videovae.core.mixed_precision`, which the parts use).

bf16 is only allowed where the hardware computes it natively: on a CPU with ``avx512_bf16`` or ``amx_bf16``
(read from ``/proc/cpuinfo``; torch's own ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` is true on any
CPU with AVX-512BW/VL/DQ, where oneDNN emulates bf16 and runs slower than fp32, so it does not tell) and on a
CUDA device for which ``torch.cuda.is_bf16_supported()`` holds. Elsewhere :func:`check_precision` refuses it
in one line.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

import torch

from ..core.errors import ConfigError
from ..core.mixed_precision import float32, is_float32_island, keep_float32

PRECISIONS = ("fp32", "bf16")
#: CPU flags (``/proc/cpuinfo``) of native bf16 arithmetic: AVX512-BF16 dot products, AMX bf16 tiles
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: the flags the benchmark records with every run
REPORTED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags (the first ``flags`` line of ``/proc/cpuinfo``), or None where there is none
    (not Linux, or unreadable)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        text = CPUINFO.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


def native_bf16_missing(device: torch.device | str) -> str | None:
    """Why ``device`` has no native bf16 (the one line's middle), or None when it has."""
    device = torch.device(device)
    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return None
        name = torch.cuda.get_device_name(device) if torch.cuda.is_available() else "this CUDA device"
        return f"{name} does not support bf16 (torch.cuda.is_bf16_supported() is false)"
    if device.type != "cpu":
        return f"bf16 is supported here on cpu and cuda devices, not on {device.type}"
    flags = cpu_flags()
    if flags is None:
        return "this CPU's bf16 support cannot be read (no /proc/cpuinfo flags)"
    if flags & set(NATIVE_BF16_FLAGS):
        return None
    return f"this CPU has no native bf16 ({' or '.join(NATIVE_BF16_FLAGS)} is not among its /proc/cpuinfo flags)"


def check_precision(precision: str, device: torch.device | str, *, flag: str = "--precision") -> None:
    """A one-line :class:`ConfigError` unless ``precision`` can run on ``device``: fp32 always, bf16 only
    where it is native (:func:`native_bf16_missing`)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"{flag} must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16":
        missing = native_bf16_missing(device)
        if missing is not None:
            raise ConfigError(f"{flag} bf16 needs native bf16 arithmetic: {missing}; use {flag} fp32")


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The autocast of ``precision`` on ``device``'s type: bf16 autocast for ``"bf16"``, nothing for ``"fp32"``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


__all__ = ["NATIVE_BF16_FLAGS", "PRECISIONS", "REPORTED_FLAGS", "autocast", "check_precision", "cpu_flags", "float32",
           "is_float32_island", "keep_float32", "native_bf16_missing"]
