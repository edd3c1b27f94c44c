"""The ``weizmann`` data set plugin on the real 64×64 Weizmann subset (skipped when absent)."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from videovae.core.errors import ConfigError, DataError
from videovae.plugins.datasets.weizmann import Weizmann, train_frames

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "weizmann-actions"
ROOT = Path(os.environ.get("VIDEOVAE_WEIZMANN_ROOT", DEFAULT_ROOT)).resolve()


@pytest.fixture(scope="module")
def root():
    if not (ROOT / "labels.csv").is_file():
        pytest.skip(f"Weizmann data not found at {ROOT}; set VIDEOVAE_WEIZMANN_ROOT")
    return ROOT


@pytest.fixture(scope="module")
def data(root):
    return Weizmann(root)


def clip_frames(data, name):
    """uint8 [T, H, W, 3] of one whole clip in the store."""
    i = data.store.names.index(name)
    return data.store.frames[data.store.offsets[i] : data.store.offsets[i] + data.store.lengths[i]]


def test_counts_and_shapes(data):
    assert len(data.store.names) == 72
    assert data.num_mirrors == 36 and not data.skipped
    train, test = data.split("train"), data.split("test")
    assert len(train) == 72 * 20
    counts = torch.bincount(train.clip_ids, minlength=72)
    assert (counts == 20).all()
    assert len(test) >= 72 and (torch.bincount(test.clip_ids, minlength=72) >= 1).all()
    frames, labels = train[0]
    assert frames.shape == (10, 3, 64, 64) and frames.dtype == torch.float32
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0 and float(frames.std()) > 0.01
    assert labels.shape == (10, 2)
    assert data.frame_shape == (3, 64, 64)
    assert data.store.frames.dtype == torch.uint8
    assert data.attributes.names == ("action", "performer")
    assert data.attributes.spec("action").values == ("bend", "jack", "wave1", "wave2")
    assert data.attributes.spec("performer").values == tuple(f"p{i}" for i in range(9))
    assert "72 clips" in data.describe()


def test_labels_and_unlabelled_performers(data, root):
    rows = [line.split(",") for line in (root / "labels.csv").read_text().splitlines()[1:]]
    expected = {r[0]: (r[1], r[2]) for r in rows}
    action, performer = data.attributes.specs
    for split in ("train", "test"):
        items = data.split(split)
        label_rows = data.label_rows(split)
        assert label_rows.shape == (len(items), 2)
        for i in range(0, len(items), 7):
            act, perf = expected[items.clip_name(i)]
            assert action.format(float(label_rows[i, 0])) == act
            if perf:
                assert performer.format(float(label_rows[i, 1])) == perf
            else:
                assert math.isnan(float(label_rows[i, 1]))
    jack = data.label_rows("train")[:, 0] == action.values.index("jack")
    unknown = torch.isnan(data.label_rows("train")[:, 1])
    assert unknown.any() and bool((unknown <= jack).all())  # only jack clips lack a performer
    assert data.unlabelled_clips == 8  # jack of groups 0, 1, 3, 6 and their mirrors
    # per-frame labels repeat the first-frame row, NaN included
    i = int(torch.nonzero(unknown)[0])
    labels = data.split("train")[i][1]
    assert torch.isnan(labels[:, 1]).all() and (labels[:, 0] == labels[0, 0]).all()


def test_train_from_first_two_thirds_and_test_from_last_third(data):
    for split, inside in (("train", lambda pos, n: pos < train_frames(n)), ("test", lambda pos, n: pos >= train_frames(n))):
        items = data.split(split)
        for i in range(len(items)):
            n = data.store.lengths[int(items.clip_ids[i])]
            pos = items.frame_positions(i)
            assert bool(inside(pos, n).all()), (split, items.clip_name(i), pos.tolist(), n)
            assert (pos[1:] - pos[:-1] == 1).all()  # consecutive frames
    test = data.split("test")
    for i in range(len(test)):  # non-overlapping windows from the first test frame
        n = data.store.lengths[int(test.clip_ids[i])]
        assert (int(test.frame_positions(i)[0]) - train_frames(n)) % 10 == 0
    # frames match the strip in the file
    from PIL import Image

    item = test[3]
    name = test.clip_name(3)
    image = np.asarray(Image.open(data.root / "clips" / f"{name}.jpg").convert("RGB"))
    start = int(test.frame_positions(3)[0])
    expected = torch.from_numpy(image[:, start * 64 : (start + 10) * 64].reshape(64, 10, 64, 3).transpose(1, 3, 0, 2).copy())
    assert torch.allclose(item[0], expected.float() / 255)


def test_mirrors_are_mirrored_and_split_the_same_way(data, root):
    rows = [line.split(",") for line in (root / "labels.csv").read_text().splitlines()[1:]]
    mirror, original = next((r[0], r[3]) for r in rows if r[3])
    a, b = clip_frames(data, original).float(), clip_frames(data, mirror).float()
    assert a.shape == b.shape
    assert (a - b.flip(2)).abs().mean() < 8  # left-right mirror up to JPEG noise
    assert (a - b).abs().mean() > (a - b.flip(2)).abs().mean()


def test_deterministic_and_seeded(root, data):
    again = Weizmann(root)
    for split in ("train", "test"):
        assert torch.equal(again.split(split).index, data.split(split).index)
    x1, y1 = data.split("train")[17]
    x2, y2 = again.split("train")[17]
    assert torch.equal(x1, x2) and torch.allclose(y1, y2, equal_nan=True)
    other = Weizmann(root, seed=1)
    assert not torch.equal(other.split("train").index, data.split("train").index)
    assert torch.equal(other.split("test").index, data.split("test").index)


def test_options(root):
    small = Weizmann(root, include_mirrors=False, test_clips="first", length=8, clips_per_video=5, size=32)
    assert len(small.store.names) == 36 and small.excluded_mirrors == 36
    assert len(small.split("train")) == 36 * 5 and len(small.split("test")) == 36
    frames, _ = small.split("test")[0]
    assert frames.shape == (8, 3, 32, 32)
    with pytest.raises(ConfigError, match="length"):
        Weizmann(root, length=0)
    with pytest.raises(ConfigError, match="no field"):
        Weizmann(root, lenght=10)
    with pytest.raises(DataError, match="splits train, test"):
        small.split("val")


def test_too_short_clip_is_an_error_or_skipped(root):
    with pytest.raises(DataError, match=r"both parts need at least length=30"):
        Weizmann(root, length=30)
    skipping = Weizmann(root, length=30, skip_bad=True)
    assert skipping.skipped and len(skipping.skipped) + len(skipping.store.names) == 72
    assert all("length=30" in reason for _, reason in skipping.skipped)
    assert f"skipped {len(skipping.skipped)} clip(s)" in skipping.describe()


def test_bad_layouts(tmp_path, root):
    with pytest.raises(DataError, match="does not exist"):
        Weizmann(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no clips/ folder"):
        Weizmann(tmp_path)
    copy = tmp_path / "w"
    (copy / "clips").mkdir(parents=True)
    lines = (root / "labels.csv").read_text().splitlines()
    for name in ("00000000", "00000001"):
        shutil.copy(root / "clips" / f"{name}.jpg", copy / "clips")
    (copy / "labels.csv").write_text("\n".join(lines[:3]) + "\n")
    assert len(Weizmann(copy).store.names) == 2
    (copy / "labels.csv").write_text("\n".join(lines[:4]) + "\n")
    with pytest.raises(DataError, match=r"clip file .*00000002\.jpg .*line 4.* not found"):
        Weizmann(copy)
    assert Weizmann(copy, skip_bad=True).skipped[0][0] == "00000002"
    (copy / "labels.csv").write_text(lines[0].replace("performer", "person") + "\n" + "\n".join(lines[1:3]) + "\n")
    with pytest.raises(DataError, match="no column.*performer"):
        Weizmann(copy)
    (copy / "labels.csv").write_text("\n".join(lines[:2]) + "\n" + lines[2].replace(",59", ",60") + "\n")
    with pytest.raises(DataError, match="line 3.*60 frames but its original"):
        Weizmann(copy)
    (copy / "labels.csv").write_text("\n".join(lines[:2]) + "\n")
    (copy / "clips" / "00000000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"cannot read image .*00000000\.jpg"):
        Weizmann(copy)
