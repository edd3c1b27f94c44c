"""Whole-model baselines registered as plugins: the Deep Rotator-style model."""

import pytest
import torch

from conftest import random_labels
from videovae import build_model
from videovae.core.errors import AttributeValueError, CapabilityError
from videovae.plugins.presets import TINY_SIZES


@pytest.fixture
def rotator(chair_attributes):
    return build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES)


def test_deep_rotator_rolls_out_from_the_first_frame_only(rotator, chair_attributes):
    rotator.eval()  # no dropout: two passes must be comparable
    frames = torch.rand(2, 5, 3, 32, 32)
    labels = random_labels(2, 5, chair_attributes)
    out = rotator(frames, labels)
    assert out.reconstruction.shape == frames.shape and torch.equal(out.kl, torch.zeros(2, 5))
    changed = frames.clone()
    changed[:, 1:] = 0.0  # later frames are never seen by the model
    assert torch.equal(rotator(changed, labels).reconstruction, out.reconstruction)


def test_deep_rotator_action_changes_the_rollout(rotator, chair_attributes):
    rotator.eval()
    first = torch.rand(1, 3, 32, 32)
    labels = torch.zeros(1, 4, 3)
    other = labels.clone()
    other[..., 2] = 1.0  # rotation cw instead of ccw
    a = rotator.generate(labels, first_frame=first)
    b = rotator.generate(other, first_frame=first)
    assert torch.equal(a[:, 0], b[:, 0]) and not torch.equal(a[:, 1:], b[:, 1:])
    with pytest.raises(CapabilityError, match="only from a first frame"):
        rotator.generate(labels)


def test_deep_rotator_trains_and_checkpoints(tmp_path):
    from videovae import load
    from videovae.engine.trainer import TrainConfig
    from videovae.engine.training import train

    config = TrainConfig(preset="deep-rotator", model=dict(TINY_SIZES), steps=2, batch_size=4, log_every=1,
                         checkpoint_every=0, dataset_options=dict(num_objects=4, size=32, length=4))
    result = train(config, tmp_path, progress=False)
    assert result.step == 2 and (tmp_path / "samples" / "step_000002.png").is_file()
    loaded = load(tmp_path / "checkpoint.pt")
    assert type(loaded.model).__name__ == "DeepRotator"


def test_deep_rotator_given_only_the_action_ignores_the_other_attributes(chair_attributes):
    full = build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES)
    rotator = build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES,
                          architecture_options={"actions": ["rotation"]})
    assert rotator.actions == ("rotation",)
    rotation_dim = chair_attributes.spec("rotation").code_dim
    assert full.cell.input_size - rotator.cell.input_size == chair_attributes.code_dim - rotation_dim
    rotator.eval()
    first = torch.rand(1, 3, 32, 32)
    labels = torch.zeros(1, 4, 3)
    other_chair = labels.clone()
    other_chair[..., :2] = torch.tensor([1.0, 1.0])  # another chair and tilt, same rotation
    free_chair = labels.clone()
    free_chair[..., :2] = float("nan")  # only the action is needed
    cw = labels.clone()
    cw[..., 2] = 1.0
    a = rotator.generate(labels, first_frame=first)
    assert torch.equal(a, rotator.generate(other_chair, first_frame=first))
    assert torch.equal(a, rotator.generate(free_chair, first_frame=first))
    assert not torch.equal(a[:, 1:], rotator.generate(cw, first_frame=first)[:, 1:])
    missing_action = labels.clone()
    missing_action[..., 2] = float("nan")
    with pytest.raises(AttributeValueError, match=r"actions \(rotation\) must be set"):
        rotator.generate(missing_action, first_frame=first)


def test_deep_rotator_action_option_errors(chair_attributes):
    from videovae.core.errors import ConfigError, UnknownNameError

    assert build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES,
                       architecture_options={"actions": "rotation,tilt"}).actions == ("rotation", "tilt")
    with pytest.raises(UnknownNameError, match="spin"):
        build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES, architecture_options={"actions": ["spin"]})
    with pytest.raises(ConfigError, match="distinct"):
        build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES, architecture_options={"actions": []})
    with pytest.raises(ConfigError, match="no field"):
        build_model("deep-rotator", attributes=chair_attributes, **TINY_SIZES, architecture_options={"speed": 2})
