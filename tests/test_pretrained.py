"""Pretrained models that ship as package data (``videovae/pretrained/<name>/``): listed, loaded by name and by
``pretrained:NAME``, generated from with ``--pretrained``; tested on a tiny model exported into a folder that
``VIDEOVAE_PRETRAINED_DIR`` points the registry at."""

import fnmatch
import json

import pytest
import torch

import videovae
from conftest import REPO, TINY_TRAIN
from videovae.cli import main
from videovae.core.errors import CheckpointError, ConfigError, UnknownNameError
from videovae.engine.pretrained import PACKAGE_FOLDER, PRETRAINED_ENV, list_pretrained, load_pretrained

CARD = {"description": "tiny +C+S on four chairs, for tests", "command": "videovae train --preset tiny --steps 2",
        "checks": {"rotation_direction_correct": 0.5}}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A folder of pretrained models holding one, 'tiny-chairs' (float16, with its card), and its checkpoint."""
    run = tmp_path_factory.mktemp("run")
    assert main(TINY_TRAIN + ["--out", str(run), "--steps", "2"]) == 0
    root = tmp_path_factory.mktemp("pretrained")
    videovae.export(run / "checkpoint.pt", root / "tiny-chairs", dtype="float16")
    (root / "tiny-chairs" / "card.json").write_text(json.dumps(CARD))
    (root / "not-a-model").mkdir()  # a folder without config.json is not listed
    return root, run / "checkpoint.pt"


@pytest.fixture
def registry(shipped, monkeypatch):
    monkeypatch.setenv(PRETRAINED_ENV, str(shipped[0]))
    return shipped


def test_the_list_names_each_model_with_its_card_size_and_file(registry, capsys):
    root, _ = registry
    [model] = list_pretrained()
    weights = root / "tiny-chairs" / "model.safetensors"
    assert (model.name, model.description, model.command, model.checks) == ("tiny-chairs", CARD["description"],
                                                                             CARD["command"], CARD["checks"])
    assert model.size == weights.stat().st_size and model.weights == weights
    assert main(["pretrained"]) == 0
    assert capsys.readouterr().out == (f"tiny-chairs          {model.size / 1e6:6.2f} MB  {CARD['description']}  "
                                       f"({weights})\n")
    assert main(["pretrained", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["folder"] == str(root) and data["models"] == [model.to_dict()]
    assert list_pretrained(root=root) == [model]  # the same without the environment variable


def test_load_by_name_and_as_a_path_generate_the_checkpoints_clips(registry, tmp_path):
    _, checkpoint = registry
    expected = videovae.generate(videovae.load(checkpoint), num=3, seed=4, attributes={"rotation": "cw"})
    for loaded in (videovae.load_pretrained("tiny-chairs"), videovae.load("pretrained:tiny-chairs"),
                   load_pretrained("tiny-chairs", root=registry[0])):
        videos, labels = videovae.generate(loaded, num=3, seed=4, attributes={"rotation": "cw"})
        assert torch.equal(labels, expected[1]) and (videos - expected[0]).abs().max() < 0.02  # float16 weights
    model = videovae.build_model("tiny", checkpoint="pretrained:tiny-chairs")
    assert not model.training and model.config.latent_dim == 16
    videovae.export("pretrained:tiny-chairs", tmp_path / "copy", dtype="float32")  # keeps where it came from
    copied, shipped = (json.loads((f / "config.json").read_text()) for f in (tmp_path / "copy", registry[0] / "tiny-chairs"))
    assert copied["source"] == shipped["source"] and copied["weights"]["dtype"] == "float32"


def test_generate_takes_pretrained_or_checkpoint_exactly_one(registry, tmp_path, capsys):
    out = tmp_path / "samples"
    assert main(["generate", "--pretrained", "tiny-chairs", "--out", str(out), "--num", "2", "--formats", "png"]) == 0
    assert json.loads((out / "samples.json").read_text())["pretrained"] == "tiny-chairs"
    assert main(["generate", "--checkpoint", "pretrained:tiny-chairs", "--out", str(tmp_path / "same"), "--num", "2",
                 "--formats", "png"]) == 0
    assert (out / "samples.png").read_bytes() == (tmp_path / "same" / "samples.png").read_bytes()
    capsys.readouterr()
    for args, fragment in ((["--pretrained", "tiny-chairs", "--checkpoint", "x.pt"], "not allowed with argument"),
                           ([], "one of the arguments --checkpoint --pretrained is required")):
        with pytest.raises(SystemExit) as exited:
            main(["generate", "--out", str(tmp_path / "g"), *args])
        err = capsys.readouterr().err
        assert exited.value.code == 2 and fragment in err and err.count("\n") == 1
    assert main(["show", "pretrained:tiny-chairs"]) == 0
    assert capsys.readouterr().out.startswith(f"export       {registry[0] / 'tiny-chairs'} (videovae-export")


def test_an_unknown_name_lists_the_known_ones_in_one_line(registry, tmp_path, capsys):
    with pytest.raises(UnknownNameError, match=r"unknown pretrained model 'tiny-chair'; did you mean 'tiny-chairs'\?; "
                                               r"known: tiny-chairs; list them with `videovae pretrained`"):
        videovae.load_pretrained("tiny-chair")
    assert main(["generate", "--pretrained", "tiny-chair", "--out", str(tmp_path / "g")]) == 2
    assert "known: tiny-chairs" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_when_none_ships_the_list_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(PRETRAINED_ENV, str(tmp_path))
    assert list_pretrained() == []
    assert main(["pretrained"]) == 0
    assert capsys.readouterr().out == f"no pretrained model ships with this videovae (looked in {tmp_path})\n"
    with pytest.raises(UnknownNameError, match=f"known: \\(none\\); none ships with this videovae \\(looked in {tmp_path}\\)"):
        videovae.load("pretrained:demo-chairs")
    monkeypatch.setenv(PRETRAINED_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="VIDEOVAE_PRETRAINED_DIR must be a folder of pretrained models"):
        list_pretrained()


def test_a_malformed_card_is_one_line(shipped, tmp_path):
    root = tmp_path / "root"
    (root / "m").mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (root / "m" / name).write_bytes((shipped[0] / "tiny-chairs" / name).read_bytes())
    assert list_pretrained(root=root)[0].description == ""  # a card is optional
    (root / "m" / "card.json").write_text('{"description": 3}')
    with pytest.raises(CheckpointError, match="card.json should be an object with a string description and command"):
        list_pretrained(root=root)


def test_every_model_that_ships_loads_and_has_a_card(monkeypatch):
    """The package's own folder (empty until a model ships): each model in it loads, with a full card."""
    monkeypatch.delenv(PRETRAINED_ENV, raising=False)
    assert PACKAGE_FOLDER == REPO / "videovae" / "pretrained" and (PACKAGE_FOLDER / "__init__.py").is_file()
    for model in list_pretrained():
        assert model.description and model.command and model.checks is not None, model
        assert videovae.load_pretrained(model.name).model is not None


def test_the_package_data_patterns_ship_an_exported_folder():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data["videovae.pretrained"]
    for name in ("demo-chairs/model.safetensors", "demo-chairs/config.json", "demo-chairs/card.json"):
        assert any(fnmatch.fnmatch(name, pattern) and pattern.count("/") == name.count("/") for pattern in patterns)
