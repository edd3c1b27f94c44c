"""The same replay with the gradient clipped at norm CLIP, set after loading (written before `--resume`
could change grad_clip; `videovae train --resume --grad-clip` does that now). Records the norm after clipping.
Usage: OMP_NUM_THREADS=1 PYTHONPATH=<repo> python replay_clip.py RUN 6100 1000"""
import json, sys, torch, attrs
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import build_trainer
from videovae.engine.checkpoint import read_checkpoint
out = sys.argv[1]; upto = int(sys.argv[2]); clip = float(sys.argv[3])
payload = read_checkpoint(out + "/checkpoint.pt")
cfg = TrainConfig.from_dict({**payload["train_config"], "steps": upto, "checkpoint_every": 0, "threads": 1})
t = build_trainer(cfg, out, resume=True, progress=False)
t.config = attrs.evolve(t.config, grad_clip=clip)
norms = []
orig = t.optimizers["model"].step
def step(*a, **k):
    n = torch.nn.utils.get_total_norm([p.grad for p in t.model.parameters() if p.grad is not None])
    norms.append((t.step + 1, float(n)))
    return orig(*a, **k)
t.optimizers["model"].step = step
t.save = lambda: None
t.run()
json.dump({"norms_after_clip": norms, "history": t.history[-120:]}, open(out + "/clipped.json", "w"))
print("done", len(norms), t.history[-1])
