"""Trainer, checkpoints and resume."""

import copy
import json
import math

import pytest
import torch

from videovae import load
from videovae.core.batch import VideoBatch
from videovae.core.errors import CheckpointError, ConfigError, DataError, TrainingError
from videovae.plugins.models.vae_loss import loss_terms
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.optimization import sample_noise
from videovae.engine.data import StepBatchSampler, load_dataset, training_loader, validation_indices
from videovae.engine.trainer import TrainConfig, Trainer
from videovae.engine.training import build_trainer, train

TINY_RUN = dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=6), batch_size=4,
                log_every=1, checkpoint_every=0, lr=1e-3)


def run(out, steps, resume=False, **extra):
    config = TrainConfig.from_dict({**TINY_RUN, "steps": steps, **extra})
    return train(config, out, resume=resume, progress=False)


def weights(path):
    return read_checkpoint(path)["model_state"]


def test_training_writes_checkpoint_history_samples_and_curve(tmp_path):
    result = run(tmp_path, 3)
    assert result.step == 3 and [r["step"] for r in result.history] == [1, 2, 3]
    for name in ("checkpoint.pt", "history.jsonl", "loss_curve.png", "samples/step_000003.png"):
        assert (tmp_path / name).is_file(), name
    assert list((tmp_path / "tensorboard").iterdir())
    payload = read_checkpoint(tmp_path / "checkpoint.pt")
    assert payload["step"] == 3 and payload["train_config"]["preset"] == "tiny"
    assert payload["model_config"]["latent_dim"] == 16
    assert set(payload["versions"]) == {"videovae", "torch", "python"}
    assert payload["label_table"].shape == (12, 3)  # 3 training sequences per chair, 3 attributes
    assert [json.loads(line)["step"] for line in (tmp_path / "history.jsonl").read_text().splitlines()] == [1, 2, 3]


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, workers):
    # the uninterrupted run loads in this process; the split one with `workers` loader processes
    straight = run(tmp_path / "straight", 6, val_every=2, val_clips=3)
    run(tmp_path / "split", 3, val_every=2, val_clips=3, workers=workers)
    resumed = run(tmp_path / "split", 6, resume=True, val_every=2, val_clips=3, workers=workers)
    assert resumed.step == 6
    a, b = weights(tmp_path / "straight/checkpoint.pt"), weights(tmp_path / "split/checkpoint.pt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert without_seconds(straight.history) == without_seconds(resumed.history)
    assert [r["step"] for r in resumed.history if "val_loss" in r] == [2, 4, 6]


def test_validation_rows_hold_the_held_out_loss_recomputed_by_hand(tmp_path):
    result = run(tmp_path / "val", 4, val_every=2, val_clips=3)
    rows = [json.loads(line) for line in (tmp_path / "val/history.jsonl").read_text().splitlines()]
    assert rows == result.history and [r["step"] for r in rows] == [1, 2, 2, 3, 4, 4]
    val = [r for r in rows if "val_loss" in r]
    health = ["health_mean_frame_error", "health_real_spread", "health_reconstruction_error",
              "health_reconstruction_spread", "health_sample_spread"]
    assert [sorted(set(r) - {"health_warning"}) for r in val] == [
        health + ["seconds", "step", "val_clips", "val_kl", "val_loss", "val_reconstruction"]] * 2
    assert all(math.isfinite(r[k]) for r in val for k in ("val_loss", "val_reconstruction", "val_kl"))
    assert val[0]["val_loss"] != val[1]["val_loss"] and val[1]["val_clips"] == 3
    assert result.last_losses == rows[-2] and "loss" in rows[-2]  # the last training row
    # by hand: the saved model (eval mode) on the same 3 test clips, ε of step -1, h(0) from seed 0, β = kl_weight
    model = load(tmp_path / "val/checkpoint.pt").model
    test = load_dataset("synthetic-chairs", None, TINY_RUN["dataset_options"]).split("test")
    picks = validation_indices(len(test), 3)
    assert len(test) > 3 and len(set(picks)) == 3
    batch = VideoBatch.collate([test[i] for i in picks])
    noise = sample_noise(picks, -1, 0, batch.length, model.config.latent_dim)
    torch.manual_seed(0)
    with torch.no_grad():
        terms = loss_terms(model(batch.frames, batch.labels, noise=noise), batch.frames, 1.0, model.likelihood)
    assert val[1]["val_loss"] == pytest.approx(terms.total.item(), rel=1e-5)
    assert val[1]["val_reconstruction"] == pytest.approx(terms.reconstruction.item(), rel=1e-5)
    assert val[1]["val_kl"] == pytest.approx(terms.kl.item(), rel=1e-5)
    # validation neither moves the random state nor the weights: the same training as with it off
    run(tmp_path / "off", 4, val_every=0)
    a, b = weights(tmp_path / "val/checkpoint.pt"), weights(tmp_path / "off/checkpoint.pt")
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_callbacks_see_each_row_and_checkpoint(tmp_path):
    from videovae.engine.trainer import TrainCallback

    class Recorder(TrainCallback):
        def __init__(self):
            self.seen = []

        def on_log(self, row):
            self.seen.append(("log", row["step"]))

        def on_validation(self, row):
            self.seen.append(("val", row["step"]))

        def on_checkpoint(self, step):
            self.seen.append(("checkpoint", step))

    recorder = Recorder()
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 2, "log_every": 2, "val_every": 1, "val_clips": 2,
                                    "checkpoint_every": 1})
    train(config, tmp_path, progress=False, callbacks=[recorder])
    # the last step's checkpoint is written once (a second save would push step 1 out of checkpoint.prev.pt)
    assert recorder.seen == [("val", 1), ("checkpoint", 1), ("log", 2), ("val", 2), ("checkpoint", 2)]


