"""VGAN (Vondrick et al., NIPS 2016) as model plugins: networks, the two-player step, resume, generation, bad input."""

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import random_labels, train_run
from videovae import build_model
from videovae.cli import main
from videovae.core import Capabilities, CapabilityError, ConfigError, StepContext
from videovae.core.batch import VideoBatch
from videovae.core.errors import AttributeValueError, InputShapeError
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.generation import generate_videos
from videovae.engine.optimization import Optimizers
from videovae.plugins.baselines.vgan import VGAN, VGANFirstFrame
from videovae.plugins.presets import SIZES, TINY_SIZES

NAMES = ("vgan", "vgan-first-frame")
RUN = dict(size="tiny", dataset_options=dict(num_objects=4, size=32, length=4), batch_size=4, log_every=1,
           checkpoint_every=0, num_samples=2, threads=1)
WEIZMANN = Path(os.environ.get("VIDEOVAE_WEIZMANN_ROOT",
                               Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "weizmann-actions"))


def model(name, attributes=None, length=4, sizes=TINY_SIZES, **options):
    return build_model(name, attributes=attributes, architecture_options={"length": length, **options}, **sizes)


def first_frames(batch, size=32):
    return torch.rand(batch, 3, size, size)


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


# -- networks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sizes, frame, length", [(TINY_SIZES, 32, 5), (dict(TINY_SIZES, frame_size=64), 64, 3)])
@torch.no_grad()
def test_every_network_has_the_expected_shapes(name, sizes, frame, length):
    net = model(name, length=length, sizes=sizes).eval()
    code = torch.randn(2, net.options.noise_dim)
    full, mask, background = net.generator(code)
    assert full.shape[2] >= length and full.shape[2] % 2 == 0  # the doubled temporal size, cropped to length
    video, mask, background = net.render(code)
    assert video.shape == (2, 3, length, frame, frame) and mask.shape == (2, 1, length, frame, frame)
    assert background.shape == (2, 3, frame, frame)
    assert 0 <= float(mask.min()) and float(mask.max()) <= 1 and video.abs().max() <= 1
    # the composite is m*f + (1-m)*b with b the same image at every frame: where the mask is ~0 the clip is static
    foreground = net.generator.video(net.generator.foreground(code[:, :, None, None, None]))[:, :, :length]
    torch.testing.assert_close(video, mask * foreground + (1 - mask) * background[:, :, None])
    assert net.discriminator(video).shape == (2,)
    given = first_frames(2, frame) if name == "vgan-first-frame" else None
    out = net.generate(torch.zeros(2, length, 3), first_frame=given)
    assert out.shape == (2, length, 3, frame, frame) and 0 <= float(out.min()) and float(out.max()) <= 1
    if name == "vgan-first-frame":
        assert net.encoder(given * 2 - 1).shape == (2, net.options.noise_dim)


def test_presets_are_64px_and_the_sizes_apply():
    for name in NAMES:
        assert build_model(name).config.frame_size == 64
        assert build_model(name, **SIZES["demo"]).config.frame_size == 32
    net = model("vgan")
    assert net.generator.video[0].out_channels == 3 and net.generator.foreground[0].out_channels == 4 * 2 ** 2
    assert type(net).default_lr == 2e-4 and type(net).default_spike_clip == 0.0  # no relative clip for a GAN
    assert net.controlled_attributes == ()
    assert VGAN.capabilities == Capabilities(first_frame=False, attributes_only=True, posterior=False)
    assert VGANFirstFrame.capabilities == Capabilities(first_frame=True, attributes_only=False, posterior=False)


# -- the training step ---------------------------------------------------------------------------------------


def step_snapshots(net, batch, noise, lr=0.1):
    optimizers = Optimizers(net, lr=lr)
    snapshots = []

    def optimize(name, loss):
        optimizers.optimize(name, loss)
        snapshots.append((name, copy.deepcopy(net)))

    losses = net.training_step(batch, StepContext(0, 1.0, lambda *shape: noise, optimize))
    return losses, snapshots


