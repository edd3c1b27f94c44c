"""The built-in data set: sequences, splits, labels, determinism and the cache."""

import numpy as np
import pytest
import torch

from videovae.core.errors import ConfigError, DataError, UnknownNameError
from videovae.engine.trainer import load_dataset
from videovae.plugins.datasets.chair_render import render_views
from videovae.plugins.datasets.synthetic_chairs import SyntheticChairs


@pytest.fixture(scope="module")
def chairs():
    return SyntheticChairs(num_objects=5, size=32)


def test_four_sequences_per_chair_three_for_training(chairs):
    train, test = chairs.split("train"), chairs.split("test")
    assert len(train) == 15 and len(test) == 5
    keys = {tuple(int(v) for v in s) for split in (train, test) for s in split.sequences}
    assert keys == {(o, t, r) for o in range(5) for t in range(2) for r in range(2)}
    assert sorted(int(s[0]) for s in test.sequences) == list(range(5))


def test_both_directions_start_at_the_16th_view_and_turn_opposite_ways(chairs):
    clips = {}
    for split in ("train", "test"):
        items = chairs.split(split)
        for i in range(len(items)):
            frames, labels = items[i]
            assert frames.shape == (16, 3, 32, 32) and labels.shape == (16, 3)
            assert torch.equal(labels, labels[:1].expand(16, 3))
            clips[tuple(int(v) for v in labels[0])] = frames
    ccw, cw = clips[(2, 0, 0)], clips[(2, 0, 1)]
    assert torch.equal(ccw[0], cw[0])  # same starting view
    assert torch.equal(ccw[1], chairs._views[2, 0, 16].permute(2, 0, 1).float() / 255)
    assert torch.equal(cw[1], chairs._views[2, 0, 14].permute(2, 0, 1).float() / 255)
    assert chairs.attributes.names == ("chair", "tilt", "rotation")
    assert chairs.attributes.spec("rotation").values == ("ccw", "cw")


def test_deterministic_and_cached(tmp_path):
    a = SyntheticChairs(root=tmp_path, num_objects=3, size=32, seed=4)
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1
    b = SyntheticChairs(root=tmp_path, num_objects=3, size=32, seed=4)
    assert torch.equal(a._views, b._views)
    files[0].write_bytes(b"corrupt")  # a damaged cache is rendered again
    c = SyntheticChairs(root=tmp_path, num_objects=3, size=32, seed=4)
    assert torch.equal(a._views, c._views)
    d = SyntheticChairs(root=tmp_path, num_objects=3, size=32, seed=5)
    assert not torch.equal(a._views, d._views)


def test_views_match_the_renderer():
    chairs = SyntheticChairs(num_objects=2, size=32, seed=1)
    from videovae.plugins.datasets.chair_render import ELEVATIONS_DEG, azimuths_deg, sample_chair_params

    rng = np.random.default_rng(1)
    params = sample_chair_params(rng)
    direct = render_views(params, azimuths_deg(), ELEVATIONS_DEG[0], size=32)
    assert np.array_equal(chairs._views[0, 0].numpy(), direct)


def test_label_rows_and_bad_options(chairs):
    assert torch.equal(chairs.label_rows("train"), chairs.split("train").sequences.float())
    with pytest.raises(DataError, match="splits train, test"):
        chairs.split("validation")
    with pytest.raises(DataError, match="at most 16"):
        SyntheticChairs(num_objects=2, length=17)
    with pytest.raises(ConfigError, match="has no field"):
        SyntheticChairs(num_object=2)
    with pytest.raises(UnknownNameError, match="did you mean 'synthetic-chairs'"):
        load_dataset("synthetic-chair", None, {})


def test_more_starting_views_wrap_around_the_circle():
    chairs = SyntheticChairs(num_objects=3, size=32, starts=4)
    train, test = chairs.split("train"), chairs.split("test")
    assert len(train) == 3 * 12 and len(test) == 3 * 4
    assert sorted({int(v) for v in train.first_views}) == [0, 7, 15, 23]  # 15, 15+8, 15+16-31, 15+23-31
    # the held-out (tilt, rotation) pair of a chair is the same for every start
    for obj in range(3):
        pairs = {(int(t), int(r)) for o, t, r in test.sequences.tolist() if o == obj}
        assert len(pairs) == 1 and pairs.isdisjoint({(int(t), int(r)) for o, t, r in train.sequences.tolist() if o == obj})
    # a clockwise clip from view 0 runs over to view 30, 29, ...
    index = next(i for i in range(len(train)) if int(train.first_views[i]) == 0 and int(train.sequences[i, 2]) == 1)
    obj, tilt, _ = (int(v) for v in train.sequences[index])
    frames, _ = train[index]
    assert torch.equal(frames[1], chairs._views[obj, tilt, 30].permute(2, 0, 1).float() / 255)
    assert torch.equal(frames[2], chairs._views[obj, tilt, 29].permute(2, 0, 1).float() / 255)
    # the default keeps the paper's protocol: both directions from the 16th view
    assert SyntheticChairs(num_objects=3, size=32).split("train").first_views.eq(15).all()
    with pytest.raises(DataError, match="starts must be at most 31"):
        SyntheticChairs(num_objects=2, size=32, starts=32)
