"""The ``chair-cad``, ``yfcc-flickr`` and ``folder`` data set plugins on small files written here.

Each test writes a miniature of the real layout into ``tmp_path``: Chair CAD renders
(``rendered_chairs/<chair>/renders/image_NNN_pPPP_tTTT_rRRR.png``), VGAN-style
vertical JPEG strips (``<category>/**/*.jpg``), and user folders (image strips,
frame folders, GIF/MP4 videos and a labels CSV). Frames carry their index in
their colour so that order and direction can be checked.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from videovae.core.errors import ConfigError, DataError
from videovae.plugins.datasets import chair_cad
from videovae.plugins.datasets.chair_cad import ChairCAD
from videovae.plugins.datasets.flickr import FlickrScenes
from videovae.plugins.datasets.folder import FolderClips

# --- helpers ----------------------------------------------------------------------------

AZIMUTHS = [round(i * 360 / 31) for i in range(31)]
ELEVATIONS = (20, 30)


def write_chairs(root, names=("chair_a", "chair_b", "chair_c"), rgba=("chair_c",), size=48):
    """Renders of coloured rectangles: red = 10 + 7·azimuth index, green = 60 + 100·elevation index."""
    for name in names:
        renders = root / "rendered_chairs" / name / "renders"
        renders.mkdir(parents=True)
        n = 0
        for p_index, p in enumerate(ELEVATIONS):
            for t_index, t in enumerate(AZIMUTHS):
                colour = (10 + 7 * t_index, 60 + 100 * p_index, 200)
                if name in rgba:
                    image = np.zeros((size, size, 4), np.uint8)  # transparent (black) background
                    image[10:38, 14:34] = (*colour, 255)
                else:
                    image = np.full((size, size, 3), 255, np.uint8)
                    image[10:38, 14:34] = colour
                Image.fromarray(image).save(renders / f"image_{n:03d}_p{p:03d}_t{t:03d}_r096.png")
                n += 1
    return root


def centre(frames):
    """Centre pixel of frames [T, 3, H, W] in 0..255, as [T, 3]."""
    h, w = frames.shape[-2:]
    return (frames[:, :, h // 2, w // 2] * 255).round()


def strip(count, size=16, axis="horizontal", start=0):
    """A strip of ``count`` flat grey frames; frame k has grey level 10·(k + start) + 5 (mod 256)."""
    frames = [np.full((size, size, 3), (10 * (k + start) + 5) % 256, np.uint8) for k in range(count)]
    return np.concatenate(frames, axis=1 if axis == "horizontal" else 0)


def grey(frames):
    return (frames.mean(dim=(1, 2, 3)) * 255).round()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOVAE_CACHE", str(tmp_path / "cache"))


# --- Chair CAD ----------------------------------------------------------------------------


@pytest.fixture
def chairs(tmp_path):
    return write_chairs(tmp_path / "chairs")


def test_chair_cad_sequences_labels_and_split(chairs):
    data = ChairCAD(chairs, size=16)
    assert data.chairs == ["chair_a", "chair_b", "chair_c"]
    assert data.attributes.names == ("chair", "tilt", "rotation")
    assert data.attributes.spec("tilt").values == ("20deg", "30deg")
    assert data.attributes.spec("rotation").values == ("ccw", "cw")
    assert data.frame_shape == (3, 16, 16)
    train, test = data.split("train"), data.split("test")
    assert len(train) == 9 and len(test) == 3
    assert torch.bincount(train.clip_ids, minlength=3).tolist() == [3, 3, 3]
    assert torch.bincount(test.clip_ids, minlength=3).tolist() == [1, 1, 1]
    every = torch.cat([data.label_rows("train"), data.label_rows("test")])
    assert sorted(map(tuple, every.tolist())) == [(c, t, r) for c in (0.0, 1.0, 2.0) for t in (0.0, 1.0) for r in (0.0, 1.0)]
    for items in (train, test):
        for i in range(len(items)):
            frames, labels = items[i]
            assert frames.shape == (16, 3, 16, 16) and labels.shape == (16, 3)
            chair, tilt, rotation = (int(v) for v in labels[0])
            pixel = centre(frames)
            step = 1 if rotation == 0 else -1  # ccw: azimuth 15..30, cw: 15..0
            assert pixel[:, 0].tolist() == [10 + 7 * (15 + step * k) for k in range(16)]
            assert (pixel[:, 1] == 60 + 100 * tilt).all()
    assert "3 chairs" in data.describe() and "only 3 chair folders found, 809 asked for" in data.describe()


def test_chair_cad_crop_with_border(chairs):
    data = ChairCAD(chairs, size=32, border=0.1)
    for chair in range(3):  # RGB on white and RGBA on transparent give the same frames
        frames = data.store.frames[data.store.offsets[chair]]
        assert (frames[0, :, :].float().mean() > 230) and (frames[:, 0].float().mean() > 230)  # white border
        rows = np.nonzero((frames.numpy() < 230).any(axis=(1, 2)))[0]
        assert 0 < rows[0] <= 3 and 28 <= rows[-1] < 31  # the 28-px-high object spans the crop minus the border
    a, c = data.store.frames[:62].float(), data.store.frames[124:].float()
    assert (a - c).abs().max() <= 2


def test_chair_cad_num_chairs_seed_cache_and_options(chairs, tmp_path, monkeypatch):
    two = ChairCAD(chairs, num_chairs=2, size=16)
    assert two.chairs == ["chair_a", "chair_b"] and "only" not in two.describe()
    assert ChairCAD(chairs / "rendered_chairs", num_chairs=2, size=16).chairs == ["chair_a", "chair_b"]
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len([p for p in cached if p.endswith(".npy")]) == 1 and not [p for p in cached if p.endswith(".tmp")]

    def boom(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as patch:
        patch.setattr(chair_cad, "preprocess_chair", boom)
        again = ChairCAD(chairs, num_chairs=2, size=16)
        assert torch.equal(again.store.frames, two.store.frames)
        assert torch.equal(again.split("test").index, two.split("test").index)
        with pytest.raises(AssertionError, match="cache"):
            ChairCAD(chairs, num_chairs=2, size=16, border=0.2)  # other options, other cache entry
    uncached = ChairCAD(chairs, num_chairs=2, size=16, cache=False)
    assert torch.equal(uncached.store.frames, two.store.frames) and uncached.cache_path is None

    seeds = {tuple(ChairCAD(chairs, size=16, seed=s).split("test").index[:, 0].tolist()) for s in range(6)}
    assert len(seeds) > 1
    assert ChairCAD(chairs, size=16, length=8).split("train")[0][0].shape == (8, 3, 16, 16)
    with pytest.raises(ConfigError, match="length must be at most 16"):
        ChairCAD(chairs, length=17)
    with pytest.raises(ConfigError, match="num_chairs"):
        ChairCAD(chairs, num_chairs=0)


def test_chair_cad_bad_input(chairs, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ChairCAD(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no chair folders with renders/; expected <root>/rendered_chairs"):
        ChairCAD(tmp_path / "empty")
    renders = chairs / "rendered_chairs" / "chair_b" / "renders"
    victim = sorted(renders.iterdir())[5]
    victim.unlink()
    with pytest.raises(DataError, match=r"chair_b/renders has 61 renders \(2 elevations x 31 azimuths\); expected 2 x 31"):
        ChairCAD(chairs, size=16)
    skipping = ChairCAD(chairs, size=16, skip_bad=True)
    assert skipping.chairs == ["chair_a", "chair_c"] and [s[0] for s in skipping.skipped] == ["chair_b"]
    assert "skipped 1 clip(s) (chair_b" in skipping.describe()
    victim.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match=rf"cannot read image .*{victim.name}"):
        ChairCAD(chairs, size=16)


# --- YFCC / MIT Flickr (VGAN strips) --------------------------------------------------------


@pytest.fixture
def flickr(tmp_path):
    root = tmp_path / "flickr"
    for c, category in enumerate(("beach", "golf")):
        for k in range(3):
            folder = root / category / f"{k % 2}" / "sub"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(strip(8, size=32, axis="vertical", start=c)).save(folder / f"clip{k}.jpg", quality=95)
    return root


def test_flickr_items_labels_and_split(flickr):
    data = FlickrScenes(flickr, length=8, size=16)
    assert data.attributes.names == ("scene",) and data.attributes.spec("scene").values == ("beach", "golf")
    train, test = data.split("train"), data.split("test")
    assert len(train) == 4 and len(test) == 2  # 10% of 3 rounds to 0: one test clip per category
    assert sorted(data.label_rows("test")[:, 0].tolist()) == [0.0, 1.0]
    assert not set(train.clip_name(i) for i in range(4)) & set(test.clip_name(i) for i in range(2))
    frames, labels = train[0]
    assert frames.shape == (8, 3, 16, 16) and labels.shape == (8, 1)
    scene = int(labels[0, 0])
    assert torch.allclose(grey(frames), torch.tensor([10.0 * (k + scene) + 5 for k in range(8)]), atol=3)
    assert "6 clips (beach 3, golf 3)" in data.describe()
    again = FlickrScenes(flickr, length=8, size=16)
    assert [again.split("test").clip_name(i) for i in range(2)] == [test.clip_name(i) for i in range(2)]
    lazy = FlickrScenes(flickr, length=8, size=16, in_memory=False)
    assert len(lazy.split("train")) == 4
    assert torch.allclose(lazy.split("test")[1][0], test[1][0]) and torch.equal(lazy.label_rows("test"), data.label_rows("test"))


def test_flickr_options_and_full_size_clip(flickr, tmp_path):
    golf = FlickrScenes(flickr, categories="golf", length=4, size=8, test_fraction=0.0)
    assert golf.attributes.spec("scene").values == ("golf",)
    assert len(golf.split("train")) == 3 and len(golf.split("test")) == 0
    assert golf.split("train")[0][0].shape == (4, 3, 8, 8)
    assert len(FlickrScenes(flickr, length=8, max_clips=2).split("train")) == 2
    real = tmp_path / "vgan" / "beach"
    real.mkdir(parents=True)
    Image.fromarray(strip(32, size=128, axis="vertical")).save(real / "0001.jpg")  # 128 x 4096, the VGAN size
    data = FlickrScenes(tmp_path / "vgan")
    assert len(data.split("train")) == 1 and data.split("train")[0][0].shape == (32, 3, 64, 64)
    with pytest.raises(ConfigError, match="test_fraction"):
        FlickrScenes(flickr, test_fraction=1.5)


def test_flickr_bad_input(flickr, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        FlickrScenes(tmp_path / "nope")
    (tmp_path / "bare").mkdir()
    with pytest.raises(DataError, match="no category folders"):
        FlickrScenes(tmp_path / "bare")
    with pytest.raises(DataError, match=r"no category folder forest in .*; found: beach, golf"):
        FlickrScenes(flickr, categories=("beach", "forest"))
    (flickr / "city").mkdir()
    with pytest.raises(DataError, match=r"category folder .*city holds no \.jpg clips"):
        FlickrScenes(flickr)
    assert len(FlickrScenes(flickr, categories=["beach", "golf"], length=8).split("train")) == 4
    with pytest.raises(DataError, match=r"clip .*clip0\.jpg has 8 frames; expected at least length=32"):
        FlickrScenes(flickr, categories=["beach"])
    Image.fromarray(strip(8, size=32, axis="horizontal")).save(flickr / "golf" / "wide.jpg")
    with pytest.raises(DataError, match=r"wide\.jpg is 256x32 px; expected it high a whole multiple of its width"):
        FlickrScenes(flickr, categories=["golf"], length=8)
    skipping = FlickrScenes(flickr, categories=["golf"], length=8, skip_bad=True)
    assert [s[0] for s in skipping.skipped] == ["golf/wide.jpg"] and len(skipping.store.names) == 3
    (flickr / "golf" / "wide.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DataError, match=r"cannot read image .*wide\.jpg"):
        FlickrScenes(flickr, categories=["golf"], length=8)


# --- user folders -------------------------------------------------------------------------


def write_folder(root, labels="clip,action,angle,split\na,walk,0,train\nb,run,90,train\nc,,180,test\nd,walk,,train\n"):
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip(12)).save(root / "a.png")  # horizontal strip
    (root / "b").mkdir()
    for k in range(12):  # f1..f12: natural order (f2 before f10)
        Image.fromarray(np.full((20, 16, 3), 10 * k + 5, np.uint8)).save(root / "b" / f"f{k + 1}.png")
    frames = [Image.fromarray(np.full((16, 16, 3), 10 * k + 5, np.uint8)) for k in range(12)]
    frames[0].save(root / "c.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    Image.fromarray(strip(12, axis="horizontal", start=2)).save(root / "d.png")
    if labels is not None:
        (root / "labels.csv").write_text(labels)
    return root


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "mine")


def test_folder_clips_labels_and_split(folder):
    data = FolderClips(folder, length=6, size=8, clips_per_video=3, continuous=("angle",))
    action, angle = data.attributes.specs
    assert action.values == ("run", "walk") and angle.kind == "continuous" and (angle.low, angle.high) == (0.0, 180.0)
    train, test = data.split("train"), data.split("test")
    assert len(train) == 9 and len(test) == 2  # c (test): windows 0..5 and 6..11
    assert {test.clip_name(i) for i in range(len(test))} == {"c"}
    assert test.frame_positions(1).tolist() == list(range(6, 12))
    for items in (train, test):
        for i in range(len(items)):
            frames, labels = items[i]
            assert frames.shape == (6, 3, 8, 8)
            pos = items.frame_positions(i).float()
            offset = 2 if items.clip_name(i) == "d" else 0
            assert torch.allclose(grey(frames), 10 * (pos + offset) + 5, atol=1), items.clip_name(i)
    rows = {train.clip_name(i): data.label_rows("train")[i] for i in range(len(train))}
    assert rows["a"].tolist() == [1.0, 0.0] and rows["b"].tolist() == [0.0, 90.0]
    assert rows["d"][0] == 1.0 and math.isnan(float(rows["d"][1]))
    assert math.isnan(float(data.label_rows("test")[0, 0]))
    assert not data.skipped and "4 clips" in data.describe()
    first = FolderClips(folder, length=6, test_clips="first", continuous="angle", ranges={"angle": (0, 360)}, periodic=("angle",))
    assert len(first.split("test")) == 1 and first.attributes.spec("angle").high == 360.0
    assert first.attributes.spec("angle").periodic
    categorical = FolderClips(folder, length=6)
    assert categorical.attributes.spec("angle").values == ("0", "90", "180")


def test_folder_names_its_evaluation_and_motion_attributes(folder):
    from videovae.engine.evaluation.protocol import evaluation_attributes

    data = FolderClips(folder, length=6, size=8, continuous=("angle",), evaluation_attributes="action",
                       motion_attributes=("action",))
    assert data.evaluation_attributes == ("action",) and data.motion_attributes == ("action",)
    assert evaluation_attributes(data) == ("action",)
    assert FolderClips(folder, length=6, size=8).evaluation_attributes == ()
    with pytest.raises(DataError, match="option evaluation_attributes names column\\(s\\) speed that .* attribute columns: action, angle"):
        FolderClips(folder, length=6, size=8, evaluation_attributes=("speed",))
    with pytest.raises(DataError, match="evaluation_attributes must be categorical columns .*; angle is continuous"):
        FolderClips(folder, length=6, size=8, continuous=("angle",), evaluation_attributes=("angle",))


def test_folder_seeded_split_unlabelled_and_video(folder, tmp_path):
    (folder / "labels.csv").write_text("clip,action\na,walk\nb,run\nc,walk\nd,run\n")
    data = FolderClips(folder, length=4, test_fraction=0.25)
    assert len({data.split("test").clip_name(i) for i in range(len(data.split("test")))}) == 1
    same = FolderClips(folder, length=4, test_fraction=0.25)
    assert torch.equal(same.split("train").index, data.split("train").index)
    (folder / "labels.csv").unlink()
    bare = FolderClips(folder, length=4, test_fraction=0.25)
    assert len(bare.attributes) == 0 and len(bare.store.names) == 4 and bare.split("train")[0][1].shape == (4, 0)
    vertical = tmp_path / "vertical"
    vertical.mkdir()
    Image.fromarray(strip(5, axis="vertical")).save(vertical / "v.jpg", quality=95)
    v = FolderClips(vertical, strip_axis="vertical", length=5, test_fraction=0.0, size=16)
    assert torch.allclose(grey(v.split("train")[0][0]), torch.tensor([10.0 * k + 5 for k in range(5)]), atol=3)
    av = pytest.importorskip("av", reason="PyAV not installed: MP4 reading untested")
    movies = tmp_path / "movies"
    movies.mkdir()
    with av.open(str(movies / "m.mp4"), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for k in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * k + 20, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    (movies / "labels.csv").write_text("clip,scene\nm,lab\n")
    movie = FolderClips(movies, length=10, size=16, test_fraction=0.0)
    levels = grey(movie.split("train")[0][0])
    assert (levels[1:] > levels[:-1]).all() and abs(float(levels[0]) - 20) < 8


def test_folder_video_without_pyav(folder, monkeypatch):
    (folder / "labels.csv").write_text("clip,action\nc,walk\n")
    (folder / "c.gif").rename(folder / "c.mp4")
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(DataError, match=r"reading video .*c\.mp4 needs PyAV: pip install av"):
        FolderClips(folder, length=4)


def test_folder_bad_input(folder, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        FolderClips(tmp_path / "nope")
    (tmp_path / "void").mkdir()
    with pytest.raises(DataError, match="holds no clips and no labels.csv"):
        FolderClips(tmp_path / "void")
    with pytest.raises(DataError, match=r"labels file .*other\.csv does not exist"):
        FolderClips(folder, labels="other.csv")

    def bad(text, match, **options):
        (folder / "labels.csv").write_text(text)
        with pytest.raises(DataError, match=match) as info:
            FolderClips(folder, **{"length": 6, **options})
        assert "\n" not in str(info.value)

    bad("name,action\na,walk\n", r"labels\.csv has no column\(s\) clip; expected columns clip \(found: name, action\)")
    bad("clip,action\na,walk\nzz,run\n", r"clip 'zz' \(.*labels\.csv line 3\) not found in")
    bad("clip,action\na,walk\na,run\n", r"line 3 repeats clip 'a' \(first on line 2\)")
    bad("clip,action\na,walk,extra\n", r"line 2 has 3 cells; expected 2")
    bad("clip,action,split\na,walk,val\n", r"line 2: split must be train or test, got 'val'")
    bad("clip,angle\na,north\n", r"line 2, column 'angle': expected a number, got 'north'", continuous=("angle",))
    bad("clip,angle\na,400\n", r"line 2, column 'angle': 400 is outside the range \[0, 360\]", continuous=("angle",), ranges={"angle": (0, 360)})
    bad("clip,action\na,walk=fast\n", r"line 2, column 'action': value 'walk=fast' contains '='")
    bad("clip,action,notes\na,walk,\n", r"column 'notes' of .*labels\.csv has no values")
    bad("clip,my action\na,walk\n", r"column 'my action' .* cannot be an attribute: attribute name must be an identifier")
    bad("clip,action\na,walk\n", r"option continuous names column\(s\) speed that .* does not have", continuous=("speed",))
    bad("clip,action\na,walk\n", r"clip .*a\.png has 12 frames; expected at least length=20", length=20)
    (folder / "labels.csv").write_text("clip,action\na,walk\nb,run\n")
    skipping = FolderClips(folder, length=6)
    assert sorted(s[0] for s in skipping.skipped) == ["c", "d"]  # present but not listed: reported, not dropped silently
    assert "skipped 2 clip(s)" in skipping.describe() and "not listed in" in skipping.skipped[0][1]
    Image.fromarray(np.zeros((16, 40, 3), np.uint8)).save(folder / "a.png")
    bad("clip,action\na,walk\nb,run\n", r"image strip .*a\.png is 40x16 px; expected it wide a whole multiple of its height")
    (folder / "a.png").write_bytes(b"garbage")
    bad("clip,action\na,walk\nb,run\n", r"cannot read image .*a\.png")
    (folder / "labels.csv").write_text("clip,action\na,walk\nb,run\n")
    partial = FolderClips(folder, length=6, skip_bad=True)
    assert partial.store.names == ["b"] and ("a" in dict(partial.skipped)) and "cannot read image" in dict(partial.skipped)["a"]
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "b" / "f99.png")
    bad("clip,action\nb,run\n", r"frame .*f99\.png is 8x8 px; the clip's first frame f1\.png is 16x20")
    (folder / "a.png").unlink()
    (folder / "a").mkdir()
    bad("clip,action\na,walk\n", r"clip folder .*mine/a holds no frame images")
    Image.fromarray(strip(12)).save(folder / "a.png")
    bad("clip,action\na,walk\n", r"clip 'a' is ambiguous: a, a\.png")
    with pytest.raises(ConfigError, match="strip_axis must be one of horizontal, vertical"):
        FolderClips(folder, strip_axis="diagonal")
