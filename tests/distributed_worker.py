"""One process of a ``torchrun`` training run, started by ``tests/test_distributed.py``.

Usage: ``python -m torch.distributed.run --standalone --nproc_per_node=N distributed_worker.py SPEC.json``

SPEC holds ``jobs``, a list of training runs done one after the other in the
same process group (one launch costs far more than a tiny run). Each job has
``config`` (a TrainConfig mapping), ``run_dir`` (the trainer's output folder,
shared by all ranks), ``weights_dir`` (where each rank writes ``rank<r>.pt``, its
own model state dict, and ``rank<r>.json``, its history) and ``resume``
(continue the checkpoint in ``run_dir``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from videovae.engine import distributed
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import build_trainer


def train(job: dict):
    config = TrainConfig.from_dict(job["config"])
    trainer = build_trainer(config, job["run_dir"], resume=bool(job.get("resume", False)), progress=False)
    result = trainer.run()
    rank, world = trainer.process.rank, trainer.process.world_size
    out = Path(job["weights_dir"])
    out.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().clone() for key, value in trainer.model.state_dict().items()}
    torch.save(state, out / f"rank{rank}.pt")
    (out / f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": world, "step": result.step, "history": result.history,
    }))
    return trainer.process


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    process = None
    for job in spec["jobs"]:
        process = train(job)
    if process is not None:
        distributed.teardown(process)


if __name__ == "__main__":
    main(sys.argv[1])
