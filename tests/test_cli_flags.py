"""``videovae train``'s flags are made from TrainConfig's fields; every ``--help`` is plain text."""

from __future__ import annotations

import attrs
import pytest

from videovae.cli import main, train_config_from_args
from videovae.cli_parser import build_parser, flag_of
from videovae.core.errors import ConfigError
from videovae.engine.train_config import TrainConfig

#: a value other than the default for every field (a new field must be added here: see the first test)
SAMPLE = {
    "preset": "tiny", "model": {"latent_dim": 24, "sampler": "unconditional"}, "size": "demo", "dataset": "moving-sprites",
    "dataset_options": {"num_objects": 5, "length": 6}, "data_root": "some/folder", "steps": 7, "batch_size": 3,
    "lr": 0.002, "lr_schedule": "cosine", "kl_weight": 0.5, "kl_warmup": 9, "grad_clip": 10.0, "spike_clip": 4.0, "seed": 11, "device": "cpu",
    "precision": "bf16",
    "log_every": 2, "sample_every": 5, "checkpoint_every": 6, "time_limit": 30.0, "num_samples": 2, "threads": 1,
    "labelled_fraction": 0.25, "inference_steps": 12, "inference_lr": 0.01, "inference_pretrain_steps": 13,
    "inference_self_training_steps": 14, "inference_relabel_every": 2, "inference_shift": 3, "workers": 1, "val_every": 0, "val_clips": 15,
}


def train_actions():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {action.dest: action for action in sub.choices["train"]._actions}


def argv_of(values: dict) -> list[str]:
    fields = attrs.fields_dict(TrainConfig)
    argv = []
    for name, value in values.items():
        items = [f"{key}={item}" for key, item in value.items()] if isinstance(value, dict) else [str(value)]
        for item in items:
            argv += [flag_of(fields[name]), item]
    return argv


def test_every_field_has_a_flag_with_help_and_a_default_of_none():
    actions = train_actions()
    assert set(SAMPLE) == set(attrs.fields_dict(TrainConfig))
    for field in attrs.fields(TrainConfig):
        action = actions[field.name]
        assert action.option_strings == [flag_of(field)] and action.help.strip(), field.name
        assert action.default is None, field.name  # so that a flag is in the given dict exactly when it was given
    assert flag_of(attrs.fields_dict(TrainConfig)["model"]) == "--set"
    assert flag_of(attrs.fields_dict(TrainConfig)["dataset_options"]) == "--dataset-option"
    assert flag_of(attrs.fields_dict(TrainConfig)["batch_size"]) == "--batch-size"


def test_every_flag_sets_its_field_and_nothing_else_is_given():
    args = build_parser().parse_args(["train", "--out", "o", *argv_of(SAMPLE)])
    config, adjust = train_config_from_args(args)
    assert config == TrainConfig(**SAMPLE) and adjust == {}
    args = build_parser().parse_args(["train", "--out", "o", "--steps", "5", "--set", "latent_dim=8"])
    config, _ = train_config_from_args(args)
    assert config == TrainConfig(steps=5, model={"latent_dim": 8})


def test_resume_takes_only_resumable_and_adjustable_flags():
    args = build_parser().parse_args(["train", "--out", "o", "--resume", "--steps", "9", "--lr", "0.01",
                                      "--spike-clip", "3"])
    config, adjust = train_config_from_args(args)
    assert adjust == {"lr": 0.01, "spike_clip": 3.0} and config.steps == 9
    args = build_parser().parse_args(["train", "--out", "o", "--resume", "--seed", "1", "--set", "latent_dim=8"])
    with pytest.raises(ConfigError, match=r"these cannot change: model, seed \(only lr, grad_clip, spike_clip, precision can"):
        train_config_from_args(args)


def test_help_shows_each_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for fragment in ("--steps N training steps (default: 3000)", "--lr X learning rate of Adam (default: the model's own, 0.001 for VideoVAE",
                     "--set FIELD=VALUE override a model field", "--data-root FOLDER",
                     "(default: 10 x --log-every; 0: never)", "--resume continue the run in --out from its "
                     "checkpoint; --lr, --grad-clip, --spike-clip and --precision may change", "--precision fp32|bf16 bf16 runs the forward passes under bf16 autocast"):
        assert fragment in text, fragment
    assert "(default: None)" not in text and "(default: {})" not in text


@pytest.mark.parametrize("command", [[], ["plugins"], ["train"], ["generate"], ["infer-attributes"], ["evaluate"],
                                     ["fvd-weights"], ["demo"]])
def test_every_help_is_plain_text(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: videovae") and "``" not in text and ":class:" not in text and ":func:" not in text
    description = text.split("\n\n")[1]  # under the usage: what the command does, in words
    assert not description.startswith(("options:", "positional")) and description.rstrip().endswith("."), text[:400]
