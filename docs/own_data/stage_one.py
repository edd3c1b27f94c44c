"""Stage 1 of semi-supervised training (Sec. 4.1) alone on a built-in data set: the accuracy of φ_att on the
unlabelled training clips (and, with ``--test``, on the test clips), 20% labelled, for given step counts, the
likelihood of the pretraining and the shift of the labelled clips.

    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one.py DATASET PRETRAIN SUPERVISED SELF [LIKELIHOOD]
        [--shift N] [--data-root DIR] [--dataset-option KEY=VALUE ...] [--test] [--keep DIR] [--seed N]
        [--preset NAME]

``--shift -1`` lets stage 1 choose it on held-out labelled clips, as ``videovae train`` does by default;
``--keep DIR`` writes the net and the inferred labels there (for ``stage_one_errors.py``); ``--preset`` names the model
preset whose encoder φ_att copies (``demo``, 32×32, by default; ``videovae`` for A.4 at 64×64, with
``--dataset-option size=64``).

e.g. ``moving-sprites 600 600 0 gaussian`` or ``weizmann 1500 1500 1000 --shift 6 --data-root
../shared/data/weizmann-actions --dataset-option size=32 --test``; prints one JSON line (docs/own_data.md,
docs/attribute_inference.md)."""
import argparse
import json
import os
import time

import torch

from videovae.engine.attribute_inference import accuracy, infer_labels
from videovae.engine.attribute_inference.stage_one import run_stage_one
from videovae.cli_parser import key_value
from videovae.engine.data import load_dataset
from videovae.registry.factory import resolve_config

parser = argparse.ArgumentParser()
parser.add_argument("dataset")
parser.add_argument("pretrain", type=int)
parser.add_argument("supervised", type=int)
parser.add_argument("self_training", type=int)
parser.add_argument("likelihood", nargs="?")
parser.add_argument("--shift", type=int, default=0, help="pixels; -1: chosen on held-out labelled clips (the default)")
parser.add_argument("--data-root")
parser.add_argument("--dataset-option", action="append", type=key_value, default=[])
parser.add_argument("--test", action="store_true", help="also the accuracy on the test clips")
parser.add_argument("--seed", type=int, default=0, help="draws the labelled clips and the training's randomness")
parser.add_argument("--preset", default="demo", help="the model preset (its frame size and encoder)")
parser.add_argument("--keep", help="write attribute_net.pt and inferred_labels.csv into this folder")
args = parser.parse_args()
torch.set_num_threads(1)
options = dict(args.dataset_option)
dataset = load_dataset(args.dataset, args.data_root, options)
config = resolve_config(args.preset, **({"likelihood": args.likelihood} if args.likelihood else {}))
started = time.time()
if args.keep:
    os.makedirs(args.keep, exist_ok=True)
result = run_stage_one(dataset, args.keep or ".", fraction=0.2, steps=args.supervised, batch_size=16, lr=1e-3,
                       seed=args.seed,
                       device=torch.device("cpu"), model_config=config, settings={}, pretrain_steps=args.pretrain,
                       self_training_steps=args.self_training, shift=None if args.shift < 0 else args.shift,
                       write=bool(args.keep))
rows = [r for r in result.payload["history"] if "pretrain_loss" in r]
report = {"dataset": args.dataset, "preset": args.preset, "seed": args.seed, "options": options, "pretrain": args.pretrain,
          "supervised": args.supervised,
          "self_training": args.self_training, "likelihood": config.likelihood, "shift": result.payload["shift"],
          "shift_choice": result.payload.get("shift_choice"),
          "accuracy": result.scores, "pretrain_first_last": [rows[0], rows[-1]] if rows else None}
if args.test:
    inferred = infer_labels(result.net, dataset.split("test"), batch_size=32)
    report["test_accuracy"] = accuracy(inferred, dataset.label_rows("test").float(), dataset.attributes)
report["seconds"] = round(time.time() - started)
print(json.dumps(report))
