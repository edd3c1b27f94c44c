"""The hooks through which plugins add parts to videovae: one hook per kind.

A plugin is a module (or object) with functions marked ``@hookimpl``; built-in plugins live in
``videovae.plugins`` and third-party packages expose theirs in the ``videovae`` entry-point group.
Each hook receives a ``register`` callback, so a plugin records what it adds in one line per name
and the host knows which plugin added what::

    @hookimpl
    def register_encoders(register):
        register("mlp", MLPEncoder, options=MLPOptions, description="fully-connected frame encoder")

Why one hook per kind rather than one hook taking a kind: each hook's ``register`` has one factory
signature, typed and documented here, so a registration cannot name a kind the hook does not
take; ``videovae plugins`` can say which hooks a plugin implements; a misspelt hook (or the old
``register_components``) is refused by name instead of silently registering nothing.

Every ``register(...)`` call is checked when it is made: the name (non-empty, no spaces, not
taken: duplicates name both plugins), the factory (callable, and its signature can take what the
host passes), the options class (an attrs class or None) and, where it says, what the factory
builds. A refused registration is a one-line error naming the plugin, listed by ``videovae
plugins``; the plugin's other registrations still count.

A part is registered with its options class: the host builds the options from the config
(``encoder_options``, ``dataset_options``, ...) with :func:`videovae.core.config.make_options`,
so an unknown or mistyped option is a one-line error naming the part and the option, and calls
``factory(*inputs, options)``; a part registered with ``options=None`` takes no options and is
called as ``factory(*inputs)``.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, TypeVar

import pluggy

from ..core.attributes import AttributeSet
from ..core.config import ModelConfig
from ..core.interfaces import (
    FrameDecoder, FrameEncoder, LatentStructure, Likelihood, Metric, Sampler, TemporalPrior, VideoDataset,
)

hookspec = pluggy.HookspecMarker("videovae")
hookimpl = pluggy.HookimplMarker("videovae")

Factory = TypeVar("Factory", bound=Callable[..., Any], contravariant=True)


class Register(Protocol[Factory]):
    """The callback a ``register_<kind>s`` hook receives."""

    def __call__(self, name: str, factory: Factory, *, options: type | None, description: str = "") -> None: ...


class RegisterPreset(Protocol):
    """The callback :func:`register_presets` receives."""

    def __call__(self, name: str, config: ModelConfig, *, description: str = "") -> None: ...


#: ``factory(context, options)``, or ``factory(context)`` for a part registered with ``options=None``
EncoderFactory = Callable[..., FrameEncoder]
DecoderFactory = Callable[..., FrameDecoder]
LatentFactory = Callable[..., LatentStructure]
PriorFactory = Callable[..., TemporalPrior]
SamplerFactory = Callable[..., Sampler]
LikelihoodFactory = Callable[..., Likelihood]
#: ``factory(options)``, or ``factory()`` without options
MetricFactory = Callable[..., Metric]
#: ``factory(root, options)``: ``root`` is the data folder (str) or None
DatasetFactory = Callable[..., VideoDataset]
#: ``factory(config, attributes, options)``
ModelFactory = Callable[[ModelConfig, AttributeSet, Any], Any] | Callable[[ModelConfig, AttributeSet], Any]

# -- parts of a composed model (Fig. 2) -------------------------------------------------------


@hookspec
def register_encoders(register: Register[EncoderFactory]) -> None:
    """Register frame encoders φ_enc (frames ``[N, C, H, W]`` → features ``[N, feature_dim]``).

    :param register: call ``register(name, factory, options=OptionsClass | None, description=...)``
        once per encoder; the host calls ``factory(context, options)`` with a :class:`videovae.core.BuildContext`
        and the options built from the config's ``encoder_options``.
    :returns: nothing; each factory must build a :class:`videovae.core.FrameEncoder`.
    """


@hookspec
def register_decoders(register: Register[DecoderFactory]) -> None:
    """Register frame decoders φ_dec (latents ``[N, latent_dim]`` → mean frames, Eq. 6).

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        decoder; the host calls ``factory(context, options)`` (options from ``decoder_options``).
    :returns: nothing; each factory must build a :class:`videovae.core.FrameDecoder`.
    """


@hookspec
def register_latents(register: Register[LatentFactory]) -> None:
    """Register latent structures: the approximate posteriors ψ_q, ψ_a, ψ_dy of Eq. 4.

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        latent structure; the host calls ``factory(context, options)`` (options from ``latent_options``).
    :returns: nothing; each factory must build a :class:`videovae.core.LatentStructure`.
    """


@hookspec
def register_priors(register: Register[PriorFactory]) -> None:
    """Register temporal priors: the LSTM f_h of Eq. 2 and the prior ψ_p of Eq. 5.

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        prior; the host calls ``factory(context, options)`` (options from ``prior_options``).
    :returns: nothing; each factory must build a :class:`videovae.core.TemporalPrior`.
    """


@hookspec
def register_samplers(register: Register[SamplerFactory]) -> None:
    """Register samplers: what the LSTM receives at each step (Eq. 8 for conditional sampling).

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        sampler; the host calls ``factory(context, options)`` (options from ``sampler_options``).
    :returns: nothing; each factory must build a :class:`videovae.core.Sampler`.
    """


@hookspec
def register_likelihoods(register: Register[LikelihoodFactory]) -> None:
    """Register output likelihoods p(x | z): the reconstruction term of Eq. 9.

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        likelihood; the host calls ``factory(context, options)`` (options from ``likelihood_options``).
    :returns: nothing; each factory must build a :class:`videovae.core.Likelihood`.
    """


# -- whole models and compositions ------------------------------------------------------------


@hookspec
def register_models(register: Register[ModelFactory]) -> None:
    """Register whole models, built by name from ``ModelConfig.architecture``.

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        model; the host calls ``factory(config, attributes, options)`` with the
        :class:`ModelConfig`, the data set's :class:`AttributeSet` and the options built from
        ``architecture_options``. A model may build registered parts with
        :func:`videovae.registry.factory.build_part`.
    :returns: nothing; each factory must build a whole model (see :mod:`videovae.core.interfaces`).
    """


@hookspec
def register_presets(register: RegisterPreset) -> None:
    """Register named compositions: a :class:`ModelConfig` naming a model or one part of each kind.

    :param register: call ``register(name, config, description=...)`` once per preset with a
        :class:`videovae.core.ModelConfig`.
    :returns: nothing; every registration goes through ``register``.
    """


# -- data and scores --------------------------------------------------------------------------


@hookspec
def register_datasets(register: Register[DatasetFactory]) -> None:
    """Register data sets: labelled clip collections with named splits.

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        data set; the host calls ``factory(root, options)`` with the data folder (a str, or None
        for data sets that need none) and the options built from ``dataset_options``.
    :returns: nothing; each factory must build a :class:`videovae.core.VideoDataset`.
    """


@hookspec
def register_metrics(register: Register[MetricFactory]) -> None:
    """Register metrics that score generated videos (e.g. the entropies of Eq. 11, 12).

    :param register: call ``register(name, factory, options=..., description=...)`` once per
        metric; the host calls ``factory(options)`` (or ``factory()`` without options).
    :returns: nothing; each factory must build a :class:`videovae.core.Metric`.
    """
