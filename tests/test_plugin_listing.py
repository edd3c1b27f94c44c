"""Listing registered parts by kind and name pattern: ``videovae.list_components`` and ``videovae plugins``."""

import json

import pytest

import videovae
from videovae.cli import main
from videovae.core.errors import ConfigError, UnknownNameError


def names(listed: dict) -> dict:
    return {kind: [e["name"] for e in entries] for kind, entries in listed.items()}


def test_without_filters_every_kind_is_listed_even_when_empty():
    listed = videovae.list_components()
    assert list(listed) == ["encoder", "decoder", "latent", "prior", "sampler", "likelihood", "metric", "dataset",
                            "model", "preset"]
    assert names(listed)["prior"] == ["lstm", "standard-normal"]


def test_kind_pattern_and_both_together():
    assert names(videovae.list_components(kind="prior")) == {"prior": ["lstm", "standard-normal"]}
    assert names(videovae.list_components(kind="priors")) == {"prior": ["lstm", "standard-normal"]}  # as listed
    assert names(videovae.list_components(pattern="minus-*")) == {"preset": ["minus-c-minus-s", "minus-c-plus-s"]}
    # across kinds: 'deep-rotator' is both a whole model and a preset
    assert names(videovae.list_components(pattern="deep-*")) == {"model": ["deep-rotator"], "preset": ["deep-rotator"]}
    assert names(videovae.list_components(kind="preset", pattern="*-s")) == {
        "preset": ["minus-c-minus-s", "minus-c-plus-s", "plus-c-minus-s", "plus-c-plus-s"]}
    assert videovae.list_components(kind="encoder", pattern="minus-*") == {}
    entry = videovae.list_components(kind="prior", pattern="lstm")["prior"][0]
    assert entry["package"].startswith("videovae ") and "initial_state" in entry["options"]


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"kind": "priorz"}, UnknownNameError, "unknown kind 'priorz'; did you mean 'prior'?; known: dataset, decoder"),
    ({"kind": 3}, ConfigError, "kind must be a kind name such as 'prior', got 3; kinds: encoder, decoder"),
    ({"pattern": ""}, ConfigError, "pattern must be a shell-style name pattern"),
    ({"pattern": ["a"]}, ConfigError, "pattern must be a shell-style name pattern"),
])
def test_bad_filters_are_one_line(kwargs, error, fragment):
    with pytest.raises(error) as caught:
        videovae.list_components(**kwargs)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_the_command_filters_by_kind_and_pattern_as_text_and_json(capsys):
    assert main(["plugins", "--kind", "prior"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "priors:" and [line.split()[0] for line in out[1:]] == ["lstm", "standard-normal"]
    assert main(["plugins", "minus-*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "presets:" and [line.split()[0] for line in out[1:]] == ["minus-c-minus-s", "minus-c-plus-s"]
    assert main(["plugins", "--kind", "preset", "plus-*", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert names(data["components"]) == {"preset": ["plus-c-minus-s", "plus-c-plus-s"]} and data["failures"] == []
    assert main(["plugins", "--kind", "encoder", "minus-*"]) == 0
    assert capsys.readouterr().out.strip() == "no registered part matches kind encoder and 'minus-*'"


def test_an_unknown_kind_is_one_line_listing_the_kinds(capsys):
    assert main(["plugins", "--kind", "priorz"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("videovae: error: unknown kind 'priorz'") and "preset, prior, sampler" in captured.err
