"""Checkpoints: plain data (weights, resolved configuration, versions), never pickled code.

A checkpoint is a ``torch.save`` archive of tensors, numbers, strings, lists and
dicts, read back with ``weights_only=True``, with a digest of all of it that every
load checks (:mod:`videovae.engine.archive`). It is written to a temporary file
beside the target and moved into place, so a crash never leaves a half-written
checkpoint and never destroys the previous one; a training run also keeps the one
before as ``checkpoint.prev.pt``.
"""

from __future__ import annotations

import copy
import json
import os
import platform
from pathlib import Path
from typing import Any, Mapping

import attrs
import torch

from .. import __version__
from ..core.attributes import AttributeSet
from ..core.config import ModelConfig
from ..core.errors import CheckpointError, ConfigError, VideoVAEError
from ..core.interfaces import VideoModel
from ..core.validators import short_repr
from ..registry.factory import build_from_config
from .archive import atomic_torch_save, load_plain_data, state_misfit

FORMAT = "videovae-checkpoint"
FORMAT_VERSION = 1
_REQUIRED = object()


def versions() -> dict[str, str]:
    return {"videovae": __version__, "torch": str(torch.__version__), "python": platform.python_version()}


def save_checkpoint(path: str | Path, model: VideoModel, *, previous: str | Path | None = None, **extra: Any) -> Path:
    """Write the model's weights, configuration and attributes, plus ``extra`` data fields (with ``previous``,
    the checkpoint it replaces is kept under that name)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": versions(),
        "model_config": model.config.to_dict(),
        "attributes": model.attributes.to_list(),
        "model_state": model.state_dict(),
        **extra,
    }
    return atomic_torch_save(payload, path, previous=previous)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's data; a one-line :class:`CheckpointError` if it is missing or not one of ours."""
    payload = load_plain_data(path, "checkpoint", FORMAT, "expected a file written by `videovae train`",
                              writer="`videovae train`")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')}, this videovae reads version {FORMAT_VERSION}"
        )
    return payload


@attrs.frozen
class DatasetInfo:
    """The data set a run trained on: registry name, options, root folder and its description."""

    name: str
    options: dict[str, Any] = attrs.field(factory=dict)
    root: str | None = None
    description: Any = None


def _checked(value: Any, where: str, name: str, kinds: tuple[type, ...], default: Any = _REQUIRED) -> Any:
    """``value`` (the stored field ``name``) if it is one of ``kinds``; ``default`` when it is absent (``None``);
    a one-line :class:`CheckpointError` naming ``where`` and the field otherwise."""
    if value is None:
        if default is _REQUIRED:
            raise CheckpointError(f"{where} lacks the checkpoint field {name!r}")
        return default() if callable(default) else default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise CheckpointError(f"{where}: checkpoint field {name!r} should be {expected}, got {type(value).__name__}")
    return value


def _label_table(table: torch.Tensor | None, attributes, where: str) -> torch.Tensor | None:
    """The stored training label rows ``[R, A]`` (float, one column per attribute), or a one-line
    :class:`CheckpointError`: generation draws free attributes from them."""
    if table is not None and (table.ndim != 2 or table.shape[1] != len(attributes) or not table.is_floating_point()):
        raise CheckpointError(f"{where}: checkpoint field 'label_table' should be float rows [N, {len(attributes)}] "
                              f"(one column per attribute), got {table.dtype} {tuple(table.shape)}")
    return table


