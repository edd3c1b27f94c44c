"""Registers the GRU autoencoder with videovae: a whole model (kind ``model``) and a preset using it."""

from __future__ import annotations

from videovae.core import ModelConfig
from videovae.registry import hookimpl

from .model import GRUAutoencoder, GRUModelOptions


@hookimpl
def register_models(register):
    register("gru-autoencoder", GRUAutoencoder, options=GRUModelOptions,
             description="frame autoencoder + GRU over its codes, two optimizers (example plugin)")


@hookimpl
def register_presets(register):
    register("gru-autoencoder", ModelConfig(architecture="gru-autoencoder", frame_size=32, latent_dim=32,
                                            state_dim=64, hidden_dim=64),
             description="the example GRU autoencoder at 32x32")
