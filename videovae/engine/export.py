"""Exported models: a trained model's weights as safetensors and its description as JSON, for sharing.

An exported folder (``videovae export``, :func:`export_checkpoint`) holds

* ``model.safetensors``: the model's weights under their ``state_dict`` names (no optimizer or random state),
  in float32 or float16, plus, under names starting ``videovae:``, the training label rows that generation
  draws free attributes from (``videovae:label_table``, never cast) and the stage-1 attribute net of a
  semi-supervised run (``videovae:attribute_net/<name>``);
* ``config.json``: the format name and version, the model config, attributes, data set, training settings and
  resume adjustments, step, clip length, the versions it was trained with, the weights file's sha256 and
  dtype, and the source checkpoint's file sha256 and payload digest.

:func:`read_export` checks the weights file against its sha256 before reading it, casts float16 weights back to
float32 and gives the :class:`~videovae.engine.checkpoint.Checkpoint` a checkpoint file gives, so everything
that loads a checkpoint (:func:`open_model_file`) loads an exported folder, its ``config.json`` or its
``model.safetensors`` as well. Nothing in either file is code.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Mapping

import torch

from ..core.errors import CheckpointError, ConfigError, one_line
from ..core.validators import short_repr
from ..io.atomic import atomic_write, atomic_write_text
from ..io.outputs import all_or_nothing, output_folder
from .checkpoint import Checkpoint, load_checkpoint, open_checkpoint, versions

FORMAT = "videovae-export"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
RESERVED = "videovae:"  # tensors that are not the model's weights; no state_dict name starts with it
LABEL_TABLE = f"{RESERVED}label_table"
NET_PREFIX = f"{RESERVED}attribute_net/"
DTYPES = {"float32": torch.float32, "float16": torch.float16}
#: what of a checkpoint's attribute net goes into config.json: what rebuilds it, and its measured accuracy
NET_FIELDS = ("format", "format_version", "versions", "model_config", "attributes", "hidden_dim", "state_dim",
              "pooling", "motion_attributes", "settings", "accuracy", "accuracy_seen_values")


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_folder(path: str | Path) -> Path | None:
    """The exported folder ``path`` names (the folder itself, its ``config.json`` or a ``.safetensors`` file in
    it), or None when ``path`` is anything else (a checkpoint file)."""
    path = Path(path)
    if path.is_dir():
        return path
    return path.parent if path.name == CONFIG_FILE or path.suffix == ".safetensors" else None


def model_path(path: str | Path) -> Path:
    """``path`` as a Path, or for ``pretrained:NAME`` the folder of that shipped model
    (:func:`videovae.engine.pretrained.pretrained_folder`: an unknown name is one line listing the known ones)."""
    text = str(path)
    if text.startswith("pretrained:"):
        from .pretrained import pretrained_folder

        return pretrained_folder(text[len("pretrained:"):])
    return Path(path)


def open_model_file(path: str | Path) -> Checkpoint:
    """The checked data of a checkpoint file, an exported folder (or its ``config.json`` / ``model.safetensors``)
    or ``pretrained:NAME`` (a model that ships with the package, :mod:`videovae.engine.pretrained`)."""
    path = model_path(path)
    folder = export_folder(path)
    return read_export(folder) if folder is not None else open_checkpoint(path, fallback_flag="--checkpoint")


def json_data(value: Any) -> Any:
    """``value`` as JSON data: tuples as lists, tensors as nested lists, non-finite floats as null."""
    if isinstance(value, torch.Tensor):
        return json_data(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _weights(state: Mapping[str, Any], dtype: torch.dtype, where: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """``state``'s tensors as separate contiguous CPU tensors (safetensors stores no shared storage), float32 ones
    cast to ``dtype``; a weight float16 cannot hold (beyond ±65504) is a one-line :class:`ConfigError`."""
    out = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{where}: weight {name!r} is a {type(value).__name__}, expected a tensor")
        if name.startswith(RESERVED):
            raise CheckpointError(f"{where}: weight {name!r} starts with {RESERVED!r}, which exports reserve")
        tensor = value.detach().cpu()
        if tensor.dtype == torch.float32 and dtype != torch.float32:
            cast = tensor.to(dtype)
            if not bool(torch.isfinite(cast).all()) and bool(torch.isfinite(tensor).all()):
                raise ConfigError(f"{where}: weight {name!r} holds values beyond {dtype}'s range "
                                  f"(largest {float(tensor.abs().max()):g}); export it as float32")
            tensor = cast
        out[prefix + name] = tensor.contiguous().clone()
    return out


def export_checkpoint(source: str | Path, out: str | Path, dtype: str = "float32", *, flag: str = "--out") -> Path:
    """Write ``model.safetensors`` and ``config.json`` of the model in ``source`` (a checkpoint file, or an
    exported folder to convert to another ``dtype``) into the folder ``out``, all or nothing; ``out``."""
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {short_repr(dtype)}")
    out = output_folder(out, flag)
    source = model_path(source)
    loaded = load_checkpoint(source)  # every check of a load: the digest, the config, weights that fit it
    checkpoint = loaded.checkpoint
    where = checkpoint.where
    tensors = _weights(checkpoint.model_state, DTYPES[dtype], where)
    if checkpoint.label_table is not None:
        tensors[LABEL_TABLE] = checkpoint.label_table.detach().cpu().contiguous().clone()
    net = None
    if checkpoint.attribute_net is not None:
        state = checkpoint.attribute_net.get("state")
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{where}: the attribute net has no weights ('state'); expected the net's state_dict")
        tensors.update(_weights(state, DTYPES[dtype], f"{where} (attribute_net)", NET_PREFIX))
        net = {k: checkpoint.attribute_net[k] for k in NET_FIELDS if k in checkpoint.attribute_net}
    if export_folder(source) is not None:
        origin = dict(checkpoint.payload.get("source") or {})
    else:
        origin = {"file": Path(source).name, "sha256": file_sha256(source), "digest": checkpoint.payload.get("digest")}
    dataset = checkpoint.dataset
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model_config": loaded.model.config.to_dict(), "attributes": checkpoint.attributes,
        "dataset": None if dataset is None else {"name": dataset.name, "options": dataset.options,
                                                 "root": dataset.root, "description": dataset.description},
        "train_config": checkpoint.train_config, "adjustments": checkpoint.adjustments,
        "step": checkpoint.step, "clip_length": checkpoint.clip_length,
        "versions": checkpoint.versions, "exported_with": versions(),
        "source": origin, "attribute_net": net,
        "weights": {"file": WEIGHTS_FILE, "dtype": dtype, "sha256": None,
                    "parameters": sum(t.numel() for t in checkpoint.model_state.values())},
    }
    from safetensors.torch import save_file

    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    with all_or_nothing(out) as staging:
        atomic_write(staging / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
        config["weights"]["sha256"] = file_sha256(staging / WEIGHTS_FILE)
        atomic_write_text(staging / CONFIG_FILE, json.dumps(json_data(config), indent=2) + "\n")
    return out


def read_export_config(folder: str | Path) -> dict[str, Any]:
    """The checked ``config.json`` of an exported folder; a one-line :class:`CheckpointError` when it is missing,
    not JSON or not a videovae export of this version."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        held = " (it holds checkpoint.pt: pass that file)" if (folder / "checkpoint.pt").is_file() else ""
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}{held}; expected a checkpoint file or a folder "
                              "written by `videovae export`")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path} is not a readable videovae export config ({one_line(exc)[:160]}); "
                              "expected the JSON written by `videovae export`") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a videovae export config (no '{FORMAT}' format marker)")
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has export format version {config.get('format_version')!r}, this videovae "
                              f"reads version {FORMAT_VERSION}")
    weights = config.get("weights")
    if not isinstance(weights, dict) or weights.get("dtype") not in DTYPES or not isinstance(weights.get("sha256"), str):
        raise CheckpointError(f"{path}: 'weights' should give the weights file's dtype ({' or '.join(DTYPES)}) and "
                              f"sha256, got {one_line(repr(weights))[:120]}")
    return config