@pytest.mark.parametrize("name", NAMES)
def test_one_step_updates_the_discriminator_then_the_generator_and_only_those(name, chair_attributes):
    net = model(name, chair_attributes)
    batch = VideoBatch(torch.rand(4, 6, 3, 32, 32), random_labels(4, 6, chair_attributes))  # longer clips: first 4
    noise = torch.randn(4, net.options.noise_dim)
    optimizers = net.configure_optimizers(1e-3)
    d_params = {id(p) for g in optimizers["discriminator"].param_groups for p in g["params"]}
    g_params = {id(p) for g in optimizers["generator"].param_groups for p in g["params"]}
    assert not d_params & g_params and d_params | g_params == {id(p) for p in net.parameters()}
    assert [g["betas"] for o in optimizers.values() for g in o.param_groups] == [(0.5, 0.999)] * 2
    initial = copy.deepcopy(net)
    losses, [(first, after_d), (second, after_g)] = step_snapshots(net, batch, noise)
    assert (first, second) == ("discriminator", "generator")
    generator_parts = ["generator"] + (["encoder"] if name == "vgan-first-frame" else [])
    assert not same(after_d.discriminator, initial.discriminator)
    assert all(same(getattr(after_d, part), getattr(initial, part)) for part in generator_parts)
    assert same(after_g.discriminator, after_d.discriminator)
    assert all(not same(getattr(after_g, part), getattr(after_d, part)) for part in generator_parts)
    expected = ["loss", "d_loss", "g_adv", "mask_l1"] + (["first_frame_l1"] if name == "vgan-first-frame" else [])
    assert list(losses) == expected + ["d_real_accuracy", "d_fake_accuracy"]
    assert all(torch.isfinite(value) and value.ndim == 0 for value in losses.values())
    extra = 100.0 * losses["first_frame_l1"] if name == "vgan-first-frame" else 0.0
    torch.testing.assert_close(losses["loss"], losses["g_adv"] + 0.1 * losses["mask_l1"] + extra)
    assert 0 <= losses["d_real_accuracy"] <= 1 and 0 <= losses["d_fake_accuracy"] <= 1


@pytest.mark.parametrize("name", NAMES)
def test_a_fixed_seed_gives_identical_steps(name, chair_attributes):
    batch = VideoBatch(torch.rand(4, 4, 3, 32, 32), random_labels(4, 4, chair_attributes))
    results = []
    for _ in range(2):
        torch.manual_seed(3)
        net = model(name, chair_attributes)
        noise = torch.randn(4, net.options.noise_dim)
        losses, snapshots = step_snapshots(net, batch, noise)
        results.append((losses, snapshots[-1][1].state_dict()))
    (a, wa), (b, wb) = results
    assert all(torch.equal(a[k], b[k]) for k in a) and all(torch.equal(wa[k], wb[k]) for k in wa)


def run(out, steps, resume=False, **extra):
    return train_run(RUN, out, steps, resume, **extra)


@pytest.mark.parametrize("name", NAMES)
def test_resume_equals_an_uninterrupted_run(name, tmp_path):
    trainer, straight = run(tmp_path / "straight", 4, preset=name)
    assert trainer.config.lr == 2e-4 and trainer.model.length == 4  # the model's own lr; length from the clips
    row = straight.history[-1]
    assert {"loss", "d_loss", "g_adv", "mask_l1", "d_real_accuracy", "d_fake_accuracy", "grad_norm/discriminator",
            "grad_norm/generator"} <= set(row)
    assert (tmp_path / "straight/samples/step_000004.png").is_file()
    stored = read_checkpoint(tmp_path / "straight/checkpoint.pt")
    assert stored["model_config"]["architecture_options"] == {"length": 4}
    run(tmp_path / "split", 2, preset=name)
    run(tmp_path / "split", 4, resume=True, preset=name)
    resumed = read_checkpoint(tmp_path / "split/checkpoint.pt")["model_state"]
    assert stored["model_state"].keys() == resumed.keys()
    assert all(torch.equal(stored["model_state"][k], resumed[k]) for k in resumed)
    history = [json.loads(line) for line in (tmp_path / "split/history.jsonl").read_text().splitlines()]
    assert [r["d_loss"] for r in history if "d_loss" in r] == [r["d_loss"] for r in straight.history if "d_loss" in r]


def test_a_generator_shorter_than_the_clips_trains_on_their_first_frames(tmp_path):
    trainer, result = run(tmp_path / "run", 2, preset="vgan", model={"architecture_options": {"length": 3}}, val_every=2)
    assert trainer.model.length == 3 and result.step == 2
    health = [row for row in result.history if "health_sample_spread" in row]  # the check generated 3-frame clips
    assert len(health) == 1 and health[0]["health_sample_spread"] >= 0
    assert read_checkpoint(tmp_path / "run/checkpoint.pt")["clip_length"] == 3  # what generation defaults to


# -- generation --------------------------------------------------------------------------------------------


def test_vgan_generates_from_noise_alone(chair_attributes):
    net = model("vgan", chair_attributes).eval()
    a, labels = generate_videos(net, num=3, length=4, seed=1)
    b, _ = generate_videos(net, num=3, length=4, seed=1)
    c, _ = generate_videos(net, num=3, length=2, seed=2)
    assert a.shape == (3, 4, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a[:, :2], c)
    assert not torch.equal(a[0], a[1])  # different noise, different clips
    assert not torch.isnan(labels).any()  # full label rows are passed, and ignored
    torch.testing.assert_close(net.generate(labels[:, :2], generator=torch.Generator().manual_seed(5)),
                               net.generate(labels, generator=torch.Generator().manual_seed(5))[:, :2])