@attrs.frozen(eq=False)
class Checkpoint:
    """A checkpoint's data, each field checked for its type by :meth:`from_payload`.

    ``train_config`` is the stored :class:`~videovae.engine.trainer.TrainConfig` as a dict (read it with
    ``TrainConfig.from_stored``); ``adjustments`` are the ``{"step", "field", "from", "to"}`` rows of settings
    changed on resume; ``attribute_net`` is the stage-1 net's payload of a semi-supervised run.
    """

    where: str  # the file it came from, for messages
    model_config: dict[str, Any]
    attributes: list
    model_state: dict[str, Any]
    step: int = 0
    train_config: dict[str, Any] | None = None
    dataset: DatasetInfo | None = None
    label_table: torch.Tensor | None = None
    clip_length: int | None = None
    adjustments: list[dict[str, Any]] = attrs.field(factory=list)
    history: list[dict[str, Any]] = attrs.field(factory=list)
    attribute_net: dict[str, Any] | None = None
    optimizer_state: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None
    versions: dict[str, str] = attrs.field(factory=dict)
    payload: dict[str, Any] = attrs.field(factory=dict, repr=False)  # everything as stored

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], where: str | Path = "checkpoint") -> "Checkpoint":
        """The checked fields of ``payload`` (as :func:`read_checkpoint` returns it)."""
        where = str(where)

        def get(name, kinds, default=_REQUIRED, data=payload, prefix=""):
            return _checked(data.get(name), where, prefix + name, kinds, default)

        info = None
        dataset = get("dataset", (dict,), None)
        if dataset is not None:
            info = DatasetInfo(name=get("name", (str,), data=dataset, prefix="dataset."),
                               options=dict(get("options", (dict,), dict, data=dataset, prefix="dataset.")),
                               root=get("root", (str,), None, data=dataset, prefix="dataset."),
                               description=dataset.get("description"))
        return cls(
            where=where,
            model_config=stored_model_config(get("model_config", (dict,))),
            attributes=get("attributes", (list, tuple)),
            model_state=get("model_state", (dict,)),
            step=int(get("step", (int,), 0)),
            train_config=get("train_config", (dict,), None),
            dataset=info,
            label_table=_label_table(get("label_table", (torch.Tensor,), None), get("attributes", (list, tuple)), where),
            clip_length=get("clip_length", (int,), None),
            adjustments=list(get("adjustments", (list,), list)),
            history=list(get("history", (list,), list)),
            attribute_net=get("attribute_net", (dict,), None),
            optimizer_state=get("optimizer_state", (dict,), None),
            rng=get("rng", (dict,), None),
            versions=dict(get("versions", (dict,), dict)),
            payload=dict(payload),
        )


#: fields added to ModelConfig after checkpoints were first written, with the value those checkpoints
#: were trained with (not the new default): a stored config without ``likelihood`` trained with L1
STORED_MODEL_DEFAULTS = {"likelihood": "l1", "likelihood_options": {}}


def stored_model_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stored model config with the fields it predates filled in as it was trained (``STORED_MODEL_DEFAULTS``)."""
    return {**copy.deepcopy(STORED_MODEL_DEFAULTS), **config}


def previous_path(path: str | Path) -> Path:
    """Where a training run keeps the checkpoint before ``path``: ``checkpoint.pt`` -> ``checkpoint.prev.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def fallback_hint(path: str | Path, flag: str) -> str:
    """``"; the previous checkpoint <prev> (step N) is intact: use it with <flag> <prev>"`` when ``path`` has a
    readable predecessor (:func:`previous_path`), else ``""``: never a silent fallback to an older state."""
    previous = previous_path(path)
    if Path(path).name.endswith(".prev.pt") or not previous.is_file():
        return ""
    try:
        step = Checkpoint.from_payload(read_checkpoint(previous), previous).step
    except CheckpointError:
        return f"; the previous checkpoint {previous} is damaged too"
    return f"; the previous checkpoint {previous} (step {step}) is intact: use it with {flag} {previous}"


def open_checkpoint(path: str | Path, fallback_flag: str | None = None) -> Checkpoint:
    """:func:`read_checkpoint` and :meth:`Checkpoint.from_payload`: the checked data of the file at ``path``.
    With ``fallback_flag``, an unreadable or damaged file's message names its intact predecessor and that flag."""
    try:
        return Checkpoint.from_payload(read_checkpoint(path), path)
    except CheckpointError as exc:
        if fallback_flag is None:
            raise
        raise CheckpointError(f"{exc}{fallback_hint(path, fallback_flag)}") from None


