"""Stage 1 of semi-supervised training (Sec. 4.1) alone on a built-in data set: the accuracy of φ_att on the
unlabelled training clips, 20% labelled, for given step counts and the likelihood of the pretraining.

    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one.py DATASET PRETRAIN SUPERVISED SELF [LIKELIHOOD]

e.g. ``moving-sprites 600 600 0 gaussian``; prints one JSON line (docs/own_data.md)."""
import json
import sys
import time

import torch

from videovae.engine.attribute_inference.stage_one import run_stage_one
from videovae.engine.data import load_dataset
from videovae.registry.factory import resolve_config

torch.set_num_threads(1)
name, pre, sup, selft = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dataset = load_dataset(name, None, {})
config = resolve_config("demo", **({"likelihood": sys.argv[5]} if len(sys.argv) > 5 else {}))
started = time.time()
result = run_stage_one(dataset, ".", fraction=0.2, steps=sup, batch_size=16, lr=1e-3, seed=0, device=torch.device("cpu"),
                       model_config=config, settings={}, pretrain_steps=pre, self_training_steps=selft, write=False)
rows = [r for r in result.payload["history"] if "pretrain_loss" in r]
print(json.dumps({"dataset": name, "pretrain": pre, "supervised": sup, "self_training": selft,
                  "likelihood": config.likelihood, "accuracy": result.scores,
                  "pretrain_first_last": [rows[0], rows[-1]] if rows else None,
                  "seconds": round(time.time() - started)}))
