"""Whether each attribute steers what a model generates: a check the entropy metrics cannot make.

Eq. 10-12 score how confidently and how variously a classifier labels the generated clips, not whether a
clip shows what was commanded; on `bouncing-balls` a model reached 88% of the bound's I-score while the
axis its balls moved along did not follow the commanded one (docs/own_data.md). This check asks the model
directly: the same clips generated again with one attribute changed (each clip's value moved to the next
value of that attribute, everything else and the noise kept), against the same clips generated with other
noise (labels kept). Its number per attribute is

    steering(a) = mean |G(labels with a changed, noise) − G(labels, noise)| / mean |G(labels, noise′) − G(labels, noise)|

over pixels: about 0 for an attribute the model ignores, 1 when changing it changes the clips as much as
fresh noise does. Measured (64 clips of the test labels, mode i / iv): Weizmann +C+S at 3000 steps action
1.85 / 2.73, performer 1.86 / 3.15; `moving-sprites` at 7000 steps direction 0.80 / 3.12, colour 0.81 / 2.81,
shape 0.49 / 1.42; `bouncing-balls` at 6000 steps size 1.09 / 1.13, speed 0.37 / 0.55, **axis 0.22 / 0.24**:
flipping the commanded axis moves its generated balls by 2 px on average, where turning the sprites'
direction moves them by 14 px. Later, with the same 64 clips per row of the comparison tables (docs/results):
the built-in chairs' +C+S chair 4.51 / 4.46, tilt 1.20 / 1.23, rotation 4.38 / 4.59; MoCoGAN's category, action
on Weizmann 1.01 and rotation on the chairs 0.58. :data:`WEAK` marks such an attribute in the report.

Only categorical attributes the model is steered by (:attr:`~videovae.core.VideoModel.controlled_attributes`)
are checked; a model steered by none (VGAN) has no steering numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.interfaces import VideoModel
from ..generation import generate_videos

#: clips the check generates per attribute (spread evenly over the row's clips)
STEERING_CLIPS = 64
#: below this an attribute barely steers the model: changing it changes the clips less than 0.4 times as much
#: as changing the noise does (the balls' axis, 0.22-0.24, against 0.49-3.15 for the attributes seen to work)
WEAK = 0.4


def _changed(model: VideoModel, labels: Tensor, column: int) -> Tensor:
    classes = model.attributes.specs[column].num_classes
    other = labels.clone()
    other[..., column] = (other[..., column] + 1) % classes
    return other


@torch.no_grad()
def steering(model: VideoModel, labels: Tensor, first_frames: Tensor | None = None, *, seed: int = 0,
             clips: int = STEERING_CLIPS) -> dict[str, float]:
    """``{attribute: steering}`` of ``model`` for fully set ``labels [N, T, A]`` (continuing ``first_frames
    [N, C, H, W]`` when given), on up to ``clips`` of the N spread evenly; empty when the model is steered by
    no categorical attribute or ignores its noise (deterministic given its inputs, as the Deep Rotator)."""
    names = [spec.name for spec in model.attributes.specs
             if spec.kind == "categorical" and spec.num_classes > 1 and spec.name in model.controlled_attributes]
    if not names or len(labels) == 0:
        return {}
    pick = torch.linspace(0, len(labels) - 1, min(clips, len(labels))).round().long().unique()
    labels = labels[pick]
    first_frames = None if first_frames is None else first_frames[pick]
    common = dict(num=len(labels), length=labels.shape[1], first_frames=first_frames)
    base, _ = generate_videos(model, labels=labels, seed=seed, **common)
    noise, _ = generate_videos(model, labels=labels, seed=seed + 1, **common)
    scale = float((noise - base).abs().mean())
    if scale == 0.0:  # a deterministic model (the Deep Rotator): there is no noise to compare with
        return {}
    result = {}
    for name in names:
        column = model.attributes.index(name)
        changed, _ = generate_videos(model, labels=_changed(model, labels, column), seed=seed, **common)
        result[name] = float((changed - base).abs().mean()) / scale
    return result


def weak_attributes(values: dict[str, float]) -> list[str]:
    """The attributes whose steering is below :data:`WEAK`."""
    return [name for name, value in values.items() if value < WEAK]


__all__ = ["STEERING_CLIPS", "WEAK", "steering", "weak_attributes"]
