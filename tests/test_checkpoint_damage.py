"""Damaged and foreign files: a digest catches a flipped bit in every load path, each bad file is one line
that says what was expected, and checkpoint.prev.pt is offered (never used silently) when checkpoint.pt is bad."""

import collections
import struct
import zipfile

import pytest
import torch

from videovae import load
from videovae.cli import main
from videovae.core.errors import CheckpointError
from videovae.engine.archive import DIGEST_KEY, atomic_torch_save
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.trainer import TrainConfig
from videovae.engine.training import train

TINY = ["--preset", "tiny", "--dataset-option", "num_objects=4", "--dataset-option", "size=32",
        "--dataset-option", "length=6", "--batch-size", "4", "--log-every", "1", "--no-progress"]
TINY_RUN = dict(preset="tiny", dataset_options=dict(num_objects=4, size=32, length=6), batch_size=4, log_every=1)


def flip_a_bit_in_a_tensor(path) -> None:
    """Flip one bit in the middle of the largest tensor's bytes (what a failing disk does)."""
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.file_size // 2] ^= 0x40
    path.write_bytes(bytes(data))


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 4-step run saved at steps 2 and 4: checkpoint.pt (step 4) and checkpoint.prev.pt (step 2)."""
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig.from_dict({**TINY_RUN, "steps": 4, "checkpoint_every": 2}), out, progress=False)
    return out


def test_saves_keep_the_previous_checkpoint_and_both_carry_a_digest(run_dir):
    assert read_checkpoint(run_dir / "checkpoint.pt")["step"] == 4
    previous = read_checkpoint(run_dir / "checkpoint.prev.pt")
    assert previous["step"] == 2 and previous[DIGEST_KEY].startswith("sha256:")
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".") or p.name == "run.lock"]


def test_a_flipped_bit_is_one_line_in_every_load_path_and_resume_falls_back_only_when_asked(run_dir, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (out / name).write_bytes((run_dir / name).read_bytes())
    flip_a_bit_in_a_tensor(out / "checkpoint.pt")
    damaged = (out / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="checkpoint.pt is damaged: its contents do not match the digest"):
        load(out / "checkpoint.pt")
    assert main(["generate", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(tmp_path / "g")]) == 2
    line = error_line(capsys)
    assert "is damaged" in line and f"{out / 'checkpoint.prev.pt'} (step 2) is intact: use it with --checkpoint" in line
    assert not (tmp_path / "g").exists()
    assert main(["evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--out", str(tmp_path / "e")]) == 2
    assert "is damaged" in error_line(capsys)
    assert main(["train", "--out", str(out), "--resume", "--steps", "6", "--no-progress"]) == 2
    assert f"use it with --resume-from {out / 'checkpoint.prev.pt'}" in error_line(capsys)
    assert (out / "checkpoint.pt").read_bytes() == damaged  # nothing was replaced
    # explicitly from checkpoint.prev.pt: it goes on from step 2, and never keeps the damaged file as "previous"
    assert main(["train", "--out", str(out), "--resume-from", str(out / "checkpoint.prev.pt"), "--steps", "3",
                 "--checkpoint-every", "0", "--no-progress"]) == 0
    assert "resuming from" in capsys.readouterr().out
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 3 and read_checkpoint(out / "checkpoint.prev.pt")["step"] == 2
    # another folder's file would replace this folder's checkpoint.pt: refused
    assert main(["train", "--out", str(out), "--resume-from", str(run_dir / "checkpoint.pt"), "--no-progress"]) == 2
    assert "is not in" in error_line(capsys)
    # a missing checkpoint.pt names the intact predecessor too
    (out / "checkpoint.pt").unlink()
    assert main(["train", "--out", str(out), "--resume", "--no-progress"]) == 2
    line = error_line(capsys)
    assert "checkpoint not found" in line and "(step 2) is intact: use it with --resume-from" in line


def test_an_attribute_net_file_with_a_flipped_bit_is_one_line(tmp_path, chair_attributes):
    from videovae.core.config import ModelConfig
    from videovae.engine.attribute_inference import build_attribute_net, load_attribute_net, save_attribute_net
    from videovae.registry.factory import resolve_config

    net = build_attribute_net(ModelConfig.from_dict(resolve_config("tiny").to_dict()), chair_attributes)
    path = save_attribute_net(tmp_path / "attribute_net.pt", net)
    load_attribute_net(path)
    flip_a_bit_in_a_tensor(path)
    with pytest.raises(CheckpointError, match="attribute_net.pt is damaged"):
        load_attribute_net(path)


def test_a_checkpoint_written_before_digests_still_loads(run_dir, tmp_path):
    payload = read_checkpoint(run_dir / "checkpoint.pt")
    del payload[DIGEST_KEY]
    torch.save(payload, tmp_path / "old.pt")
    assert load(tmp_path / "old.pt").step == 4


class NotData:
    pass


def _wrong_shape(run_dir, path):
    payload = read_checkpoint(run_dir / "checkpoint.pt")
    name = next(iter(payload["model_state"]))
    payload["model_state"][name] = torch.zeros(3, 1)
    atomic_torch_save(payload, path)  # a digest of the changed data: only the shapes are wrong


@pytest.mark.parametrize("make, fragment", [
    (lambda run_dir, p: p.write_text("epoch 3: loss 0.1\n"),
     "is not a readable videovae checkpoint: it is a text file (starting 'epoch 3: loss 0.1'); expected a torch zip"),
    (lambda run_dir, p: p.write_bytes(b""), "it is empty (0 bytes); expected a torch zip archive"),
    (lambda run_dir, p: p.write_bytes(bytes(range(256)) * 4), "it starts with the bytes 00 01 02 03; expected a torch"),
    (lambda run_dir, p: p.write_bytes((run_dir / "checkpoint.pt").read_bytes()[:5000]), "it is damaged or cut short"),
    (lambda run_dir, p: torch.save({"format": "videovae-checkpoint", "x": NotData()}, p),
     "holds pickled objects that are not plain data (test_checkpoint_damage.NotData); expected only tensors"),
    (lambda run_dir, p: torch.save({"format": "videovae-checkpoint", "x": collections.deque()}, p),
     "holds pickled objects that are not plain data"),
    (_wrong_shape, "the weights do not fit the model its config describes ("),
])
def test_a_foreign_or_broken_file_is_one_line_saying_what_was_expected(run_dir, tmp_path, capsys, make, fragment):
    path = tmp_path / "checkpoint.pt"
    make(run_dir, path)
    assert main(["generate", "--checkpoint", str(path), "--out", str(tmp_path / "g")]) == 2
    line = error_line(capsys)
    assert fragment in line and str(path) in line and "PyTorch 2.6" not in line
    if make is _wrong_shape:
        assert "has shape (3, 1), expected (" in line


def test_a_cached_evaluation_classifier_with_a_flipped_bit_is_one_line_saying_to_remove_it(tmp_path, chair_attributes):
    from types import SimpleNamespace

    from videovae.core.config import ModelConfig
    from videovae.engine.attribute_inference import build_attribute_net, save_attribute_net
    from videovae.engine.evaluation.classifier import classifier_key, load_or_train_classifier
    from videovae.engine.evaluation.protocol import EvalProtocol
    from videovae.registry.factory import resolve_config

    dataset = SimpleNamespace(attributes=chair_attributes, describe=lambda: {"name": "four chairs"})
    protocol = EvalProtocol(eval_attributes=("chair", "rotation"), classifier_steps=1)
    path = tmp_path / f"classifier-chairs-{classifier_key(dataset, protocol)}.pt"
    net = build_attribute_net(ModelConfig.from_dict(resolve_config("tiny").to_dict()), chair_attributes)
    save_attribute_net(path, net, purpose="evaluation classifier")
    assert load_or_train_classifier(dataset, protocol, tmp_path, name="chairs").joint is not None  # the cached file
    flip_a_bit_in_a_tensor(path)
    with pytest.raises(CheckpointError) as caught:
        load_or_train_classifier(dataset, protocol, tmp_path, name="chairs")
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and message.startswith(f"{path} is damaged: ")
    assert message.endswith("; remove it and the next evaluation trains the classifier again")


def test_infer_attributes_with_a_damaged_net_is_one_line_and_writes_nothing(tmp_path, chair_attributes, capsys):
    from videovae.core.config import ModelConfig
    from videovae.engine.attribute_inference import build_attribute_net, save_attribute_net
    from videovae.registry.factory import resolve_config

    net = build_attribute_net(ModelConfig.from_dict(resolve_config("tiny").to_dict()), chair_attributes)
    path = save_attribute_net(tmp_path / "attribute_net.pt", net)
    flip_a_bit_in_a_tensor(path)
    out = tmp_path / "labels.csv"
    assert main(["infer-attributes", "--net", str(path), "--dataset", "synthetic-chairs", "--out", str(out),
                 "--no-progress"]) == 2
    assert error_line(capsys).startswith(f"videovae: error: {path} is damaged: its contents do not match the digest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attribute_net.pt"]
