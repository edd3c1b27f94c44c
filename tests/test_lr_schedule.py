"""The learning-rate schedule (``--lr-schedule``): constant leaves the rate alone; cosine follows the half cosine
written out by hand, is what the optimizer steps with, is logged, and a resumed run is bit-identical."""

import math

import pytest
import torch

from conftest import train_run
from videovae.core.errors import ConfigError
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.train_config import LR_FLOOR, TrainConfig

RUN = dict(size="tiny", batch_size=2, log_every=1, dataset_options=dict(num_objects=4, size=32, length=4),
           checkpoint_every=2, num_samples=2, threads=1, val_every=0)


def test_cosine_is_the_half_cosine_from_lr_to_the_floor():
    cfg = TrainConfig(lr=0.01, steps=100, lr_schedule="cosine")
    assert cfg.lr_at(0) == pytest.approx(0.01)
    assert cfg.lr_at(50) == pytest.approx(0.01 * (LR_FLOOR + (1 - LR_FLOOR) / 2))
    assert cfg.lr_at(25) == pytest.approx(0.01 * (LR_FLOOR + (1 - LR_FLOOR) * (1 + math.cos(math.pi / 4)) / 2))
    assert cfg.lr_at(100) == pytest.approx(0.01 * LR_FLOOR)
    assert cfg.lr_at(150) == pytest.approx(0.01 * LR_FLOOR)  # past the end: stays at the floor
    rates = [cfg.lr_at(step) for step in range(101)]
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert TrainConfig(lr=0.01, steps=100).lr_at(77) == 0.01


def test_an_unknown_schedule_or_an_unresolved_rate_is_one_line():
    with pytest.raises(ConfigError, match="lr_schedule must be one of constant, cosine, got 'linear'$"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(ConfigError, match="lr is decided when the run starts"):
        TrainConfig(lr_schedule="cosine").lr_at(3)


def train(out, steps, resume=False, **fields):
    train_run(RUN, out, steps, resume, **fields)
    return read_checkpoint(out / "checkpoint.pt")


def test_the_optimizer_steps_with_the_scheduled_rate_and_the_history_logs_it(tmp_path):
    stored = train(tmp_path / "run", 4, lr_schedule="cosine", lr=0.002)
    cfg = TrainConfig(lr=0.002, steps=4, lr_schedule="cosine")
    rows = [row for row in stored["history"] if "loss" in row]
    assert [row["lr"] for row in rows] == pytest.approx([cfg.lr_at(step) for step in range(4)])
    for state in stored["optimizer_state"].values():
        assert all(group["lr"] == pytest.approx(cfg.lr_at(3)) for group in state["param_groups"])
    constant = train(tmp_path / "constant", 2, lr=0.002)
    assert all("lr" not in row for row in constant["history"])


def test_a_resumed_cosine_run_is_bit_identical_to_a_straight_one(tmp_path):
    straight = train(tmp_path / "straight", 4, lr_schedule="cosine")
    stopped = train(tmp_path / "resumed", 4, lr_schedule="cosine", time_limit=1e-9)  # stops after its first step
    assert stopped["step"] == 1
    resumed = train(tmp_path / "resumed", 4, resume=True, lr_schedule="cosine")
    assert straight["train_config"]["lr_schedule"] == "cosine"
    for name, weight in straight["model_state"].items():
        assert torch.equal(weight, resumed["model_state"][name]), name
