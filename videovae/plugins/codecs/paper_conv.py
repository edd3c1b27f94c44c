"""The frame encoder φ_enc and decoder φ_dec of the paper's appendix A.4.

Encoder: conv(9, 10, s1) → conv(7, 20, s3) → conv(5, 40, s1) → conv(3, 80, s3)
→ dropout(0.5) → fc(1280, 1024) → ReLU → fc(1024, 512). The convolutions have no
padding, so a 64×64 frame leaves an 80×4×4 = 1280 map, as in the paper. The paper
leaves the activations after the convolutions unstated: a leaky ReLU (slope 0.2)
follows each hidden layer by default (``activation="relu"`` for plain ReLU); with
plain ReLUs units die early in training and the decoder falls back to the mean frame.

Decoder: the exact mirror: fc(512, 1024) → ReLU → fc(1024, 1280) → transposed
convolutions with kernels 3, 5, 7, 9, strides 3, 1, 3, 1 and channels
80 → 40 → 20 → 10 → C, whose output padding is chosen so that each layer
restores the size of the encoder layer it mirrors. The output is the mean µ_x
of the output distribution (Eq. 6), linear (no sigmoid: with the L1 loss of
Eq. 9 a sigmoid saturates on the bright background and stops learning); it
starts at mid-grey and generation clamps it to [0, 1].

Every size is an option, so the same code builds the tiny models of the tests.
``channels_last`` (default on) runs the convolutions in NHWC memory layout: 1.35× the
training throughput of NCHW on this project's CPU (docs/benchmarks.md); the results
equal the NCHW path up to summation order (tests/test_fast_paths.py).
The encoder and the decoder are registered as two parts ("paper-conv",
"paper-deconv") so either can be swapped on its own.
"""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn

from ...core.errors import ConfigError
from ...core.mixed_precision import keep_float32
from ...core.validators import boolean, choice
from ...core.interfaces import BuildContext, FrameDecoder, FrameEncoder
from ...registry import hookimpl


def _int_tuple(value) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"expected a list of positive integers, got {value!r}")
    out = tuple(value)
    if not out or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in out):
        raise ConfigError(f"expected a list of positive integers, got {value!r}")
    return out


