"""Tests for videovae.plugins.metrics: the Sec. 5.2 scores (Eq. 10-12), PSNR, SSIM and best of N."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from videovae.core.errors import ConfigError
from videovae.core.interfaces import Metric
from videovae.plugins.metrics import entropy as entropy_plugin
from videovae.plugins.metrics import functional as F
from videovae.plugins.metrics import prediction as prediction_plugin
from videovae.registry import get_registry


def uniform(n, k):
    return torch.full((n, k), 1.0 / k)


def one_hot_balanced(k, per_class):
    return torch.eye(k).repeat(per_class, 1)  # N = k * per_class, every class assigned per_class times


# ---------------------------------------------------------------- classifier scores


def test_uniform_classifier():
    n, k = 6, 4
    probs = uniform(n, k)
    assert F.intra_entropy(probs) == pytest.approx(n * math.log(k))
    # argmax ties go to the lowest class index, so every video is assigned class 0: ρ(a) = δ_0
    assert F.label_marginal(probs).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert F.inter_entropy(probs) == pytest.approx(0.0, abs=1e-12)
    assert F.inter_entropy(probs, marginal="soft") == pytest.approx(math.log(k))
    assert F.inception_score(probs) == pytest.approx(1.0)


def test_one_hot_balanced_classifier():
    k = 5
    probs = one_hot_balanced(k, per_class=3)
    assert F.intra_entropy(probs) == pytest.approx(0.0, abs=1e-12)
    assert F.inter_entropy(probs) == pytest.approx(math.log(k))
    assert F.inter_entropy(probs, marginal="soft") == pytest.approx(math.log(k))
    assert F.inception_score(probs) == pytest.approx(k)


def test_two_class_mix_by_hand():
    rows = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]
    probs = torch.tensor(rows)

    def h(p):
        return -sum(x * math.log(x) for x in p if x > 0)

    intra = sum(h(r) for r in rows)
    assert F.intra_entropy(probs) == pytest.approx(intra, rel=1e-6)

    # assigned labels 0, 0, 1 → ρ(a) = (2/3, 1/3)
    assert F.inter_entropy(probs) == pytest.approx(h([2 / 3, 1 / 3]), rel=1e-6)
    soft = [(0.9 + 0.8 + 0.3) / 3, (0.1 + 0.2 + 0.7) / 3]
    assert F.inter_entropy(probs, marginal="soft") == pytest.approx(h(soft), rel=1e-6)

    kl = [sum(r[j] * math.log(r[j] / soft[j]) for j in range(2)) for r in rows]
    i_score = math.exp(sum(kl) / len(kl))
    assert F.inception_score(probs) == pytest.approx(i_score, rel=1e-6)
    # I = exp(H[ρ(y)] − S_intra / N) with the soft marginal
    assert F.inception_score(probs) == pytest.approx(math.exp(h(soft) - intra / 3), rel=1e-6)


def test_zero_probabilities_are_fine():
    probs = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    assert F.intra_entropy(probs) == pytest.approx(math.log(2))
    assert math.isfinite(F.inception_score(probs))


@pytest.mark.parametrize(
    "probs, message",
    [
        (torch.tensor([0.5, 0.5]), "shape \\[N, K\\]"),
        (torch.empty(0, 3), "shape \\[N, K\\]"),
        (torch.tensor([[1.5, -0.5]]), "non-negative"),
        (torch.tensor([[0.5, 0.4]]), "sum to 1"),
        (torch.tensor([[2.0, 3.0]]), "sum to 1"),
        (torch.tensor([[float("nan"), 1.0]]), "finite"),
    ],
)
@pytest.mark.parametrize("fn", [F.intra_entropy, F.inter_entropy, F.inception_score])
def test_bad_probabilities(fn, probs, message):
    with pytest.raises(ValueError, match=message) as info:
        fn(probs)
    assert "\n" not in str(info.value)


def test_bad_marginal():
    with pytest.raises(ValueError, match="argmax' or 'soft"):
        F.inter_entropy(uniform(2, 2), marginal="hard")


# ---------------------------------------------------------------- PSNR, SSIM, best of N


def test_psnr_of_known_mse():
    target = torch.rand(2, 3, 1, 8, 8) * 0.8
    pred = target + 0.1  # MSE = 0.01 → 10·log10(1 / 0.01) = 20 dB
    out = F.psnr(pred, target)
    assert out.shape == (2, 3)
    assert torch.allclose(out, torch.full((2, 3), 20.0, dtype=out.dtype), atol=1e-4)
    assert torch.allclose(F.psnr(pred * 255, target * 255, data_range=255.0), out, atol=1e-4)
    assert torch.isinf(F.psnr(target, target)).all()


def test_ssim_identical_is_one():
    x = torch.rand(2, 2, 3, 16, 13)
    out = F.ssim(x, x)
    assert out.shape == (2, 2)
    assert torch.allclose(out, torch.ones(2, 2, dtype=out.dtype), atol=1e-10)


def reference_ssim(x, y, data_range=1.0, size=11, sigma=1.5):
    """Direct double loop over valid window positions of one channel [H, W] (numpy, float64)."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    h, wd = x.shape
    values = []
    for i in range(h - size + 1):
        for j in range(wd - size + 1):
            px, py = x[i : i + size, j : j + size], y[i : i + size, j : j + size]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_matches_reference():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(1, 2, 3, 15, 17, generator=gen, dtype=torch.float64)
    pred = (target + 0.2 * torch.randn(target.shape, generator=gen, dtype=torch.float64)).clamp(0, 1)
    out = F.ssim(pred, target)
    for t in range(2):
        expected = np.mean([reference_ssim(pred[0, t, c].numpy(), target[0, t, c].numpy()) for c in range(3)])
        assert out[0, t].item() == pytest.approx(expected, abs=1e-10)
    assert 0.0 < out.min().item() < 1.0
    # data_range scales the constants: the same frames in [0, 255] give the same SSIM
    assert torch.allclose(F.ssim(pred * 255, target * 255, data_range=255.0), out, atol=1e-10)


