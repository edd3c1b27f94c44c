"""The whole-model protocol (VideoModel): capabilities, the factory's one path, named optimizers, resume."""

import copy
import math

import attrs
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import random_labels
from videovae import VideoModel, build_model
from videovae.cli import main
from videovae.core import Capabilities, CapabilityError, CheckpointError, ConfigError, StepContext
from videovae.core.batch import VideoBatch
from videovae.engine.checkpoint import atomic_torch_save, read_checkpoint, save_checkpoint
from videovae.engine.generation import generate_videos
from videovae.engine.optimization import Optimizers
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import build_trainer
from videovae.plugins.models.composed import ComposedVAE, build_composed
from videovae.plugins.presets import TINY_SIZES
from videovae.registry import Entry, get_registry
from videovae.registry.factory import resolve_config

TINY_RUN = dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=4), batch_size=4,
                log_every=1, checkpoint_every=0, lr=1e-3, num_samples=2)


def register_model(monkeypatch, name, factory):
    """Add a whole model to the process registry for one test."""
    monkeypatch.setitem(get_registry().tables["model"], name, Entry("model", name, factory, "tests", "tests 0"))


class AttributesOnly(ComposedVAE):
    """The composed VAE declaring that it cannot continue a first frame."""

    capabilities = Capabilities(first_frame=False, attributes_only=True, posterior=True)


def attributes_only_model(chair_attributes):
    return build_composed(resolve_config("tiny", architecture="attributes-only"), chair_attributes, model_class=AttributesOnly)


class TwoOptimizers(VideoModel):
    """A toy two-player model: a critic step, then a generator step through the critic (as a GAN)."""

    def __init__(self, config, attributes):
        super().__init__()
        self.config, self.attributes = config, attributes
        self.critic = nn.Linear(3, 1)
        self.generator = nn.Linear(1, 3)

    def configure_optimizers(self, lr):
        return {"critic": torch.optim.SGD(self.critic.parameters(), lr=lr),
                "generator": torch.optim.Adam(self.generator.parameters(), lr=lr)}

    def critic_loss(self, batch, noise):
        real = batch.frames.mean(dim=(1, 3, 4))  # [B, 3]
        return (self.critic(self.generator(noise).detach()) - self.critic(real)).mean()

    def generator_loss(self, noise):
        return -self.critic(self.generator(noise)).mean()

    def losses(self, batch, context):
        noise = context.noise(1)
        return {"critic": self.critic_loss(batch, noise), "generator": self.generator_loss(noise)}

    def training_step(self, batch, context):
        noise = context.noise(1)
        critic = self.critic_loss(batch, noise)
        context.optimize("critic", critic)
        generator = self.generator_loss(noise)
        context.optimize("generator", generator)
        return {"critic": critic, "generator": generator}

    def generate(self, labels, first_frame=None, generator=None):
        batch, length = labels.shape[:2]
        colour = torch.sigmoid(self.generator(torch.zeros(batch * length, 1)))
        return colour.view(batch, length, 3, 1, 1).expand(batch, length, *self.config.frame_shape).clone()


# -- capabilities ---------------------------------------------------------------------------------


def test_builtin_models_declare_their_capabilities(tiny_model, chair_attributes):
    rotator = build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES)
    assert isinstance(tiny_model, VideoModel) and isinstance(rotator, VideoModel)
    assert tiny_model.capabilities == Capabilities(first_frame=True, attributes_only=True, posterior=True)
    assert rotator.capabilities == Capabilities(first_frame=True, attributes_only=False, posterior=False)
    frames = torch.rand(2, 3, 3, 32, 32)
    labels = random_labels(2, 3, chair_attributes)
    with pytest.raises(CapabilityError, match="^DeepRotator has no posterior to reconstruct clips with$"):
        rotator.reconstruct(frames, labels)


def test_a_model_without_first_frame_support_is_refused_in_mode_iv(chair_attributes):
    model = attributes_only_model(chair_attributes)
    videos, _ = generate_videos(model, num=2, length=3, seed=0)  # its own mode works
    assert videos.shape == (2, 3, 3, 32, 32)
    with pytest.raises(CapabilityError) as caught:
        generate_videos(model, num=2, length=3, first_frames=torch.rand(2, 3, 32, 32))
    assert str(caught.value) == "model 'attributes-only' cannot continue a first frame (it generates from attributes only)"


def test_a_first_frame_only_model_is_refused_without_one(chair_attributes):
    rotator = build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES)
    with pytest.raises(CapabilityError, match="^model 'deep-rotator' generates only from a first frame; pass one$"):
        generate_videos(rotator, num=2, length=3)


