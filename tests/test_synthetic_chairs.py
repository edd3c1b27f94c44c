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