def test_best_of_n_picks_best_mean():
    scores = torch.tensor(
        [
            [[1.0, 1.0, 1.0], [5.0, 0.0, 0.0]],  # sample 0: means 1.0 and 5/3
            [[3.0, 0.0, 0.0], [2.0, 2.0, 2.0]],  # sample 1: means 1.0 and 2.0
            [[0.0, 0.0, 2.0], [1.0, 1.0, 1.0]],  # sample 2: means 2/3 and 1.0
        ]
    )
    best, index = F.best_of_n(scores, return_index=True)
    # video 0 ties between samples 0 and 1 (mean 1.0): the lowest index wins
    assert index.tolist() == [0, 1]
    assert best.tolist() == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    assert torch.equal(F.best_of_n(scores[:1]), scores[0])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.psnr(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)), "\\[N, T, C, H, W\\]"),
        (lambda: F.psnr(torch.rand(1, 2, 1, 4, 4), torch.rand(1, 3, 1, 4, 4)), "same shape"),
        (lambda: F.ssim(torch.rand(1, 2, 1, 4, 4), torch.rand(1, 2, 1, 5, 4)), "same shape"),
        (lambda: F.psnr(torch.rand(1, 1, 1, 4, 4), torch.rand(1, 1, 1, 4, 4), data_range=0), "positive data_range"),
        (lambda: F.ssim(torch.rand(1, 1, 1, 10, 20), torch.rand(1, 1, 1, 10, 20)), "at least 11x11"),
        (lambda: F.psnr(torch.full((1, 1, 1, 2, 2), float("nan")), torch.rand(1, 1, 1, 2, 2)), "finite"),
        (lambda: F.best_of_n(torch.rand(3, 4)), "\\[S, N, T\\]"),
        (lambda: F.best_of_n(torch.tensor([[[float("nan")]]])), "NaN"),
    ],
)
def test_bad_video_inputs(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- plugins


def registered():
    """{name: (kind, build(**options), description)} of the metric plugins, built by the host's registry."""
    plugins = {entropy_plugin.__name__, prediction_plugin.__name__}
    return {e.name: (e.kind, functools.partial(_build, e), e.description)
            for e in get_registry().entries("metric") if e.plugin in plugins}


def _build(entry, **options):
    return entry.build(options=options)


def test_registration():
    table = registered()
    assert sorted(table) == ["inception-score", "inter-entropy", "intra-entropy", "psnr", "ssim"]
    for name, (kind, factory, description) in table.items():
        assert kind == "metric" and description
        metric = factory()
        assert isinstance(metric, Metric) and metric.name == name
    assert table["intra-entropy"][1]().higher_is_better is False
    assert table["inter-entropy"][1](marginal="soft").marginal == "soft"
    with pytest.raises(ConfigError, match="metric 'psnr': FrameMetricOptions has no field.s. window"):
        table["psnr"][1](window=7)
    with pytest.raises(ConfigError, match="marginal"):
        table["inter-entropy"][1](marginal="hard")
    with pytest.raises(ConfigError, match="batch_size"):
        table["intra-entropy"][1](batch_size=0)


def test_entropy_metrics_with_classifier():
    table = registered()
    k = 3
    videos = torch.zeros(6, 2, 1, 4, 4)
    videos[:, 0, 0, 0, 0] = torch.arange(6, dtype=torch.float32)  # video i has id i
    calls = []

    def classifier(batch):  # one-hot on class id % k: balanced
        calls.append(batch.shape[0])
        return torch.nn.functional.one_hot(batch[:, 0, 0, 0, 0].long() % k, k).float()

    context = {"classifier": classifier}
    intra = table["intra-entropy"][1](batch_size=4).compute(videos, context)
    assert calls == [4, 2]
    assert intra["intra_entropy"] == pytest.approx(0.0, abs=1e-12) and intra["num_videos"] == 6
    inter = table["inter-entropy"][1]().compute(videos, context)
    assert inter["inter_entropy"] == pytest.approx(math.log(k)) and inter["max_inter_entropy"] == pytest.approx(math.log(k))
    score = table["inception-score"][1]().compute(videos, context)
    assert score["inception_score"] == pytest.approx(k)
    # precomputed probabilities take the classifier's place
    uniform_score = table["intra-entropy"][1]().compute(None, {"probs": uniform(5, 2)})
    assert uniform_score["intra_entropy"] == pytest.approx(5 * math.log(2))
    assert uniform_score["intra_entropy_per_video"] == pytest.approx(math.log(2))


def test_entropy_metric_bad_context():
    metric = registered()["intra-entropy"][1]()
    with pytest.raises(ValueError, match="context\\['classifier'\\]"):
        metric.compute(torch.zeros(2, 1, 1, 4, 4), {})
    with pytest.raises(ValueError, match="sum to 1"):
        metric.compute(torch.zeros(2, 1, 1, 4, 4), {"classifier": lambda v: torch.zeros(v.shape[0], 3)})
    with pytest.raises(ValueError, match="rows for 2 videos"):
        metric.compute(torch.zeros(2, 1, 1, 4, 4), {"classifier": lambda v: uniform(3, 3)})


def test_prediction_metrics():
    table = registered()
    target = torch.rand(2, 4, 1, 12, 12) * 0.5
    near, far = target + 0.1, target + 0.3  # 20 dB and 10·log10(1/0.09) dB
    psnr = table["psnr"][1]()
    out = psnr.compute(near, {"targets": target})
    assert out["psnr"] == pytest.approx(20.0, abs=1e-4)
    assert out["psnr_per_frame"] == pytest.approx([20.0] * 4, abs=1e-4)
    assert out["num_videos"] == 2 and out["num_samples"] == 1
    # best of N: video 0 is best in sample 1, video 1 in sample 0
    samples = torch.stack([torch.stack([far[0], near[1]]), torch.stack([near[0], far[1]])])
    out = psnr.compute(None, {"targets": target, "samples": samples})
    assert out["psnr"] == pytest.approx(20.0, abs=1e-4) and out["num_samples"] == 2
    # skip_frames leaves out the given frames
    pred = near.clone()
    pred[:, 0] = target[:, 0]
    out = table["psnr"][1](skip_frames=1).compute(pred, {"targets": target})
    assert len(out["psnr_per_frame"]) == 3 and out["psnr"] == pytest.approx(20.0, abs=1e-4)

    ssim = table["ssim"][1]().compute(target, {"targets": target})
    assert ssim["ssim"] == pytest.approx(1.0) and ssim["ssim_per_frame"] == pytest.approx([1.0] * 4)


def test_prediction_metric_bad_context():
    metric = registered()["ssim"][1]()
    video = torch.rand(1, 2, 1, 12, 12)
    with pytest.raises(ValueError, match="context\\['targets'\\]"):
        metric.compute(video, {})
    with pytest.raises(ValueError, match="\\[S, N, T, C, H, W\\]"):
        metric.compute(None, {"targets": video, "samples": video})
    with pytest.raises(ValueError, match="videos"):
        metric.compute(None, {"targets": video})
    with pytest.raises(ValueError, match="skip_frames=2"):
        registered()["ssim"][1](skip_frames=2).compute(video, {"targets": video})
