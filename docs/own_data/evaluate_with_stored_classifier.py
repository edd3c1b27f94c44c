"""Score checkpoints with a classifier folder's stored evaluation classifier whatever codec they have
(docs/own_data.md, "The codec's ceiling"): ``videovae evaluate --classifier-dir`` refuses a stored classifier
built with another encoder than the first checkpoint's, so a model with other codec sizes or dropout would get
a classifier of its own and a bound of its own; here the classifier's own stored config is passed, so the
bound and every row are the committed ones'. Rows: attributes only (i), first frame given (iv), posterior
reconstructions; 1000 classifier steps as in the sprites' tables.

    PYTHONPATH=. python docs/own_data/evaluate_with_stored_classifier.py CLASSIFIER_DIR OUT CHECKPOINT [CHECKPOINT ...]
"""
import sys
from pathlib import Path

from videovae.core.config import ModelConfig
from videovae.engine.attribute_inference import load_attribute_net
from videovae.engine.evaluation.flow import EvalOptions, evaluate


def main():
    folder, out, checkpoints = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    stored = sorted(folder.glob("classifier-*.pt"))
    if len(stored) != 1:
        sys.exit(f"{folder} holds {len(stored)} classifiers; expected one")
    _, payload = load_attribute_net(stored[0])
    options = EvalOptions(first_frame=True, reconstruction=True, classifier_steps=1000, classifier_dir=str(folder),
                          classifier_config=ModelConfig.from_dict(payload["model_config"]))
    evaluate(checkpoints, out=out, options=options)


if __name__ == "__main__":
    main()
