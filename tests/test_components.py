"""Shapes of every built-in part, at the paper's sizes (A.4) and at test size."""

import pytest
import torch

from videovae import build_model
from videovae.core import AttributeSet, AttributeSpec, InputShapeError
from videovae.core.errors import ConfigError
from videovae.plugins.codecs.paper_conv import ConvCodecOptions

ATTRS = AttributeSet((AttributeSpec("chair", values=("a", "b", "c")), AttributeSpec("rotation", values=("ccw", "cw"))))


def test_paper_encoder_leaves_a_1280_map_for_64px_frames():
    assert ConvCodecOptions().spatial_sizes(64) == [64, 56, 17, 13, 4]
    model = build_model("videovae", attributes=ATTRS).eval()
    enc = model.encoder
    assert [m.kernel_size[0] for m in enc.convs if isinstance(m, torch.nn.Conv2d)] == [9, 7, 5, 3]
    assert [m.out_channels for m in enc.convs if isinstance(m, torch.nn.Conv2d)] == [10, 20, 40, 80]
    linears = [m for m in enc.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1280, 1024), (1024, 512)]
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in enc.head)
    x = torch.rand(3, 3, 64, 64)
    assert enc(x).shape == (3, 512)
    z = torch.randn(3, 512)
    out = model.decoder(z)
    assert out.shape == (3, 3, 64, 64) and torch.isfinite(out).all()  # linear mean, clamped only when generating
    assert model.temporal.cell.hidden_size == 512
    assert model.temporal.cell.input_size == 3 * 512  # [psi_q, z] of Eq. 8


@pytest.mark.parametrize("preset", ["tiny", "videovae"])
def test_latent_prior_and_sampler_shapes(preset):
    model = build_model(preset, attributes=ATTRS)
    d, s = model.config.latent_dim, model.config.state_dim
    feats = torch.randn(5, model.encoder.feature_dim)
    psi_q = model.latent.residual(feats)
    assert psi_q.mean.shape == psi_q.logvar.shape == (5, d)
    codes = ATTRS.encode(torch.tensor([[0.0, 1.0]] * 5))
    psi_a = model.latent.conditional(psi_q, codes)
    state = model.temporal.initial_state(5)
    h = model.temporal.hidden(state)
    assert h.shape == (5, s)
    assert model.latent.dynamic(psi_a, h).mean.shape == (5, d)
    assert model.temporal.prior(h, codes).mean.shape == (5, d)
    v = model.sampler.lstm_input(psi_q, torch.randn(5, d))
    assert v.shape == (5, 3 * d)
    assert model.temporal.hidden(model.temporal.step(v, state)).shape == (5, s)


def test_each_phi_tau_has_its_own_weights():
    model = build_model("tiny", attributes=ATTRS)
    nets = [model.latent.to_q, model.latent.to_a, model.latent.from_hidden, model.latent.to_dy,
            model.temporal.from_hidden, model.temporal.head]
    assert len({id(p) for net in nets for p in net.parameters()}) == 2 * 2 * len(nets)


def test_unstructured_variants_ignore_attributes():
    model = build_model("tiny", latent="flat", sampler="unconditional", attributes=ATTRS)
    assert model.temporal.head.net[0].in_features == 2 * model.config.latent_dim
    assert model.temporal.cell.input_size == 2 * model.config.latent_dim
    static = build_model("tiny", latent="flat", prior="standard-normal", sampler="unconditional", attributes=ATTRS)
    p = static.temporal.prior(static.temporal.hidden(static.temporal.initial_state(2)), torch.zeros(2, 0))
    assert torch.equal(p.mean, torch.zeros(2, 16)) and torch.equal(p.logvar, torch.zeros(2, 16))


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (2, 1, 32, 32), (3, 32, 32), (2, 3, 32, 31)])
def test_encoder_rejects_frames_of_the_wrong_shape(shape):
    model = build_model("tiny")
    with pytest.raises(InputShapeError, match=r"expects frames of shape \[N, 3, 32, 32\]"):
        model.encoder(torch.rand(*shape))


def test_model_rejects_videos_of_the_wrong_shape(tiny_model):
    with pytest.raises(InputShapeError, match=r"\[B, T, 3, 32, 32\]"):
        tiny_model(torch.rand(2, 4, 3, 64, 64), torch.zeros(2, 4, 3))
    with pytest.raises(InputShapeError, match="labels of shape"):
        tiny_model(torch.rand(2, 4, 3, 32, 32), torch.zeros(2, 4, 2))


def test_codec_options_are_validated():
    with pytest.raises(ConfigError, match="one entry per layer"):
        build_model("tiny", encoder_options=dict(channels=(4, 8), kernels=(3,), strides=(1,)))
    with pytest.raises(ConfigError, match="too small"):
        build_model("tiny", frame_size=8)
    with pytest.raises(ConfigError, match="has no field"):
        build_model("tiny", encoder_options=dict(chanels=(4,)))
    with pytest.raises(ConfigError, match="takes no options"):
        build_model("tiny", latent_options=dict(x=1))


def test_eval_mode_restores_the_previous_mode_also_after_an_error():
    import pytest
    from torch import nn

    from videovae.engine.modes import eval_mode

    module = nn.Sequential(nn.Dropout(0.5))
    with eval_mode(module) as inside:
        assert inside is module and not module.training
    assert module.training
    module.eval()
    with eval_mode(module):
        assert not module.training
    assert not module.training
    module.train()
    with pytest.raises(RuntimeError, match="boom"):
        with eval_mode(module):
            raise RuntimeError("boom")
    assert module.training
