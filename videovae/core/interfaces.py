"""Abstract interfaces of the parts a video model is composed of.

A VideoVAE (Fig. 2) is one part of each kind:

* :class:`FrameEncoder` φ_enc and :class:`FrameDecoder` φ_dec: frames ↔ vectors,
  called once over all B×T frames of a batch.
* :class:`LatentStructure`: the approximate posteriors ψ_q, ψ_a, ψ_dy of Eq. 4.
* :class:`TemporalPrior`: the LSTM f_h (Eq. 2) and the learned prior ψ_p (Eq. 5).
* :class:`Sampler`: what the LSTM receives at each step (Eq. 8 for conditional sampling).
* :class:`Likelihood`: p(x^(t) | z^(t)) around the decoded mean, the reconstruction term of Eq. 9.

:class:`VideoModel` is what every whole model implements (the composed VideoVAE, a
baseline, a user's own model): the engine trains, generates with and evaluates any
model through it alone. :class:`Metric` scores generated videos, :class:`VideoDataset` supplies clips with
attribute labels. Plugins register implementations by name (``videovae.registry``).
"""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Mapping

import attrs
import torch
from torch import Tensor, nn

from .attributes import AttributeSet
from .batch import VideoBatch
from .config import ModelConfig
from .distributions import DiagonalGaussian
from .errors import CapabilityError, InputShapeError


@attrs.frozen
class BuildContext:
    """Sizes shared by all parts of one model, handed to every component factory."""

    frame_shape: tuple[int, int, int]  # (C, H, W)
    latent_dim: int
    state_dim: int
    hidden_dim: int
    attributes: AttributeSet = attrs.field(factory=AttributeSet)
    feature_dim: int = 0  # filled in once the encoder is built
    attribute_dim: int = 0  # a's code size as seen by latent and prior (0 when unstructured)
    lstm_input_dim: int = 0  # filled in once the sampler is built
    phi_init: str = "torch"  # how parts draw their φ_τ layers ("torch" or "he"; the composed model's option)


class FrameEncoder(nn.Module, abc.ABC):
    """φ_enc: frames ``[N, C, H, W]`` → features ``[N, feature_dim]``."""

    feature_dim: int
    frame_shape: tuple[int, int, int]

    @abc.abstractmethod
    def forward(self, frames: Tensor) -> Tensor: ...

    def check_frames(self, frames: Tensor) -> None:
        """Raise a one-line error unless ``frames`` is ``[N, C, H, W]`` with this encoder's C, H, W."""
        if frames.ndim != 4 or tuple(frames.shape[1:]) != tuple(self.frame_shape):
            c, h, w = self.frame_shape
            raise InputShapeError(
                f"encoder expects frames of shape [N, {c}, {h}, {w}] (channels, height, width), got {tuple(frames.shape)}"
            )


class FrameDecoder(nn.Module, abc.ABC):
    """φ_dec (Eq. 6): latents ``[N, latent_dim]`` → mean frames µ_x ``[N, C, H, W]`` (pixel scale [0, 1];
    values outside are allowed in training and clamped when generating)."""

    @abc.abstractmethod
    def forward(self, z: Tensor) -> Tensor: ...


class LatentStructure(nn.Module, abc.ABC):
    """The approximate posteriors of Eq. 4.

    ``residual`` and ``conditional`` do not depend on time and run over all frames
    at once; only ``dynamic`` needs the LSTM state h^(t-1) and is stepped.
    """

    #: whether the attributes a enter the posterior and the prior (+S)
    uses_attributes: bool = True

    @abc.abstractmethod
    def residual(self, features: Tensor) -> DiagonalGaussian:
        """ψ_q = φ_τ(φ_enc(x)) for features ``[N, F]``."""

    @abc.abstractmethod
    def conditional(self, psi_q: DiagonalGaussian, attributes: Tensor) -> DiagonalGaussian:
        """ψ_a = φ_τ(ψ_q, a) for codes ``[N, attribute_dim]``."""

    @abc.abstractmethod
    def dynamic(self, psi_a: DiagonalGaussian, hidden: Tensor) -> DiagonalGaussian:
        """ψ_dy = φ_τ(ψ_a, φ_τ(h^(t-1))) for hidden states ``[B, state_dim]``."""


