"""The Python API: build, train, load and sample models with a few calls.

>>> import videovae
>>> result = videovae.train(out_dir="runs/chairs", steps=2000)          # doctest: +SKIP
>>> loaded = videovae.load("runs/chairs/checkpoint.pt")                  # doctest: +SKIP
>>> videos, labels = videovae.generate(loaded, num=4, attributes={"rotation": "cw"})  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .core.errors import CheckpointError, ConfigError, InputShapeError, UnknownNameError, unknown_name_message
from .core.interfaces import VideoModel
from .core.validators import boolean, check, integer, optional_positive_int, positive_int, short_repr
from .engine import pretrained
from .engine.checkpoint import LoadedCheckpoint, load_checkpoint
from .engine.data import require_data_root
from .engine.export import export_checkpoint
from .engine.generation import generate_videos
from .engine.train_config import TrainConfig, TrainResult
from .engine.training import train as train_run
from .io.outputs import output_folder
from .registry import get_registry


def train(out_dir: str | Path, config: TrainConfig | None = None, *, resume: bool = False, progress: bool = True,
          resume_from: str | Path | None = None, **overrides: Any) -> TrainResult:
    """Train a model; ``overrides`` are :class:`TrainConfig` fields (``steps=``, ``preset=``, ``dataset=``...).
    ``resume_from`` resumes another checkpoint file of ``out_dir``, e.g. ``checkpoint.prev.pt``.
    A bad value is a one-line :class:`~videovae.core.errors.ConfigError` naming the field."""
    _check_path(out_dir, "out_dir", "an output folder", ConfigError)
    if config is not None and not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig (or None), got {type(config).__name__}")
    check(boolean, "resume", resume)
    if resume_from is not None:
        _check_path(resume_from, "resume_from", "a checkpoint file", ConfigError)
    output_folder(out_dir, "out_dir", writable=False)
    config = config if config is not None else TrainConfig()
    if overrides:
        config = TrainConfig.from_dict({**config.to_dict(), **overrides})
    require_data_root(config.data_root, "data_root")
    return train_run(config, out_dir, resume=resume, progress=progress, resume_from=resume_from)


def load(path: str | Path) -> LoadedCheckpoint:
    """A trained model (eval mode) and its checkpoint data, from a checkpoint file, an exported folder
    (:func:`export`; or its ``config.json`` / ``model.safetensors``) or ``"pretrained:NAME"`` (a model that ships
    with the package, :func:`load_pretrained`); a one-line :class:`~videovae.core.errors.CheckpointError` when
    ``path`` is none of them."""
    _check_path(path, "load", "the path of a checkpoint or an exported folder", CheckpointError)
    return load_checkpoint(path)


def load_pretrained(name: str) -> LoadedCheckpoint:
    """A model that ships with the package (``videovae pretrained`` lists them), loaded as :func:`load` loads a
    checkpoint; an unknown name is a one-line :class:`~videovae.core.errors.UnknownNameError` listing the known
    ones. ``$VIDEOVAE_PRETRAINED_DIR`` points the registry at another folder (:mod:`videovae.engine.pretrained`)."""
    return pretrained.load_pretrained(name)


def export(checkpoint: str | Path, out: str | Path, *, dtype: str = "float32") -> Path:
    """Write the model of ``checkpoint`` as ``model.safetensors`` (weights only, ``dtype`` float32 or float16)
    and ``config.json`` into the folder ``out``, all or nothing (:mod:`videovae.engine.export`); ``out``."""
    _check_path(checkpoint, "export", "the path of a checkpoint or an exported folder", CheckpointError)
    _check_path(out, "out", "an output folder", ConfigError)
    return export_checkpoint(checkpoint, out, dtype, flag="out")


def _check_path(value: Any, name: str, what: str, error: type[Exception]) -> None:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise error(f"{name} expects {what} (a str or Path), got {short_repr(value)}")


def clip_length(loaded: LoadedCheckpoint) -> int:
    """The clip length a checkpoint was trained on (16 when unknown)."""
    return loaded.clip_length


def generate(model: VideoModel | LoadedCheckpoint, *, num: int = 8, length: int | None = None,
             attributes: Mapping[str, str] | None = None, first_frames: torch.Tensor | None = None,
             seed: int = 0, precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``num`` videos ``[num, length, C, H, W]`` and the labels ``[num, length, A]`` that steered them.

    ``attributes`` maps names to a value or a transient schedule (``"walk@0,run@6"``); the
    others are free and drawn from the training distribution. ``first_frames``
    ``[num, C, H, W]`` (or one ``[C, H, W]`` frame for all) are continued: a torch tensor or a numpy
    array, of floats in [0, 1] or of ``uint8`` in 0..255 (divided by 255); other dtypes, other shapes
    (channels last included), NaN or values outside [0, 1] are refused. When the checkpoint
    holds an attribute inference net (semi-supervised training), the free attributes are
    inferred from the first frames instead. ``precision="bf16"`` generates under bf16 autocast where the
    device computes bf16 natively (a CPU with avx512_bf16 or amx_bf16, a CUDA device that supports it; elsewhere
    a one-line :class:`ConfigError`). Bad arguments are one-line errors of the project's own types
    (:mod:`videovae.core.errors`).
    """
    if not isinstance(model, (VideoModel, LoadedCheckpoint)):
        raise ConfigError(f"generate expects a model or a loaded checkpoint (videovae.load), got {type(model).__name__}")
    check(positive_int, "num", num)
    check(optional_positive_int, "length", length)
    check(integer, "seed", seed)
    _check_assignments(attributes)
    frame_shape = (model.model if isinstance(model, LoadedCheckpoint) else model).config.frame_shape
    first_frames = None if first_frames is None else as_first_frames(first_frames, num, frame_shape)
    label_table = None
    attribute_net = None
    if isinstance(model, LoadedCheckpoint):
        label_table = model.label_table
        if first_frames is not None and model.checkpoint.attribute_net is not None:
            from .engine.attribute_inference import net_from_payload

            attribute_net = net_from_payload(model.checkpoint.attribute_net, "the checkpoint's attribute_net")
        length = length if length is not None else clip_length(model)
        model = model.model
    length = length if length is not None else 16
    return generate_videos(model, num=num, length=length, assignments=attributes or {},
                           first_frames=first_frames, label_table=label_table, seed=seed,
                           attribute_net=attribute_net, precision=precision)


