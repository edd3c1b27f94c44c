"""``--precision bf16``: the detection of native bf16, the refusal elsewhere, a bf16 step against the fp32 one,
the fp32 islands, resume and generation."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import TINY_TRAIN, random_labels
from videovae import build_model, generate, load
from videovae.cli import main
from videovae.core.batch import VideoBatch
from videovae.core.errors import ConfigError
from videovae.core.interfaces import StepContext
from videovae.core.mixed_precision import float32, is_float32_island, keep_float32
from videovae.engine import precision
from videovae.engine.checkpoint import read_checkpoint
from videovae.engine.optimization import Optimizers, clip_noise
from videovae.engine.train_config import TrainConfig
from videovae.plugins.presets import TINY_SIZES

NATIVE = precision.native_bf16_missing("cpu")
needs_native_bf16 = pytest.mark.skipif(NATIVE is not None, reason=f"needs native bf16 on the CPU: {NATIVE}")
#: a bf16 training step of the tiny model against the fp32 one from the same weights, batch and noise
#: (measured: losses within 7e-4 relative, gradients within 6.5e-3; A.4 4.4e-3, demo 6.8e-3)
LOSS_RTOL, GRAD_RTOL = 2e-3, 2e-2
NO_BF16 = frozenset({"fpu", "avx2", "avx512f", "avx512bw"})
WITH_BF16 = NO_BF16 | {"avx512_bf16"}


def tiny(chair_attributes, **codec):
    torch.manual_seed(0)
    options = lambda part: {**TINY_SIZES[f"{part}_options"], "dropout": 0.0, **codec}  # noqa: E731
    return build_model("tiny", attributes=chair_attributes, encoder_options=options("encoder"),
                       decoder_options=options("decoder"))


def fake_flags(monkeypatch, flags):
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("videovae: error: ") and "\n" not in err, err
    return err


# -- detection and refusal ---------------------------------------------------------------------
def test_cpu_flags_come_from_the_first_flags_line_of_cpuinfo(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    precision.cpu_flags.cache_clear()
    try:
        assert precision.cpu_flags() == {"fpu", "avx2", "avx512f", "avx512_bf16"}
        assert precision.native_bf16_missing("cpu") is None
        cpuinfo.write_text("processor\t: 0\n")  # no flags line: unknown, so refused
        precision.cpu_flags.cache_clear()
        assert precision.cpu_flags() is None
        assert precision.native_bf16_missing("cpu") == "this CPU's bf16 support cannot be read (no /proc/cpuinfo flags)"
    finally:
        precision.cpu_flags.cache_clear()


def test_bf16_is_refused_in_one_line_naming_what_is_missing(monkeypatch):
    fake_flags(monkeypatch, NO_BF16)
    with pytest.raises(ConfigError) as info:
        precision.check_precision("bf16", "cpu")
    assert str(info.value) == ("--precision bf16 needs native bf16 arithmetic: this CPU has no native bf16 "
                               "(avx512_bf16 or amx_bf16 is not among its /proc/cpuinfo flags); use --precision fp32")
    precision.check_precision("fp32", "cpu")  # fp32 runs anywhere
    fake_flags(monkeypatch, NO_BF16 | {"amx_bf16"})
    precision.check_precision("bf16", "cpu")
    with pytest.raises(ConfigError, match=r"^--precision must be one of fp32, bf16, got 'fp16'$"):
        precision.check_precision("fp16", "cpu")


def test_train_refuses_bf16_without_native_bf16_and_writes_nothing(tmp_path, monkeypatch, capsys):
    fake_flags(monkeypatch, NO_BF16)
    out = tmp_path / "run"
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2", "--precision", "bf16"]) == 2
    assert "needs native bf16 arithmetic: this CPU has no native bf16" in error_line(capsys)
    assert not out.exists()
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2", "--precision", "fp16"]) == 2
    assert error_line(capsys) == "videovae: error: precision must be one of fp32, bf16, got 'fp16'"
    assert not out.exists()
    assert main(["demo", "--out", str(out), "--precision", "bf16"]) == 2  # the demo trains through the same check
    assert "needs native bf16 arithmetic" in error_line(capsys)
    assert not out.exists()


def test_a_bf16_run_resumes_without_native_bf16_only_in_fp32_recorded_as_an_adjustment(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    fake_flags(monkeypatch, WITH_BF16)  # bf16 is computed on any CPU (emulated where not native): the mechanics only
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2", "--precision", "bf16"]) == 0
    before = (out / "checkpoint.pt").read_bytes()
    fake_flags(monkeypatch, NO_BF16)
    capsys.readouterr()
    resume = ["train", "--out", str(out), "--steps", "3", "--resume", "--no-progress"]
    assert main(resume) == 2
    assert "--precision bf16 needs native bf16 arithmetic" in error_line(capsys)
    assert (out / "checkpoint.pt").read_bytes() == before
    assert main(resume + ["--precision", "fp32"]) == 0
    stored = read_checkpoint(out / "checkpoint.pt")
    assert stored["train_config"]["precision"] == "fp32"
    assert stored["adjustments"] == [{"step": 2, "field": "precision", "from": "bf16", "to": "fp32"}]
    assert 'precision = "bf16"' in (out / "config.toml").read_text()  # how the run started


def test_checkpoints_from_before_the_field_resume_as_fp32():
    stored = TrainConfig().to_dict()
    del stored["precision"]
    assert TrainConfig.from_stored(stored).precision == "fp32"
    assert "precision" in TrainConfig.ADJUSTABLE


# -- the step, the losses and the islands ----------------------------------------------------------
def training_step(model, prec: str, frames, labels):
    """One update as the trainer makes it: the model's step under the autocast of ``prec``."""
    optimizers = Optimizers(model, 1e-3)
    torch.manual_seed(2)  # the same random h(0)
    context = StepContext(0, 1.0, clip_noise(list(range(len(frames))), 0, 0, torch.device("cpu")), optimizers.optimize)
    model.train()
    with precision.autocast(prec, "cpu"):
        losses = model.training_step(VideoBatch(frames, labels), context)
    return losses, optimizers


