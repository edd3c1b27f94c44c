"""checkpoint.best.pt (engine.best_checkpoint): the rule by hand, and a run that collapses after a healthy
stretch keeps its best healthy checkpoint, names it in the warning and resumes from it."""

from __future__ import annotations

import logging

import attrs
import torch

from videovae.engine.best_checkpoint import BEST_NAME, best_row, collapse_hint, is_new_best
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import build_trainer

SPRITES = {"num_clips": 16, "size": 32, "length": 4}


def _row(step: int, loss: float, warning: str | None = None) -> dict:
    return {"step": step, "val_loss": loss, **({"health_warning": warning} if warning else {})}


def test_the_best_is_the_lowest_healthy_held_out_loss_at_a_checkpointed_step():
    history = [{"step": 100, "loss": 9.0}, _row(100, 5.0), _row(200, 3.0), _row(250, 1.0), _row(300, 0.5, "collapsed"),
               _row(400, 4.0), _row(500, 3.0)]
    assert best_row(history, 100)["step"] == 200  # 250 is not a checkpointed step, 300 failed the collapse check
    assert is_new_best(history, 100, 100) and is_new_best(history, 200, 100)
    assert not is_new_best(history, 250, 100)  # not a multiple of checkpoint_every
    assert not is_new_best(history, 300, 100)  # lowest loss but unhealthy
    assert not is_new_best(history, 400, 100)  # healthy, higher than step 200's
    assert not is_new_best(history, 500, 100)  # a tie is not better
    assert not is_new_best(history, 600, 100)  # no validation row at that step
    assert best_row(history, 0) is None and not is_new_best(history, 200, 0)  # checkpoint_every 0: none kept
    assert best_row(history, 100, before=200)["step"] == 100
    assert best_row([{"step": 100, "loss": 1.0}], 100) is None  # no validation rows (val_every 0)


def _scripted(monkeypatch, losses: dict[int, float], collapsed_from: int) -> None:
    """The trainer's held-out loss is ``losses[step]`` and its collapse check fails from ``collapsed_from`` on."""
    import videovae.engine.trainer as trainer

    def validation_losses(model, split, indices, **kwargs):
        return {"loss": losses[trainer_steps[-1]]}

    trainer_steps = []
    real_check = trainer.check_health

    def check_health(model, split, indices, *, step, **kwargs):
        health = real_check(model, split, indices, step=step, **kwargs)
        return attrs.evolve(health, warnings=("scripted collapse",) if step >= collapsed_from else ())

    def validate(self, *args, **kwargs):
        trainer_steps.append(self.step)
        return real_validate(self, *args, **kwargs)

    real_validate = trainer.Trainer.validate
    monkeypatch.setattr(trainer, "validation_losses", validation_losses)
    monkeypatch.setattr(trainer, "check_health", check_health)
    monkeypatch.setattr(trainer.Trainer, "validate", validate)


def test_a_run_that_collapses_keeps_its_best_healthy_checkpoint_and_resumes_from_it(tmp_path, caplog, monkeypatch):
    _scripted(monkeypatch, {2: 5.0, 4: 3.0, 6: 4.0, 8: 1.0, 10: 0.5}, collapsed_from=8)
    config = TrainConfig(preset="tiny", dataset="moving-sprites", dataset_options=SPRITES, steps=10, batch_size=4,
                         log_every=1, val_every=2, val_clips=4, checkpoint_every=2)
    run = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="videovae"):
        build_trainer(config, run, progress=False).run()
    best = read_checkpoint(run / BEST_NAME)
    assert best["step"] == 4 and read_checkpoint(run / "checkpoint.pt")["step"] == 10
    assert [row["step"] for row in best["history"] if "val_loss" in row] == [2, 4]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and all("\n" not in w for w in warned)
    assert warned[0].startswith("step 8: the model looks collapsed: scripted collapse; ")
    assert warned[0].endswith(f"{run / BEST_NAME} keeps step 4 (held-out loss 3.0, healthy): --resume-from it goes on "
                              "from there (where grad_norm jumped before the collapse, with a lower --lr, e.g. half)")
    # the advice for a run trained without the relative clip (spike_clip 0, the runs before it was the default)
    assert collapse_hint(read_checkpoint(run / "checkpoint.pt")["history"], 2, run, 0.0).endswith(
        "keeps step 4 (held-out loss 3.0, healthy): --resume-from it goes on from there (where grad_norm jumped "
        "before the collapse, with --spike-clip 10)")

    # a straight run and one stopped at step 6 and resumed choose the same best: the rule reads only the history
    split = tmp_path / "split"
    build_trainer(attrs.evolve(config, steps=6), split, progress=False).run()
    build_trainer(config, split, resume=True, progress=False).run()
    assert read_checkpoint(split / BEST_NAME)["step"] == 4
    for name, value in best["model_state"].items():
        assert torch.equal(value, read_checkpoint(split / BEST_NAME)["model_state"][name]), name

    # resumed from the best, the run goes on from its step; the collapsed checkpoint.pt is not kept as prev
    trainer = build_trainer(attrs.evolve(config, steps=6), run, resume_from=run / BEST_NAME, progress=False)
    assert trainer.step == 4
    trainer.run()
    assert read_checkpoint(run / "checkpoint.pt")["step"] == 6
    assert read_checkpoint(run / "checkpoint.prev.pt")["step"] == 8


def test_no_best_checkpoint_without_a_healthy_validation(tmp_path, monkeypatch):
    _scripted(monkeypatch, {2: 5.0, 4: 3.0}, collapsed_from=0)
    config = TrainConfig(preset="tiny", dataset="moving-sprites", dataset_options=SPRITES, steps=4, batch_size=4,
                         log_every=1, val_every=2, val_clips=4, checkpoint_every=2)
    build_trainer(config, tmp_path / "run", progress=False).run()
    assert (tmp_path / "run/checkpoint.pt").is_file() and not (tmp_path / f"run/{BEST_NAME}").exists()
