"""Augmentation of labelled clips for φ_att: time reversal (with the data set's relabelling
table), random shifts and shifts by given offsets."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ...core.errors import DataError


def reversal_tables(dataset) -> list[Tensor | None] | None:
    """Per attribute, the value index each value becomes when a clip is played backwards
    (``None``: the value is kept), from the data set's ``time_reversal``; None when the data set
    declares none. A name or value the data set does not have is a one-line :class:`DataError`."""
    declared = getattr(dataset, "time_reversal", None)
    if declared is None:
        return None
    attributes = dataset.attributes
    unknown = sorted(set(declared) - set(attributes.names))
    if unknown:
        raise DataError(f"time_reversal names unknown attribute(s) {', '.join(unknown)}; "
                        f"the data set has {', '.join(attributes.names)}")
    tables: list[Tensor | None] = []
    for spec in attributes:
        mapping = declared.get(spec.name)
        if not mapping:
            tables.append(None)
            continue
        if spec.kind != "categorical":
            raise DataError(f"time_reversal can only map categorical attributes; {spec.name!r} is {spec.kind}")
        table = torch.arange(spec.num_classes, dtype=torch.float32)
        for old, new in mapping.items():
            for value in (old, new):
                if value not in spec.values:
                    raise DataError(f"time_reversal maps {spec.name} value {value!r}; expected one of {', '.join(spec.values)}")
            table[spec.values.index(old)] = float(spec.values.index(new))
        tables.append(table)
    return tables


def reverse_clips(frames: Tensor, labels: Tensor, tables: Sequence[Tensor | None],
                  generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each clip of ``frames [B, T, ...]`` / ``labels [B, T, A]`` played backwards with probability
    1/2, its labels mapped through ``tables`` (:func:`reversal_tables`); NaN labels stay NaN."""
    flip = torch.rand(len(frames), generator=generator) < 0.5
    if not flip.any():
        return frames, labels
    frames, labels = frames.clone(), labels.clone()
    frames[flip] = frames[flip].flip(1)
    flipped = labels[flip].flip(1)
    for a, table in enumerate(tables):
        if table is None:
            continue
        column = flipped[..., a]
        known = ~torch.isnan(column)
        column[known] = table[column[known].long()]
    labels[flip] = flipped
    return frames, labels


def random_shift(frames: Tensor, pixels: int, generator: torch.Generator) -> Tensor:
    """Each clip of ``frames [B, T, C, H, W]`` moved by its own random offset of up to ``pixels``
    in each direction (the same for all its frames), edges repeated."""
    offsets = torch.randint(0, 2 * pixels + 1, (len(frames), 2), generator=generator) - pixels
    return shift_clips(frames, pixels, offsets.tolist())


def shift_clips(frames: Tensor, pixels: int, offsets) -> Tensor:
    """Clip ``b`` of ``frames [B, T, C, H, W]`` moved by ``offsets[b] = (dy, dx)`` pixels, each within ±``pixels``
    (the same for all its frames), edges repeated: content at (y, x) ends up at (y − dy, x − dx)."""
    batch, length, c, h, w = frames.shape
    padded = torch.nn.functional.pad(frames.flatten(0, 1), (pixels,) * 4, mode="replicate").unflatten(0, (batch, length))
    return torch.stack([padded[b, :, :, pixels + dy:pixels + dy + h, pixels + dx:pixels + dx + w]
                        for b, (dy, dx) in enumerate(offsets)])

