"""Exported models (``videovae export``): weights as safetensors + config.json, loaded wherever a checkpoint is,
generating the same clips; damaged or foreign files are one line; writes are all or nothing."""

import errno
import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file

import videovae
from conftest import TINY_TRAIN
from videovae.cli import main
from videovae.core.errors import CheckpointError, ConfigError
from videovae.engine import export as export_module
from videovae.engine.checkpoint import read_checkpoint


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    return out


@pytest.fixture(scope="module")
def exports(run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    for dtype in ("float32", "float16"):
        assert videovae.export(run / "checkpoint.pt", folder / dtype, dtype=dtype) == folder / dtype
    return folder


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("videovae: error: ") and err.count("\n") == 1, err
    return err


def test_the_folder_holds_the_weights_only_and_a_config_describing_them(run, exports):
    stored = read_checkpoint(run / "checkpoint.pt")
    folder = exports / "float32"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    tensors = load_file(folder / "model.safetensors")
    assert set(tensors) == set(stored["model_state"]) | {"videovae:label_table"}  # no optimizer or random state
    assert all(torch.equal(tensors[k], v) for k, v in stored["model_state"].items())
    config = json.loads((folder / "config.json").read_text())
    assert (config["format"], config["format_version"], config["step"], config["clip_length"]) == ("videovae-export", 1, 2, 6)
    assert config["source"] == {"file": "checkpoint.pt", "digest": stored["digest"],
                                "sha256": hashlib.sha256((run / "checkpoint.pt").read_bytes()).hexdigest()}
    assert config["weights"]["sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert config["model_config"]["latent_dim"] == 16 and config["model_config"]["encoder_options"]["channels"] == [4, 8, 8, 16]
    assert [a["name"] for a in config["attributes"]] == ["chair", "tilt", "rotation"]
    assert config["dataset"]["name"] == "synthetic-chairs" and config["dataset"]["options"]["num_objects"] == 4
    assert config["train_config"]["preset"] == "tiny" and config["adjustments"] == []
    assert config["versions"] == stored["versions"] and config["attribute_net"] is None


def test_float16_halves_the_weights_and_loads_back_as_float32(exports):
    sizes = {d: (exports / d / "model.safetensors").stat().st_size for d in ("float32", "float16")}
    assert sizes["float16"] < 0.55 * sizes["float32"]
    tensors = load_file(exports / "float16" / "model.safetensors")
    assert tensors["videovae:label_table"].dtype == torch.float32  # data, not weights: never cast
    assert {t.dtype for k, t in tensors.items() if not k.startswith("videovae:")} == {torch.float16}
    loaded = videovae.load(exports / "float16")
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}


@pytest.mark.parametrize("name", ["", "config.json", "model.safetensors"])
def test_the_same_clips_from_the_checkpoint_and_its_export(run, exports, name):
    reference = videovae.load(run / "checkpoint.pt")
    frame = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    for kwargs in ({"attributes": {"rotation": "cw"}}, {"first_frames": frame}, {}):
        videos, labels = videovae.generate(reference, num=3, seed=5, **kwargs)
        exact = videovae.generate(videovae.load(exports / "float32" / name), num=3, seed=5, **kwargs)
        assert torch.equal(exact[0], videos) and torch.equal(exact[1], labels)
        close = videovae.generate(videovae.load(exports / "float16" / name), num=3, seed=5, **kwargs)
        assert torch.equal(close[1], labels) and (close[0] - videos).abs().max() < 0.02


def test_generate_and_build_model_read_an_export(run, exports, tmp_path, capsys):
    for source, out in ((run / "checkpoint.pt", tmp_path / "a"), (exports / "float32", tmp_path / "b")):
        assert main(["generate", "--checkpoint", str(source), "--out", str(out), "--num", "2", "--formats", "png"]) == 0
    assert (tmp_path / "a" / "samples.png").read_bytes() == (tmp_path / "b" / "samples.png").read_bytes()
    reference = videovae.load(run / "checkpoint.pt").model.state_dict()
    for source in (run / "checkpoint.pt", exports / "float32", str(exports / "float32" / "config.json")):
        for model in (videovae.build_model("tiny", checkpoint=source), videovae.build_model(checkpoint=source)):
            assert not model.training and all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("kwargs, fragment", [
    ({"preset": "demo"}, "stores another model than preset 'demo': latent_dim 16 (asked for 128), state_dim 32 "
                         "(asked for 256), hidden_dim 32 (asked for 256) and 2 more fields; name the preset and "
                         "overrides it was trained with (it was trained with preset 'tiny')"),
    ({"preset": "tiny", "sampler": "unconditional"}, "than preset 'tiny' with the overrides: sampler \"conditional\" "
                                                     "(asked for \"unconditional\")"),
    ({"preset": "tiny", "attributes": videovae.AttributeSet()}, "was trained with the attributes chair, tilt, rotation, "
                                                                "given none; leave attributes out"),
])
def test_build_model_refuses_a_checkpoint_of_another_model_in_one_line(exports, kwargs, fragment):
    with pytest.raises(CheckpointError) as caught:
        videovae.build_model(checkpoint=exports / "float16", **kwargs)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="checkpoint expects the path of a checkpoint file or an exported folder"):
        videovae.build_model("tiny", checkpoint=3)


def test_an_export_converts_to_float16_keeping_its_source(exports, tmp_path):
    assert main(["export", str(exports / "float32"), "--out", str(tmp_path / "half"), "--dtype", "float16"]) == 0
    converted = json.loads((tmp_path / "half" / "config.json").read_text())
    original = json.loads((exports / "float16" / "config.json").read_text())
    assert converted["source"] == original["source"] and converted["weights"]["dtype"] == "float16"
    converted, direct = (load_file(f / "model.safetensors") for f in (tmp_path / "half", exports / "float16"))
    assert converted.keys() == direct.keys() and all(torch.equal(converted[k], direct[k]) for k in direct)


