"""MoCoGAN (Tulyakov et al., CVPR 2018, "MoCoGAN: Decomposing Motion and Content for Video Generation"), the
Weizmann baseline of the seed paper's Table 2 (Sec. 5.3: I-score 13.87 against VideoVAE's 69.55, "mode collapsing").

Written from the paper's description (its code is CC BY-NC-ND and was not used).

* **Generator** (MoCoGAN Sec. 3, "Motion and content decomposed GAN"): a clip is a trajectory of latents
  z^(t) = [z_C, z_A, z_M^(t)]; the content code z_C ~ N(0, I) (``content_dim``, 50 in the paper) is drawn once
  and kept over the clip, the motion codes z_M^(t) (``motion_dim``) are the states of a GRU cell R_M driven by
  per-step noise ε^(t) ~ N(0, I) (``noise_dim``), and each z^(t) is rendered by one image generator G_I, a
  DCGAN stack of transposed convolutions with batch norm and ReLU and a tanh output, from 4×4 up to the frame
  size. The category code z_A (Sec. 3.1, "Categorical dynamics") is one-hot; as in the paper it is part of
  R_M's input at each step, and it is also repeated in every frame's z^(t). It is read per frame from the labels,
  so a schedule that changes the category mid-clip changes the code from that frame on (training clips have one).
  The GRU's initial state h^(0) is drawn from N(0, I) like ε (the paper does not say).
* **Discriminators** (Sec. 3): D_I, a DCGAN patch discriminator on one frame per clip (S_1: a random frame; its
  logits are a map of patches), and D_V, 3-D convolutions over the whole clip (S_T; spatial stride 2, time
  kept, so clips of any length ≥ 2 train it) giving one real/fake logit and category logits per clip. The
  category head is the auxiliary Q of Sec. 3.1: a cross-entropy of the real clips' category (labelled data,
  AC-GAN style) and, λ = ``category_weight`` (the paper's 1), the InfoGAN cross-entropy of the generated
  clips' category, minimised by D_V and G together.
* **Objective and updates**: the shared GAN objective of :mod:`.gan` (non-saturating generator loss) for both
  discriminators, summed; one optimizer ``discriminator`` over D_I and D_V (the paper updates both from the
  summed objective), then one ``generator`` over G_I and R_M; Adam(2e-4, betas (0.5, 0.999)) as in the paper.
  Fake clips take the real batch's category (the data's category frequencies, deterministic); a clip whose
  category is missing (NaN) gets one drawn uniformly from the step's noise. All randomness of a step comes
  from ``context.noise``, so a resumed or ``torchrun`` run draws exactly the same.

Real frames are mapped from [0, 1] to [−1, 1] for the discriminators, the tanh's range; :meth:`MoCoGAN.generate`
maps the generator's output back to [0, 1]. Widths follow the model size (:func:`.gan.base_width`): 64 channels
at the ``paper`` size (the DCGAN ngf/ndf), 32 at ``demo``, 4 at ``tiny``; ``width`` sets them directly.
The three networks are in :mod:`.mocogan_networks`.

G_I, D_I and D_V use batch norm, whose statistics are each process's own under ``torchrun`` (as in
DistributedDataParallel without SyncBatchNorm): a distributed run draws the same noise as a single-process
one but is not equal to it bit for bit.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...core.attributes import AttributeSet
from ...core.batch import VideoBatch
from ...core.config import ModelConfig
from ...core.errors import AttributeValueError, ConfigError
from ...core.interfaces import Capabilities, StepContext, VideoModel
from ...core.mixed_precision import float32
from ...core.validators import non_negative_float, optional_positive_int, positive_int
from ...registry import hookimpl
from ..presets import PAPER
from . import gan
from .mocogan_networks import ImageDiscriminator, ImageGenerator, VideoDiscriminator


def _optional_name(instance, attribute, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"category must be an attribute name, got {value!r}")


def _example(name: str) -> str:
    return f"--set 'architecture_options={{\"category\": \"{name}\"}}'"


@attrs.frozen
class MoCoGANOptions:
    #: the categorical attribute z_A stands for (None: the data set's single motion attribute, filled in when
    #: a run starts, e.g. Weizmann's ``action``)
    category: str | None = attrs.field(default=None, validator=_optional_name)
    content_dim: int = attrs.field(default=50, validator=positive_int)
    motion_dim: int = attrs.field(default=10, validator=positive_int)
    noise_dim: int = attrs.field(default=10, validator=positive_int)
    #: channels of the widest-resolution layers (None: from the model size, :func:`.gan.base_width`)
    width: int | None = attrs.field(default=None, validator=optional_positive_int)
    #: λ of the InfoGAN category term on generated clips (Sec. 3.1: 1)
    category_weight: float = attrs.field(default=1.0, validator=non_negative_float)

    @staticmethod
    def from_data(options: dict, dataset, clip_length: int) -> dict:
        """The category left unset: the data set's one motion attribute, or a one-line error asking for one."""
        if options.get("category") is not None:
            return options
        motion = tuple(getattr(dataset, "motion_attributes", ()))
        categorical = [spec.name for spec in dataset.attributes if spec.kind == "categorical"]
        if len(motion) == 1 and motion[0] in categorical:
            return {**options, "category": motion[0]}
        what = (f"several motion attributes ({', '.join(motion)})" if len(motion) > 1 else
                f"a motion attribute {motion[0]!r} that is not categorical" if motion else "no motion attribute")
        example = _example(categorical[0]) if categorical else "a data set with a categorical attribute"
        raise ConfigError(f"mocogan needs a category attribute; the data set ({dataset.describe()}) has {what} to take "
                          f"it from: name one of its categorical attributes ({', '.join(categorical) or 'none'}), "
                          f"e.g. {example}")


