"""videovae.io.atomic: the one atomic-write helper."""

import os
import stat

import pytest

from videovae.io.atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text, default_file_mode


def test_a_writer_that_raises_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")

    def broken(tmp):
        tmp.write_text("half-writ")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_write_replaces_the_file_with_plain_permissions_and_keeps_the_suffix(tmp_path):
    target = tmp_path / "sub" / "frames.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".png" and tmp != target
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == default_file_mode()
    assert atomic_write_text(target, "text").read_text() == "text"
    assert atomic_write_bytes(target, b"\x00\x01").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["frames.png"]


def test_the_replaced_file_is_kept_as_previous_even_when_both_names_are_one_file_already(tmp_path):
    target, previous = tmp_path / "checkpoint.pt", tmp_path / "checkpoint.prev.pt"
    atomic_write_bytes(target, b"one")
    os.link(target, previous)  # a save stopped between its two renames leaves this
    with atomic_path(target, previous=previous) as tmp:
        tmp.write_bytes(b"two")
    with atomic_path(target, previous=previous) as tmp:
        tmp.write_bytes(b"three")
    assert (target.read_bytes(), previous.read_bytes()) == (b"three", b"two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]


def test_only_the_temp_files_of_dead_writers_are_stale(tmp_path):
    import subprocess

    from videovae.io.atomic import remove_stale_temp_files, target_of

    dead = subprocess.Popen(["true"])
    dead.wait()
    names = {f".checkpoint.{dead.pid}-ab_1.tmp.pt": False, ".history.x9k2.tmp.jsonl": False,  # dead, pid-less (old)
             f".samples.{os.getppid()}-q.tmp.gif": True, f".samples.{os.getpid()}-r.tmp.gif": True,  # alive, own
             "checkpoint.pt": True, ".hidden": True}
    for name in names:
        (tmp_path / name).write_bytes(b"")
    remove_stale_temp_files(tmp_path)
    assert {name: (tmp_path / name).exists() for name in names} == names
    assert target_of(tmp_path / f".checkpoint.prev.{dead.pid}-ab.tmp.pt") == tmp_path / "checkpoint.prev.pt"
