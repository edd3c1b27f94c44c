"""Whole-model baselines registered as plugins: the Deep Rotator-style model."""

import pytest
import torch

from conftest import random_labels
from videovae import build_model
from videovae.core.errors import AttributeValueError
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
    with pytest.raises(AttributeValueError, match="only from a first frame"):
        rotator.generate(labels)


def test_deep_rotator_trains_and_checkpoints(tmp_path):
    from videovae import load
    from videovae.engine.trainer import TrainConfig, Trainer

    config = TrainConfig(preset="deep-rotator", model=dict(TINY_SIZES), steps=2, batch_size=4, log_every=1,
                         checkpoint_every=0, dataset_options=dict(num_objects=4, size=32, length=4))
    result = Trainer(config, tmp_path, progress=False).run()
    assert result.step == 2 and (tmp_path / "samples" / "step_000002.png").is_file()
    loaded = load(tmp_path / "checkpoint.pt")
    assert type(loaded.model).__name__ == "DeepRotator"