def test_vgan_first_frame_continues_the_given_frames(chair_attributes):
    net = model("vgan-first-frame", chair_attributes).eval()
    given = first_frames(3)
    a, _ = generate_videos(net, num=3, length=4, first_frames=given, seed=1)
    b, _ = generate_videos(net, num=3, length=4, first_frames=given, seed=7)
    assert a.shape == (3, 4, 3, 32, 32) and torch.equal(a, b)  # the frame replaces the noise: it decides the video
    other = given.clone()
    other[0] = 1 - other[0]
    c, _ = generate_videos(net, num=3, length=4, first_frames=other, seed=1)
    assert not torch.equal(a[0], c[0])


# -- bad input -----------------------------------------------------------------------------------------------


def test_each_mode_the_model_lacks_is_refused_in_one_line(chair_attributes):
    with pytest.raises(CapabilityError, match="^model 'vgan' cannot continue a first frame"):
        generate_videos(model("vgan", chair_attributes), num=2, length=4, first_frames=first_frames(2))
    with pytest.raises(CapabilityError, match="^model 'vgan-first-frame' generates only from a first frame; pass one$"):
        generate_videos(model("vgan-first-frame", chair_attributes), num=2, length=4)
    with pytest.raises(AttributeValueError) as caught:
        generate_videos(model("vgan", chair_attributes), num=2, length=4, assignments={"rotation": "cw"})
    assert str(caught.value) == "model 'vgan' is steered by no attribute; it does not model rotation (leave it free)"
    with pytest.raises(InputShapeError) as caught:
        generate_videos(model("vgan", chair_attributes), num=2, length=5)
    assert str(caught.value) == "model 'vgan' generates clips of at most 4 frames (option length), asked for 5"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    base = tmp_path_factory.mktemp("vgan-runs")
    torch.manual_seed(0)
    for name in NAMES:
        run(base / name, 1, preset=name)
    return base


@pytest.mark.parametrize("name, argv, message", [
    ("vgan", ["--first-frame", "FRAME"], "model 'vgan' cannot continue a first frame (it generates from attributes only)"),
    ("vgan-first-frame", [], "model 'vgan-first-frame' generates only from a first frame; pass one"),
    ("vgan", ["--attr", "rotation=cw"], "model 'vgan' is steered by no attribute; it does not model rotation (leave it free)"),
    ("vgan", ["--length", "9"], "model 'vgan' generates clips of at most 4 frames (option length), asked for 9"),
])
def test_the_cli_refuses_bad_generation_in_one_line(checkpoints, tmp_path, capsys, name, argv, message):
    frame = tmp_path / "first.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(frame)
    out = tmp_path / "g"
    argv = [str(frame) if a == "FRAME" else a for a in argv]
    code = main(["generate", "--checkpoint", str(checkpoints / name / "checkpoint.pt"), "--out", str(out), *argv])
    assert code == 2 and capsys.readouterr().err.strip() == f"videovae: error: {message}"
    assert not out.exists()


def test_the_cli_generates_in_each_models_mode(checkpoints, tmp_path):
    frame = tmp_path / "first.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(frame)
    assert main(["generate", "--checkpoint", str(checkpoints / "vgan/checkpoint.pt"), "--out", str(tmp_path / "a"),
                 "--num", "2", "--formats", "png"]) == 0
    assert main(["generate", "--checkpoint", str(checkpoints / "vgan-first-frame/checkpoint.pt"), "--out",
                 str(tmp_path / "b"), "--num", "2", "--formats", "png", "--first-frame", str(frame)]) == 0
    assert any((tmp_path / "a").iterdir()) and any((tmp_path / "b").iterdir())


def test_clips_shorter_than_a_set_length_are_refused_by_train_with_nothing_written(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--preset", "vgan", "--size", "tiny", "--dataset-option", "num_objects=4",
                 "--dataset-option", "length=4", "--set", 'architecture_options={"length": 8}', "--steps", "1",
                 "--threads", "1", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err == ("videovae: error: synthetic-chairs has clips of 4 frames but model 'vgan' generates 8 (option length); "
                   "use longer clips or set architecture_options length <= 4")
    assert not out.exists() or not any(p.name != "run.lock" for p in out.iterdir())


def test_bad_options_are_one_line_config_errors():
    for options, field in [({"noise_dim": 0}, "noise_dim"), ({"mask_l1": -1.0}, "mask_l1"), ({"width": 0}, "width")]:
        with pytest.raises(ConfigError, match=f"^model .vgan.: {field} must be"):
            build_model("vgan", architecture_options=options, **TINY_SIZES)
    with pytest.raises(ConfigError, match="frame_size of 4 times a power of two"):
        build_model("vgan", **dict(TINY_SIZES, frame_size=48))


@pytest.mark.skipif(not (WEIZMANN / "labels.csv").is_file(),
                    reason=f"Weizmann data not found at {WEIZMANN}; set VIDEOVAE_WEIZMANN_ROOT")
def test_vgan_trains_on_weizmann(tmp_path):
    _, result = run(tmp_path / "w", 1, preset="vgan", dataset="weizmann", data_root=str(WEIZMANN),
                    dataset_options={"size": 32}, batch_size=2)
    assert result.step == 1 and "d_loss" in result.history[0]
