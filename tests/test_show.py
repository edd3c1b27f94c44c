"""``videovae show``: what a checkpoint or an exported folder holds, as text and as JSON; bad files are one line."""

import hashlib
import json

import pytest

import videovae
from conftest import TINY_TRAIN
from test_checkpoint_damage import flip_a_bit_in_a_tensor
from videovae.cli import main
from videovae.engine.archive import atomic_torch_save
from videovae.engine.checkpoint import read_checkpoint


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two steps, then resumed to three with another --grad-clip (an adjustment), and its float16 export."""
    out = tmp_path_factory.mktemp("run")
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--steps", "3", "--grad-clip", "5", "--no-progress"]) == 0
    videovae.export(out / "checkpoint.pt", out / "export", dtype="float16")
    return out


def show(capsys, *args) -> str:
    assert main(["show", *map(str, args)]) == 0
    return capsys.readouterr().out


def test_the_text_names_parts_preset_attributes_data_training_and_digests(run, capsys):
    path = run / "checkpoint.pt"
    lines = show(capsys, path).splitlines()
    text = "\n".join(lines)
    assert lines[0] == f"checkpoint   {path} (videovae-checkpoint, version 1)"
    assert lines[1] == f"sha256       {hashlib.sha256(path.read_bytes()).hexdigest()}  checkpoint.pt ({path.stat().st_size:,} bytes)"
    parameters = sum(p.numel() for p in videovae.load(path).model.parameters())
    for line in (f"digest       {read_checkpoint(path)['digest']} (of everything stored, checked by every load)",
                 "step         3, clips of 6 frames",
                 f"model        composed: {parameters:,} parameters, float32 (with the optimizer state)",
                 "  encoder    paper-conv     channels=[4, 8, 8, 16] kernels=[5, 5, 3, 3] strides=[1, 2, 1, 2] fc_dims=[64]",
                 "  latent     hierarchical", "  sampler    conditional", "  likelihood gaussian",
                 "  sizes      frames 3x32x32, latent_dim 16, state_dim 32, hidden_dim 32",
                 "preset       tiny",
                 "attributes   chair: chair000, chair001, chair002, chair003", "             rotation: ccw, cw",
                 "dataset      synthetic-chairs (num_objects=4, size=32, length=6), its default root",
                 "adjustments  grad_clip 0.0 -> 5.0 from step 2"):
        assert line in lines, (line, text)
    assert 'training     preset="tiny"' in text and "grad_clip=5.0" in text and "batch_size=4" in text
    assert [line for line in lines if line.startswith("versions     videovae 0.1.0, torch ")]


def test_json_holds_the_same_for_a_checkpoint_and_its_export(run, capsys):
    stored = json.loads(show(capsys, run / "checkpoint.pt", "--json"))
    exported = json.loads(show(capsys, run / "export", "--json"))
    assert stored["form"] == "checkpoint" and exported["form"] == "export" and exported["format"] == "videovae-export"
    same = ("step", "clip_length", "parameters", "model", "preset", "size", "attributes", "dataset", "train_config",
            "adjustments", "versions")
    assert {k: stored[k] for k in same} == {k: exported[k] for k in same}
    assert stored["parameters"] == sum(p.numel() for p in videovae.load(run / "checkpoint.pt").model.parameters())
    assert stored["model"]["parts"]["prior"] == {"name": "lstm", "options": {}}
    assert stored["model"]["sizes"] == {"frame_size": 32, "channels": 3, "latent_dim": 16, "state_dim": 32, "hidden_dim": 32}
    assert stored["adjustments"] == [{"step": 2, "field": "grad_clip", "from": 0.0, "to": 5.0}]
    assert stored["train_config"]["grad_clip"] == 5.0 and stored["dataset"]["options"]["num_objects"] == 4
    assert (stored["weights_dtype"], exported["weights_dtype"]) == ("float32", "float16")
    checkpoint_sha = hashlib.sha256((run / "checkpoint.pt").read_bytes()).hexdigest()
    assert stored["files"][0]["sha256"] == checkpoint_sha == exported["source"]["sha256"]
    assert [f["path"] for f in exported["files"]] == [str(run / "export" / "config.json"), str(run / "export" / "model.safetensors")]
    assert exported["files"][1]["sha256"] == hashlib.sha256((run / "export" / "model.safetensors").read_bytes()).hexdigest()
    text = show(capsys, run / "export" / "model.safetensors")
    assert text.startswith(f"export       {run / 'export'} (videovae-export, version 1)")
    assert f"source       checkpoint.pt sha256 {checkpoint_sha}" in text and ", float16\n" in text


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("videovae: error: ") and err.count("\n") == 1, err
    return err


def test_damaged_and_foreign_files_are_one_line(run, tmp_path, capsys):
    damaged = tmp_path / "checkpoint.pt"
    damaged.write_bytes((run / "checkpoint.pt").read_bytes())
    flip_a_bit_in_a_tensor(damaged)
    assert main(["show", str(damaged)]) == 2
    assert "checkpoint.pt is damaged: its contents do not match the digest" in error_line(capsys)
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["show", str(tmp_path / "notes.txt")]) == 2
    assert "is not a readable videovae checkpoint: it is a text file" in error_line(capsys)
    assert main(["show", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in error_line(capsys)
    assert main(["show", str(run)]) == 2
    assert "has no config.json (it holds checkpoint.pt: pass that file)" in error_line(capsys)
    payload = read_checkpoint(run / "checkpoint.pt")
    atomic_torch_save({**payload, "model_config": {**payload["model_config"], "latent_dim": -1}}, tmp_path / "bad.pt")
    assert main(["show", str(tmp_path / "bad.pt"), "--json"]) == 2
    assert "bad.pt: latent_dim must be a positive integer, got -1" in error_line(capsys)
