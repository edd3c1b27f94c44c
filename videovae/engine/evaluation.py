"""Evaluation of generated videos with the paper's metrics (Sec. 5.2, Tables 1 and 2).

* An evaluation classifier is trained per data set on real training videos only, never
  on generated ones. Its label is the joint label over the data set's evaluation
  attributes (Chair CAD: tilt × rotation = 4 classes; Weizmann: action × performer),
  which is how the paper's bounds come out (Chair CAD Inter-E bound 1.39 ≈ ln 4).
  It is the φ_att network of Eq. 3 (own encoder, per-frame heads, LSTM) over that
  single joint attribute; ρ(y|x) is the softmax of its frame-averaged log-probabilities.
* Generated sets hold an equal number of videos per joint class; free attributes
  (e.g. the chair) are drawn from the training distribution.
* Intra-E (Eq. 11, a sum over videos: reported with the number of videos), Inter-E
  (Eq. 12) and the I-score (Eq. 10); the bound is the same numbers on real test videos.
* Prediction from a first frame: PSNR and SSIM per frame against the real continuation,
  best of N samples (the SVG protocol), conditioning frame excluded.
* Optional reference rows: a model's posterior reconstructions of the bound's clips
  (what its codec keeps), and rows averaged over several training seeds (mean ± std).

Every result carries its :class:`EvalProtocol`; two results are comparable only when
their protocols match.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs
import torch
from torch import Tensor

from ..core.attributes import AttributeSet, AttributeSpec
from ..core.config import make_config, positive_int
from ..core.errors import ConfigError, DataError
from ..core.interfaces import VideoDataset
from ..registry import get_registry
from .generation import generate_videos
from .modes import eval_mode

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
        from .attribute_inference import reversal_tables

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


def classifier_key(dataset: VideoDataset, protocol: EvalProtocol) -> str:
    text = json.dumps([dataset.describe(), protocol.eval_attributes, protocol.classifier_steps, protocol.seed,
                       protocol.version])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_or_train_classifier(dataset: VideoDataset, protocol: EvalProtocol, folder: str | Path,
                             name: str = "dataset", model_config=None, progress: bool = False,
                             log=print) -> EvaluationClassifier:
    """The data set's evaluation classifier, stored as ``<folder>/classifier-<name>-<key>.pt``.

    ``model_config`` names the encoder the classifier copies (default: the paper's, which
    needs 64×64 frames)."""
    from .attribute_inference import load_attribute_net, save_attribute_net, train_attribute_net

    joint = JointLabels(dataset.attributes, protocol.eval_attributes)
    path = Path(folder) / f"classifier-{name}-{classifier_key(dataset, protocol)}.pt"
    if path.is_file():
        net, _ = load_attribute_net(path)
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


def _metric(name: str):
    return get_registry().build("metric", name)


def entropy_scores(probs: Tensor) -> dict[str, float]:
    context = {"probs": probs}
    out = {}
    out.update(_metric("intra-entropy").compute(None, context))
    out.update(_metric("inter-entropy").compute(None, context))
    out.update(_metric("inception-score").compute(None, context))
    return {"intra_entropy": out["intra_entropy"], "inter_entropy": out["inter_entropy"],
            "inception_score": out["inception_score"], "num_videos": int(probs.shape[0])}


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


def bound(dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol) -> dict[str, Any]:
    """The metrics of real test videos (the 'Bound' column of Tables 1 and 2), computed the way the
    generated sets are: ``videos_per_class`` real clips of each joint class present in the test split
    (a class with fewer clips repeats them), so Intra-E sums over as many videos as a model's row."""
    frames, labels = real_test_clips(dataset, protocol.length)
    pick = balanced_test_indices(labels, classifier.joint, protocol)
    return {"mode": "real test videos", "real_clips": int(pick.unique().numel()), **entropy_scores(classifier(frames[pick]))}


def shuffled_frames(dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol) -> dict[str, Any]:
    """A control row: real test frames in random order, i.e. what a perfect static model would produce.

    As many videos as the bound's, each of ``length`` frames drawn independently and uniformly
    from all frames of the bound's (class-balanced) real test clips, like the static model of
    Sec. 5.3, whose 15 consecutive independent samples form a video. Every frame is real, only
    the temporal coherence is gone, so the row shows what Eqs. 10-12 give for that alone under
    this classifier (in particular whether Inter-E, Eq. 12, rewards incoherent videos)."""
    frames, labels = real_test_clips(dataset, protocol.length)
    pick = balanced_test_indices(labels, classifier.joint, protocol)
    pool = frames[pick].flatten(0, 1)
    generator = torch.Generator().manual_seed(protocol.seed)
    order = torch.randint(len(pool), (len(pick), protocol.length), generator=generator)
    return {"mode": "real test frames in random order (a perfect static model)", **entropy_scores(classifier(pool[order]))}


