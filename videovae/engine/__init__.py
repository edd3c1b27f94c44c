"""Training, checkpoints and generation around a composed model."""
