"""A third-party plugin package, installed for real, is discovered through the entry-point group."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGE = REPO / "examples" / "plugin_package"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(PACKAGE)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"pip could not install the example plugin package: {result.stderr[-2000:]}")
    return target


def run_python(code: str, site, plugins: str | None = None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    if plugins is None:
        env.pop("VIDEOVAE_PLUGINS", None)
    else:
        env["VIDEOVAE_PLUGINS"] = plugins
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)


def test_entry_point_plugin_registers_through_the_kind_hooks_and_a_model_builds_from_them(installed):
    code = (
        "import json, torch, videovae\n"
        "from videovae.registry import get_registry\n"
        "r = get_registry()\n"
        "e = r.get('encoder', 'mlp')\n"
        "m = videovae.build_model('mlp-videovae', frame_size=16)\n"
        "m2 = videovae.build_model('tiny', encoder='mlp', decoder='mlp', encoder_options={'hidden': 32}, decoder_options={'hidden': 32})\n"
        "out = m2(torch.rand(2, 3, 3, 32, 32), torch.zeros(2, 3, 0))\n"
        "try:\n"
        "    videovae.build_model('mlp-videovae', encoder_options={'hiden': 32})\n"
        "except videovae.core.ConfigError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps({'plugin': e.plugin, 'package': e.package, 'encoder': type(m.encoder).__name__,"
        " 'hidden': m2.encoder.net[1].out_features, 'options': e.to_dict()['options'], 'hooks': r.hooks['mlp_codec'],"
        " 'shape': list(out.reconstruction.shape), 'failures': [f.error for f in r.failures], 'error': error}))\n"
    )
    result = run_python(code, installed)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data == {"plugin": "mlp_codec", "package": "videovae-mlp-codec 0.1.0", "encoder": "MLPEncoder", "hidden": 32,
                    "options": ["hidden"], "hooks": ["register_decoders", "register_encoders", "register_presets"],
                    "shape": [2, 3, 3, 32, 32], "failures": [],
                    "error": "encoder 'mlp': MLPOptions has no field(s) hiden; known fields: hidden"}


def test_cli_lists_the_plugin_with_its_package(installed):
    result = run_python("from videovae.cli import main; main(['plugins'])", installed)
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.strip().startswith("mlp "))
    assert "videovae-mlp-codec 0.1.0" in line


def test_plugins_env_var_can_leave_it_out(installed):
    result = run_python("from videovae.registry import get_registry; print(get_registry().names('encoder'))",
                        installed, plugins="")
    assert result.returncode == 0 and "mlp" not in result.stdout
