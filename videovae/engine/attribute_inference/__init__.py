"""Semi-supervised attribute inference (Sec. 3.2, Sec. 4.1): stage 1 of two-stage training.

Sec. 4.1: "we first use approximately 20% of the training data to train the holistic
attribute classifiers φ_att using a cross entropy loss. Once φ_att is trained, it is
used to infer the holistic attributes for the rest of the training set. [...] The
inferred attributes are then considered as fixed during training of the VideoVAE model".

One thing per module:

* :mod:`.net` — φ_att itself (Eq. 3, footnote 2) and its masked loss;
* :mod:`.labels` — :func:`labelled_subset` (which clips keep their labels: seeded, covering
  every value), :func:`combine_labels` and :class:`LabelledView` (the fixed controls of
  stage 2), :func:`write_labels_csv` (``inferred_labels.csv``);
* :mod:`.loop` — the one training loop (:func:`run_steps`) the three parts below share;
* :mod:`.training` — :func:`pretrain_encoder`, :func:`train_attribute_net` (masked cross
  entropy, MSE for continuous attributes), :func:`self_train`;
* :mod:`.augment` — time reversal (:func:`reversal_tables`, :func:`reverse_clips`) and shifts;
* :mod:`.accuracy` — :func:`infer_labels`, :func:`confident_labels`, :func:`accuracy`;
* :mod:`.stage_one` — :func:`run_stage_one` and :func:`reuse_stage_one` for
  :class:`videovae.engine.trainer.Trainer`;
* the file format (:func:`save_attribute_net`, :func:`load_attribute_net`: plain-data
  checkpoints, ``weights_only=True`` loadable) lives beside the other checkpoint code in
  :mod:`videovae.engine.attribute_net_file`.

Stage 1 in three parts (:func:`run_stage_one`): the net's encoder is pretrained as a frame
autoencoder on all training clips (:func:`pretrain_encoder`), the net is trained on the
labelled clips (:func:`train_attribute_net`, with time-reversed copies where the data set
declares how labels change backwards), then once more on the labelled clips plus the
unlabelled ones it labels with confidence ≥ 0.9 (:func:`self_train`). What each part
brought, with the commands, is in ``docs/attribute_inference.md``.
"""

from ..attribute_net_file import (
    NET_FILE,
    NET_FORMAT,
    NET_FORMAT_VERSION,
    load_attribute_net,
    net_from_payload,
    net_payload,
    read_attribute_net,
    save_attribute_net,
)
from .accuracy import accuracy, confident_labels, format_accuracy, infer_labels, seen_values_mask
from .augment import random_shift, reversal_tables, reverse_clips, shift_clips
from .labels import LABELS_FILE, LabelledView, clip_names, combine_labels, labelled_subset, split_groups, write_labels_csv
from .loop import run_steps
from .net import AttributeInferenceNet, attribute_loss, build_attribute_net, motion_frames
from .stage_one import StageOne, reuse_stage_one, run_stage_one, stage_one_from_payload
from .training import pretrain_encoder, self_train, train_attribute_net

__all__ = [
    "LABELS_FILE", "NET_FILE", "NET_FORMAT", "NET_FORMAT_VERSION", "AttributeInferenceNet", "LabelledView", "StageOne",
    "accuracy", "attribute_loss", "build_attribute_net", "clip_names", "combine_labels", "confident_labels",
    "format_accuracy", "infer_labels", "labelled_subset", "load_attribute_net", "motion_frames", "net_from_payload",
    "net_payload", "pretrain_encoder", "random_shift", "read_attribute_net", "reuse_stage_one", "reversal_tables",
    "reverse_clips", "run_stage_one", "run_steps", "save_attribute_net", "seen_values_mask", "self_train",
    "shift_clips", "split_groups", "stage_one_from_payload", "train_attribute_net", "write_labels_csv",
]
