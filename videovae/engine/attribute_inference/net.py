"""φ_att: the attribute inference network of Sec. 3.2 (Eq. 3, footnote 2).

``a_i = φ_att^(i)(φ_enc(x^(1:T)))`` (Eq. 3): one small classification network per
attribute after a frame encoder. Footnote 2: "Each network consists of two
fully-connected layers with a central ReLU unit, connected in time by an LSTM.
This LSTM for attribute inference is independent of the main LSTM modelling
motion dynamics." Here, per attribute i and frame t::

    f^(t)   = φ_enc(x^(t))                          (the net's own encoder copy)
    h_i^(t) = LSTM_i(f^(t), h_i^(t-1))              (own LSTM per attribute, h_i^(0) = 0)
    o_i^(t) = φ_τ^(i)(f^(t) ⊕ h_i^(t))              (PhiTau: fc → ReLU → fc)

so the two-layer head sees the current frame directly and the clip so far through
the LSTM. ``o_i^(t)`` are logits ``[B, T, K_i]`` for a categorical attribute
(cross entropy) and the attribute's code for a continuous one (its (cos, sin)
for a periodic attribute, its value scaled to [-1, 1] otherwise; mean squared
error), as :meth:`AttributeSpec.encode` defines the code. Every frame is
supervised with the label of that frame; missing labels (NaN) are masked out.

Video-level prediction (:meth:`AttributeInferenceNet.predict`), ``pooling="mean"``
(the default): for a categorical attribute the argmax of the per-frame
log-probabilities averaged over frames (a product of the per-frame posteriors:
early frames that cannot tell, e.g. the direction of rotation from one frame, stay
near uniform and do not overrule the later ones); for a continuous attribute the
mean per-frame code, decoded. ``pooling="last"`` uses the output at the last frame
only, the one that has seen the whole clip. Measured on the built-in chairs (64 px,
50 chairs, 20% labelled, 400 steps) "mean" inferred the rotation better (0.96 vs 0.65)
and "last" the chair of the clips whose chair has a labelled clip (0.67 vs 0.47); on
32 px test-size chairs (tiny preset) "last" was better for the rotation. With one frame (T=1) both are the
prediction from that frame alone, which is what generation from a first frame uses.

Motion attributes (a data set's ``motion_attributes``, e.g. Weizmann's action) are read
by a second encoder copy from frame differences (:func:`motion_frames`) instead of the
frames: with 20% of the Weizmann clips labelled, a net reading the frames learned the
labelled performers' looks (action 0.56 on the test clips); from frame differences,
where the background and the clothes cancel out, it reached the action of the test
clips (``docs/attribute_inference.md``).

Decision — where the features come from. The net owns a separate copy of the
frame encoder (built through the registry with the encoder name and options of
the model configuration; by default the paper's "paper-conv" of A.4). The paper
learns φ_enc and φ_att independently (Sec. 3.2) and trains φ_att *before*
VideoVAE (Sec. 4.1, two-stage training); a separate encoder follows that order
without training VideoVAE first and keeps the classification loss from shaping
the VAE's features. Stage 1 (:mod:`videovae.engine.attribute_inference`) first
trains this copy as a frame autoencoder on the frames of *all* training clips,
labelled or not, then trains it with the heads on the labelled clips, then once
more on those plus the unlabelled clips it labels confidently (self-training).
Reason, measured on the built-in chairs with 20% labelled: trained on the
labelled clips alone the encoder learns what tells those few clips apart (the
chair's look predicts its tilt there) and the direction of rotation stayed at
chance (0.48) once clips start at different views; pretrained on all clips it
reached 1.00, and with self-training every attribute ≥ 0.956 (``docs/attribute_inference.md``). The
trade-off: the encoder's weights exist twice (about 1.8 M parameters more at the
A.4 sizes). A value that no labelled clip carries (an identity none of whose
clips is labelled) cannot be inferred — A.4 notes the same for Chair CAD's chair ID.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import ModelConfig
from ...core.errors import ConfigError, InputShapeError
from ...core.interfaces import BuildContext, FrameEncoder
from ...core.validators import check, choice, positive_int
from ...registry.factory import build_part
from ...plugins.layers import PhiTau

#: default sizes of the heads and LSTMs: small, as the paper calls the classifiers
DEFAULT_HIDDEN_DIM = 256
DEFAULT_STATE_DIM = 128


POOLINGS = ("mean", "last")


def check_pooling(pooling: str) -> str:
    return check(choice(*POOLINGS), "attribute net pooling", pooling)


def motion_frames(frames: Tensor) -> Tensor:
    """What a motion encoder sees: ``0.5 + 2·(x^(t) − x^(t-1))`` clamped to [0, 1] for videos
    ``[B, T, C, H, W]``, mid-grey (no change) at the first frame. The static background and the
    look of whatever does not move cancel out; what moves remains."""
    change = torch.zeros_like(frames)
    change[:, 1:] = frames[:, 1:] - frames[:, :-1]
    return (0.5 + 2.0 * change).clamp(0.0, 1.0)


def decode_code(spec: AttributeSpec, code: Tensor) -> Tensor:
    """The label value of a continuous attribute's code ``[..., code_dim]`` (inverse of ``spec.encode``)."""
    if spec.periodic:
        angle = torch.atan2(code[..., 1], code[..., 0]) % (2 * math.pi)
        return spec.low + angle / (2 * math.pi) * (spec.high - spec.low)
    return spec.low + (code[..., 0].clamp(-1.0, 1.0) + 1.0) / 2.0 * (spec.high - spec.low)