def copy_export(exports, tmp_path, dtype="float32"):
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((exports / dtype / name).read_bytes())
    return folder


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: f.joinpath("model.safetensors").write_bytes(bytes([b ^ (i == 4000) for i, b in enumerate(
        f.joinpath("model.safetensors").read_bytes())])), "model.safetensors is damaged or is not the file config.json describes"),
    (lambda f: f.joinpath("model.safetensors").unlink(), "has no model.safetensors; expected the weights"),
    (lambda f: f.joinpath("config.json").write_text("{not json"), "config.json is not a readable videovae export config"),
    (lambda f: f.joinpath("config.json").write_text('{"format": "other"}'), "no 'videovae-export' format marker"),
    (lambda f: f.joinpath("config.json").write_text('{"format": "videovae-export", "format_version": 9}'),
     "has export format version 9, this videovae reads version 1"),
    (lambda f: f.joinpath("config.json").unlink(), "has no config.json; expected a checkpoint file or a folder written"),
])
def test_a_damaged_or_foreign_export_is_one_line(exports, tmp_path, capsys, damage, fragment):
    folder = copy_export(exports, tmp_path)
    damage(folder)
    with pytest.raises(CheckpointError) as caught:
        videovae.load(folder)
    assert fragment in str(caught.value)
    assert main(["generate", "--checkpoint", str(folder), "--out", str(tmp_path / "g")]) == 2
    assert fragment in error_line(capsys) and not (tmp_path / "g").exists()
    assert main(["export", str(folder), "--out", str(tmp_path / "e")]) == 2
    assert fragment in error_line(capsys) and not (tmp_path / "e").exists()


def test_a_run_folder_is_pointed_to_its_checkpoint(run):
    with pytest.raises(CheckpointError, match=r"has no config.json \(it holds checkpoint.pt: pass that file\)"):
        videovae.load(run)


def test_a_failed_write_leaves_nothing_and_keeps_an_earlier_export(run, exports, tmp_path, capsys, monkeypatch):
    folder = copy_export(exports, tmp_path, "float16")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export_module, "atomic_write_text", full_disk)  # the config, after the weights
    assert main(["export", str(run / "checkpoint.pt"), "--out", str(folder)]) == 2
    assert "no space left on device writing" in error_line(capsys)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert main(["export", str(run / "checkpoint.pt"), "--out", str(tmp_path / "new" / "deeper")]) == 2
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--dtype", "bfloat16"], "argument --dtype: invalid choice: 'bfloat16'"),
    ([], "the following arguments are required: --out"),
])
def test_bad_arguments_are_one_line(run, capsys, args, fragment):
    with pytest.raises(SystemExit) as exited:
        main(["export", str(run / "checkpoint.pt")] + args)
    assert exited.value.code == 2 and fragment in capsys.readouterr().err


def test_float16_refuses_weights_beyond_its_range(run, tmp_path, monkeypatch):
    from videovae.engine import checkpoint as checkpoint_module

    original = checkpoint_module.Checkpoint.from_payload

    def huge(payload, where="checkpoint"):
        state = dict(payload["model_state"])
        name = next(iter(state))
        state[name] = state[name].clone().fill_(1e6)
        return original({**payload, "model_state": state}, where)

    monkeypatch.setattr(checkpoint_module.Checkpoint, "from_payload", staticmethod(huge))
    with pytest.raises(ConfigError, match=r"holds values beyond torch.float16's range \(largest 1e\+06\); export it as float32"):
        videovae.export(run / "checkpoint.pt", tmp_path / "half", dtype="float16")
    assert not (tmp_path / "half").exists()
    with pytest.raises(ConfigError, match="dtype must be one of float32, float16, got 'int8'"):
        videovae.export(run / "checkpoint.pt", tmp_path / "half", dtype="int8")


def test_a_semi_supervised_run_exports_its_attribute_net(tmp_path):
    """Continuing first frames infers the free attributes with the run's attribute net: the export carries it."""
    run = tmp_path / "semi"
    assert main(TINY_TRAIN + ["--out", str(run), "--steps", "1", "--labelled-fraction", "0.5", "--inference-steps", "2",
                              "--inference-pretrain-steps", "1", "--inference-self-training-steps", "1"]) == 0
    videovae.export(run / "checkpoint.pt", tmp_path / "export")
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert config["attribute_net"]["format"] == "videovae-attribute-net" and "state" not in config["attribute_net"]
    assert any(k.startswith("videovae:attribute_net/") for k in load_file(tmp_path / "export" / "model.safetensors"))
    frames = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    reference, exported = (videovae.load(p) for p in (run / "checkpoint.pt", tmp_path / "export"))
    assert exported.checkpoint.attribute_net is not None
    expected = videovae.generate(reference, num=4, seed=1, first_frames=frames)
    got = videovae.generate(exported, num=4, seed=1, first_frames=frames)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_evaluate_scores_an_export_as_its_checkpoint(run, exports, tmp_path):
    flags = ["--out", str(tmp_path / "eval"), "--videos-per-class", "1", "--prediction-clips", "2", "--best-of", "1",
             "--classifier-steps", "2", "--classifier-dir", str(tmp_path / "classifiers")]
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--checkpoint", str(exports / "float32"), *flags]) == 0
    rows = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["rows"]
    assert rows["checkpoint.pt"] == rows["float32"] and "intra_entropy" in rows["float32"]
