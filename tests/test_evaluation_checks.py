"""What tells a reader an evaluation failed: the classifier's accuracy on real test clips, the "Mean frame"
reference row, mode-i rows without PSNR/SSIM, collapse marks, and one cached classifier per data set."""

import json
import math

import pytest
import torch

from videovae import build_model
from videovae.core import AttributeSet, AttributeSpec, ModelConfig
from videovae.core.errors import ConfigError
from videovae.core.interfaces import Capabilities, VideoDataset, VideoModel
from videovae.engine.checkpoint import Checkpoint, LoadedCheckpoint
from videovae.engine.evaluation import (COLLAPSED, EvalOptions, EvalProtocol, JointLabels, Run, classifier_accuracy,
                                        commanded_accuracy, default_classifier_dir, entropy_scores, evaluate,
                                        evaluate_model, markdown_table, mean_frame_scores, mean_over_seeds,
                                        per_class_labels, real_test_clips, training_references)
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
    # the commanded classes: the per-class controls, two videos per joint class in order
    named = Recorder(joint)(videos).argmax(-1)
    assert row["commanded"]["joint"] == pytest.approx(float((named == torch.arange(4).repeat_interleave(2)).double().mean()))
    table = markdown_table([("m", {**row, "steps": 0}), ("m (iv)", iv)], protocol)
    assert f"| m | attributes only (i) | {row['intra_entropy']:.2f} (8) | {row['inter_entropy']:.3f} | " \
           f"{row['inception_score']:.2f} | – | – |" in table
    assert f"\nCommanded class named by the classifier (the labels each video was generated from; for " \
           f"reconstructions, the real clips'; compare its accuracy on real clips): m: joint " \
           f"{row['commanded']['joint']:.3f}, tilt {row['commanded']['tilt']:.3f}" in table


def test_commanded_accuracy_by_hand_and_averaged_over_seeds():
    joint = JointLabels(ATTRS, ("tilt", "rotation"))
    # asked for lo|ccw, lo|cw, hi|ccw, hi|cw (joint 0-3); named 0, 3, 2, 0
    probs = torch.nn.functional.one_hot(torch.tensor([0, 3, 2, 0]), 4).double()
    labels = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).unsqueeze(1).repeat(1, 3, 1)
    assert commanded_accuracy(probs, labels, joint) == {"joint": 0.5, "tilt": 0.5, "rotation": 0.75}
    rows = [{"mode": "m", "num_videos": 4, "commanded": {"joint": 0.5, "tilt": 1.0}},
            {"mode": "m", "num_videos": 4, "commanded": {"joint": 0.25, "tilt": 0.5}}]
    assert mean_over_seeds(rows)["commanded"] == {"joint": 0.375, "tilt": 0.75}


class Oracle(VideoModel):
    """A stub that 'generates' the real test clips: the clip whose first frame it is given, else the clips in order."""

    capabilities = Capabilities(first_frame=True, attributes_only=True, posterior=True)

    def __init__(self, clips, attributes):
        super().__init__()
        self.clips, self.attributes = clips, attributes
        self.config = ModelConfig(architecture="oracle")
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def losses(self, batch, context):
        raise NotImplementedError

    def generate(self, labels, first_frame=None, generator=None):
        if first_frame is None:
            return self.clips[torch.arange(len(labels)) % len(self.clips), :labels.shape[1]]
        match = [int(torch.nonzero((self.clips[:, 0] == f).flatten(1).all(1))[0]) for f in first_frame]
        return self.clips[match, :labels.shape[1]]

    def reconstruct(self, frames, labels, generator=None):
        return frames.clone()


def _loaded(model, where, step=0):
    return LoadedCheckpoint(model, Checkpoint(where=where, model_config={}, attributes=[], model_state={}, step=step))