class TemporalPrior(nn.Module, abc.ABC):
    """The temporal model: an LSTM state, its transition f_h, and the prior ψ_p."""

    @abc.abstractmethod
    def initial_state(self, batch_size: int, *, device=None, generator: torch.Generator | None = None) -> Any:
        """The state before the first frame (h^(0), randomly initialised per Sec. 4.2)."""

    @abc.abstractmethod
    def hidden(self, state: Any) -> Tensor:
        """h from a state, ``[B, state_dim]``."""

    @abc.abstractmethod
    def prior(self, hidden: Tensor, attributes: Tensor) -> DiagonalGaussian:
        """ψ_p^(t) = φ_τ(φ_τ(h^(t-1)), a) (Eq. 5)."""

    @abc.abstractmethod
    def step(self, lstm_input: Tensor, state: Any) -> Any:
        """h^(t) = f_h(v^(t), h^(t-1)) (Eq. 2)."""


class Sampler(nn.Module, abc.ABC):
    """Decides the LSTM input v^(t) from the residual posterior ψ_q and the sample z^(t)."""

    @abc.abstractmethod
    def input_dim(self, latent_dim: int) -> int:
        """Size of v^(t) for latents of ``latent_dim``."""

    @abc.abstractmethod
    def lstm_input(self, psi_q: DiagonalGaussian, z: Tensor) -> Tensor:
        """v^(t): ψ_q alone (−C) or ψ_q with z^(t) (+C, Eq. 8)."""


class Likelihood(nn.Module, abc.ABC):
    """The output distribution p(x | z) around the decoder's mean µ_x (Eq. 6): the reconstruction
    term of Eq. 9. Sec. 4.1 says only "pixel-wise L1-loss"; the scale of that Laplace, or the choice of
    another distribution, is this part's."""

    @abc.abstractmethod
    def nll(self, mean: Tensor, frames: Tensor) -> Tensor:
        """−log p(x | z) of each frame, summed over its values: ``mean`` and ``frames`` ``[B, T, C, H, W]``
        → ``[B, T]``."""


class Metric(abc.ABC):
    """A score of a set of videos (e.g. the entropies of Eq. 11, 12 or the I-score of Eq. 10)."""

    name: str
    higher_is_better: bool

    @abc.abstractmethod
    def compute(self, videos: Tensor, context: Mapping[str, Any]) -> dict[str, float]:
        """Score ``videos [N, T, C, H, W]``; ``context`` carries what the metric needs (classifier, targets)."""


class VideoDataset(abc.ABC):
    """A labelled clip collection with named splits.

    ``split(name)`` returns a ``torch.utils.data.Dataset`` whose items are
    ``(frames [T, C, H, W] float in [0, 1], labels [T, A] float, NaN = missing)``.
    """

    attributes: AttributeSet
    frame_shape: tuple[int, int, int]
    #: attributes whose joint label the evaluation classifier predicts (empty: all)
    evaluation_attributes: tuple[str, ...] = ()
    #: how the labels of a clip change when it is played backwards, ``{attribute: {value: value}}``
    #: (e.g. a clockwise turn becomes counter-clockwise); attributes not named keep their value.
    #: None: a reversed clip is not a valid clip of this data (no time-reversal augmentation).
    time_reversal: Mapping[str, Mapping[str, str]] | None = None
    #: attributes seen in how frames change rather than in single frames (an action): the attribute
    #: inference net reads frame differences for them
    motion_attributes: tuple[str, ...] = ()

    @abc.abstractmethod
    def split(self, name: str) -> torch.utils.data.Dataset: ...

    def label_rows(self, name: str) -> Tensor:
        """First-frame labels ``[N, A]`` of every clip of a split (NaN = missing).

        The default reads every item; data sets that know their labels override it.
        """
        items = self.split(name)
        if len(items) == 0:
            return torch.empty(0, len(self.attributes))
        return torch.stack([items[i][1][0] for i in range(len(items))])

    def describe(self) -> str:
        return type(self).__name__


# -- whole models -----------------------------------------------------------------------------


@attrs.frozen
class Capabilities:
    """What a whole model can do; the engine refuses, in one line, what a model does not declare."""

    #: continues given first frames (mode iv of Sec. 5, future prediction)
    first_frame: bool = True
    #: generates from attributes alone, with no frame given (modes i-iii)
    attributes_only: bool = True
    #: has a posterior q(z|x), so it can reconstruct real clips (:meth:`VideoModel.reconstruct`)
    posterior: bool = False


@attrs.frozen(eq=False)
class StepContext:
    """What the trainer hands a model for one step.

    ``optimize(name, loss)`` runs the update of the optimizer ``name`` (one of
    :meth:`VideoModel.configure_optimizers`): zero its gradients, back-propagate ``loss``, average the
    gradients over processes, clip and record their norm, and step. A model may call it several times
    in one step (a GAN: the discriminator, then the generator).
    ``noise(*shape)`` is standard normal noise ``[B, *shape]`` that depends only on (seed, step, clip),
    so a resumed or distributed run draws exactly the noise of an uninterrupted single-process one.
    """

    step: int
    kl_weight: float
    noise: Callable[..., Tensor]
    optimize: Callable[[str, Tensor], None]


