"""Labels of stage 1 (Sec. 4.1): which clips keep their labels, the stage-2 controls built from
them, and the ``inferred_labels.csv`` file."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from ...core.attributes import AttributeSet
from ...core.errors import DataError
from ...core.validators import check, unit_fraction
from ...io.atomic import atomic_path

LABELS_FILE = "inferred_labels.csv"


def labelled_subset(label_rows: Tensor, fraction: float, seed: int, attributes: AttributeSet | None = None,
                    groups: Tensor | Sequence[int] | None = None) -> Tensor:
    """Sorted indices of the clips that keep their labels: about ``fraction`` of them, seeded.

    Stratification: every value of every categorical attribute that occurs in
    ``label_rows [N, A]`` gets at least one labelled clip when the budget
    ``max(1, round(fraction · N))`` allows it. Clips are first chosen greedily by the
    number of still uncovered values they carry (ties broken by a seeded random order),
    then the rest of the budget is filled in that random order. When the budget is
    smaller than the number of clips needed to cover every value (e.g. 50 chair
    identities with 30 labelled clips), the greedy choice still covers as many values
    as the budget allows (first those carried together with uncovered values of the
    other attributes), and the others stay uncovered. The budget is never exceeded.

    :param label_rows: ``[N, A]`` video-level labels, NaN = missing (a missing value covers nothing).
    :param attributes: tells which columns are categorical; None treats every column as categorical.
    :param groups: ``[N]`` group id per clip (e.g. the source video of Weizmann's mini-clips):
        whole groups are chosen, ``fraction`` counts groups, and a group carries the values of all its clips.
    :returns: a ``long`` tensor of clip indices, increasing.
    """
    rows = torch.as_tensor(label_rows, dtype=torch.float32)
    if rows.ndim != 2:
        raise DataError(f"label rows must have shape [N, A], got {tuple(rows.shape)}")
    check(unit_fraction, "labelled fraction", fraction)
    n = len(rows)
    if n == 0:
        return torch.empty(0, dtype=torch.long)
    group_of = np.arange(n) if groups is None else np.asarray(torch.as_tensor(groups).cpu(), dtype=np.int64)
    if group_of.shape != (n,):
        raise DataError(f"groups must have one entry per clip ({n}), got shape {tuple(group_of.shape)}")
    unique, group_index = np.unique(group_of, return_inverse=True)
    num_groups = len(unique)
    budget = num_groups if fraction >= 1.0 else min(num_groups, max(1, int(round(fraction * num_groups))))
    order = np.random.default_rng(seed).permutation(num_groups)
    if budget == num_groups:
        return torch.arange(n)

    # carries[g, p]: group g has a clip with categorical value p (one column per (attribute, value) seen)
    columns = []
    values = rows.numpy()
    for a in range(rows.shape[1]):
        if attributes is not None and attributes.specs[a].kind != "categorical":
            continue
        column = values[:, a]
        for v in np.unique(column[~np.isnan(column)]):
            hit = np.zeros(num_groups, dtype=bool)
            hit[group_index[column == v]] = True
            columns.append(hit)
    carries = np.stack(columns, axis=1) if columns else np.zeros((num_groups, 0), dtype=bool)
    carries = carries[order]  # rows in the seeded random order, so argmax breaks ties at random
    chosen = np.zeros(num_groups, dtype=bool)
    uncovered = np.ones(carries.shape[1], dtype=bool)
    taken = 0
    while taken < budget and uncovered.any():
        gain = np.where(chosen, -1, carries[:, uncovered].sum(axis=1))
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        chosen[best] = True
        uncovered &= ~carries[best]
        taken += 1
    for position in range(num_groups):
        if taken >= budget:
            break
        if not chosen[position]:
            chosen[position] = True
            taken += 1
    keep_groups = np.zeros(num_groups, dtype=bool)
    keep_groups[order[chosen]] = True
    return torch.from_numpy(np.nonzero(keep_groups[group_index])[0]).long()


def split_groups(split) -> Tensor | None:
    """The source-clip id of each item when a split has one (mini-clips of one video), else None."""
    ids = getattr(split, "clip_ids", None)
    return None if ids is None else torch.as_tensor(ids)



def combine_labels(truth: Tensor, labelled_indices, inferred: Tensor) -> Tensor:
    """Stage-2 controls ``[N, A]``: the known labels of the labelled clips, inferred values elsewhere
    (also for a labelled clip's missing entries)."""
    truth = torch.as_tensor(truth, dtype=torch.float32)
    given = torch.full_like(truth, float("nan"))
    index = torch.as_tensor(labelled_indices, dtype=torch.long)
    given[index] = truth[index]
    return torch.where(torch.isnan(given), inferred.to(truth.dtype), given)


class LabelledView(torch.utils.data.Dataset):
    """A split's items ``(frames, labels [T, A])`` with the labels replaced by ``label_rows[i]``
    broadcast over time: how stage 2 trains VideoVAE with inferred labels as fixed controls."""

    def __init__(self, split, label_rows: Tensor):
        label_rows = torch.as_tensor(label_rows, dtype=torch.float32)
        if label_rows.ndim != 2 or len(label_rows) != len(split):
            raise DataError(f"LabelledView needs one label row per item ({len(split)}), got shape {tuple(label_rows.shape)}")
        self.split = split
        self.label_rows = label_rows

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        frames, labels = self.split[index]
        if labels.shape[-1] != self.label_rows.shape[1]:
            raise DataError(f"item {index} has {labels.shape[-1]} label columns, the view {self.label_rows.shape[1]}")
        return frames, self.label_rows[index].expand(frames.shape[0], -1).clone()

    def __getattr__(self, name: str):  # clip_name, clip_ids, ... of the wrapped split
        if name in ("split", "label_rows"):
            raise AttributeError(name)
        return getattr(self.split, name)


def write_labels_csv(path: str | Path, attributes: AttributeSet, inferred: Tensor, truth: Tensor | None = None,
                     labelled: Tensor | None = None, names: Sequence[str] | None = None) -> Path:
    """One row per clip: ``clip`` (index), ``name`` (when known), ``labelled`` (when given), and per
    attribute the inferred value (column ``<attribute>``) and the true one (``<attribute>_true``,
    empty when unknown), both written as value names."""
    path = Path(path)
    header = ["clip"] + (["name"] if names is not None else []) + (["labelled"] if labelled is not None else [])
    for spec in attributes:
        header += [spec.name] + ([f"{spec.name}_true"] if truth is not None else [])
    is_labelled = None
    if labelled is not None:
        is_labelled = torch.zeros(len(inferred), dtype=torch.bool)
        is_labelled[torch.as_tensor(labelled, dtype=torch.long)] = True
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(len(inferred)):
            row: list[Any] = [i] + ([names[i]] if names is not None else []) + ([int(is_labelled[i])] if is_labelled is not None else [])
            for a, spec in enumerate(attributes):
                row.append(spec.format(float(inferred[i, a])))
                if truth is not None:
                    value = float(truth[i, a])
                    row.append("" if math.isnan(value) else spec.format(value))
            writer.writerow(row)
    return path


def clip_names(split) -> list[str] | None:
    if not hasattr(split, "clip_name"):
        return None
    try:
        return [str(split.clip_name(i)) for i in range(len(split))]
    except Exception:  # a split whose names cannot be read is written without them
        return None