def read_export(folder: str | Path) -> Checkpoint:
    """The :class:`Checkpoint` of an exported folder: its ``config.json`` and its weights, checked against the
    sha256 the config gives, float16 weights cast back to float32."""
    folder = Path(folder)
    config = read_export_config(folder)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}; expected the weights `videovae export` wrote beside "
                              f"{CONFIG_FILE}")
    if file_sha256(path) != config["weights"]["sha256"]:
        raise CheckpointError(f"{path} is damaged or is not the file {CONFIG_FILE} describes: its sha256 differs from "
                              "the one written with it (a changed byte, an interrupted copy, or another export's file)")
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors' own errors on a malformed header
        raise CheckpointError(f"{path} is not a readable safetensors file ({one_line(exc)[:160]})") from None
    back = config["weights"]["dtype"] != "float32"
    model_state, net_state = {}, {}
    for name, tensor in tensors.items():
        if name == LABEL_TABLE:
            continue
        if back and tensor.dtype == DTYPES[config["weights"]["dtype"]]:
            tensor = tensor.float()
        if name.startswith(NET_PREFIX):
            net_state[name[len(NET_PREFIX):]] = tensor
        else:
            model_state[name] = tensor
    net = config.get("attribute_net")
    payload = {**config, "model_state": model_state, "label_table": tensors.get(LABEL_TABLE),
               "attribute_net": None if net is None else {**net, "state": net_state}}
    return Checkpoint.from_payload(payload, folder)
