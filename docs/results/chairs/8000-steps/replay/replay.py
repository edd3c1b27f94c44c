"""Replays steps 5001-6000 of minus-c-plus-s seed 1 from a copy of its 5000-step checkpoint in RUN,
recording the gradient norm of every step (written before the trainer logged grad_norm itself).
Usage: OMP_NUM_THREADS=1 PYTHONPATH=<repo> python replay.py RUN 6000"""
import json, sys, torch
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import build_trainer
from videovae.engine.checkpoint import read_checkpoint
out = sys.argv[1]; upto = int(sys.argv[2])
payload = read_checkpoint(out + "/checkpoint.pt")
cfg = TrainConfig.from_dict({**payload["train_config"], "steps": upto, "checkpoint_every": 0, "threads": 1})
t = build_trainer(cfg, out, resume=True, progress=False)
norms = []
orig = t.optimizers["model"].step
def step(*a, **k):
    n = torch.nn.utils.get_total_norm([p.grad for p in t.model.parameters() if p.grad is not None]) if hasattr(torch.nn.utils, "get_total_norm") else torch.norm(torch.stack([p.grad.norm() for p in t.model.parameters() if p.grad is not None]))
    norms.append((t.step + 1, float(n)))
    return orig(*a, **k)
t.optimizers["model"].step = step
t.save = lambda: None
t.run()
json.dump(norms, open(out + "/norms.json", "w"))
print("done", len(norms))
