"""Where the moving sprites' direction is misread in mode iv (docs/own_data.md, "What holds the sprites' mode iv"):
the evaluation's mode-iv videos (same clips, labels and seed as `videovae evaluate --first-frame`), the
classifier's direction on them and on the real clips, and the foreground centroid's travel along and across the
commanded direction, by thirds of the real clips' travel. Prints JSON.

    PYTHONPATH=. python docs/own_data/direction_errors.py RUN/checkpoint.pt      # the cached 1000-step classifier
"""
import json
import sys
from pathlib import Path

import torch
from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset
from videovae.engine.evaluation import EvalOptions, EvalProtocol, balanced_test_indices, real_test_clips
from videovae.engine.evaluation.flow import _shared_classifier
from videovae.engine.generation import generate_videos
from videovae.plugins.datasets.moving_sprites import STEPS
sys.path.insert(0, str(Path(__file__).parent))
from pixel_checks import centroids

torch.set_num_threads(1)
loaded = load_checkpoint(sys.argv[1])
info = loaded.checkpoint.dataset
dataset = load_dataset(info.name, info.root, dict(info.options))
protocol = EvalProtocol(classifier_steps=1000, eval_attributes=("shape", "direction"))
classifier = _shared_classifier(dataset, protocol, EvalOptions(), loaded)
frames, labels = real_test_clips(dataset, 16)
pick = balanced_test_indices(labels, classifier.joint, protocol)
real, lab = frames[pick], labels[pick]
gen, used = generate_videos(loaded.model, num=len(pick), length=16, labels=lab, first_frames=real[:, 0], seed=0)
A = dataset.attributes
d = lab[:, 0, A.index("direction")].long()
step = torch.as_tensor(STEPS, dtype=torch.float32)[d]
def travel(v):
    p = centroids(v); s = p[:, -1] - p[:, 0]
    return (s * step).sum(-1), (s * step.flip(-1)).sum(-1).abs()
ra, _ = travel(real); ga, gx = travel(gen)
pr = classifier(gen).argmax(-1).tolist()
joint = classifier.joint
dcol = joint.names.index("direction")
named = torch.tensor([joint.decode(k)[dcol][1] for k in pr])
ok = named == d.float()
realnamed = torch.tensor([joint.decode(k)[dcol][1] for k in classifier(real).argmax(-1).tolist()]) == d.float()
q = torch.quantile(ra, torch.tensor([1/3, 2/3]))
out = {}
for name, m in [("slow", ra < q[0]), ("middle", (ra >= q[0]) & (ra < q[1])), ("fast", ra >= q[1])]:
    out[name] = {"clips": int(m.sum()), "real travel px": round(float(ra[m].mean()), 2),
                 "generated travel along / across px": [round(float(ga[m].mean()), 2), round(float(gx[m].mean()), 2)],
                 "classifier direction right: generated / real": [round(float(ok[m].float().mean()), 3), round(float(realnamed[m].float().mean()), 3)]}
wrong = ~ok
out["wrong clips: generated travel along / across"] = [round(float(ga[wrong].mean()), 2), round(float(gx[wrong].mean()), 2)]
out["right clips: generated travel along / across"] = [round(float(ga[ok].mean()), 2), round(float(gx[ok].mean()), 2)]
out["wrong clips moving backwards (along < -3 px)"] = int((ga[wrong] < -3).sum())
out["wrong clips hardly moving (|along| < 3 px)"] = int((ga[wrong].abs() < 3).sum())
out["wrong of"] = [int(wrong.sum()), len(ok)]
relation = (torch.as_tensor(STEPS, dtype=torch.float32)[named[wrong].long()] * step[wrong]).sum(-1)
out["wrong clips named the opposite / a perpendicular direction"] = [int((relation < 0).sum()), int((relation == 0).sum())]
print(json.dumps(out, indent=1))