def test_the_cli_refuses_mode_iv_for_such_a_model_in_one_line(monkeypatch, chair_attributes, tmp_path, capsys):
    register_model(monkeypatch, "attributes-only",
                   lambda config, attributes: build_composed(config, attributes, model_class=AttributesOnly))
    checkpoint = save_checkpoint(tmp_path / "checkpoint.pt", attributes_only_model(chair_attributes), step=0,
                                 label_table=torch.zeros(1, 3), clip_length=3)
    frame = tmp_path / "first.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(frame)
    out = tmp_path / "g"
    assert main(["generate", "--checkpoint", str(checkpoint), "--out", str(out), "--first-frame", str(frame)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "videovae: error: model 'attributes-only' cannot continue a first frame (it generates from attributes only)"
    assert not out.exists()
    assert main(["generate", "--checkpoint", str(checkpoint), "--out", str(out), "--num", "2", "--formats", "png"]) == 0


# -- the factory ----------------------------------------------------------------------------------


def test_stored_configs_name_the_composed_plugin(tiny_model):
    assert tiny_model.config.architecture == "composed" and type(tiny_model) is ComposedVAE
    assert get_registry().get("model", "composed").plugin == "videovae.plugins.models.composed"


@pytest.mark.parametrize("built, what", [(lambda: nn.Linear(1, 1), "Linear"), (object, "object")])
def test_the_factory_refuses_a_model_that_is_not_a_video_model(monkeypatch, built, what):
    monkeypatch.setitem(get_registry().tables["model"], "not-a-model",
                        Entry("model", "not-a-model", lambda config, attributes: built(), "someplugin", "pkg 1"))
    with pytest.raises(ConfigError) as caught:
        build_model("tiny", architecture="not-a-model")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        f"model 'not-a-model' from plugin someplugin built a {what}, expected a videovae.VideoModel")


# -- the step ---------------------------------------------------------------------------------------


def test_composed_losses_are_eq_9_with_the_context_noise_and_weight(tiny_model, chair_attributes):
    tiny_model.eval()
    batch = VideoBatch(torch.rand(2, 3, 3, 32, 32), random_labels(2, 3, chair_attributes))
    noise = torch.randn(2, 3, tiny_model.config.latent_dim)
    context = StepContext(0, 0.25, lambda *shape: noise, lambda name, loss: None)
    torch.manual_seed(1)  # h(0) is random
    losses = tiny_model.losses(batch, context)
    torch.manual_seed(1)
    out = tiny_model(batch.frames, batch.labels, noise=noise)
    # the default likelihood by hand: a Gaussian whose σ² is the batch's mean squared error
    squared = (out.reconstruction - batch.frames).pow(2)
    variance, values = squared.mean(), 3 * 32 * 32
    reconstruction = (squared.sum(dim=(2, 3, 4)) / (2 * variance) + values / 2 * torch.log(2 * math.pi * variance)).mean()
    assert list(losses) == ["loss", "reconstruction", "kl"]
    torch.testing.assert_close(losses["reconstruction"], reconstruction)
    torch.testing.assert_close(losses["kl"], out.kl.mean())
    torch.testing.assert_close(losses["loss"], reconstruction + 0.25 * out.kl.mean())


def test_two_optimizers_each_update_only_their_own_parameters(chair_attributes):
    model = TwoOptimizers(resolve_config("tiny"), chair_attributes)
    optimizers = Optimizers(model, lr=0.1)
    batch = VideoBatch(torch.rand(4, 2, 3, 32, 32), random_labels(4, 2, chair_attributes))
    noise = torch.randn(4, 1)
    initial = copy.deepcopy(model)
    snapshots = []

    def optimize(name, loss):
        optimizers.optimize(name, loss)
        snapshots.append((name, copy.deepcopy(model)))

    model.training_step(batch, StepContext(0, 1.0, lambda *shape: noise, optimize))
    (first, after_critic), (second, after_generator) = snapshots
    assert (first, second) == ("critic", "generator")
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))  # noqa: E731
    assert not same(after_critic.critic, initial.critic) and same(after_critic.generator, initial.generator)
    assert not same(after_generator.generator, initial.generator) and same(after_generator.critic, after_critic.critic)

    # the recorded norms are each optimizer's own gradient norm before its step, computed by hand
    def grad_norm(loss, module):
        grads = torch.autograd.grad(loss, list(module.parameters()))
        return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item()

    norms = optimizers.take_norms()
    assert norms["critic"] == pytest.approx(grad_norm(initial.critic_loss(batch, noise), initial.critic), rel=1e-6)
    assert norms["generator"] == pytest.approx(grad_norm(after_critic.generator_loss(noise), after_critic.generator),
                                               rel=1e-6)
    assert optimizers.take_norms() == {}


