"""What tells a reader an evaluation failed: the classifier's accuracy on real test clips, the "Mean frame"
reference row and mode-i rows without PSNR/SSIM."""

import math

import pytest
import torch

from videovae import build_model
from videovae.core import AttributeSet, AttributeSpec
from videovae.core.interfaces import VideoDataset
from videovae.engine.evaluation import (EvalProtocol, JointLabels, classifier_accuracy,
                                        entropy_scores, evaluate_model,
                                        markdown_table, mean_frame_scores, per_class_labels, real_test_clips,
                                        training_references)
from videovae.engine.generation import generate_videos
from videovae.plugins.datasets.synthetic_chairs import SyntheticChairs

ATTRS = AttributeSet((AttributeSpec("tilt", values=("lo", "hi")), AttributeSpec("rotation", values=("ccw", "cw"))))
NAN = float("nan")
# test clips of one grey value each: (value, tilt, rotation); the last has no tilt, so no joint label
TEST_CLIPS = ((0.1, 0, 0), (0.3, 0, 1), (0.5, 1, 0), (0.7, 1, 1), (0.9, NAN, 1))


class ConstantClips(VideoDataset):
    """Clips of T = 3 frames of one grey value, 12×12 (the smallest SSIM takes); training values 0.2 and 0.6."""

    attributes = ATTRS
    frame_shape = (3, 12, 12)
    evaluation_attributes = ("tilt", "rotation")

    def __init__(self):
        clip = lambda v, t, r: (torch.full((3, 3, 12, 12), v), torch.tensor([[t, r]] * 3, dtype=torch.float32))
        self.splits = {"train": [clip(0.2, 0, 0), clip(0.6, 1, 1)], "test": [clip(*c) for c in TEST_CLIPS]}

    def split(self, name):
        return self.splits[name]


class ByValue:
    """A stand-in classifier that reads a clip's grey value and answers one class for it with certainty."""

    def __init__(self, answers):
        self.joint, self.answers = JointLabels(ATTRS, ("tilt", "rotation")), answers

    def __call__(self, videos):
        classes = [self.answers[round(float(v.mean()), 1)] for v in videos]
        return torch.nn.functional.one_hot(torch.tensor(classes), 4).double()


def test_classifier_accuracy_on_the_real_test_clips_by_hand_and_the_near_chance_line():
    protocol = EvalProtocol(length=3)
    # joint classes of the test clips: 0, 1, 2, 3, unknown; predicted 0, 1, 3, 3, 1 (= lo|cw)
    acc = classifier_accuracy(ByValue({0.1: 0, 0.3: 1, 0.5: 3, 0.7: 3, 0.9: 1}), ConstantClips(), protocol)
    assert acc["joint"] == pytest.approx(3 / 4) and acc["test_clips"] == 4 and acc["chance"] == pytest.approx(1 / 4)
    assert acc["per_attribute"]["tilt"] == {"accuracy": 1.0, "chance": 0.5, "clips": 4}  # lo lo hi hi: all right
    assert acc["per_attribute"]["rotation"] == {"accuracy": pytest.approx(4 / 5), "chance": 0.5, "clips": 5}
    assert acc["near_chance"] is False
    table = markdown_table([("Bound", {"mode": "real test videos", "num_videos": 4})], protocol, acc)
    assert ("Classifier accuracy on 4 real test clips: joint 0.750 (chance 0.250); tilt 1.000 (chance 0.500), "
            "rotation 0.800 (chance 0.500)") in table
    assert "near chance" not in table
    constant = classifier_accuracy(ByValue(dict.fromkeys((0.1, 0.3, 0.5, 0.7, 0.9), 0)), ConstantClips(), protocol)
    assert constant["joint"] == pytest.approx(1 / 4) and constant["near_chance"] is True  # 0.25 < 1.5 × 0.25
    table = markdown_table([("Bound", {"mode": "real test videos", "num_videos": 4})], protocol, constant)
    assert "\n⚠ The evaluation classifier is near chance (0.250 < 1.5 × 0.250): Intra-E, Inter-E and I-score" in table


