import math

import torch

from videovae.core import DiagonalGaussian


def gaussian(mean, logvar):
    return DiagonalGaussian(torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(logvar, dtype=torch.float64))


def test_kl_of_identical_gaussians_is_zero():
    g = gaussian([[0.3, -1.2, 2.0]], [[0.1, -0.5, 1.5]])
    assert torch.allclose(g.kl_divergence(g), torch.zeros(1, dtype=torch.float64))


def test_kl_matches_the_one_dimensional_formula():
    # KL(N(1, 4) || N(0, 1)) = 0.5 * (4 + 1 - 1 - ln 4)
    q, p = gaussian([1.0], [math.log(4.0)]), gaussian([0.0], [0.0])
    assert math.isclose(q.kl_divergence(p).item(), 0.5 * (4 + 1 - 1 - math.log(4)), rel_tol=1e-12)


def test_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    q = gaussian(torch.randn(6), torch.randn(6) * 0.5)
    p = gaussian(torch.randn(6), torch.randn(6) * 0.5)
    samples = q.rsample(noise=torch.randn(200_000, 6, dtype=torch.float64))
    monte_carlo = (q.log_prob(samples) - p.log_prob(samples)).mean()
    assert abs(monte_carlo.item() - q.kl_divergence(p).item()) < 0.03 * max(1.0, q.kl_divergence(p).item())


def test_params_round_trip_and_rsample_uses_given_noise():
    params = torch.tensor([[0.5, -0.5, 0.0, math.log(4.0)]])
    g = DiagonalGaussian.from_params(params)
    assert torch.equal(g.params(), params)
    z = g.rsample(noise=torch.tensor([[1.0, 1.0]]))
    assert torch.allclose(z, torch.tensor([[1.5, 1.5]]))  # mean + std * eps, std = 1 and 2


def test_logvar_is_clamped():
    g = DiagonalGaussian.from_params(torch.tensor([[0.0, 1e6]]))
    assert torch.isfinite(g.std).all()
