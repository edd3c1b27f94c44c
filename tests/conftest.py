"""Shared fixtures: tiny sizes, fixed seeds, an isolated cache, no third-party plugins."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

# Third-party plugins installed on the machine must not change what the tests see;
# the entry-point test enables its own example package explicitly.
os.environ.setdefault("VIDEOVAE_PLUGINS", "")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed_and_cache(tmp_path_factory, monkeypatch):
    torch.manual_seed(0)
    monkeypatch.setenv("VIDEOVAE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def chair_attributes():
    from videovae.core import AttributeSet, AttributeSpec

    return AttributeSet((
        AttributeSpec("chair", values=("c0", "c1", "c2")),
        AttributeSpec("tilt", values=("low", "high")),
        AttributeSpec("rotation", values=("ccw", "cw")),
    ))


@pytest.fixture
def tiny_model(chair_attributes):
    from videovae import build_model

    return build_model("tiny", attributes=chair_attributes)


@pytest.fixture
def clips():
    """Two tiny chair clips (4 frames, 32×32, labels per frame) and the ε of their posterior samples (``tiny``
    latent size 16), for the composed model's option tests."""
    g = torch.Generator().manual_seed(1)
    frames = torch.rand(2, 4, 3, 32, 32, generator=g)
    labels = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 1.0]])[:, None].expand(2, 4, 3).contiguous()
    return frames, labels, torch.randn(2, 4, 16, generator=g)


def random_labels(batch: int, length: int, attributes, generator=None) -> torch.Tensor:
    """Valid categorical labels ``[B, T, A]``, constant over time."""
    columns = [torch.randint(s.num_classes, (batch, 1), generator=generator).float() for s in attributes]
    return torch.cat(columns, dim=1).unsqueeze(1).expand(batch, length, len(columns)).clone()


#: ``videovae train`` of the tiny preset on four procedural chairs, 32x32, clips of 6 frames (add --out, --steps)
TINY_TRAIN = ["train", "--preset", "tiny", "--dataset-option", "num_objects=4", "--dataset-option", "size=32",
              "--dataset-option", "length=6", "--batch-size", "4", "--no-progress", "--checkpoint-every", "0"]


def start_paused(argv: list[str], pause, log: Path, what: str = "") -> int:
    """Fork a child that runs ``videovae`` with ``argv`` (output into ``log``, torch at one thread) after
    ``pause(tell)`` patched it to call ``tell()`` at the chosen moment; the child's pid once it has paused
    there (it then sleeps until the test stops it). Forked: no second import of torch."""
    import select
    import signal
    import sys
    import time

    from videovae.cli import main

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = sys.stderr = open(fd, "w", buffering=1)  # not pytest's capture
            torch.set_num_threads(1)

            def tell():
                os.write(write_end, b"paused")
                time.sleep(120)

            pause(tell)
            code = main(argv)
        finally:
            os._exit(code)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 120)
    message = os.read(read_end, 16) if ready else b""
    os.close(read_end)
    if message != b"paused":
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the child never paused {what}: {log.read_text()[-2000:]}")
    return pid


def stop(pid: int, signum: int) -> int:
    """Send ``signum`` to the child ``pid`` and reap it; its exit code (minus the signal when one ended it)."""
    os.kill(pid, signum)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def compare_baselines():
    """``examples/compare_baselines.py`` loaded as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("compare_baselines", REPO / "examples" / "compare_baselines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_run(run: dict, out, steps: int, resume: bool = False, **fields):
    """Train the ``TrainConfig`` fields ``run`` (with ``fields`` over them) to ``steps`` in ``out``, going on from its
    checkpoint with ``resume``: the trainer and what its ``run()`` returned."""
    from videovae.engine.train_config import TrainConfig
    from videovae.engine.training import build_trainer

    trainer = build_trainer(TrainConfig.from_dict({**run, **fields, "steps": steps}), out, resume=resume, progress=False)
    return trainer, trainer.run()


def straight_and_resumed(tmp_path, architecture_options: dict) -> tuple[dict, dict]:
    """A tiny composed model with ``architecture_options`` trained 4 steps on moving-sprites in one go and in two
    halves (2, then resumed to 4): the two checkpoints' payloads, for the options' bit-identical resume tests."""
    from videovae.engine.checkpoint import read_checkpoint

    run = dict(size="tiny", model={"architecture_options": architecture_options}, batch_size=2, log_every=1,
               dataset_options=dict(num_objects=4, size=32, length=4), checkpoint_every=2, num_samples=2, threads=1)
    train_run(run, tmp_path / "straight", 4)
    train_run(run, tmp_path / "resumed", 2)
    train_run(run, tmp_path / "resumed", 4, resume=True)
    straight, resumed = (read_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("straight", "resumed"))
    assert straight["model_config"]["architecture_options"] == architecture_options
    for name, weight in straight["model_state"].items():
        assert torch.equal(weight, resumed["model_state"][name]), name
    return straight, resumed
