"""Whether a stored run may go on with new settings, and with which.

``TrainConfig.RESUMABLE`` fields (steps, logging, device…) may change freely on resume;
``TrainConfig.ADJUSTABLE`` ones (the learning rate and the gradient clipping) may change on
request and every change is recorded with its step (the checkpoint's ``adjustments``); all
other fields define the run. ``videovae train --resume``, the trainer and
``examples/compare_baselines.py`` all decide through :func:`resume_config` (the command line
first refuses flags that can never change, :func:`resume_flags`).
"""

from __future__ import annotations

from typing import Any, Collection, Iterable, Mapping, Sequence

import attrs

from ..core.config import plain_value
from ..core.errors import ConfigError


def resume_flags(given: Mapping[str, Any] | Collection[str], config_class, stored=None) -> list[str]:
    """The ADJUSTABLE names among the settings ``given`` with ``--resume``; a one-line
    :class:`ConfigError` when any of them is neither RESUMABLE nor ADJUSTABLE. With ``stored`` (the run's
    config) and ``given`` a mapping of values, a setting given with the value the run already has is no change
    (the command that started a run can be run again with ``--resume``); the message says what the run has."""
    fixed = fixed_settings(given, config_class)
    if stored is not None and isinstance(given, Mapping):
        fixed = [name for name in fixed if not _same_setting(config_class, name, given[name], stored)]
    if fixed:
        has = f" (the run has {', '.join(f'{name}={plain_value(getattr(stored, name))!r}' for name in fixed)})" \
            if stored is not None else ""
        raise ConfigError(f"--resume continues the stored run; these cannot change: {', '.join(fixed)}{has} "
                          f"(only {', '.join(config_class.ADJUSTABLE)} can, and the change is recorded)")
    return [name for name in config_class.ADJUSTABLE if name in given]


def fixed_settings(given: Iterable[str], config_class) -> list[str]:
    """The names among ``given`` that define a run: neither RESUMABLE nor ADJUSTABLE."""
    return sorted(set(given) - set(config_class.RESUMABLE) - set(config_class.ADJUSTABLE))


def _same_setting(config_class, name: str, value: Any, stored) -> bool:
    """Whether ``value`` given for field ``name`` (through the field's converter) is what ``stored`` has; a mapping
    (``--set``, ``--dataset-option``) matches when each key it gives has the stored value."""
    wanted, have = plain_value(getattr(config_class.from_dict({name: value}), name)), plain_value(getattr(stored, name))
    if isinstance(wanted, dict) and isinstance(have, dict):
        return all(key in have and have[key] == item for key, item in wanted.items())
    return wanted == have


def require_same_model(stored_model: Mapping[str, Any], wanted: Mapping[str, Any], where: str) -> None:
    """A one-line :class:`ConfigError` unless the model a checkpoint stores (its ``model_config``, as read by
    :class:`~videovae.engine.checkpoint.Checkpoint`) is the one ``wanted`` (a resolved ``ModelConfig`` as a
    dict). A preset's meaning can change between versions (a new default part), so equal training settings
    alone do not make a stored model the wanted one."""
    differ = [k for k in wanted if plain_value(stored_model.get(k)) != plain_value(wanted[k])]
    if differ:
        raise ConfigError(f"{where} holds another model ({', '.join(f'{k}={stored_model.get(k)!r}' for k in differ)}"
                          f" instead of {', '.join(f'{k}={wanted[k]!r}' for k in differ)}); use another --out")


def resume_config(stored, requested, adjust: Mapping[str, Any] | None = None, step: int = 0,
                  adjustments: Sequence[Mapping[str, Any]] = (), *, where: str | None = None,
                  ignore: Iterable[str] = ()) -> tuple[Any, list[dict[str, Any]]]:
    """The config a resumed run goes on with, and its adjustments so far.

    ``stored`` (the run's config) with ``requested``'s RESUMABLE fields and the ``adjust``ed
    ADJUSTABLE ones (the validators check them); ``adjustments`` (the stored rows) plus one
    ``{"step", "field", "from", "to"}`` row per ADJUSTABLE field whose value changes at ``step``.
    With ``where`` (the checkpoint, for the message) every other field of ``requested`` that is
    not in ``ignore`` must equal the stored one: the run is not reused as if trained otherwise.
    """
    cls = type(stored)
    resolved = getattr(cls, "RESOLVED_AT_START", ())
    # a setting left unset (None) that a run resolves when it starts (the model's own lr) keeps the stored value
    adjust = {k: v for k, v in (adjust or {}).items() if not (k in resolved and v is None)}
    unknown = sorted(set(adjust) - set(cls.ADJUSTABLE))
    if unknown:
        raise ConfigError(f"only {', '.join(cls.ADJUSTABLE)} can be adjusted on resume, not {', '.join(unknown)}")
    if where is not None:
        free = {*cls.RESUMABLE, *adjust, *ignore}
        have, want = stored.to_dict(), requested.to_dict()
        differ = [k for k in want if k not in free and plain_value(have.get(k)) != plain_value(want[k])
                  and not (k in resolved and want[k] is None)]
        if differ:
            raise ConfigError(f"{where} was trained with other settings ({', '.join(f'{k}={have.get(k)!r}' for k in differ)}"
                              f" instead of {', '.join(f'{k}={want[k]!r}' for k in differ)}); use another --out")
    changes = {name: getattr(requested, name) for name in cls.RESUMABLE}
    config = attrs.evolve(stored, **changes, **adjust)
    rows = [dict(row) for row in adjustments]
    for name in cls.ADJUSTABLE:
        before, after = getattr(stored, name), getattr(config, name)
        if before != after:
            rows.append({"step": step, "field": name, "from": before, "to": after})
    return config, rows
