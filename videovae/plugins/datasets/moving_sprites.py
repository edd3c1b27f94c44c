"""``moving-sprites``: one small coloured shape moving in a straight line on black (a stress set).

Every object (a shape, a colour and a sprite size of 6-14 px at 32×32, scaled with the frame
size) has four clips, one per direction (left, right, up, down); three go to training and one
to testing, picked at random per object, like the chairs' four sequences (Sec. 5.1). A clip
starts at a random position from which its whole path stays inside the frame and moves at a
constant speed of up to one pixel per frame at 32×32 (sub-pixel positions, anti-aliased edges).

The foreground covers about 1-15% of a frame, so a model that outputs black everywhere has
a small pixel-wise error: the kind of data on which the chairs' recipe collapsed (issue 21).

Attributes: ``shape`` (square, disc, triangle, cross), ``colour`` (six saturated colours) and
``direction`` (the motion: a motion attribute; played backwards, a clip moving left moves right).
Generated in well under a second for the default 800 clips; identical for a given seed.
"""

from __future__ import annotations

import numpy as np

from ...core.attributes import AttributeSet, AttributeSpec
from ...core.config import given_options
from ...registry import hookimpl
from .procedural import GROUP, PALETTE, Generated, ProceduralClips, ProceduralOptions, composite, coverage, pixel_grid, to_uint8

OWNER = "moving-sprites"
SHAPES = ("square", "disc", "triangle", "cross")
DIRECTIONS = ("left", "right", "up", "down")
#: unit steps (dx, dy) per direction; image y grows downwards
STEPS = np.array([(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)], dtype=np.float32)
MIN_EXTENT, MAX_EXTENT = 6.0, 14.0  # sprite size in pixels at 32×32
_TRIANGLE_NORMALS = np.array([(np.cos(a), np.sin(a)) for a in np.deg2rad((90.0, 210.0, 330.0))], dtype=np.float32)



def signed_distance(shape: int, dx: np.ndarray, dy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Signed distance (px, < 0 inside) of ``SHAPES[shape]`` with half-size ``radius`` [N, 1, 1, 1]."""
    name = SHAPES[shape]
    if name == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * radius
    if name == "disc":
        return np.hypot(dx, dy) - radius
    if name == "triangle":  # inradius r/2, circumradius r, pointing up
        planes = [nx * dx + ny * dy for nx, ny in _TRIANGLE_NORMALS]
        return np.maximum(np.maximum(planes[0], planes[1]), planes[2]) - 0.5 * radius
    arm = radius / 3.0  # cross: two bars of half-width r/3
    ax, ay = np.abs(dx), np.abs(dy)
    return np.minimum(np.maximum(ax - radius, ay - arm), np.maximum(ax - arm, ay - radius))


def generate(options: ProceduralOptions) -> Generated:
    """Clips ``uint8 [N, T, H, W, 3]`` and labels ``[N, 3]`` (shape, colour, direction)."""
    o = options
    rng = np.random.default_rng([o.seed, 0])
    n, groups, scale = o.num_clips, o.num_clips // GROUP, o.size / 32.0
    shape = np.repeat(rng.integers(0, len(SHAPES), groups), GROUP)
    colour = np.repeat(rng.integers(0, len(PALETTE), groups), GROUP)
    extent = np.repeat(rng.uniform(MIN_EXTENT, MAX_EXTENT, groups) * scale, GROUP).astype(np.float32)
    direction = np.tile(np.arange(GROUP), groups)
    radius = extent / 2.0
    margin = radius + 1.0
    steps = o.length - 1
    room = o.size - 2.0 * margin  # how far a sprite can travel without leaving the frame
    speed = np.minimum(scale, room / steps) * rng.uniform(0.7, 1.0, n)
    travel = speed * steps
    # the start along the motion leaves room for the whole path; across it, anywhere inside
    along = margin + rng.uniform(0.0, 1.0, n) * (room - travel)
    across = margin + rng.uniform(0.0, 1.0, n) * room
    forward = STEPS[direction].sum(axis=1) > 0  # right or down: start near the low end
    along = np.where(forward, along, o.size - along)
    horizontal = STEPS[direction, 0] != 0
    x0, y0 = np.where(horizontal, along, across), np.where(horizontal, across, along)
    t = np.arange(o.length, dtype=np.float32)
    cx = (x0[:, None] + STEPS[direction, 0][:, None] * speed[:, None] * t).astype(np.float32)
    cy = (y0[:, None] + STEPS[direction, 1][:, None] * speed[:, None] * t).astype(np.float32)

    gx, gy = pixel_grid(o.size)
    colours = np.array(list(PALETTE.values()), dtype=np.float32)[colour]
    clips = np.empty((n, o.length, o.size, o.size, 3), dtype=np.uint8)
    for k in range(len(SHAPES)):
        rows = np.flatnonzero(shape == k)
        for chunk in np.array_split(rows, max(1, len(rows) // 128)):
            if len(chunk) == 0:
                continue
            dx = gx - cx[chunk][:, :, None, None]
            dy = gy - cy[chunk][:, :, None, None]
            alpha = coverage(signed_distance(k, dx, dy, radius[chunk][:, None, None, None]))
            canvas = np.zeros((*alpha.shape, 3), dtype=np.float32)
            clips[chunk] = to_uint8(composite(canvas, alpha, colours[chunk]))
    return Generated(clips, np.stack([shape, colour, direction], axis=1), np.ones(n, dtype=np.int64))


class MovingSprites(ProceduralClips):
    owner = OWNER
    #: the joint label of the evaluation classifier: the object and its motion
    evaluation_attributes = ("shape", "direction")
    #: the direction is seen only in how frames change
    motion_attributes = ("direction",)
    #: played backwards, a sprite moves the opposite way
    time_reversal = {"direction": {"left": "right", "right": "left", "up": "down", "down": "up"}}

    def __init__(self, root=None, options: ProceduralOptions | None = None, **keywords):
        self.options = given_options(ProceduralOptions, options, keywords, f"dataset {OWNER!r}")
        self.attributes = AttributeSet((
            AttributeSpec("shape", values=SHAPES),
            AttributeSpec("colour", values=tuple(PALETTE)),
            AttributeSpec("direction", values=DIRECTIONS),
        ))
        self._build(generate(self.options))


@hookimpl
def register_datasets(register):
    register(OWNER, MovingSprites, options=ProceduralOptions,
             description="built-in stress set: a small shape moving on black (shape, colour, direction)")
