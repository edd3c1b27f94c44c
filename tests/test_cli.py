"""The command line: every command, and one-line errors with exit status 2 for bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_TRAIN
from videovae.cli import main

TRAIN = TINY_TRAIN


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    return out


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("videovae: error: ") and "\n" not in err, err
    return err


def test_plugins_lists_every_kind(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    for fragment in ("encoders:", "paper-conv", "presets:", "videovae ", "synthetic-chairs"):
        assert fragment in out
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["components"]["encoder"][0]["name"] == "paper-conv" and data["failures"] == []


def test_train_then_generate_files(trained, tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(out), "--num", "3",
                 "--attr", "rotation=cw", "--attr", "tilt=20deg@0,30deg@3", "--formats", "gif,png,mp4"]) == 0
    assert {p.name for p in out.iterdir()} == {"samples.gif", "samples.png", "samples.mp4", "samples.json"}
    meta = json.loads((out / "samples.json").read_text())
    assert all("rotation=cw" in v for v in meta["videos"]) and len(meta["videos"]) == 3
    assert meta["length"] == 6 and len(meta["schedules"]) == 3  # every frame's labels: a segment per change
    for video, schedule in zip(meta["videos"], meta["schedules"]):
        first, second = schedule
        assert first["from"] == 0 and second["from"] == 3 and video == ", ".join(f"{k}={v}" for k, v in first["labels"].items())
        assert (first["labels"]["tilt"], second["labels"]["tilt"]) == ("20deg", "30deg")
        assert {**first["labels"], "tilt": "30deg"} == second["labels"]  # the free chair and the fixed rotation stay
    with Image.open(out / "samples.png") as grid:
        assert grid.size == (6 * 32 + 5 * 2, 3 * 32 + 2 * 2)  # 6 frames, 3 videos


def test_generate_from_a_first_frame(trained, tmp_path):
    frame = tmp_path / "first.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(frame)
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(tmp_path / "g"),
                 "--first-frame", str(frame), "--num", "2", "--formats", "png"]) == 0


@pytest.mark.parametrize("args, fragment", [
    (["--attr", "rotaton=cw"], "unknown attribute 'rotaton'; did you mean 'rotation'?"),
    (["--attr", "rotation=sideways"], "unknown value of attribute 'rotation' 'sideways'"),
    (["--attr", "tilt=20deg@0,30deg@9"], "beyond the clip length 6"),
    (["--formats", "avi"], "--formats takes gif, png and/or mp4"),
    (["--num", "0"], "--num must be a positive integer, got 0"),
])
def test_generate_bad_input(trained, tmp_path, capsys, args, fragment):
    out = tmp_path / "g"
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(out)] + args) == 2
    assert fragment in error_line(capsys)
    assert not out.exists() or not any(out.iterdir())


def test_a_first_frame_of_another_size_or_from_a_clip_is_fitted_with_a_notice(trained, tmp_path, capsys):
    frame = tmp_path / "big.png"
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(frame)
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(tmp_path / "g"),
                 "--first-frame", str(frame), "--num", "1", "--formats", "png"]) == 0
    out = capsys.readouterr().out
    assert f"first frame: {frame}; 48x64 px, centre-cropped to 48x48 and resized to the model's 32x32\n" in out
    strip = tmp_path / "strip.png"
    Image.fromarray(np.zeros((32, 96, 3), np.uint8)).save(strip)
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(tmp_path / "s"),
                 "--first-frame", str(strip), "--num", "1", "--formats", "png"]) == 0
    assert f"first frame: frame 1 of the horizontal strip {strip} (3 frames)\n" in capsys.readouterr().out
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(tmp_path / "m"),
                 "--first-frame", str(tmp_path / "missing.png")]) == 2
    assert "missing.png does not exist; expected an image, an image strip" in error_line(capsys)
    assert not (tmp_path / "m").exists()


def test_missing_and_corrupt_checkpoints(tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "g")]) == 2
    assert "checkpoint not found" in error_line(capsys)
    (tmp_path / "bad.pt").write_text("garbage")
    assert main(["generate", "--checkpoint", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "g")]) == 2
    assert "not a readable videovae checkpoint" in error_line(capsys)


@pytest.mark.parametrize("args, fragment", [
    (["--preset", "tinny"], "unknown preset 'tinny'; did you mean 'tiny'?"),
    (["--dataset", "chairz"], "unknown dataset 'chairz'"),
    (["--set", "latent_dim=big"], "latent_dim must be a positive integer, got 'big'"),
    (["--set", "latnet_dim=4"], "ModelConfig has no field(s) latnet_dim; known fields: architecture"),
    (["--dataset-option", "num_objects=-1"], "num_objects must be a positive integer"),
])
def test_train_bad_input(tmp_path, capsys, args, fragment):
    assert main(TRAIN + ["--out", str(tmp_path / "r"), "--steps", "1"] + args) == 2
    assert fragment in error_line(capsys)
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_resume_refuses_changes_that_define_the_run(trained, capsys):
    before = (trained / "checkpoint.pt").read_bytes()
    assert main(["train", "--out", str(trained), "--resume", "--lr", "0.1", "--batch-size", "2"]) == 2
    assert ("these cannot change: batch_size (the run has batch_size=4) (only lr, grad_clip, spike_clip, precision "
            "can, and the change is recorded)") in error_line(capsys)
    assert (trained / "checkpoint.pt").read_bytes() == before


def test_the_command_that_started_a_run_resumes_it(tmp_path, capsys):
    """The same flags with --resume (and more --steps) continue the run; a flag that changes it is still refused."""
    from videovae.engine.checkpoint import read_checkpoint

    command = TRAIN + ["--out", str(tmp_path), "--steps", "1", "--seed", "3", "--set", "latent_dim=8"]
    assert main(command) == 0
    assert main(command[:-6] + ["--steps", "2", "--seed", "3", "--set", "latent_dim=8", "--resume"]) == 0
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 2
    before = (tmp_path / "checkpoint.pt").read_bytes()
    assert main(command[:-6] + ["--steps", "3", "--seed", "3", "--set", "latent_dim=4", "--resume"]) == 2
    assert "these cannot change: model (the run has model={'latent_dim': 8})" in error_line(capsys)
    assert main(command[:-6] + ["--steps", "3", "--dataset-option", "num_objects=8", "--resume"]) == 2
    assert "these cannot change: dataset_options (the run has dataset_options=" in error_line(capsys)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_resume_with_a_new_grad_clip_says_so_and_records_it(tmp_path, capsys):
    from videovae.engine.checkpoint import read_checkpoint

    out = tmp_path / "r"
    assert main(TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--steps", "3", "--grad-clip", "50", "--no-progress"]) == 0
    assert "from step 2: grad_clip 0.0 -> 50.0" in capsys.readouterr().out
    stored = read_checkpoint(out / "checkpoint.pt")
    assert stored["step"] == 3 and stored["train_config"]["grad_clip"] == 50.0
    assert stored["adjustments"] == [{"step": 2, "field": "grad_clip", "from": 0.0, "to": 50.0}]


def test_debug_shows_the_traceback(tmp_path):
    from videovae.core.errors import CheckpointError

    with pytest.raises(CheckpointError):
        main(["--debug", "generate", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path)])


def test_mp4_without_pyav_is_refused_before_anything_is_written(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("videovae.io.video.available_formats", lambda: ("gif", "png"))
    out = tmp_path / "g"
    code = main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(out), "--formats", "gif,mp4"])
    assert code == 2 and "MP4 output needs PyAV: run `pip install av`" in error_line(capsys)
    assert not out.exists()


def test_evaluate_scores_several_checkpoints_in_one_table(trained, tmp_path, capsys):
    from videovae.engine.checkpoint import read_checkpoint

    second = tmp_path / "second"
    assert main(TRAIN + ["--out", str(second), "--steps", "1"]) == 0
    first = trained / "checkpoint.pt"
    out = tmp_path / "eval"
    flags = ["--out", str(out), "--videos-per-class", "1", "--prediction-clips", "2", "--best-of", "1",
             "--classifier-steps", "2", "--classifier-dir", str(tmp_path / "classifiers")]
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(first), "--checkpoint", str(second / "checkpoint.pt"), *flags]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert list(report["rows"]) == ["Bound", str(first), str(second / "checkpoint.pt")]  # same file names: paths
    assert report["steps"] == {str(first): 2, str(second / "checkpoint.pt"): 1}
    assert len(list((tmp_path / "classifiers").iterdir())) == 1  # one classifier for both
    assert f"| {second / 'checkpoint.pt'} " in capsys.readouterr().out  # the row (marked when it collapsed)
    # a checkpoint of another data set is refused in one line, before anything is written
    payload = read_checkpoint(first)
    payload["dataset"]["name"] = "weizmann"
    from videovae.engine.archive import atomic_torch_save  # a new digest for the edited data

    atomic_torch_save(payload, tmp_path / "weizmann.pt")
    assert main(["evaluate", "--checkpoint", str(first), "--checkpoint", str(tmp_path / "weizmann.pt"),
                 "--out", str(tmp_path / "refused")]) == 2
    assert "weizmann.pt was trained on weizmann" in error_line(capsys) and not (tmp_path / "refused").exists()
    assert main(["evaluate", "--checkpoint", str(first), "--checkpoint", str(first), "--out", str(out)]) == 2
    assert "--checkpoint names the same file twice" in error_line(capsys)
