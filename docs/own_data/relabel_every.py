"""Self-training that labels the unlabelled clips once against again and again (docs/attribute_inference.md,
"Labelling again during self-training"): stage 1 with its defaults up to the supervised net (the shift chosen on
held-out labelled clips, 20% labelled), then 1000 self-training steps from that one net for each given
``relabel_every`` (0: labelled once, at the start); the accuracy on the unlabelled training clips and on the test
clips for each.

    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/relabel_every.py DATASET --relabel-every 0 100
        [--seed N] [--steps 1000] [--data-root DIR] [--dataset-option KEY=VALUE ...]

Prints one JSON line. Its ``relabel_every`` 0 row is stage 1 as ``stage_one.py DATASET 1500 1500 1000 --shift -1``
runs it (same draws, same numbers)."""
import argparse
import json
import time

import torch

from videovae.cli_parser import key_value
from videovae.engine.attribute_inference import accuracy, infer_labels
from videovae.engine.attribute_inference.stage_one import run_stage_one
from videovae.engine.attribute_inference.training import self_train
from videovae.engine.data import load_dataset
from videovae.registry.factory import resolve_config

parser = argparse.ArgumentParser()
parser.add_argument("dataset")
parser.add_argument("--relabel-every", type=int, nargs="+", default=[0, 100])
parser.add_argument("--steps", type=int, default=1000, help="self-training steps in all (the default's 1000)")
parser.add_argument("--seed", type=int, default=0, help="draws the labelled clips and the training's randomness")
parser.add_argument("--data-root")
parser.add_argument("--dataset-option", action="append", type=key_value, default=[])
args = parser.parse_args()
torch.set_num_threads(1)
options = dict(args.dataset_option)
dataset = load_dataset(args.dataset, args.data_root, options)
config = resolve_config("demo")
started = time.time()
supervised = run_stage_one(dataset, ".", fraction=0.2, steps=1500, batch_size=16, lr=1e-3, seed=args.seed,
                           device=torch.device("cpu"), model_config=config, settings={}, pretrain_steps=1500,
                           self_training_steps=0, shift=None, write=False, log=lambda line: None)
truth = dataset.label_rows("train").float()
unlabelled = torch.ones(len(truth), dtype=torch.bool)
unlabelled[supervised.labelled] = False
report = {"dataset": args.dataset, "seed": args.seed, "options": options, "shift": supervised.payload["shift"],
          "supervised_only": supervised.scores, "relabel_every": {}}
for every in args.relabel_every:
    began = time.time()
    net, _, counts = self_train(supervised.net, dataset, supervised.labelled, truth, args.steps, 16, 1e-3, args.seed,
                                torch.device("cpu"), shift=supervised.payload["shift"], relabel_every=every)
    inferred = infer_labels(net, dataset.split("train"), batch_size=32)
    test = infer_labels(net, dataset.split("test"), batch_size=32)
    report["relabel_every"][every] = {
        "accuracy": accuracy(inferred[unlabelled], truth[unlabelled], dataset.attributes),
        "test_accuracy": accuracy(test, dataset.label_rows("test").float(), dataset.attributes),
        "pseudo_labelled_last": counts, "seconds": round(time.time() - began)}
report["seconds"] = round(time.time() - started)
print(json.dumps(report))
