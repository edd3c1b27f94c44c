"""The benchmark scripts of issue 20 items 1 and 3: the codec layers' reformulations compute the plain layer
(output, input gradient, weight gradient), and the environment benchmark builds its settings and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
try:
    import environment
    import layer_forms
finally:
    sys.path.remove(str(REPO / "benchmarks"))


def run_form(call, layer, x, grad):
    inp = x.detach().requires_grad_()
    layer.zero_grad(set_to_none=True)
    y = call(inp)
    y.backward(grad)
    return y.detach(), inp.grad, layer.weight.grad.clone(), layer.bias.grad.clone()


@pytest.mark.parametrize("layer, size", [
    (nn.Conv2d(3, 5, 5), 13),                                    # odd input: phases padded
    (nn.Conv2d(4, 6, 3), 12),
    (nn.ConvTranspose2d(6, 3, 9), 10),                           # A.4's output layer, small
    (nn.ConvTranspose2d(5, 4, 3, stride=3, output_padding=1), 4),  # A.4's stride-3 kind
    (nn.ConvTranspose2d(5, 4, 5, stride=2, output_padding=1), 6),
])
@pytest.mark.parametrize("channels_last", [True, False])
def test_every_form_computes_the_plain_layer(layer, size, channels_last):
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    layer = layer.to(memory_format=fmt)
    x = torch.rand(2, layer.in_channels, size, size).contiguous(memory_format=fmt)
    calls = layer_forms.forms(layer)
    expected = {"plain"} | ({"backward-data"} if isinstance(layer, nn.ConvTranspose2d) else set())
    if layer.stride[0] == 1:
        expected |= {"s2d-2", "s2d-4"} | ({"flipped"} if isinstance(layer, nn.ConvTranspose2d) else set())
        expected |= {"fft"} if isinstance(layer, nn.ConvTranspose2d) and layer.kernel_size[0] >= 7 else set()
    assert set(calls) == expected
    grad = torch.randn(layer(x).shape)
    plain = run_form(calls["plain"], layer, x, grad)
    for name, call in calls.items():
        for what, got, want in zip(("output", "input grad", "weight grad", "bias grad"), run_form(call, layer, x, grad), plain):
            assert got.shape == want.shape, (name, what)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=f"{name}: {what}")


def test_phase_index_places_every_kernel_entry_once_per_output_phase():
    k, r = 9, 4
    index = layer_forms.phase_index(k, r)
    assert index.shape == (r, r, r, r, 3, 3)
    for a in range(r):
        for b in range(r):
            held = index[a, b].flatten()
            assert sorted(held[held < k * k].tolist()) == list(range(k * k))


def test_environment_settings_and_bad_preload(tmp_path):
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"")
    table = environment.settings([("fake", str(lib))], bind=True)
    assert table == {"plain": {}, "fake": {"LD_PRELOAD": str(lib)}, "plain + bind": environment.BIND,
                     "fake + bind": {"LD_PRELOAD": str(lib), **environment.BIND}}
    for bad, message in (("fake", "NAME=PATH"), (f"fake={tmp_path / 'missing.so'}", "no file")):
        proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "environment.py"), "--preload", bad],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr


def test_environment_benchmark_runs_and_compares_with_plain(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
           "VIDEOVAE_PLUGINS": ""}
    out = tmp_path / "environment.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "environment.py"), "--quick", "--rounds", "1",
                           "--threads", "1", "--output", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    plain = report["settings"]["plain"]
    assert set(report["settings"]) == {"plain"} and plain["env"] == {}
    assert plain["train_vs_plain"] == plain["generate_vs_plain"] == 1.0
    assert plain["median"]["train_frames_per_s"] > 0 and plain["median"]["generate_videos_per_s"] > 0
    assert report["machine"]["usable_cpus"] >= 1 and "| plain |" in proc.stdout
