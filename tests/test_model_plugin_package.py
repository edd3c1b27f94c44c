"""A third-party package that registers a whole model with its own training step (two optimizers)
is installed for real and trained, resumed, generated with and evaluated by name through the CLI."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGE = REPO / "examples" / "model_plugin_package"
DATA = ["--dataset", "synthetic-chairs", "--dataset-option", "num_objects=4", "--dataset-option", "size=32",
        "--dataset-option", "length=6"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(PACKAGE)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"pip could not install the example model package: {result.stderr[-2000:]}")
    return target


def cli(site, cache, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]), VIDEOVAE_CACHE=str(cache),
               OMP_NUM_THREADS="1")
    env.pop("VIDEOVAE_PLUGINS", None)  # every installed plugin, as a user has it
    return subprocess.run([sys.executable, "-m", "videovae.cli", *args], capture_output=True, text=True,
                          env=env, cwd=REPO)


def test_the_example_model_trains_resumes_generates_and_is_evaluated_through_the_cli(installed, tmp_path):
    cache = tmp_path / "cache"
    listed = cli(installed, cache, "plugins")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:1] == ["gru-autoencoder"] and "videovae-gru-model 0.1.0" in line
               for line in listed.stdout.splitlines()), listed.stdout

    run = tmp_path / "run"
    train = ["train", "--preset", "gru-autoencoder", *DATA, "--batch-size", "4", "--lr", "1e-3", "--log-every", "1",
             "--checkpoint-every", "0", "--no-progress", "--out", str(run)]
    first = cli(installed, cache, *train, "--steps", "2")
    assert first.returncode == 0, first.stderr
    resumed = cli(installed, cache, "train", "--out", str(run), "--resume", "--steps", "4", "--log-every", "1",
                  "--checkpoint-every", "0", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    straight = cli(installed, cache, *[a if a != str(run) else str(tmp_path / "straight") for a in train], "--steps", "4")
    assert straight.returncode == 0, straight.stderr

    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    train_rows = [row for row in rows if "loss" in row]
    assert [row["step"] for row in train_rows] == [1, 2, 3, 4]
    # its own step: two optimizers, each with its gradient norm, the model's own named losses
    assert {"reconstruction", "dynamics", "grad_norm/autoencoder", "grad_norm/dynamics"} <= set(train_rows[-1])
    straight_rows = [json.loads(line) for line in (tmp_path / "straight" / "history.jsonl").read_text().splitlines()]
    strip = lambda row: {k: v for k, v in row.items() if k != "seconds"}  # noqa: E731
    assert [strip(r) for r in rows] == [strip(r) for r in straight_rows]  # resume equals an uninterrupted run

    samples = tmp_path / "samples"
    generated = cli(installed, cache, "generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(samples),
                    "--attr", "rotation=cw", "--num", "2", "--formats", "png")
    assert generated.returncode == 0, generated.stderr
    assert any(samples.glob("*.png"))

    evaluation = tmp_path / "eval"
    scored = cli(installed, cache, "evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(evaluation),
                 "--first-frame", "--videos-per-class", "1", "--prediction-clips", "2", "--best-of", "1",
                 "--classifier-steps", "2")
    assert scored.returncode == 0, scored.stderr
    report = json.loads((evaluation / "evaluation.json").read_text())
    assert set(report["rows"]) == {"Bound", "Mean frame", "checkpoint.pt", "checkpoint.pt (iv)"}
    assert report["rows"]["checkpoint.pt (iv)"]["mode"] == "first frame given (iv)"


def test_an_attribute_the_model_cannot_take_is_refused_in_one_line(installed, tmp_path):
    run = tmp_path / "run"
    trained = cli(installed, tmp_path / "cache", "train", "--preset", "gru-autoencoder", *DATA, "--batch-size", "4",
                  "--steps", "1", "--no-progress", "--out", str(run))
    assert trained.returncode == 0, trained.stderr
    refused = cli(installed, tmp_path / "cache", "generate", "--checkpoint", str(run / "checkpoint.pt"),
                  "--out", str(tmp_path / "s"), "--attr", "colour=red")
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and "colour" in refused.stderr
    assert not (tmp_path / "s").exists()
