"""Fast paths give the same numbers as the plain ones, and the benchmark script runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from videovae import build_model
from videovae.plugins.presets import TINY_SIZES

from conftest import random_labels

REPO = Path(__file__).resolve().parents[1]
BENCHMARK = REPO / "benchmarks" / "benchmark.py"
ATOL = 1e-5


def tiny_model(attributes, channels_last: bool):
    torch.manual_seed(0)
    options = lambda part: {**TINY_SIZES[f"{part}_options"], "dropout": 0.0, "channels_last": channels_last}  # noqa: E731
    return build_model("tiny", attributes=attributes, encoder_options=options("encoder"),
                       decoder_options=options("decoder"), prior_options={"initial_state": "zeros"})


@pytest.fixture
def model_pair(chair_attributes):
    fast, plain = tiny_model(chair_attributes, True), tiny_model(chair_attributes, False)
    plain.load_state_dict(fast.state_dict())
    fast.train(), plain.train()
    return fast, plain


def assert_close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    """|a − b| ≤ 1e-5 on the scale of the tensor: weight gradients sum thousands of products whose
    fp32 rounding depends on the order of the sum (NHWC vs NCHW kernels), not on each entry's size."""
    assert a.shape == b.shape, what
    scale = max(1.0, b.abs().max().item())
    diff = (a - b).abs().max().item()
    assert diff <= ATOL * scale, f"{what}: max |diff| {diff:.3g} > {ATOL} x scale {scale:.3g}"


def assert_same_grads(fast: torch.nn.Module, plain: torch.nn.Module) -> None:
    grads = dict(plain.named_parameters())
    for name, param in fast.named_parameters():
        other = grads[name]
        assert (param.grad is None) == (other.grad is None), name
        if param.grad is not None:
            assert_close(param.grad, other.grad, f"grad of {name}")


def test_channels_last_codec_really_uses_nhwc(model_pair):
    fast, plain = model_pair
    fast_convs = [m for m in fast.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    plain_convs = [m for m in plain.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(fast_convs) == len(plain_convs) == 8
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in fast_convs)
    assert all(m.weight.is_contiguous() for m in plain_convs)


def test_channels_last_encoder_equals_contiguous_encoder(model_pair):
    fast, plain = model_pair
    frames = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    inputs = [frames.clone().requires_grad_(True) for _ in range(2)]
    outputs = [model.encoder(x) for model, x in zip((fast, plain), inputs)]
    assert_close(outputs[0], outputs[1], "encoder output")
    weights = torch.randn(outputs[0].shape, generator=torch.Generator().manual_seed(2))
    for out in outputs:
        (out * weights).sum().backward()
    assert_close(inputs[0].grad, inputs[1].grad, "gradient w.r.t. the frames")
    assert_same_grads(fast.encoder, plain.encoder)


def test_channels_last_decoder_equals_contiguous_decoder(model_pair):
    fast, plain = model_pair
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
    inputs = [z.clone().requires_grad_(True) for _ in range(2)]
    outputs = [model.decoder(x) for model, x in zip((fast, plain), inputs)]
    assert_close(outputs[0], outputs[1], "decoder output")
    assert outputs[0].is_contiguous(), "the decoder hands back a standard-layout tensor"
    weights = torch.randn(outputs[0].shape, generator=torch.Generator().manual_seed(4))
    for out in outputs:
        (out * weights).sum().backward()
    assert_close(inputs[0].grad, inputs[1].grad, "gradient w.r.t. z")
    assert_same_grads(fast.decoder, plain.decoder)


def test_channels_last_model_loss_and_gradients_equal_the_contiguous_model(model_pair, chair_attributes):
    fast, plain = model_pair
    generator = torch.Generator().manual_seed(5)
    frames = torch.rand(2, 3, 3, 32, 32, generator=generator)
    labels = random_labels(2, 3, chair_attributes, generator=generator)
    noise = torch.randn(2, 3, 16, generator=generator)
    losses = [model.loss(frames, labels, noise=noise) for model in (fast, plain)]
    assert_close(losses[0].total, losses[1].total, "loss")
    for terms in losses:
        terms.total.backward()
    assert_same_grads(fast, plain)


def test_benchmark_quick_mode_runs_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
           "VIDEOVAE_PLUGINS": ""}
    docs = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--threads", "1", "--matmul-size", "256", "--docs", str(docs)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert {"variant", "command", "date", "machine", "environment", "model", "options", "training", "generation",
            "targets", "meets_targets", "bf16", "bf16_over_fp32", "bf16_paired", "layers"} <= set(result)
    native = result["machine"]["native_bf16"] is True
    runs = [result] + ([result["bf16"]] if native else [])
    assert result["options"]["precisions"] == (["fp32", "bf16"] if native else ["fp32"])
    assert (result["bf16"] is not None) == native and (result["bf16_over_fp32"] is not None) == native
    if native:  # both precisions turn by turn in one process
        assert set(result["bf16_paired"]) == {"training_iteration", "generate_attributes", "generate_batch1"}
        assert all(p["fp32_seconds"] > 0 and p["bf16_speedup"] > 0 for p in result["bf16_paired"].values())
        assert result["targets"]["training_bf16_speedup"]["value"] == result["bf16_paired"]["training_iteration"][
            "bf16_speedup"]
    for precision, run in zip(("fp32", "bf16"), runs):
        training, generation = run["training"], run["generation"]
        assert training["precision"] == generation["precision"] == precision
        for key in ("frames_per_s", "flops_per_iteration", "achieved_gflops", "matmul_gflops", "achieved_over_matmul",
                    "peak_rss_mb"):
            assert training[key] > 0, key
        for key in ("attributes_videos_per_s", "first_frame_videos_per_s", "attributes_flops_per_call",
                    "attributes_gflops_needed_for_target", "batch1_seconds_per_video", "peak_rss_mb"):
            assert generation[key] > 0, key
    assert set(result["meets_targets"]) == set(result["targets"]) == {
        "training_achieved_over_matmul", "generation_attributes_videos_per_s", "generation_first_frame_videos_per_s",
        "generation_batch1_videos_per_s", "training_peak_rss_gb", *(["training_bf16_speedup"] if native else [])}
    assert all(isinstance(v, bool) for v in result["meets_targets"].values())
    assert result["options"] == {"threads": 1, "channels_last": True, "compile": False, "quick": True,
                                 "precisions": result["options"]["precisions"]}
    assert isinstance(result["machine"]["cpu_flags"], list)
    assert [row["layer"] for row in result["layers"]][:2] == ["encoder.convs.0", "encoder.convs.2"]
    assert len(result["layers"]) == 12 and all(row["fp32_ms"] > 0 and row["gflop"] > 0 for row in result["layers"])
    assert [row["layer"] for row in result["layers"] if row["kept_fp32"]] == ["decoder.deconvs.0", "decoder.deconvs.4"]
    assert not docs.exists(), "only --update-docs writes the docs"
    # the docs tables: this record beside one written before precisions, batch-1 latency and layers existed
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import report
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    old = json.loads(json.dumps(result))
    for key in ("bf16", "bf16_over_fp32", "bf16_paired", "layers"):
        del old[key]
    del old["machine"]["cpu_flags"], old["generation"]["batch1_seconds_per_video"]
    old["command"] += " --no-channels-last"
    report.update_docs(docs, old)
    report.update_docs(docs, result)
    text = docs.read_text()
    assert len(report.read_records(text)) == 2
    assert "### Per layer: " in text and "| `decoder.deconvs.4` | deconv 20→10 k7 s3 |" in text
    assert ("| bf16 |" in text) == native and ("turn by turn in one process" in text) == native
