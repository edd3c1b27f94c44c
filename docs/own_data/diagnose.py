"""Issue 21 experiments: why the demo recipe collapses to the background on sparse data, and
which candidate fixes make it learn. Experiment code only; the library is not changed.

It ran against the tree of commit b94f2eb (before the engine redesign: it imports ``videovae.core.model``,
which has since moved to ``videovae.plugins.models``) and is kept as the script behind the numbers of
docs/own_data.md's first tables; ``docs/own_data/measure.py`` measures checkpoints of the current library.

    # train with the current trainer, a candidate objective swapped in, then measure
    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python docs/own_data/diagnose.py train --out RUN \
        --candidate laplace-global --dataset moving-sprites --steps 1500
    # measure any checkpoint (e.g. one written by `videovae train`)
    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python docs/own_data/diagnose.py measure --checkpoint RUN/checkpoint.pt

Candidates patch ``loss_terms`` in :mod:`videovae.engine.trainer` (the trainer's only use of the
objective) and, for learned scales, add the scale's log to the trainer's Adam optimizer:

* ``l1``: the current objective, L1 summed over pixels + β·KL (a Laplace likelihood of unit scale);
* ``laplace-global`` / ``laplace-pixel``: −log Laplace(x; µ, b) with a learned scale b, one for all
  pixels or one per pixel (so β = 1 is the ELBO and the weight of the KL is fitted, not tuned);
* ``gaussian-global``: −log N(x; µ, σ²) with a learned global σ (its per-pixel optimum without
  information is the mean frame, not the median);
* ``laplace-optimal`` / ``gaussian-optimal``: the same likelihoods with the scale set each step to the
  batch's maximum-likelihood value (b = mean |x − µ|, σ² = mean (x − µ)², not back-propagated), since
  a learned log-scale moves only about lr per step under Adam (1e-3 to 2e-3: far too slow to reach
  b ≈ 0.03 in a short run);
* ``free-bits``: L1 + β·Σ_d max(KL_d, λ) with λ = 0.05 nats per dimension (KL_d batch-averaged).

Writes ``measure.json`` and ``samples.png`` (rows: real test clip, reconstruction, generated clip
with the same labels) into the run folder.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

import videovae.engine.trainer as trainer_module
from videovae.core.model import LossTerms
from videovae.engine.checkpoint import model_from_checkpoint, read_checkpoint
from videovae.engine.generation import generate_videos
from videovae.engine.trainer import TrainConfig, Trainer, load_dataset
from videovae.io.video import save_grid_png

FREE_BITS = 0.05
CANDIDATES = ("l1", "laplace-global", "laplace-pixel", "gaussian-global", "laplace-optimal", "gaussian-optimal",
              "free-bits")


def kl_per_dim(output) -> torch.Tensor:
    """KL(q ‖ p) per latent dimension ``[B, T, D]`` (the summand of Eq. 9's KL)."""
    q, p = output.posterior, output.prior
    return 0.5 * (torch.exp(q.logvar - p.logvar) + (q.mean - p.mean).pow(2) * torch.exp(-p.logvar) - 1.0
                  - (q.logvar - p.logvar))


def candidate_loss(name: str, frame_shape):
    """``(loss_terms replacement, extra parameters)`` for a candidate objective."""
    extra: list[torch.nn.Parameter] = []
    if name in ("laplace-global", "gaussian-global"):
        extra = [torch.nn.Parameter(torch.zeros(()))]  # log scale, starts at the unit scale of L1
    elif name == "laplace-pixel":
        extra = [torch.nn.Parameter(torch.zeros(frame_shape))]

    def terms(output, frames, kl_weight=1.0):
        error = output.reconstruction - frames
        l1 = error.abs().flatten(2).sum(-1).mean()
        kl = output.kl.mean()
        if name == "l1":
            return LossTerms(l1 + kl_weight * kl, l1, kl)
        if name == "free-bits":
            clamped = kl_per_dim(output).mean((0, 1)).clamp(min=FREE_BITS).sum()
            return LossTerms(l1 + kl_weight * clamped, l1, kl)
        if name == "laplace-optimal":  # the scale that maximises this batch's likelihood, b = mean |x - µ|
            b = error.abs().mean().detach().clamp(min=1e-3)
            nll = (error.abs() / b + torch.log(2 * b)).flatten(2).sum(-1).mean()
            return LossTerms(nll + kl_weight * kl, nll, kl)
        if name == "gaussian-optimal":  # σ² = mean (x - µ)² of this batch
            var = error.pow(2).mean().detach().clamp(min=1e-6)
            nll = (0.5 * error.pow(2) / var + 0.5 * torch.log(2 * math.pi * var)).flatten(2).sum(-1).mean()
            return LossTerms(nll + kl_weight * kl, nll, kl)
        log_scale = extra[0]
        if name == "gaussian-global":
            nll = 0.5 * error.pow(2) * torch.exp(-2 * log_scale) + log_scale + 0.5 * math.log(2 * math.pi)
        else:
            nll = error.abs() * torch.exp(-log_scale) + log_scale + math.log(2.0)
        nll = nll.flatten(2).sum(-1).mean()
        return LossTerms(nll + kl_weight * kl, nll, kl)

    return terms, extra


@torch.no_grad()
def measure(model, dataset, *, seed: int = 0, samples_png: Path | None = None) -> dict:
    """Brightest pixels, L1 vs mean/median-frame predictors, KL per dimension, decoder output."""
    model.eval()
    train = dataset.split("train")
    train_frames = torch.stack([train[i][0] for i in range(len(train))]).flatten(0, 1)  # [N*T, C, H, W]
    mean_frame, median_frame = train_frames.mean(0), train_frames.median(0).values
    test = dataset.split("test")
    frames, labels = (torch.stack(x) for x in zip(*(test[i] for i in range(min(len(test), 64)))))
    output = model(frames, labels, noise=torch.zeros(*frames.shape[:2], model.config.latent_dim))
    recon = output.reconstruction
    foreground = frames.amax(2, keepdim=True).expand_as(frames) > 0.1

    def l1(prediction):  # per frame, summed over pixels (the training loss's scale), and on foreground pixels
        error = (prediction.expand_as(frames) - frames).abs()
        return {"per_frame": round(error.flatten(2).sum(-1).mean().item(), 2),
                "foreground_per_pixel": round(error[foreground].mean().item(), 4)}

    kl = kl_per_dim(output).mean((0, 1))
    videos, _ = generate_videos(model, num=len(frames), length=frames.shape[1], labels=labels,
                                label_table=dataset.label_rows("train"), seed=seed)
    if samples_png is not None:
        shown = 6
        rows = torch.stack([v for k in range(shown) for v in (frames[k], recon[k].clamp(0, 1), videos[k])])
        save_grid_png(rows, samples_png)
    return {
        "l1": {"model": l1(recon), "mean_frame": l1(mean_frame), "median_frame": l1(median_frame),
               "black": l1(torch.zeros_like(mean_frame))},
        "brightest_255": {"real": round(255 * frames.max().item()),
                          "reconstruction": round(255 * recon.clamp(0, 1).max().item()),
                          "generated": round(255 * videos.max().item()),
                          "generated_p99_mean": round(255 * videos.flatten(1).quantile(0.999, dim=1).mean().item())},
        "generated_spread": round(videos.std(0).mean().item(), 4),
        "kl_per_frame": round(kl.sum().item(), 3),
        "active_dims_kl_gt_0.01": int((kl > 0.01).sum()),
        "latent_dim": int(kl.numel()),
        "kl_top5": [round(v, 3) for v in kl.sort(descending=True).values[:5].tolist()],
        "decoder_output": {"mean": round(recon.mean().item(), 4), "std_over_pixels": round(recon.std().item(), 4),
                           "std_over_clips": round(recon.std(0).mean().item(), 4),
                           "min": round(recon.min().item(), 3), "max": round(recon.max().item(), 3)},
    }


def grad_norms(model, dataset, loss, batch_size: int = 8) -> dict:
    """Per-part gradient norms of ``loss`` on one training batch."""
    model.train()
    train = dataset.split("train")
    frames, labels = (torch.stack(x) for x in zip(*(train[i] for i in range(batch_size))))
    model.zero_grad()
    output = model(frames, labels, noise=torch.zeros(*frames.shape[:2], model.config.latent_dim))
    loss(output, frames, 1.0).total.backward()
    norms = {}
    for name, module in model.named_children():
        grads = [p.grad.norm() for p in module.parameters() if p.grad is not None]
        if grads:
            norms[name] = round(torch.stack(grads).norm().item(), 3)
    model.zero_grad()
    return norms


def train(args) -> None:
    out = Path(args.out)
    options = {"num_objects": 30, "size": 32} if args.dataset == "synthetic-chairs" else {"size": 32}  # as the demo
    config = TrainConfig(preset="demo", dataset=args.dataset, dataset_options=options,
                         steps=args.steps, batch_size=8, lr=args.lr, kl_warmup=args.kl_warmup,
                         kl_weight=args.kl_weight, threads=1, log_every=10, checkpoint_every=args.checkpoint_every,
                         time_limit=args.time_limit, device="cpu")
    trainer = Trainer(config, out, progress=False)
    loss, extra = candidate_loss(args.candidate, trainer.model.config.frame_shape)
    trainer_module.loss_terms = loss
    if extra:
        trainer.optimizer = torch.optim.Adam([*trainer.model.parameters(), *extra], lr=config.lr)
    started = time.monotonic()
    result = trainer.run()
    seconds = time.monotonic() - started
    report = {"candidate": args.candidate, "config": config.to_dict(), "steps": result.step,
              "train_seconds": round(seconds, 1), "last_history": result.history[-1]}
    if extra:
        report["learned_scale"] = {"mean": round(torch.exp(extra[0]).mean().item(), 4),
                                   "min": round(torch.exp(extra[0]).min().item(), 4)}
    report["grad_norms"] = grad_norms(trainer.model, trainer.dataset, loss)
    report.update(measure(trainer.model, trainer.dataset, samples_png=out / "samples.png"))
    (out / "measure.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def measure_checkpoint(args) -> None:
    payload = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(payload)
    data = payload["dataset"]
    dataset = load_dataset(data["name"], data.get("root"), dict(data.get("options", {})))
    loss, _ = candidate_loss("l1", model.config.frame_shape)
    out, stem = Path(args.checkpoint).parent, Path(args.checkpoint).stem
    report = {"checkpoint": str(args.checkpoint), "step": int(payload["step"]),
              "last_history": payload.get("history", [{}])[-1], "grad_norms": grad_norms(model, dataset, loss)}
    report.update(measure(model, dataset, samples_png=out / f"samples_{stem}.png"))
    (out / f"measure_{stem}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--candidate", choices=CANDIDATES, default="l1")
    t.add_argument("--dataset", default="moving-sprites")
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--kl-warmup", type=int, default=200)
    t.add_argument("--kl-weight", type=float, default=1.0)
    t.add_argument("--time-limit", type=float, default=660.0)
    t.add_argument("--checkpoint-every", type=int, default=100)
    m = sub.add_parser("measure")
    m.add_argument("--checkpoint", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train(args) if args.command == "train" else measure_checkpoint(args)


if __name__ == "__main__":
    main()
