"""How φ_τ layers are initialised (``PhiTau(init=...)``, the composed model's ``phi_init``): He keeps a signal's
scale through the chain of Eq. 4, PyTorch's default shrinks it; the option reaches every φ_τ of a composed
model and nothing else."""

import pytest
import torch

import videovae
from videovae.core.errors import ConfigError
from videovae.plugins.layers import PhiTau
from videovae.plugins.presets import size_fields


def chain(init):
    torch.manual_seed(0)
    return torch.nn.Sequential(PhiTau(128, 256, 256, init), PhiTau(256, 256, 256, init), PhiTau(256, 256, 256, init))


def test_he_keeps_the_scale_through_three_layers_and_torch_shrinks_it():
    x = torch.randn(512, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        he, default = chain("he")(x).std() / x.std(), chain("torch")(x).std() / x.std()
    assert 0.5 < he < 2.0
    assert default < 0.1  # about √3 per linear layer, six of them


def test_he_draws_the_stated_distributions_and_torch_is_the_linear_layers_own():
    torch.manual_seed(0)
    he = PhiTau(400, 300, 200, init="he")
    first, last = he.net[0], he.net[2]
    assert first.weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.05)
    assert last.weight.std().item() == pytest.approx(300 ** -0.5, rel=0.05)
    assert not first.bias.any() and not last.bias.any()
    torch.manual_seed(0)
    default = PhiTau(40, 30, 20)
    torch.manual_seed(0)
    layers = torch.nn.Linear(40, 30), torch.nn.Linear(30, 20)
    assert all(torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
               for a, b in zip((default.net[0], default.net[2]), layers))
    with pytest.raises(ConfigError, match="init must be one of torch, he, got 'xavier'"):
        PhiTau(4, 4, 4, init="xavier")


@pytest.mark.parametrize("preset", ["tiny", "minus-c-minus-s"])
def test_the_composed_option_reaches_every_phi_tau(preset):
    def phis(init):
        torch.manual_seed(0)
        model = videovae.build_model(preset, **size_fields("tiny"), architecture_options={"phi_init": init})
        return {name: module for name, module in model.named_modules() if isinstance(module, PhiTau)}

    he, default = phis("he"), phis("torch")
    assert he.keys() == default.keys() and len(he) >= 3
    for name in he:
        assert not he[name].net[0].bias.any(), name  # He: zero biases; PyTorch draws them
        assert default[name].net[0].bias.any(), name


def test_the_default_is_pytorchs_and_a_bad_value_is_one_line():
    model = videovae.build_model("tiny")
    assert model.options.phi_init == "torch"
    assert model.latent.to_q.net[0].bias.any()
    with pytest.raises(ConfigError, match="phi_init must be one of torch, he, got 'xavier'") as error:
        videovae.build_model("tiny", architecture_options={"phi_init": "xavier"})
    assert "\n" not in str(error.value)
