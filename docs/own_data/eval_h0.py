"""Score checkpoints with one evaluation classifier, some of them generating from h(0) = 0 instead of the LSTM
prior's own start (docs/own_data.md, "h(0), measured"): ``evaluate()`` on runs whose loaded model has its
``temporal.options.initial_state`` replaced; nothing is written into the checkpoints.

    PYTHONPATH=$PWD python docs/own_data/eval_h0.py OUT CLASSIFIER_STEPS VIDEOS_PER_CLASS CLASSIFIER_DIR|- \\
        LABEL=RUN/checkpoint.pt LABEL=RUN/checkpoint.pt@zeros ...

``CLASSIFIER_DIR`` reuses the classifier of an ``examples/compare_baselines.py --sizes demo`` run (``-``: the
data set's cached classifier of ``videovae evaluate``).
"""
import sys

import attrs

from videovae.core.config import ModelConfig
from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.evaluation import EvalOptions, evaluate
from videovae.engine.evaluation.flow import Run
from videovae.plugins.presets import size_fields

out, steps, per_class, folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
runs = []
for arg in sys.argv[5:]:
    label, path = arg.split("=", 1)
    path, _, start = path.partition("@")
    loaded = load_checkpoint(path)
    if start:
        loaded.model.temporal.options = attrs.evolve(loaded.model.temporal.options, initial_state=start)
    runs.append(Run(label, loaded))
# compare_baselines' classifier is built at the compared models' sizes; evaluate's own default is the first checkpoint's
shared = {"classifier_config": ModelConfig().evolve(**{**size_fields("demo"), "frame_size": 32, "channels": 3}),
          "classifier_dir": folder} if folder != "-" else {}
report = evaluate(runs, out=out, options=EvalOptions(first_frame=True, classifier_steps=steps, videos_per_class=per_class,
                                                     **shared), log=print)
print(report.table)
