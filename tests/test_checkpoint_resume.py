"""The typed checkpoint (one-line errors naming the file and the field) and the one resume decision."""

import pytest
import torch

from videovae.core.errors import CheckpointError, ConfigError
from videovae.engine.checkpoint import Checkpoint, DatasetInfo, open_checkpoint
from videovae.engine.resume import require_same_model, resume_config, resume_flags
from videovae.engine.trainer import TrainConfig

PAYLOAD = {"format": "videovae-checkpoint", "format_version": 1, "model_config": {"latent_dim": 4},
           "attributes": [{"name": name, "values": ["x", "y"]} for name in "abc"], "model_state": {}, "step": 7, "clip_length": 6,
           "dataset": {"name": "synthetic-chairs", "options": {"size": 32}, "root": None, "description": "chairs"},
           "adjustments": [{"step": 5, "field": "lr", "from": 0.1, "to": 0.01}], "label_table": torch.zeros(2, 3)}


def test_checkpoint_fields_are_typed_and_defaulted():
    checkpoint = Checkpoint.from_payload(PAYLOAD, "run/checkpoint.pt")
    assert checkpoint.step == 7 and checkpoint.clip_length == 6 and checkpoint.history == []
    assert checkpoint.dataset == DatasetInfo("synthetic-chairs", {"size": 32}, None, "chairs")
    assert checkpoint.adjustments[0]["to"] == 0.01 and checkpoint.train_config is None
    assert checkpoint.label_table.shape == (2, 3) and checkpoint.payload["model_config"] == {"latent_dim": 4}
    bare = Checkpoint.from_payload({k: PAYLOAD[k] for k in ("model_config", "attributes", "model_state")})
    assert (bare.step, bare.dataset, bare.clip_length, bare.adjustments, bare.attribute_net) == (0, None, None, [], None)


@pytest.mark.parametrize("change, message", [
    ({"model_state": None}, "run.pt lacks the checkpoint field 'model_state'"),
    ({"step": "7"}, "run.pt: checkpoint field 'step' should be int, got str"),
    ({"step": True}, "run.pt: checkpoint field 'step' should be int, got bool"),
    ({"adjustments": {"lr": 1}}, "run.pt: checkpoint field 'adjustments' should be list, got dict"),
    ({"label_table": [[0.0]]}, "run.pt: checkpoint field 'label_table' should be Tensor, got list"),
    ({"label_table": torch.zeros(2, 2)}, "run.pt: checkpoint field 'label_table' should be float rows [N, 3] "
                                         "(one column per attribute), got torch.float32 (2, 2)"),
    ({"dataset": {"options": {}}}, "run.pt lacks the checkpoint field 'dataset.name'"),
    ({"dataset": {"name": "chairs", "options": [1]}}, "run.pt: checkpoint field 'dataset.options' should be dict, got list"),
])
def test_a_missing_or_mistyped_field_is_one_line_naming_file_and_field(tmp_path, change, message):
    payload = {**PAYLOAD, **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    torch.save(payload, tmp_path / "run.pt")
    with pytest.raises(CheckpointError) as info:
        open_checkpoint(tmp_path / "run.pt")
    assert str(info.value) == f"{tmp_path / 'run.pt'}" + message[len("run.pt"):] and "\n" not in str(info.value)


def test_resume_keeps_what_defines_the_run_and_records_adjustments():
    stored = TrainConfig(steps=10, lr=0.1, batch_size=4)
    requested = TrainConfig(steps=20, lr=0.5, batch_size=8, grad_clip=3.0)
    earlier = [{"step": 5, "field": "grad_clip", "from": 1.0, "to": 0.0}]
    config, rows = resume_config(stored, requested, {"lr": 0.05}, 10, earlier)
    assert (config.steps, config.lr, config.batch_size, config.grad_clip) == (20, 0.05, 4, 0.0)
    assert rows == [*earlier, {"step": 10, "field": "lr", "from": 0.1, "to": 0.05}] and earlier[0]["to"] == 0.0
    assert resume_config(stored, requested, {}, 10)[1] == []  # nothing adjusted: nothing recorded


def test_the_same_sizes_as_tuples_or_lists_are_the_same_run_and_model():
    """The presets hold tuples, ``--set`` (JSON) and some stored files lists: neither is another setting."""
    sizes = {"channels": (16, 32), "fc_dims": (512,)}
    listed = {"channels": [16, 32], "fc_dims": [512]}
    stored = TrainConfig(steps=10, model={"encoder_options": sizes})
    resume_config(stored, TrainConfig(steps=10, model={"encoder_options": listed}), {}, 10, where="m.pt")
    require_same_model({"encoder_options": sizes}, {"encoder_options": listed}, "m.pt")
    with pytest.raises(ConfigError, match=r"^m.pt holds another model \(encoder_options=.* instead of .*\[16, 64\].*\); "
                                          r"use another --out$"):
        require_same_model({"encoder_options": sizes}, {"encoder_options": {**listed, "channels": [16, 64]}}, "m.pt")


def test_resume_errors_are_one_line():
    stored = TrainConfig(steps=10, grad_clip=0.0, batch_size=16)
    with pytest.raises(ConfigError, match=r"^only lr, grad_clip, spike_clip, precision can be adjusted on resume, not batch_size$"):
        resume_config(stored, stored, {"batch_size": 2}, 10)
    with pytest.raises(ConfigError, match=r"^lr must be a finite number > 0, got -1.0$"):
        resume_config(stored, stored, {"lr": -1.0}, 10)
    wanted = TrainConfig(steps=10, grad_clip=5.0, batch_size=2, inference_steps=3)
    with pytest.raises(ConfigError, match=r"^m.pt was trained with other settings \(batch_size=16, grad_clip=0.0 "
                                          r"instead of batch_size=2, grad_clip=5.0\); use another --out$"):
        resume_config(stored, wanted, {}, 10, where="m.pt", ignore=("inference_steps",))
    config, rows = resume_config(stored, TrainConfig(steps=12, grad_clip=5.0, batch_size=16), {"grad_clip": 5.0}, 10,
                                 where="m.pt")
    assert config.grad_clip == 5.0 and rows == [{"step": 10, "field": "grad_clip", "from": 0.0, "to": 5.0}]
    assert resume_flags(["steps", "lr", "device"], TrainConfig) == ["lr"]
    with pytest.raises(ConfigError, match=r"these cannot change: batch_size, seed \(only lr, grad_clip, spike_clip, precision can"):
        resume_flags(["seed", "batch_size", "lr"], TrainConfig)
