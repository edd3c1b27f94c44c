"""``bouncing-balls``: one or two coloured discs bouncing between two walls on black (a stress set).

Every object (one or two balls, their colours, and a size class: ``small`` discs of 5-7 px or
``large`` ones of 10-13 px across at 32×32, scaled with the frame size) has four clips, one per
motion: ``slow`` (1 px per frame at 32×32) or ``fast`` (2.5 px), along the ``horizontal`` or the
``vertical`` axis, reflected elastically at the frame's edges. Three clips of an object go to
training and one to testing, picked at random per object, like the chairs' four sequences.

Attributes: ``size`` (small, large; the look), ``speed`` (slow, fast) and ``axis`` (horizontal,
vertical), the last two motion attributes. Played backwards a bouncing clip is still one with
the same size, speed and axis. Generated in well under a second; identical for a given seed.
"""

from __future__ import annotations

import attrs
import numpy as np

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options
from ...core.validators import choice
from ...registry import hookimpl
from .procedural import GROUP, PALETTE, Generated, ProceduralClips, ProceduralOptions, composite, coverage, pixel_grid, to_uint8

OWNER = "bouncing-balls"
SIZES = ("small", "large")
SPEEDS = ("slow", "fast")
AXES = ("horizontal", "vertical")
RADII = {"small": (2.5, 3.5), "large": (5.0, 6.5)}  # px at 32×32
SPEED_PX = {"slow": 1.0, "fast": 2.5}  # px per frame at 32×32



@attrs.frozen
class BouncingBallsOptions(ProceduralOptions):
    #: which way each ball starts along its axis: ``random`` (either, the default: the labels then fix the axis
    #: but not the direction) or ``forward`` (right or down: the axis label fixes the direction of the motion
    #: too; an ablation of the data, docs/own_data.md)
    start: str = attrs.field(default="random", validator=choice("random", "forward"))


def bounce(start: np.ndarray, velocity: np.ndarray, low: np.ndarray, high: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions ``[N, B, T]`` of points moving at ``velocity`` from ``start``, reflected at ``low``/``high``
    (all ``[N, B]``): a triangle wave of period ``2 (high - low)``."""
    span = (high - low)[..., None]
    q = np.mod(start[..., None] - low[..., None] + velocity[..., None] * t, 2.0 * span)
    return low[..., None] + span - np.abs(q - span)


def generate(options: ProceduralOptions) -> Generated:
    """Clips ``uint8 [N, T, H, W, 3]`` and labels ``[N, 3]`` (size, speed, axis)."""
    o = options
    rng = np.random.default_rng([o.seed, 0])
    n, groups, scale = o.num_clips, o.num_clips // GROUP, o.size / 32.0
    size = np.repeat(rng.integers(0, len(SIZES), groups), GROUP)
    balls = np.repeat(rng.integers(1, 3, groups), GROUP)  # one or two balls
    colour = np.repeat(rng.integers(0, len(PALETTE), (groups, 2)), GROUP, axis=0)
    speed = np.tile(np.arange(GROUP) // 2, groups)  # slow, slow, fast, fast
    axis = np.tile(np.arange(GROUP) % 2, groups)  # horizontal, vertical, ...
    low_r = np.array([RADII[s][0] for s in SIZES])[size]
    high_r = np.array([RADII[s][1] for s in SIZES])[size]
    radius = (low_r[:, None] + (high_r - low_r)[:, None] * rng.uniform(0.0, 1.0, (n, 2))) * scale  # [N, 2]
    low, high = radius, o.size - radius
    along = low + (high - low) * rng.uniform(0.0, 1.0, (n, 2))
    across = low + (high - low) * rng.uniform(0.0, 1.0, (n, 2))
    sign = rng.choice((-1.0, 1.0), (n, 2))
    if getattr(o, "start", "random") == "forward":  # drawn all the same, so every other draw is unchanged
        sign = np.ones_like(sign)
    velocity = sign * np.array([SPEED_PX[s] for s in SPEEDS])[speed][:, None] * scale
    t = np.arange(o.length, dtype=np.float64)
    moving = bounce(along, velocity, low, high, t)  # [N, 2, T]
    fixed = np.broadcast_to(across[..., None], moving.shape)
    horizontal = (axis == 0)[:, None, None]
    cx = np.where(horizontal, moving, fixed).astype(np.float32)
    cy = np.where(horizontal, fixed, moving).astype(np.float32)

    gx, gy = pixel_grid(o.size)
    palette = np.array(list(PALETTE.values()), dtype=np.float32)
    clips = np.empty((n, o.length, o.size, o.size, 3), dtype=np.uint8)
    for chunk in np.array_split(np.arange(n), max(1, n // 128)):
        canvas = np.zeros((len(chunk), o.length, o.size, o.size, 3), dtype=np.float32)
        for b in range(2):
            distance = np.hypot(gx - cx[chunk, b][:, :, None, None], gy - cy[chunk, b][:, :, None, None])
            alpha = coverage(distance - radius[chunk, b][:, None, None, None].astype(np.float32))
            alpha *= (balls[chunk] > b)[:, None, None, None]
            canvas = composite(canvas, alpha, palette[colour[chunk, b]])
        clips[chunk] = to_uint8(canvas)
    return Generated(clips, np.stack([size, speed, axis], axis=1), balls)


class BouncingBalls(ProceduralClips):
    owner = OWNER
    #: the joint label of the evaluation classifier: the look and the motion's axis
    evaluation_attributes = ("size", "axis")
    #: speed and axis are seen only in how frames change
    motion_attributes = ("speed", "axis")
    #: a bounce played backwards is a bounce with the same size, speed and axis
    time_reversal: dict = {}

    def __init__(self, root=None, options: BouncingBallsOptions | None = None, **keywords):
        self.options = given_options(BouncingBallsOptions, options, keywords, f"dataset {OWNER!r}")
        self.attributes = AttributeSet((
            AttributeSpec("size", values=SIZES),
            AttributeSpec("speed", values=SPEEDS),
            AttributeSpec("axis", values=AXES),
        ))
        if self.options.start == "forward":  # played backwards, a clip would start moving left or up
            self.time_reversal = None
        self._build(generate(self.options))


@hookimpl
def register_datasets(register):
    register(OWNER, BouncingBalls, options=BouncingBallsOptions,
             description="built-in stress set: one or two balls bouncing on black (size, speed, axis)")
