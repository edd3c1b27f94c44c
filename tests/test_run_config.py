"""Run configs: ``videovae train --config FILE``, the run folder's ``config.toml`` and ``TrainConfig.from_toml``."""

from __future__ import annotations

import errno
import os

import pytest
import torch

import videovae
from conftest import REPO, TINY_TRAIN
from videovae.cli import build_parser, main, train_config_from_args
from videovae.core.errors import ConfigError
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.run_config import read_run_config, read_toml, resolved_sections, run_config_text
from videovae.engine.train_config import TrainConfig

#: the settings of TINY_TRAIN as a hand-written file
TINY_TOML = """preset = "tiny"
batch_size = 4
checkpoint_every = 0
steps = 2

[dataset_options]
num_objects = 4
size = 32
length = 6
"""


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("videovae: error: ") and "\n" not in err, err
    return err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run of two steps (its folder)."""
    out = tmp_path_factory.mktemp("cfg") / "a"
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    return out


def same_weights(a, b) -> bool:
    first, second = read_checkpoint(a)["model_state"], read_checkpoint(b)["model_state"]
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_config_toml_holds_every_setting_what_they_resolve_to_and_the_versions(run):
    data = read_toml(run / "config.toml")
    stored = read_checkpoint(run / "checkpoint.pt")["train_config"]
    assert {k: v for k, v in stored.items() if v is not None} == {k: data[k] for k in data if k not in ("resolved", "versions")}
    assert data["dataset_options"] == {"num_objects": 4, "size": 32, "length": 6}  # size as the run filled it in
    assert data["resolved"]["model"]["latent_dim"] == 16 and data["resolved"]["model"]["encoder_options"]["channels"] == [4, 8, 8, 16]
    assert data["resolved"]["dataset_options"] == {"num_objects": 4, "seed": 0, "size": 32, "length": 6, "starts": 1}
    assert set(data["versions"]) == {"videovae", "torch", "python"} and data["versions"]["videovae"] == videovae.__version__
    assert "Left out, being None (TOML has no null): size, data_root, inference_shift, val_every." in (run / "config.toml").read_text()


def test_a_runs_config_toml_reproduces_it_from_the_cli_and_the_api(run, tmp_path):
    assert main(["train", "--config", str(run / "config.toml"), "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert (tmp_path / "b" / "config.toml").read_bytes() == (run / "config.toml").read_bytes()
    assert read_checkpoint(tmp_path / "b" / "checkpoint.pt")["train_config"] == read_checkpoint(run / "checkpoint.pt")["train_config"]
    assert same_weights(tmp_path / "b" / "checkpoint.pt", run / "checkpoint.pt")
    result = videovae.train(tmp_path / "c", config=TrainConfig.from_toml(run / "config.toml"), progress=False)
    assert result.step == 2 and same_weights(result.checkpoint, run / "checkpoint.pt")


def test_flags_override_the_file_and_tables_merge_key_by_key(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(TINY_TOML + "\n[model]\nlatent_dim = 8\n")
    args = build_parser().parse_args(["train", "--config", str(path), "--out", "o", "--steps", "5", "--set",
                                      "state_dim=24", "--dataset-option", "num_objects=6"])
    config, adjust = train_config_from_args(args)
    assert config == TrainConfig(preset="tiny", batch_size=4, checkpoint_every=0, steps=5,
                                 model={"latent_dim": 8, "state_dim": 24},
                                 dataset_options={"num_objects": 6, "size": 32, "length": 6})
    assert adjust == {}


def test_a_config_round_trips_through_toml_nested_options_included(tmp_path):
    config = TrainConfig(preset="tiny", size="demo", model={"prior_options": {"initial_state": "zeros"}, "latent_dim": 12},
                         dataset="moving-sprites", dataset_options={"num_clips": 40, "length": 6}, val_every=5, lr=2e-3,
                         data_root=None)
    path = tmp_path / "config.toml"
    path.write_text(run_config_text(config, resolved_sections(config), {"videovae": "0"}))
    assert read_run_config(path) == config
    assert "Left out, being None (TOML has no null): data_root, spike_clip, inference_shift." in path.read_text()


@pytest.mark.parametrize("text, fragment", [
    ("stepz = 3\n", "unknown key 'stepz'; did you mean 'steps'?"),
    ('steps = "many"\n', "steps must be a positive integer, got 'many'"),
    ("steps = 2.5\n", "steps must be a positive integer, got 2.5"),
    ("steps = \n", "is not valid TOML: Invalid value (at line 1, column 9)"),
    ("seed = 1979-05-27\n", "seed = 1979-05-27 is a TOML date or time; expected a number, a string"),
    ('preset = "tinny"\n', "unknown preset 'tinny'; did you mean 'tiny'?"),
    ("model = 3\n", "model must be a mapping of names (strings) to values, got 3"),
    ("[model]\nlatnet_dim = 4\n", "[model] ModelConfig has no field(s) latnet_dim"),
    ("[dataset_options]\nnum_objects = -1\n", "[dataset_options] dataset 'synthetic-chairs': num_objects must be"),
    ("[resolved.model]\nlatent_dim = 99\n", "[resolved.model] latent_dim = 99 contradicts the settings, which resolve to 512"),
    ("[resolved.dataset_options]\nsize = 32\n", "[resolved.dataset_options] size = 32 contradicts the settings, which "
                                                 "resolve to 64"),
    ("[resolved.other]\nx = 1\n", "resolved.other is not a section of [resolved]"),
    ("versions = 1\n", "versions must be a table"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_key_and_nothing_is_written(tmp_path, capsys, text, fragment):
    path = tmp_path / "run.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["train", "--config", str(path), "--out", str(out), "--no-progress"]) == 2
    line = error_line(capsys)
    assert line.startswith(f"videovae: error: {path}") and fragment in line, line
    assert not out.exists()
    with pytest.raises(ConfigError):
        TrainConfig.from_toml(path)


def test_an_unreadable_file_is_one_line(tmp_path, capsys):
    (tmp_path / "binary.toml").write_bytes(b"steps = 1\n\xff\xfe")
    for path, fragment in [(tmp_path / "missing.toml", "does not exist; expected a TOML file"),
                           (tmp_path, "is a folder; expected a TOML file"),
                           (tmp_path / "binary.toml", "is not UTF-8 text")]:
        assert main(["train", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
        assert fragment in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_resume_with_a_config_takes_its_resumable_settings_and_refuses_other_runs(run, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    started = (out / "config.toml").read_text()
    edited = tmp_path / "edited.toml"
    edited.write_text(started.replace("steps = 2\n", "steps = 3\n").replace("\nlr = 0.001\n", "\nlr = 0.002\n"))
    assert main(["train", "--config", str(edited), "--out", str(out), "--resume", "--no-progress"]) == 0
    stored = read_checkpoint(out / "checkpoint.pt")
    assert stored["step"] == 3 and stored["adjustments"] == [{"step": 2, "field": "lr", "from": 0.001, "to": 0.002}]
    assert (out / "config.toml").read_text() == started  # it describes the start of the run; not rewritten
    before = (out / "checkpoint.pt").read_bytes()
    edited.write_text(started.replace("batch_size = 4\n", "batch_size = 2\n").replace("steps = 2\n", "steps = 4\n"))
    assert main(["train", "--config", str(edited), "--out", str(out), "--resume", "--no-progress"]) == 2
    assert "was trained with other settings (batch_size=4 instead of batch_size=2)" in error_line(capsys)
    assert (out / "checkpoint.pt").read_bytes() == before


def test_a_resumed_run_without_config_toml_gets_the_settings_it_started_with(tmp_path):
    out = tmp_path / "r"
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    started = (out / "config.toml").read_text()
    (out / "config.toml").unlink()  # a run from before config.toml
    assert main(["train", "--out", str(out), "--resume", "--steps", "3", "--lr", "0.002", "--no-progress"]) == 0
    written = (out / "config.toml").read_text()
    assert "written when it was resumed at step 2 (the folder had no config.toml)" in written
    body = written[written.index("\n\n"):]
    resumed = {"\nsteps = 2\n": "\nsteps = 3\n", "\ncheckpoint_every = 0\n": "\ncheckpoint_every = 100\n"}  # not given: the default
    expected = started[started.index("\n\n"):]
    for before, after in resumed.items():
        expected = expected.replace(before, after)
    assert body == expected  # lr as the run started: 0.001


def test_a_full_disk_writing_config_toml_is_one_line_and_no_run_starts(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("videovae.engine.training.write_run_config", full)
    out = tmp_path / "r"
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "1"]) == 2
    assert f"no space left on device writing {out / 'config.toml'}: the run did not start" in error_line(capsys)
    assert not (out / "checkpoint.pt").exists() and not (out / "run.lock").exists()


def test_the_readme_example_of_a_run_config_reads(tmp_path):
    readme = (REPO / "README.md").read_text()
    start = readme.index("```toml\npreset = ") + len("```toml\n")
    (tmp_path / "run.toml").write_text(readme[start:readme.index("```", start)])
    config = TrainConfig.from_toml(tmp_path / "run.toml")
    assert config.model == {"likelihood": "l1"} and config.dataset == "moving-sprites" and config.steps == 3000
