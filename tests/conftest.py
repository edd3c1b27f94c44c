"""Shared fixtures: tiny sizes, fixed seeds, an isolated cache, no third-party plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Third-party plugins installed on the machine must not change what the tests see;
# the entry-point test enables its own example package explicitly.
os.environ.setdefault("VIDEOVAE_PLUGINS", "")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed_and_cache(tmp_path_factory, monkeypatch):
    torch.manual_seed(0)
    monkeypatch.setenv("VIDEOVAE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def chair_attributes():
    from videovae.core import AttributeSet, AttributeSpec

    return AttributeSet((
        AttributeSpec("chair", values=("c0", "c1", "c2")),
        AttributeSpec("tilt", values=("low", "high")),
        AttributeSpec("rotation", values=("ccw", "cw")),
    ))


@pytest.fixture
def tiny_model(chair_attributes):
    from videovae import build_model

    return build_model("tiny", attributes=chair_attributes)


def random_labels(batch: int, length: int, attributes, generator=None) -> torch.Tensor:
    """Valid categorical labels ``[B, T, A]``, constant over time."""
    columns = [torch.randint(s.num_classes, (batch, 1), generator=generator).float() for s in attributes]
    return torch.cat(columns, dim=1).unsqueeze(1).expand(batch, length, len(columns)).clone()


#: ``videovae train`` of the tiny preset on four procedural chairs, 32x32, clips of 6 frames (add --out, --steps)
TINY_TRAIN = ["train", "--preset", "tiny", "--dataset-option", "num_objects=4", "--dataset-option", "size=32",
              "--dataset-option", "length=6", "--batch-size", "4", "--no-progress", "--checkpoint-every", "0"]
