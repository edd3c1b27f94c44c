"""The recurrence of Fig. 2: training path, generation paths, and the batched fast path."""

import torch

from conftest import random_labels
from videovae.core.distributions import DiagonalGaussian


def stepwise_forward(model, frames, labels, noise):
    """The straightforward implementation: encoder and decoder called inside the time loop."""
    batch, length = frames.shape[:2]
    state = model.temporal.initial_state(batch)
    recon, kls = [], []
    for t in range(length):
        h = model.temporal.hidden(state)
        codes = model.attribute_codes(labels[:, t])
        psi_q = model.latent.residual(model.encoder(frames[:, t]))
        posterior = model.latent.dynamic(model.latent.conditional(psi_q, codes), h)
        prior = model.temporal.prior(h, codes)
        z = posterior.rsample(noise[:, t])
        kls.append(posterior.kl_divergence(prior))
        recon.append(model.decoder(z))
        state = model.temporal.step(model.sampler.lstm_input(psi_q, z), state)
    return torch.stack(recon, 1), torch.stack(kls, 1)


def test_batched_path_equals_a_per_step_loop(chair_attributes):
    from videovae import build_model

    for preset in ("tiny", "minus-c-minus-s"):
        from videovae.plugins.presets import TINY_SIZES

        model = build_model(preset, attributes=chair_attributes, **({} if preset == "tiny" else TINY_SIZES))
        model.eval()
        model.temporal.options = type(model.temporal.options)(initial_state="zeros")
        frames = torch.rand(3, 6, 3, 32, 32)
        labels = random_labels(3, 6, chair_attributes)
        noise = torch.randn(3, 6, model.config.latent_dim)
        out = model(frames, labels, noise=noise)
        recon, kl = stepwise_forward(model, frames, labels, noise)
        assert out.reconstruction.shape == (3, 6, 3, 32, 32) and out.kl.shape == (3, 6)
        # equal up to float rounding: oneDNN picks other kernels for other batch sizes
        assert torch.allclose(out.reconstruction, recon, atol=1e-5)
        assert torch.allclose(out.kl, kl, atol=1e-4, rtol=1e-5)


def test_kl_is_per_step_kl_between_posterior_and_prior(tiny_model, chair_attributes):
    frames = torch.rand(2, 4, 3, 32, 32)
    out = tiny_model(frames, random_labels(2, 4, chair_attributes))
    expected = DiagonalGaussian(out.posterior.mean, out.posterior.logvar).kl_divergence(out.prior)
    assert torch.allclose(out.kl, expected) and (out.kl >= 0).all()


def test_training_lowers_the_loss_on_a_fixed_batch(tiny_model, chair_attributes):
    frames = torch.rand(4, 5, 3, 1, 1).expand(4, 5, 3, 32, 32)  # learnable: one colour per frame
    labels = random_labels(4, 5, chair_attributes)
    optimizer = torch.optim.Adam(tiny_model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        terms = tiny_model.loss(frames, labels)
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
        losses.append(terms.total.item())
    assert losses[-1] < 0.5 * losses[0]


def test_attribute_only_generation_any_batch_size(tiny_model, chair_attributes):
    tiny_model.eval()
    for batch in (1, 3, 7):
        labels = random_labels(batch, 5, chair_attributes)
        videos = tiny_model.generate(labels, generator=torch.Generator().manual_seed(0))
        assert videos.shape == (batch, 5, 3, 32, 32)
        assert 0 <= videos.min() and videos.max() <= 1


def test_generation_is_reproducible_for_a_seed_and_varies_across_seeds(tiny_model, chair_attributes):
    tiny_model.eval()
    labels = random_labels(2, 4, chair_attributes)
    a = tiny_model.generate(labels, generator=torch.Generator().manual_seed(1))
    b = tiny_model.generate(labels, generator=torch.Generator().manual_seed(1))
    c = tiny_model.generate(labels, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_first_frame_generation_starts_with_the_reconstruction(tiny_model, chair_attributes):
    tiny_model.eval()
    first = torch.rand(2, 3, 32, 32)
    labels = random_labels(2, 5, chair_attributes)
    videos = tiny_model.generate(labels, first_frame=first, generator=torch.Generator().manual_seed(3))
    assert videos.shape == (2, 5, 3, 32, 32)
    # the first output is decoded from psi_dy of the given frame (Eq. 4, 7) with the same h^(0) and epsilon
    g = torch.Generator().manual_seed(3)
    state = tiny_model.temporal.initial_state(2, generator=g)
    psi_q = tiny_model.latent.residual(tiny_model.encoder(first))
    codes = tiny_model.attribute_codes(labels[:, 0])
    posterior = tiny_model.latent.dynamic(tiny_model.latent.conditional(psi_q, codes), tiny_model.temporal.hidden(state))
    expected = tiny_model.decoder(posterior.rsample(generator=g)).clamp(0, 1)
    assert torch.allclose(videos[:, 0], expected, atol=1e-5)
