"""Mode-i rows (generated from attributes alone) carry no PSNR/SSIM: there is no real continuation."""

import math

import pytest
import torch

from videovae import build_model
from videovae.engine.evaluation import (EvalProtocol, JointLabels, entropy_scores, evaluate_model,
                                        markdown_table, per_class_labels)
from videovae.engine.generation import generate_videos
from videovae.plugins.datasets.synthetic_chairs import SyntheticChairs


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
