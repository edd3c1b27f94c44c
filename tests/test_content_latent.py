"""The composed model's ``content_dim`` option: a per-clip content latent c, read from the first frame, decoded
with every z^(t), its KL to the prior p(c | a^(1)) (or N(0, I)) counted once per clip."""

import pytest
import torch

from conftest import straight_and_resumed
from videovae.core.errors import ConfigError
from videovae.plugins.presets import size_fields
from videovae.registry.factory import build_from_config, resolve_config


def tiny(chair_attributes, content_dim=None, **options):
    torch.manual_seed(0)
    config = resolve_config("tiny", architecture_options={"content_dim": content_dim, **options})
    return build_from_config(config, chair_attributes)


def kl_by_hand(q, prior_mean, prior_logvar):
    return 0.5 * ((q.logvar - prior_logvar).exp() + (q.mean - prior_mean) ** 2 / prior_logvar.exp() - 1
                  - (q.logvar - prior_logvar)).sum(-1)


@pytest.mark.parametrize("prior", ["attributes", "standard"])
def test_the_decoder_reads_z_and_the_clips_c_and_the_kl_counts_c_once_per_clip(chair_attributes, clips, prior):
    frames, labels, noise = clips
    model = tiny(chair_attributes, 5, content_prior=prior).eval()
    assert model.decoder.head[0].in_features == 16 + 5 and tiny(chair_attributes, 0).decoder.head[0].in_features == 16
    c_noise = torch.randn(2, 5, generator=torch.Generator().manual_seed(2))
    out = model(frames, labels, noise=noise, content_noise=c_noise)
    # q(c | x^(1)) from the first frame's features, KL to p(c | a^(1)) (to N(0, I) for "standard") written out
    q = model.content.posterior(model.encoder(frames[:, 0]))
    if prior == "standard":
        by_hand = kl_by_hand(q, torch.zeros(5), torch.zeros(5))
    else:
        params = model.content.to_prior(model.attribute_codes(labels[:, 0]))
        by_hand = kl_by_hand(q, params[:, :5], params[:, 5:].clamp(-12, 8))
    torch.testing.assert_close(out.content_kl, by_hand)
    torch.testing.assert_close(out.kl, out.posterior.kl_divergence(out.prior) + by_hand[:, None] / 4)
    # every frame of a clip is decoded with that clip's c: the reconstruction is φ_dec(z ⊕ c)
    c = q.mean + q.std * c_noise
    decoded = model.decoder(torch.cat([out.z, c[:, None].expand(-1, 4, -1)], -1).flatten(0, 1)).unflatten(0, (2, 4))
    torch.testing.assert_close(out.reconstruction, decoded)
    # another c changes every frame of the clip; c is read from the first frame alone
    other = model(frames, labels, noise=noise, content_noise=-c_noise)
    assert not torch.isclose(other.reconstruction, out.reconstruction).all(dim=(2, 3, 4)).any()
    later = frames.clone()
    later[:, 1:] = torch.rand_like(later[:, 1:])
    torch.testing.assert_close(model(later, labels, noise=noise, content_noise=c_noise).content_kl, out.content_kl)


def test_the_loss_adds_beta_times_the_per_frame_share_and_names_the_term(chair_attributes, clips):
    frames, labels, noise = clips
    model = tiny(chair_attributes, 5).eval()
    c_noise = torch.zeros(2, 5)
    terms = model.loss(frames, labels, kl_weight=0.2, noise=noise, content_noise=c_noise,
                       generator=torch.Generator().manual_seed(5))
    out = model(frames, labels, noise=noise, content_noise=c_noise, generator=torch.Generator().manual_seed(5))
    step_kl = out.posterior.kl_divergence(out.prior).mean()
    torch.testing.assert_close(terms.kl, step_kl + out.content_kl.mean() / 4)
    torch.testing.assert_close(terms.total, terms.reconstruction + 0.2 * terms.kl)
    assert list(terms.as_dict()) == ["loss", "reconstruction", "kl", "content_kl"]
    paper = tiny(chair_attributes, 0)
    assert paper.content is None and "content_kl" not in paper.loss(frames, labels, noise=noise).as_dict()


def test_the_training_step_takes_cs_noise_from_the_rows_after_the_frames(chair_attributes, clips):
    """c's ε is the step's per-clip noise after the T frames' rows (and after the "any" start's row), so resumed
    and distributed runs draw the same c; a c larger than one row takes several."""
    from videovae.core.batch import VideoBatch
    from videovae.core.interfaces import StepContext

    frames, labels, _ = clips
    rows = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(4))
    for content_dim, starts, needed in ((5, "first", 5), (20, "first", 6), (5, "any", 6)):
        model = tiny(chair_attributes, content_dim, rollout_kl=0.5 if starts == "any" else 0.0,
                     rollout_start=starts).eval()
        shapes = []

        def noise(length, dim):
            shapes.append((length, dim))
            return rows[:, :length, :dim]

        context = StepContext(step=0, kl_weight=0.3, noise=noise, optimize=None)
        torch.manual_seed(7)  # h^(0)
        got = model.losses(VideoBatch(frames, labels), context)
        assert shapes == [(needed, 16)]
        after = rows[:, 4 + (starts == "any"):needed].flatten(1)[:, :content_dim]
        torch.manual_seed(7)
        want = model.loss(frames, labels, 0.3, noise=rows[:, :4], content_noise=after,
                          uniform=torch.special.ndtr(rows[:, 4, 0]) if starts == "any" else None).as_dict()
        for name, value in want.items():
            torch.testing.assert_close(got[name], value, msg=name)


