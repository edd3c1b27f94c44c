"""FVD: the Fréchet distance of known Gaussians, FVD(x, x) = 0, the preprocessing, and the metric plugin."""

from __future__ import annotations

import math

import pytest
import torch

from videovae.core.errors import ConfigError
from videovae.registry import get_registry
from videovae.plugins.metrics import fvd


class StubI3D(torch.nn.Module):
    """Stands in for the I3D: features from each clip's mean over frames and space, per channel and time."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(3 * 16, 8, generator=torch.Generator().manual_seed(0)))

    def forward(self, clips):
        x = torch.nn.functional.adaptive_avg_pool3d(clips, (16, 1, 1)).flatten(1)  # [N, 48]
        return x @ self.weight, x


def test_frechet_distance_of_known_gaussians():
    # diagonal: |Δμ|² = 5, tr Σ1 + tr Σ2 = 18, tr (Σ1 Σ2)^½ = 2 + 6 = 8 → 5 + 18 − 16 = 7
    d = fvd.frechet_distance(torch.tensor([0.0, 0.0]), torch.diag(torch.tensor([1.0, 4.0])),
                             torch.tensor([1.0, 2.0]), torch.diag(torch.tensor([4.0, 9.0])))
    assert d == pytest.approx(7.0, abs=1e-9)
    # not diagonal: Σ1 = I, Σ2 = [[2, 1], [1, 2]] (eigenvalues 3, 1) → 2 + 4 − 2 (√3 + 1) = 4 − 2√3
    d = fvd.frechet_distance(torch.zeros(2), torch.eye(2), torch.zeros(2), torch.tensor([[2.0, 1.0], [1.0, 2.0]]))
    assert d == pytest.approx(4 - 2 * math.sqrt(3), abs=1e-9)
    # symmetric in its arguments, and finite for singular covariances (fewer samples than dimensions)
    a, b = torch.randn(5, 20, dtype=torch.float64), torch.randn(6, 20, dtype=torch.float64) + 1
    ab, ba = fvd.frechet_distance(*fvd.gaussian(a), *fvd.gaussian(b)), fvd.frechet_distance(*fvd.gaussian(b), *fvd.gaussian(a))
    assert math.isfinite(ab) and ab == pytest.approx(ba, rel=1e-6)


def test_fvd_of_a_set_with_itself_is_zero():
    videos = torch.rand(6, 10, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    metric = get_registry().build("metric", "fvd", options={"batch_size": 4})
    context = {"i3d": StubI3D(), "real": videos}
    assert metric.compute(videos, context)["fvd"] == pytest.approx(0.0, abs=1e-8)
    other = metric.compute(videos.flip(-1) * 0.5, context)
    assert other["fvd"] > 1e-3 and other["fvd_clips"] == 6 and other["fvd_real_clips"] == 6


def test_preprocessing_resizes_scales_and_stretches_short_clips():
    videos = torch.arange(4, dtype=torch.float32).div(3).view(1, 4, 1, 1, 1).expand(2, 4, 1, 8, 8)
    x = fvd.preprocess(videos, frames=16)
    assert x.shape == (2, 3, 16, 224, 224)
    assert x.min() == -1 and x.max() == 1
    # each of the 4 frames repeated 4 times, in order
    expected = torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0]).repeat_interleave(4)
    torch.testing.assert_close(x[0, 0, :, 0, 0], expected)
    long = fvd.preprocess(torch.rand(1, 20, 3, 16, 16), frames=16)
    assert long.shape[2] == 20  # a clip of 16 frames or more is used whole
    with pytest.raises(ConfigError, match="at least 9"):
        fvd.FVDOptions(frames=8)


def test_the_real_i3d_gives_fvd_zero_for_the_same_clips():
    from test_i3d import real_checkpoint

    net = fvd.shared_i3d(str(real_checkpoint()))
    videos = torch.rand(2, 6, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    metric = fvd.FVD(fvd.FVDOptions(frames=9))
    result = metric.compute(videos, {"i3d": net, "real": videos})
    assert result["fvd"] == pytest.approx(0.0, abs=1e-4)
