"""The scores of a table row (Sec. 5.2, Tables 1 and 2).

* Generated sets hold an equal number of videos per joint class; free attributes
  (e.g. the chair) are drawn from the training distribution.
* Intra-E (Eq. 11, a sum over videos: reported with the number of videos), Inter-E
  (Eq. 12) and the I-score (Eq. 10); the bound is the same numbers on real test videos.
* How often the classifier names the class each generated video was asked for (``commanded``), overall and
  per evaluated attribute: what the I-score does not ask.
* Prediction from a first frame (mode iv rows only: de-novo synthesis has no ground truth):
  PSNR and SSIM per frame against the real continuation, best of N samples (the SVG
  protocol), conditioning frame excluded.
* Reference rows: the mean training frame as every predicted frame (the PSNR/SSIM a model must
  beat), a model's posterior reconstructions of the bound's clips (what its codec keeps), and
  rows averaged over several training seeds (mean ± std).
* FVD (:mod:`.fvd`, opt-in) of every generated set against the bound's real clips; the bound's own FVD is
  the real-against-real noise floor.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from ...core.errors import ConfigError, DataError
from ...core.interfaces import VideoDataset
from ...registry import get_registry
from ..generation import generate_videos
from ..health import reference_frames
from ..modes import eval_mode
from .classifier import EvaluationClassifier, label_agreement
from .fvd import FVDScorer
from .protocol import EvalProtocol, JointLabels, balanced_test_indices, per_class_labels, real_test_clips
from .steering import steering

#: the ``mode`` of a row generated from attributes alone, and of one continuing real first frames
MODE_ATTRIBUTES = "attributes only (i)"
MODE_FIRST_FRAME = "first frame given (iv)"
#: the ``mode`` of a row of a model's posterior reconstructions of real test clips
MODE_RECONSTRUCTION = "posterior reconstruction of real test videos"


def _fvd(fvd: FVDScorer | None, videos: Tensor) -> dict[str, Any]:
    return fvd.score(videos) if fvd is not None else {}


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


def commanded_accuracy(probs: Tensor, labels: Tensor, joint: JointLabels) -> dict[str, float]:
    """How often the classifier names the class each generated video was asked for (``labels [N, T, A]``, one
    label per clip in the evaluation's sets: the first frame's is read): ``{"joint": …, <attribute>: …}`` over
    the evaluated attributes. The I-score (Eq. 10) rewards confident, varied classes without asking whether they
    are the commanded ones; this does (a model at the bound names them as often as the classifier names the real
    test clips' labels)."""
    agreement = label_agreement(probs, labels[:, 0], joint)
    return {"joint": agreement["joint"],
            **{name: score["accuracy"] for name, score in agreement["per_attribute"].items()}}


def bound(dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
          fvd: FVDScorer | None = None) -> dict[str, Any]:
    """The metrics of real test videos (the 'Bound' column of Tables 1 and 2), computed the way the
    generated sets are: ``videos_per_class`` real clips of each joint class present in the test split
    (a class with fewer clips repeats them), so Intra-E sums over as many videos as a model's row; with
    ``fvd``, its FVD is the noise floor (:meth:`FVDScorer.noise_floor`)."""
    frames, labels = real_test_clips(dataset, protocol.length)
    pick = balanced_test_indices(labels, classifier.joint, protocol)
    return {"mode": "real test videos", "real_clips": int(pick.unique().numel()), **entropy_scores(classifier(frames[pick])),
            **(fvd.noise_floor() if fvd is not None else {})}


def shuffled_frames(dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                    fvd: FVDScorer | None = None) -> dict[str, Any]:
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
    videos = pool[order]
    return {"mode": "real test frames in random order (a perfect static model)", **entropy_scores(classifier(videos)),
            **_fvd(fvd, videos)}


@torch.no_grad()
def reconstruction_scores(model, dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                          chunk: int = 64, fvd: FVDScorer | None = None) -> dict[str, Any]:
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
            model.reconstruct(frames[part].to(device), labels[part].to(device),
                              generator=generator if device.type == "cpu" else None).cpu()
            for part in pick.split(chunk)
        ])
    probs = classifier(videos)
    return {"mode": MODE_RECONSTRUCTION, **entropy_scores(probs),
            "commanded": commanded_accuracy(probs, labels[pick], classifier.joint), **_fvd(fvd, videos)}


def evaluate_model(model, dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                   label_table: Tensor | None, first_frame: bool = False, fvd: FVDScorer | None = None) -> dict[str, Any]:
    """Intra-E, Inter-E and I-score of generated videos (and FVD with ``fvd``); PSNR and SSIM of predictions in
    mode iv only.

    The generated set is de-novo synthesis from attributes (the paper's mode i), or, with
    ``first_frame`` or for a model that requires one (Deep Rotator), the continuation of
    ``videos_per_class`` real test clips per joint class from their first frame and attributes
    (mode iv, the mode of Table 2's Chair CAD rows). A mode-i row has no PSNR or SSIM: its videos
    have no real continuation to be compared with.
    """
    model.eval()
    joint = classifier.joint
    result: dict[str, Any] = {}
    frames, labels = real_test_clips(dataset, protocol.length)
    continues = first_frame or not model.capabilities.attributes_only  # continue real test frames
    if continues:
        result["mode"] = MODE_FIRST_FRAME
        pick = balanced_test_indices(labels, joint, protocol)
        first_frames = frames[pick, 0]
        videos, used = generate_videos(model, num=len(pick), length=protocol.length, labels=labels[pick],
                                       first_frames=first_frames, label_table=label_table, seed=protocol.seed)
    else:
        result["mode"] = MODE_ATTRIBUTES
        controls = per_class_labels(joint, len(dataset.attributes), protocol.videos_per_class, protocol.length)
        first_frames = None
        videos, used = generate_videos(model, num=len(controls), length=protocol.length, labels=controls,
                                       label_table=label_table, seed=protocol.seed)
    probs = classifier(videos)
    result.update(entropy_scores(probs))
    result["commanded"] = commanded_accuracy(probs, used, joint)
    steered = steering(model, used, first_frames, seed=protocol.seed)
    if steered:
        result["steering"] = steered
    result.update(_fvd(fvd, videos))
    if continues:
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
    return {**frame_scores(frames, samples, protocol), "prediction_clips": count}


