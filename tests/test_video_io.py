"""Tests for videovae.io.video: GIF / PNG grid / MP4 writers."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image, ImageSequence

from videovae.io import video as vio
from videovae.io.atomic import atomic_path
from videovae.io import (
    VideoWriterUnavailable,
    available_formats,
    save_gif,
    save_grid_png,
    save_mp4,
    save_video,
    to_uint8_frames,
)

COLORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.5, 0.5, 0.5]])


def solid_video(t=4, h=8, w=10, offset=0):
    """[T,3,H,W] float video whose frame i is the solid colour COLORS[(i + offset) % 5]."""
    cols = COLORS[(np.arange(t) + offset) % len(COLORS)]
    return np.broadcast_to(cols[:, :, None, None], (t, 3, h, w)).astype(np.float32).copy()


def av_or_skip():
    return pytest.importorskip("av", reason="PyAV (`pip install av`) is not installed; MP4 output untestable")


# --- to_uint8_frames ------------------------------------------------------


def test_to_uint8_frames_numpy_clips_rounds_and_expands_gray():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 7.0], dtype=np.float64).reshape(5, 1, 1, 1)
    out = to_uint8_frames(x)
    assert out.dtype == np.uint8 and out.shape == (5, 1, 1, 3)
    assert out[:, 0, 0, 0].tolist() == [0, 0, 128, 255, 255]
    assert (out[..., 0] == out[..., 2]).all()


def test_to_uint8_frames_torch_layout():
    torch = pytest.importorskip("torch")
    x = torch.zeros(2, 3, 4, 5, requires_grad=True)
    with torch.no_grad():
        y = x.clone()
        y[:, 1] = 1.0  # green channel
    out = to_uint8_frames(y.to(torch.bfloat16))
    assert out.shape == (2, 4, 5, 3)
    assert (out[..., 1] == 255).all() and (out[..., [0, 2]] == 0).all()
    assert to_uint8_frames(x).shape == (2, 4, 5, 3)  # requires_grad tensors are fine


# --- GIF ------------------------------------------------------------------


def test_gif_round_trip(tmp_path):
    path = save_gif(solid_video(t=4, h=8, w=10), tmp_path / "sub" / "a.gif", fps=10)
    assert path == tmp_path / "sub" / "a.gif"
    with Image.open(path) as im:
        assert im.format == "GIF" and im.size == (10, 8)
        assert im.n_frames == 4
        assert im.info.get("loop") == 0
        frames = [np.asarray(f.convert("RGB"), dtype=int) for f in ImageSequence.Iterator(im)]
        assert im.info.get("duration") == 100
    for i, frame in enumerate(frames):
        assert np.abs(frame - COLORS[i] * 255).max() <= 8, f"frame {i}"


def test_gif_batch_tiled_with_white_gap(tmp_path):
    batch = np.stack([solid_video(t=3, offset=0), solid_video(t=3, offset=2)])  # [2,3,3,8,10]
    path = save_gif(batch, tmp_path / "b.gif")
    with Image.open(path) as im:
        assert im.size == (2 * 10 + 2, 8) and im.n_frames == 3
        first = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(first[:, :10] - COLORS[0] * 255).max() <= 8
    assert (first[:, 10:12] >= 247).all()  # the white gap
    assert np.abs(first[:, 12:] - COLORS[2] * 255).max() <= 8


def test_gif_bytes_are_the_file_save_gif_writes_and_bad_input_writes_nothing(tmp_path):
    batch = np.stack([solid_video(t=3, offset=0), solid_video(t=3, offset=2)])
    assert vio.gif_bytes(batch, fps=5) == save_gif(batch, tmp_path / "b.gif", fps=5).read_bytes()
    with pytest.raises(ValueError, match="fps"):
        save_gif(batch, tmp_path / "new" / "c.gif", fps=0)
    assert not (tmp_path / "new").exists()  # refused before the folder or a temporary file was made


# --- PNG grid -------------------------------------------------------------


def test_png_grid_dimensions_and_layout(tmp_path):
    b, t, h, w, gap = 3, 5, 8, 6, 2
    videos = np.stack([solid_video(t=t, h=h, w=w, offset=i) for i in range(b)])
    path = save_grid_png(videos, tmp_path / "grid.png", gap=gap)
    grid = np.asarray(Image.open(path).convert("RGB"))
    assert grid.shape == (b * h + (b - 1) * gap, t * w + (t - 1) * gap, 3)
    for i in range(b):
        for j in range(t):
            cell = grid[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w]
            assert (cell == np.rint(COLORS[(i + j) % 5] * 255)).all()
    assert (grid[h:h + gap] == 255).all() and (grid[:, w:w + gap] == 255).all()


def test_png_grid_labels_widen_image(tmp_path):
    videos = np.stack([solid_video(t=5, h=16, w=16, offset=i) for i in range(3)])
    plain = np.asarray(Image.open(save_grid_png(videos, tmp_path / "p.png")).convert("RGB"))
    labelled = np.asarray(Image.open(
        save_grid_png(videos, tmp_path / "l.png", row_labels=["ground truth", "recon", "sample #3"])).convert("RGB"))
    assert labelled.shape[0] == plain.shape[0] and labelled.shape[1] > plain.shape[1]
    margin = labelled.shape[1] - plain.shape[1]
    assert (labelled[:, margin:] == plain).all()  # frames shifted right, unchanged
    assert (labelled[:, :margin] < 128).any()  # some text was drawn


def test_png_grid_label_count_mismatch(tmp_path):
    with pytest.raises(ValueError, match="row_labels"):
        save_grid_png(np.zeros((2, 1, 3, 4, 4)), tmp_path / "x.png", row_labels=["only one"])
    assert not (tmp_path / "x.png").exists()


# --- MP4 ------------------------------------------------------------------


def _decode(path):
    av = av_or_skip()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return stream.codec_context.name, frames


def test_mp4_round_trip_pads_to_even(tmp_path):
    av_or_skip()
    video = solid_video(t=6, h=15, w=21)
    path = save_mp4(video, tmp_path / "v.mp4", fps=12)
    codec, frames = _decode(path)
    assert codec == "h264" and len(frames) == 6
    assert frames[0].shape == (16, 22, 3)
    assert np.abs(frames[0][4:12, 4:16].astype(int) - COLORS[0] * 255).mean() < 12


def test_mp4_batch_tiling(tmp_path):
    av_or_skip()
    batch = np.stack([solid_video(t=3, h=16, w=16, offset=i) for i in range(2)])
    _, frames = _decode(save_mp4(batch, tmp_path / "b.mp4"))
    assert len(frames) == 3 and frames[0].shape == (16, 2 * 16 + 2, 3)


def test_mp4_unavailable_without_av(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(VideoWriterUnavailable, match="pip install av") as info:
        save_mp4(solid_video(), tmp_path / "v.mp4")
    assert isinstance(info.value, RuntimeError) and "\n" not in str(info.value)
    assert available_formats() == ("gif", "png")
    assert list(tmp_path.iterdir()) == []


def test_available_formats():
    try:
        import av  # noqa: F401
    except ImportError:
        assert available_formats() == ("gif", "png")
    else:
        assert available_formats() == ("gif", "png", "mp4")


# --- dispatch -------------------------------------------------------------


def test_save_video_dispatch(tmp_path):
    v = solid_video(t=2)
    with Image.open(save_video(v, tmp_path / "a.GIF")) as im:
        assert im.format == "GIF" and im.n_frames == 2
    with Image.open(save_video(v[None], tmp_path / "a.png")) as im:
        assert im.format == "PNG" and im.size == (2 * 10 + 2, 8)
    if "mp4" in available_formats():
        assert len(_decode(save_video(v, tmp_path / "a.mp4"))[1]) == 2
    with pytest.raises(ValueError, match=r"\.gif, \.png, \.mp4") as info:
        save_video(v, tmp_path / "a.avi")
    assert "\n" not in str(info.value)


# --- atomicity ------------------------------------------------------------


def _failing_pil_save(self, fp, *args, **kwargs):
    with open(fp, "wb") as f:
        f.write(b"partial garbage")
    raise OSError("simulated encoder failure")


@pytest.mark.parametrize("name, writer", [("out.gif", save_gif), ("out.png", save_grid_png)])
def test_failed_write_keeps_existing_file(tmp_path, monkeypatch, name, writer):
    target = tmp_path / name
    target.write_bytes(b"original bytes")
    monkeypatch.setattr(Image.Image, "save", _failing_pil_save)
    with pytest.raises(OSError, match="simulated"):
        writer(solid_video()[None], target)
    assert target.read_bytes() == b"original bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_failed_mp4_write_keeps_existing_file(tmp_path, monkeypatch):
    av = av_or_skip()
    target = tmp_path / "out.mp4"
    target.write_bytes(b"original bytes")
    real = av.VideoFrame.from_ndarray
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # fail mid-stream, after the container file exists
            raise RuntimeError("simulated encoder failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(av.VideoFrame, "from_ndarray", flaky)
    with pytest.raises(RuntimeError, match="simulated"):
        save_mp4(solid_video(t=5), target)
    assert target.read_bytes() == b"original bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_successful_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.gif"
    target.write_bytes(b"old")
    save_gif(solid_video(), target)
    assert target.read_bytes()[:6] == b"GIF89a"
    assert [p.name for p in tmp_path.iterdir()] == ["out.gif"]


# --- bad input ------------------------------------------------------------


def _nan_video():
    v = solid_video()
    v[1, 0, 2, 3] = np.nan
    return v


def _inf_video():
    v = solid_video()
    v[0, 2, 0, 0] = -np.inf
    return v


BAD_INPUTS = {
    "ndim3": (lambda: np.zeros((4, 8, 10)), "ndim 3"),
    "ndim6": (lambda: np.zeros((1, 1, 4, 3, 8, 10)), "ndim 6"),
    "channels2": (lambda: np.zeros((4, 2, 8, 10)), "C=2"),
    "channels4": (lambda: np.zeros((4, 4, 8, 10)), "C=4"),
    "empty_T": (lambda: np.zeros((0, 3, 8, 10)), "non-empty"),
    "empty_batch": (lambda: np.zeros((0, 4, 3, 8, 10)), "non-empty batch"),
    "nan": (_nan_video, "1 non-finite"),
    "inf": (_inf_video, "1 non-finite"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("suffix", [".gif", ".png", ".mp4"])
def test_bad_input_raises_one_line_value_error(tmp_path, case, suffix):
    if suffix == ".mp4":
        av_or_skip()
    make, fragment = BAD_INPUTS[case]
    with pytest.raises(ValueError) as info:
        save_video(make(), tmp_path / f"bad{suffix}")
    msg = str(info.value)
    assert fragment in msg and "expected" in msg and "received" in msg and "\n" not in msg
    assert not (tmp_path / f"bad{suffix}").exists()


def test_to_uint8_frames_rejects_batch():
    with pytest.raises(ValueError, match=r"expected .*\[T,C,H,W\].*received shape \(2, 4, 3, 8, 10\)"):
        to_uint8_frames(np.zeros((2, 4, 3, 8, 10)))


@pytest.mark.parametrize("fps", [0, -1, float("nan")])
def test_bad_fps(tmp_path, fps):
    with pytest.raises(ValueError, match="fps"):
        save_gif(solid_video(), tmp_path / "a.gif", fps=fps)


def test_temp_name_keeps_suffix(tmp_path):
    with atomic_path(tmp_path / "x.mp4") as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"ok")
    assert (tmp_path / "x.mp4").read_bytes() == b"ok"
