"""The training data path: data sets by name (at the model's frame size), a step-indexed batch sampler,
the DataLoader and the per-clip noise.

Every random choice here is a function of the run's seed alone: the clip order of an epoch is
:class:`torch.utils.data.DistributedSampler`'s for (seed, epoch), the clips of a step are that
order's slice for the step, and the ε of a clip is drawn from (seed, step, clip index). A resumed
run therefore loads exactly the batches an uninterrupted one would have, whatever the number of
loader workers, and N processes with batch B see the global batch of one process with batch N·B.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import attrs
import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ..core.batch import VideoBatch
from ..core.config import make_options
from ..core.errors import ConfigError, DataError
from ..registry import get_registry

#: the step whose noise validation uses: never a training step, so the same ε every time
VALIDATION_STEP = -1


def load_dataset(name: str, root: str | None, options: dict):
    """Instantiate a registered data set by name."""
    entry = get_registry().get("dataset", name)
    return entry.factory(root, **options)


def require_data_root(root: Any, flag: str = "--data-root") -> None:
    """A data root given explicitly must be an existing folder: a one-line :class:`DataError` otherwise,
    before anything is loaded (a data set that renders its frames, like synthetic-chairs, would
    otherwise create it). ``None`` (the data set's default) passes."""
    if root is None:
        return
    path = Path(os.fspath(root)).expanduser() if isinstance(root, (str, os.PathLike)) else None
    if path is None or not str(root):
        raise DataError(f"{flag} must be a folder path, got {root!r}")
    if not path.exists():
        raise DataError(f"{flag} {path} does not exist; expected the folder of the data set's files "
                        "(leave it out for a data set's default)")
    if not path.is_dir():
        raise DataError(f"{flag} {path} is not a folder; expected the folder of the data set's files")


def _size_hint(size: int) -> str:
    """How to get a model of ``size``×``size`` frames from the command line."""
    from ..plugins.presets import SIZES

    names = [name for name, fields in SIZES.items() if fields["frame_size"] == size]
    return "--size " + " or --size ".join(names) if names else f"--set frame_size={size}"


def resolved_dataset_options(name: str, options: Mapping[str, Any]) -> dict:
    """Every option of data set ``name`` with ``options`` applied and the rest at their defaults, so two
    option sets that load the same data compare equal (``{}`` and ``{"size": 32}`` for a default size of 32)."""
    entry = get_registry().get("dataset", name)
    if entry.options is None:
        return dict(options)
    return attrs.asdict(make_options(entry.options, options, f"dataset {name!r}"))


def fit_dataset_size(name: str, options: Mapping[str, Any], frame_size: int, *, fill: bool = True) -> tuple[dict, bool]:
    """The options to load data set ``name`` with for a model of ``frame_size``×``frame_size`` frames, and
    whether ``size`` was filled in.

    When the data set's options class has a ``size`` field: unset, it becomes ``frame_size`` (with
    ``fill``; a resumed run keeps its stored options as they are); set to another number, it is a
    one-line :class:`ConfigError` naming both sizes and the fix, before anything is loaded.
    """
    options = dict(options)
    entry = get_registry().get("dataset", name)
    if entry.options is None or "size" not in {field.name for field in attrs.fields(entry.options)}:
        return options, False
    if "size" not in options:
        if not fill:
            return options, False
        options["size"] = frame_size
        return options, True
    given = options["size"]
    if isinstance(given, int) and not isinstance(given, bool) and given != frame_size:
        raise ConfigError(
            f"{name}: dataset option size={given} does not fit the model's {frame_size}x{frame_size} frames; use "
            f"--dataset-option size={frame_size} (or leave it out), or a model of {given}x{given} frames "
            f"({_size_hint(given)})")
    return options, False


def validation_split(dataset):
    """The data set's ``"val"`` split when it has one, else its ``"test"`` split."""
    try:
        return dataset.split("val")
    except (DataError, KeyError):
        return dataset.split("test")


def validation_indices(size: int, count: int) -> list[int]:
    """``min(count, size)`` clip indices spread evenly over a split of ``size`` clips (always the same)."""
    count = min(count, size)
    return [i * size // count for i in range(count)]


class StepBatchSampler(Sampler[list[int]]):
    """This process's clip indices of every step in ``[start, stop)``, one list per step.

    Epoch ``e`` visits the clips in the order of ``DistributedSampler(seed=seed, shuffle=True,
    drop_last=True)`` at ``set_epoch(e)``, this process's share; step ``s`` is batch
    ``s mod steps_per_epoch`` of epoch ``s // steps_per_epoch``. So the clips of a step depend on
    (seed, step, world size, rank) only, not on where a run started.
    """

    def __init__(self, size: int, batch_size: int, *, seed: int, start: int = 0, stop: int,
                 world_size: int = 1, rank: int = 0):
        self.order = DistributedSampler(range(size), num_replicas=world_size, rank=rank, shuffle=True,
                                        seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.steps_per_epoch = len(self.order) // batch_size
        if self.steps_per_epoch < 1:
            raise DataError(f"{size} clips are fewer than one batch ({batch_size} per process x {world_size} processes)")
        self.start, self.stop = start, stop
        self._epoch: tuple[int, list[int]] | None = None

    def indices(self, step: int) -> list[int]:
        """The clip indices of ``step``."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            self.order.set_epoch(epoch)
            self._epoch = (epoch, list(self.order))
        return self._epoch[1][position * self.batch_size:(position + 1) * self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            yield self.indices(step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


class IndexedClips(torch.utils.data.Dataset):
    """A split whose items carry their index: ``(index, frames, labels)`` (the per-clip noise needs it)."""

    def __init__(self, split):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        frames, labels = self.split[index]
        return index, frames, labels


def collate_clips(items: Sequence[tuple[int, Tensor, Tensor]]) -> tuple[VideoBatch, list[int]]:
    """``(index, frames, labels)`` items → a :class:`VideoBatch` and the clip indices, in order."""
    return VideoBatch.collate([(frames, labels) for _, frames, labels in items]), [index for index, _, _ in items]


def training_loader(split, sampler: StepBatchSampler, *, workers: int = 0, seed: int = 0) -> DataLoader:
    """A DataLoader yielding ``(VideoBatch, indices)`` per step of ``sampler``.

    ``workers`` processes load the clips in the background (0: in this process); batches come back
    in step order either way. The loader gets its own generator so that starting it never draws
    from the global random state the training step uses (dropout, h^(0)).
    """
    return DataLoader(IndexedClips(split), batch_sampler=sampler, collate_fn=collate_clips, num_workers=workers,
                      generator=torch.Generator().manual_seed(seed))


def clip_batches(split, indices: list[int], batch_size: int) -> Iterator[tuple[VideoBatch, list[int]]]:
    """The clips ``indices`` of ``split`` in batches of up to ``batch_size``, in order."""
    for start in range(0, len(indices), batch_size):
        chunk = indices[start:start + batch_size]
        yield VideoBatch.collate([split[i] for i in chunk]), chunk


__all__ = ["StepBatchSampler", "IndexedClips", "VALIDATION_STEP", "clip_batches", "collate_clips", "fit_dataset_size",
           "load_dataset", "require_data_root", "training_loader", "validation_indices", "validation_split"]
