"""Is the sideways drift of continued sprites the prior's one-step prediction, or errors that compound once the
model feeds on its own frames? (docs/own_data.md, "Teacher-forced against free-running prediction").

For the test clips of a moving-sprites checkpoint, three ways of predicting frame t (t = 1..T-1), each decoding
the prior's *mean* µ_p (Eq. 5) so that no sampling noise enters:

* ``teacher``: the LSTM has read the real frames 0..t-1 through the posterior (Eq. 4, 7, 8), as in training;
* ``teacher-reencoded``: as ``teacher``, but the LSTM reads each real frame's reconstruction re-encoded, as
  generation reads its own frames (the distribution shift of re-encoding, without the position errors adding up);
* ``free``: only frame 0 is real (mode iv with the prior's mean): every later input is the model's own frame,
  re-encoded (Sec. 4.2);
* ``reconstruction``: the posterior's own reconstruction of frame t (the codec's error, for scale).

Reported per horizon t: the foreground centroid's error against the real frame t, along and across the commanded
direction (pixels, mean absolute), and the foreground area ratio. Prints JSON.

    PYTHONPATH=. python docs/own_data/exposure.py RUN/checkpoint.pt
"""
import json
import sys
from pathlib import Path

import torch
from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset
from videovae.plugins.datasets.moving_sprites import STEPS
from videovae.plugins.latents.content import decoder_input
sys.path.insert(0, str(Path(__file__).parent))
from motion_checks import centroids


@torch.no_grad()
def predictions(model, frames, labels):
    """``(teacher, free, reconstruction)`` frames ``[N, T, C, H, W]`` (frame 0 of the first two: the posterior's)."""
    batch, length = frames.shape[:2]
    codes = model.attribute_codes(labels)
    # a model with a per-clip content latent (option content_dim) decodes every frame with its clip's c: the mean
    # of q(c | x^(1)), read from the real first frame as a continuation reads it
    content = None if model.content is None else model.content.posterior(model.encoder(frames[:, 0])).mean
    out = {}
    for mode in ("teacher", "teacher-reencoded", "free", "reconstruction"):
        gen = torch.Generator().manual_seed(0)  # the same h^(0) and posterior noise in every mode
        state = model.temporal.initial_state(batch, generator=gen)
        made = []
        for t in range(length):
            hidden = model.temporal.hidden(state)
            psi_q_real = model.latent.residual(model.encoder(frames[:, t]))
            posterior = model.latent.dynamic(model.latent.conditional(psi_q_real, codes[:, t]), hidden)
            if t == 0 or mode == "reconstruction":
                z = posterior.mean
            else:
                z = model.temporal.prior(hidden, codes[:, t]).mean
            frame = model.decoder(decoder_input(z, content)).clamp(0.0, 1.0)
            made.append(frame)
            if mode == "free" and t > 0:
                psi_q, z_in = model.latent.residual(model.encoder(frame)), z
            elif mode == "teacher-reencoded":
                z_in = posterior.rsample(generator=gen)
                psi_q = model.latent.residual(model.encoder(model.decoder(decoder_input(z_in, content)).clamp(0.0, 1.0)))
            else:  # the real frame's posterior drives the LSTM, as in training
                psi_q, z_in = psi_q_real, posterior.rsample(generator=gen)
            state = model.temporal.step(model.sampler.lstm_input(psi_q, z_in), state)
        out[mode] = torch.stack(made, 1)
    return out


def errors(pred, real, direction):
    step = torch.as_tensor(STEPS, dtype=torch.float32)[direction][:, None]  # [N, 1, 2]
    (pp, pa), (rp, ra) = centroids(pred), centroids(real)
    diff = pp - rp
    along = (diff * step).sum(-1).abs()
    across = (diff * step.flip(-1)).sum(-1).abs()
    return along, across, pa / ra.clamp_min(1)


def main():
    torch.set_num_threads(1)
    loaded = load_checkpoint(sys.argv[1])
    info = loaded.checkpoint.dataset
    dataset = load_dataset(info.name, info.root, dict(info.options))
    test = dataset.split("test")
    frames = torch.stack([test[i][0] for i in range(len(test))])
    labels = torch.stack([test[i][1] for i in range(len(test))])
    model = loaded.model.eval()
    direction = labels[:, 0, dataset.attributes.index("direction")].long()
    result = {"checkpoint": sys.argv[1], "step": loaded.step, "clips": len(frames)}
    horizons = (1, 2, 4, 8, frames.shape[1] - 1)
    for mode, pred in predictions(model, frames, labels).items():
        along, across, area = errors(pred, frames, direction)
        result[mode] = {f"t={t}": {"along px": round(float(along[:, t].mean()), 2),
                                   "across px": round(float(across[:, t].mean()), 2),
                                   "area ratio": round(float(area[:, t].mean()), 2)} for t in horizons}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