class AttributeInferenceNet(nn.Module):
    """φ_att of Eq. 3 with its own frame encoder: videos ``[B, T, C, H, W]`` → per-frame outputs per attribute.

    Footnote 2: per attribute, two fully-connected layers with a central ReLU
    (:class:`PhiTau`) applied per frame, connected in time by an LSTM of its own
    (independent of VideoVAE's main LSTM and of the other attributes' LSTMs).
    """

    def __init__(self, model_config: ModelConfig, attributes: AttributeSet, encoder: FrameEncoder,
                 hidden_dim: int = DEFAULT_HIDDEN_DIM, state_dim: int = DEFAULT_STATE_DIM, pooling: str = "mean",
                 motion_encoder: FrameEncoder | None = None, motion_attributes: tuple[str, ...] = ()):
        super().__init__()
        if len(attributes) == 0:
            raise ConfigError("attribute inference needs at least one attribute; the data set has none")
        for name in motion_attributes:
            attributes.index(name)  # unknown names raise with the closest match
        if motion_attributes and motion_encoder is None:
            raise ConfigError("motion attributes need a motion encoder")
        self.motion_attributes = tuple(motion_attributes)
        self.motion_encoder = motion_encoder if motion_attributes else None
        self.model_config = model_config
        self.attributes = attributes
        self.hidden_dim = hidden_dim
        self.state_dim = state_dim
        self.pooling = check_pooling(pooling)
        self.encoder = encoder
        features = encoder.feature_dim
        self.lstms = nn.ModuleList(nn.LSTM(features, state_dim, batch_first=True) for _ in attributes)
        self.heads = nn.ModuleList(PhiTau(features + state_dim, hidden_dim, spec.code_dim) for spec in attributes)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return tuple(self.model_config.frame_shape)

    def check_video(self, frames: Tensor) -> None:
        c, h, w = self.frame_shape
        if frames.ndim != 5 or tuple(frames.shape[2:]) != (c, h, w):
            raise InputShapeError(f"attribute inference expects videos of shape [B, T, {c}, {h}, {w}], got {tuple(frames.shape)}")

    def forward(self, frames: Tensor) -> list[Tensor]:
        """Per-frame outputs ``[B, T, code_dim_i]`` for each attribute, in attribute order (Eq. 3).

        Categorical attributes give logits over their K_i values; continuous ones their code.
        """
        self.check_video(frames)
        batch, length = frames.shape[:2]
        features = self.encoder(frames.flatten(0, 1)).unflatten(0, (batch, length))
        moving = None
        if self.motion_encoder is not None:
            moving = self.motion_encoder(motion_frames(frames).flatten(0, 1)).unflatten(0, (batch, length))
        outputs = []
        for spec, lstm, head in zip(self.attributes, self.lstms, self.heads):
            seen = moving if spec.name in self.motion_attributes else features
            states, _ = lstm(seen)
            outputs.append(head(seen, states))
        return outputs

    @torch.no_grad()
    def predict(self, frames: Tensor, pooling: str | None = None) -> Tensor:
        """Video-level labels ``[B, A]``. ``pooling`` (default: the net's) "mean": argmax of the
        frame-averaged log-probabilities (categorical) or the decoded frame-averaged code
        (continuous); "last": the same from the last frame's output alone."""
        return self.labels_from_outputs(self(frames), pooling)

    def pooled_scores(self, outputs: list[Tensor], pooling: str | None = None) -> list[Tensor]:
        """Per attribute, the video-level score ``[B, code_dim_i]``: log-probabilities (categorical)
        or the code (continuous), averaged over frames ("mean") or taken at the last frame ("last")."""
        pooling = check_pooling(pooling if pooling is not None else self.pooling)
        pooled = []
        for spec, out in zip(self.attributes, outputs):
            scores = torch.log_softmax(out, dim=-1) if spec.kind == "categorical" else out
            pooled.append(scores.mean(dim=1) if pooling == "mean" else scores[:, -1])
        return pooled

    def labels_from_outputs(self, outputs: list[Tensor], pooling: str | None = None) -> Tensor:
        columns = []
        for spec, out, pooled in zip(self.attributes, outputs, self.pooled_scores(outputs, pooling)):
            if spec.kind == "categorical":
                columns.append(pooled.argmax(dim=-1).to(out.dtype))
            else:
                columns.append(decode_code(spec, pooled))
        return torch.stack(columns, dim=-1)

    def describe(self) -> dict[str, Any]:
        return {"encoder": self.model_config.encoder, "attributes": list(self.attributes.names),
                "motion_attributes": list(self.motion_attributes),
                "hidden_dim": self.hidden_dim, "state_dim": self.state_dim, "pooling": self.pooling,
                "parameters": sum(p.numel() for p in self.parameters())}


