"""``--first-frame`` from an image, an image strip, a folder of frames or a video file, of any size: the
first frame of a clip is used and a frame of another size is centre-cropped and resized, with one logged
line."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from videovae.core.errors import DataError
from videovae.engine.first_frame import read_first_frame

SHAPE = (3, 32, 32)


def flat(value, height=32, width=32):
    return np.full((height, width, 3), value, np.uint8)


def level(frame):
    """The mean grey level of a frame [C, H, W] in 0..255."""
    return float(frame.mean()) * 255


def read(path, caplog, shape=SHAPE):
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="videovae"):
        frame = read_first_frame(path, shape)
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) <= 1, notes
    return frame, (notes[0] if notes else "")


def test_an_image_of_the_models_size_is_read_as_it_is(tmp_path, caplog):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "frame.png")
    frame, note = read(tmp_path / "frame.png", caplog)
    assert frame.shape == SHAPE and frame.dtype == torch.float32 and note == ""
    assert torch.equal(frame, torch.from_numpy(image).permute(2, 0, 1).float() / 255)


def test_an_image_of_another_size_is_centre_cropped_and_resized(tmp_path, caplog):
    image = flat(0, 96, 64)  # 64 wide, 96 high: the centred 64x64 square is rows 16..79
    image[16:80] = 200
    Image.fromarray(image).save(tmp_path / "tall.jpg", quality=95)
    frame, note = read(tmp_path / "tall.jpg", caplog)
    assert frame.shape == SHAPE and abs(level(frame) - 200) < 3  # none of the black bands is left
    assert note == f"first frame: {tmp_path / 'tall.jpg'}; 64x96 px, centre-cropped to 64x64 and resized to the model's 32x32"
    Image.fromarray(flat(90, 16, 16)).save(tmp_path / "small.png")
    frame, note = read(tmp_path / "small.png", caplog)
    assert frame.shape == SHAPE and abs(level(frame) - 90) < 1 and note.endswith("16x16 px, resized to the model's 32x32")


@pytest.mark.parametrize("axis", ["horizontal", "vertical"])
def test_an_image_strip_gives_its_first_frame(tmp_path, caplog, axis):
    frames = [flat(10 + 40 * k, 16, 16) for k in range(5)]
    Image.fromarray(np.concatenate(frames, axis=1 if axis == "horizontal" else 0)).save(tmp_path / "strip.png")
    frame, note = read(tmp_path / "strip.png", caplog)
    assert frame.shape == SHAPE and abs(level(frame) - 10) < 1
    assert note == (f"first frame: frame 1 of the {axis} strip {tmp_path / 'strip.png'} (5 frames); "
                    "16x16 px, resized to the model's 32x32")


def test_a_folder_of_frames_gives_its_first_in_natural_order(tmp_path, caplog):
    clip = tmp_path / "clip"
    clip.mkdir()
    for k in (10, 2, 1, 3):  # f1 < f2 < f3 < f10
        Image.fromarray(flat(20 * k, 40, 40)).save(clip / f"f{k}.png")
    (clip / "notes.txt").write_text("not a frame")
    frame, note = read(clip, caplog)
    assert abs(level(frame) - 20) < 1
    assert note == f"first frame: f1.png, the first of 4 frames in {clip}; 40x40 px, resized to the model's 32x32"


def test_a_video_file_gives_its_first_frame(tmp_path, caplog):
    frames = [Image.fromarray(flat(30 + 50 * k, 48, 64)) for k in range(4)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    frame, note = read(tmp_path / "clip.gif", caplog)
    assert frame.shape == SHAPE and abs(level(frame) - 30) < 2
    assert note == (f"first frame: the first frame of the video {tmp_path / 'clip.gif'}; "
                    "64x48 px, centre-cropped to 48x48 and resized to the model's 32x32")
    av = pytest.importorskip("av", reason="PyAV not installed: MP4 reading untested")
    with av.open(str(tmp_path / "clip.mp4"), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k in range(4):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(flat(40 + 50 * k, 48, 64), format="rgb24")))
        container.mux(stream.encode())
    frame, note = read(tmp_path / "clip.mp4", caplog)
    assert frame.shape == SHAPE and abs(level(frame) - 40) < 8 and "the first frame of the video" in note


def test_a_grey_model_gets_one_channel(tmp_path, caplog):
    Image.fromarray(flat(120)).save(tmp_path / "frame.png")
    frame, _ = read(tmp_path / "frame.png", caplog, shape=(1, 32, 32))
    assert frame.shape == (1, 32, 32) and abs(level(frame) - 120) < 1


def test_bad_first_frames_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.png").write_bytes(b"garbage")
    cases = [(tmp_path / "none.png", r"first frame: .*none\.png does not exist; expected an image, an image strip"),
             (tmp_path / "empty", r"first frame: clip folder .*empty holds no frame images"),
             (tmp_path / "notes.txt", r"first frame: .*notes\.txt is not an image or a clip"),
             (tmp_path / "broken.png", r"first frame: cannot read image .*broken\.png")]
    for path, match in cases:
        with pytest.raises(DataError, match=match) as info:
            read_first_frame(path, SHAPE)
        assert "\n" not in str(info.value)
