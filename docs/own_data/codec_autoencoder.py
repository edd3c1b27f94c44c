"""The demo's codec alone, trained as a plain autoencoder (no φ_τ, no sampling, no KL) on moving-sprites frames
(docs/own_data.md, "Why the sprites' outline came late"): how fast can the encoder and decoder learn the sprites'
outlines by themselves? Adam at 1e-3 on the sum of squared errors, 128 frames a step, drawn at random from all
training frames (``frames``) or as 8 clips of 16 frames like the model's batches (``clips``). Prints the test
frames' squared error and writes 16 test frames over their reconstructions.

    PYTHONPATH=. python docs/own_data/codec_autoencoder.py STEPS frames|clips DROPOUT OUT.png
"""
import sys
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

import videovae
from videovae.engine.data import load_dataset
from videovae.engine.evaluation.protocol import real_test_clips
from videovae.plugins.presets import size_fields


def build_codec(dropout: float, width: int = 1, size: str = "demo"):
    """The demo preset's encoder and decoder (128 features in, 128-d latent out: the same width), or with
    ``size="paper"`` A.4's at 64×64 (512-d), the encoder's dropout ``dropout``, channels and fully connected widths
    times ``width``, drawn from the global generator (each script seeds it where its runs did)."""
    sizes = size_fields(size)
    codec = {key: dict(sizes[key]) for key in ("encoder_options", "decoder_options")}  # A.4's are the codec's defaults
    if width != 1:
        codec = {key: {**options, "channels": [width * c for c in options["channels"]],
                       "fc_dims": [width * c for c in options["fc_dims"]]} for key, options in codec.items()}
    codec["encoder_options"]["dropout"] = dropout
    model = videovae.build_model("videovae", **{**sizes, **codec})
    return model.encoder, model.decoder


def fit(encoder, decoder, draw, steps: int) -> None:
    """``steps`` of Adam at 1e-3 on the sum of squared errors of the frames ``draw()`` returns each step."""
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    for _ in range(steps):
        pick = draw()
        loss = ((decoder(encoder(pick)) - pick) ** 2).sum((1, 2, 3)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def refuse(message: str) -> None:
    """Bad input: one line on stderr, naming the script, and exit status 2, before anything is trained or written."""
    print(f"{Path(sys.argv[0]).name}: {message}", file=sys.stderr)
    sys.exit(2)


#: how a step's 128 frames are drawn: at random from all training frames, or as 8 whole clips of 16 frames
BATCHES = ("frames", "clips")


def batch_drawer(clips: torch.Tensor, batches: str, generator: torch.Generator):
    """The ``draw`` for :func:`fit` over training clips ``[N, 16, C, H, W]``: 128 frames drawn at random from all of
    them (``"frames"``) or 8 clips drawn at random, flattened (``"clips"``: 8 objects a step, as the model's batches)."""
    frames = clips.flatten(0, 1)
    if batches == "frames":
        return lambda: frames[torch.randint(0, len(frames), (128,), generator=generator)]
    return lambda: clips[torch.randint(0, clips.shape[0], (8,), generator=generator)].flatten(0, 1)


def main():
    steps, batches, dropout, out = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    if batches not in BATCHES:
        refuse(f"the second argument must be frames or clips, got {batches!r}")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    encoder, decoder = build_codec(dropout)
    data = load_dataset("moving-sprites", None, {"size": 32})
    train = data.split("train")
    clips = torch.stack([train[i][0][:16] for i in range(len(train))])  # [N, 16, C, H, W]
    fit(encoder, decoder, batch_drawer(clips, batches, torch.Generator().manual_seed(0)), steps)
    test = real_test_clips(data, 16)[0][:16, 8]
    encoder.eval()
    with torch.no_grad():
        decoded = decoder(encoder(test)).clamp(0, 1)
    print(f"test squared error per frame after {steps} steps: {((decoded - test) ** 2).sum((1, 2, 3)).mean():.2f}")
    grid = make_grid(torch.cat([test, decoded]), nrow=16, padding=1, pad_value=1.0)
    save_image(torch.nn.functional.interpolate(grid[None], scale_factor=3, mode="nearest")[0], out)


if __name__ == "__main__":
    main()
