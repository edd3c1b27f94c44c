"""What TensorBoard shows: the event files of a run (and of ``videovae evaluate``) read back tag by tag."""

import io
import json

import pytest
from PIL import Image

from tensorboard_events import read_events, scalars, summaries, text
from videovae.engine.tensorboard_log import METRICS
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import train

TINY_RUN = dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=6), batch_size=4, log_every=1,
                checkpoint_every=0, lr=1e-3, val_every=2, val_clips=3)


def hparams_data(folder, tag):
    """``(step, HParamsPluginData)`` of the HParams summaries ``_hparams_/<tag>`` in ``folder``."""
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    return [(step, HParamsPluginData.FromString(value.metadata.plugin_data.content))
            for step, value in summaries(folder, f"_hparams_/{tag}")]


def history_values(history, key):
    return [(row["step"], pytest.approx(row[key], rel=1e-6)) for row in history if key in row]


def test_a_run_shows_its_config_hparams_losses_side_by_side_and_samples_as_video(tmp_path):
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 4, "sample_every": 2})
    result = train(config, tmp_path, progress=False)
    board = tmp_path / "tensorboard"
    assert len(list(board.iterdir())) == 1  # still one event file per start

    # the resolved settings as text at the start: defaults filled in, the model as built, the data set, versions
    (step, config_text), = text(board, "config")
    assert step == 0 and config_text.startswith("**New run** on 1 process (cpu)")
    for line in ('preset = "tiny"', "kl_warmup = 200", "val_every = 2", 'encoder = "paper-conv"', "latent_dim = 16",
                 'name = "synthetic-chairs"', "videovae 0.1.0", "tensorboardX "):
        assert line in config_text, line

    # the train and val curves of each loss, and a Custom Scalars chart holding both
    for key in ("loss", "reconstruction", "kl"):
        assert scalars(board, f"train/{key}") == history_values(result.history, key)
        assert scalars(board, f"val/{key}") == history_values(result.history, f"val_{key}")
    from tensorboardX.proto.layout_pb2 import Layout

    (_, value), = summaries(board, "custom_scalars__config__")
    (category,) = Layout.FromString(value.tensor.string_val[0]).category
    charts = {chart.title: list(chart.multiline.tag) for chart in category.chart}
    assert category.title == "train vs validation" and charts["loss"] == ["train/loss$", "val/loss$"]
    assert charts["reconstruction vs mean frame"] == ["health/reconstruction_error$", "health/mean_frame_error$"]

    # hyper-parameters at the start, the final metrics at the end, the session marked done
    (step, start), = hparams_data(board, "session_start_info")
    hparams = {name: getattr(value, value.WhichOneof("kind")) for name, value in start.session_start_info.hparams.items()}
    assert step == 0 and {k: hparams[k] for k in ("preset", "size", "lr", "batch_size", "steps", "kl_weight",
                                                   "kl_warmup", "latent_dim", "processes")} == {
        "preset": "tiny", "size": "preset", "lr": pytest.approx(1e-3), "batch_size": 4, "steps": 4, "kl_weight": 1,
        "kl_warmup": 200, "latent_dim": 16, "processes": 1}
    (_, experiment), = hparams_data(board, "experiment")
    assert [m.name.tag for m in experiment.experiment.metric_infos] == list(METRICS)
    last_val = [row for row in result.history if "val_loss" in row][-1]
    assert scalars(board, "hparams/train_loss") == [(4, pytest.approx(result.last_losses["loss"], rel=1e-6))]
    assert scalars(board, "hparams/val_loss") == [(4, pytest.approx(last_val["val_loss"], rel=1e-6))]
    ratio = last_val["health_reconstruction_error"] / last_val["health_mean_frame_error"]
    assert scalars(board, "hparams/reconstruction_vs_mean_frame") == [(4, pytest.approx(ratio, rel=1e-6))]
    (step, end), = hparams_data(board, "session_end_info")
    assert step == 4 and end.session_end_info.status == 1  # STATUS_SUCCESS

    # samples every sample_every steps (the end adds none: step 4 was just written), as a grid and as a video
    assert [step for step, _ in summaries(board, "samples")] == [2, 4]
    videos = summaries(board, "samples/video")
    assert [step for step, _ in videos] == [2, 4]
    with Image.open(io.BytesIO(videos[-1][1].image.encoded_image_string)) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6  # the clip's frames
        assert gif.size == (8 * 32 + 7 * 2, 32) == (videos[-1][1].image.width, videos[-1][1].image.height)


