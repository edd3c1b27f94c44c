"""What an evaluation measures (Sec. 5.2): the protocol, the evaluated attributes and their
joint label, and the class-balanced choice of real test clips.

Every result carries its :class:`EvalProtocol`; two results are comparable only when
their protocols match.
"""

from __future__ import annotations

from typing import Mapping

import attrs
import torch
from torch import Tensor

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import make_config, positive_int
from ...core.errors import ConfigError, DataError
from ...core.interfaces import VideoDataset

#: 2: the bound is measured on real test videos balanced per class, like the generated sets
#: 3: the classifier also trains on clips played backwards where the data set declares how
#:    their labels change (``time_reversal``), and its file name depends on the version
PROTOCOL_VERSION = 3


@attrs.frozen
class EvalProtocol:
    """What an evaluation measured; stored with every result."""

    version: int = PROTOCOL_VERSION
    length: int = attrs.field(default=16, validator=positive_int)  # frames per evaluated video
    videos_per_class: int = attrs.field(default=20, validator=positive_int)
    prediction_clips: int = attrs.field(default=32, validator=positive_int)  # real test clips continued
    best_of: int = attrs.field(default=5, validator=positive_int)  # N of best-of-N for PSNR/SSIM
    conditioning_frames_count: bool = False  # whether the given first frame enters PSNR/SSIM
    classifier_steps: int = attrs.field(default=600, validator=positive_int)
    eval_attributes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    seed: int = 0
    #: what the FVD column measured (:func:`~.fvd.fvd_protocol`, with its own ``version``); None: no FVD.
    #: Results without FVD keep version 3, so cached classifiers stay valid.
    fvd: dict | None = attrs.field(default=None, hash=False)

    def to_dict(self) -> dict:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "EvalProtocol":
        return make_config(cls, dict(data))


def evaluation_attributes(dataset: VideoDataset, requested: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The attributes whose joint label the classifier predicts: requested, else the data
    set's ``evaluation_attributes``, else all of them."""
    names = tuple(requested) or tuple(getattr(dataset, "evaluation_attributes", ())) or dataset.attributes.names
    for name in names:
        dataset.attributes.index(name)  # unknown names raise with the closest match
    return names


class JointLabels:
    """Maps label rows ``[..., A]`` to the joint class index over some categorical attributes."""

    def __init__(self, attributes: AttributeSet, names: tuple[str, ...]):
        self.columns = [attributes.index(n) for n in names]
        specs = [attributes.specs[c] for c in self.columns]
        bad = [s.name for s in specs if s.kind != "categorical"]
        if bad:
            raise ConfigError(f"evaluation attributes must be categorical, got continuous {', '.join(bad)}")
        self.sizes = [s.num_classes for s in specs]
        values = [""]
        for spec in specs:
            values = [f"{v}|{w}" if v else w for v in values for w in spec.values]
        self.spec = AttributeSpec("joint", values=tuple(values))
        self.attributes = AttributeSet((self.spec,))
        self.names = names

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    def encode(self, labels: Tensor) -> Tensor:
        """Joint index ``[...]`` (float, NaN where any part is missing)."""
        index = torch.zeros(labels.shape[:-1], dtype=labels.dtype)
        for column, size in zip(self.columns, self.sizes):
            index = index * size + labels[..., column]
        return index

    def decode(self, index: int) -> list[tuple[int, float]]:
        """(column, label) pairs of joint class ``index``."""
        out = []
        for column, size in reversed(list(zip(self.columns, self.sizes))):
            index, value = divmod(index, size)
            out.append((column, float(value)))
        return out[::-1]


def real_test_clips(dataset: VideoDataset, length: int) -> tuple[Tensor, Tensor]:
    test = dataset.split("test")
    if len(test) == 0:
        raise DataError("the data set's test split is empty")
    items = [test[i] for i in range(len(test))]
    short = min(f.shape[0] for f, _ in items)
    if short < length:
        raise DataError(f"test clips have {short} frames, fewer than the protocol's length {length}")
    return torch.stack([f[:length] for f, _ in items]), torch.stack([l[:length] for _, l in items])


def balanced_indices(classes: Tensor, num_classes: int, per_class: int) -> Tensor:
    """``per_class`` indices into ``classes [N]`` (joint class per real clip, NaN = unknown) for each
    class that has clips, cycling through a class's clips when it has fewer; unknown ones are skipped."""
    pick = []
    for k in range(num_classes):
        members = torch.nonzero(classes == k).flatten()
        if len(members):
            pick.append(members.repeat(-(-per_class // len(members)))[:per_class])
    if not pick:
        raise DataError("no real test clip has a known joint evaluation label")
    return torch.cat(pick)


def balanced_test_indices(labels: Tensor, joint: JointLabels, protocol: EvalProtocol) -> Tensor:
    """The real test clips (``labels [N, T, A]``) that the bound, the reconstruction rows and mode (iv)
    use: ``videos_per_class`` per joint class present, by :func:`balanced_indices`."""
    return balanced_indices(joint.encode(labels[:, 0]), joint.num_classes, protocol.videos_per_class)


def per_class_labels(joint: JointLabels, num_attributes: int, per_class: int, length: int) -> Tensor:
    """``[K·per_class, length, A]`` controls: each joint class fixed, other attributes free (NaN)."""
    rows = torch.full((joint.num_classes * per_class, length, num_attributes), float("nan"))
    for k in range(joint.num_classes):
        for column, value in joint.decode(k):
            rows[k * per_class:(k + 1) * per_class, :, column] = value
    return rows