def test_an_unknown_optimizer_name_and_bad_optimizers_are_one_line_errors(chair_attributes):
    model = TwoOptimizers(resolve_config("tiny"), chair_attributes)
    optimizers = Optimizers(model, lr=0.1)
    with pytest.raises(LookupError, match="unknown optimizer 'critc'; did you mean 'critic'"):
        optimizers.optimize("critc", model.generator_loss(torch.zeros(1, 1)))
    model.configure_optimizers = lambda lr: {"critic": model.critic}
    with pytest.raises(ConfigError, match="configure_optimizers must map names to torch.optim.Optimizer, got 'critic': Linear"):
        Optimizers(model, lr=0.1)


# -- training and resume with named optimizers ---------------------------------------------------------


def run(out, steps, resume=False, adjust=None, **extra):
    config = TrainConfig.from_dict({**TINY_RUN, "steps": steps, **extra})
    trainer = build_trainer(config, out, resume=resume, progress=False, adjust=adjust)
    return trainer, trainer.run()


def weights(path):
    return read_checkpoint(path)["model_state"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_two_optimizer_model_trains_logs_each_norm_and_resumes_exactly(monkeypatch, tmp_path):
    register_model(monkeypatch, "two-optimizers", TwoOptimizers)
    toy = dict(model={"architecture": "two-optimizers"}, lr=1e-2)
    _, straight = run(tmp_path / "straight", 4, **toy)
    row = straight.history[-1]
    assert list(row) == ["step", "critic", "generator", "grad_norm", "grad_norm/critic", "grad_norm/generator", "seconds"]
    assert row["grad_norm"] == max(row["grad_norm/critic"], row["grad_norm/generator"]) > 0
    assert set(read_checkpoint(tmp_path / "straight/checkpoint.pt")["optimizer_state"]) == {"critic", "generator"}

    run(tmp_path / "split", 2, **toy)
    run(tmp_path / "split", 4, resume=True, **toy)
    assert_same_weights(weights(tmp_path / "straight/checkpoint.pt"), weights(tmp_path / "split/checkpoint.pt"))

    # an lr adjustment on resume applies to every optimizer
    resumed = build_trainer(TrainConfig.from_dict({**TINY_RUN, **toy, "steps": 5}), tmp_path / "split", resume=True,
                            progress=False, adjust={"lr": 5e-3})
    assert [group["lr"] for name in resumed.optimizers for group in resumed.optimizers[name].param_groups] == [5e-3, 5e-3]


def test_an_old_checkpoint_with_one_plain_optimizer_state_still_resumes(tmp_path):
    run(tmp_path / "straight", 4)
    run(tmp_path / "old", 2)
    path = tmp_path / "old/checkpoint.pt"
    payload = read_checkpoint(path)
    assert list(payload["optimizer_state"]) == ["model"]
    payload["optimizer_state"] = payload["optimizer_state"]["model"]  # the form written before optimizers had names
    atomic_torch_save(payload, path)
    run(tmp_path / "old", 4, resume=True)
    assert_same_weights(weights(tmp_path / "straight/checkpoint.pt"), weights(path))

    payload["optimizer_state"] = {"critic": payload["optimizer_state"]}
    atomic_torch_save(payload, path)
    with pytest.raises(CheckpointError) as caught:
        build_trainer(TrainConfig.from_dict({**TINY_RUN, "steps": 5}), tmp_path / "old", resume=True, progress=False)
    assert str(caught.value) == (f"{path} cannot be resumed: its optimizer_state holds optimizer(s) critic, "
                                 "the model has model")


# -- the model's own learning rate, the attributes it is steered by, the clips it needs --------------------


class SlowTwoOptimizers(TwoOptimizers):
    default_lr = 2e-4
    default_spike_clip = 0.0


def test_a_run_without_lr_takes_the_models_own_and_stores_it(monkeypatch, tmp_path):
    register_model(monkeypatch, "slow-two", SlowTwoOptimizers)
    no_lr = {k: v for k, v in TINY_RUN.items() if k != "lr"}
    assert TrainConfig.from_dict(no_lr).lr is None and TrainConfig.from_dict(no_lr).spike_clip is None
    vae = build_trainer(TrainConfig.from_dict({**no_lr, "steps": 2}), tmp_path / "vae", progress=False)
    assert vae.config.lr == VideoModel.default_lr == 1e-3
    assert vae.config.spike_clip == vae.optimizers.spike_clip == VideoModel.default_spike_clip == 10.0
    trainer = build_trainer(TrainConfig.from_dict({**no_lr, "steps": 2, "model": {"architecture": "slow-two"}}),
                            tmp_path / "gan", progress=False)
    assert (trainer.config.lr, trainer.config.spike_clip, trainer.optimizers.spike_clip) == (2e-4, 0.0, 0.0)
    assert [g["lr"] for name in trainer.optimizers for g in trainer.optimizers[name].param_groups] == [2e-4, 2e-4]
    trainer.run()
    stored = read_checkpoint(tmp_path / "gan/checkpoint.pt")["train_config"]
    assert (stored["lr"], stored["spike_clip"]) == (2e-4, 0.0)
    assert "lr = 0.0002" in (tmp_path / "gan/config.toml").read_text()
    # resumed without an lr or a clip: the stored ones, no adjustment recorded; with one: an adjustment
    config = TrainConfig.from_dict({**no_lr, "steps": 3, "model": {"architecture": "slow-two"}})
    resumed = build_trainer(config, tmp_path / "gan", resume=True, progress=False,
                            adjust={"lr": None, "spike_clip": None})
    assert (resumed.config.lr, resumed.config.spike_clip, resumed.adjustments) == (2e-4, 0.0, [])


def test_attributes_a_model_is_not_steered_by_are_refused_in_one_line(chair_attributes):
    rotator = build_model("deep-rotator", attributes=chair_attributes, architecture_options={"actions": ["rotation"]},
                          **TINY_SIZES)
    assert rotator.controlled_attributes == ("rotation",)
    frames = torch.rand(2, 3, 32, 32)
    videos, labels = generate_videos(rotator, num=2, length=3, assignments={"rotation": "cw"}, first_frames=frames)
    assert videos.shape == (2, 3, 3, 32, 32) and not torch.isnan(labels).any()  # the others drawn, and ignored
    with pytest.raises(Exception) as caught:
        generate_videos(rotator, num=2, length=3, assignments={"chair": "c1"}, first_frames=frames)
    assert str(caught.value) == "model 'deep-rotator' is steered by rotation; it does not model chair (leave it free)"


class NeedsEightFrames(TwoOptimizers):
    def check_clip_length(self, length, dataset="the data set"):
        if length < 8:
            raise ConfigError(f"{dataset} has clips of {length} frames; this model needs at least 8")


def test_clips_too_short_for_a_model_are_refused_before_anything_is_written(monkeypatch, tmp_path):
    register_model(monkeypatch, "needs-eight", NeedsEightFrames)
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 2, "model": {"architecture": "needs-eight"}})
    with pytest.raises(ConfigError, match="^synthetic-chairs has clips of 4 frames; this model needs at least 8$"):
        build_trainer(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists() or not any(p.name != "run.lock" for p in (tmp_path / "run").iterdir())


@attrs.frozen
class LengthOptions:
    length: int | None = None

    @staticmethod
    def from_data(options, dataset, clip_length):
        return options if options.get("length") is not None else {**options, "length": clip_length}


class FitsTheData(TwoOptimizers):
    def __init__(self, config, attributes, options):
        super().__init__(config, attributes)
        self.length = options.length


def test_options_left_to_the_data_are_filled_in_and_stored_with_the_run(monkeypatch, tmp_path):
    monkeypatch.setitem(get_registry().tables["model"], "fits",
                        Entry("model", "fits", FitsTheData, "tests", "tests 0", options=LengthOptions))
    config = TrainConfig.from_dict({**TINY_RUN, "steps": 2, "model": {"architecture": "fits"}})
    trainer = build_trainer(config, tmp_path / "run", progress=False)
    assert trainer.model.length == 4  # the chairs' clips of TINY_RUN
    trainer.run()
    assert read_checkpoint(tmp_path / "run/checkpoint.pt")["model_config"]["architecture_options"] == {"length": 4}
    assert "length = 4" in (tmp_path / "run/config.toml").read_text()
    resumed = build_trainer(attrs.evolve(config, steps=3), tmp_path / "run", resume=True, progress=False)
    assert resumed.model.length == 4
    given = TrainConfig.from_dict({**TINY_RUN, "steps": 2, "model": {"architecture": "fits",
                                                                      "architecture_options": {"length": 3}}})
    assert build_trainer(given, tmp_path / "given", progress=False).model.length == 3  # a set option is kept
