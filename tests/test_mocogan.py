"""MoCoGAN (the Weizmann baseline of Table 2) as a model plugin: networks, the two-player step, resume,
generation by category and the one-line refusals."""

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
from videovae.core import AttributeSet, AttributeSpec, CapabilityError, ConfigError, StepContext
from videovae.core.batch import VideoBatch
from videovae.core.errors import AttributeValueError
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.generation import generate_videos
from videovae.engine.optimization import Optimizers
from videovae.engine.run_config import model_config_of
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import build_trainer
from videovae.plugins.baselines import gan
from videovae.plugins.baselines.mocogan import MoCoGAN, MoCoGANOptions
from videovae.plugins.presets import TINY_SIZES
from videovae.registry.factory import fit_to_data, resolve_config

ROTATION = {"category": "rotation"}
#: the tiny chairs of tests/test_model_protocol.py's TINY_RUN, trained as MoCoGAN with category rotation
MOCO_RUN = dict(preset="mocogan", size="tiny", model={"architecture_options": ROTATION},
                dataset_options=dict(num_objects=4, size=32, length=4), batch_size=4, log_every=1,
                checkpoint_every=0, num_samples=2, threads=1)
#: `videovae train` of the same (add --out, --steps and the category)
MOCO_TRAIN = ["train", "--preset", "mocogan", "--size", "tiny", "--dataset-option", "num_objects=4",
              "--dataset-option", "length=4", "--batch-size", "4", "--no-progress", "--checkpoint-every", "0",
              "--threads", "1", "--num-samples", "2"]
WEIZMANN = Path(os.environ.get("VIDEOVAE_WEIZMANN_ROOT",
                               Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "weizmann-actions")).resolve()


def mocogan(attributes, **sizes):
    return build_model("mocogan", attributes=attributes, **{"architecture_options": ROTATION, **TINY_SIZES, **sizes})


def parameters(tensors):
    return [p.detach().clone() for p in tensors]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# -- networks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 64])
def test_every_network_has_the_documented_shapes(chair_attributes, size):
    model = mocogan(chair_attributes, frame_size=size)
    assert model.capabilities.first_frame is False and model.capabilities.attributes_only is True
    assert type(model).default_lr == 2e-4 and type(model).default_spike_clip == 0.0  # no relative clip for a GAN
    assert model.controlled_attributes == ("rotation",)
    labels = random_labels(3, 5, chair_attributes)
    videos = model.eval().generate(labels, generator=torch.Generator().manual_seed(0))
    assert videos.shape == (3, 5, 3, size, size) and 0.0 <= videos.min() and videos.max() <= 1.0
    assert model.generate(labels[:, :2]).shape == (3, 2, 3, size, size)  # any length
    clips = torch.rand(3, 5, 3, size, size) * 2 - 1
    assert model.image_discriminator(clips[:, 0]).shape == (3, 16)  # a 4×4 map of patch logits
    real_fake, classes = model.video_discriminator(clips)
    assert real_fake.shape == (3,) and classes.shape == (3, 2)
    assert model.video_discriminator(clips[:, :2])[0].shape == (3,)


def test_widths_follow_the_size_or_the_width_option(chair_attributes):
    assert mocogan(chair_attributes).image_generator.net[-2].in_channels == 4  # tiny: hidden_dim 32 // 8
    paper = build_model("mocogan", attributes=chair_attributes, architecture_options=ROTATION)
    assert paper.config.frame_size == 64 and paper.image_generator.net[0].out_channels == 512
    wide = mocogan(chair_attributes, architecture_options={**ROTATION, "width": 6})
    assert wide.image_generator.net[-2].in_channels == 6 and wide.video_discriminator.heads.in_channels == 6 * 4  # 32 → 4: three layers


@pytest.mark.parametrize("size, frame_size, width", [("tiny", 32, 4), ("demo", 32, 32), ("paper", 64, 64), (None, 64, 64)])
def test_the_preset_takes_every_model_size(chair_attributes, size, frame_size, width):
    config = model_config_of(TrainConfig(preset="mocogan", size=size, model={"architecture_options": ROTATION}))
    assert config.architecture == "mocogan" and config.frame_size == frame_size
    assert gan.base_width(config, None) == width