def test_generation_draws_c_from_the_first_frame_or_from_the_prior_of_its_attributes(chair_attributes, clips):
    frames, labels, _ = clips
    model = tiny(chair_attributes, 5).eval()
    codes = model.attribute_codes(labels[:, 0])
    q = model.content.posterior(model.encoder(frames[:, 0]))
    drawn = model.first_content(model.encoder(frames[:, 0]), codes, torch.Generator().manual_seed(3))
    torch.testing.assert_close(drawn, q.mean + q.std * torch.randn(2, 5, generator=torch.Generator().manual_seed(3)))
    prior = model.content.prior(codes)
    assert not torch.allclose(prior.mean[0], prior.mean[1])  # the two clips' attributes differ
    free = model.first_content(None, codes, torch.Generator().manual_seed(3))
    torch.testing.assert_close(free, prior.mean + prior.std * torch.randn(2, 5, generator=torch.Generator().manual_seed(3)))
    standard = tiny(chair_attributes, 5, content_prior="standard").first_content(None, codes,
                                                                                 torch.Generator().manual_seed(3))
    torch.testing.assert_close(standard, torch.randn(2, 5, generator=torch.Generator().manual_seed(3)))
    assert tiny(chair_attributes, 0).first_content(model.encoder(frames[:, 0]), codes) is None
    # generation runs in both modes, and with a first frame it depends on that frame's c
    videos = model.generate(labels, generator=torch.Generator().manual_seed(1))
    assert videos.shape == (2, 4, 3, 32, 32) and 0 <= float(videos.min()) <= float(videos.max()) <= 1
    a = model.generate(labels, first_frame=frames[:, 0], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model.content.to_c.net[2].bias.add_(1.0)  # moves c's mean only
    b = model.generate(labels, first_frame=frames[:, 0], generator=torch.Generator().manual_seed(1))
    assert a.shape == b.shape == videos.shape and not torch.allclose(a, b)


def test_the_rollout_decodes_each_free_running_z_with_the_clips_c(chair_attributes, clips):
    frames, labels, noise = clips
    model = tiny(chair_attributes, 5, rollout_kl=1.0).eval()
    c_noise = torch.randn(2, 5, generator=torch.Generator().manual_seed(2))

    def rollout():
        return model(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5),
                     rollout_starts=torch.tensor([0, 0]), content_noise=c_noise).rollout_kl

    first = rollout()
    assert first.shape == (2, 3) and bool(torch.isfinite(first).all())
    with torch.no_grad():
        model.content.to_c.net[2].bias.add_(1.0)
    changed = rollout()
    # frame 1's prior comes from the real frame 0 alone; later ones read frames decoded with c
    torch.testing.assert_close(changed[:, 0], first[:, 0])
    assert not torch.allclose(changed[:, 1:], first[:, 1:])


def test_a_model_without_attributes_learns_its_content_prior_from_n01(chair_attributes, clips):
    frames, labels, noise = clips
    torch.manual_seed(0)
    config = resolve_config("minus-c-minus-s", **size_fields("tiny"), architecture_options={"content_dim": 5})
    model = build_from_config(config, chair_attributes)
    prior = model.content.prior(model.attribute_codes(labels[:, 0]))
    assert prior.mean.shape == (2, 5) and prior.mean.abs().max() == 0 and prior.logvar.abs().max() == 0
    model(frames, labels, noise=noise).content_kl.sum().backward()
    assert model.content.prior_params.grad.abs().sum() > 0


@pytest.mark.parametrize("options", [{"content_dim": -1}, {"content_dim": 2.5}, {"content_dim": "8"},
                                     {"content_dim": True}, {"content_dim": 4, "content_prior": "normal"}])
def test_a_bad_content_option_is_one_line(chair_attributes, options):
    with pytest.raises(ConfigError, match="content_dim must be a non-negative integer|content_prior must be one of"
                       ) as error:
        tiny(chair_attributes, **options)  # content_dim among them
    assert "\n" not in str(error.value)


def test_a_run_with_a_content_latent_logs_its_kl_and_resumes_bit_identically(tmp_path):
    straight, _ = straight_and_resumed(tmp_path, {"content_dim": 6})
    rows = [row for row in straight["history"] if "loss" in row]
    assert len(rows) == 4 and all(row["content_kl"] > 0 for row in rows)
    assert any(name.startswith("content.") for name in straight["model_state"])
