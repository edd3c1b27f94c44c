"""KL(q(z^(t)|x) ‖ p(z^(t)|x^(<t), a)) per frame t (the KL term of Eq. 9, ModelOutput.kl), averaged
over the first 64 real clips of a split (train or test) of each checkpoint's data set, one posterior
sample (seed 0).
Usage: OMP_NUM_THREADS=1 PYTHONPATH=<repo> python kl_per_frame.py OUT.json SPLIT CHECKPOINT..."""
import json, sys, torch, videovae
from videovae.engine.trainer import load_dataset
rows = {}
split = sys.argv[2]
for path in sys.argv[3:]:
    loaded = videovae.load(path)
    stored = loaded.payload["dataset"]
    data = load_dataset(stored["name"], stored.get("root"), dict(stored.get("options", {}))).split(split)
    frames, labels = (torch.stack(parts) for parts in zip(*(data[i] for i in range(64))))
    with torch.no_grad():
        out = loaded.model.eval()(frames, labels, generator=torch.Generator().manual_seed(0))
    key = f"{split} {path}"
    rows[key] = [round(v, 2) for v in out.kl.mean(0).tolist()]
    print(key, rows[key])
json.dump(rows, open(sys.argv[1], "w"), indent=1)
