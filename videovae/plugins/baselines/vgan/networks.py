"""The networks of VGAN (Vondrick et al., NIPS 2016, "Generating Videos with Scene Dynamics", Sec. 2.1-2.2).

* :class:`TwoStreamGenerator` (Sec. 2.1, Fig. 1): a noise code drives a *foreground* stream of 3-D transposed
  convolutions (space-time up-sampling, BatchNorm3d + ReLU) that ends in a tanh video f and a sigmoid mask m of
  one channel, and a *background* stream of 2-D transposed convolutions that ends in a static tanh image b; the
  video is m ⊙ f + (1 − m) ⊙ b, b repeated over time.
* :class:`VideoDiscriminator` (Sec. 2.2): 3-D convolutions (LeakyReLU 0.2, BatchNorm3d except after the first)
  down to one logit per clip.
* :class:`FrameEncoder2d` (Sec. 5, future generation): 2-D convolutions of a frame to the code that replaces the
  noise of both streams.

Sizes follow DCGAN as the paper does: from 4×4 (and ``time`` frames) every layer doubles height, width and time
(:func:`~videovae.plugins.baselines.gan.doublings`), the channels halve from ``width · 2^(n−1)`` to ``width``; the
paper's 64×64×32 generator is ``width=64``, ``time=2``, four doublings. All networks work in [-1, 1].
"""

from __future__ import annotations

from torch import Tensor, nn


def _up(cls, norm, in_channels: int, out_channels: int, last: bool = False) -> list[nn.Module]:
    """One ×2 transposed convolution (kernel 4, stride 2, padding 1), with norm + ReLU unless ``last``."""
    layers: list[nn.Module] = [cls(in_channels, out_channels, 4, stride=2, padding=1, bias=last)]
    return layers if last else layers + [norm(out_channels), nn.ReLU(inplace=True)]


class TwoStreamGenerator(nn.Module):
    """Noise codes ``[B, code_dim]`` → (video ``[B, C, time·2^n, S, S]`` in [-1, 1], mask ``[B, 1, T, S, S]``
    in [0, 1], background ``[B, C, S, S]`` in [-1, 1]) with S = 4·2^n."""

    def __init__(self, code_dim: int, channels: int, width: int, doublings: int, time: int):
        super().__init__()
        top = width * 2 ** (doublings - 1)
        widths = [top // 2 ** i for i in range(doublings)]  # top … width
        # foreground: code → [top, time, 4, 4] → … → [width, T/2, S/2, S/2], then the video and mask heads
        trunk: list[nn.Module] = [nn.ConvTranspose3d(code_dim, top, (time, 4, 4), bias=False), nn.BatchNorm3d(top),
                                  nn.ReLU(inplace=True)]
        for a, b in zip(widths, widths[1:]):
            trunk += _up(nn.ConvTranspose3d, nn.BatchNorm3d, a, b)
        self.foreground = nn.Sequential(*trunk)
        self.video = nn.Sequential(*_up(nn.ConvTranspose3d, None, width, channels, last=True), nn.Tanh())
        self.mask = nn.Sequential(*_up(nn.ConvTranspose3d, None, width, 1, last=True), nn.Sigmoid())
        # background: the same stack in 2-D, one static image
        background: list[nn.Module] = [nn.ConvTranspose2d(code_dim, top, 4, bias=False), nn.BatchNorm2d(top),
                                       nn.ReLU(inplace=True)]
        for a, b in zip(widths, widths[1:]):
            background += _up(nn.ConvTranspose2d, nn.BatchNorm2d, a, b)
        background += [*_up(nn.ConvTranspose2d, None, width, channels, last=True), nn.Tanh()]
        self.background = nn.Sequential(*background)

    def forward(self, code: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        features = self.foreground(code[:, :, None, None, None])
        foreground, mask = self.video(features), self.mask(features)
        background = self.background(code[:, :, None, None])
        video = mask * foreground + (1 - mask) * background[:, :, None]
        return video, mask, background


def _down(cls, norm, in_channels: int, out_channels: int, kernel, stride, padding, first: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [cls(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=first)]
    return layers + ([] if first else [norm(out_channels)]) + [nn.LeakyReLU(0.2, inplace=True)]


def _time_halvings(length: int, doublings: int) -> tuple[list[tuple[int, int, int]], int]:
    """Per layer (kernel, stride, padding) along time: halve while more than one frame is left, then keep it;
    and the frames left at the end."""
    shapes = []
    for _ in range(doublings):
        if length > 1:
            shapes.append((4, 2, 1))
            length = (length + 2 - 4) // 2 + 1
        else:
            shapes.append((1, 1, 0))
    return shapes, length


class VideoDiscriminator(nn.Module):
    """Clips ``[B, C, length, S, S]`` in [-1, 1] → logits ``[B]`` (real > 0)."""

    def __init__(self, channels: int, width: int, doublings: int, length: int):
        super().__init__()
        times, left = _time_halvings(length, doublings)
        layers: list[nn.Module] = []
        in_channels = channels
        for i, (kt, st, pt) in enumerate(times):
            out_channels = width * 2 ** i
            layers += _down(nn.Conv3d, nn.BatchNorm3d, in_channels, out_channels, (kt, 4, 4), (st, 2, 2), (pt, 1, 1),
                            first=i == 0)
            in_channels = out_channels
        layers.append(nn.Conv3d(in_channels, 1, (left, 4, 4)))  # [.., left, 4, 4] → one logit
        self.net = nn.Sequential(*layers)

    def forward(self, clips: Tensor) -> Tensor:
        return self.net(clips).flatten()


class FrameEncoder2d(nn.Module):
    """Frames ``[B, C, S, S]`` in [-1, 1] → codes ``[B, code_dim]``: the discriminator's stack in 2-D."""

    def __init__(self, channels: int, width: int, doublings: int, code_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = channels
        for i in range(doublings):
            out_channels = width * 2 ** i
            layers += _down(nn.Conv2d, nn.BatchNorm2d, in_channels, out_channels, 4, 2, 1, first=i == 0)
            in_channels = out_channels
        layers.append(nn.Conv2d(in_channels, code_dim, 4))
        self.net = nn.Sequential(*layers)

    def forward(self, frames: Tensor) -> Tensor:
        return self.net(frames).flatten(1)


__all__ = ["FrameEncoder2d", "TwoStreamGenerator", "VideoDiscriminator"]
