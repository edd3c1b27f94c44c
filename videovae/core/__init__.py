"""Interfaces and value objects of videovae; no concrete model code lives here."""

from .attributes import AttributeSet, AttributeSpec, parse_schedule
from .batch import VideoBatch
from .config import ModelConfig
from .distributions import DiagonalGaussian
from .errors import (
    AttributeValueError,
    CapabilityError,
    CheckpointError,
    ConfigError,
    DataError,
    InputShapeError,
    UnknownNameError,
    VideoVAEError,
)
from .interfaces import (
    BuildContext,
    Capabilities,
    FrameDecoder,
    FrameEncoder,
    LatentStructure,
    Likelihood,
    Metric,
    Sampler,
    StepContext,
    TemporalPrior,
    VideoDataset,
    VideoModel,
)

__all__ = [
    "AttributeSet", "AttributeSpec", "parse_schedule", "VideoBatch", "ModelConfig", "DiagonalGaussian",
    "AttributeValueError", "CapabilityError", "CheckpointError", "ConfigError", "DataError", "InputShapeError",
    "UnknownNameError", "VideoVAEError", "BuildContext", "Capabilities", "FrameDecoder", "FrameEncoder",
    "LatentStructure", "Likelihood", "Metric", "Sampler", "StepContext", "TemporalPrior", "VideoDataset", "VideoModel",
]
