"""Model sizes for every preset: ``videovae train --size tiny|demo|paper``, ``TrainConfig.size`` and
``videovae.train(size=...)``, under the preset's fields and under explicit ``--set`` overrides."""

from __future__ import annotations

import pytest

import videovae
from videovae.cli import build_parser, main, train_config_from_args
from videovae.core.errors import ConfigError
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.train_config import TrainConfig
from videovae.engine.training import build_trainer, model_config_of
from videovae.plugins.presets import DEMO_SIZES, PAPER_SIZES, TINY_SIZES, size_fields
from videovae.registry.factory import build_from_config

CHAIRS = dict(num_objects=4, length=6, size=32)
ABLATIONS = ["minus-c-minus-s", "plus-c-minus-s", "minus-c-plus-s", "static", "deep-rotator", "videovae"]


def error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("videovae: error: ") and "\n" not in err, err
    return err


def test_the_cli_size_demo_builds_the_ablation_at_32px_with_128d_latents(tmp_path):
    args = build_parser().parse_args(["train", "--out", str(tmp_path / "run"), "--preset", "minus-c-minus-s",
                                      "--size", "demo", "--dataset-option", "num_objects=4", "--dataset-option", "length=6",
                                      "--dataset-option", "size=32", "--batch-size", "4"])
    config, adjust = train_config_from_args(args)
    assert config.size == "demo" and config.model == {} and adjust == {}
    trainer = build_trainer(config, tmp_path / "run", progress=False)
    model = trainer.model.config
    assert (model.frame_size, model.latent_dim, model.state_dim, model.hidden_dim) == (32, 128, 256, 256)
    assert (model.latent, model.sampler) == ("flat", "unconditional")  # still the −C−S composition
    assert tuple(model.encoder_options["channels"]) == (16, 32, 64, 64)
    assert trainer.dataset.frame_shape == (3, 32, 32)


@pytest.mark.parametrize("preset", ABLATIONS)
@pytest.mark.parametrize("size, fields", [("demo", DEMO_SIZES), ("tiny", TINY_SIZES), ("paper", PAPER_SIZES)])
def test_every_preset_takes_every_size_and_set_still_overrides(preset, size, fields, chair_attributes):
    config = model_config_of(TrainConfig(preset=preset, size=size))
    assert config.frame_size == fields["frame_size"] and config.latent_dim == fields["latent_dim"]
    assert config.encoder_options == dict(fields["encoder_options"])
    assert config.architecture == ("deep-rotator" if preset == "deep-rotator" else "composed")
    if size != "paper":  # the A.4 models are too large to build in every test
        model = build_from_config(config, chair_attributes)
        assert model.config.frame_shape == (3, 32, 32)
    override = model_config_of(TrainConfig(preset=preset, size=size, model={"latent_dim": 24}))
    assert override.latent_dim == 24 and override.frame_size == fields["frame_size"]


def test_size_paper_undoes_a_small_preset_and_the_fields_are_copies():
    config = model_config_of(TrainConfig(preset="demo", size="paper"))
    assert (config.frame_size, config.latent_dim, config.encoder_options) == (64, 512, {})
    size_fields("demo")["encoder_options"]["channels"] = (1,)
    assert DEMO_SIZES["encoder_options"]["channels"] == (16, 32, 64, 64)


def test_a_bad_size_is_one_line(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), "--size", "huge"]) == 2
    assert "size must be one of tiny, demo, paper (model sizes for any preset), got 'huge'" in error_line(capsys)
    assert not (tmp_path / "run").exists()
    for bad in ("huge", 32, ["demo"]):
        with pytest.raises(ConfigError, match="size must be one of tiny, demo, paper"):
            TrainConfig(size=bad)


def test_the_api_takes_a_size_and_resume_keeps_it(tmp_path, capsys):
    result = videovae.train(tmp_path, preset="static", size="tiny", steps=1, dataset_options=CHAIRS, batch_size=4,
                            checkpoint_every=0, progress=False)
    stored = read_checkpoint(result.checkpoint)
    assert stored["train_config"]["size"] == "tiny" and stored["model_config"]["latent_dim"] == 16
    assert main(["train", "--out", str(tmp_path), "--resume", "--size", "demo", "--steps", "2"]) == 2
    assert "these cannot change: size" in error_line(capsys)
    assert main(["train", "--out", str(tmp_path), "--resume", "--steps", "2", "--no-progress"]) == 0
