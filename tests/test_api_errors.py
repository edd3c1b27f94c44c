"""The Python API refuses bad arguments with the project's own one-line errors (issue 18, items 7 and 8)."""

import numpy as np
import pytest
import torch

import videovae
from videovae.core.errors import (AttributeValueError, CheckpointError, ConfigError, DataError, InputShapeError,
                                  VideoVAEError)
from videovae.engine.train_config import TrainConfig

TINY = dict(preset="tiny", dataset_options={"num_objects": 4, "size": 32, "length": 6}, batch_size=4, steps=1,
            checkpoint_every=0)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    videovae.train(out, progress=False, **TINY)
    return videovae.load(out / "checkpoint.pt")


def refused(kind, call, fragment):
    with pytest.raises(kind) as info:
        call()
    assert isinstance(info.value, VideoVAEError) and "\n" not in str(info.value)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("path", [None, 5, ""])
def test_load_refuses_what_is_not_a_path(path):
    refused(CheckpointError, lambda: videovae.load(path), "load expects the path of a checkpoint or an exported folder (a str or Path), got")


@pytest.mark.parametrize("kwargs, kind, fragment", [
    (dict(num=2.5), ConfigError, "num must be a positive integer, got 2.5"),
    (dict(num=0), ConfigError, "num must be a positive integer, got 0"),
    (dict(length="6"), ConfigError, "length must be a positive integer, got '6'"),
    (dict(attributes=["rotation"]), ConfigError, "attributes must map attribute names to a value or a schedule"),
    (dict(attributes={"rotation": None}), ConfigError, "attributes['rotation'] must be a value or a schedule"),
    (dict(first_frames=[[0.5]]), ConfigError, "first_frames must be a torch.Tensor or a numpy array, got list"),
    (dict(first_frames=torch.zeros(3, 32, 32, dtype=torch.int64)), ConfigError, "floats in [0, 1] or uint8"),
    (dict(first_frames=np.zeros((32, 32, 3), np.uint8)), InputShapeError, "(channels last? use .permute(2, 0, 1))"),
    (dict(first_frames=torch.full((3, 32, 32), float("nan"))), InputShapeError, "first_frames hold NaN or infinite"),
    (dict(first_frames=torch.full((3, 32, 32), 200.0)), InputShapeError, "must hold pixels in [0, 1], got values in [200, 200]"),
    (dict(first_frames=torch.rand(3, 3, 32, 32)), InputShapeError, "must have shape [3, 32, 32] or [2, 3, 32, 32]"),
])
def test_generate_refuses_bad_arguments(loaded, kwargs, kind, fragment):
    refused(kind, lambda: videovae.generate(loaded, **{"num": 2, **kwargs}), fragment)


def test_generate_takes_uint8_and_numpy_first_frames_as_documented(loaded):
    as_float = torch.full((3, 32, 32), 200 / 255)
    reference, _ = videovae.generate(loaded, num=2, first_frames=as_float, seed=3)
    for frames in (torch.full((3, 32, 32), 200, dtype=torch.uint8), np.full((3, 32, 32), 200, np.uint8),
                   np.full((2, 3, 32, 32), 200 / 255, np.float64)):
        videos, _ = videovae.generate(loaded, num=2, first_frames=frames, seed=3)
        assert torch.allclose(videos, reference, atol=1e-5)


def test_the_model_refuses_out_of_range_labels_and_non_finite_frames(loaded):
    model = loaded.model
    frames, labels = torch.rand(1, 6, 3, 32, 32), torch.zeros(1, 6, 3)
    model(frames, labels)
    for column, value, fragment in [(0, 99.0, "attribute 'chair' expects a class index 0..3, got 99"),
                                    (2, 0.5, "attribute 'rotation' expects a class index 0..1, got 0.5"),
                                    (1, -1.0, "attribute 'tilt' expects a class index 0..1, got -1")]:
        bad = labels.clone()
        bad[..., column] = value
        refused(AttributeValueError, lambda: model(frames, bad), fragment)
    missing = labels.clone()
    missing[..., 0] = float("nan")  # a missing label is allowed
    model(frames, missing)
    refused(InputShapeError, lambda: model(torch.full_like(frames, float("nan")), labels), "with NaN or infinite values")


@pytest.mark.parametrize("overrides, fragment", [
    (dict(dataset_options={1: 2}), "dataset_options must be a mapping of names (strings) to values, got {1: 2}"),
    (dict(data_root=5), "data_root must be a folder path (a non-empty string), got 5"),
    (dict(preset=5), "preset must be a string, got 5"),
    (dict(lr="fast"), "lr must be a finite number > 0, got 'fast'"),
    (dict(model={"encoder_options": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}),
     "model is nested more than 32 levels deep"),
    (dict(stepz=3), "TrainConfig has no field(s) stepz"),
])
def test_train_refuses_bad_settings_before_anything_is_written(tmp_path, overrides, fragment):
    refused(ConfigError, lambda: videovae.train(tmp_path / "r", progress=False, **overrides), fragment)
    assert not (tmp_path / "r").exists()


def test_train_refuses_an_output_file_and_a_missing_data_root(tmp_path):
    (tmp_path / "afile").write_text("")
    refused(ConfigError, lambda: videovae.train(tmp_path / "afile", progress=False), "out_dir")
    refused(ConfigError, lambda: videovae.train(None, progress=False), "out_dir expects an output folder")
    refused(DataError, lambda: videovae.train(tmp_path / "r", data_root=str(tmp_path / "none"), progress=False),
            "does not exist")
    assert not (tmp_path / "none").exists() and not (tmp_path / "r").exists()


def test_option_errors_name_the_option_not_an_attrs_attribute():
    """attrs' own validators raise ``TypeError(message, Attribute(...), ...)``; the messages name the field."""
    for build, fragment in [
        (lambda: TrainConfig.from_dict({"device": 0}), "device must be a string, got 0"),
        (lambda: videovae.ModelConfig.from_dict({"encoder_options": [1]}), "encoder_options must be a mapping"),
        (lambda: videovae.AttributeSpec("a", kind="ordinal"), "kind must be one of categorical, continuous, got 'ordinal'"),
        (lambda: videovae.AttributeSpec("a", values=("x",), periodic="yes"), "periodic must be true or false"),
        (lambda: videovae.AttributeSet.from_list(["rotation"]), "expected a mapping of field names to values"),
        (lambda: videovae.AttributeSet.from_list([{"name": "a", "values": 5}]), "malformed attribute specification"),
    ]:
        with pytest.raises(VideoVAEError) as info:
            build()
        assert fragment in str(info.value) and "Attribute(" not in str(info.value), str(info.value)


def test_every_project_error_is_one_line_whatever_it_quotes():
    from videovae.core.errors import escape_line_breaks

    error = ConfigError("latent 'hierarchical' takes no options, got \x850 and a\nb\u2028c\x00d")
    assert str(error) == "latent 'hierarchical' takes no options, got \\x850 and a\\nb\\u2028c\\x00d"
    assert len(str(error).splitlines()) == 1 and escape_line_breaks(str(error)) == str(error)
