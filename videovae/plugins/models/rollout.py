"""Latent overshooting for the composed model (its options ``rollout_kl`` and ``rollout_start``).

Generation (Sec. 4.2) feeds the LSTM (Eq. 8) its own decoded frames, encoded again; Eq. 9 trains it on the real
frames only, so small errors of each predicted frame add up in a free-running clip (measured on moving-sprites:
docs/own_data.md, "Teacher-forced against free-running prediction"). Here each training clip is also run free:
after reading the real frames 0..s (s per clip: 0 for ``rollout_start="first"``, as mode (iv) starts; uniform in
0..T-2 for ``"any"``), each next z^(t) is the prior's mean (Eq. 5), decoded (Eq. 6), clamped and encoded again
(Eq. 4) for the next LSTM input. For t > s the prior p_free^(t) it reaches is compared with the posterior
q_dy^(t) of the real frame (Eq. 4, held constant): KL(q_dy^(t) ‖ p_free^(t)).

Only the LSTM and the prior learn from this term: the codec runs with its weights held constant and in eval
mode (no dropout), as in generation, and the states and inputs of the real frames read before the rollout are
held constant; the gradient does flow back through the decoded and re-encoded frames to earlier steps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...core.distributions import DiagonalGaussian
from ...core.errors import ConfigError
from ...core.interfaces import FrameDecoder, FrameEncoder, LatentStructure
from ...core.mixed_precision import float32
from ..latents.content import decoder_input


class Reader(nn.Module):
    """A generated frame read back as generation reads it: z decoded (Eq. 6), clamped, and ψ_q of it (Eq. 4). A
    module so that :func:`torch.func.functional_call` can run it with the codec's weights held constant."""

    def __init__(self, encoder: FrameEncoder, decoder: FrameDecoder, latent: LatentStructure):
        super().__init__()
        self.encoder, self.decoder, self.latent = encoder, decoder, latent

    def forward(self, z: Tensor) -> DiagonalGaussian:
        return self.latent.residual(self.encoder(self.decoder(z).clamp(0.0, 1.0)))


def select(mask: Tensor, teacher, free):
    """Per clip (``mask [B]``), ``teacher`` where true and ``free`` where not, through a prior's state (a tensor,
    or tuples, lists and dicts of them, as a :class:`~videovae.core.TemporalPrior` may keep)."""
    if isinstance(teacher, Tensor):
        return torch.where(mask.reshape(-1, *[1] * (teacher.ndim - 1)), teacher.detach(), free)
    if isinstance(teacher, (tuple, list)):
        return type(teacher)(select(mask, a, b) for a, b in zip(teacher, free))
    if isinstance(teacher, dict):
        return {key: select(mask, value, free[key]) for key, value in teacher.items()}
    raise ConfigError(f"rollout_kl needs the prior's state as tensors, tuples or dicts, got {type(teacher).__name__}")


def starts_from(uniform: Tensor, length: int) -> Tensor:
    """The last real frame index s ``[B]`` read before each clip runs free, from ``uniform [B]`` in [0, 1):
    uniform over 0..T-2."""
    return (uniform * (length - 1)).long().clamp(0, length - 2)


def free_running_divergence(model, befores: list, inputs: list[Tensor], posterior: DiagonalGaussian, codes: Tensor,
                            starts: Tensor, content: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``(kl, counted)``, both ``[B, T-1]`` for t = 1..T-1: KL(q_dy^(t) ‖ p_free^(t)) (0 where not counted) and
    whether frame t is predicted free-running (t > s). ``befores[t]`` is the posterior pass's prior state before
    it read frame t, ``inputs[t]`` the LSTM input it read at t (Eq. 8); ``content [B, C]`` each clip's c, decoded
    with every free-running z (the composed option ``content_dim``)."""
    reader = Reader(model.encoder, model.decoder, model.latent)
    weights = {name: p.detach() for name, p in reader.named_parameters()}
    modes = [part.training for part in reader.children()]
    reader.eval()  # as generation runs the codec: no dropout
    length = len(inputs)
    try:
        state, free_input, divergences, counted = befores[0], inputs[0].detach(), [], []
        for t in range(1, length):
            teacher = starts >= t - 1  # frame t-1 is still a real one
            lstm_input = torch.where(teacher[:, None], inputs[t - 1].detach(), free_input)
            state = model.temporal.step(lstm_input, select(teacher, befores[t - 1], state))
            free = model.temporal.prior(model.temporal.hidden(state), codes[:, t])
            with float32():
                divergences.append(posterior[:, t].detach().float().kl_divergence(free.float()))
            counted.append(starts < t)
            if t + 1 < length:
                sample = free.mean
                read = torch.func.functional_call(reader, weights, (decoder_input(sample, content),))
                free_input = model.sampler.lstm_input(read, sample)
    finally:
        for part, mode in zip(reader.children(), modes):
            part.train(mode)
    counted = torch.stack(counted, dim=1)
    return torch.stack(divergences, dim=1) * counted, counted


__all__ = ["Reader", "free_running_divergence", "select", "starts_from"]