def test_rows_of_a_model_that_outputs_one_constant_frame_are_marked_and_a_model_of_the_real_clips_is_not(tmp_path):
    dataset = SyntheticChairs(num_objects=4, size=32, length=4)
    collapsed = build_model("tiny", attributes=dataset.attributes)
    with torch.no_grad():  # the decoder's last layer outputs its bias, 0, whatever the latent: black frames
        collapsed.decoder.deconvs[-1].weight.zero_()
        collapsed.decoder.deconvs[-1].bias.zero_()
    frames, _ = real_test_clips(dataset, 4)
    runs = [Run("black", _loaded(collapsed, "black.pt", step=7)), Run("oracle", _loaded(Oracle(frames, dataset.attributes), "o.pt"))]
    options = EvalOptions(length=4, videos_per_class=1, prediction_clips=2, best_of=1, first_frame=True, reconstruction=True)
    report = evaluate(runs, out=tmp_path, options=options, dataset=dataset,
                      classifier=UniformClassifier(JointLabels(dataset.attributes, ("tilt", "rotation"))))
    written = json.loads((tmp_path / "evaluation.json").read_text())
    assert list(written["rows"]) == ["Bound", "Mean frame", "black", "black (iv)", "black (reconstruction)",
                                     "oracle", "oracle (iv)", "oracle (reconstruction)"]
    assert written["health_clips"] == 64 and "health" not in written["rows"]["Mean frame"]
    black = written["rows"]["black"]["health"]
    assert all(written["rows"][name]["health"] == black for name in ("black (iv)", "black (reconstruction)"))
    assert black["health_sample_spread"] == 0.0 and black["health_reconstruction_spread"] == 0.0
    # black frames against the real clips: the squared error of the frames themselves, worse than the mean frame's
    assert black["health_reconstruction_error"] == pytest.approx(float(frames.pow(2).flatten(2).sum(-1).mean()), rel=1e-5)
    assert "reconstructions are no better than the" in black["health_warning"]
    assert "generated clips are nearly identical" in black["health_warning"]
    oracle = written["rows"]["oracle"]["health"]
    assert "health_warning" not in oracle and oracle["health_reconstruction_error"] == 0.0
    assert oracle["health_real_spread"] > 0 and oracle["health_sample_spread"] == pytest.approx(oracle["health_real_spread"])
    assert f"| black {COLLAPSED} | attributes only (i) |" in report.table
    assert f"| black (iv) {COLLAPSED} |" in report.table and "| oracle |" in report.table
    assert "| oracle (iv) | first frame given (iv) |" in report.table
    assert f"\n{COLLAPSED}: black, black (iv), black (reconstruction): reconstructions are no better" in report.table
    assert report.table.count(COLLAPSED) == 4  # three rows and one footnote
    # the "Mean frame" row is the mean training frame scored like the (iv) rows, and the oracle beats it
    protocol = EvalProtocol.from_dict(written["protocol"])
    assert written["rows"]["Mean frame"] == mean_frame_scores(dataset, training_references(dataset)[0], protocol)
    assert written["rows"]["oracle (iv)"]["psnr"] > written["rows"]["Mean frame"]["psnr"]
    # a uniform classifier answers class 0 (the first maximum) for every clip
    _, labels = real_test_clips(dataset, 4)
    share = float((JointLabels(dataset.attributes, ("tilt", "rotation")).encode(labels[:, 0]) == 0).float().mean())
    assert written["classifier_accuracy"] == report.classifier_accuracy and report.classifier_accuracy["joint"] == share


def test_rows_averaged_over_seeds_name_the_seeds_that_collapsed():
    from videovae.engine.evaluation.flow import _seed_mean

    row = {"mode": "attributes only (i)", "num_videos": 4, "intra_entropy": 1.0, "inter_entropy": 0.5,
           "inception_score": 2.0}
    results = {"0": {**row, "health": {"health_real_spread": 0.2}},
               "1": {**row, "intra_entropy": 3.0, "health": {"health_real_spread": 0.2, "health_warning": "w1"}}}
    mean = _seed_mean(results)
    assert mean["collapsed_seeds"] == {"1": "w1"} and "health" not in mean and mean["intra_entropy"] == 2.0
    table = markdown_table([("m", mean)], EvalProtocol())
    assert f"| m (2 seeds) {COLLAPSED} |" in table and f"\n{COLLAPSED}: m (2 seeds): training seed 1: w1\n" in table
    results["1"]["health"] = {"health_real_spread": 0.2}
    assert "collapsed_seeds" not in _seed_mean(results) and COLLAPSED not in markdown_table([("m", _seed_mean(results))], EvalProtocol())


