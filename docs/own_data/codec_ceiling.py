"""How recognisable can the demo's codec make the sprites at all? (docs/own_data.md, "The codec's ceiling")

The demo preset's encoder and decoder alone, trained as a plain autoencoder (no φ_τ, no sampling, no KL,
no prior): Adam at 1e-3 on the sum of squared errors of 128 training frames drawn at random a step, with
the encoder's dropout given (A.4: 0.5). Its reconstructions of the evaluation's real test clips (the bound's
clips, frame by frame) are then scored by the data set's cached evaluation classifier the way a model's
posterior reconstructions are (``videovae evaluate --reconstruction``): Intra-E, Inter-E, I-score and the
commanded class. A model whose frames pass through this codec cannot be expected to beat these numbers by
much, so they say how much of the gap to the bound is the codec's.

    PYTHONPATH=. python docs/own_data/codec_ceiling.py STEPS DROPOUT CLASSIFIER_DIR OUT.json [WIDTH [SIZE [BATCHES]]]

WIDTH (default 1) multiplies the codec's channels and fully connected widths (2: [32, 64, 128, 128], 1024).
SIZE (default ``demo``: the demo's codec on 32×32 frames, scored by the classifier of 1000 steps) or ``paper``: A.4's
codec on the sprites' own 64×64 frames, scored by the 64×64 classifier of 4000 steps (the one ``videovae evaluate
--classifier-steps 4000`` caches for a 64×64 model).
BATCHES (default ``frames``): the 128 frames of a step drawn at random from all training frames, or ``clips``: 8
training clips of 16 frames drawn at random, as the model's batches are (8 objects a step instead of up to 128).

CLASSIFIER_DIR is the folder of the committed classifier (``~/.cache/videovae/classifiers/moving-sprites-…``);
the script stops rather than train a new one.
"""
import json
import sys
import time
from pathlib import Path

import torch

from videovae.engine.data import load_dataset
from videovae.engine.evaluation.classifier import classifier_path, load_or_train_classifier
from videovae.engine.evaluation.protocol import EvalProtocol, balanced_test_indices, evaluation_attributes, real_test_clips
from videovae.engine.evaluation.scores import commanded_accuracy, entropy_scores
sys.path.insert(0, str(Path(__file__).parent))
from codec_autoencoder import BATCHES, batch_drawer, build_codec, fit, refuse

#: SIZE → (frame size, steps of the cached classifier that scores it)
SIZES = {"demo": (32, 1000), "paper": (64, 4000)}


def main():
    steps, dropout, folder, out = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    width = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    size = sys.argv[6] if len(sys.argv) > 6 else "demo"
    batches = sys.argv[7] if len(sys.argv) > 7 else "frames"
    if size not in SIZES or (size == "paper" and width != 1):
        refuse(f"SIZE must be demo (any WIDTH) or paper (WIDTH 1), got {size!r} with WIDTH {width}")
    if batches not in BATCHES:
        refuse(f"BATCHES must be frames or clips, got {batches!r}")
    frame_size, classifier_steps = SIZES[size]
    torch.set_num_threads(1)
    torch.manual_seed(0)  # before the classifier is loaded, as the committed runs did
    data = load_dataset("moving-sprites", None, {"size": frame_size})
    protocol = EvalProtocol(classifier_steps=classifier_steps, eval_attributes=evaluation_attributes(data))
    stored = classifier_path(folder, "moving-sprites", data, protocol)
    if not stored.is_file():
        refuse(f"no classifier {stored.name} in {folder}: pass the folder of the committed one")
    classifier = load_or_train_classifier(data, protocol, folder, name="moving-sprites")

    encoder, decoder = build_codec(dropout, width, size)
    train = data.split("train")
    train_clips = torch.stack([train[i][0] for i in range(len(train))])  # [N, 16, C, H, W]
    start = time.time()
    fit(encoder, decoder, batch_drawer(train_clips, batches, torch.Generator().manual_seed(0)), steps)
    seconds = time.time() - start

    clips, labels = real_test_clips(data, protocol.length)
    pick = balanced_test_indices(labels, classifier.joint, protocol)
    encoder.eval()
    with torch.no_grad():
        real = clips[pick]
        decoded = torch.cat([decoder(encoder(part.flatten(0, 1))).clamp(0, 1).view_as(part) for part in real.split(32)])
    error = ((decoded - real) ** 2).sum((2, 3, 4)).mean().item()
    result = {"steps": steps, "dropout": dropout, "width": width, "size": size, "batches": batches,
              "train_seconds": round(seconds, 1),
              "test_squared_error_per_frame": round(error, 3),
              "bound": entropy_scores(classifier(real)), "codec_reconstructions": entropy_scores(classifier(decoded)),
              "commanded_bound": commanded_accuracy(classifier(real), labels[pick], classifier.joint),
              "commanded_reconstructions": commanded_accuracy(classifier(decoded), labels[pick], classifier.joint)}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
