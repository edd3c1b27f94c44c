"""An example whole-model plugin for videovae: a frame autoencoder with a GRU over its codes."""
