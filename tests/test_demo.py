"""The demo's checks and sample strips, and the one training recipe that the demo, `videovae train` and
examples/compare_baselines.py share."""

import torch

from videovae import VideoModel, build_model
from videovae.engine.demo import DEMO_CONFIG, real_clips, rotation_and_identity_checks, sample_and_check
from videovae.engine.train_config import TrainConfig
from videovae.plugins.datasets.synthetic_chairs import SyntheticChairs

from conftest import compare_baselines


def chairs():
    return SyntheticChairs(num_objects=3, size=32, length=6)


def test_real_clips_pass_both_checks_and_reversed_ones_fail_the_direction():
    data = chairs()
    clips = real_clips(data)
    keys = sorted(clips)
    videos = torch.stack([clips[k] for k in keys])
    labels = torch.tensor(keys, dtype=torch.float32)[:, None, :].expand(-1, videos.shape[1], -1)
    assert rotation_and_identity_checks(videos, labels, clips) == {
        "rotation_direction_correct": 1.0, "nearest_chair_correct": 1.0, "videos": len(keys)}
    flipped = labels.clone()
    flipped[..., 2] = 1 - flipped[..., 2]  # every clip commanded the other way round
    checks = rotation_and_identity_checks(videos, flipped, clips)
    assert checks["rotation_direction_correct"] == 0.0


def test_sample_and_check_writes_both_strips_and_scores_every_generated_clip(tmp_path):
    data = chairs()
    model = build_model("tiny", attributes=data.attributes).eval()
    checks = sample_and_check(model, data, None, tmp_path, shown=2)
    assert set(checks) == {"first_frame", "attributes_only"}
    for mode in checks.values():
        assert mode["videos"] == 4  # two chairs, each turned both ways
        assert 0.0 <= mode["rotation_direction_correct"] <= 1.0 and 0.0 <= mode["nearest_chair_correct"] <= 1.0
    for name in ("first_frame.png", "first_frame.gif", "attributes_only.png", "attributes_only.gif"):
        assert (tmp_path / name).stat().st_size > 0


def test_the_demo_and_compare_baselines_train_with_the_default_recipe():
    recipe = ("steps", "batch_size", "lr", "kl_weight", "kl_warmup", "grad_clip", "spike_clip")
    default = TrainConfig()
    assert {k: getattr(DEMO_CONFIG, k) for k in recipe} == {k: getattr(default, k) for k in recipe}
    assert (default.lr, default.batch_size, default.kl_warmup, default.steps) == (None, 8, 200, 3000)
    assert VideoModel.default_lr == 1e-3  # what lr None means for the VAEs
    compare = compare_baselines()
    args = compare.parse(["--out", "x"])
    assert (args.steps, args.batch_size, args.lr, args.kl_weight, args.kl_warmup, args.grad_clip, args.spike_clip) == \
        tuple(getattr(default, k) for k in recipe)
