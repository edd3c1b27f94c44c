"""The ``folder`` data set's frames in a memory-mapped cache file: written atomically, reused while the
clips are unchanged, rebuilt when they change, and usable from DataLoader worker processes."""

from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from videovae.core.errors import DataError
from videovae.engine.data import StepBatchSampler, training_loader
from videovae.plugins.datasets import folder as folder_module
from videovae.plugins.datasets import frame_cache
from videovae.plugins.datasets.folder import FolderClips
from videovae.plugins.datasets.frame_cache import MappedFrames


def write_clips(root, count=4, frames=8, size=16):
    """``count`` horizontal strips; frame k of clip c is flat grey 20·k + c + 5."""
    root.mkdir(parents=True, exist_ok=True)
    for c in range(count):
        strip = np.concatenate([np.full((size, size, 3), 20 * k + c + 5, np.uint8) for k in range(frames)], axis=1)
        Image.fromarray(strip).save(root / f"clip{c}.png")
    (root / "labels.csv").write_text("clip,kind\n" + "".join(f"clip{c},{'ab'[c % 2]}\n" for c in range(count)))
    return root


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOVAE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def clips(tmp_path):
    return write_clips(tmp_path / "clips")


def files(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def items(split):
    return [split[i] for i in range(len(split))]


def same_items(a, b):
    return len(a) == len(b) and all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(items(a), items(b)))


