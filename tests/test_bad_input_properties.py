"""Property-based bad input (issue 18): attribute schedules, ``--set`` values, labels CSVs and stored
checkpoint fields drawn at random give either a result or one of the project's own errors, whose
message is one line. Bounded: few examples per property, no deadline (one core is slow)."""

from __future__ import annotations

import argparse
import io
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from videovae.cli import key_value
from videovae.core import AttributeSet, AttributeSpec
from videovae.core.config import ModelConfig
from videovae.core.errors import VideoVAEError
from videovae.engine.checkpoint import Checkpoint, model_from_checkpoint, save_checkpoint
from videovae.engine.train_config import TrainConfig
from videovae.engine.training import model_config_of

#: more examples for a longer hunt: VIDEOVAE_HYPOTHESIS_EXAMPLES=500
BOUNDED = settings(max_examples=int(os.environ.get("VIDEOVAE_HYPOTHESIS_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                   database=None)

#: characters that break parsers and messages: separators of schedules and CSVs, quotes, line breaks of
#: every kind, NUL, digits that str.isdigit() takes but int() may not
TRICKY = ",@=\"'\n\r\x00\x0b\x1c\u2028\x85 ²٣-.e+" + "0123456789" + "abcw"
text = st.text(alphabet=TRICKY, max_size=24)


def one_line_error(call):
    """``call()``; an error must be the project's own with a one-line message."""
    try:
        return call()
    except VideoVAEError as exc:
        message = str(exc)
        assert message and len(message.splitlines()) == 1, repr(message)
        return exc


ATTRIBUTES = AttributeSet((
    AttributeSpec("rotation", values=("ccw", "cw")),
    AttributeSpec("angle", kind="continuous", low=0.0, high=360.0, periodic=True),
))


@BOUNDED
@given(name=st.sampled_from(["rotation", "angle", "rotaton", ""]), schedule=text, length=st.integers(-1, 12))
def test_attribute_schedules(name, schedule, length):
    result = one_line_error(lambda: ATTRIBUTES.controls({name: schedule}, length))
    if isinstance(result, torch.Tensor):
        assert result.shape == (length, 2) and not torch.isnan(result[:, ATTRIBUTES.index(name)]).any()


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10, 10 ** 30) | st.floats() | text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                           max_leaves=12)
FIELDS = [f for f in ModelConfig().to_dict()] + ["nonsense"]


@BOUNDED
@given(field=st.sampled_from(FIELDS), value=text | json_values.map(repr) | st.integers(1, 200).map(lambda n: "[" * n + "]" * n))
def test_set_values(field, value):
    try:
        _, parsed = key_value(f"{field}={value}")
    except argparse.ArgumentTypeError as exc:  # argparse prints it as one line
        assert len(str(exc).splitlines()) == 1
        return
    one_line_error(lambda: model_config_of(TrainConfig.from_dict({"preset": "tiny", "model": {field: parsed}})))


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    Image.fromarray(np.zeros((8, 8 * 3, 3), np.uint8)).save(root / "a.png")
    return root


cells = st.text(alphabet=TRICKY, max_size=6) | st.sampled_from(["clip", "a", "split", "train", "test", "x"])
csv_tables = st.lists(st.lists(cells, min_size=0, max_size=4), min_size=0, max_size=4)


def csv_text(rows) -> str:
    out = io.StringIO()
    for row in rows:
        out.write(",".join(f'"{c}"' if any(ch in c for ch in ',"\n\r') and '"' not in c else c for c in row) + "\n")
    return out.getvalue()


@BOUNDED
@given(rows=csv_tables, raw=st.booleans(), junk=text)
def test_labels_csvs(clip_folder, rows, raw, junk):
    from videovae.plugins.datasets.folder import FolderClips

    (clip_folder / "labels.csv").write_text(junk if raw else csv_text([["clip", *rows[0]] if rows else ["clip"], ["a"]] + rows),
                                            encoding="utf-8", newline="")
    one_line_error(lambda: FolderClips(clip_folder, size=8, length=2, cache=False))


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    from videovae import build_model

    model = build_model("tiny", attributes=ATTRIBUTES)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "checkpoint.pt", model, step=3,
                           label_table=torch.zeros(2, 2), clip_length=4, dataset={"name": "synthetic-chairs"})
    return torch.load(path, weights_only=True)


small_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 64) | st.floats(width=32) | text
                            | st.builds(torch.zeros, st.integers(0, 3)),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                            max_leaves=8)
STORED_FIELDS = ["model_config", "attributes", "model_state", "step", "label_table", "clip_length", "dataset",
                 "adjustments", "history", "attribute_net", "train_config", "versions"]


@BOUNDED
@given(field=st.sampled_from(STORED_FIELDS), value=small_values,
       nested=st.one_of(st.none(), st.tuples(st.sampled_from(list(ModelConfig().to_dict()) + ["name"]), small_values)))
def test_checkpoint_payloads(stored, field, value, nested):
    payload = dict(stored)
    if nested is not None and field in ("model_config", "dataset"):  # one field of a stored mapping
        key, inner = nested
        payload[field] = {**(payload.get(field) or {}), key: inner}
    else:
        payload[field] = value

    def load():
        checkpoint = Checkpoint.from_payload(payload, "checkpoint.pt")
        model_from_checkpoint(checkpoint)
        if checkpoint.train_config is not None:
            TrainConfig.from_dict(checkpoint.train_config)

    one_line_error(load)
