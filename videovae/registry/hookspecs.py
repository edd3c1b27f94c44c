"""The hooks through which plugins add parts to videovae.

A plugin is a module (or object) with functions marked ``@hookimpl``; built-in
plugins live in ``videovae.plugins`` and third-party packages expose theirs in
the ``videovae`` entry-point group. Each hook receives a ``register`` callback,
so a plugin records what it adds in one line per name and the host knows which
plugin added what.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("videovae")
hookimpl = pluggy.HookimplMarker("videovae")

#: The kinds of named parts, in the order ``videovae plugins`` lists them.
COMPONENT_KINDS = ("encoder", "decoder", "latent", "prior", "sampler", "metric", "dataset", "model")


class RegisterComponent(Protocol):
    def __call__(self, kind: str, name: str, factory: Callable[..., Any], description: str = "") -> None: ...


class RegisterPreset(Protocol):
    def __call__(self, name: str, config: Any, description: str = "") -> None: ...


@hookspec
def register_components(register: RegisterComponent) -> None:
    """Register parts by kind and name.

    :param register: call ``register(kind, name, factory, description)`` once per part.
        ``kind`` is one of :data:`COMPONENT_KINDS`. Factories are called as:

        * encoder, decoder, latent, prior, sampler: ``factory(context, options)`` with a
          :class:`videovae.core.BuildContext` and the part's option mapping; returns the
          module implementing the matching interface of :mod:`videovae.core.interfaces`.
        * dataset: ``factory(root, **options)``; returns a :class:`videovae.core.VideoDataset`.
        * metric: ``factory(**options)``; returns a :class:`videovae.core.Metric`.
        * model: ``factory(config, attributes)``; returns a whole model (for baselines that
          are not compositions of the parts above).
    :returns: nothing; every registration goes through ``register``.
    """


@hookspec
def register_presets(register: RegisterPreset) -> None:
    """Register named compositions of parts.

    :param register: call ``register(name, config, description)`` with a
        :class:`videovae.core.ModelConfig` naming one part of each kind and its sizes.
    :returns: nothing; every registration goes through ``register``.
    """