def no_reading(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the clips were read although the cache holds them")

    monkeypatch.setattr(folder_module, "read_clip", boom)


def test_frames_are_mapped_from_the_cache_and_reused_until_a_clip_changes(clips, cache, monkeypatch):
    data = FolderClips(clips, length=4, size=8, test_fraction=0.25)
    assert isinstance(data.store.frames, MappedFrames) and data.cache_path is not None
    assert [p for p in files(cache) if not p.startswith(".")] == sorted([data.cache_path.name, data.cache_path.with_suffix(".json").name])
    assert not [p for p in files(cache) if "tmp" in p]
    assert data.cache_path.stat().st_size == frame_cache.HEADER + 4 * 8 * 8 * 8 * 3
    memory = FolderClips(clips, length=4, size=8, test_fraction=0.25, cache=False)
    assert memory.cache_path is None and isinstance(memory.store.frames, torch.Tensor)
    for name in ("train", "test"):  # the same items, in memory or mapped
        assert same_items(data.split(name), memory.split(name))
    frames, labels = data.split("train")[0]
    assert frames.dtype == torch.float32 and frames.shape == (4, 3, 8, 8) and labels.shape == (4, 1)

    with monkeypatch.context() as patch:
        no_reading(patch)
        again = FolderClips(clips, length=4, size=8, test_fraction=0.25)
        assert again.cache_path == data.cache_path and same_items(again.split("train"), data.split("train"))
        with pytest.raises(AssertionError, match="were read"):
            FolderClips(clips, length=4, size=16, test_fraction=0.25)  # another size: another cache file
        stamp = os.stat(clips / "clip2.png").st_mtime_ns
        os.utime(clips / "clip2.png", ns=(stamp + 10**9, stamp + 10**9))
        with pytest.raises(AssertionError, match="were read"):
            FolderClips(clips, length=4, size=8, test_fraction=0.25)  # a touched source file
    rebuilt = FolderClips(clips, length=4, size=8, test_fraction=0.25)
    assert rebuilt.cache_path == data.cache_path and same_items(rebuilt.split("train"), data.split("train"))
    assert len([p for p in files(cache) if p.endswith(".u8")]) == 1  # replaced in place; the stopped loads left nothing


def test_an_interrupted_load_leaves_nothing_that_is_trusted(clips, cache, monkeypatch):
    real = folder_module.read_clip
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(folder_module, "read_clip", interrupted)
        with pytest.raises(KeyboardInterrupt):
            FolderClips(clips, length=4, size=8)
    assert files(cache) == []  # no half-written file, no temporary one
    data = FolderClips(clips, length=4, size=8)
    reference = FolderClips(clips, length=4, size=8, cache=False)
    assert same_items(data.split("train"), reference.split("train"))

    data.cache_path.write_bytes(data.cache_path.read_bytes()[:-10])  # a truncated file is not trusted
    calls.clear()
    with monkeypatch.context() as patch:
        patch.setattr(folder_module, "read_clip", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
        fixed = FolderClips(clips, length=4, size=8)
    assert len(calls) == 4 and same_items(fixed.split("train"), reference.split("train"))


def test_a_failed_write_is_one_line_and_keeps_no_file(clips, cache, monkeypatch):
    real_open = open

    class Full:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            self.written += 1
            if self.written > 2:
                raise OSError(28, "No space left on device")
            return self.handle.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    monkeypatch.setattr(frame_cache, "open", lambda *a, **k: Full(real_open(*a, **k)), raising=False)
    with pytest.raises(DataError, match=r"cannot write the frame cache .*No space left on device; .*VIDEOVAE_CACHE") as info:
        FolderClips(clips, length=4, size=8)
    assert "\n" not in str(info.value) and files(cache) == []


def test_an_unwritable_cache_keeps_the_frames_in_memory(clips, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("VIDEOVAE_CACHE", str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="videovae"):
        data = FolderClips(clips, length=4, size=8)
    assert data.cache_path is None and isinstance(data.store.frames, torch.Tensor) and len(data.split("train")) > 0
    assert "cannot be written; keeping the frames in memory" in caplog.text


def test_skipped_clips_are_remembered_by_the_cache(clips, cache, monkeypatch):
    (clips / "clip1.png").write_bytes(b"garbage")
    data = FolderClips(clips, length=4, size=8, skip_bad=True)
    with monkeypatch.context() as patch:
        no_reading(patch)
        again = FolderClips(clips, length=4, size=8, skip_bad=True)
    assert again.store.names == data.store.names == ["clip0", "clip2", "clip3"]
    assert again.skipped == data.skipped and "cannot read image" in dict(again.skipped)["clip1"]
    with pytest.raises(DataError, match="cannot read image"):
        FolderClips(clips, length=4, size=8)  # without skip_bad the bad clip is an error, not a cached skip


def test_splits_pickle_by_path_and_load_in_worker_processes(clips, cache):
    data = FolderClips(clips, length=4, size=8, clips_per_video=2, test_fraction=0.0)
    train = data.split("train")
    blob = pickle.dumps(train)
    assert len(blob) < 4096  # the path, not the frames
    copy = pickle.loads(blob)
    assert copy.store.frames.path == str(data.cache_path) and same_items(copy, train)
    sampler = StepBatchSampler(len(train), 2, seed=0, stop=4)
    expected = [(batch.frames, indices) for batch, indices in training_loader(train, sampler, workers=0)]
    for context in ("fork", "spawn"):  # spawn pickles the split: the worker reopens the file by its path
        loader = training_loader(train, sampler, workers=1)
        loader.multiprocessing_context = context
        got = [(batch.frames, indices) for batch, indices in loader]
        assert len(got) == 4 and all(torch.equal(a, b) and i == j for (a, i), (b, j) in zip(got, expected)), context


def test_a_replaced_cache_file_is_not_read_as_the_old_frames(clips, cache):
    data = FolderClips(clips, length=4, size=8)
    copy = pickle.loads(pickle.dumps(data.split("train")))
    stamp = os.stat(clips / "clip0.png").st_mtime_ns
    os.utime(clips / "clip0.png", ns=(stamp + 10**9, stamp + 10**9))
    FolderClips(clips, length=4, size=8)  # rewrites the same cache file with a new content key
    with pytest.raises(DataError, match="was replaced by frames of other clips"):
        pickle.loads(pickle.dumps(copy))  # what a spawned worker does
    assert data.split("train")[0][0].shape == (4, 3, 8, 8)  # the open mapping keeps the old file's frames
