"""The procedural stress sets (moving-sprites, bouncing-balls): determinism, shapes, splits,
labels measured from the drawn pixels, generation time and one-line errors for bad options."""

import time

import pytest
import torch

from videovae.core.errors import ConfigError, DataError
from videovae.engine.trainer import load_dataset
from videovae.plugins.datasets.bouncing_balls import BouncingBalls
from videovae.plugins.datasets.moving_sprites import MovingSprites

SETS = (MovingSprites, BouncingBalls)


@pytest.fixture(scope="module")
def sprites():
    return MovingSprites(num_clips=80, seed=3)


@pytest.fixture(scope="module")
def balls():
    return BouncingBalls(num_clips=80, seed=3)


def all_items(dataset):
    frames, labels = zip(*(dataset.split(s)[i] for s in ("train", "test") for i in range(len(dataset.split(s)))))
    return torch.stack(frames), torch.stack(labels)


def centroids(frames):
    """Foreground centroid (x, y) per frame, [N, T, 2], from the pixels' brightness."""
    mass = frames.sum(2)  # [N, T, H, W]
    size = mass.shape[-1]
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    total = mass.sum((-1, -2))
    return torch.stack([(mass.sum(-2) * coords).sum(-1) / total, (mass.sum(-1) * coords).sum(-1) / total], -1)


@pytest.mark.parametrize("cls", SETS)
def test_deterministic_for_a_seed(cls):
    a, b, c = cls(num_clips=8, seed=1), cls(num_clips=8, seed=1), cls(num_clips=8, seed=2)
    assert torch.equal(a._clips, b._clips) and torch.equal(a.label_rows("train"), b.label_rows("train"))
    assert not torch.equal(a._clips, c._clips)