class MoCoGAN(VideoModel):
    capabilities = Capabilities(first_frame=False, attributes_only=True, posterior=False)
    default_lr = 2e-4
    #: no relative clip: a GAN's discriminator norm jumps by design (measured on VGAN: vgan/model.py)
    default_spike_clip = 0.0

    def __init__(self, config: ModelConfig, attributes: AttributeSet, options: MoCoGANOptions):
        super().__init__()
        categorical = [spec.name for spec in attributes if spec.kind == "categorical"]
        if options.category is None:
            raise ConfigError("mocogan needs option category (a categorical attribute of the data set; a run fills "
                              f"in the data set's motion attribute), e.g. {_example(categorical[0] if categorical else 'action')}")
        if options.category not in categorical:
            raise ConfigError(f"mocogan: category {options.category!r} is not a categorical attribute of the data set "
                              f"(categorical: {', '.join(categorical) or 'none'})")
        self.config, self.attributes, self.options = config, attributes, options
        self.column = attributes.index(options.category)
        self.classes = attributes.spec(options.category).num_classes
        width = gan.base_width(config, options.width)
        code_dim = options.content_dim + self.classes + options.motion_dim
        self.motion = nn.GRUCell(options.noise_dim + self.classes, options.motion_dim)  # R_M
        self.image_generator = ImageGenerator(code_dim, config.channels, config.frame_size, width)  # G_I
        self.image_discriminator = ImageDiscriminator(config.channels, config.frame_size, width)  # D_I
        self.video_discriminator = VideoDiscriminator(config.channels, config.frame_size, width, self.classes)  # D_V

    @property
    def controlled_attributes(self) -> tuple[str, ...]:
        """Only the category: MoCoGAN draws everything else (content, motion) from noise."""
        return (self.options.category,)

    def check_clip_length(self, length: int, dataset: str = "the data set") -> None:
        if length < 2:
            raise ConfigError(f"{dataset} has clips of {length} frame(s); mocogan's video discriminator needs at least 2")

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.motion.parameters(), *self.image_generator.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.image_discriminator.parameters(), *self.video_discriminator.parameters()]

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": torch.optim.Adam(self.discriminator_parameters(), lr=lr, betas=(0.5, 0.999)),
                "generator": torch.optim.Adam(self.generator_parameters(), lr=lr, betas=(0.5, 0.999))}

    # -- the generator ----------------------------------------------------------------------------------

    def noise_size(self, length: int) -> int:
        """Values of noise one clip of ``length`` frames needs: z_C, h^(0), ε^(1..T)."""
        o = self.options
        return o.content_dim + o.motion_dim + length * o.noise_dim

    def render(self, categories: Tensor, noise: Tensor) -> Tensor:
        """Clips ``[B, T, C, H, W]`` in [−1, 1] for category indices ``[B, T]`` (long) and standard normal
        ``noise [B, noise_size(T)]`` (z_C, then h^(0), then ε^(1..T))."""
        o = self.options
        batch, length = categories.shape
        content, hidden, steps = noise.split([o.content_dim, o.motion_dim, length * o.noise_dim], dim=1)
        steps = steps.view(batch, length, o.noise_dim)
        z_a = F.one_hot(categories, self.classes).to(noise.dtype)  # [B, T, K]
        motions = []
        for t in range(length):  # z_M^(t) = R_M([ε^(t), z_A], z_M^(t-1))
            hidden = self.motion(torch.cat([steps[:, t], z_a[:, t]], dim=1), hidden)
            motions.append(hidden)
        codes = torch.cat([content[:, None].expand(-1, length, -1), z_a, torch.stack(motions, dim=1)], dim=2)
        return self.image_generator(codes.flatten(0, 1)).unflatten(0, (batch, length))

    def categories_of(self, labels: Tensor) -> Tensor:
        """Category indices ``[B, T]`` (long) of fully set labels ``[B, T, A]``."""
        column = labels[..., self.column]
        if torch.isnan(column).any():
            raise AttributeValueError(f"mocogan's category ({self.options.category}) must be set for generation; "
                                      "resolve free attributes first")
        return column.long()

    @torch.no_grad()
    def generate(self, labels: Tensor, first_frame: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Clips ``[B, T, C, H, W]`` in [0, 1] of the labels' category (any T); other columns are ignored."""
        self.check_capabilities(first_frame=first_frame is not None)
        categories = self.categories_of(labels)
        device = next(self.parameters()).device
        noise = torch.randn(labels.shape[0], self.noise_size(labels.shape[1]), generator=generator).to(device)
        return (self.render(categories.to(device), noise) + 1.0).div(2.0).clamp(0.0, 1.0)

    # -- the objective ----------------------------------------------------------------------------------

    def _sample(self, batch: VideoBatch, context: StepContext):
        """(fake clips in [−1, 1], their categories [B], the real clips' categories [B] with −1 for missing,
        each clip's frame index for D_I [B]): everything random from one ``context.noise`` call."""
        length = batch.frames.shape[1]
        size = self.noise_size(length)
        noise = context.noise(size + self.classes + 1)
        draws, pick, where = noise.split([size, self.classes, 1], dim=1)
        real = batch.labels[:, 0, self.column].to(noise.device)
        missing = torch.isnan(real)
        categories = torch.where(missing, pick.argmax(dim=1), torch.nan_to_num(real).long())
        frame = (torch.special.ndtr(where[:, 0]) * length).long().clamp(0, length - 1)  # uniform over frames
        fake = self.render(categories[:, None].expand(-1, length), draws)
        return fake, categories, torch.where(missing, -1, categories), frame

    def _discriminate(self, clips: Tensor, frame: Tensor):
        rows = torch.arange(clips.shape[0], device=clips.device)
        return self.image_discriminator(clips[rows, frame]), *self.video_discriminator(clips)

    def _category_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        with float32():
            if not bool((target >= 0).any()):
                return logits.float().sum() * 0.0
            return F.cross_entropy(logits.float(), target, ignore_index=-1)

    def _step(self, batch: VideoBatch, context: StepContext, update: bool) -> dict[str, Tensor]:
        fake, fake_category, real_category, frame = self._sample(batch, context)
        real = batch.frames * 2.0 - 1.0
        real_image, real_video, real_class = self._discriminate(real, frame)
        fake_image, fake_video, fake_class = self._discriminate(fake.detach(), frame)
        weight = self.options.category_weight
        d_image = gan.discriminator_loss(real_image, fake_image)
        d_video = gan.discriminator_loss(real_video, fake_video)
        d_category_real = self._category_loss(real_class, real_category)
        d_category_fake = self._category_loss(fake_class, fake_category)
        d_loss = d_image + d_video + d_category_real + weight * d_category_fake
        if update:
            context.optimize("discriminator", d_loss)
        g_image_logits, g_video_logits, g_class = self._discriminate(fake, frame)
        g_image = gan.generator_loss(g_image_logits)
        g_video = gan.generator_loss(g_video_logits)
        g_category = self._category_loss(g_class, fake_category)
        g_loss = g_image + g_video + weight * g_category
        if update:
            context.optimize("generator", g_loss)
        image_real, image_fake = gan.accuracy(real_image, fake_image)
        video_real, video_fake = gan.accuracy(real_video, fake_video)
        detached = lambda value: value.detach()  # noqa: E731
        return {"loss": detached(g_loss), "d_loss": detached(d_loss), "d_image": detached(d_image),
                "d_video": detached(d_video), "d_category_real": detached(d_category_real),
                "d_category_fake": detached(d_category_fake), "g_image": detached(g_image),
                "g_video": detached(g_video), "g_category": detached(g_category),
                "acc_image_real": image_real, "acc_image_fake": image_fake,
                "acc_video_real": video_real, "acc_video_fake": video_fake}

    def losses(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """The step's terms without updates (validation): ``loss`` is the generator's, ``d_loss`` the
        discriminators' (D_I + D_V + the category terms)."""
        return self._step(batch, context, update=False)

    def training_step(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """D_I and D_V on real clips and on fakes of the same categories, then G_I and R_M through the updated
        discriminators (the fakes are generated once)."""
        return self._step(batch, context, update=True)


@hookimpl
def register_models(register):
    register("mocogan", MoCoGAN, options=MoCoGANOptions,
             description="MoCoGAN: content code + GRU motion codes + category, image and video discriminators")


@hookimpl
def register_presets(register):
    register("mocogan", attrs.evolve(PAPER, architecture="mocogan"),
             description="MoCoGAN at 64×64 with DCGAN widths of 64 (Table 2; --size demo: 32×32)")