def model_from_checkpoint(checkpoint: Checkpoint | Mapping[str, Any]) -> VideoModel:
    """Rebuild the model from its stored configuration (by registry names) and load its weights."""
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint.from_payload(checkpoint)
    config = ModelConfig.from_dict(checkpoint.model_config)
    attributes = AttributeSet.from_list(checkpoint.attributes)
    model = build_from_config(config, attributes)
    misfit = state_misfit(model.state_dict(), checkpoint.model_state)
    if misfit is None:
        try:
            model.load_state_dict(checkpoint.model_state)
        except (RuntimeError, KeyError, TypeError) as exc:
            misfit = " ".join(str(exc).split())[:200]
    if misfit is not None:
        raise CheckpointError(f"{checkpoint.where}: the weights do not fit the model its config describes "
                              f"({misfit}); expected the weights written with that config") from None
    return model


@attrs.frozen(eq=False)
class LoadedCheckpoint:
    """A rebuilt model (eval mode) and its checked checkpoint data."""

    model: VideoModel
    checkpoint: Checkpoint

    @property
    def payload(self) -> dict[str, Any]:
        """The raw stored data (prefer :attr:`checkpoint`'s typed fields)."""
        return self.checkpoint.payload

    @property
    def step(self) -> int:
        return self.checkpoint.step

    @property
    def label_table(self) -> torch.Tensor | None:
        return self.checkpoint.label_table

    @property
    def clip_length(self) -> int:
        """The clip length the model was trained on (16 when unknown)."""
        return self.checkpoint.clip_length if self.checkpoint.clip_length is not None else 16


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint file, an exported folder (or its ``config.json`` / ``model.safetensors``) or
    ``pretrained:NAME`` (:func:`~videovae.engine.export.open_model_file`) and rebuild its model in eval mode."""
    from .export import open_model_file  # it builds on this module

    checkpoint = open_model_file(path)
    try:
        model = model_from_checkpoint(checkpoint)
    except CheckpointError:
        raise
    except VideoVAEError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    model.eval()
    return LoadedCheckpoint(model, checkpoint)


def config_differences(stored: ModelConfig, wanted: ModelConfig, limit: int = 3) -> str:
    """The fields in which ``wanted`` differs from ``stored``, in one line (``""`` when none): at most ``limit``."""
    have, want = (json.loads(json.dumps(c.to_dict())) for c in (stored, wanted))  # tuples and lists alike
    fields = [f"{name} {json.dumps(have[name])} (asked for {json.dumps(want[name])})"
              for name in have if have[name] != want[name]]
    more = f" and {len(fields) - limit} more fields" if len(fields) > limit else ""
    return ", ".join(fields[:limit]) + more


def model_with_weights(path: str | Path, config: ModelConfig | None, attributes: AttributeSet | None,
                       what: str) -> VideoModel:
    """The model stored at ``path`` (whatever :func:`load_checkpoint` reads), in eval mode, when it is the one
    ``config`` describes (None: any) with ``attributes`` (None: the stored ones); a one-line
    :class:`CheckpointError` naming what differs otherwise (``what`` names where ``config`` came from)."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(f"checkpoint expects the path of a checkpoint file or an exported folder (a str or Path), "
                          f"got {short_repr(path)}")
    loaded = load_checkpoint(path)
    model = loaded.model
    stored = loaded.checkpoint.train_config or {}
    parts = [f"{name} {stored[name]!r}" for name in ("preset", "size") if isinstance(stored.get(name), str)]
    trained = f" (it was trained with {', '.join(parts)})" if parts else ""
    if config is not None:
        differences = config_differences(model.config, config)
        if differences:
            raise CheckpointError(f"{path} stores another model than {what}: {differences}; name the preset and "
                                  f"overrides it was trained with{trained}, or none to build the stored model")
    if attributes is not None and attributes != model.attributes:
        names = lambda a: ", ".join(a.names) or "none"  # noqa: E731
        given = ("other values of them" if attributes.names == model.attributes.names else names(attributes))
        raise CheckpointError(f"{path} was trained with the attributes {names(model.attributes)}, given {given}; "
                              "leave attributes out to use the stored ones")
    return model
