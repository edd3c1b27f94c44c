"""Stage 1 on Weizmann with 18 labelled source videos (25%): each performer in two actions ('cover') or chosen at
random ('random 0.25'), the rest as stage_one.py (defaults: shift chosen, 1500/1500/1000 steps, seed 0).

    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one_cover.py cover
    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one_cover.py random 0.25

Expects the Weizmann clips in ../shared/data/weizmann-actions; prints one JSON line (docs/attribute_inference.md)."""
import json, sys, time
import torch
import videovae.engine.attribute_inference.stage_one as so
from videovae.engine.attribute_inference.labels import labelled_subset, split_groups
from videovae.engine.data import load_dataset
from videovae.registry.factory import resolve_config
torch.set_num_threads(1)
mode = sys.argv[1]
ds = load_dataset("weizmann", "../shared/data/weizmann-actions", {"size": 32})
split, truth = ds.split("train"), ds.label_rows("train").float()
groups = split_groups(split)
names = list(ds.attributes.names); a, b = names.index("action"), names.index("performer")
sources = sorted(set(groups.tolist()))
first = {s: int(torch.nonzero(groups == s)[0, 0]) for s in sources}
nan = lambda x: -1 if x != x else int(x)
info = {s: (nan(float(truth[first[s], b])), nan(float(truth[first[s], a]))) for s in sources}
print(len(sources), "source videos")
if mode == "cover":
    chosen = []
    for p in range(9):
        acts = [act for act in [(p + k) % 4 for k in range(4)] if any(info[s] == (p, act) for s in sources)][:2]
        for act in acts:
            chosen.append([s for s in sources if info[s] == (p, act)][0])
    fraction = None
else:
    fraction = float(sys.argv[2])
labelled_clips = None
if mode == "cover":
    labelled_clips = torch.nonzero(torch.isin(groups, torch.tensor(chosen)))[:, 0]
    print("chosen", len(chosen), [info[s] for s in chosen])
    original = so.labelled_subset
    calls = {"n": 0}
    def patched(*args, **kw):
        calls["n"] += 1
        return labelled_clips if calls["n"] == 1 else original(*args, **kw)
    so.labelled_subset = patched
t = time.time()
res = so.run_stage_one(ds, ".", fraction=fraction or 0.2, steps=1500, batch_size=16, lr=1e-3,
                       seed=0, device=torch.device("cpu"), model_config=resolve_config("demo"), settings={},
                       pretrain_steps=1500, self_training_steps=1000, shift=None, write=False)
lab = res.labelled
print(json.dumps({"mode": mode, "labelled_sources": len(set(groups[lab].tolist())), "labelled_clips": len(lab),
                  "performer_actions": {p: sorted({info[s][1] for s in set(groups[lab].tolist()) if info[s][0] == p}) for p in range(9)},
                  "accuracy": res.scores, "seconds": round(time.time() - t)}))
