"""The demo's codec alone, trained as a plain autoencoder (no φ_τ, no sampling, no KL) on moving-sprites frames
(docs/own_data.md, "Why the sprites' outline came late"): how fast can the encoder and decoder learn the sprites'
outlines by themselves? Adam at 1e-3 on the sum of squared errors, 128 frames a step, drawn at random from all
training frames (``frames``) or as 8 clips of 16 frames like the model's batches (``clips``). Prints the test
frames' squared error and writes 16 test frames over their reconstructions.

    PYTHONPATH=. python docs/own_data/codec_autoencoder.py STEPS frames|clips DROPOUT OUT.png
"""
import sys

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


def main():
    steps, batches, dropout, out = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    encoder, decoder = build_codec(dropout)
    data = load_dataset("moving-sprites", None, {"size": 32})
    train = data.split("train")
    clips = torch.stack([train[i][0][:16] for i in range(len(train))])  # [N, 16, C, H, W]
    generator = torch.Generator().manual_seed(0)
    if batches == "frames":
        frames = clips.flatten(0, 1)
        fit(encoder, decoder, lambda: frames[torch.randint(0, len(frames), (128,), generator=generator)], steps)
    else:
        fit(encoder, decoder, lambda: clips[torch.randint(0, clips.shape[0], (8,), generator=generator)].flatten(0, 1), steps)
    test = real_test_clips(data, 16)[0][:16, 8]
    encoder.eval()
    with torch.no_grad():
        decoded = decoder(encoder(test)).clamp(0, 1)
    print(f"test squared error per frame after {steps} steps: {((decoded - test) ** 2).sum((1, 2, 3)).mean():.2f}")
    grid = make_grid(torch.cat([test, decoded]), nrow=16, padding=1, pad_value=1.0)
    save_image(torch.nn.functional.interpolate(grid[None], scale_factor=3, mode="nearest")[0], out)


if __name__ == "__main__":
    main()
