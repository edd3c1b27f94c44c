"""``generate`` stopped half-way: SIGTERM is one line, exit status 143 and nothing written (as Ctrl-C); after
``kill -9`` the staging folder it leaves in ``--out`` is removed by the next ``generate``, while that of a
``generate`` still running is kept.

The killed ``generate`` runs in a forked child (conftest.start_paused) that pauses inside its staging folder,
with a zero-byte temporary file in it, as a real write does at that moment."""

import contextlib
import os
import signal
import subprocess
import time

import pytest

from conftest import TINY_TRAIN, start_paused, stop
from videovae.cli import COMMANDS, main
from videovae.io.outputs import all_or_nothing

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "1"]) == 0
    return out / "checkpoint.pt"


@pytest.fixture
def paused(checkpoint, tmp_path):
    """``paused(out)``: the pid of a child generating into ``out``, paused in its GIF; killed at teardown if a
    failed test left it running."""
    pids = []

    def start(out):
        pids.append(start_paused(generate(checkpoint, out), pause_in_the_gif, tmp_path / "child.log", "in the GIF"))
        return pids[-1]

    yield start
    for pid in pids:
        with contextlib.suppress(ChildProcessError):  # reaped already: the pid may be another process's now
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                stop(pid, signal.SIGKILL)


def generate(checkpoint, out) -> list[str]:
    return ["generate", "--checkpoint", str(checkpoint), "--out", str(out), "--num", "1", "--formats", "png,gif"]


def pause_in_the_gif(tell) -> None:
    """Make the child's GIF writer open its temporary file (in the staging folder) and pause there."""
    import videovae.io.video as video
    from videovae.io.atomic import atomic_path

    def writer(frames, path, fps):
        with atomic_path(path):
            tell()

    video._WRITERS = {**video._WRITERS, ".gif": writer}


def staging_folders(out) -> list:
    return sorted(p for p in out.iterdir() if p.name.startswith(".videovae-writing-"))


def test_kill_9_leaves_a_staging_folder_that_only_the_next_generate_after_its_death_removes(
        checkpoint, paused, tmp_path, capsys):
    out = tmp_path / "g"
    pid = paused(out)
    [staging] = staging_folders(out)
    assert staging.name.startswith(f".videovae-writing-{pid}-")
    assert "samples.png" in [p.name for p in staging.iterdir()]
    assert [p.stat().st_size for p in staging.iterdir() if p.name.startswith(".samples.")] == [0]
    assert main(generate(checkpoint, out)) == 0  # while the child runs, its staging folder stays
    assert staging_folders(out) == [staging]
    assert stop(pid, signal.SIGKILL) == -signal.SIGKILL
    assert staging_folders(out) == [staging]
    capsys.readouterr()
    assert main(generate(checkpoint, out)) == 0
    assert f"removed {staging}, a staging folder a stopped command left" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["samples.gif", "samples.json", "samples.png"]


def test_sigterm_is_one_line_exit_143_and_leaves_the_output_folder_as_it_was(paused, tmp_path):
    out = tmp_path / "g"
    out.mkdir()
    (out / "samples.png").write_bytes(b"older")
    log = tmp_path / "child.log"
    pid = paused(out)
    assert len(staging_folders(out)) == 1
    assert stop(pid, signal.SIGTERM) == 143
    assert log.read_text().strip().splitlines() == ["videovae: terminated (SIGTERM)"]
    assert sorted(p.name for p in out.iterdir()) == ["samples.png"] and (out / "samples.png").read_bytes() == b"older"
    pid = paused(tmp_path / "new" / "g")
    assert stop(pid, signal.SIGTERM) == 143
    assert not (tmp_path / "new").exists()  # the folders it created go too


def test_every_command_takes_sigterm_as_ctrl_c(monkeypatch, capsys):
    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler raises here
        pytest.fail("SIGTERM did not stop the command")

    def not_taken(signum, frame):
        pytest.fail("SIGTERM reached the handler outside main: the command did not take it")

    monkeypatch.setitem(COMMANDS, "evaluate", terminated)
    before = signal.signal(signal.SIGTERM, not_taken)  # without main's handler, not pytest's end
    try:
        assert main(["evaluate", "--checkpoint", "c.pt", "--out", "e"]) == 143
        assert signal.getsignal(signal.SIGTERM) is not_taken  # put back
    finally:
        signal.signal(signal.SIGTERM, before)
    assert capsys.readouterr().err == "videovae: terminated (SIGTERM)\n"


def test_only_the_staging_folders_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    names = {f".videovae-writing-{dead.pid}-ab_1": False, ".videovae-writing-x9k2ab": False,  # dead; older (no pid)
             f".videovae-writing-{os.getppid()}-q": True, f".videovae-writing-{os.getpid()}-r": True,  # alive; own
             ".videovae-writing": True, "videovae-writing-1-a": True}
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / ".samples.1-z.tmp.gif").write_bytes(b"")
    (tmp_path / ".videovae-writing-1-file").write_text("a file, not a staging folder")
    with all_or_nothing(tmp_path) as staging:
        (staging / "x.txt").write_text("x")
    assert {name: (tmp_path / name).exists() for name in names} == names
    assert (tmp_path / "x.txt").read_text() == "x" and (tmp_path / ".videovae-writing-1-file").is_file()