def test_the_default_classifier_folder_is_one_per_data_set_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOVAE_CACHE", str(tmp_path / "cache"))
    config = ModelConfig(frame_size=32)
    folder = default_classifier_dir("synthetic-chairs", {"size": 32}, None, config)
    assert folder.parent == tmp_path / "cache" / "classifiers" and folder.name.startswith("synthetic-chairs-")
    assert json.loads((folder / "key.json").read_text()) == {
        "dataset": "synthetic-chairs", "options": {"size": 32}, "root": None, "protocol_version": 3,
        "classifier_config": config.to_dict()}
    assert default_classifier_dir("synthetic-chairs", {"size": 32}, None, config) == folder
    others = {default_classifier_dir("moving-sprites", {"size": 32}, None, config),
              default_classifier_dir("synthetic-chairs", {"size": 32, "num_objects": 5}, None, config),
              default_classifier_dir("synthetic-chairs", {"size": 32}, str(tmp_path), config),
              default_classifier_dir("synthetic-chairs", {"size": 32}, None, config, version=4),
              default_classifier_dir("synthetic-chairs", {"size": 32}, None, config.evolve(latent_dim=8))}
    assert len(others) == 5 and folder not in others
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("VIDEOVAE_CACHE", str(tmp_path / "file"))
    with pytest.raises(ConfigError, match=r"cannot write the classifier cache .*; set VIDEOVAE_CACHE or pass --classifier-dir$"):
        default_classifier_dir("synthetic-chairs", {}, None, config)


def test_a_stored_classifier_of_another_config_is_refused_in_one_line(tmp_path):
    from videovae.engine.evaluation import load_or_train_classifier

    dataset = SyntheticChairs(num_objects=4, size=32, length=4)
    protocol = EvalProtocol(length=4, classifier_steps=1, eval_attributes=("tilt", "rotation"))
    config = build_model("tiny", attributes=dataset.attributes).config
    load_or_train_classifier(dataset, protocol, tmp_path, model_config=config, log=lambda _: None)
    assert len(list(tmp_path.glob("classifier-dataset-*.pt"))) == 1
    trained = []
    load_or_train_classifier(dataset, protocol, tmp_path, model_config=config, log=trained.append)
    assert trained == []  # same config: the stored one is reused
    with pytest.raises(ConfigError, match=r"was built with another classifier config \(latent_dim=.* instead of 8\); "
                                          "use another classifier folder$"):
        load_or_train_classifier(dataset, protocol, tmp_path, model_config=config.evolve(latent_dim=8))


def test_a_stored_classifier_is_reused_when_its_config_differs_only_in_lists_for_tuples(tmp_path):
    """A config from the presets holds tuples, one given with --set (JSON) lists: the same sizes are the same
    config, as the classifier folder's key (JSON) already says."""
    from videovae.engine.evaluation import load_or_train_classifier

    dataset = SyntheticChairs(num_objects=4, size=32, length=4)
    protocol = EvalProtocol(length=4, classifier_steps=1, eval_attributes=("tilt", "rotation"))
    config = build_model("tiny", attributes=dataset.attributes).config
    as_lists = config.evolve(encoder_options={k: list(v) if isinstance(v, tuple) else v
                                              for k, v in config.encoder_options.items()})
    assert any(isinstance(v, tuple) for v in config.encoder_options.values())
    load_or_train_classifier(dataset, protocol, tmp_path, model_config=config, log=lambda _: None)
    trained = []
    load_or_train_classifier(dataset, protocol, tmp_path, model_config=as_lists, log=trained.append)
    assert trained == []
