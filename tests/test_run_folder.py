"""The run folder: one owner at a time (run.lock), a dead owner's lock and temp files taken over, one event
file per start, and a full disk, a read-only folder or SIGTERM as one line with the last checkpoint intact."""

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from videovae.cli import main
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.run_folder import RunLock
from videovae.engine.trainer import TrainConfig, Trainer
from videovae.engine.training import train

TINY = ["--preset", "tiny", "--dataset-option", "num_objects=4", "--dataset-option", "size=32",
        "--dataset-option", "length=6", "--batch-size", "4", "--log-every", "1", "--no-progress"]
TINY_RUN = dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=6), batch_size=4, log_every=1)
RESUME = ["--resume", "--steps", "4", "--checkpoint-every", "2", "--no-progress"]


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 2-step run with its checkpoint at step 2."""
    out = tmp_path_factory.mktemp("saved")
    train(TrainConfig.from_dict({**TINY_RUN, "steps": 2, "checkpoint_every": 2}), out, progress=False)
    return out


@pytest.fixture
def run_dir(saved, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(saved, out)
    return out


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_owner_and_writes_nothing(run_dir, tmp_path, capsys):
    lock = RunLock.acquire(run_dir)
    before = listing(run_dir)
    assert main(["train", "--out", str(run_dir)] + RESUME) == 2
    assert f"{run_dir} is in use by another run (pid {os.getpid()}, since " in error_line(capsys)
    assert main(["train", "--out", str(run_dir), "--steps", "2"] + TINY) == 2
    assert "wait for it to end or choose another --out" in error_line(capsys)
    assert listing(run_dir) == before
    lock.release()
    assert not (run_dir / "run.lock").exists()
    # a bad setting after the lock was taken leaves no folder behind
    assert main(["train", "--out", str(tmp_path / "new"), "--steps", "2"] + TINY + ["--dataset-option", "num_objects=-1"]) == 2
    assert "num_objects must be a positive integer" in error_line(capsys)
    assert not (tmp_path / "new").exists()


def test_a_dead_owners_lock_and_temp_files_are_taken_over_and_each_start_has_its_own_event_file(run_dir, caplog):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / "run.lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    stale = [run_dir / f".checkpoint.{dead.pid}-abc_12.tmp.pt", run_dir / ".history.k2j9x_0q.tmp.jsonl",
             run_dir / "samples" / f".step_000004.{dead.pid}-zz.tmp.png"]
    for path in stale:
        path.write_bytes(b"")  # what kill -9 inside a save leaves
    live = run_dir / f".samples.{os.getppid()}-q1.tmp.gif"  # a live process's: kept
    live.write_bytes(b"x")
    caplog.set_level(logging.INFO, logger="videovae")
    assert train(TrainConfig.from_dict({**TINY_RUN, "steps": 4, "checkpoint_every": 2}), run_dir, resume=True,
                 progress=False).step == 4
    assert f"from pid {dead.pid}" in caplog.text and "which is no longer running" in caplog.text
    assert not any(path.exists() for path in stale) and live.exists()
    assert not (run_dir / "run.lock").exists()
    assert len(list((run_dir / "tensorboard").iterdir())) == 2  # the first start's and this one's


def test_without_os_file_locks_a_live_owners_pid_still_refuses_and_a_dead_ones_is_taken_over(tmp_path, monkeypatch):
    from videovae.core.errors import RunInUseError

    monkeypatch.setattr("videovae.engine.run_folder.fcntl", None)  # e.g. a file system without flock
    (tmp_path / "run.lock").write_text(json.dumps({"pid": os.getppid(), "host": os.uname().nodename}))
    with pytest.raises(RunInUseError, match=f"in use by another run \\(pid {os.getppid()}\\)"):
        RunLock.acquire(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "run.lock").write_text(json.dumps({"pid": dead.pid}))
    lock = RunLock.acquire(tmp_path)
    assert json.loads((tmp_path / "run.lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / "run.lock").exists()


def full_disk_after(limit):
    """A torch.save whose file runs out of space after ``limit`` bytes, as a full disk does."""
    real = torch.save

    class Full:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            if self.written + len(data) > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return self.handle.write(data)

        def flush(self):
            self.handle.flush()

    def save(obj, writer):
        writer.handle = Full(writer.handle)
        return real(obj, writer)

    return save


def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_last_checkpoint(run_dir, capsys, monkeypatch):
    before = (run_dir / "checkpoint.pt").read_bytes()
    monkeypatch.setattr(torch, "save", full_disk_after(20000))
    assert main(["train", "--out", str(run_dir)] + RESUME) == 2
    assert error_line(capsys) == (f"videovae: error: no space left on device writing {run_dir / 'checkpoint.pt'}: "
                                  f"the last good checkpoint {run_dir / 'checkpoint.pt'} (step 2) is intact")
    assert (run_dir / "checkpoint.pt").read_bytes() == before
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".") or p.name == "run.lock"]

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("videovae.engine.run_folder.os.pwrite", full)  # still full at the next start
    assert main(["train", "--out", str(run_dir)] + RESUME) == 2
    assert error_line(capsys) == (f"videovae: error: no space left on device writing {run_dir / 'run.lock'}: "
                                  "nothing was written")
    assert (run_dir / "checkpoint.pt").read_bytes() == before and not (run_dir / "run.lock").exists()


def test_a_read_only_or_unusable_folder_is_one_line(run_dir, tmp_path, capsys, monkeypatch):
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith("run.lock"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr("videovae.engine.run_folder.os.open", read_only)
        assert main(["train", "--out", str(run_dir)] + RESUME) == 2
        assert error_line(capsys) == f"videovae: error: read-only file system writing {run_dir / 'run.lock'}: nothing was written"
    (tmp_path / "a-file").write_text("x")
    assert main(["train", "--out", str(tmp_path / "a-file"), "--steps", "1"] + TINY) == 2
    assert "a-file is a file; expected a folder (existing or new) for the output" in error_line(capsys)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_without_write_permission_is_one_line(run_dir, tmp_path, capsys):
    before = listing(run_dir)
    run_dir.chmod(0o555)
    try:
        assert main(["train", "--out", str(run_dir)] + RESUME) == 2
        assert f"permission denied writing {run_dir / 'run.lock'}: nothing was written" in error_line(capsys)
        assert main(["train", "--out", str(run_dir / "sub"), "--steps", "1"] + TINY) == 2
        assert "permission denied writing" in error_line(capsys)
    finally:
        run_dir.chmod(0o755)
    assert listing(run_dir) == before


def test_sigterm_stops_like_ctrl_c_with_one_line_and_exit_143(run_dir, capsys, monkeypatch):
    before = (run_dir / "checkpoint.pt").read_bytes()
    real = torch.save

    def terminated_inside_the_save(obj, writer):
        writer.write(b"PK\x03\x04 part of a checkpoint")
        os.kill(os.getpid(), signal.SIGTERM)
        return real(obj, writer)

    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", terminated_inside_the_save)
        assert main(["train", "--out", str(run_dir)] + RESUME) == 143
    assert error_line(capsys) == (f"videovae: terminated (SIGTERM) at step 4; the last good checkpoint "
                                  f"{run_dir / 'checkpoint.pt'} (step 2) is intact")
    assert (run_dir / "checkpoint.pt").read_bytes() == before
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".") or p.name == "run.lock"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

    real_step = Trainer._train_step

    def terminated_between_steps(self, batch, indices):
        if self.step == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(self, batch, indices)

    monkeypatch.setattr(Trainer, "_train_step", terminated_between_steps)
    assert main(["train", "--out", str(run_dir), "--resume", "--steps", "6", "--checkpoint-every", "2",
                 "--no-progress"]) == 143
    assert error_line(capsys).endswith(f"at step 4; the last good checkpoint {run_dir / 'checkpoint.pt'} (step 4) is intact")
    assert read_checkpoint(run_dir / "checkpoint.pt")["step"] == 4
    assert read_checkpoint(run_dir / "checkpoint.prev.pt")["step"] == 2


def _in_a_small_tmpfs(folder: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``folder`` in a private mount namespace of this (forked, single-threaded)
    process; why it cannot, or None."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns, clone_newuser, ms_rec, ms_private = 0x20000, 0x10000000, 0x4000, 0x40000
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(clone_newns | (clone_newuser if uid else 0)) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    if uid:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            Path(f"/proc/self/{name}").write_text(text)
    if libc.mount(b"none", b"/", None, ms_rec | ms_private, None) != 0:  # nothing reaches the parent's mounts
        return f"mount --make-rprivate /: {os.strerror(ctypes.get_errno())}"
    if libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", 0, f"size={size}".encode()) != 0:
        return f"mount -t tmpfs: {os.strerror(ctypes.get_errno())}"
    return None


def _remount_read_only(folder: Path) -> None:
    import ctypes

    ms_rdonly, ms_remount = 0x1, 0x20
    assert ctypes.CDLL(None, use_errno=True).mount(b"tmpfs", str(folder).encode(), b"tmpfs",
                                                   ms_remount | ms_rdonly, None) == 0


def _full_disk_story(disk: Path) -> dict:
    """In the tmpfs ``disk``: a run, a save into a nearly full disk, a start on a full one, then read-only (generate
    too)."""
    import contextlib
    import hashlib
    import io

    def cli(args):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(args)
        return [code, err.getvalue().strip().splitlines()]

    out = disk / "run"
    story = {"first": cli(["train", "--out", str(out), "--steps", "2", "--checkpoint-every", "2"] + TINY)}
    digest = hashlib.sha256((out / "checkpoint.pt").read_bytes()).hexdigest()
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as handle:  # 150 kB left: less than a checkpoint
        handle.write(b"\0" * max(0, free - 150_000))
    story["nearly full"] = cli(["train", "--out", str(out)] + RESUME)
    with contextlib.suppress(OSError), open(disk / "filler", "ab") as handle:
        handle.write(b"\0" * 1_000_000)
    story["full"] = cli(["train", "--out", str(out)] + RESUME)
    story["intact"] = hashlib.sha256((out / "checkpoint.pt").read_bytes()).hexdigest() == digest
    story["left"] = sorted(p.name for p in out.rglob("*") if p.name.startswith(".") or p.name == "run.lock")
    (disk / "filler").unlink()
    _remount_read_only(disk)
    story["read-only"] = cli(["train", "--out", str(out)] + RESUME)
    story["read-only new"] = cli(["train", "--out", str(disk / "new"), "--steps", "1"] + TINY)
    story["generate read-only"] = cli(["generate", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(out)])
    return story


def test_a_real_full_disk_and_a_read_only_file_system_in_a_small_tmpfs(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            torch.set_num_threads(1)
            why = _in_a_small_tmpfs(disk, "3m")
            story = {"skip": why} if why else _full_disk_story(disk)
            os.write(write_end, json.dumps(story).encode())
        except BaseException as exc:
            os.write(write_end, json.dumps({"crash": repr(exc)}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        story = json.loads(pipe.read() or b"{}")
    os.waitpid(pid, 0)
    if "skip" in story:
        pytest.skip(f"cannot mount a small tmpfs here ({story['skip']}); the simulated full-disk test covers it")
    assert "crash" not in story, story
    out = disk / "run"
    kept = f"the last good checkpoint {out / 'checkpoint.pt'} (step 2) is intact"
    assert story["first"] == [0, []]
    assert story["nearly full"] == [2, [f"videovae: error: no space left on device writing {out / 'checkpoint.pt'}: {kept}"]]
    assert story["full"] == [2, [f"videovae: error: no space left on device writing {out / 'run.lock'}: nothing was written"]]
    assert story["intact"] and story["left"] == []
    assert story["read-only"] == [2, [f"videovae: error: read-only file system writing {out / 'run.lock'}: nothing was written"]]
    assert story["read-only new"] == [2, [f"videovae: error: read-only file system writing {disk / 'new'}: nothing was written"]]
    assert story["generate read-only"] == [2, [f"videovae: error: read-only file system writing {out}: nothing was written"]]
