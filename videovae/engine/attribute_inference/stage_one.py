"""Stage 1 for the trainer (Sec. 4.1): choose the labelled clips, train φ_att, infer the other
clips' labels, write the files, and read a finished stage 1 back instead of training again."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import attrs
import torch
from torch import Tensor

from ...core.config import ModelConfig
from ...core.errors import CheckpointError
from ..attribute_net_file import NET_FILE, net_from_payload, net_payload, read_attribute_net
from ..archive import atomic_torch_save
from .accuracy import accuracy, format_accuracy, infer_labels, seen_values_mask
from .labels import LABELS_FILE, clip_names, combine_labels, labelled_subset, split_groups, write_labels_csv
from .net import AttributeInferenceNet
from .training import self_train, train_attribute_net


@attrs.frozen(eq=False)
class StageOne:
    """What stage 1 produced: the net, its data, the labelled clips and the stage-2 controls."""

    net: AttributeInferenceNet
    payload: dict
    labelled: Tensor  # [L] clip indices of the train split
    label_rows: Tensor  # [N, A] stage-2 controls
    scores: dict  # accuracy on the unlabelled clips whose truth is known


def run_stage_one(dataset, out_dir: str | Path, *, fraction: float, steps: int, batch_size: int, lr: float, seed: int,
                  device: torch.device, model_config: ModelConfig, settings: Mapping[str, Any], pretrain_steps: int = 0,
                  self_training_steps: int = 0, shift: int = 0,
                  progress: bool = False, write: bool = True, log: Callable[[str], None] = print) -> StageOne:
    """Sec. 4.1 stage 1 on the train split: choose the labelled clips, train φ_att on them, infer the
    others, write ``attribute_net.pt`` and ``inferred_labels.csv`` (when ``write``), log the accuracy on
    the unlabelled clips whose truth is known, and return the controls for stage 2.

    Mini-clips cut from one source video (a split with ``clip_ids``, e.g. Weizmann) are labelled
    or not together: ``fraction`` then counts source videos.

    ``shift`` > 0 moves each clip of the supervised and self-training steps by up to that many pixels
    (:func:`random_shift`).

    ``settings`` (what defines stage 1: data, model, fraction, steps, seed...) are stored with the
    net; :func:`reuse_stage_one` reads the files back instead of training again.
    """
    split = dataset.split("train")
    truth = dataset.label_rows("train").float()
    labelled = labelled_subset(truth, fraction, seed, dataset.attributes, split_groups(split))
    net, history = train_attribute_net(dataset, labelled, steps, batch_size, lr, seed, device, progress,
                                       model_config=model_config, pretrain_steps=pretrain_steps, shift=shift)
    if self_training_steps:
        net, more, counts = self_train(net, dataset, labelled, truth, self_training_steps, batch_size, lr, seed, device,
                                       progress, shift=shift)
        history += [{**row, "step": row["step"] + steps, "self_training": True} for row in more]
        log(f"attribute inference: self-training on the confident labels of unlabelled clips "
            f"({', '.join(f'{k} {v}' for k, v in counts.items())} of {len(truth) - len(labelled)})")
    inferred = infer_labels(net, split, batch_size=max(batch_size, 32), progress=progress)
    rows = combine_labels(truth, labelled, inferred)
    unlabelled = torch.ones(len(truth), dtype=torch.bool)
    unlabelled[labelled] = False
    scores = accuracy(inferred[unlabelled], truth[unlabelled], dataset.attributes)
    seen = accuracy(inferred[unlabelled], truth[unlabelled], dataset.attributes,
                    mask=seen_values_mask(truth[unlabelled], truth[labelled], dataset.attributes))
    payload = net_payload(net, history=history, labelled=labelled, inferred=inferred, label_rows=rows,
                          settings=dict(settings), accuracy=scores, accuracy_seen_values=seen, shift=shift)
    out_dir = Path(out_dir)
    if write:
        atomic_torch_save(payload, out_dir / NET_FILE)
        write_labels_csv(out_dir / LABELS_FILE, dataset.attributes, inferred, truth, labelled, clip_names(split))
    log(f"attribute inference: {len(labelled)} of {len(truth)} training clips labelled; accuracy on the "
        f"{int(unlabelled.sum())} unlabelled clips: {format_accuracy(scores, seen)}")
    return StageOne(net, payload, labelled, rows, scores)


def stage_one_from_payload(payload: Mapping[str, Any], num_clips: int, where: str) -> StageOne:
    net = net_from_payload(payload, where)
    try:
        rows = torch.as_tensor(payload["label_rows"], dtype=torch.float32)
        labelled = torch.as_tensor(payload["labelled"], dtype=torch.long)
    except KeyError as exc:
        raise CheckpointError(f"{where} lacks the field {exc.args[0]!r}") from None
    if rows.shape != (num_clips, len(net.attributes)):
        raise CheckpointError(f"{where} holds labels for {tuple(rows.shape)} clips x attributes, the training split has "
                              f"{num_clips} clips and {len(net.attributes)} attributes")
    return StageOne(net, dict(payload), labelled, rows, dict(payload.get("accuracy", {})))


def reuse_stage_one(path: str | Path, settings: Mapping[str, Any], num_clips: int) -> StageOne | None:
    """Stage 1 read back from ``path`` when it was made with the same ``settings``; None otherwise."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = read_attribute_net(path)
        if payload.get("settings") != dict(settings):
            return None
        return stage_one_from_payload(payload, num_clips, str(path))
    except CheckpointError:
        return None