def old_batch_indices(size, batch_size, seed, world_size, rank, step):
    """The clips of ``step`` as the trainer chose them before the DataLoader (a DistributedSampler per epoch)."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(size), num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                 drop_last=True)
    steps_per_epoch = len(sampler) // batch_size
    epoch, position = divmod(step, steps_per_epoch)
    sampler.set_epoch(epoch)
    return list(sampler)[position * batch_size:(position + 1) * batch_size]


def by_hand_batch_indices(size, batch_size, seed, world_size, rank, step):
    """The same from first principles: randperm(seed + epoch), cut to whole shares, every world_size-th."""
    share = size // world_size
    steps_per_epoch = share // batch_size
    epoch, position = divmod(step, steps_per_epoch)
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    mine = order[:share * world_size][rank::world_size]
    return mine[position * batch_size:(position + 1) * batch_size]


@pytest.mark.parametrize("size, batch_size, seed, steps, world_size, rank", [
    (12, 4, 0, 7, 1, 0), (13, 2, 3, 11, 2, 1), (20, 3, 5, 9, 3, 2), (9, 2, 7, 10, 2, 0)])
def test_the_step_sampler_gives_the_clips_of_the_old_per_epoch_sampler(size, batch_size, seed, steps, world_size, rank):
    sampler = StepBatchSampler(size, batch_size, seed=seed, stop=steps, world_size=world_size, rank=rank)
    got = list(sampler)
    assert len(got) == len(sampler) == steps
    for step, indices in enumerate(got):
        assert indices == old_batch_indices(size, batch_size, seed, world_size, rank, step)
        assert indices == by_hand_batch_indices(size, batch_size, seed, world_size, rank, step)
    # started part-way (a resumed run), it continues with the same clips
    assert list(StepBatchSampler(size, batch_size, seed=seed, start=4, stop=steps, world_size=world_size,
                                 rank=rank)) == got[4:]


def test_loader_workers_give_the_same_batches_and_indices():
    split = load_dataset("synthetic-chairs", None, TINY_RUN["dataset_options"]).split("train")

    def batches(workers):
        sampler = StepBatchSampler(len(split), 4, seed=1, start=2, stop=9)
        return list(training_loader(split, sampler, workers=workers, seed=1))

    inline, background = batches(0), batches(2)
    assert [indices for _, indices in inline] == [indices for _, indices in background]
    assert len(inline) == 7 and [i for _, i in inline][0] == StepBatchSampler(len(split), 4, seed=1, stop=3).indices(2)
    for (a, ia), (b, _) in zip(inline, background):
        assert torch.equal(a.frames, b.frames) and torch.equal(a.labels, b.labels)
        assert torch.equal(a.frames, torch.stack([split[i][0] for i in ia]))


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    run(tmp_path, 2)
    loaded = load(tmp_path / "checkpoint.pt")
    again = load(tmp_path / "checkpoint.pt")
    labels = torch.zeros(2, 4, 3)
    a = loaded.model.generate(labels, generator=torch.Generator().manual_seed(0))
    b = again.model.generate(labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and loaded.step == 2
    assert loaded.model.attributes.names == ("chair", "tilt", "rotation")


def test_an_existing_run_is_never_overwritten(tmp_path):
    run(tmp_path, 2)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(ConfigError, match="already exists; resume it with --resume"):
        run(tmp_path, 4)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_missing_and_corrupt_checkpoints_give_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="is not a readable videovae checkpoint"):
        load(tmp_path / "bad.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="is not a videovae checkpoint"):
        load(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="nothing"):
        try:
            run(tmp_path / "empty", 2, resume=True)
        except CheckpointError as exc:
            assert "checkpoint not found" in str(exc)
            raise CheckpointError("nothing") from None


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run(tmp_path, 2)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("videovae.engine.checkpoint.torch.save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        run(tmp_path, 4, resume=True)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_history_reports_the_gradient_norm_before_clipping(tmp_path):
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 3, "grad_clip": 1e-6})
    trainer = build_trainer(config, tmp_path / "a", progress=False)
    # the simple path: the first step's loss and gradient computed by hand on a copy of the initial model
    reference = copy.deepcopy(trainer.model).train()
    indices = trainer.batch_indices(0)
    batch = VideoBatch.collate([trainer.train_split[i] for i in indices])
    noise = sample_noise(indices, 0, config.seed, batch.length, reference.config.latent_dim)
    rng = torch.get_rng_state()  # the step draws from it too; the trainer's step must see the same state
    loss_terms(reference(batch.frames, batch.labels, noise=noise), batch.frames, trainer.kl_weight(0),
               reference.likelihood).total.backward()
    torch.set_rng_state(rng)
    by_hand = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in reference.parameters()
                                                    if p.grad is not None])).item()
    norms = [row["grad_norm"] for row in trainer.run().history]
    assert norms[0] == pytest.approx(by_hand, rel=1e-5) and by_hand > 1e-3  # reported before clipping to 1e-6
    # a row every 3 steps reports the largest norm of its 3 steps
    rows = run(tmp_path / "b", 3, grad_clip=1e-6, log_every=3).history
    assert [r["step"] for r in rows] == [3] and rows[0]["grad_norm"] == pytest.approx(max(norms), rel=1e-6)


@pytest.mark.parametrize("log_every, what", [(1, "the loss is nan at step 3"),
                                             (100, "the weights are not finite at step 3")])
def test_a_diverged_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, log_every, what):
    run(tmp_path, 2)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 5, "checkpoint_every": 1, "log_every": log_every})
    trainer = build_trainer(config, tmp_path, resume=True, progress=False)
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError) as caught:
        trainer.run()
    assert str(caught.value) == (f"training diverged: {what}; {tmp_path / 'checkpoint.pt'} keeps step 2 "
                                 "(resume it with --grad-clip or a lower --lr)")
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_resume_may_change_lr_and_grad_clip_and_records_the_change(tmp_path):
    import shutil

    run(tmp_path / "base", 2)
    for name in ("same", "halved", "clipped"):
        shutil.copytree(tmp_path / "base", tmp_path / name)
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 3})
    train(config, tmp_path / "same", resume=True, progress=False, adjust={"lr": 1e-3})  # unchanged
    halved = build_trainer(config, tmp_path / "halved", resume=True, progress=False, adjust={"lr": 5e-4})
    assert halved.optimizers["model"].param_groups[0]["lr"] == 5e-4  # not the stored optimiser state's 1e-3
    halved.run()
    train(config, tmp_path / "clipped", resume=True, progress=False, adjust={"grad_clip": 1e-6})
    base, same, half, clipped = (weights(tmp_path / n / "checkpoint.pt") for n in ("base", "same", "halved", "clipped"))
    # same gradient and Adam moments from the checkpoint, so Adam's step is exactly proportional to the lr
    for key in base:
        torch.testing.assert_close(half[key] - base[key], 0.5 * (same[key] - base[key]), rtol=1e-4, atol=1e-7)
    assert any(not torch.equal(clipped[k], same[k]) for k in base)
    for unchanged in ("base", "same"):
        assert read_checkpoint(tmp_path / unchanged / "checkpoint.pt")["adjustments"] == []
    stored = read_checkpoint(tmp_path / "halved/checkpoint.pt")
    assert stored["train_config"]["lr"] == 5e-4
    assert stored["adjustments"] == [{"step": 2, "field": "lr", "from": 1e-3, "to": 5e-4}]
    # the record survives later resumes, and a second change is appended
    run(tmp_path / "halved", 4, resume=True)
    train(TrainConfig.from_dict({**TINY_RUN, "steps": 5}), tmp_path / "halved", resume=True, progress=False,
          adjust={"lr": 5e-4, "grad_clip": 100})
    assert read_checkpoint(tmp_path / "halved/checkpoint.pt")["adjustments"] == [
        {"step": 2, "field": "lr", "from": 1e-3, "to": 5e-4}, {"step": 4, "field": "grad_clip", "from": 0.0, "to": 100.0}]


@pytest.mark.parametrize("resume, adjust, fragment", [
    (True, {"batch_size": 2}, "only lr, grad_clip, spike_clip, precision can be adjusted on resume, not batch_size"),
    (True, {"lr": -1.0}, "lr must be a finite number > 0, got -1.0"),
    (False, {"lr": 1e-4}, "adjust changes the settings of a resumed run"),
])
def test_bad_adjustments_are_refused_before_anything_is_written(tmp_path, resume, adjust, fragment):
    run(tmp_path / "r", 2)
    before = (tmp_path / "r/checkpoint.pt").read_bytes()
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 3})
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        build_trainer(config, tmp_path / ("r" if resume else "new"), resume=resume, progress=False, adjust=adjust)
    assert (tmp_path / "r/checkpoint.pt").read_bytes() == before and not (tmp_path / "new").exists()


@pytest.mark.parametrize("field, value, fragment", [
    ("steps", 0, "steps must be a positive integer"),
    ("lr", "fast", "lr must be a finite number > 0, got 'fast'"),
    ("batch_size", 2.5, "batch_size must be a positive integer"),
    ("stepz", 3, "has no field(s) stepz"),
    ("workers", -1, "workers must be a non-negative integer, got -1"),
    ("workers", 1.5, "workers must be a non-negative integer, got 1.5"),
    ("val_every", -5, "val_every must be a non-negative integer, got -5"),
    ("val_every", "often", "val_every must be a non-negative integer, got 'often'"),
    ("val_clips", 0, "val_clips must be a positive integer, got 0"),
])
def test_bad_train_config_values(field, value, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as caught:
        TrainConfig.from_dict({field: value})
    assert "\n" not in str(caught.value)


def test_batch_larger_than_the_data_is_refused(tmp_path):
    with pytest.raises(DataError, match="fewer than one batch"):
        run(tmp_path, 1, batch_size=64)


def test_kl_warmup_ramps_beta(tmp_path):
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 1, "kl_weight": 2.0, "kl_warmup": 4})
    trainer = build_trainer(config, tmp_path, progress=False)
    assert [trainer.kl_weight(s) for s in range(5)] == [0.5, 1.0, 1.5, 2.0, 2.0]


def test_a_trainer_over_built_objects_trains_like_train(tmp_path):
    from videovae.registry.factory import build_model

    config = TrainConfig.from_dict({**TINY_RUN, "steps": 3})
    reference = train(config, tmp_path / "train", progress=False)
    torch.manual_seed(config.seed)  # what train() does before building anything
    data = load_dataset(config.dataset, None, config.dataset_options)
    model = build_model(config.preset, attributes=data.attributes)
    result = Trainer(model, data.split("train"), data.split("test"), config, tmp_path / "own", dataset=data,
                     progress=False).run()
    assert without_seconds(result.history) == without_seconds(reference.history)
    a, b = weights(tmp_path / "train/checkpoint.pt"), weights(tmp_path / "own/checkpoint.pt")
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert torch.equal(read_checkpoint(tmp_path / "own/checkpoint.pt")["label_table"],
                       read_checkpoint(tmp_path / "train/checkpoint.pt")["label_table"])
