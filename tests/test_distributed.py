"""Training under ``torchrun``: two local CPU processes (gloo) against one process.

Each test starts ``python -m torch.distributed.run --standalone --nproc_per_node=2``
on ``tests/distributed_worker.py``. The model is made deterministic (no dropout,
a zero initial LSTM state) so that the only randomness left is the per-clip ε,
which depends on (seed, step, clip index) alone: two processes with batch 2 then
see exactly the global batch of one process with batch 4.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed

from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.trainer import TrainConfig, load_dataset
from videovae.engine.training import train
from videovae.plugins.presets import TINY_SIZES

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "distributed_worker.py"


def _gloo_available() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_gloo_available()


pytestmark = pytest.mark.skipif(
    not _gloo_available(),
    reason="torch.distributed with the gloo backend is not available in this torch build "
    "(needed for multi-process CPU training)",
)

#: ModelConfig overrides that remove every random draw except the reparameterisation ε.
#: Nested option dicts replace the preset's, so the tiny sizes are copied in full.
DETERMINISTIC_TINY = {
    "encoder_options": {**{k: list(v) for k, v in TINY_SIZES["encoder_options"].items()}, "dropout": 0.0},
    "decoder_options": {**{k: list(v) for k, v in TINY_SIZES["decoder_options"].items()}, "dropout": 0.0},
    "prior_options": {"initial_state": "zeros"},
}

RUN = dict(preset="tiny", model=DETERMINISTIC_TINY, dataset="synthetic-chairs",
           dataset_options=dict(num_objects=4, size=32, length=4), batch_size=2, steps=3, lr=1e-3, log_every=1, checkpoint_every=0, device="cpu", num_samples=2)

_LAUNCHER_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK",
                       "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One rendered chair cache for every run of this module, rendered here once (not by each rank)."""
    root = tmp_path_factory.mktemp("distributed-cache")
    load_dataset(RUN["dataset"], str(root), dict(RUN["dataset_options"]))
    return root


@pytest.fixture(autouse=True)
def _single_process_env(cache, monkeypatch):
    monkeypatch.setenv("VIDEOVAE_CACHE", str(cache))
    for name in _LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def job(root: Path, name: str, *, resume: bool = False, **overrides) -> dict:
    """One training run for the worker: output in ``root/name``, per-rank weights in ``root/name-weights-<steps>``."""
    config = {**RUN, **overrides}
    return {"config": config, "run_dir": str(root / name), "resume": resume,
            "weights_dir": str(root / f"{name}-weights-{config['steps']}")}


def torchrun(root: Path, cache: Path, jobs: list[dict], nproc: int = 2) -> list[Path]:
    """Run ``jobs`` one after the other in one launch of ``nproc`` local processes.

    Returns each job's folder of ``rank<r>.pt``/``rank<r>.json``. Several runs share a
    launch because starting the processes (importing torch three times on a small
    machine) costs far more than the tiny runs themselves.
    """
    spec = root / f"spec-{len(list(root.glob('spec-*.json')))}.json"
    spec.write_text(json.dumps({"jobs": jobs}))
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARIABLES}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        VIDEOVAE_CACHE=str(cache),
        VIDEOVAE_PLUGINS="",
        OMP_NUM_THREADS="1",
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(WORKER), str(spec)]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=240)
    report = f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, report
    assert "Traceback" not in proc.stderr and "ChildFailedError" not in proc.stderr, report
    return [Path(j["weights_dir"]) for j in jobs]


@pytest.fixture(scope="module")
def first_launch(tmp_path_factory, cache) -> Path:
    """One 2-process launch: a 3-step run, an uninterrupted 4-step run and the first 2 steps of a split run."""
    root = tmp_path_factory.mktemp("torchrun")
    torchrun(root, cache, [job(root, "ddp"), job(root, "straight", steps=4), job(root, "split", steps=2)])
    return root


def rank_weights(folder: Path, rank: int) -> dict:
    return torch.load(folder / f"rank{rank}.pt", weights_only=True)


def rank_info(folder: Path, rank: int) -> dict:
    return json.loads((folder / f"rank{rank}.json").read_text())


