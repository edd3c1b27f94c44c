"""The steering check of the evaluation: how much each attribute changes the generated clips."""

import torch
from torch import nn

from videovae.core import AttributeSet, AttributeSpec, Capabilities, ModelConfig, VideoModel
from videovae.engine.evaluation.protocol import EvalProtocol
from videovae.engine.evaluation.report import markdown_table
from videovae.engine.evaluation.scores import mean_over_seeds
from videovae.engine.evaluation.steering import WEAK, steering, weak_attributes

ATTRIBUTES = AttributeSet((AttributeSpec("look", values=("dark", "bright")),
                           AttributeSpec("motion", values=("left", "right", "still"))))


class Toy(VideoModel):
    """Brightness from ``look``, plus noise of scale ``noise``; ``motion`` is ignored (or not, with ``uses_motion``)."""

    capabilities = Capabilities(first_frame=False, attributes_only=True, posterior=False)

    def __init__(self, noise=0.1, uses_motion=False):
        super().__init__()
        self.config, self.attributes = ModelConfig(frame_size=8), ATTRIBUTES
        self.weight = nn.Parameter(torch.ones(()))
        self.noise, self.uses_motion = noise, uses_motion

    def losses(self, batch, context):
        return {"loss": self.weight * 0}

    def generate(self, labels, first_frame=None, generator=None):
        batch, length = labels.shape[:2]
        level = 0.2 + 0.6 * labels[..., 0] + (0.1 * labels[..., 1] if self.uses_motion else 0)
        frames = level[..., None, None, None].expand(batch, length, 3, 8, 8)
        return (frames + self.noise * torch.randn(batch, length, 3, 8, 8, generator=generator)).clamp(0, 1)


def labels_of(n=12, length=3):
    rows = torch.tensor([[i % 2, i % 3] for i in range(n)], dtype=torch.float32)
    return rows[:, None].expand(n, length, 2).clone()


def test_an_ignored_attribute_steers_nothing_and_a_used_one_does():
    values = steering(Toy(), labels_of(), seed=0)
    assert values["motion"] == 0.0 and values["look"] > 5  # 0.6 brightness against noise of scale 0.1
    assert weak_attributes(values) == ["motion"]
    used = steering(Toy(uses_motion=True), labels_of(), seed=0)
    assert used["motion"] > WEAK


def test_by_hand_the_ratio_is_the_pixel_change_over_the_noise_change():
    model = Toy(noise=0.0)  # no noise: the change of fresh noise is 0, and the check has nothing to compare with
    assert steering(model, labels_of(), seed=0) == {}
    model = Toy(noise=0.05)
    labels = labels_of(n=4)
    values = steering(model, labels, seed=3, clips=2)  # the clips spread evenly: 0 and 3
    picked = labels[[0, 3]]
    base = model.generate(picked, generator=torch.Generator().manual_seed(3))
    other = model.generate(picked, generator=torch.Generator().manual_seed(4))
    changed = picked.clone()
    changed[..., 0] = (changed[..., 0] + 1) % 2
    moved = model.generate(changed, generator=torch.Generator().manual_seed(3))
    expected = float((moved - base).abs().mean()) / float((other - base).abs().mean())
    assert abs(values["look"] - expected) < 1e-6


def test_attributes_the_model_is_not_steered_by_are_not_checked():
    class LookOnly(Toy):
        controlled_attributes = ("look",)

    assert set(steering(LookOnly(), labels_of(), seed=0)) == {"look"}


def test_rows_of_several_seeds_average_it_and_the_report_names_weak_attributes():
    rows = [{"mode": "m", "num_videos": 4, "inception_score": 1.0, "steering": {"look": 2.0, "motion": 0.1}},
            {"mode": "m", "num_videos": 4, "inception_score": 2.0, "steering": {"look": 4.0, "motion": 0.3}}]
    row = mean_over_seeds(rows)
    assert row["steering"] == {"look": 3.0, "motion": 0.2} and row["inception_score"] == 1.5
    table = markdown_table([("toy", row)], EvalProtocol(length=3))
    assert "Steering (pixel change" in table and "toy: look 3.00, motion 0.20" in table
    assert "⚠ toy barely follows motion (steering < 0.4)" in table
