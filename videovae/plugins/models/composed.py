"""The composed VideoVAE: the recurrence of Fig. 2 over registered parts (kind ``model``, name ``composed``).

Training (posterior path, Sec. 3.2-3.3 and Eq. 9): all B×T frames go through the
encoder in one call; ψ_q and ψ_a (Eq. 4) are computed for all frames at once;
only the LSTM recurrence is stepped: per step the dynamic posterior ψ_dy and the
prior ψ_p (Eq. 5), a reparameterised sample z^(t) (Eq. 7) and the LSTM update
(Eq. 2 / Eq. 8). All latents are then decoded in one call (Eq. 6).

Generation (prior path, Sec. 4.2): z^(t) is drawn from the prior, decoded, and the
decoded frame is encoded again to give the next LSTM input. With a first frame,
the first output is that frame's reconstruction through the posterior.

:func:`build_composed` builds one part of each kind by the names in the :class:`ModelConfig`
(``encoder``, ``decoder``, ``latent``, ``prior``, ``sampler``, ``likelihood``), so any registered part, a
third-party one included, can be swapped in by name.

Option ``lstm_reads`` (``architecture_options``): what ψ_q the LSTM reads at each training step (Eq. 2, 8).
``"frames"`` (the default, the paper's Fig. 2): that of the real frame x^(t). ``"reconstructions"``: that of the
frame decoded from the step's posterior sample z^(t), re-encoded — what the LSTM reads when it generates
(Sec. 4.2), so training sees the inputs generation will; the first frame given to generation is read the same
way. Measured on moving-sprites (docs/own_data.md, "Teacher-forced against free-running prediction"): a
prior fed re-encoded frames predicts the next position worse than one fed real frames, and in free-running
generation the error adds up into sideways drift.

Options ``rollout_kl`` (a weight ≥ 0; 0, the default, leaves Eq. 9 as the paper writes it) and ``rollout_start``
(``"first"`` or ``"any"``): latent overshooting, :mod:`.rollout`. Each training clip is also run free as
generation runs it, and ``rollout_kl · β · KL(q_dy ‖ p_free)`` over its free-running frames is added to −Eq. 9.

Option ``content_dim`` (0, the default, is the paper's model): a per-clip content latent c, read from the first
frame, decoded with every z^(t), its KL to the prior p(c | a^(1)) (option ``content_prior``; or N(0, I))
counted once per clip (:mod:`..latents.content`). Measured on moving-sprites, it is not the default
(docs/own_data.md, "A per-clip content latent").
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor

from ...core.attributes import AttributeSet
from ...core.batch import VideoBatch
from ...core.config import PART_KINDS, ModelConfig
from ...core.distributions import DiagonalGaussian
from ...core.errors import AttributeValueError, InputShapeError
from ...core.mixed_precision import float32
from ...core.interfaces import (BuildContext, Capabilities, FrameDecoder, FrameEncoder, LatentStructure, Likelihood,
                                Sampler, StepContext, TemporalPrior, VideoModel)
from ...core.validators import choice, non_negative_float, non_negative_int, to_float
from ...registry import hookimpl
from ...registry.factory import build_part
from ..latents.content import ClipContent, decoder_input
from ..layers import PHI_INITS
from .rollout import free_running_divergence, starts_from
from .vae_loss import LossTerms, ModelOutput, loss_terms


@attrs.frozen
class ComposedOptions:
    """``lstm_reads``: ``"frames"`` (Fig. 2) or ``"reconstructions"``; ``rollout_kl``: the weight of the
    free-running KL term, 0 for none; ``rollout_start``: where each clip starts to run free, after its first
    frame (``"first"``, as mode (iv)) or after a frame drawn uniformly per clip (``"any"``) (the module's docstring);
    ``phi_init``: how the parts draw their φ_τ layers, ``"he"`` or PyTorch's default ``"torch"`` (:class:`.PhiTau`);
    ``content_dim``: the size of a per-clip content latent c decoded with every frame, 0 (the paper's model) for
    none, and ``content_prior`` its prior, ``"attributes"`` (p(c | a^(1))) or ``"standard"`` (N(0, I))
    (:mod:`..latents.content`)."""

    lstm_reads: str = attrs.field(default="frames", validator=choice("frames", "reconstructions"))
    rollout_kl: float = attrs.field(default=0.0, converter=to_float, validator=non_negative_float)
    rollout_start: str = attrs.field(default="first", validator=choice("first", "any"))
    phi_init: str = attrs.field(default="torch", validator=choice(*PHI_INITS))
    content_dim: int = attrs.field(default=0, validator=non_negative_int)
    content_prior: str = attrs.field(default="attributes", validator=choice("attributes", "standard"))


class ComposedVAE(VideoModel):
    """One encoder, decoder, latent structure, temporal prior and sampler, run as Fig. 2."""

    capabilities = Capabilities(first_frame=True, attributes_only=True, posterior=True)

    def __init__(
        self,
        config: ModelConfig,
        attributes: AttributeSet,
        encoder: FrameEncoder,
        decoder: FrameDecoder,
        latent: LatentStructure,
        prior: TemporalPrior,
        sampler: Sampler,
        likelihood: Likelihood,
        options: ComposedOptions | None = None,
        content: ClipContent | None = None,
    ):
        super().__init__()
        self.options = options if options is not None else ComposedOptions()
        self.config = config
        self.attributes = attributes
        self.encoder = encoder
        self.decoder = decoder
        self.latent = latent
        self.temporal = prior
        self.sampler = sampler
        self.likelihood = likelihood
        self.content = content

    # -- helpers -----------------------------------------------------------------
    def attribute_codes(self, labels: Tensor) -> Tensor:
        """Codes a ``[..., code]`` of labels ``[..., A]``; empty when the latent space is unstructured."""
        codes = self.attributes.encode(labels)
        return codes if self.latent.uses_attributes else codes[..., :0]

    def check_video(self, frames: Tensor, labels: Tensor) -> None:
        c, h, w = self.config.frame_shape
        if frames.ndim != 5 or tuple(frames.shape[2:]) != (c, h, w):
            raise InputShapeError(f"expected videos of shape [B, T, {c}, {h}, {w}], got {tuple(frames.shape)}")
        if labels.shape != (*frames.shape[:2], len(self.attributes)):
            raise InputShapeError(
                f"expected labels of shape [B, T, {len(self.attributes)}] ({', '.join(self.attributes.names) or 'no attributes'}), got {tuple(labels.shape)}"
            )
        if not frames.is_floating_point() or not bool(torch.isfinite(frames).all()):
            raise InputShapeError(f"expected videos of finite float pixels in [0, 1], got {frames.dtype} "
                                  f"{'with NaN or infinite values' if frames.is_floating_point() else 'values'}")
        self.attributes.check_labels(labels)

    # -- training path -------------------------------------------------------------
    def forward(self, frames: Tensor, labels: Tensor, noise: Tensor | None = None,
                generator: torch.Generator | None = None, rollout_starts: Tensor | None = None,
                content_noise: Tensor | None = None) -> ModelOutput:
        """Posterior pass over videos ``[B, T, C, H, W]`` with labels ``[B, T, A]``.

        ``noise [B, T, D]`` fixes the ε of each reparameterised sample (used by tests), ``content_noise
        [B, content_dim]`` that of the per-clip c (option ``content_dim``). ``rollout_starts [B]``
        (the last real frame each clip reads) also runs the free-running pass of option ``rollout_kl``
        (:func:`.rollout.free_running_divergence`).
        """
        self.check_video(frames, labels)
        batch, length = frames.shape[:2]
        features = self.encoder(frames.flatten(0, 1))
        psi_q = self.latent.residual(features)
        codes = self.attribute_codes(labels)
        content, content_kl = None, None
        if self.content is not None:  # q(c | x^(1)) and KL(q(c | x^(1)) ‖ p(c | a^(1))), :mod:`..latents.content`
            content_q = self.content.posterior(features.unflatten(0, (batch, length))[:, 0])
            content = content_q.rsample(content_noise, generator)
            with float32():
                content_kl = content_q.float().kl_divergence(self.content.prior(codes[:, 0]).float())
        psi_a = self.latent.conditional(psi_q, codes.flatten(0, 1)).reshape(batch, length)
        psi_q = psi_q.reshape(batch, length)

        state = self.temporal.initial_state(batch, device=frames.device, generator=generator)
        reads_own = self.reads_reconstructions
        zs, posteriors, priors, decoded, befores, inputs = [], [], [], [], [], []
        for t in range(length):
            hidden = self.temporal.hidden(state)
            posterior = self.latent.dynamic(psi_a[:, t], hidden)
            prior = self.temporal.prior(hidden, codes[:, t])
            z = posterior.rsample(None if noise is None else noise[:, t], generator)
            if reads_own:  # decoded here, step by step, because the next step's LSTM input depends on it
                decoded.append(self.decoder(decoder_input(z, content)))
                read = self.reread(decoded[-1])
            else:
                read = psi_q[:, t]
            befores.append(state)
            inputs.append(self.sampler.lstm_input(read, z))
            state = self.temporal.step(inputs[-1], state)
            zs.append(z)
            posteriors.append(posterior)
            priors.append(prior)
        z = torch.stack(zs, dim=1)
        posterior = DiagonalGaussian.stack(posteriors)
        prior = DiagonalGaussian.stack(priors)
        if reads_own:
            reconstruction = torch.stack(decoded, dim=1)
        else:
            reconstruction = self.decoder(decoder_input(z, content).flatten(0, 1)).unflatten(0, (batch, length))
        with float32():  # the KL of Eq. 9 in float32 under --precision bf16
            kl = posterior.float().kl_divergence(prior.float())
            if content_kl is not None:  # c's KL once per clip, spread over its frames
                kl = kl + content_kl[:, None] / length
        if rollout_starts is None:
            return ModelOutput(reconstruction, kl, z, posterior, prior, content_kl=content_kl)
        free, counted = free_running_divergence(self, befores, inputs, posterior, codes, rollout_starts,
                                                None if content is None else content.detach())
        return ModelOutput(reconstruction, kl, z, posterior, prior, free, counted, content_kl)

    def loss(self, frames: Tensor, labels: Tensor, kl_weight: float = 1.0, noise: Tensor | None = None,
             generator: torch.Generator | None = None, uniform: Tensor | None = None,
             content_noise: Tensor | None = None) -> LossTerms:
        """−Eq. 9 averaged over frames: −log p(x | z) under the configured likelihood + β·KL(q_dy ‖ p) (with
        option ``content_dim``, + β·KL(q(c) ‖ p(c)) / T), plus ``rollout_kl`` · β · the free-running KL where
        that option is set."""
        output = self(frames, labels, noise=noise, generator=generator,
                      rollout_starts=self.rollout_starts(frames.shape[:2], frames.device, uniform, generator),
                      content_noise=content_noise)
        return loss_terms(output, frames, kl_weight, self.likelihood, self.options.rollout_kl)

    def rollout_starts(self, shape: tuple[int, int], device: torch.device, uniform: Tensor | None = None,
                       generator: torch.Generator | None = None) -> Tensor | None:
        """The last real frame each of ``shape = (B, T)`` clips reads before running free (options
        ``rollout_kl``, ``rollout_start``), or None without the option. ``uniform [B]`` in [0, 1) places the
        ``"any"`` starts; drawn with ``generator`` when not given."""
        if self.options.rollout_kl == 0:
            return None
        batch, length = shape
        if length < 2:
            raise InputShapeError(f"rollout_kl needs clips of at least 2 frames (one to run free), got {length}")
        if self.options.rollout_start == "first":
            return torch.zeros(batch, dtype=torch.long, device=device)
        if uniform is None:
            uniform = torch.rand(batch, generator=generator).to(device)
        return starts_from(uniform, length)

    def losses(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """−Eq. 9 per frame with β = ``context.kl_weight`` and the step's per-clip ε (Eq. 7):
        ``{"loss", "reconstruction", "kl"}``, and ``"rollout_kl"`` / ``"content_kl"`` where those options are set."""
        # with "any" rollout starts, one more row of the step's per-clip noise places each clip's start (a
        # function of (seed, step, clip), so resumed and distributed runs draw the same starts)
        # (and, with option content_dim, the rows after it the ε of each clip's c)
        places_starts = self.options.rollout_kl > 0 and self.options.rollout_start == "any"
        content_rows = 0 if self.content is None else self.content.noise_rows(self.config.latent_dim)
        noise = context.noise(batch.length + places_starts + content_rows, self.config.latent_dim)
        uniform = torch.special.ndtr(noise[:, batch.length, 0]) if places_starts else None
        content_noise = None
        if content_rows:
            content_noise = self.content.noise_from_rows(noise[:, batch.length + places_starts:])
        return self.loss(batch.frames, batch.labels, context.kl_weight, noise=noise[:, :batch.length],
                         uniform=uniform, content_noise=content_noise).as_dict()

    def reconstruct(self, frames: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """µ_x of the posterior pass (z^(t) drawn from ψ_dy, Eq. 4 and 7; decoded by Eq. 6), clamped to [0, 1]
        as generated frames are."""
        return self(frames, labels, generator=generator).reconstruction.clamp(0.0, 1.0)

    @property
    def reads_reconstructions(self) -> bool:
        """Whether the LSTM reads re-encoded decoded frames (``lstm_reads="reconstructions"``)."""
        return self.options.lstm_reads == "reconstructions"

    def first_content(self, first_features: Tensor | None, codes: Tensor,
                      generator: torch.Generator | None = None) -> Tensor | None:
        """Each clip's c for generation (option ``content_dim``): drawn from q(c | x^(1)) of the encoder's
        features ``[B, F]`` of the given first frames, or without them from the prior p(c | a^(1)) for the first
        frame's attribute codes ``[B, code]``; None without the option."""
        if self.content is None:
            return None
        if first_features is None:
            return self.content.prior(codes).rsample(generator=generator)
        return self.content.posterior(first_features).rsample(generator=generator)

    def reread(self, decoded: Tensor) -> DiagonalGaussian:
        """ψ_q of a decoded µ_x as generation reads its own frames: clamped to [0, 1] and encoded again, without
        gradient: the codec is trained on the real frames alone, as with ``"frames"``; only the LSTM and the
        prior learn from what it reads. (With the gradient through the encoder, the codec served both and the
        sprites' reconstructions lost shape: docs/own_data.md.)"""
        with torch.no_grad():
            return self.latent.residual(self.encoder(decoded.clamp(0.0, 1.0)))

    # -- generation path -----------------------------------------------------------
    @torch.no_grad()
    def generate(self, labels: Tensor, first_frame: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Sample videos ``[B, T, C, H, W]`` for fully specified labels ``[B, T, A]`` (Sec. 4.2).

        Without ``first_frame`` (attribute control only), h^(0) is random and every z^(t)
        comes from the prior ψ_p (Eq. 5). With ``first_frame [B, C, H, W]``, the first
        output is its reconstruction through ψ_dy (Eq. 4, 7), the rest follows Eq. 5.
        """
        if labels.ndim != 3 or labels.shape[-1] != len(self.attributes):
            raise AttributeValueError(
                f"expected labels of shape [B, T, {len(self.attributes)}], got {tuple(labels.shape)}"
            )
        if torch.isnan(labels).any():
            raise AttributeValueError("every attribute must be set for generation; resolve free attributes first")
        batch, length = labels.shape[:2]
        device = labels.device
        if first_frame is not None:
            self.encoder.check_frames(first_frame)
            if first_frame.shape[0] != batch:
                raise InputShapeError(f"expected {batch} first frames (one per video), got {first_frame.shape[0]}")
        codes = self.attribute_codes(labels)
        state = self.temporal.initial_state(batch, device=device, generator=generator)
        first_features = None if first_frame is None else self.encoder(first_frame)  # for c and for step 0
        content = self.first_content(first_features, codes[:, 0], generator)
        frames = []
        for t in range(length):
            hidden = self.temporal.hidden(state)
            if t == 0 and first_frame is not None:
                psi_q = self.latent.residual(first_features)
                posterior = self.latent.dynamic(self.latent.conditional(psi_q, codes[:, 0]), hidden)
                z = posterior.rsample(generator=generator)
                frame = self.decoder(decoder_input(z, content)).clamp(0.0, 1.0)
                if self.reads_reconstructions:
                    psi_q = self.reread(frame)
            else:
                z = self.temporal.prior(hidden, codes[:, t]).rsample(generator=generator)
                frame = self.decoder(decoder_input(z, content)).clamp(0.0, 1.0)
                psi_q = self.latent.residual(self.encoder(frame))
            frames.append(frame)
            if t + 1 < length:
                state = self.temporal.step(self.sampler.lstm_input(psi_q, z), state)
        return torch.stack(frames, dim=1)

    def describe(self) -> dict[str, Any]:
        return {
            "parts": {k: getattr(self.config, k) for k in PART_KINDS},
            "attributes": list(self.attributes.names),
            "parameters": sum(p.numel() for p in self.parameters()),
        }


def build_composed(config: ModelConfig, attributes: AttributeSet, options: ComposedOptions | None = None,
                   model_class: type[ComposedVAE] = ComposedVAE) -> ComposedVAE:
    """One registered part of each kind, named by ``config``, sized through a shared :class:`BuildContext`;
    ``options`` the model's own (``architecture_options``, :class:`ComposedOptions`)."""
    options = options if options is not None else ComposedOptions()
    context = BuildContext(config.frame_shape, config.latent_dim, config.state_dim, config.hidden_dim, attributes,
                           phi_init=options.phi_init)
    encoder = build_part("encoder", config, context)
    context = attrs.evolve(context, feature_dim=encoder.feature_dim, attribute_dim=attributes.code_dim)
    latent = build_part("latent", config, context)
    if not latent.uses_attributes:
        context = attrs.evolve(context, attribute_dim=0)
    content = ClipContent(context, options.content_dim, options.content_prior) if options.content_dim else None
    sampler = build_part("sampler", config, context)
    context = attrs.evolve(context, lstm_input_dim=sampler.input_dim(config.latent_dim))
    prior = build_part("prior", config, context)
    # the decoder reads z^(t) ⊕ c where the model has a content latent (option content_dim)
    decoder = build_part("decoder", config, attrs.evolve(context, latent_dim=config.latent_dim + options.content_dim))
    likelihood = build_part("likelihood", config, context)
    return model_class(config, attributes, encoder, decoder, latent, prior, sampler, likelihood, options, content)


@hookimpl
def register_models(register):
    register("composed", build_composed, options=ComposedOptions,
             description="VideoVAE (Fig. 2): the encoder, decoder, latent, prior and sampler named in the configuration")


__all__ = ["ComposedOptions", "ComposedVAE", "LossTerms", "ModelOutput", "build_composed", "loss_terms"]