def assert_equal_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_two_processes_match_one_process_with_the_global_batch(first_launch, tmp_path):
    # one process (WORLD_SIZE unset), batch 4 = 2 processes x batch 2
    single = train(TrainConfig.from_dict({**RUN, "batch_size": 4}), tmp_path / "single", progress=False)
    single_weights = read_checkpoint(tmp_path / "single/checkpoint.pt")["model_state"]

    folder = first_launch / "ddp-weights-3"
    rank0, rank1 = rank_weights(folder, 0), rank_weights(folder, 1)

    # (a) DDP keeps the replicas identical
    assert_equal_weights(rank0, rank1)
    info0, info1 = rank_info(folder, 0), rank_info(folder, 1)
    assert (info0["world_size"], info0["step"], info1["step"]) == (2, 3, 3)
    losses = lambda info: [{k: v for k, v in row.items() if k != "seconds"} for row in info["history"]]  # noqa: E731
    assert losses(info0) == losses(info1)  # logged losses are averaged over the processes

    # (b) the same training as one process with the global batch, up to the order of the gradient sum
    assert rank0.keys() == single_weights.keys()
    for key in rank0:
        assert torch.allclose(rank0[key], single_weights[key], rtol=1e-4, atol=1e-5), key
    assert [r["loss"] for r in info0["history"]] == pytest.approx([r["loss"] for r in single.history], rel=1e-4)

    # (c) only rank 0 wrote the run's files, once, and its checkpoint holds the trained weights
    run_dir = first_launch / "ddp"
    files = files_under(run_dir)
    assert [f for f in files if not f.startswith("tensorboard/")] == [
        "checkpoint.pt", "config.toml", "history.jsonl", "loss_curve.png", "samples/step_000003.png"]
    assert len([f for f in files if f.startswith("tensorboard/")]) == 1, files
    assert not [p for p in run_dir.rglob(".*")], "temporary files were left behind"
    payload = read_checkpoint(run_dir / "checkpoint.pt")
    assert payload["step"] == 3 and payload["train_config"]["batch_size"] == 2
    assert_equal_weights(payload["model_state"], rank0)
    assert [json.loads(line)["step"] for line in (run_dir / "history.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_resume_under_torchrun_gives_the_weights_of_an_uninterrupted_run(first_launch, cache):
    root = first_launch
    assert read_checkpoint(root / "split/checkpoint.pt")["step"] == 2
    # a second launch continues the split run from its checkpoint (``videovae train --resume``)
    [resumed] = torchrun(root, cache, [job(root, "split", steps=4, resume=True)])
    straight = root / "straight-weights-4"

    assert_equal_weights(rank_weights(resumed, 0), rank_weights(resumed, 1))
    assert_equal_weights(rank_weights(resumed, 0), rank_weights(straight, 0))
    assert_equal_weights(read_checkpoint(root / "split/checkpoint.pt")["model_state"],
                         read_checkpoint(root / "straight/checkpoint.pt")["model_state"])
    a, b = rank_info(straight, 0), rank_info(resumed, 0)
    assert b["step"] == 4 and [r["step"] for r in b["history"]] == [1, 2, 3, 4]
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]


def test_the_gan_baselines_train_under_torchrun_with_the_same_parameters_on_every_rank(tmp_path, cache):
    """MoCoGAN and VGAN: their two optimizers' gradients are averaged, so every rank holds the same parameters
    (batch norm's running statistics are each rank's own, as DistributedDataParallel without SyncBatchNorm)."""
    gans = [job(tmp_path, "mocogan", preset="mocogan", model={**TINY_SIZES, "architecture_options": {"category": "rotation"}},
                lr=None, steps=2),
            job(tmp_path, "vgan", preset="vgan", model=dict(TINY_SIZES), lr=None, steps=2)]
    for folder in torchrun(tmp_path, cache, gans):
        rank0, rank1 = rank_weights(folder, 0), rank_weights(folder, 1)
        assert rank0.keys() == rank1.keys()
        parameters = [k for k in rank0 if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
        for key in parameters:
            assert torch.equal(rank0[key], rank1[key]), (folder.name, key)
        info = rank_info(folder, 0)
        assert info["world_size"] == 2 and info["step"] == 2
        assert {"d_loss", "grad_norm/discriminator", "grad_norm/generator"} <= set(info["history"][-1])