def attribute_loss(outputs: list[Tensor], labels: Tensor, attributes: AttributeSet) -> tuple[Tensor, dict[str, Tensor]]:
    """Sum over attributes of the masked per-frame loss: cross entropy (categorical) or the
    squared error of the code (continuous), each averaged over the (clip, frame) entries whose
    label is known. Missing labels (NaN) contribute exactly zero, also to the gradient; an
    attribute without any known label in the batch contributes 0.

    :param outputs: the net's outputs, one ``[B, T, code_dim_i]`` per attribute.
    :param labels: ``[B, T, A]`` per-frame labels, NaN = missing.
    """
    if labels.ndim != 3 or labels.shape[-1] != len(attributes):
        raise InputShapeError(f"expected labels of shape [B, T, {len(attributes)}], got {tuple(labels.shape)}")
    total = labels.new_zeros(())
    parts: dict[str, Tensor] = {}
    for i, (spec, out) in enumerate(zip(attributes, outputs)):
        column = labels[..., i]
        known = ~torch.isnan(column)
        weight = known.to(out.dtype)
        if spec.kind == "categorical":
            target = torch.where(known, column, torch.zeros_like(column)).long().clamp(0, spec.num_classes - 1)
            per_entry = nn.functional.cross_entropy(out.flatten(0, 1), target.flatten(), reduction="none").view_as(column)
        else:
            per_entry = (out - spec.encode(column).to(out.dtype)).pow(2).sum(-1)
        # multiplying by a 0/1 weight (the values under it are finite) zeroes the missing entries' gradient
        loss = (per_entry * weight).sum() / weight.sum().clamp(min=1.0)
        parts[spec.name] = loss
        total = total + loss
    return total, parts


def _build_encoder(model_config: ModelConfig, attributes: AttributeSet) -> FrameEncoder:
    context = BuildContext(model_config.frame_shape, model_config.latent_dim, model_config.state_dim,
                           model_config.hidden_dim, attributes)
    return build_part("encoder", model_config, context)


def build_attribute_net(model_config: ModelConfig | Mapping[str, Any], attributes: AttributeSet,
                        hidden_dim: int | None = None, state_dim: int | None = None,
                        pooling: str = "mean", motion_attributes: tuple[str, ...] = ()) -> AttributeInferenceNet:
    """φ_att (Eq. 3, footnote 2) with its own copy of the model configuration's frame encoder.

    The encoder is built through the registry with ``model_config.encoder`` and its
    options (default the paper's "paper-conv"), so it is an independent copy with its
    own weights. ``hidden_dim`` (the heads' middle layer) defaults to
    ``min(256, model_config.hidden_dim)`` and ``state_dim`` (each attribute's LSTM) to
    ``min(128, model_config.state_dim)``. ``pooling`` ("mean" or "last") is how
    :meth:`AttributeInferenceNet.predict` turns per-frame outputs into a video's labels.
    ``motion_attributes`` are read by a second encoder copy from :func:`motion_frames` (frame
    differences) instead of the frames.
    """
    if not isinstance(model_config, ModelConfig):
        model_config = ModelConfig.from_dict(model_config)
    hidden_dim = hidden_dim if hidden_dim is not None else min(DEFAULT_HIDDEN_DIM, model_config.hidden_dim)
    state_dim = state_dim if state_dim is not None else min(DEFAULT_STATE_DIM, model_config.state_dim)
    for name, value in (("hidden_dim", hidden_dim), ("state_dim", state_dim)):
        check(positive_int, f"attribute net {name}", value)
    check_pooling(pooling)
    encoder = _build_encoder(model_config, attributes)
    motion_encoder = _build_encoder(model_config, attributes) if motion_attributes else None
    return AttributeInferenceNet(model_config, attributes, encoder, hidden_dim, state_dim, pooling,
                                 motion_encoder=motion_encoder, motion_attributes=tuple(motion_attributes))