class VideoModel(nn.Module, abc.ABC):
    """The protocol of a whole video model, as the engine sees it.

    A model is built from a :class:`ModelConfig` and the data set's :class:`AttributeSet` by a
    factory registered under kind ``model``; its weights are its ``state_dict``. Training calls
    :meth:`configure_optimizers` once and :meth:`training_step` per batch; validation calls
    :meth:`losses` without gradients; generation calls :meth:`generate` within the declared
    :attr:`capabilities`.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    #: the learning rate a run uses when none is given (``TrainConfig.lr`` None): the one recipe's 1e-3
    #: (docs/own_data.md) for the VAEs; a model trained otherwise (a GAN: 2e-4) says so here
    default_lr: ClassVar[float] = 1e-3
    #: the relative gradient clip a run uses when none is given (``TrainConfig.spike_clip`` None): cut an update
    #: whose gradient norm is above this many times the median of the last 100 (0: off). 10 for the VAEs: it left
    #: every recipe run measured untouched and kept the 64×64 run on ``moving-sprites`` from diverging
    #: (docs/own_data.md, "The relative clip by default"); a model whose norms jump by design (a GAN's
    #: discriminator) says 0 here
    default_spike_clip: ClassVar[float] = 10.0
    config: ModelConfig
    attributes: AttributeSet

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers over this model's parameters; the default is one Adam (A.4) named ``model``."""
        return {"model": torch.optim.Adam(self.parameters(), lr=lr)}

    @abc.abstractmethod
    def losses(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """Named scalar losses of ``batch``; ``"loss"`` is the one a single-optimizer model minimises and the
        one validation reports first."""

    def training_step(self, batch: VideoBatch, context: StepContext) -> dict[str, Tensor]:
        """One update on ``batch``; returns the named losses to log. The default minimises
        ``losses(...)["loss"]`` with the optimizer ``model``; models with several optimizers override it."""
        losses = self.losses(batch, context)
        context.optimize("model", losses["loss"])
        return losses

    @abc.abstractmethod
    def generate(self, labels: Tensor, first_frame: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Videos ``[B, T, C, H, W]`` in [0, 1] steered by fully specified labels ``[B, T, A]``, continuing
        ``first_frame [B, C, H, W]`` when given (see :attr:`capabilities`)."""

    def reconstruct(self, frames: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Reconstructions ``[B, T, C, H, W]`` of real clips through the model's posterior."""
        raise CapabilityError(f"{type(self).__name__} has no posterior to reconstruct clips with")

    def attribute_codes(self, labels: Tensor) -> Tensor:
        """The codes the model conditions on for labels ``[..., A]`` (empty when it uses none)."""
        return self.attributes.encode(labels)

    @property
    def controlled_attributes(self) -> tuple[str, ...]:
        """The attributes that steer this model's generation (all of the data set's by default). A user who
        sets another one (``--attr``, ``videovae.generate(attributes=...)``) is refused in one line; the
        engine still passes full label rows, whose other columns the model ignores."""
        return tuple(self.attributes.names)

    def check_clip_length(self, length: int, dataset: str = "the data set") -> None:
        """Raise a one-line :class:`~videovae.core.errors.ConfigError` when clips of ``length`` frames cannot
        train this model (a generator of a fixed length needs at least that many); called before a run writes
        anything. The default accepts any length."""

    def trained_length(self, clip_length: int) -> int:
        """The frames of a training clip of ``clip_length`` that this model trains on, and so the length its samples,
        health checks and default generation use (a generator of a fixed length trains on a clip's first frames).
        The default is the whole clip."""
        return clip_length

    def check_capabilities(self, *, first_frame: bool) -> None:
        """Raise a one-line :class:`CapabilityError` unless this model can generate in the asked mode."""
        name = self.config.architecture
        if first_frame and not self.capabilities.first_frame:
            raise CapabilityError(f"model {name!r} cannot continue a first frame (it generates from attributes only)")
        if not first_frame and not self.capabilities.attributes_only:
            raise CapabilityError(f"model {name!r} generates only from a first frame; pass one")

    def describe(self) -> dict[str, Any]:
        return {"architecture": self.config.architecture, "attributes": list(self.attributes.names),
                "parameters": sum(p.numel() for p in self.parameters())}
