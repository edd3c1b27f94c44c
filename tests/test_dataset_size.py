"""The data set loaded at the model's frame size: its ``size`` option filled in from the model when unset
(logged, and stored with the run so that a resumed run is bit-identical), refused in one line before
anything is loaded when it differs."""

from __future__ import annotations

import logging

import pytest
import torch

from conftest import compare_baselines
from videovae.cli import main
from videovae.core.errors import ConfigError
from videovae.engine import training
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.train_config import TrainConfig
from videovae.engine.training import build_trainer, train

CHAIRS = dict(num_objects=4, length=6)  # no size: the model's frame size is filled in
TINY_RUN = dict(preset="tiny", dataset_options=CHAIRS, batch_size=4, log_every=1, checkpoint_every=0, lr=1e-3)


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("videovae: error: ") and "\n" not in err, err
    return err


def no_loading(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the data set was loaded")

    monkeypatch.setattr(training, "load_dataset", boom)


def test_an_unset_size_is_the_models_and_resume_is_bit_identical(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="videovae"):
        whole = train(TrainConfig.from_dict({**TINY_RUN, "steps": 3}), tmp_path / "whole", progress=False)
    assert "synthetic-chairs: loading frames at 32x32, the model's frame size (dataset option size=32)" in caplog.text
    stored = read_checkpoint(whole.checkpoint)
    assert stored["train_config"]["dataset_options"] == {**CHAIRS, "size": 32}
    assert stored["dataset"]["options"] == {**CHAIRS, "size": 32}  # what evaluation reloads
    train(TrainConfig.from_dict({**TINY_RUN, "steps": 2}), tmp_path / "split", progress=False)
    resumed = train(TrainConfig.from_dict({**TINY_RUN, "steps": 3}), tmp_path / "split", resume=True, progress=False)
    a, b = read_checkpoint(whole.checkpoint)["model_state"], read_checkpoint(resumed.checkpoint)["model_state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_another_size_is_refused_before_anything_is_loaded(tmp_path, monkeypatch, capsys):
    no_loading(monkeypatch)
    config = TrainConfig.from_dict({**TINY_RUN, "dataset_options": {**CHAIRS, "size": 64}, "steps": 1})
    with pytest.raises(ConfigError) as info:
        build_trainer(config, tmp_path / "run", progress=False)
    message = str(info.value)
    assert "\n" not in message and message == (
        "synthetic-chairs: dataset option size=64 does not fit the model's 32x32 frames; use --dataset-option size=32 "
        "(or leave it out), or a model of 64x64 frames (--size paper)")
    big = TrainConfig.from_dict({**TINY_RUN, "preset": "videovae", "dataset_options": {**CHAIRS, "size": 32}})
    with pytest.raises(ConfigError, match=r"size=32 does not fit the model's 64x64 frames; use --dataset-option "
                                          r"size=64 .*a model of 32x32 frames \(--size tiny or --size demo\)"):
        build_trainer(big, tmp_path / "run", progress=False)
    odd = TrainConfig.from_dict({**TINY_RUN, "dataset_options": {**CHAIRS, "size": 48}})
    with pytest.raises(ConfigError, match=r"a model of 48x48 frames \(--set frame_size=48\)"):
        build_trainer(odd, tmp_path / "run", progress=False)
    assert main(["train", "--out", str(tmp_path / "cli"), "--preset", "demo", "--dataset-option", "size=64"]) == 2
    assert "dataset option size=64 does not fit the model's 32x32 frames" in error_line(capsys)
    assert not (tmp_path / "run").exists() and not (tmp_path / "cli").exists()


def test_the_same_size_is_kept_and_the_size_follows_the_overrides(tmp_path, monkeypatch):
    given = TrainConfig.from_dict({**TINY_RUN, "dataset_options": {**CHAIRS, "size": 32}})
    assert training.sized_config(given) == given
    wider = TrainConfig.from_dict({**TINY_RUN, "size": "paper"})
    assert training.sized_config(wider).dataset_options == {**CHAIRS, "size": 64}
    assert training.sized_config(TrainConfig.from_dict({**TINY_RUN, "model": {"frame_size": 64}})).dataset_options["size"] == 64


def test_compare_baselines_reuses_a_model_whose_data_size_was_filled_in(tmp_path):
    compare = compare_baselines()
    args = compare.parse(["--quick", "--out", str(tmp_path), "--models", "static", "--dataset-option", "num_objects=4",
                          "--dataset-option", "length=6"])
    args.dataset_option = [(k, v) for k, v in args.dataset_option if k != "size"]  # --quick's size=32 left out
    first = compare.train_or_load("static", args, tmp_path, 0)
    assert first.checkpoint.train_config["dataset_options"]["size"] == 32
    again = compare.train_or_load("static", args, tmp_path, 0)  # the same settings: loaded, not refused
    assert again.step == first.step == 20
