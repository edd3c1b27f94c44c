"""Evaluation of generated videos with the paper's metrics (Sec. 5.2, Tables 1 and 2).

* :mod:`.protocol`: what is measured (:class:`EvalProtocol`), the joint label of the evaluated
  attributes and the class-balanced real test clips.
* :mod:`.classifier`: the evaluation classifier ρ(y|x), trained on real training videos only, and
  its accuracy on the real test clips.
* :mod:`.cache`: the default classifier folder, one per data set in the videovae cache.
* :mod:`.scores`: Intra-E (Eq. 11), Inter-E (Eq. 12), I-score (Eq. 10), how often the commanded class is
  named, PSNR and SSIM of a row (mode iv only), the "Mean frame" reference.
* :mod:`.collapse`: the collapse checks (:mod:`videovae.engine.health`) of each evaluated model.
* :mod:`.report`: the Markdown table and the JSON report.
* :mod:`.tensorboard`: each checkpoint's numbers into its run's TensorBoard log (``eval/*`` at its step).
* :mod:`.flow`: :func:`evaluate`, the one entry point (bound → classifier → rows → report).

Every result carries its :class:`EvalProtocol`; two results are comparable only when
their protocols match.
"""

from .cache import default_classifier_dir
from .classifier import (NEAR_CHANCE, EvaluationClassifier, JointLabelDataset, classifier_accuracy, classifier_key,
                         label_agreement, load_or_train_classifier)
from .collapse import model_health
from .flow import EvalOptions, EvalReport, Run, evaluate
from .protocol import (PROTOCOL_VERSION, EvalProtocol, JointLabels, balanced_indices, balanced_test_indices,
                       evaluation_attributes, per_class_labels, real_test_clips)
from .report import COLLAPSED, adjustment_notes, markdown_table, write_report
from .scores import (MODE_ATTRIBUTES, MODE_FIRST_FRAME, PER_ATTRIBUTE, SCORES, bound, commanded_accuracy,
                     entropy_scores, evaluate_model, frame_scores, mean_frame_scores, mean_over_seeds,
                     prediction_scores, reconstruction_scores, score_model, shuffled_frames, training_references)

__all__ = [
    "COLLAPSED", "EvalOptions", "EvalProtocol", "EvalReport", "EvaluationClassifier", "JointLabelDataset",
    "JointLabels", "MODE_ATTRIBUTES", "MODE_FIRST_FRAME", "NEAR_CHANCE", "PER_ATTRIBUTE", "PROTOCOL_VERSION", "Run",
    "SCORES", "adjustment_notes", "balanced_indices", "balanced_test_indices", "bound", "classifier_accuracy",
    "classifier_key", "commanded_accuracy", "default_classifier_dir", "entropy_scores", "evaluate", "evaluate_model",
    "evaluation_attributes", "frame_scores", "label_agreement", "load_or_train_classifier", "markdown_table",
    "mean_frame_scores", "mean_over_seeds", "model_health", "per_class_labels", "prediction_scores",
    "real_test_clips", "reconstruction_scores", "score_model", "shuffled_frames", "training_references",
    "write_report",
]
