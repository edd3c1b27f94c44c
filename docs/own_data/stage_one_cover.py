"""Stage 1 on Weizmann with 18 labelled source videos (25%): each performer in two actions ('cover') or chosen at
random ('random 0.25'), the rest as stage_one.py (defaults: shift chosen, 1500/1500/1000 steps, seed 0).

    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one_cover.py cover
    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one_cover.py random 0.25

Expects the Weizmann clips in ../shared/data/weizmann-actions; prints one JSON line (docs/attribute_inference.md)."""
import json
import sys
import time

import torch

from videovae.engine.attribute_inference import run_stage_one, split_groups
from videovae.engine.data import load_dataset
from videovae.registry.factory import resolve_config

torch.set_num_threads(1)
mode = sys.argv[1]
dataset = load_dataset("weizmann", "../shared/data/weizmann-actions", {"size": 32})
split, truth = dataset.split("train"), dataset.label_rows("train").float()
groups = split_groups(split)
names = list(dataset.attributes.names)
action, performer = names.index("action"), names.index("performer")
sources = sorted(set(groups.tolist()))


def value(x: float) -> int:
    return -1 if x != x else int(x)  # -1: the label is missing


# (performer, action) of each source video, from its first clip
info = {s: tuple(value(float(truth[int(torch.nonzero(groups == s)[0, 0]), a])) for a in (performer, action))
        for s in sources}
print(len(sources), "source videos")
labelled = None
if mode == "cover":  # per performer, the first two actions (from its own index on, cyclically) it has a video of
    chosen = []
    for p in range(9):
        actions = [act for act in [(p + k) % 4 for k in range(4)] if (p, act) in info.values()][:2]
        chosen += [next(s for s in sources if info[s] == (p, act)) for act in actions]
    labelled = torch.nonzero(torch.isin(groups, torch.tensor(chosen)))[:, 0]
    print("chosen", len(chosen), [info[s] for s in chosen])
started = time.time()
result = run_stage_one(dataset, ".", fraction=0.2 if mode == "cover" else float(sys.argv[2]), steps=1500,
                       batch_size=16, lr=1e-3, seed=0, device=torch.device("cpu"), model_config=resolve_config("demo"),
                       settings={}, pretrain_steps=1500, self_training_steps=1000, shift=None, labelled=labelled,
                       write=False)
labelled_sources = set(groups[result.labelled].tolist())
print(json.dumps({"mode": mode, "labelled_sources": len(labelled_sources), "labelled_clips": len(result.labelled),
                  "performer_actions": {p: sorted({info[s][1] for s in labelled_sources if info[s][0] == p})
                                        for p in range(9)},
                  "accuracy": result.scores, "seconds": round(time.time() - started)}))
