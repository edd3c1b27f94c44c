"""The evaluation classifier (Sec. 5.2): trained per data set on real training videos only, never
on generated ones, over the joint label of the data set's evaluation attributes (Chair CAD:
tilt × rotation = 4 classes; Weizmann: action × performer), which is how the paper's bounds
come out (Chair CAD Inter-E bound 1.39 ≈ ln 4). It is the φ_att network of Eq. 3 (own encoder,
per-frame heads, LSTM) over that single joint attribute; ρ(y|x) is the softmax of its
frame-averaged log-probabilities.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

from ...core.config import ModelConfig, plain_value
from ...core.errors import CheckpointError, ConfigError, DataError
from ...core.interfaces import VideoDataset
from .protocol import EvalProtocol, JointLabels, real_test_clips

#: a classifier whose joint accuracy on the real test clips is below this multiple of chance gives
#: entropies (Eqs. 10-12) that say nothing about the videos
NEAR_CHANCE = 1.5


class _JointSplit(torch.utils.data.Dataset):
    def __init__(self, split, joint: JointLabels):
        self.split, self.joint = split, joint

    def __len__(self):
        return len(self.split)

    def __getitem__(self, index):
        frames, labels = self.split[index]
        return frames, self.joint.encode(labels).unsqueeze(-1)


class JointLabelDataset(VideoDataset):
    """A data set whose only attribute is the joint evaluation label.

    Its ``time_reversal`` is the data set's, applied part by part to each joint value (chairs:
    ``0deg|ccw`` ↔ ``0deg|cw``), so the classifier can train on clips played backwards."""

    def __init__(self, dataset: VideoDataset, joint: JointLabels):
        self.dataset, self.joint = dataset, joint
        self.attributes = joint.attributes
        self.frame_shape = dataset.frame_shape
        self.time_reversal = self._joint_reversal(getattr(dataset, "time_reversal", None))

    def _joint_reversal(self, declared) -> dict[str, dict[str, str]] | None:
        """The joint value each joint value becomes when played backwards, from the data set's
        per-attribute tables (:func:`reversal_tables`, which also checks the declaration)."""
        if declared is None:
            return None
        from ..attribute_inference import reversal_tables

        tables = reversal_tables(self.dataset)
        values = self.joint.spec.values
        mapping = {}
        for k, value in enumerate(values):
            row = torch.zeros(len(self.dataset.attributes))
            for column, label in self.joint.decode(k):
                row[column] = label if tables[column] is None else tables[column][int(label)]
            reversed_value = values[int(self.joint.encode(row))]
            if reversed_value != value:
                mapping[value] = reversed_value
        return {self.joint.spec.name: mapping}

    def split(self, name: str):
        return _JointSplit(self.dataset.split(name), self.joint)

    def label_rows(self, name: str) -> Tensor:
        return self.joint.encode(self.dataset.label_rows(name)).unsqueeze(-1)


class EvaluationClassifier:
    """ρ(y|x) over the joint label, from a φ_att network trained on real training videos."""

    def __init__(self, net, joint: JointLabels):
        self.net, self.joint = net, joint

    @torch.no_grad()
    def __call__(self, videos: Tensor) -> Tensor:
        logits = self.net(videos.to(next(self.net.parameters()).device))[0]
        return torch.softmax(torch.log_softmax(logits.double(), dim=-1).mean(dim=1), dim=-1).cpu()


def label_agreement(probs: Tensor, truth: Tensor, joint: JointLabels) -> dict:
    """How often the classes of ``probs [N, K]`` (argmax) are the joint classes of ``truth [N, A]`` (label rows):
    ``joint`` over the rows whose joint label is known, and per evaluated attribute (the value read from the
    predicted joint class) over the rows where that attribute is known, each with its ``chance`` (1 / the number of
    values) and row count."""
    predicted = probs.argmax(-1).tolist()
    values = torch.tensor([[value for _, value in joint.decode(k)] for k in predicted]).reshape(len(predicted), -1)
    truth_joint = joint.encode(truth)

    def score(hit: Tensor, mask: Tensor, classes: int) -> dict:
        clips = int(mask.sum())
        return {"accuracy": float(hit[mask].float().mean()) if clips else None, "chance": 1.0 / classes, "clips": clips}

    result = score(torch.tensor(predicted, dtype=truth_joint.dtype) == truth_joint, ~torch.isnan(truth_joint),
                   joint.num_classes)
    per_attribute = {}
    for i, (name, column, size) in enumerate(zip(joint.names, joint.columns, joint.sizes)):
        column_truth = truth[:, column]
        per_attribute[name] = score(values[:, i] == column_truth, ~torch.isnan(column_truth), size)
    return {"joint": result["accuracy"], "chance": result["chance"], "clips": result["clips"],
            "per_attribute": per_attribute}


def classifier_accuracy(classifier, dataset: VideoDataset, protocol: EvalProtocol) -> dict:
    """How often ``classifier`` names the label of the real test clips (``length`` frames each; it trained on
    the training split only): :func:`label_agreement` of its classes with the clips' labels, ``test_clips``
    the clips whose joint label is known, and ``near_chance`` when the joint accuracy is below
    :data:`NEAR_CHANCE` × chance."""
    frames, labels = real_test_clips(dataset, protocol.length)
    agreement = label_agreement(classifier(frames), labels[:, 0], classifier.joint)
    accuracy = agreement["joint"]
    return {"joint": accuracy, "chance": agreement["chance"], "test_clips": agreement["clips"],
            "per_attribute": agreement["per_attribute"],
            "near_chance": accuracy is not None and accuracy < NEAR_CHANCE * agreement["chance"]}


def classifier_key(dataset: VideoDataset, protocol: EvalProtocol) -> str:
    text = json.dumps([dataset.describe(), protocol.eval_attributes, protocol.classifier_steps, protocol.seed,
                       protocol.version])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def classifier_path(folder: str | Path, name: str, dataset: VideoDataset, protocol: EvalProtocol) -> Path:
    """Where :func:`load_or_train_classifier` keeps the classifier of ``dataset`` (stored as ``name``) and
    ``protocol`` in ``folder``."""
    return Path(folder) / f"classifier-{name}-{classifier_key(dataset, protocol)}.pt"


def load_or_train_classifier(dataset: VideoDataset, protocol: EvalProtocol, folder: str | Path,
                             name: str = "dataset", model_config=None, progress: bool = False,
                             log=print) -> EvaluationClassifier:
    """The data set's evaluation classifier, stored as ``<folder>/classifier-<name>-<key>.pt``.

    ``model_config`` names the encoder the classifier copies (default: the paper's, which
    needs 64×64 frames); a stored classifier built with another one is a one-line :class:`ConfigError`."""
    from ..attribute_inference import load_attribute_net, save_attribute_net, train_attribute_net

    joint = JointLabels(dataset.attributes, protocol.eval_attributes)
    path = classifier_path(folder, name, dataset, protocol)
    if path.is_file():
        try:
            net, payload = load_attribute_net(path)
        except CheckpointError as exc:  # a cache: say how to get a good one again
            raise CheckpointError(f"{exc}; remove it and the next evaluation trains the classifier again") from None
        if model_config is not None:
            wanted = plain_value(ModelConfig.from_dict(dict(model_config.to_dict() if isinstance(model_config, ModelConfig)
                                                       else model_config)).to_dict())
            stored = plain_value(ModelConfig.from_dict(payload["model_config"]).to_dict())
            differ = [f"{k}={stored[k]!r} instead of {wanted[k]!r}" for k in wanted if stored.get(k) != wanted[k]]
            if differ:
                raise ConfigError(f"{path} was built with another classifier config ({', '.join(differ)}); "
                                  "use another classifier folder")
        return EvaluationClassifier(net.eval(), joint)
    joint_data = JointLabelDataset(dataset, joint)
    rows = joint_data.label_rows("train")
    labelled = torch.nonzero(~torch.isnan(rows[:, 0])).flatten()
    if len(labelled) == 0:
        raise DataError("no training clip has all evaluation attributes labelled; the classifier needs real labels")
    log(f"training the evaluation classifier ({joint.num_classes} joint classes of {', '.join(joint.names)}) "
        f"on {len(labelled)} real training clips")
    net, _ = train_attribute_net(joint_data, labelled, steps=protocol.classifier_steps, seed=protocol.seed,
                                 progress=progress, batch_size=16, lr=1e-3, model_config=model_config)
    save_attribute_net(path, net, purpose="evaluation classifier", dataset=dataset.describe(),
                       eval_attributes=list(protocol.eval_attributes))
    return EvaluationClassifier(net.eval(), joint)

