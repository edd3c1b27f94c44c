"""Holistic attribute controls (Sec. 3.2): specifications, label tensors and schedules.

Labels travel as float tensors ``[..., A]`` with one column per attribute: a
categorical value is stored as its index, a continuous one as its value, and NaN
marks a label that is missing (training) or free (generation).
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Mapping

import attrs
import torch
from torch import Tensor

from .errors import AttributeValueError, ConfigError, UnknownNameError, one_line, unknown_name_message
from .validators import boolean, choice, short_repr

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_FRAME = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() also takes "²" and "٣"


def _check_name(instance, attribute, value):
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"attribute name must be an identifier (letters, digits, _ or -), got {value!r}")


def _check_values(instance, attribute, value):
    if instance.kind == "categorical":
        if len(value) < 1 or len(set(value)) != len(value):
            raise ConfigError(f"attribute {instance.name!r}: categorical values must be distinct and non-empty, got {value!r}")
        bad = [v for v in value if not isinstance(v, str) or not v or any(c in v for c in "=,@")]
        if bad:
            raise ConfigError(f"attribute {instance.name!r}: values must be non-empty strings without '=', ',' or '@', got {bad!r}")


@attrs.frozen
class AttributeSpec:
    """One holistic attribute a_i: categorical (e.g. action) or continuous (e.g. an angle).

    A continuous attribute has a range [low, high]; ``periodic`` ones (angles) are
    encoded as (cos, sin) so that the ends of the range meet.
    """

    name: str = attrs.field(validator=_check_name)
    kind: str = attrs.field(default="categorical", validator=choice("categorical", "continuous"))
    values: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_check_values)
    low: float = attrs.field(default=0.0, converter=float)
    high: float = attrs.field(default=1.0, converter=float)
    periodic: bool = attrs.field(default=False, validator=boolean)

    def __attrs_post_init__(self):
        if self.kind == "continuous" and not self.low < self.high:
            raise ConfigError(f"attribute {self.name!r}: need low < high, got low={self.low}, high={self.high}")

    @property
    def code_dim(self) -> int:
        if self.kind == "categorical":
            return len(self.values)
        return 2 if self.periodic else 1

    @property
    def num_classes(self) -> int:
        return len(self.values)

    def parse(self, text: str) -> float:
        """The stored label of a value written by a user (a category name, or a number)."""
        text = str(text).strip()
        if self.kind == "categorical":
            if text not in self.values:
                raise AttributeValueError(unknown_name_message(f"value of attribute {self.name!r}", text, self.values))
            return float(self.values.index(text))
        try:
            value = float(text)
        except ValueError:
            raise AttributeValueError(f"attribute {self.name!r} expects a number in [{self.low}, {self.high}], got {text!r}") from None
        if not (self.low <= value <= self.high):
            raise AttributeValueError(f"attribute {self.name!r} expects a number in [{self.low}, {self.high}], got {value}")
        return value

    def format(self, label: float) -> str:
        if math.isnan(label):
            return "?"
        if self.kind == "categorical":
            return self.values[int(label)]
        return f"{label:g}"

    def encode(self, column: Tensor) -> Tensor:
        """Code of a label column ``[...]`` as ``[..., code_dim]``; missing (NaN) → zeros."""
        missing = torch.isnan(column)
        filled = torch.where(missing, torch.zeros_like(column), column)
        if self.kind == "categorical":
            code = torch.nn.functional.one_hot(filled.long().clamp(0, self.num_classes - 1), self.num_classes)
            code = code.to(column.dtype)
        elif self.periodic:
            angle = (filled - self.low) / (self.high - self.low) * (2 * math.pi)
            code = torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)
        else:
            code = ((filled - self.low) / (self.high - self.low) * 2 - 1).unsqueeze(-1)
        return code * (~missing).unsqueeze(-1).to(code.dtype)

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class AttributeSet:
    """The ordered attributes a = (a_i)_i of a data set or model."""

    specs: tuple[AttributeSpec, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self):
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"attribute names must be distinct, got {names}")

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self):
        return iter(self.specs)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    @property
    def code_dim(self) -> int:
        return sum(s.code_dim for s in self.specs)

    def index(self, name: str) -> int:
        if name not in self.names:
            raise UnknownNameError(unknown_name_message("attribute", name, self.names))
        return self.names.index(name)

    def spec(self, name: str) -> AttributeSpec:
        return self.specs[self.index(name)]

    def encode(self, labels: Tensor) -> Tensor:
        """Concatenated codes of ``labels [..., A]`` → ``[..., code_dim]`` (the a fed to Eq. 4, Eq. 5)."""
        if labels.shape[-1] != len(self.specs):
            raise AttributeValueError(f"expected labels with {len(self.specs)} columns ({', '.join(self.names)}), got shape {tuple(labels.shape)}")
        if not self.specs:
            return labels.new_zeros(*labels.shape[:-1], 0)
        return torch.cat([s.encode(labels[..., i]) for i, s in enumerate(self.specs)], dim=-1)

    def describe(self, labels: Tensor) -> str:
        """Human-readable ``name=value`` list of one label row ``[A]``."""
        return ", ".join(f"{name}={value}" for name, value in self.named(labels).items())

    def named(self, labels: Tensor) -> dict[str, str]:
        """One label row ``[A]`` as ``{name: value}``, values as users write them (``?`` for a missing one)."""
        return {s.name: s.format(float(v)) for s, v in zip(self.specs, labels.tolist())}

    def segments(self, labels: Tensor) -> list[dict]:
        """The labels of a clip ``[T, A]`` as its schedule: ``{"from": frame, "labels": {name: value}}`` for the
        first frame and for each frame whose labels differ from the frame before."""
        segments: list[dict] = []
        for frame, row in enumerate(labels):
            named = self.named(row)
            if not segments or named != segments[-1]["labels"]:
                segments.append({"from": frame, "labels": named})
        return segments

    def to_list(self) -> list[dict]:
        return [s.to_dict() for s in self.specs]

    @classmethod
    def from_list(cls, items: Iterable[Mapping]) -> "AttributeSet":
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise ConfigError(f"attribute specifications must be a list of mappings, got {type(items).__name__}")
        items = list(items)
        bad = [item for item in items if not isinstance(item, Mapping) or not all(isinstance(k, str) for k in item)]
        if bad:
            raise ConfigError(f"malformed attribute specification: expected a mapping of field names to values, "
                              f"got {short_repr(bad[0])}")
        try:
            return cls(tuple(AttributeSpec(**item) for item in items))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            raise ConfigError(f"malformed attribute specification: {one_line(message)}") from None

    def check_labels(self, labels: Tensor, what: str = "labels") -> None:
        """A one-line :class:`AttributeValueError` unless every known entry of ``labels [..., A]`` is a valid
        label: a categorical one a whole class index in [0, classes), a continuous one in [low, high]; NaN
        (missing) is allowed, infinities are not."""
        if labels.shape[-1:] != (len(self.specs),) or not labels.is_floating_point():
            return  # shapes and dtypes are the callers' checks
        for column, spec in enumerate(self.specs):
            values = labels[..., column]
            values = values[~torch.isnan(values)]
            if not len(values):
                continue
            if spec.kind == "categorical":
                bad = (values < 0) | (values >= spec.num_classes) | (values != values.floor())
                expected = f"a class index 0..{spec.num_classes - 1}"
            else:
                bad = (values < spec.low) | (values > spec.high)
                expected = f"a number in [{spec.low:g}, {spec.high:g}]"
            if bad.any():
                raise AttributeValueError(f"{what}: attribute {spec.name!r} expects {expected}, "
                                          f"got {float(values[bad][0]):g}")

    def controls(self, assignments: Mapping[str, str], length: int) -> Tensor:
        """Per-frame labels ``[length, A]`` from user assignments; unassigned ones are NaN (free).

        Each value is either a single value held for the whole clip (``walk``) or a
        transient schedule ``value@frame,...`` whose frames start at 0 and increase
        (``walk@0,run@6,walk@11``; Fig. 1e, Fig. 4b).
        """
        if length < 1:
            raise AttributeValueError(f"clip length must be at least 1, got {length}")
        labels = torch.full((length, len(self.specs)), float("nan"))
        for name, text in assignments.items():
            column = self.index(name)
            labels[:, column] = parse_schedule(self.specs[column], str(text), length)
        return labels


def parse_schedule(spec: AttributeSpec, text: str, length: int) -> Tensor:
    """Labels ``[length]`` of a value or a transient schedule ``v@0,w@6,...`` for one attribute."""
    items = [item.strip() for item in text.split(",")]
    if "@" not in text:
        if len(items) != 1:
            raise AttributeValueError(f"attribute {spec.name!r}: write one value or a schedule like 'a@0,b@6', got {text!r}")
        return torch.full((length,), spec.parse(items[0]))
    out = torch.empty(length)
    previous = -1
    for position, item in enumerate(items):
        value, sep, frame_text = item.rpartition("@")
        if not sep or not _FRAME.fullmatch(frame_text):
            raise AttributeValueError(f"attribute {spec.name!r}: schedule item {item!r} must look like 'value@frame'")
        start = int(frame_text)
        if position == 0 and start != 0:
            raise AttributeValueError(f"attribute {spec.name!r}: a schedule must start at frame 0, got {item!r}")
        if start <= previous:
            raise AttributeValueError(f"attribute {spec.name!r}: schedule frames must increase, got {start} after {previous}")
        if start >= length:
            raise AttributeValueError(f"attribute {spec.name!r}: schedule frame {start} is beyond the clip length {length}")
        out[start:] = spec.parse(value)
        previous = start
    return out
