"""Bad input on the command line (issue 18, items 5 and 6): one line, exit status 2, nothing written."""

import errno
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY_TRAIN
from videovae.cli import main

TRAIN = TINY_TRAIN


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(TRAIN + ["--out", str(out), "--steps", "1"]) == 0
    return out / "checkpoint.pt"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ": error: " in err, err
    return err.strip()


def run(argv) -> int:
    """``main(argv)``'s exit status, also when argparse exits (its errors are one line too)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def generate(checkpoint, out, *args) -> list[str]:
    return ["generate", "--checkpoint", str(checkpoint), "--out", str(out), "--num", "1", *args]


def test_an_output_path_that_is_a_file_is_refused_by_train_and_generate(checkpoint, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert run(TRAIN + ["--out", str(afile), "--steps", "1"]) == 2
    assert f"--out {afile} is a file; expected a folder" in one_error_line(capsys)
    assert run(TRAIN + ["--out", str(afile / "sub"), "--steps", "1"]) == 2
    assert f"cannot be a folder: {afile} is a file" in one_error_line(capsys)
    assert run(generate(checkpoint, afile)) == 2
    assert f"--out {afile} is a file" in one_error_line(capsys)
    assert run(["evaluate", "--checkpoint", str(checkpoint), "--out", str(afile)]) == 2
    assert f"--out {afile} is a file" in one_error_line(capsys)
    assert run(["infer-attributes", "--net", "x.pt", "--dataset", "synthetic-chairs", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a folder; expected the path of a file" in one_error_line(capsys)
    assert afile.read_text() == "mine"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_generate_into_a_read_only_folder_is_one_line(checkpoint, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert run(generate(checkpoint, folder)) == 2
        assert one_error_line(capsys) == f"videovae: error: permission denied writing {folder}: nothing was written"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("read_only, reason", [(False, "permission denied"), (True, "read-only file system")])
def test_an_unwritable_output_folder_is_refused_before_the_checkpoint_is_read_saying_why(
        checkpoint, tmp_path, capsys, monkeypatch, read_only, reason):
    """The check a non-root user meets on a read-only folder, with ``os.access`` (and ``statvfs``, which tells a
    file system mounted read-only) answering as they would: the cause is the one training names."""
    folder = tmp_path / "ro"
    folder.mkdir()
    monkeypatch.setattr("videovae.io.outputs.os.access", lambda path, mode: Path(path) != folder)
    flags = os.ST_RDONLY if read_only else 0
    monkeypatch.setattr("videovae.io.outputs.os.statvfs", lambda path: type("StatVFS", (), {"f_flag": flags}), raising=False)
    monkeypatch.setattr("videovae.api.load", lambda *args: pytest.fail("the checkpoint was read"))
    assert run(generate(checkpoint, folder / "new")) == 2
    assert one_error_line(capsys) == f"videovae: error: {reason} writing {folder / 'new'}: nothing was written"
    assert list(folder.iterdir()) == []


def test_a_write_into_a_read_only_file_system_says_so_as_training_does(checkpoint, tmp_path, capsys, monkeypatch):
    out = tmp_path / "g"

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[-1]))

    monkeypatch.setattr("videovae.io.video._WRITERS", {".gif": read_only})
    assert run(generate(checkpoint, out, "--formats", "png,gif")) == 2
    assert one_error_line(capsys) == f"videovae: error: read-only file system writing {out}: nothing was written"
    assert not out.exists()


def test_a_failed_write_leaves_the_output_folder_as_it_was(checkpoint, tmp_path, capsys, monkeypatch):
    """A write that fails after another succeeded (read-only as root cannot be made; a full disk): one
    line, and neither the file written first nor a staging folder stays behind; an older file survives."""
    out = tmp_path / "g"
    out.mkdir()
    (out / "samples.png").write_bytes(b"older")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("videovae.io.video.save_gif", refuse)
    monkeypatch.setattr("videovae.io.video._WRITERS", {".gif": refuse})
    assert run(generate(checkpoint, out, "--formats", "png,gif")) == 2
    assert one_error_line(capsys) == f"videovae: error: permission denied writing {out}: nothing was written"
    assert sorted(p.name for p in out.iterdir()) == ["samples.png"] and (out / "samples.png").read_bytes() == b"older"
    fresh = tmp_path / "new" / "deeper"
    assert run(generate(checkpoint, fresh, "--formats", "png,gif")) == 2
    one_error_line(capsys)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("fps", ["0", "nan", "-1", "inf", "1e-9"])
def test_a_bad_fps_is_refused_before_anything_is_written(checkpoint, tmp_path, capsys, fps):
    out = tmp_path / "g"
    assert run(generate(checkpoint, out, "--fps", fps, "--formats", "png,gif")) == 2
    assert "--fps must be a number from 0.01 to 1000" in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("args, fragment", [
    (["--attr", "rotation=cw@0,ccw@²"], "schedule item 'ccw@²' must look like 'value@frame'"),
    (["--attr", "rotation=cw@0,ccw@٣"], "must look like 'value@frame'"),
    (["--attr", "rotation=cw", "--attr", "rotation=ccw"], "--attr gives 'rotation' twice ('cw' and 'ccw')"),
    (["--name", "sub/dir/x"], "--name must be a plain file name stem"),
    (["--name", ".."], "--name must be a plain file name stem"),
    (["--name", "a\\b"], "--name must be a plain file name stem"),
    (["--length", "0"], "--length must be a positive integer, got 0"),
])
def test_generate_refuses_in_one_line(checkpoint, tmp_path, capsys, args, fragment):
    out = tmp_path / "g"
    assert run(generate(checkpoint, out, *args)) == 2
    assert fragment in one_error_line(capsys)
    assert not out.exists()


def test_a_png_header_claiming_20000x20000_is_one_line(checkpoint, tmp_path, capsys):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    out = tmp_path / "g"
    assert run(generate(checkpoint, out, "--first-frame", str(bomb))) == 2
    assert "claims 400000000 pixels, more than the" in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 40 + "]" * 40])
def test_a_set_value_nested_too_deep_is_one_line(tmp_path, capsys, value):
    out = tmp_path / "r"
    assert run(TRAIN + ["--out", str(out), "--steps", "1", "--set", f"encoder_options={value}"]) == 2
    assert "encoder_options: the value is nested more than 32 levels deep" in one_error_line(capsys)
    assert not out.exists()


def test_a_stored_label_table_of_the_wrong_kind_is_one_line(checkpoint, tmp_path, capsys):
    payload = torch.load(checkpoint, weights_only=True)
    payload.pop("digest")  # a hand-made file: no digest to check, so the field checks speak
    for bad, fragment in [("oops", "should be Tensor, got str"), (torch.zeros(4), "should be float rows [N, 3]")]:
        payload["label_table"] = bad
        torch.save(payload, tmp_path / "bad.pt")
        assert run(generate(tmp_path / "bad.pt", tmp_path / "g")) == 2
        assert fragment in one_error_line(capsys)
    assert not (tmp_path / "g").exists()


def folder_data(root, labels: str):
    root.mkdir()
    Image.fromarray(np.zeros((32, 32 * 6, 3), np.uint8)).save(root / "a.png")
    (root / "labels.csv").write_bytes(labels.encode())
    return root


@pytest.mark.parametrize("labels, fragment", [
    ('"clip\nx",rot\na,cw\n', "header row: cell 'clip\\nx' holds a line break"),
    ('clip,"rot\r\nx"\na,cw\n', "header row: cell 'rot\\r\\nx' holds a line break"),
    ("clip,rot\na,c\x00w\n", "line 2: cell 'c\\x00w' holds a NUL byte"),
    ('clip,rot\n"a\u2028b",cw\n', "holds a line break"),
])
def test_labels_csv_cells_with_line_breaks_or_nul_bytes_are_refused_in_one_line(tmp_path, capsys, labels, fragment):
    root = folder_data(tmp_path / "clips", labels)
    out = tmp_path / "r"
    assert run(["train", "--dataset", "folder", "--data-root", str(root), "--preset", "tiny", "--dataset-option",
                "length=6", "--steps", "1", "--batch-size", "1", "--no-progress", "--out", str(out)]) == 2
    assert fragment in one_error_line(capsys)
    assert not (out / "checkpoint.pt").exists()


def test_an_explicit_data_root_that_does_not_exist_is_refused_and_not_created(checkpoint, tmp_path, capsys):
    missing = tmp_path / "nonexistent" / "chairs"
    assert run(["evaluate", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "ev"), "--data-root", str(missing)]) == 2
    assert f"--data-root {missing} does not exist" in one_error_line(capsys)
    assert run(TRAIN + ["--out", str(tmp_path / "r"), "--steps", "1", "--data-root", str(missing)]) == 2
    assert f"--data-root {missing} does not exist" in one_error_line(capsys)
    assert not (tmp_path / "nonexistent").exists() and not (tmp_path / "ev").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("minutes", ["0", "-1", "nan"])
def test_demo_minutes_must_be_positive(tmp_path, capsys, minutes):
    out = tmp_path / "demo"
    assert run(["demo", "--minutes", minutes, "--out", str(out)]) == 2
    assert "--minutes must be a finite number > 0" in one_error_line(capsys)
    assert not out.exists()


def test_argparse_errors_are_one_line_too(tmp_path, capsys):
    assert run(["generate", "--out", str(tmp_path)]) == 2
    assert ("videovae generate: error: one of the arguments --checkpoint --pretrained is required "
            "(see videovae generate --help)") in one_error_line(capsys)
    assert run(TRAIN + ["--out", str(tmp_path), "--set", "novalue"]) == 2
    assert "argument --set: expected KEY=VALUE, got 'novalue'" in one_error_line(capsys)