@torch.no_grad()
def reconstruction_scores(model, dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                          chunk: int = 64) -> dict[str, Any]:
    """The metrics of a model's reconstructions of the bound's real test clips through its posterior
    (the training path: z^(t) drawn from ψ_dy, Eq. 4 and 7, with the LSTM of Eq. 2; decoded by Eq. 6),
    one posterior sample per clip from the protocol's seed, clamped to [0, 1] as generated frames are.

    Not a generated set: it measures how recognisable the model's frames are when the latents
    come from real frames instead of from the prior, a reference beside its generated rows (it is
    not an upper bound: on Weizmann the +S models' generated rows score better, docs/results)."""
    frames, labels = real_test_clips(dataset, protocol.length)
    pick = balanced_test_indices(labels, classifier.joint, protocol)
    generator = torch.Generator(device="cpu").manual_seed(protocol.seed)
    device = next(model.parameters()).device
    with eval_mode(model):
        videos = torch.cat([
            model(frames[part].to(device), labels[part].to(device),
                  generator=generator if device.type == "cpu" else None).reconstruction.clamp(0.0, 1.0).cpu()
            for part in pick.split(chunk)
        ])
    return {"mode": "posterior reconstruction of real test videos", **entropy_scores(classifier(videos))}


def per_class_labels(joint: JointLabels, num_attributes: int, per_class: int, length: int) -> Tensor:
    """``[K·per_class, length, A]`` controls: each joint class fixed, other attributes free (NaN)."""
    rows = torch.full((joint.num_classes * per_class, length, num_attributes), float("nan"))
    for k in range(joint.num_classes):
        for column, value in joint.decode(k):
            rows[k * per_class:(k + 1) * per_class, :, column] = value
    return rows


def evaluate_model(model, dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                   label_table: Tensor | None, first_frame: bool = False) -> dict[str, Any]:
    """Intra-E, Inter-E and I-score of generated videos, PSNR and SSIM of predictions.

    The generated set is de-novo synthesis from attributes (the paper's mode i), or, with
    ``first_frame`` or for a model that requires one (Deep Rotator), the continuation of
    ``videos_per_class`` real test clips per joint class from their first frame and attributes
    (mode iv, the mode of Table 2's Chair CAD rows).
    """
    model.eval()
    joint = classifier.joint
    result: dict[str, Any] = {}
    frames, labels = real_test_clips(dataset, protocol.length)
    if first_frame or getattr(model, "requires_first_frame", False):  # continue real test frames
        result["mode"] = "first frame given (iv)"
        pick = balanced_test_indices(labels, joint, protocol)
        videos, _ = generate_videos(model, num=len(pick), length=protocol.length, labels=labels[pick],
                                    first_frames=frames[pick, 0], label_table=label_table, seed=protocol.seed)
    else:
        result["mode"] = "attributes only (i)"
        controls = per_class_labels(joint, len(dataset.attributes), protocol.videos_per_class, protocol.length)
        videos, _ = generate_videos(model, num=len(controls), length=protocol.length, labels=controls,
                                    label_table=label_table, seed=protocol.seed)
    result.update(entropy_scores(classifier(videos)))
    result.update(prediction_scores(model, frames, labels, protocol, label_table))
    return result


def prediction_scores(model, frames: Tensor, labels: Tensor, protocol: EvalProtocol,
                      label_table: Tensor | None) -> dict[str, Any]:
    """PSNR and SSIM, best of N samples per real test clip, given its first frame and attributes."""
    count = min(protocol.prediction_clips, len(frames))
    frames, labels = frames[:count], labels[:count]
    samples = torch.stack([
        generate_videos(model, num=count, length=protocol.length, labels=labels, first_frames=frames[:, 0],
                        label_table=label_table, seed=protocol.seed + 1000 * (s + 1))[0]
        for s in range(protocol.best_of)
    ])
    skip = 0 if protocol.conditioning_frames_count else 1
    context = {"targets": frames, "samples": samples}
    psnr = get_registry().build("metric", "psnr", options={"skip_frames": skip}).compute(None, context)
    ssim = get_registry().build("metric", "ssim", options={"skip_frames": skip}).compute(None, context)
    return {"psnr": psnr["psnr"], "ssim": ssim["ssim"], "prediction_clips": count}