def test_a_time_limit_stop_records_the_metrics_and_a_resumed_run_stays_one_hparams_session(tmp_path):
    stopped = train(TrainConfig.from_dict({**TINY_RUN, "steps": 4, "time_limit": 1e-9}), tmp_path, progress=False)
    assert stopped.stopped_by_time_limit and stopped.step == 1
    board = tmp_path / "tensorboard"
    assert scalars(board, "hparams/train_loss") == [(1, pytest.approx(stopped.last_losses["loss"], rel=1e-6))]
    assert scalars(board, "hparams/val_loss") == []  # no validation before step 2
    assert hparams_data(board, "session_end_info") == []  # not done

    resumed = train(TrainConfig.from_dict({**TINY_RUN, "steps": 4}), tmp_path, resume=True, adjust={"lr": 5e-4},
                    progress=False)
    assert resumed.step == 4 and len(list(board.iterdir())) == 2
    assert len(hparams_data(board, "session_start_info")) == 1 and len(hparams_data(board, "experiment")) == 1
    assert [step for step, _ in hparams_data(board, "session_end_info")] == [4]
    assert scalars(board, "hparams/train_loss") == [(1, pytest.approx(stopped.last_losses["loss"], rel=1e-6)),
                                                   (4, pytest.approx(resumed.last_losses["loss"], rel=1e-6))]
    configs = text(board, "config")
    assert [step for step, _ in configs] == [0, 1]
    assert configs[1][1].startswith("**Resumed at step 1**")
    assert "**Changed on resume**: lr 0.001 → 0.0005 from step 1" in configs[1][1] and "lr = 0.0005" in configs[1][1]
    # the resumed start hides what an earlier start logged after its checkpoint (step 1), not the checkpoint's own step
    purges = [event.step for event in read_events(board) if event.session_log.status == event.session_log.START]
    assert purges == [1, 2]


def test_a_missing_metric_is_left_out_of_the_hparams_metrics():
    from videovae.engine.tensorboard_log import final_metrics

    assert final_metrics([{"step": 1, "loss": 2.0}]) == {"hparams/train_loss": 2.0}
    assert final_metrics([]) == {}
    history = [{"step": 2, "val_loss": 3.0, "health_reconstruction_error": 5.0, "health_mean_frame_error": 10.0},
               {"step": 2, "loss": 1.0}]
    assert final_metrics(history) == {"hparams/train_loss": 1.0, "hparams/val_loss": 3.0,
                                      "hparams/reconstruction_vs_mean_frame": 0.5}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A tiny run of 2 steps and ``videovae evaluate`` of its checkpoint in both modes."""
    from videovae.cli import main

    root = tmp_path_factory.mktemp("eval")
    train(TrainConfig.from_dict({**TINY_RUN, "steps": 2, "dataset_options": dict(num_objects=4, size=32, length=4)}),
          root / "run", progress=False)
    flags = ["--checkpoint", str(root / "run" / "checkpoint.pt"), "--videos-per-class", "1", "--prediction-clips", "2",
             "--best-of", "1", "--classifier-steps", "2", "--classifier-dir", str(root / "classifier")]
    assert main(["evaluate", *flags, "--out", str(root / "out"), "--first-frame", "--reconstruction"]) == 0
    return root, flags


def test_evaluate_writes_each_score_into_the_run_at_the_checkpoint_step(evaluated):
    root, _ = evaluated
    board = root / "run" / "tensorboard"
    assert len(list(board.iterdir())) == 2  # the run's start and the evaluation
    report = json.loads((root / "out" / "evaluation.json").read_text())
    rows = report["rows"]
    expected = {
        "eval/i/intra_entropy": rows["checkpoint.pt"]["intra_entropy"],
        "eval/i/inter_entropy": rows["checkpoint.pt"]["inter_entropy"],
        "eval/i/inception_score": rows["checkpoint.pt"]["inception_score"],
        "eval/iv/inception_score": rows["checkpoint.pt (iv)"]["inception_score"],
        "eval/iv/psnr": rows["checkpoint.pt (iv)"]["psnr"],
        "eval/iv/ssim": rows["checkpoint.pt (iv)"]["ssim"],
        "eval/reconstruction/intra_entropy": rows["checkpoint.pt (reconstruction)"]["intra_entropy"],
        "eval/bound/inter_entropy": rows["Bound"]["inter_entropy"],
        "eval/classifier_accuracy": report["classifier_accuracy"]["joint"],
    }
    for tag, value in expected.items():
        assert scalars(board, tag) == [(2, pytest.approx(value, rel=1e-6))], tag
    assert scalars(board, "eval/i/psnr") == [] and scalars(board, "eval/i/fvd") == []  # not in the row: not written
    assert text(board, "eval/table") == [(2, (root / "out" / "evaluation.md").read_text())]


def test_evaluate_without_tensorboard_or_into_a_folder_that_cannot_take_it_still_writes_the_report(evaluated, capsys,
                                                                                                   monkeypatch):
    from videovae.cli import main
    from videovae.engine.evaluation import tensorboard

    root, flags = evaluated
    board = root / "run" / "tensorboard"
    before = sorted(board.iterdir())
    assert main(["evaluate", *flags, "--out", str(root / "off"), "--no-tensorboard"]) == 0
    assert sorted(board.iterdir()) == before and (root / "off" / "evaluation.json").is_file()

    def read_only(folder, purge_step=None):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(tensorboard, "open_writer", read_only)
    capsys.readouterr()
    assert main(["evaluate", *flags, "--out", str(root / "ro")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("TensorBoard:")]
    assert lines == [f"TensorBoard: {board} cannot be written (Permission denied); its scores are only in the report"]
    assert (root / "ro" / "evaluation.json").is_file() and (root / "ro" / "evaluation.md").is_file()

    monkeypatch.undo()
    for path in before:
        path.unlink()
    board.rmdir()
    assert main(["evaluate", *flags, "--out", str(root / "none")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("TensorBoard:")]
    assert lines == [f"TensorBoard: {root / 'run'} has no tensorboard/ folder; its scores are only in the report"]
    assert (root / "none" / "evaluation.json").is_file() and not board.exists()
