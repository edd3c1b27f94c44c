"""VGAN (Vondrick et al., NIPS 2016, "Generating Videos with Scene Dynamics"): the YFCC–MIT Flickr baseline of
VideoVAE's Table 2 (Sec. 5.3), unconditional (mode i) and continuing a first frame (mode iv).

* ``vgan`` (Sec. 2): a noise code z (``noise_dim``, 100 in the paper) drives the two-stream generator
  (:class:`~.networks.TwoStreamGenerator`); the generator loss is the non-saturating GAN loss plus
  λ‖m‖₁ on the mask (Sec. 2.1, ``mask_l1`` λ = 0.1, here the mean over the mask's values), which keeps the static
  background stream in use.
* ``vgan-first-frame`` (Sec. 5, "future generation"): a 2-D convolutional encoder of the first frame gives the code
  that *replaces* z for both streams, so a frame determines its video (no noise, as in the paper), and the
  generator loss adds ``first_frame_l1`` · mean |x̂⁽¹⁾ − x⁽¹⁾| between the generated and the given first frame
  (pixel scale [0, 1]). λ = 100, the weight of the mean L1 beside a GAN loss in pix2pix (Isola et al., CVPR 2017),
  as VGAN's paper gives none: with λ = 1 (about the size of −log D at the start) the generator ignored its frame
  and made the same clip from every first frame after 3000 steps on Weizmann (docs/results/README.md).

Both train by alternating updates (Sec. 2.2): the 3-D discriminator (optimizer ``discriminator``) on real clips
and the current generation, then the generator (optimizer ``generator``, with the encoder) through the updated
discriminator; Adam, lr 2e-4 (``default_lr``), betas (0.5, 0.999). Real frames are scaled to [-1, 1].

The generator makes clips of a fixed ``length`` (None: the training clips' length, filled in when a run starts,
:meth:`VGANOptions.from_data`). Longer training clips train on their first ``length`` frames; shorter ones are
refused before the run writes anything. ``generate`` gives the first T ≤ length frames. The model ignores the
data set's attributes (``controlled_attributes`` is empty: ``--attr`` is refused).
"""

from __future__ import annotations

import math

import attrs
import torch
from torch import Tensor

from ....core.attributes import AttributeSet
from ....core.batch import VideoBatch
from ....core.config import ModelConfig
from ....core.errors import ConfigError, InputShapeError
from ....core.interfaces import Capabilities, StepContext, VideoModel
from ....core.validators import non_negative_float, optional_positive_int, positive_int
from .. import gan
from .networks import FrameEncoder2d, TwoStreamGenerator, VideoDiscriminator


@attrs.frozen
class VGANOptions:
    #: size of the noise code z (Sec. 2: 100)
    noise_dim: int = attrs.field(default=100, validator=positive_int)
    #: frames the generator makes (None: the training clips' length, filled in when the run starts)
    length: int | None = attrs.field(default=None, validator=optional_positive_int)
    #: channels of the widest-resolution layer (None: gan.base_width of the model size)
    width: int | None = attrs.field(default=None, validator=optional_positive_int)
    #: λ of the mask's L1 sparsity term (Sec. 2.1: 0.1)
    mask_l1: float = attrs.field(default=0.1, validator=non_negative_float)

    @staticmethod
    def from_data(options: dict, dataset, clip_length: int) -> dict:
        """``length`` left unset: the training clips' length."""
        return options if options.get("length") is not None else {**options, "length": clip_length}


@attrs.frozen
class VGANFirstFrameOptions(VGANOptions):
    #: λ of the L1 between the generated and the given first frame (see the module docstring)
    first_frame_l1: float = attrs.field(default=100.0, validator=non_negative_float)