# -- the step ---------------------------------------------------------------------------------------------


def one_step(model, batch, seed=0):
    optimizers = Optimizers(model, lr=1e-3)
    noise = {}

    def draw(*shape):  # the trainer's noise: a function of the shape alone within one step
        return noise.setdefault(shape, torch.randn(batch.frames.shape[0], *shape,
                                                   generator=torch.Generator().manual_seed(seed)))

    snapshots = []

    def optimize(name, loss):
        optimizers.optimize(name, loss)
        snapshots.append((name, parameters(model.discriminator_parameters()), parameters(model.generator_parameters())))

    losses = model.training_step(batch, StepContext(0, 1.0, draw, optimize))
    return losses, snapshots, optimizers


def test_one_step_updates_the_discriminators_then_the_generator_and_only_those(chair_attributes):
    model = mocogan(chair_attributes)
    optimizers = model.configure_optimizers(1e-3)
    ids = {name: {id(p) for g in opt.param_groups for p in g["params"]} for name, opt in optimizers.items()}
    assert set(ids) == {"discriminator", "generator"} and not ids["discriminator"] & ids["generator"]
    assert ids["discriminator"] | ids["generator"] == {id(p) for p in model.parameters()}
    assert all(g["betas"] == (0.5, 0.999) for opt in optimizers.values() for g in opt.param_groups)

    batch = VideoBatch(torch.rand(4, 3, 3, 32, 32), random_labels(4, 3, chair_attributes))
    d_before, g_before = parameters(model.discriminator_parameters()), parameters(model.generator_parameters())
    losses, snapshots, optimizers = one_step(model, batch)
    (first, d_after_d, g_after_d), (second, d_after_g, g_after_g) = snapshots
    assert (first, second) == ("discriminator", "generator")
    assert not same(d_after_d, d_before) and same(g_after_d, g_before)  # D's loss moved D alone
    assert not same(g_after_g, g_before) and same(d_after_g, d_after_d)  # G's loss moved G alone
    # every D_I and D_V tensor and every G_I and R_M tensor moved in its own update
    assert all(not torch.equal(a, b) for a, b in zip(d_after_d, d_before))
    assert all(not torch.equal(a, b) for a, b in zip(g_after_g, g_before))
    assert set(optimizers.take_norms()) == {"discriminator", "generator"}
    assert list(losses)[0] == "loss" and {"d_loss", "d_image", "d_video", "g_image", "g_video", "g_category",
                                          "d_category_real", "d_category_fake", "acc_image_real", "acc_image_fake",
                                          "acc_video_real", "acc_video_fake"} <= set(losses)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    torch.testing.assert_close(losses["d_loss"], losses["d_image"] + losses["d_video"] + losses["d_category_real"]
                               + losses["d_category_fake"])
    torch.testing.assert_close(losses["loss"], losses["g_image"] + losses["g_video"] + losses["g_category"])


def test_a_fixed_seed_gives_identical_steps_and_validation_needs_no_gradients(chair_attributes):
    batch = VideoBatch(torch.rand(4, 3, 3, 32, 32), random_labels(4, 3, chair_attributes))
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = mocogan(chair_attributes)
        losses, _, _ = one_step(model, batch)
        runs.append((losses, parameters(model.parameters())))
    (a, pa), (b, pb) = runs
    assert all(torch.equal(a[k], b[k]) for k in a) and same(pa, pb)
    model = mocogan(chair_attributes)
    with torch.no_grad():
        checked = model.eval().losses(batch, StepContext(0, 1.0, lambda *s: torch.zeros(4, *s), None))
    assert list(checked)[0] == "loss" and all(torch.isfinite(v) for v in checked.values())