def frame_scores(targets: Tensor, samples: Tensor, protocol: EvalProtocol) -> dict[str, float]:
    """PSNR and SSIM of ``samples [S, N, T, C, H, W]`` against ``targets [N, T, C, H, W]``, best of the S
    per clip, the conditioning frame left out unless the protocol counts it."""
    skip = 0 if protocol.conditioning_frames_count else 1
    context = {"targets": targets, "samples": samples}
    psnr = get_registry().build("metric", "psnr", options={"skip_frames": skip}).compute(None, context)
    ssim = get_registry().build("metric", "ssim", options={"skip_frames": skip}).compute(None, context)
    return {"psnr": psnr["psnr"], "ssim": ssim["ssim"]}


def training_references(dataset: VideoDataset) -> tuple[Tensor, Tensor]:
    """The per-pixel mean and median training frame ``[C, H, W]`` (:func:`reference_frames` over the training
    split, up to 256 clips evenly spread): the "Mean frame" row's prediction and the collapse checks'
    references."""
    train = dataset.split("train")
    if len(train) == 0:
        raise DataError("the data set's training split is empty; the mean and median training frame need clips")
    return reference_frames(train, range(len(train)))


def mean_frame_scores(dataset: VideoDataset, mean_frame: Tensor, protocol: EvalProtocol) -> dict[str, Any]:
    """The "Mean frame" reference row: PSNR and SSIM, by :func:`prediction_scores`'s protocol (the same real
    test clips, best of N), of predictions that are ``mean_frame [C, H, W]`` (the per-pixel mean training
    frame) at every frame after the given first one, which is the real first frame. It knows nothing of
    the clip beyond what the conditioning frame gives, so a model that does not beat it has learnt nothing
    of the continuation (on sparse data, small objects on black, it scores high: issue 21)."""
    frames, _ = real_test_clips(dataset, protocol.length)
    count = min(protocol.prediction_clips, len(frames))
    targets = frames[:count]
    if tuple(mean_frame.shape) != tuple(targets.shape[2:]):
        raise DataError(f"the mean frame has shape {tuple(mean_frame.shape)}, the test frames {tuple(targets.shape[2:])}")
    predicted = mean_frame.to(targets.dtype).expand_as(targets).clone()
    predicted[:, 0] = targets[:, 0]
    samples = predicted.unsqueeze(0).expand(protocol.best_of, *predicted.shape)  # N identical samples: best of N
    return {"mode": "mean training frame at every predicted frame (a reference)",
            **frame_scores(targets, samples, protocol), "prediction_clips": count}


def score_model(name: str, loaded, dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol,
                first_frame: bool = False, reconstruction: bool = False,
                fvd: FVDScorer | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The table rows of one loaded checkpoint: its own mode (PSNR and SSIM in mode iv only), plus
    ``"<name> (iv)"`` (continuing real first frames) when ``first_frame`` is asked for a model that also
    generates from attributes, and ``"<name> (reconstruction)"`` (:func:`reconstruction_scores`) when
    ``reconstruction`` is asked for a model with a posterior (``capabilities.posterior``); each with FVD when
    ``fvd`` is given."""
    rows = [(name, {**evaluate_model(loaded.model, dataset, classifier, protocol, loaded.label_table, fvd=fvd),
                    "steps": loaded.step})]
    generates_from_attributes = loaded.model.capabilities.attributes_only
    if first_frame and generates_from_attributes:
        rows.append((f"{name} (iv)", {**evaluate_model(loaded.model, dataset, classifier, protocol, loaded.label_table,
                                                       first_frame=True, fvd=fvd), "steps": loaded.step}))
    if reconstruction and loaded.model.capabilities.posterior:
        rows.append((f"{name} (reconstruction)",
                     {**reconstruction_scores(loaded.model, dataset, classifier, protocol, fvd=fvd),
                      "steps": loaded.step}))
    return rows


#: the numbers of a table row that vary between training seeds
SCORES = ("intra_entropy", "inter_entropy", "inception_score", "psnr", "ssim", "fvd")
#: the per-attribute numbers of a row (name → value), averaged per name over seeds
PER_ATTRIBUTE = ("steering", "commanded")


def mean_over_seeds(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One table row from the rows of one model trained with several seeds (same protocol, same
    mode): each score's mean, its sample standard deviation (n − 1) as ``<score>_std``, and
    ``seeds`` = n; the other entries (mode, number of videos) must agree and are kept."""
    if not results:
        raise ConfigError("mean_over_seeds needs the rows of at least one seed")
    row = {k: v for k, v in results[0].items() if k not in SCORES and k not in PER_ATTRIBUTE}
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
    for key in PER_ATTRIBUTE:
        found = [r[key] for r in results if key in r]
        if found:  # each attribute's mean over the seeds that have it
            names = dict.fromkeys(name for values in found for name in values)
            row[key] = {name: sum(v[name] for v in found if name in v) / sum(name in v for v in found)
                        for name in names}
    row["seeds"] = n
    return row