@needs_native_bf16
def test_a_bf16_training_step_matches_the_fp32_one_and_keeps_weights_and_adam_in_fp32(chair_attributes):
    generator = torch.Generator().manual_seed(1)
    frames = torch.rand(4, 6, 3, 32, 32, generator=generator)
    labels = random_labels(4, 6, chair_attributes, generator=generator)
    plain, mixed = tiny(chair_attributes), tiny(chair_attributes)
    fp32_losses, _ = training_step(plain, "fp32", frames, labels)
    bf16_losses, optimizers = training_step(mixed, "bf16", frames, labels)
    for name, value in bf16_losses.items():
        assert value.dtype == torch.float32, name
        torch.testing.assert_close(value, fp32_losses[name], rtol=LOSS_RTOL, atol=1e-3, msg=name)
    grads = [torch.cat([p.grad.flatten() for p in m.parameters()]) for m in (plain, mixed)]
    error = float((grads[1] - grads[0]).norm() / grads[0].norm())
    assert 0 < error < GRAD_RTOL, error  # bf16 did run (not 0), within the bound
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in mixed.parameters())
    state = optimizers["model"].state_dict()["state"]
    assert state and all(t.dtype == torch.float32 for s in state.values() for k, t in s.items() if k != "step")


class ConvolutionDtypes(TorchDispatchMode):
    """Records (input dtype, weight dtype, output dtype) of every convolution by its weight's shape."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.convolution.default:
            self.seen[tuple(args[1].shape)] = (args[0].dtype, args[1].dtype, out.dtype)
        return out


@needs_native_bf16
def test_fp32_islands_run_in_float32_under_autocast(chair_attributes):
    # a decoder with one stride-3 transposed convolution (an island) beside stride-1 and stride-2 ones
    model = tiny(chair_attributes, strides=(1, 3, 1, 2)).eval()
    islands = [name for name, m in model.named_modules() if is_float32_island(m)]
    assert islands == ["decoder.deconvs.4"]
    island, neighbour = model.decoder.deconvs[4], model.decoder.deconvs[2]
    outputs = {}
    for name, layer in (("island", island), ("neighbour", neighbour)):
        layer.register_forward_hook(lambda _m, args, out, name=name: outputs.update({name: (args[0].dtype, out.dtype)}))
    with torch.no_grad(), precision.autocast("bf16", "cpu"), ConvolutionDtypes() as convolutions:
        model.decoder(torch.randn(5, 16))
    assert outputs["island"] == (torch.bfloat16, torch.float32)  # handed bf16 by its neighbour, hands on fp32
    assert convolutions.seen[tuple(island.weight.shape)] == (torch.float32,) * 3  # and computes in fp32
    assert outputs["neighbour"][1] == torch.bfloat16  # its neighbour ran in bf16
    assert convolutions.seen[tuple(neighbour.weight.shape)] == (torch.bfloat16,) * 3
    with torch.no_grad(), precision.autocast("bf16", "cpu"), float32():
        assert model.decoder(torch.randn(5, 16)).dtype == torch.float32  # float32(): autocast off


def test_islands_change_nothing_without_autocast_and_keep_the_state_dict(chair_attributes):
    model = tiny(chair_attributes, strides=(1, 3, 1, 2))
    layer = model.decoder.deconvs[4]
    plain = copy.deepcopy(layer)
    del plain.forward  # the class's forward again
    x = torch.randn(2, 8, 2, 2).contiguous(memory_format=torch.channels_last)
    assert torch.equal(layer(x), plain(x))
    copied = copy.deepcopy(model)
    assert copied.decoder.deconvs[4].forward.__self__ is copied.decoder.deconvs[4]  # bound to the copy
    assert model.state_dict().keys() == tiny(chair_attributes).state_dict().keys()
    linear = keep_float32(torch.nn.Linear(3, 2))
    assert is_float32_island(linear) and list(linear.state_dict()) == ["weight", "bias"]


def test_the_a4_codec_keeps_its_stride_3_transposed_convolutions_in_fp32():
    islands = lambda preset: [n for n, m in build_model(preset).named_modules() if is_float32_island(m)]  # noqa: E731
    assert islands("videovae") == ["decoder.deconvs.0", "decoder.deconvs.4"]
    assert islands("demo") == []  # stride 2: faster in bf16 than an island's casts (docs/benchmarks.md)


# -- resume and generation -------------------------------------------------------------------
@needs_native_bf16
def test_resuming_a_bf16_run_gives_the_uninterrupted_bf16_run(tmp_path):
    args = TINY_TRAIN + ["--precision", "bf16", "--log-every", "1", "--val-every", "2", "--val-clips", "3"]
    assert main(args + ["--out", str(tmp_path / "straight"), "--steps", "4"]) == 0
    assert main(args + ["--out", str(tmp_path / "split"), "--steps", "2"]) == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--steps", "4", "--resume", "--no-progress", "--val-every",
                 "2", "--val-clips", "3", "--log-every", "1"]) == 0
    a, b = (read_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("straight", "split"))
    for key in a["model_state"]:
        assert torch.equal(a["model_state"][key], b["model_state"][key]), key
    strip = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"]) and b["adjustments"] == []
    assert a["train_config"]["precision"] == b["train_config"]["precision"] == "bf16"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(TINY_TRAIN + ["--out", str(out), "--steps", "2"]) == 0
    return out


@needs_native_bf16
def test_bf16_generation_is_float32_and_close_to_fp32(trained, tmp_path, capsys):
    loaded = load(trained / "checkpoint.pt")
    fp32, labels = generate(loaded, num=4, seed=3)
    bf16, bf16_labels = generate(loaded, num=4, seed=3, precision="bf16")
    assert bf16.dtype == torch.float32 and torch.equal(labels, bf16_labels)
    assert 0 < (bf16 - fp32).abs().mean() < 5e-3 and (bf16 - fp32).abs().max() < 0.1  # measured 1.5e-3, 0.037
    out = tmp_path / "samples"
    assert main(["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(out), "--num", "2",
                 "--precision", "bf16", "--formats", "png"]) == 0
    assert '"precision": "bf16"' in (out / "samples.json").read_text()


def test_generate_refuses_bf16_without_native_bf16_and_writes_nothing(trained, tmp_path, monkeypatch, capsys):
    fake_flags(monkeypatch, NO_BF16)
    out = tmp_path / "samples"
    argv = ["generate", "--checkpoint", str(trained / "checkpoint.pt"), "--out", str(out), "--num", "2"]
    assert main(argv + ["--precision", "bf16"]) == 2
    assert error_line(capsys).startswith("videovae: error: --precision bf16 needs native bf16 arithmetic: ")
    assert main(argv + ["--precision", "half"]) == 2
    assert error_line(capsys) == "videovae: error: --precision must be one of fp32, bf16, got 'half'"
    assert not out.exists()
    with pytest.raises(ConfigError, match=r"^precision bf16 needs native bf16 arithmetic: .*; use precision fp32$"):
        generate(load(trained / "checkpoint.pt"), num=1, precision="bf16")
