"""What a checkpoint or an exported folder holds (``videovae show``): its parts and preset, attributes, data set,
step, training settings and resume adjustments, versions, the files' sha256 and the parameter count.

:func:`describe_model_file` reads the file as every load does (the digest, or the exported weights' sha256, is
checked) but builds no model, so a model whose plugin is not installed is described too; :func:`format_description`
is its text. Both hold plain JSON data.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import torch

from ..core.attributes import AttributeSet
from ..core.config import PART_KINDS, ModelConfig
from ..core.errors import CheckpointError, VideoVAEError
from .checkpoint import FORMAT, FORMAT_VERSION, Checkpoint, open_checkpoint, stored_model_config
from .export import CONFIG_FILE, WEIGHTS_FILE, export_folder, file_sha256, json_data, model_path, read_export

SIZE_FIELDS = ("frame_size", "channels", "latent_dim", "state_dim", "hidden_dim")


def _file(path: Path) -> dict[str, Any]:
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def describe_model_file(path: str | Path) -> dict[str, Any]:
    """A description of the checkpoint file, exported folder (or its ``config.json`` / ``model.safetensors``) or
    ``pretrained:NAME`` at ``path``, as JSON data; a one-line :class:`CheckpointError` when it is none of them
    or is damaged."""
    path = model_path(path)
    folder = export_folder(path)
    if folder is not None:
        checkpoint = read_export(folder)
        config = checkpoint.payload  # config.json's fields
        head = {"file": str(folder), "form": "export", "format": config["format"],
                "format_version": config["format_version"],
                "files": [_file(folder / CONFIG_FILE), _file(folder / WEIGHTS_FILE)],
                "source": config.get("source"), "exported_with": config.get("exported_with"),
                "weights_dtype": config["weights"]["dtype"]}
    else:
        checkpoint = open_checkpoint(path, fallback_flag="videovae show")
        dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in checkpoint.model_state.values()
                         if isinstance(t, torch.Tensor)})
        head = {"file": str(path), "form": "checkpoint", "format": FORMAT, "format_version": FORMAT_VERSION,
                "files": [_file(Path(path))], "digest": checkpoint.payload.get("digest"),
                "weights_dtype": ", ".join(dtypes), "optimizer_state": checkpoint.optimizer_state is not None}
    return json_data({**head, **_contents(checkpoint)})


def _contents(checkpoint: Checkpoint) -> dict[str, Any]:
    try:  # checked as a load checks them, without building the model (its plugins need not be installed)
        config = ModelConfig.from_dict(stored_model_config(checkpoint.model_config)).to_dict()
        attributes = AttributeSet.from_list(checkpoint.attributes).to_list()
    except VideoVAEError as exc:
        raise CheckpointError(f"{checkpoint.where}: {exc}") from None
    train = checkpoint.train_config or {}
    net = checkpoint.attribute_net
    dataset = checkpoint.dataset
    return {
        "step": checkpoint.step, "clip_length": checkpoint.clip_length,
        "parameters": sum(t.numel() for t in checkpoint.model_state.values() if isinstance(t, torch.Tensor)),
        "model": {"architecture": config["architecture"], "architecture_options": config["architecture_options"],
                  "parts": {kind: {"name": config[kind], "options": config[f"{kind}_options"]} for kind in PART_KINDS},
                  "sizes": {name: config[name] for name in SIZE_FIELDS}},
        "preset": train.get("preset"), "size": train.get("size"), "model_overrides": train.get("model") or {},
        "attributes": attributes,
        "dataset": None if dataset is None else {"name": dataset.name, "options": dataset.options, "root": dataset.root,
                                                 "description": dataset.description},
        "train_config": checkpoint.train_config, "adjustments": checkpoint.adjustments,
        "attribute_net": None if net is None else {"attributes": [a.get("name") for a in net.get("attributes", [])
                                                                  if isinstance(a, dict)],
                                                   "accuracy": net.get("accuracy")},
        "versions": checkpoint.versions,
    }


def _options(options: dict, separator: str = " ") -> str:
    return separator.join(f"{k}={json.dumps(v)}" for k, v in options.items())


def _attribute(spec: dict) -> str:
    if spec.get("kind") == "continuous":
        return (f"{spec.get('name')}: continuous in [{spec.get('low'):g}, {spec.get('high'):g}]"
                + (", periodic" if spec.get("periodic") else ""))
    values = spec.get("values") or []
    shown = ", ".join(values[:8]) + (f", … ({len(values)} values)" if len(values) > 8 else "")
    return f"{spec.get('name')}: {shown}"


def _wrapped(label: str, items: list[str]) -> list[str]:
    text = " ".join(items) if items else "none"
    return textwrap.wrap(text, 100, initial_indent=f"{label:<13}", subsequent_indent=" " * 13, break_on_hyphens=False)


def format_description(info: dict[str, Any]) -> str:
    """The text ``videovae show`` prints for :func:`describe_model_file`'s data."""
    lines = [f"{info['form']:<13}{info['file']} ({info['format']}, version {info['format_version']})"]
    for f in info["files"]:
        lines.append(f"{'sha256':<13}{f['sha256']}  {Path(f['path']).name} ({f['bytes']:,} bytes)")
    if info.get("digest"):
        lines.append(f"{'digest':<13}{info['digest']} (of everything stored, checked by every load)")
    source = info.get("source") or {}
    if source:
        lines.append(f"{'source':<13}{source.get('file')} sha256 {source.get('sha256')}")
    lines.append(f"{'step':<13}{info['step']}" + (f", clips of {info['clip_length']} frames" if info.get("clip_length") else ""))
    model, sizes = info["model"], info["model"]["sizes"]
    lines.append(f"{'model':<13}{model['architecture']}: {info['parameters']:,} parameters, {info['weights_dtype']}"
                 + (" (with the optimizer state)" if info.get("optimizer_state") else ""))
    if model.get("architecture_options"):
        lines.append(f"  {'options':<11}{_options(model['architecture_options'])}")
    for kind, part in model["parts"].items():
        lines.append(f"  {kind:<11}{part['name']:<15}{_options(part['options'])}".rstrip())
    lines.append(f"  {'sizes':<11}frames {sizes['channels']}x{sizes['frame_size']}x{sizes['frame_size']}, "
                 f"latent_dim {sizes['latent_dim']}, state_dim {sizes['state_dim']}, hidden_dim {sizes['hidden_dim']}")
    extra = [f"size {info['size']}"] if info.get("size") else []
    extra += [f"overrides {_options(info['model_overrides'])}"] if info.get("model_overrides") else []
    lines.append(f"{'preset':<13}{info['preset'] or 'not recorded'}" + (f" ({'; '.join(extra)})" if extra else ""))
    attributes = [_attribute(spec) for spec in info["attributes"]] or ["none"]
    lines += [f"{'attributes' if i == 0 else '':<13}{text}" for i, text in enumerate(attributes)]
    dataset = info.get("dataset")
    lines.append(f"{'dataset':<13}" + ("not recorded" if dataset is None else
                 f"{dataset['name']} ({_options(dataset['options'], ', ') or 'no options'}), "
                 + (f"root {dataset['root']}" if dataset["root"] else "its default root")))
    lines += _wrapped("training", [f"{k}={json.dumps(v)}" for k, v in (info.get("train_config") or {}).items()])
    changes = [f"{a.get('field')} {a.get('from')} -> {a.get('to')} from step {a.get('step')}"
               for a in info.get("adjustments") or []]
    lines += _wrapped("adjustments", ["; ".join(changes)] if changes else [])
    net = info.get("attribute_net")
    if net is not None:
        lines.append(f"{'attribute net':<13} infers {', '.join(net['attributes'])} from frames (semi-supervised stage 1)")
    versions = info.get("versions") or {}
    lines.append(f"{'versions':<13}" + (", ".join(f"{k} {v}" for k, v in versions.items()) or "not recorded"))
    if info.get("exported_with"):
        lines.append(f"{'exported with':<13} " + ", ".join(f"{k} {v}" for k, v in info["exported_with"].items()))
    return "\n".join(lines)

