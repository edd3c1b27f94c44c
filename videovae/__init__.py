"""videovae: probabilistic video generation with holistic attribute control (He et al., ECCV 2018)."""

__version__ = "0.1.0"

from .core import (AttributeSet, AttributeSpec, Capabilities, ModelConfig, StepContext, VideoModel,  # noqa: E402
                   VideoVAEError)
from .registry.factory import build_model  # noqa: E402
from .api import export, generate, list_components, load, load_pretrained, train  # noqa: E402
from .engine.trainer import TrainConfig  # noqa: E402

__all__ = [
    "__version__", "AttributeSet", "AttributeSpec", "Capabilities", "ModelConfig", "StepContext", "VideoModel",
    "VideoVAEError", "build_model",
    "export", "generate", "list_components", "load", "load_pretrained", "train", "TrainConfig",
]