class VGAN(VideoModel):
    """The unconditional two-stream VGAN (mode i)."""

    capabilities = Capabilities(first_frame=False, attributes_only=True, posterior=False)
    default_lr = 2e-4
    #: no relative clip: a discriminator's gradient norm jumps by design (VGAN on Weizmann had 18 updates in
    #: 3000 steps above 10x the median, most of them the discriminator's; docs/own_data.md), and the
    #: committed tables trained the GANs without one
    default_spike_clip = 0.0

    def __init__(self, config: ModelConfig, attributes: AttributeSet, options: VGANOptions | None = None):
        super().__init__()
        options = options if options is not None else VGANOptions()
        self.config, self.attributes, self.options = config, attributes, options
        name = config.architecture
        self.length = options.length if options.length is not None else 16  # built outside a run: 16 frames
        doublings = gan.doublings(config.frame_size, f"model {name!r}")
        width = gan.base_width(config, options.width)
        self.time = max(1, math.ceil(self.length / 2 ** doublings))  # frames before the doublings (cropped after)
        self.generator = TwoStreamGenerator(self.code_dim, config.channels, width, doublings, self.time)
        self.discriminator = VideoDiscriminator(config.channels, width, doublings, self.length)

    @property
    def code_dim(self) -> int:
        return self.options.noise_dim

    @property
    def controlled_attributes(self) -> tuple[str, ...]:
        return ()

    def attribute_codes(self, labels: Tensor) -> Tensor:
        return labels.new_zeros(*labels.shape[:-1], 0)

    def generator_parameters(self) -> list[Tensor]:
        return list(self.generator.parameters())

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        betas = (0.5, 0.999)
        return {"discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas),
                "generator": torch.optim.Adam(self.generator_parameters(), lr=lr, betas=betas)}

    def check_clip_length(self, length: int, dataset: str = "the data set") -> None:
        if length < self.length:
            raise ConfigError(f"{dataset} has clips of {length} frames but model {self.config.architecture!r} generates "
                              f"{self.length} (option length); use longer clips or set architecture_options length <= {length}")

    def trained_length(self, clip_length: int) -> int:
        return min(clip_length, self.length)

    # -- generation ------------------------------------------------------------------------------------------

    def codes(self, batch: int, first_frame: Tensor | None, noise: Tensor) -> Tensor:
        """The generator's input: the noise z ``[B, noise_dim]`` (the first-frame variant encodes the frame)."""
        return noise

    def render(self, code: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(video ``[B, C, length, H, W]``, mask, background), all cropped to ``length`` frames, in [-1, 1]."""
        video, mask, background = self.generator(code)
        return video[:, :, :self.length], mask[:, :, :self.length], background

    @torch.no_grad()
    def generate(self, labels: Tensor, first_frame: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        self.check_capabilities(first_frame=first_frame is not None)
        batch, length = labels.shape[:2]
        if length > self.length:
            raise InputShapeError(f"model {self.config.architecture!r} generates clips of at most {self.length} frames "
                                  f"(option length), asked for {length}")
        device = next(self.parameters()).device
        noise = torch.randn(batch, self.options.noise_dim, generator=generator).to(device)
        video, _, _ = self.render(self.codes(batch, first_frame, noise))
        return ((video[:, :, :length].transpose(1, 2) + 1) / 2).clamp(0.0, 1.0)

    # -- training --------------------------------------------------------------------------------------------

    def _terms(self, batch: VideoBatch, context: StepContext, optimize: bool) -> dict[str, Tensor]:
        frames = batch.frames
        if frames.ndim != 5 or tuple(frames.shape[2:]) != tuple(self.config.frame_shape) or frames.shape[1] < self.length:
            raise InputShapeError(f"expected clips of shape [B, >= {self.length}, "
                                  f"{', '.join(map(str, self.config.frame_shape))}], got {tuple(frames.shape)}")
        real = frames[:, :self.length].transpose(1, 2) * 2 - 1  # [B, C, length, H, W], the first frames of longer clips
        code = self.codes(frames.shape[0], frames[:, 0], context.noise(self.options.noise_dim))
        fake, mask, _ = self.render(code)
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake.detach())
        d_loss = gan.discriminator_loss(real_logits, fake_logits)
        if optimize:
            context.optimize("discriminator", d_loss)
        g_adv = gan.generator_loss(self.discriminator(fake))
        mask_l1 = mask.abs().mean()
        extra = self.extra_terms(fake, frames)
        loss = g_adv + self.options.mask_l1 * mask_l1 + sum(self.weight(name) * value for name, value in extra.items())
        if optimize:
            context.optimize("generator", loss)
        real_accuracy, fake_accuracy = gan.accuracy(real_logits, fake_logits)
        return {"loss": loss.detach(), "d_loss": d_loss.detach(), "g_adv": g_adv.detach(), "mask_l1": mask_l1.detach(),
                **{name: value.detach() for name, value in extra.items()},
                "d_real_accuracy": real_accuracy, "d_fake_accuracy": fake_accuracy}

    def extra_terms(self, fake: Tensor, frames: Tensor) -> dict[str, Tensor]:
        """Further generator terms (named like their weight option)."""
        return {}

    def weight(self, name: str) -> float:
        return float(getattr(self.options, name))

    def training_step(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """The discriminator's update, then the generator's through the updated discriminator (Sec. 2.2)."""
        return self._terms(batch, context, optimize=True)

    def losses(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """The same terms without updates (validation): ``loss`` is the generator's."""
        return self._terms(batch, context, optimize=False)


class VGANFirstFrame(VGAN):
    """VGAN continuing a given first frame (mode iv): an encoder of the frame replaces the noise."""

    capabilities = Capabilities(first_frame=True, attributes_only=False, posterior=False)

    def __init__(self, config: ModelConfig, attributes: AttributeSet, options: VGANFirstFrameOptions | None = None):
        options = options if options is not None else VGANFirstFrameOptions()
        super().__init__(config, attributes, options)
        doublings = gan.doublings(config.frame_size, f"model {config.architecture!r}")
        self.encoder = FrameEncoder2d(config.channels, gan.base_width(config, options.width), doublings,
                                      options.noise_dim)

    def generator_parameters(self) -> list[Tensor]:
        return list(self.generator.parameters()) + list(self.encoder.parameters())

    def codes(self, batch: int, first_frame: Tensor | None, noise: Tensor) -> Tensor:
        if first_frame is None or first_frame.ndim != 4 or tuple(first_frame.shape[1:]) != tuple(self.config.frame_shape):
            shape = None if first_frame is None else tuple(first_frame.shape)
            raise InputShapeError(f"model {self.config.architecture!r} expects first frames of shape "
                                  f"[B, {', '.join(map(str, self.config.frame_shape))}], got {shape}")
        return self.encoder(first_frame * 2 - 1)

    def extra_terms(self, fake: Tensor, frames: Tensor) -> dict[str, Tensor]:
        """mean |x̂⁽¹⁾ − x⁽¹⁾| on the pixel scale [0, 1]."""
        return {"first_frame_l1": ((fake[:, :, 0] + 1) / 2 - frames[:, 0]).abs().mean()}


__all__ = ["VGAN", "VGANFirstFrame", "VGANFirstFrameOptions", "VGANOptions"]
