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
