"""Generation with attribute control (Sec. 4.2): fixed, free, transient, or from a first frame.

Users assign some attributes (``{"rotation": "cw"}`` or a schedule
``{"action": "walk@0,run@6"}``); the free ones are drawn from the training
distribution, stored in the checkpoint as a table of training label rows: a row
consistent with the fixed values is drawn at random (the empirical joint), and
when none exists each free attribute is drawn from its marginal.

With a first frame and an attribute inference net φ_att (Eq. 3; a semi-supervised run
stores it in its checkpoint), the free attributes are instead inferred from the first
frame, as a one-frame clip; the table is then only used for what the net cannot give.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from ..core.attributes import AttributeSet
from ..core.errors import AttributeValueError, InputShapeError
from ..core.interfaces import VideoModel
from .modes import eval_mode
from .precision import autocast, check_precision


def _sample_marginal(attributes: AttributeSet, column: int, table: Tensor | None, generator) -> float:
    values = table[:, column] if table is not None and len(table) else torch.empty(0)
    values = values[~torch.isnan(values)]
    if len(values):
        return float(values[torch.randint(len(values), (1,), generator=generator)])
    spec = attributes.specs[column]
    if spec.kind == "categorical":
        return float(torch.randint(spec.num_classes, (1,), generator=generator))
    return float(spec.low + (spec.high - spec.low) * torch.rand((), generator=generator))


def resolve_free(attributes: AttributeSet, controls: Tensor, label_table: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
    """Fill the NaN (free) entries of ``controls [B, T, A]`` from the training label table ``[R, A]``."""
    out = controls.clone()
    for b in range(out.shape[0]):
        free = torch.isnan(out[b, 0])
        if not free.any():
            continue
        row = None
        if label_table is not None and len(label_table):
            fixed = ~free
            match = (label_table[:, fixed] == out[b, 0, fixed]).all(dim=1) & ~torch.isnan(label_table[:, free]).any(dim=1)
            candidates = label_table[match]
            if len(candidates):
                row = candidates[torch.randint(len(candidates), (1,), generator=generator)][0]
        for column in torch.nonzero(free).flatten().tolist():
            value = float(row[column]) if row is not None else _sample_marginal(attributes, column, label_table, generator)
            out[b, :, column] = value
    return out


@torch.no_grad()
def infer_free(attribute_net, attributes: AttributeSet, controls: Tensor, first_frames: Tensor) -> Tensor:
    """Fill the attributes free over a whole video (NaN at every frame of ``controls [B, T, A]``)
    with φ_att's prediction from that video's first frame ``[B, C, H, W]`` (a one-frame clip).
    A net made for other attributes is not used."""
    if tuple(attribute_net.attributes.names) != tuple(attributes.names):
        return controls
    free = torch.isnan(controls).all(dim=1)  # [B, A]
    if not free.any():
        return controls
    device = next(attribute_net.parameters()).device
    with eval_mode(attribute_net):
        predicted = attribute_net.predict(first_frames.unsqueeze(1).to(device)).float().cpu()  # [B, A]
    filled = torch.where(free, predicted.to(controls.dtype), controls[:, 0])
    return torch.where(free.unsqueeze(1), filled.unsqueeze(1).expand_as(controls), controls)


def control_tensor(attributes: AttributeSet, assignments: Mapping[str, str], num: int, length: int) -> Tensor:
    """``[num, length, A]`` labels from ``name -> value-or-schedule`` assignments; unassigned = NaN."""
    if num < 1:
        raise AttributeValueError(f"number of videos must be at least 1, got {num}")
    return attributes.controls(assignments, length).unsqueeze(0).repeat(num, 1, 1)


@torch.no_grad()
def generate_videos(model: VideoModel, *, num: int, length: int, assignments: Mapping[str, str] | None = None,
                    labels: Tensor | None = None, first_frames: Tensor | None = None,
                    label_table: Tensor | None = None, seed: int = 0,
                    attribute_net: torch.nn.Module | None = None, precision: str = "fp32") -> tuple[Tensor, Tensor]:
    """Videos ``[num, length, C, H, W]`` and the labels ``[num, length, A]`` they were steered by.

    Pass ``assignments`` (user strings) or ready ``labels`` (NaN = free). ``first_frames``
    ``[num, C, H, W]`` continue given frames (the first output reconstructs them); with
    ``attribute_net`` (an :class:`~videovae.engine.attribute_inference.net.AttributeInferenceNet` for the
    model's attributes) the attributes left free are inferred from those first frames. A mode the model
    does not declare (:attr:`~videovae.core.VideoModel.capabilities`) is a one-line :class:`CapabilityError`.
    ``precision="bf16"`` runs the model under bf16 autocast (where bf16 is native, else a one-line
    :class:`ConfigError`; :mod:`videovae.engine.precision`); the videos are float32 either way.
    """
    device = next(model.parameters()).device
    check_precision(precision, device, flag="precision")
    model.check_capabilities(first_frame=first_frames is not None)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    if labels is None:
        uncontrolled = [name for name in (assignments or {}) if name in model.attributes.names
                        and name not in model.controlled_attributes]
        if uncontrolled:
            steered = ", ".join(model.controlled_attributes) or "no attribute"
            raise AttributeValueError(f"model {model.config.architecture!r} is steered by {steered}; it does not model "
                                      f"{', '.join(uncontrolled)} (leave it free)")
        labels = control_tensor(model.attributes, assignments or {}, num, length)
    if labels.shape[:2] != (num, length):
        raise AttributeValueError(f"expected labels for {num} videos of {length} frames, got {tuple(labels.shape)}")
    if first_frames is not None and first_frames.shape[0] != num:
        raise InputShapeError(f"expected {num} first frames, got {first_frames.shape[0]}")
    if first_frames is not None and (not first_frames.is_floating_point() or not bool(torch.isfinite(first_frames).all())):
        raise InputShapeError(f"first frames must hold finite float pixels in [0, 1], got {first_frames.dtype} "
                              f"{'with NaN or infinite values' if first_frames.is_floating_point() else 'values'}")
    model.attributes.check_labels(labels)
    if first_frames is not None and attribute_net is not None:
        labels = infer_free(attribute_net, model.attributes, labels, first_frames)
    labels = resolve_free(model.attributes, labels, label_table, generator)
    with eval_mode(model), autocast(precision, device):
        videos = model.generate(
            labels.to(device),
            first_frame=None if first_frames is None else first_frames.to(device),
            generator=generator if device.type == "cpu" else None,
        )
    return videos.float().cpu(), labels
