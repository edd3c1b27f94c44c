import math

import pytest
import torch

from videovae.core import AttributeSet, AttributeSpec
from videovae.core.errors import AttributeValueError, ConfigError, UnknownNameError


@pytest.fixture
def attrs_():
    return AttributeSet((
        AttributeSpec("action", values=("walk", "run", "jump")),
        AttributeSpec("angle", kind="continuous", low=0, high=360, periodic=True),
        AttributeSpec("speed", kind="continuous", low=0, high=2),
    ))


def test_codes_are_one_hot_and_periodic(attrs_):
    labels = torch.tensor([[1.0, 90.0, 1.0]])
    code = attrs_.encode(labels)
    assert attrs_.code_dim == 3 + 2 + 1 == code.shape[-1]
    assert torch.allclose(code[0, :3], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(code[0, 3:5], torch.tensor([0.0, 1.0]), atol=1e-6)  # cos 90, sin 90
    assert torch.allclose(code[0, 5], torch.tensor(0.0))  # middle of [0, 2] -> 0


def test_missing_labels_encode_as_zeros(attrs_):
    code = attrs_.encode(torch.tensor([[float("nan"), float("nan"), 2.0]]))
    assert torch.equal(code[0, :5], torch.zeros(5))
    assert code[0, 5] == 1.0


def test_schedule_switches_values_at_the_given_frames(attrs_):
    labels = attrs_.controls({"action": "walk@0,run@6,walk@11"}, length=16)
    assert labels[:6, 0].tolist() == [0.0] * 6
    assert labels[6:11, 0].tolist() == [1.0] * 5
    assert labels[11:, 0].tolist() == [0.0] * 5
    assert torch.isnan(labels[:, 1]).all()  # unassigned -> free


@pytest.mark.parametrize("text, fragment", [
    ("walk@0,run@6,walk@3", "must increase"),
    ("walk@0,run@16", "beyond the clip length"),
    ("walk@2,run@6", "start at frame 0"),
    ("walk@0,run", "value@frame"),
    ("wlak", "did you mean 'walk'"),
])
def test_bad_schedules_give_one_line_errors(attrs_, text, fragment):
    with pytest.raises(AttributeValueError) as info:
        attrs_.controls({"action": text}, length=16)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_unknown_attribute_names_the_closest_match(attrs_):
    with pytest.raises(UnknownNameError, match="did you mean 'action'"):
        attrs_.controls({"actoin": "walk"}, length=4)


def test_continuous_values_are_range_checked(attrs_):
    assert attrs_.controls({"speed": "1.5"}, 2)[0, 2] == 1.5
    with pytest.raises(AttributeValueError, match=r"in \[0.0, 2.0\]"):
        attrs_.controls({"speed": "3"}, 2)
    with pytest.raises(AttributeValueError, match="expects a number"):
        attrs_.controls({"speed": "fast"}, 2)


def test_specs_validate_and_round_trip(attrs_):
    assert AttributeSet.from_list(attrs_.to_list()) == attrs_
    with pytest.raises(ConfigError):
        AttributeSpec("bad name", values=("a",))
    with pytest.raises(ConfigError):
        AttributeSpec("x", values=("a", "a"))
    with pytest.raises(ConfigError):
        AttributeSpec("x", kind="continuous", low=1, high=0)
    assert math.isnan(float("nan")) and attrs_.specs[0].format(float("nan")) == "?"


def test_segments_record_every_frame_of_a_schedule(chair_attributes):
    labels = chair_attributes.controls({"chair": "c2", "rotation": "ccw@0,cw@2,ccw@5"}, 6)
    assert chair_attributes.segments(labels) == [
        {"from": 0, "labels": {"chair": "c2", "tilt": "?", "rotation": "ccw"}},
        {"from": 2, "labels": {"chair": "c2", "tilt": "?", "rotation": "cw"}},
        {"from": 5, "labels": {"chair": "c2", "tilt": "?", "rotation": "ccw"}},
    ]
    assert chair_attributes.segments(labels[:2]) == chair_attributes.segments(labels)[:1]
    assert chair_attributes.describe(labels[0]) == "chair=c2, tilt=?, rotation=ccw"