def score_model(name: str, loaded, dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                first_frame: bool = False, reconstruction: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The table rows of one loaded checkpoint: its own mode, plus ``"<name> (iv)"`` (continuing real
    first frames) when ``first_frame`` is asked for a model that also generates from attributes, and
    ``"<name> (reconstruction)"`` (:func:`reconstruction_scores`) when ``reconstruction`` is asked
    for such a model (a model that only continues first frames has no separate posterior path)."""
    rows = [(name, {**evaluate_model(loaded.model, dataset, classifier, protocol, loaded.label_table),
                    "steps": loaded.step})]
    generates_from_attributes = not getattr(loaded.model, "requires_first_frame", False)
    if first_frame and generates_from_attributes:
        rows.append((f"{name} (iv)", {**evaluate_model(loaded.model, dataset, classifier, protocol, loaded.label_table,
                                                       first_frame=True), "steps": loaded.step}))
    if reconstruction and generates_from_attributes:
        rows.append((f"{name} (reconstruction)",
                     {**reconstruction_scores(loaded.model, dataset, classifier, protocol), "steps": loaded.step}))
    return rows


def adjustment_notes(adjustments: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """One line per model whose optimiser settings changed on resume (a checkpoint's ``adjustments``),
    e.g. ``videovae: grad_clip 0.0 → 1000.0 from step 5000``."""
    return [f"{name}: " + "; ".join(f"{a['field']} {a['from']} → {a['to']} from step {a['step']}" for a in changes)
            for name, changes in adjustments.items() if changes]


def write_report(out: str | Path, table_name: str, json_name: str, rows: list[tuple[str, Mapping[str, Any]]],
                 protocol: EvalProtocol, changed_on_resume: Sequence[str] = (), **extra: Any) -> str:
    """Write the Markdown table and a JSON report (``extra``, the protocol and the rows) into ``out``,
    each atomically (a temporary file renamed over the old one); returns the table. ``changed_on_resume``
    (from :func:`adjustment_notes`) goes under the protocol line as ``Changed on resume: …``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, protocol)
    if changed_on_resume:
        table += "\nChanged on resume: " + " | ".join(changed_on_resume) + "\n"
    report = {**extra, "protocol": protocol.to_dict(), "rows": dict(rows)}
    for name, text in ((table_name, table), (json_name, json.dumps(report, indent=2))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out / name)
    return table


#: the numbers of a table row that vary between training seeds
SCORES = ("intra_entropy", "inter_entropy", "inception_score", "psnr", "ssim")


def mean_over_seeds(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One table row from the rows of one model trained with several seeds (same protocol, same
    mode): each score's mean, its sample standard deviation (n − 1) as ``<score>_std``, and
    ``seeds`` = n; the other entries (mode, number of videos) must agree and are kept."""
    if not results:
        raise ConfigError("mean_over_seeds needs the rows of at least one seed")
    row = {k: v for k, v in results[0].items() if k not in SCORES}
    for key, value in row.items():
        if any(r.get(key) != value for r in results[1:]):
            raise ConfigError(f"rows of different seeds disagree on {key!r}; they are not one model's rows")
    n = len(results)
    for key in SCORES:
        if key not in results[0]:
            continue
        values = [float(r[key]) for r in results]
        mean = sum(values) / n
        row[key] = mean
        row[f"{key}_std"] = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else 0.0
    row["seeds"] = n
    return row


def _cell(row: Mapping[str, Any], key: str, digits: int) -> str:
    if key not in row:
        return "–"
    text = f"{row[key]:.{digits}f}"
    return text + f" ± {row[key + '_std']:.{digits}f}" if f"{key}_std" in row else text


def markdown_table(rows: list[tuple[str, Mapping[str, Any]]], protocol: EvalProtocol) -> str:
    """Rows: bound and each model; columns as Tables 1 and 2 plus PSNR and SSIM. A row averaged
    over training seeds (:func:`mean_over_seeds`) shows mean ± standard deviation."""
    lines = [
        "| | mode | Intra-E ↓ (N videos) | Inter-E ↑ | I-score ↑ | PSNR ↑ | SSIM ↑ |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        name = f"{name} ({r['seeds']} seeds)" if r.get("seeds", 1) > 1 else name
        lines.append(f"| {name} | {r.get('mode', '')} | {_cell(r, 'intra_entropy', 2)} ({r['num_videos']}) | "
                     f"{_cell(r, 'inter_entropy', 3)} | {_cell(r, 'inception_score', 2)} | {_cell(r, 'psnr', 2)} | "
                     f"{_cell(r, 'ssim', 3)} |")
    lines.append("")
    lines.append("Protocol: " + json.dumps(protocol.to_dict(), sort_keys=True))
    return "\n".join(lines) + "\n"