def test_missing_real_categories_are_drawn_and_left_out_of_the_auxiliary_loss(chair_attributes):
    model = mocogan(chair_attributes)
    labels = random_labels(4, 3, chair_attributes)
    labels[..., 2] = float("nan")
    batch = VideoBatch(torch.rand(4, 3, 3, 32, 32), labels)
    losses, _, _ = one_step(model, batch)
    assert losses["d_category_real"] == 0 and torch.isfinite(losses["d_category_fake"])


# -- training and resume ------------------------------------------------------------------------------------


def run(out, steps, resume=False):
    return train_run(MOCO_RUN, out, steps, resume)


def test_resume_equals_an_uninterrupted_run_at_the_models_own_lr(tmp_path):
    trainer, straight = run(tmp_path / "straight", 4)
    assert trainer.config.lr == 2e-4 and type(trainer.model) is MoCoGAN
    row = straight.history[-1]
    assert {"loss", "d_loss", "acc_video_real", "acc_image_fake", "grad_norm/discriminator",
            "grad_norm/generator"} <= set(row)
    run(tmp_path / "split", 2)
    run(tmp_path / "split", 4, resume=True)
    a, b = (read_checkpoint(tmp_path / f"{name}/checkpoint.pt") for name in ("straight", "split"))
    assert a["model_config"]["architecture_options"]["category"] == "rotation"
    assert a["model_state"].keys() == b["model_state"].keys()
    for key in a["model_state"]:
        assert torch.equal(a["model_state"][key], b["model_state"][key]), key
    history = [json.loads(line) for line in (tmp_path / "split/history.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in history if "loss" in r] == [r["loss"] for r in straight.history if "loss" in r]


# -- generation -----------------------------------------------------------------------------------------------


def test_generate_honours_the_category_with_the_same_noise(chair_attributes):
    model = mocogan(chair_attributes).eval()
    labels = random_labels(2, 4, chair_attributes)
    labels[..., 2] = 0.0
    other = labels.clone()
    other[..., 2] = 1.0
    draw = lambda lab: model.generate(lab, generator=torch.Generator().manual_seed(5))  # noqa: E731
    assert torch.equal(draw(labels), draw(labels)) and not torch.equal(draw(labels), draw(other))
    ignored = labels.clone()
    ignored[..., :2] = float("nan")  # the attributes it does not model are not read
    assert torch.equal(draw(labels), draw(ignored))
    free = labels.clone()
    free[..., 2] = float("nan")
    with pytest.raises(AttributeValueError, match=r"^mocogan's category \(rotation\) must be set for generation"):
        model.generate(free)
    videos, used = generate_videos(model, num=2, length=3, assignments={"rotation": "cw"}, seed=1)
    assert videos.shape == (2, 3, 3, 32, 32) and bool((used[..., 2] == 1).all())
    with pytest.raises(AttributeValueError) as caught:
        generate_videos(model, num=2, length=3, assignments={"chair": "c1"})
    assert str(caught.value) == "model 'mocogan' is steered by rotation; it does not model chair (leave it free)"


def test_a_first_frame_is_refused_by_the_api_and_the_cli_in_one_line(chair_attributes, tmp_path, capsys):
    model = mocogan(chair_attributes)
    with pytest.raises(CapabilityError) as caught:
        generate_videos(model, num=2, length=3, first_frames=torch.rand(2, 3, 32, 32))
    message = "model 'mocogan' cannot continue a first frame (it generates from attributes only)"
    assert str(caught.value) == message
    assert main([*MOCO_TRAIN, "--steps", "1", "--out", str(tmp_path / "run"),
                 "--set", 'architecture_options={"category": "rotation"}']) == 0
    frame = tmp_path / "first.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(frame)
    capsys.readouterr()
    out = tmp_path / "g"
    checkpoint = str(tmp_path / "run/checkpoint.pt")
    assert main(["generate", "--checkpoint", checkpoint, "--out", str(out), "--first-frame", str(frame)]) == 2
    assert capsys.readouterr().err.strip() == f"videovae: error: {message}" and not out.exists()
    assert main(["generate", "--checkpoint", checkpoint, "--out", str(out), "--attr", "tilt=low"]) == 2
    assert "it does not model tilt" in capsys.readouterr().err and not out.exists()
    assert main(["generate", "--checkpoint", checkpoint, "--out", str(out), "--num", "2", "--attr", "rotation=cw",
                 "--formats", "png"]) == 0


# -- the category and the data ----------------------------------------------------------------------------------


class Data:
    def __init__(self, motion, *specs):
        self.attributes, self.motion_attributes = AttributeSet(specs), motion

    def describe(self):
        return "toy"


ACTION = AttributeSpec("action", values=("bend", "jack"))
SPEED = AttributeSpec("speed", kind="continuous")


def test_the_category_defaults_to_the_data_sets_one_motion_attribute():
    assert MoCoGANOptions.from_data({}, Data(("action",), ACTION), 10) == {"category": "action"}
    assert MoCoGANOptions.from_data({"category": "x"}, Data((), ACTION), 10) == {"category": "x"}  # kept
    for data, what in [(Data((), ACTION), "has no motion attribute"),
                       (Data(("action", "speed"), ACTION, SPEED), "has several motion attributes (action, speed)"),
                       (Data(("speed",), ACTION, SPEED), "has a motion attribute 'speed' that is not categorical")]:
        with pytest.raises(ConfigError) as caught:
            MoCoGANOptions.from_data({}, data, 10)
        message = str(caught.value)
        assert "\n" not in message and f"the data set (toy) {what} to take it from" in message
        assert message.endswith("""e.g. --set 'architecture_options={"category": "action"}'""")


def test_bad_categories_are_one_line_errors_when_the_model_is_built(chair_attributes):
    for options, fragment in [({"category": "colour"}, "category 'colour' is not a categorical attribute of the data set "
                                                      "(categorical: chair, tilt, rotation)"),
                              ({}, "mocogan needs option category")]:
        with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            build_model("mocogan", attributes=chair_attributes, architecture_options=options, **TINY_SIZES)
    with pytest.raises(ConfigError, match="mocogan: category 'speed' is not a categorical"):
        build_model("mocogan", attributes=AttributeSet((SPEED,)), architecture_options={"category": "speed"})
    with pytest.raises(ConfigError, match="needs at least 2"):
        mocogan(chair_attributes).check_clip_length(1)


@pytest.mark.parametrize("extra, fragment", [
    ([], "has no motion attribute to take it from: name one of its categorical attributes (chair, tilt, rotation)"),
    (["--set", 'architecture_options={"category": "colour"}'], "category 'colour' is not a categorical attribute"),
])
def test_the_cli_refuses_a_missing_category_with_nothing_written(tmp_path, capsys, extra, fragment):
    out = tmp_path / "run"
    assert main([*MOCO_TRAIN, "--steps", "1", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("videovae: error: ") and fragment in err[0]
    assert not out.exists() or not any(p.name != "run.lock" for p in out.iterdir())


@pytest.mark.skipif(not (WEIZMANN / "labels.csv").is_file(),
                    reason=f"Weizmann data not found at {WEIZMANN}; set VIDEOVAE_WEIZMANN_ROOT")
def test_on_weizmann_the_category_is_the_action(tmp_path):
    config = TrainConfig.from_dict({**MOCO_RUN, "model": {}, "dataset": "weizmann", "data_root": str(WEIZMANN),
                                    "dataset_options": {}, "steps": 1})
    trainer = build_trainer(config, tmp_path / "run", progress=False)
    assert trainer.model.controlled_attributes == ("action",)
    trainer.run()
    assert read_checkpoint(tmp_path / "run/checkpoint.pt")["model_config"]["architecture_options"] == {"category": "action"}


def test_fit_to_data_fills_the_category_of_the_preset():
    config = resolve_config("mocogan", **TINY_SIZES)
    assert fit_to_data(config, Data(("action",), ACTION), 8).architecture_options == {"category": "action"}
