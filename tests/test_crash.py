"""kill -9 at several moments of a tiny training (inside a save among them), then resume: the result is
bit-identical to an uninterrupted run and no temporary file is left. While the killed run still held the
folder a second run was refused; SIGTERM stops it with one line and exit status 143.

The training runs in a forked child (no second import of torch) that pauses at the chosen moment and
tells the test through a pipe; the test then kills it."""

import contextlib
import os
import signal
from pathlib import Path

import pytest
import torch

import conftest
from conftest import stop
from videovae.cli import main
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.trainer import TrainConfig, Trainer
from videovae.engine.training import train

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

TINY_RUN = dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=6), batch_size=4, log_every=1,
                checkpoint_every=2, val_every=2, val_clips=3)
ARGS = ["--preset", "tiny", "--dataset-option", "num_objects=4", "--dataset-option", "size=32", "--dataset-option",
        "length=6", "--batch-size", "4", "--log-every", "1", "--checkpoint-every", "2", "--val-every", "2",
        "--val-clips", "3", "--steps", "6", "--no-progress"]
PAUSE_AT = 4  # the step whose save (or what follows it) is interrupted; the checkpoint of step 2 is on disk


def _pause_patches(where: str, tell):
    """Patches (in the child) that call ``tell()`` at ``where`` during the save of step PAUSE_AT."""
    import videovae.io.atomic as atomic

    state = {"step": None}
    real_save, real_torch_save, real_replace = Trainer.save, torch.save, atomic.os.replace

    def save(self):
        state["step"] = self.step
        real_save(self)
        if where == "after the save" and self.step == PAUSE_AT:
            tell()

    def torch_save(obj, writer):
        if state["step"] == PAUSE_AT and where == "before writing":
            tell()
        if state["step"] == PAUSE_AT and where == "half written":
            import io

            buffer = io.BytesIO()
            real_torch_save(obj, buffer)
            writer.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            writer.flush()
            tell()
        return real_torch_save(obj, writer)

    def replace(src, dst):
        if state["step"] == PAUSE_AT and where == "before the rename" and Path(dst).name == "checkpoint.pt":
            tell()
        return real_replace(src, dst)

    Trainer.save, torch.save, atomic.os.replace = save, torch_save, replace


def start_paused(out: Path, where: str, log: Path) -> int:
    """Fork a child training ARGS into ``out`` that pauses at ``where``; its pid once it has paused."""
    return conftest.start_paused(["train", "--out", str(out)] + ARGS, lambda tell: _pause_patches(where, tell), log,
                                 where)


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.tmp*"))


def same_state(a: Path, b: Path) -> None:
    x, y = read_checkpoint(a), read_checkpoint(b)
    assert x["step"] == y["step"] == 6
    for key in x["model_state"]:
        assert torch.equal(x["model_state"][key], y["model_state"][key]), key
    for group_x, group_y in zip(x["optimizer_state"].values(), y["optimizer_state"].values()):
        for slot in group_x["state"]:
            for name, value in group_x["state"][slot].items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(group_y["state"][slot][name])), (slot, name)
    assert torch.equal(x["rng"]["torch"], y["rng"]["torch"])
    drop = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # noqa: E731
    assert drop(x["history"]) == drop(y["history"])


@contextlib.contextmanager
def one_thread():
    """Torch at one thread, as in the children: bit-identity holds only between equal thread counts, and
    without OMP_NUM_THREADS (as in CI) this process runs with every core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run, at the children's one thread (see :func:`one_thread`)."""
    out = tmp_path_factory.mktemp("straight")
    with one_thread():
        train(TrainConfig.from_dict({**TINY_RUN, "steps": 6}), out, progress=False)
    return out / "checkpoint.pt"


@pytest.mark.parametrize("where, resumes_at, left", [
    ("before writing", 2, 1),  # kill -9 leaves a zero-byte temporary file
    ("half written", 2, 1),
    ("before the rename", 2, 1),
    ("after the save", 4, 0),
])
def test_kill_9_then_resume_is_bit_identical_and_leaves_no_temp_file(straight, tmp_path, capsys, where, resumes_at, left):
    out = tmp_path / "run"
    pid = start_paused(out, where, tmp_path / "child.log")
    if where == "half written":  # while it runs, a second run into its folder is refused, naming it
        before = sorted(p.name for p in out.iterdir())
        assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 2
        assert f"is in use by another run (pid {pid}, since" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == before
    assert stop(pid, signal.SIGKILL) == -signal.SIGKILL
    assert len(temp_files(out)) == left
    assert read_checkpoint(out / "checkpoint.pt")["step"] == resumes_at
    with one_thread():
        train(TrainConfig.from_dict({**TINY_RUN, "steps": 6}), out, resume=True, progress=False)
    assert temp_files(out) == [] and not (out / "run.lock").exists()
    same_state(straight, out / "checkpoint.pt")


def test_sigterm_inside_a_save_abandons_it_with_one_line_and_exit_143(straight, tmp_path):
    out = tmp_path / "run"
    log = tmp_path / "child.log"
    pid = start_paused(out, "before the rename", log)
    assert stop(pid, signal.SIGTERM) == 143
    assert log.read_text().strip().splitlines()[-1] == (
        f"videovae: terminated (SIGTERM) at step 4; the last good checkpoint {out / 'checkpoint.pt'} (step 2) is intact")
    assert temp_files(out) == [] and not (out / "run.lock").exists()
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 2
    with one_thread():
        train(TrainConfig.from_dict({**TINY_RUN, "steps": 6}), out, resume=True, progress=False)
    same_state(straight, out / "checkpoint.pt")