@attrs.frozen
class ConvCodecOptions:
    """Layer sizes shared by the encoder and its mirrored decoder (defaults: A.4)."""

    channels: tuple[int, ...] = attrs.field(default=(10, 20, 40, 80), converter=_int_tuple)
    kernels: tuple[int, ...] = attrs.field(default=(9, 7, 5, 3), converter=_int_tuple)
    strides: tuple[int, ...] = attrs.field(default=(1, 3, 1, 3), converter=_int_tuple)
    fc_dims: tuple[int, ...] = attrs.field(default=(1024,), converter=_int_tuple)
    dropout: float = attrs.field(default=0.5, converter=float)
    activation: str = attrs.field(default="leaky_relu", validator=choice("relu", "leaky_relu"))
    channels_last: bool = attrs.field(default=True, validator=boolean)
    norm: str = attrs.field(default="none", validator=choice("none", "group"))

    def normalization(self, channels: int) -> list[nn.Module]:
        """GroupNorm (groups of about 8 channels) after a hidden convolution, when asked for."""
        if self.norm == "none":
            return []
        return [nn.GroupNorm(max(1, channels // 8), channels)]

    def nonlinearity(self) -> nn.Module:
        return nn.ReLU() if self.activation == "relu" else nn.LeakyReLU(0.2)

    def __attrs_post_init__(self):
        if not len(self.channels) == len(self.kernels) == len(self.strides):
            raise ConfigError(
                f"channels, kernels and strides need one entry per layer, got {len(self.channels)}, {len(self.kernels)}, {len(self.strides)}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

    def spatial_sizes(self, frame_size: int) -> list[int]:
        """Map sizes before and after each convolution: [64, 56, 17, 13, 4] for A.4."""
        sizes = [frame_size]
        for k, s in zip(self.kernels, self.strides):
            out = (sizes[-1] - k) // s + 1
            if out < 1:
                raise ConfigError(
                    f"frame size {frame_size} is too small for kernels {self.kernels} with strides {self.strides}"
                )
            sizes.append(out)
        return sizes


def init_relu_layers(module: nn.Module) -> None:
    """He initialisation (fan-in, gain √2) for every convolution and linear layer.

    PyTorch's default initialisation shrinks activations by about √3 per layer; over
    the 12 layers of encoder + decoder the decoded frame no longer depends on its
    latent and training stalls on the mean image. For a transposed convolution an
    output pixel receives ``in_channels · (kernel / stride)²`` inputs, which is the
    fan-in used here.
    """
    for layer in module.modules():
        if isinstance(layer, nn.ConvTranspose2d):
            k, s = layer.kernel_size[0], layer.stride[0]
            fan_in = layer.in_channels * max(1.0, k / s) ** 2
            nn.init.normal_(layer.weight, 0.0, (2.0 / fan_in) ** 0.5)
        elif isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        else:
            continue
        nn.init.zeros_(layer.bias)


#: transposed convolutions with a stride of at least this stay float32 under ``--precision bf16``
ISLAND_STRIDE = 3


def stays_float32(layer: nn.Module) -> bool:
    """Whether a codec layer is an fp32 island under ``--precision bf16``: the transposed convolutions of stride 3
    or more (A.4's 80→40 and 20→10), which oneDNN ran slower in bf16 than in fp32 on the CPU measured (1.6-2.1x
    at one thread, fp32 and bf16 in turn; far more next to a busy core), where A.4's other layers ran at
    0.47-0.75x the fp32 time; A.4's training step was 1.40-1.51x fp32's speed with them in fp32 and 1.33-1.38x
    without (0.45x next to two busy processes). The demo's stride-2 ones are not kept: its step was 1.35-1.42x
    fp32's with them in bf16 and 1.07-1.29x with them in fp32. No layer was less accurate in bf16 than another
    (relative error of output and input gradient about 3e-3 each). docs/benchmarks.md has the per-layer tables
    and the end-to-end measurements (benchmarks/islands.py)."""
    return isinstance(layer, nn.ConvTranspose2d) and max(layer.stride) >= ISLAND_STRIDE


def keep_islands(layers: nn.Module) -> None:
    for layer in layers.modules():
        if stays_float32(layer):
            keep_float32(layer)


class PaperConvEncoder(FrameEncoder):
    """φ_enc of A.4: frames ``[N, C, H, W]`` → features ``[N, feature_dim]`` (512 by default)."""

    def __init__(self, context: BuildContext, options: ConvCodecOptions):
        super().__init__()
        channels, size, _ = context.frame_shape
        self.frame_shape = tuple(context.frame_shape)
        sizes = options.spatial_sizes(size)
        layers: list[nn.Module] = []
        in_ch = channels
        for out_ch, k, s in zip(options.channels, options.kernels, options.strides):
            layers += [nn.Conv2d(in_ch, out_ch, k, stride=s), *options.normalization(out_ch), options.nonlinearity()]
            in_ch = out_ch
        self.convs = nn.Sequential(*layers)
        flat = in_ch * sizes[-1] ** 2
        dims = (flat, *options.fc_dims, context.latent_dim)
        fcs: list[nn.Module] = [nn.Flatten(), nn.Dropout(options.dropout)]
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            fcs.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                fcs.append(options.nonlinearity())
        self.head = nn.Sequential(*fcs)
        self.feature_dim = context.latent_dim
        self.memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
        init_relu_layers(self)
        self.convs.to(memory_format=self.memory_format)
        keep_islands(self.convs)

    def forward(self, frames: Tensor) -> Tensor:
        self.check_frames(frames)
        return self.head(self.convs(frames.contiguous(memory_format=self.memory_format)))


class PaperConvDecoder(FrameDecoder):
    """φ_dec of A.4: latents ``[N, latent_dim]`` → µ_x ``[N, C, H, W]`` (Eq. 6)."""

    def __init__(self, context: BuildContext, options: ConvCodecOptions):
        super().__init__()
        channels, size, _ = context.frame_shape
        sizes = options.spatial_sizes(size)
        self.map_shape = (options.channels[-1], sizes[-1], sizes[-1])
        dims = (context.latent_dim, *options.fc_dims, options.channels[-1] * sizes[-1] ** 2)
        fcs: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            fcs += [nn.Linear(a, b), options.nonlinearity()]
        self.head = nn.Sequential(*fcs)
        layers: list[nn.Module] = []
        out_channels = (channels, *options.channels[:-1])
        for i in reversed(range(len(options.channels))):
            k, s = options.kernels[i], options.strides[i]
            natural = (sizes[i + 1] - 1) * s + k
            layers.append(
                nn.ConvTranspose2d(options.channels[i], out_channels[i], k, stride=s, output_padding=sizes[i] - natural)
            )
            if i > 0:
                layers += [*options.normalization(out_channels[i]), options.nonlinearity()]
        self.deconvs = nn.Sequential(*layers)
        init_relu_layers(self)
        nn.init.constant_(self.deconvs[-1].bias, 0.5)  # start mid-grey rather than black
        self.memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
        self.deconvs.to(memory_format=self.memory_format)
        keep_islands(self.deconvs)

    def forward(self, z: Tensor) -> Tensor:
        x = self.head(z).unflatten(1, self.map_shape).contiguous(memory_format=self.memory_format)
        return self.deconvs(x).contiguous()


@hookimpl
def register_encoders(register):
    register("paper-conv", PaperConvEncoder, options=ConvCodecOptions,
             description="A.4 convolutional frame encoder (kernels 9/7/5/3)")


@hookimpl
def register_decoders(register):
    register("paper-deconv", PaperConvDecoder, options=ConvCodecOptions,
             description="A.4 mirrored transposed-convolution decoder")