def _check_assignments(attributes: Any) -> None:
    if attributes is None:
        return
    if not isinstance(attributes, Mapping) or not all(isinstance(k, str) for k in attributes):
        raise ConfigError("attributes must map attribute names to a value or a schedule, e.g. "
                          f"{{'rotation': 'cw'}}, got {short_repr(attributes)}")
    bad = {k: v for k, v in attributes.items() if isinstance(v, bool) or not isinstance(v, (str, int, float))}
    if bad:
        name, value = next(iter(bad.items()))
        raise ConfigError(f"attributes[{name!r}] must be a value or a schedule (a string or a number), got {short_repr(value)}")


def as_first_frames(frames: Any, num: int, frame_shape: tuple[int, int, int]) -> torch.Tensor:
    """``frames`` (one ``[C, H, W]`` frame for all ``num`` videos, or ``[num, C, H, W]``; a tensor or a numpy
    array of floats in [0, 1] or ``uint8`` in 0..255) as float frames ``[num, C, H, W]`` in [0, 1]; anything
    else is a one-line :class:`~videovae.core.errors.InputShapeError` or :class:`ConfigError`."""
    if isinstance(frames, np.ndarray):
        if frames.dtype == object or frames.dtype.kind not in "uif":
            raise ConfigError(f"first_frames must hold numbers, got a numpy array of {frames.dtype}")
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    if not isinstance(frames, torch.Tensor):
        raise ConfigError(f"first_frames must be a torch.Tensor or a numpy array, got {type(frames).__name__}")
    if frames.dtype == torch.uint8:
        frames = frames.float() / 255.0
    elif frames.is_floating_point():
        frames = frames.float()
    else:
        raise ConfigError(f"first_frames must be floats in [0, 1] or uint8 in 0..255, got {frames.dtype}")
    c, h, w = frame_shape
    expected = f"[{c}, {h}, {w}] or [{num}, {c}, {h}, {w}]"
    if frames.ndim == 3 and tuple(frames.shape) == tuple(frame_shape):
        frames = frames.unsqueeze(0).expand(num, c, h, w)
    if frames.ndim != 4 or tuple(frames.shape[1:]) != tuple(frame_shape) or frames.shape[0] != num:
        last = " (channels last? use .permute(2, 0, 1))" if tuple(frames.shape[-3:]) == (h, w, c) and c != h else ""
        raise InputShapeError(f"first_frames must have shape {expected}, got {tuple(frames.shape)}{last}")
    if not bool(torch.isfinite(frames).all()):
        raise InputShapeError("first_frames hold NaN or infinite values; expected pixels in [0, 1]")
    if bool((frames < 0).any() or (frames > 1).any()):
        raise InputShapeError(f"first_frames must hold pixels in [0, 1], got values in [{float(frames.min()):g}, "
                              f"{float(frames.max()):g}] (uint8 frames in 0..255 are divided by 255)")
    return frames


def list_components(kind: str | None = None, pattern: str | None = None) -> dict[str, list[dict]]:
    """Registered parts by kind: name, plugin, package, description and option names.

    ``kind`` keeps one kind (``"prior"``, or as the listing spells it, ``"priors"``); ``pattern`` keeps the
    names that match it (shell-style, :mod:`fnmatch`: ``"minus-*"``), across kinds. Kinds with no match are
    left out when either is given. An unknown kind is a one-line :class:`UnknownNameError` listing the kinds."""
    registry = get_registry()
    if pattern is not None and (not isinstance(pattern, str) or not pattern):
        raise ConfigError(f"pattern must be a shell-style name pattern such as 'minus-*', got {short_repr(pattern)}")
    kinds = registry.kinds if kind is None else (component_kind(kind, registry.kinds),)
    listed = {k: [e.to_dict() for e in registry.entries(k, pattern or "*")] for k in kinds}
    return listed if kind is None and pattern is None else {k: v for k, v in listed.items() if v}


def component_kind(kind: Any, kinds: tuple[str, ...]) -> str:
    """``kind`` as the registry names it (a plural as ``videovae plugins`` prints it is accepted); a one-line
    :class:`UnknownNameError` listing ``kinds`` otherwise."""
    if not isinstance(kind, str):
        raise ConfigError(f"kind must be a kind name such as 'prior', got {short_repr(kind)}; kinds: {', '.join(kinds)}")
    for name in (kind, kind[:-1] if kind.endswith("s") else None):
        if name in kinds:
            return name
    raise UnknownNameError(unknown_name_message("kind", kind, kinds))
