"""The output likelihoods of Eq. 9's reconstruction term: values by hand, the fitted scale, registry,
and checkpoints that predate the part."""

from __future__ import annotations

import math

import pytest
import torch

from videovae import build_model
from videovae.core import ConfigError
from videovae.engine.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, atomic_torch_save
from videovae.plugins.likelihoods.gaussian import GaussianLikelihood
from videovae.plugins.likelihoods.l1 import L1Likelihood


def pair(batch=2, length=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, length, 3, 4, 4, generator=g), torch.rand(batch, length, 3, 4, 4, generator=g)


def test_l1_is_the_sum_of_absolute_errors_per_frame():
    mean, frames = pair()
    nll = L1Likelihood().nll(mean, frames)
    assert nll.shape == (2, 3)
    assert nll[1, 2].item() == pytest.approx(sum(abs(a - b) for a, b in zip(mean[1, 2].flatten().tolist(),
                                                                              frames[1, 2].flatten().tolist())), rel=1e-5)


def test_gaussian_with_the_batch_scale_by_hand():
    mean, frames = pair()
    errors = [(a - b) ** 2 for a, b in zip(mean.flatten().tolist(), frames.flatten().tolist())]
    variance = sum(errors) / len(errors)
    frame = errors[:48]  # the first frame's 3x4x4 values
    expected = sum(frame) / (2 * variance) + 48 * 0.5 * math.log(2 * math.pi * variance)
    assert GaussianLikelihood().nll(mean, frames)[0, 0].item() == pytest.approx(expected, rel=1e-5)
    # with the fitted σ the squared-error part is D/2 per frame on average
    nll = GaussianLikelihood().nll(mean, frames).mean().item()
    assert nll == pytest.approx(48 * 0.5 * (1 + math.log(2 * math.pi * variance)), rel=1e-5)


def test_gaussian_with_a_fixed_scale_and_the_floor():
    mean, frames = pair()
    fixed = GaussianLikelihood(scale=0.5).nll(mean, frames)
    by_hand = (mean - frames).pow(2).flatten(2).sum(-1) / (2 * 0.25) + 48 * 0.5 * math.log(2 * math.pi * 0.25)
    torch.testing.assert_close(fixed, by_hand)
    exact = GaussianLikelihood(min_scale=0.01).nll(frames, frames)  # a perfect reconstruction stays finite
    assert torch.isfinite(exact).all()
    assert exact[0, 0].item() == pytest.approx(48 * 0.5 * math.log(2 * math.pi * 1e-4), rel=1e-5)


def test_gaussian_gradient_with_the_scale_held_equals_the_one_through_it():
    """At the fitted σ the gradient with respect to µ is the same whether σ² is differentiated or not."""
    mean, frames = pair(seed=3)
    held = mean.clone().requires_grad_(True)
    GaussianLikelihood().nll(held, frames).mean().backward()
    through = mean.clone().requires_grad_(True)
    variance = (through - frames).pow(2).mean()
    nll = (through - frames).pow(2).flatten(2).sum(-1) / (2 * variance) + 24 * torch.log(2 * math.pi * variance)
    nll.mean().backward()
    torch.testing.assert_close(held.grad, through.grad)


def test_likelihood_by_name_and_bad_options(chair_attributes):
    assert isinstance(build_model("tiny", attributes=chair_attributes).likelihood, GaussianLikelihood)
    assert isinstance(build_model("tiny", attributes=chair_attributes, likelihood="l1").likelihood, L1Likelihood)
    model = build_model("tiny", attributes=chair_attributes, likelihood_options={"scale": 0.1})
    assert model.likelihood.options.scale == 0.1
    with pytest.raises(ConfigError) as caught:
        build_model("tiny", attributes=chair_attributes, likelihood_options={"scale": -1})
    assert "\n" not in str(caught.value) and "scale" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        build_model("tiny", attributes=chair_attributes, likelihood="l1", likelihood_options={"scale": 1})
    assert "l1" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(Exception) as caught:
        build_model("tiny", attributes=chair_attributes, likelihood="laplace2")
    assert "laplace2" in str(caught.value) and "\n" not in str(caught.value)


def test_a_checkpoint_that_predates_the_likelihood_loads_with_l1(tmp_path, chair_attributes):
    model = build_model("tiny", attributes=chair_attributes, likelihood="l1")
    path = save_checkpoint(tmp_path / "old.pt", model)
    payload = read_checkpoint(path)
    del payload["model_config"]["likelihood"], payload["model_config"]["likelihood_options"]
    atomic_torch_save(payload, path)
    loaded = load_checkpoint(path).model
    assert isinstance(loaded.likelihood, L1Likelihood) and loaded.config.likelihood == "l1"
    assert load_checkpoint(save_checkpoint(tmp_path / "new.pt", build_model("tiny", attributes=chair_attributes))).model.config.likelihood == "gaussian"
