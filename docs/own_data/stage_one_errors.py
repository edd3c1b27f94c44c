"""Where stage 1's remaining errors are: per categorical attribute, the confusion matrix on the unlabelled training
clips, which values the labelled clips cover (and with which values of the other attributes), the errors by
foreground area and by source video, and the accuracy when the net's log posteriors are averaged over shifted
copies of each clip (test-time shifts, a 3×3 grid of ±s px).

    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one.py moving-sprites 1500 1500 1000 --shift -1 --keep S
    OMP_NUM_THREADS=1 PYTHONPATH=. python docs/own_data/stage_one_errors.py S moving-sprites [--data-root DIR]
        [--dataset-option KEY=VALUE ...] [--shifts 1,2,3,4,6]

Prints one JSON line (docs/attribute_inference.md, "What the remaining errors are")."""
import argparse
import json
from pathlib import Path

import torch

from videovae.engine.attribute_inference import accuracy, shift_clips
from videovae.engine.attribute_inference.labels import split_groups
from videovae.engine.attribute_net_file import load_attribute_net
from videovae.cli_parser import key_value
from videovae.engine.data import load_dataset
from videovae.engine.modes import eval_mode

parser = argparse.ArgumentParser()
parser.add_argument("folder", help="holds attribute_net.pt (stage_one.py --keep)")
parser.add_argument("dataset")
parser.add_argument("--data-root")
parser.add_argument("--dataset-option", action="append", type=key_value, default=[])
parser.add_argument("--shifts", default="1,2,3,4,6")
args = parser.parse_args()
torch.set_num_threads(1)
options = dict(args.dataset_option)
dataset = load_dataset(args.dataset, args.data_root, options)
net, payload = load_attribute_net(Path(args.folder) / "attribute_net.pt")
split, truth = dataset.split("train"), dataset.label_rows("train").float()
specs = list(dataset.attributes)
labelled = torch.as_tensor(payload["labelled"], dtype=torch.long)
unlabelled = torch.ones(len(truth), dtype=torch.bool)
unlabelled[labelled] = False
clips = torch.nonzero(unlabelled)[:, 0]
inferred = torch.as_tensor(payload["inferred"], dtype=torch.float32)
groups = split_groups(split)


batches = [torch.stack([split[int(i)][0] for i in clips[start:start + 32]]) for start in range(0, len(clips), 32)]


@torch.no_grad()
def shifted_log_posteriors(pixels: int) -> list[torch.Tensor]:
    """Per attribute, the clips' frame-averaged log posteriors summed over the 3×3 grid of ±pixels shifts."""
    offsets = [(dy, dx) for dy in (-pixels, 0, pixels) for dx in (-pixels, 0, pixels)] if pixels else [(0, 0)]
    total = None
    with eval_mode(net):
        for offset in offsets:
            rows = [net.pooled_scores(net(shift_clips(frames, pixels, [offset] * len(frames))), "mean")
                    for frames in batches]
            columns = [torch.cat([row[a] for row in rows]) for a in range(len(specs))]
            total = columns if total is None else [x + y for x, y in zip(total, columns)]
    return total


def predicted(total: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([t.argmax(-1).float() if spec.kind == "categorical" else torch.full((len(t),), float("nan"))
                        for spec, t in zip(specs, total)], -1)


report = {"dataset": args.dataset, "shift": payload.get("shift"), "accuracy": payload.get("accuracy"), "attributes": {}}
area = torch.cat([(frames[:, 0].amax(1) > 0.2).flatten(1).sum(1) for frames in batches]).float()  # foreground px, frame 0
for a, spec in enumerate(specs):
    if spec.kind != "categorical":
        continue
    known = ~torch.isnan(truth[clips, a])
    t, p = truth[clips, a][known].long(), inferred[clips, a][known].long()
    confusion = torch.zeros(spec.num_classes, spec.num_classes, dtype=torch.long)
    confusion.index_put_((t, p), torch.ones_like(t), accumulate=True)
    wrong = t != p
    entry = {"values": list(spec.values), "confusion (rows: truth)": confusion.tolist(),
             "labelled clips per value": [int((truth[labelled, a] == k).sum()) for k in range(spec.num_classes)],
             "wrong clips": int(wrong.sum()), "of": int(len(t)),
             "foreground px (first frame) of the wrong clips": sorted(area[known][wrong].tolist()),
             "median foreground px of the right clips": float(area[known][~wrong].median()) if (~wrong).any() else None}
    others = [b for b, other in enumerate(specs) if b != a and other.kind == "categorical"]
    entry["labelled clips' other values per value"] = {
        spec.values[k]: {specs[b].name: sorted({specs[b].values[int(v)] for v in truth[labelled, b][truth[labelled, a] == k]
                                                if v == v}) for b in others} for k in range(spec.num_classes)}
    if groups is not None:
        sources = groups[clips][known]
        entry["wrong source videos"] = f"{len(set(sources[wrong].tolist()))} of {len(set(sources.tolist()))}"
    report["attributes"][spec.name] = entry
report["test-time shifts"] = {}
for pixels in [0] + [int(s) for s in args.shifts.split(",") if s]:
    scores = accuracy(predicted(shifted_log_posteriors(pixels)), truth[clips], dataset.attributes)
    report["test-time shifts"][f"±{pixels} px"] = {k: round(v, 4) for k, v in scores.items() if v == v}
print(json.dumps(report))