@pytest.mark.parametrize("cls", SETS)
@pytest.mark.parametrize("size", (32, 64))
def test_shapes_dtypes_range_and_splits(cls, size):
    data = cls(num_clips=12, size=size, length=10)
    assert data.frame_shape == (3, size, size)
    train, test = data.split("train"), data.split("test")
    assert len(train) == 9 and len(test) == 3  # three of every four clips train, one tests
    frames, labels = train[0]
    assert frames.dtype == torch.float32 and frames.shape == (10, 3, size, size)
    assert labels.shape == (10, 3) and torch.equal(labels, labels[:1].expand(10, 3))
    assert 0.0 <= frames.min() and frames.max() <= 1.0 and frames.max() > 0.5
    background = (frames.amax(1) == 0).float().mean()
    assert background > 0.6  # sparse foreground on black
    assert torch.equal(data.label_rows("test"), torch.stack([test[i][1][0] for i in range(len(test))]))
    groups = sorted(int(r) // 4 for r in test.rows)
    assert groups == [0, 1, 2]  # one held-out clip per group of four
    for name in data.evaluation_attributes + data.motion_attributes + tuple(data.time_reversal or {}):
        assert name in data.attributes.names
    with pytest.raises(DataError, match="has splits train, test"):
        data.split("validation")


def test_registered_with_the_chairs():
    for name, cls in (("moving-sprites", MovingSprites), ("bouncing-balls", BouncingBalls)):
        data = load_dataset(name, None, {"num_clips": 4})
        assert isinstance(data, cls) and name in data.describe()


def test_sprites_move_in_the_labelled_direction(sprites):
    frames, labels = all_items(sprites)
    shift = centroids(frames)[:, -1] - centroids(frames)[:, 0]  # [N, 2]
    expected = torch.tensor([(-1, 0), (1, 0), (0, -1), (0, 1)], dtype=torch.float32)[labels[:, 0, 2].long()]
    assert ((shift * expected).sum(-1) > 5).all()  # moved at least 5 px the labelled way
    across = (shift * expected.flip(-1)).sum(-1).abs()
    assert (across < 0.5).all()  # and not across it
    reversed_labels = [sprites.time_reversal["direction"][v] for v in sprites.attributes.spec("direction").values]
    assert reversed_labels == ["right", "left", "down", "up"]


def test_sprites_colour_and_shape_match_the_labels(sprites):
    from videovae.plugins.datasets.procedural import PALETTE

    frames, labels = all_items(sprites)
    palette = torch.tensor(list(PALETTE.values()))
    brightest = frames.flatten(3).amax(-1)[:, 0]  # [N, 3]: the colour at the sprite's centre
    nearest = torch.cdist(brightest, palette).argmin(-1)
    assert torch.equal(nearest, labels[:, 0, 1].long())
    # a disc fills pi/4 of its bounding square, a square all of it, a cross and a triangle less
    mask = frames[:, 0].amax(1) > 0.5
    area = mask.flatten(1).sum(-1).float()
    rows, cols = mask.any(-1).sum(-1).float(), mask.any(-2).sum(-1).float()
    fill = area / (rows * cols)
    shape = labels[:, 0, 0].long()
    assert fill[shape == 0].min() > 0.85 and fill[shape == 2].max() < 0.65
    assert fill[shape == 1].mean() > fill[shape == 3].mean()


def test_balls_move_along_the_labelled_axis_at_the_labelled_speed(balls):
    frames, labels = all_items(balls)
    order = torch.cat([balls.split(s).rows for s in ("train", "test")])
    single = balls.objects[order] == 1
    motion = centroids(frames).diff(dim=1).abs()  # [N, T-1, 2]
    axis = labels[:, 0, 2].long()
    along = motion.gather(-1, axis[:, None, None].expand(-1, motion.shape[1], 1)).squeeze(-1)
    across = motion.gather(-1, (1 - axis)[:, None, None].expand(-1, motion.shape[1], 1)).squeeze(-1)
    assert (across.amax(-1) < 0.2).all()  # only the labelled axis changes
    speed = along.median(-1).values  # of one ball: the centroid of two moves at their mean velocity
    fast = labels[:, 0, 1] == 1
    assert single.sum() >= 10 and (single & fast).any() and (single & ~fast).any()
    assert torch.allclose(speed[single & fast], torch.tensor(2.5), atol=0.1)
    assert torch.allclose(speed[single & ~fast], torch.tensor(1.0), atol=0.1)
    area = (frames[:, :, :, :, :].amax(2) > 0.5).flatten(2).sum(-1).float().amax(-1)  # largest ball area
    large = labels[:, 0, 0] == 1
    assert area[large & single].min() > area[~large & single].max()


@pytest.mark.parametrize("cls", SETS)
def test_generated_in_seconds(cls):
    started = time.perf_counter()
    cls(num_clips=800, size=32)
    assert time.perf_counter() - started < 10.0  # well under a second alone; shared CPUs are slower


@pytest.mark.parametrize("cls", SETS)
@pytest.mark.parametrize("options, message", [
    ({"num_clips": 10}, "num_clips must be a positive multiple of 4"),
    ({"num_clips": 0}, "num_clips must be a positive integer"),
    ({"size": 8}, "size must be between 16 and 128"),
    ({"length": 1}, "length must be between 2 and 32"),
    ({"length": 40}, "length must be between 2 and 32"),
    ({"seed": "a"}, "seed must be an integer"),
    ({"colour": 3}, "colour"),
])
def test_bad_options_are_one_line_config_errors(cls, options, message):
    with pytest.raises(ConfigError, match=message) as error:
        cls(**options)
    assert "\n" not in str(error.value) and cls.__module__ and str(error.value).startswith("dataset '")


def test_bouncing_balls_can_start_every_ball_forward_and_nothing_else_changes():
    random_start = BouncingBalls(num_clips=64, length=4)
    forward = BouncingBalls(num_clips=64, length=4, start="forward")
    assert torch.equal(random_start.label_rows("train"), forward.label_rows("train"))
    assert forward.time_reversal is None and random_start.time_reversal == {}

    def first_step_forward(data):  # the foreground centroid's first step along the clip's axis is positive
        frames = torch.stack([data.split("train")[i][0] for i in range(len(data.split("train")))])
        axis = data.label_rows("train")[:, 2].long()
        mass = frames.sum(2)
        grid = torch.arange(mass.shape[-1], dtype=torch.float32)
        total = mass.sum((-1, -2)).clamp_min(1e-6)
        centre = torch.stack([(mass.sum(-2) * grid).sum(-1), (mass.sum(-1) * grid).sum(-1)], -1) / total[..., None]
        step = (centre[:, 1] - centre[:, 0]).gather(1, axis[:, None]).squeeze(1)
        return float((step > 0).float().mean())

    assert first_step_forward(forward) > 0.9 and 0.2 < first_step_forward(random_start) < 0.8
    with pytest.raises(Exception, match="start must be one of"):
        BouncingBalls(num_clips=4, start="sideways")
