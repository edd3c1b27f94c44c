"""The relative gradient clip (``spike_clip``): ordinary steps untouched, a spike cut to k × the recent median,
its window carried through a checkpoint, old checkpoints resumed without it."""

import copy

import pytest
import torch
from torch import nn

from videovae.engine.optimization import SPIKE_MIN_STEPS, Optimizers
from videovae.engine.resume import resume_config
from videovae.engine.train_config import TrainConfig


class Line(nn.Module):
    """A one-weight model whose loss w·g has the gradient g: the test chooses every gradient norm."""

    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"architecture": "line"})()
        self.w = nn.Parameter(torch.zeros(1))

    def configure_optimizers(self, lr):
        return {"model": torch.optim.SGD(self.parameters(), lr=lr)}


def run(gradients, spike_clip):
    """The weight after one SGD step (lr 1) per gradient, and the optimizers."""
    model = Line()
    optimizers = Optimizers(model, lr=1.0, spike_clip=spike_clip)
    for g in gradients:
        optimizers.optimize("model", (model.w * g).sum())
    return model.w.detach().clone(), optimizers


ORDINARY = [1.0 + 0.01 * i for i in range(SPIKE_MIN_STEPS)]  # median 1.095


def test_ordinary_steps_are_bit_identical_with_and_without_the_clip():
    steps = ORDINARY + [1.5, 0.7, 2.0]
    clipped, optimizers = run(steps, spike_clip=10.0)
    plain, _ = run(steps, spike_clip=0.0)
    assert torch.equal(clipped, plain)
    assert optimizers.take_spikes() == 0


def test_a_spike_is_cut_to_k_times_the_median_of_the_recent_norms():
    before, _ = run(ORDINARY, spike_clip=10.0)
    after, optimizers = run(ORDINARY + [1000.0], spike_clip=10.0)
    median = sorted(ORDINARY)[SPIKE_MIN_STEPS // 2 - 1:SPIKE_MIN_STEPS // 2 + 1]
    limit = 10.0 * sum(median) / 2  # an even count: the mean of the two middle norms
    assert float(before - after) == pytest.approx(limit, rel=1e-5)
    assert optimizers.take_spikes() == 1 and optimizers.take_spikes() == 0
    assert optimizers.take_norms()["model"] == pytest.approx(1000.0)  # the history shows the norm before clipping


def test_the_clip_waits_for_enough_steps_and_the_absolute_clip_still_applies():
    early, _ = run([1.0, 1000.0], spike_clip=10.0)
    assert float(early) == pytest.approx(-1001.0)  # too few steps for a median: not clipped
    model = Line()
    both = Optimizers(model, lr=1.0, grad_clip=5.0, spike_clip=10.0)
    for g in ORDINARY + [1000.0]:
        both.optimize("model", (model.w * g).sum())
    # the ordinary steps are under both limits; the spike is cut to the smaller one, grad_clip 5
    assert float(model.w.detach()[0]) == pytest.approx(-(sum(ORDINARY) + 5.0), rel=1e-5)


def test_the_recent_norms_travel_with_the_optimizer_state():
    _, optimizers = run(ORDINARY, spike_clip=10.0)
    state = copy.deepcopy(optimizers.state_dict())
    fresh = Optimizers(Line(), lr=1.0, spike_clip=10.0)
    assert fresh.clip_threshold("model")[1] == float("inf")
    fresh.load_state_dict(state)
    assert fresh.clip_threshold("model") == optimizers.clip_threshold("model")
    old = {"model": {k: v for k, v in state["model"].items() if k != "recent_grad_norms"}}
    fresh.load_state_dict(old)  # a checkpoint from before the clip: an empty window
    assert fresh.clip_threshold("model")[1] == float("inf")


def test_stored_configs_from_before_the_clip_resume_without_it():
    stored = TrainConfig().to_dict()
    del stored["spike_clip"]
    assert TrainConfig.from_stored(stored).spike_clip == 0.0
    assert TrainConfig().spike_clip is None  # decided when the run starts: the model's default_spike_clip
    with pytest.raises(Exception, match="spike_clip"):
        TrainConfig(spike_clip=-1)


def test_a_run_stored_without_the_clip_is_reused_and_resumed_without_it():
    """The default (None: the model's own) is no request to change a run that trained with another value: it is
    loaded as it is (examples/compare_baselines.py) and resumed with its own clip, no adjustment recorded."""
    stored = TrainConfig.from_dict({"spike_clip": 0.0, "lr": 1e-3, "steps": 100})
    requested = TrainConfig(steps=200)
    config, rows = resume_config(stored, requested, {"spike_clip": None, "lr": None}, step=100, where="run")
    assert (config.spike_clip, config.lr, config.steps, rows) == (0.0, 1e-3, 200, [])
    config, rows = resume_config(stored, requested, {"spike_clip": 10.0}, step=100, where="run")
    assert config.spike_clip == 10.0 and rows == [{"step": 100, "field": "spike_clip", "from": 0.0, "to": 10.0}]