@pytest.mark.parametrize("count", [False, True])
def test_mean_frame_row_predicts_the_mean_training_frame_by_hand(count):
    dataset = ConstantClips()
    mean, median = training_references(dataset)
    assert torch.allclose(mean, torch.full((3, 12, 12), 0.4)) and torch.allclose(median, torch.full((3, 12, 12), 0.2))
    protocol = EvalProtocol(length=3, prediction_clips=4, best_of=3, conditioning_frames_count=count)
    row = mean_frame_scores(dataset, mean, protocol)
    values = [c[0] for c in TEST_CLIPS[:4]]  # the first prediction_clips test clips
    # a constant frame m against a constant frame v: PSNR = 10 log10(1 / (m - v)²); SSIM = its luminance term
    # (2mv + C1) / (m² + v² + C1), C1 = 0.01²; the given first frame is the real one (PSNR +inf, SSIM 1)
    psnr = [10 * math.log10(1 / (0.4 - v) ** 2) for v in values]
    ssim = [(2 * 0.4 * v + 1e-4) / (0.16 + v * v + 1e-4) for v in values]
    assert row["prediction_clips"] == 4 and "num_videos" not in row and "intra_entropy" not in row
    if count:
        assert row["psnr"] == math.inf and row["ssim"] == pytest.approx(sum((1 + 2 * s) / 3 for s in ssim) / 4, abs=1e-5)
    else:
        assert row["psnr"] == pytest.approx(sum(psnr) / 4, abs=1e-4) and row["ssim"] == pytest.approx(sum(ssim) / 4, abs=1e-5)
    assert "| Mean frame | mean training frame at every predicted frame (a reference) | – | – | – |" in \
        markdown_table([("Mean frame", row)], protocol)


class UniformClassifier:
    def __init__(self, joint):
        self.joint = joint

    def __call__(self, videos):
        return torch.full((len(videos), self.joint.num_classes), 1 / self.joint.num_classes, dtype=torch.float64)


def test_mode_i_rows_carry_no_psnr_and_keep_their_entropies_mode_iv_rows_keep_both():
    dataset = SyntheticChairs(num_objects=4, size=32, length=4)
    model = build_model("tiny", attributes=dataset.attributes)
    joint = JointLabels(dataset.attributes, ("tilt", "rotation"))
    seen = []

    class Recorder(UniformClassifier):
        def __call__(self, videos):
            seen.append(videos)
            return torch.softmax(videos.flatten(1)[:, :4].double() * 10, -1)  # depends on the videos

    protocol = EvalProtocol(length=4, videos_per_class=2, prediction_clips=2, best_of=2, eval_attributes=("tilt", "rotation"))
    row = evaluate_model(model, dataset, Recorder(joint), protocol, None)
    assert row["mode"] == "attributes only (i)" and not {"psnr", "ssim", "prediction_clips"} & set(row)
    # the entropies are those of the videos generated from the per-class controls with the protocol's seed
    videos, _ = generate_videos(model, num=8, length=4, labels=per_class_labels(joint, 3, 2, 4), seed=0)
    assert torch.equal(seen[0], videos)
    assert {k: row[k] for k in ("intra_entropy", "inter_entropy", "inception_score", "num_videos")} == \
        entropy_scores(Recorder(joint)(videos))
    iv = evaluate_model(model, dataset, Recorder(joint), protocol, None, first_frame=True)
    assert iv["mode"] == "first frame given (iv)" and math.isfinite(iv["psnr"]) and -1 <= iv["ssim"] <= 1
    assert iv["prediction_clips"] == 2
    table = markdown_table([("m", {**row, "steps": 0}), ("m (iv)", iv)], protocol)
    assert f"| m | attributes only (i) | {row['intra_entropy']:.2f} (8) | {row['inter_entropy']:.3f} | " \
           f"{row['inception_score']:.2f} | – | – |" in table
