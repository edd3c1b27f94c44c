"""The composed model's ``lstm_reads`` option: the LSTM reads the real frames (Fig. 2) or, as generation does,
the frames it decodes, encoded again."""

import pytest
import torch

from videovae.core.errors import ConfigError
from videovae.registry.factory import build_from_config, resolve_config


def tiny(chair_attributes, reads):
    torch.manual_seed(0)
    return build_from_config(resolve_config("tiny", architecture_options={"lstm_reads": reads}), chair_attributes).eval()


def by_hand(model, frames, labels, noise, constant_reads=False):
    """The recurrence written out step by step with the re-read frames: (reconstruction, kl)."""
    codes = model.attribute_codes(labels)
    state = model.temporal.initial_state(2, generator=torch.Generator().manual_seed(5))
    frames_out, kls = [], []
    for t in range(frames.shape[1]):
        hidden = model.temporal.hidden(state)
        psi_a = model.latent.conditional(model.latent.residual(model.encoder(frames[:, t])), codes[:, t])
        posterior = model.latent.dynamic(psi_a, hidden)
        z = posterior.mean + posterior.std * noise[:, t]
        frame = model.decoder(z)
        read = model.latent.residual(model.encoder(frame.clamp(0.0, 1.0)))
        if constant_reads:
            read = type(read)(read.mean.detach(), read.logvar.detach())
        state = model.temporal.step(torch.cat([read.params(), z], -1), state)
        frames_out.append(frame)
        kls.append(posterior.kl_divergence(model.temporal.prior(hidden, codes[:, t])))
    return torch.stack(frames_out, 1), torch.stack(kls, 1)


def test_reading_reconstructions_is_the_recurrence_written_out(chair_attributes, clips):
    frames, labels, noise = clips
    model = tiny(chair_attributes, "reconstructions")
    out = model(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5))
    reconstruction, kl = by_hand(model, frames, labels, noise)
    torch.testing.assert_close(out.reconstruction, reconstruction)
    torch.testing.assert_close(out.kl, kl)
    paper = tiny(chair_attributes, "frames")(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(paper.reconstruction[:, 0], out.reconstruction[:, 0])  # same weights, same h^(0)
    assert not torch.allclose(paper.kl[:, 1:], out.kl[:, 1:])


def test_the_codec_learns_nothing_from_what_the_lstm_reads(chair_attributes, clips):
    """The re-read path carries no gradient: every parameter's gradient is that of the recurrence written out
    with the re-read ψ_q held constant, and the decoder gets none from the KL."""
    frames, labels, noise = clips
    model = tiny(chair_attributes, "reconstructions")
    model(frames, labels, noise=noise, generator=torch.Generator().manual_seed(5)).kl.sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in model.decoder.parameters())
    got = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    by_hand(model, frames, labels, noise, constant_reads=True)[1].sum().backward()
    want = {n: p.grad for n, p in model.named_parameters() if p.grad is not None and p.grad.any()}
    assert want and {n for n, g in got.items() if g.any()} == set(want)
    for name, grad in want.items():
        torch.testing.assert_close(got[name], grad, msg=name)


def test_generation_reads_the_first_frame_as_it_was_trained(chair_attributes, clips):
    frames, labels, _ = clips
    model = tiny(chair_attributes, "reconstructions")
    videos = [model.generate(labels, first_frame=frames[:, 0], generator=torch.Generator().manual_seed(2))
              for _ in range(2)]
    assert videos[0].shape == frames.shape and torch.equal(videos[0], videos[1])
    paper = tiny(chair_attributes, "frames")
    other = paper.generate(labels, first_frame=frames[:, 0], generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(other[:, 0], videos[0][:, 0])  # the first frame's reconstruction is the same
    assert not torch.allclose(other[:, 1:], videos[0][:, 1:])


def test_an_unknown_choice_is_one_line(chair_attributes):
    with pytest.raises(ConfigError, match="lstm_reads must be one of frames, reconstructions, got 'pixels'"):
        tiny(chair_attributes, "pixels")
