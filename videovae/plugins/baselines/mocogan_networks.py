"""MoCoGAN's networks (Tulyakov et al., CVPR 2018, Sec. 3): the DCGAN image generator G_I, the patch image
discriminator D_I and the 3-D convolutional video discriminator D_V with its category head (Sec. 3.1); the
model that composes them is :mod:`.mocogan`. Depth follows the frame size (:func:`.gan.doublings`: 4×4 to
the frame size, ×2 a layer), widths the ``width`` given (:func:`.gan.base_width`)."""

from __future__ import annotations

from torch import Tensor, nn

from . import gan


def _down2d(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm), *([nn.BatchNorm2d(cout)] if norm else []),
            nn.LeakyReLU(0.2, inplace=True)]


def _down3d(cin: int, cout: int, norm: bool) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, (3, 4, 4), (1, 2, 2), (1, 1, 1), bias=not norm),
            *([nn.BatchNorm3d(cout)] if norm else []), nn.LeakyReLU(0.2, inplace=True)]


class ImageGenerator(nn.Module):
    """G_I: codes ``[N, D]`` → frames ``[N, C, S, S]`` in [−1, 1] (DCGAN: 4×4, then ×2 per layer, tanh)."""

    def __init__(self, code_dim: int, channels: int, frame_size: int, width: int):
        super().__init__()
        count = gan.doublings(frame_size, "mocogan")
        widths = [width * 2 ** i for i in reversed(range(count))]  # e.g. 512, 256, 128, 64 at 64×64
        layers: list[nn.Module] = [nn.ConvTranspose2d(code_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, codes: Tensor) -> Tensor:
        return self.net(codes[:, :, None, None])


class ImageDiscriminator(nn.Module):
    """D_I: frames ``[N, C, S, S]`` in [−1, 1] → patch logits ``[N, 4·4]`` (one per 4×4 cell of the last map)."""

    def __init__(self, channels: int, frame_size: int, width: int):
        super().__init__()
        count = gan.doublings(frame_size, "mocogan")
        widths = [channels] + [width * 2 ** i for i in range(count - 1)]
        layers = [m for i, (cin, cout) in enumerate(zip(widths, widths[1:])) for m in _down2d(cin, cout, i > 0)]
        self.net = nn.Sequential(*layers, nn.Conv2d(widths[-1], 1, 4, 2, 1))

    def forward(self, frames: Tensor) -> Tensor:
        return self.net(frames).flatten(1)


class VideoDiscriminator(nn.Module):
    """D_V: clips ``[B, T, C, S, S]`` in [−1, 1] → (real/fake logit ``[B]``, category logits ``[B, K]``): 3-D
    convolutions down to 4×4 (time kept), each head a (1, 4, 4) convolution averaged over time."""

    def __init__(self, channels: int, frame_size: int, width: int, classes: int):
        super().__init__()
        count = gan.doublings(frame_size, "mocogan")
        widths = [channels] + [width * 2 ** i for i in range(count)]
        self.net = nn.Sequential(*[m for i, (cin, cout) in enumerate(zip(widths, widths[1:]))
                                   for m in _down3d(cin, cout, i > 0)])
        self.heads = nn.Conv3d(widths[-1], 1 + classes, (1, 4, 4))

    def forward(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        out = self.heads(self.net(clips.transpose(1, 2))).mean(dim=(2, 3, 4))  # [B, 1 + K]
        return out[:, 0], out[:, 1:]


__all__ = ["ImageDiscriminator", "ImageGenerator", "VideoDiscriminator"]
