"""The procedural chairs of :mod:`.chair_render`: their parameters, a random draw of them, and the
boxes (seat, legs, back, arms) each chair is made of, placed so that every view fits the frame."""

from __future__ import annotations

import math

import attrs
import numpy as np

from ...core.validators import choice


NUM_AZIMUTHS = 31
ELEVATIONS_DEG = (20.0, 30.0)

BACKGROUND = (0.96, 0.96, 0.95)
FRAME_HALF_WIDTH = 0.69  # world units from the image centre to the frame edge
_FIT = 0.95  # every view of a chair must fit inside _FIT * FRAME_HALF_WIDTH (>= 1.5 px margin at 64)

LEG_STYLES = ("four", "stretchers", "pedestal", "panels", "sled")
BACK_STYLES = ("solid", "ladder", "slats")
ARM_STYLES = ("none", "bars", "panels")

__all__ = ["ARM_STYLES", "BACK_STYLES", "BACKGROUND", "ELEVATIONS_DEG", "FRAME_HALF_WIDTH", "LEG_STYLES", "NUM_AZIMUTHS",
           "ChairParams", "box_corners", "placed_boxes", "sample_chair_params"]

RGB = tuple[float, float, float]


def _rgb(value) -> RGB:
    r, g, b = (float(x) for x in value)
    return (r, g, b)


def _check_rgb(instance, attribute, value):
    if len(value) != 3 or not all(0.0 <= c <= 1.0 for c in value):
        raise ValueError(f"{attribute.name} must be three floats in [0, 1], got {value!r}")


def _positive(instance, attribute, value):
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class ChairParams:
    """Shape and colour of one procedural chair (lengths in world units)."""

    seat_width: float = attrs.field(default=0.48, converter=float, validator=_positive)
    seat_depth: float = attrs.field(default=0.46, converter=float, validator=_positive)
    seat_height: float = attrs.field(default=0.45, converter=float, validator=_positive)  # floor to seat top
    seat_thickness: float = attrs.field(default=0.06, converter=float, validator=_positive)
    leg_thickness: float = attrs.field(default=0.045, converter=float, validator=_positive)
    leg_style: str = attrs.field(default="four", validator=choice(*LEG_STYLES))
    back_height: float = attrs.field(default=0.45, converter=float, validator=_positive)  # above the seat top
    back_thickness: float = attrs.field(default=0.05, converter=float, validator=_positive)
    back_tilt_deg: float = attrs.field(default=8.0, converter=float)  # positive leans backwards
    back_style: str = attrs.field(default="solid", validator=choice(*BACK_STYLES))
    back_width_frac: float = attrs.field(default=1.0, converter=float, validator=_positive)
    arm_style: str = attrs.field(default="none", validator=choice(*ARM_STYLES))
    arm_height: float = attrs.field(default=0.2, converter=float, validator=_positive)  # above the seat top
    seat_color: RGB = attrs.field(default=(0.7, 0.3, 0.2), converter=_rgb, validator=_check_rgb)
    back_color: RGB = attrs.field(default=(0.7, 0.3, 0.2), converter=_rgb, validator=_check_rgb)
    leg_color: RGB = attrs.field(default=(0.25, 0.2, 0.15), converter=_rgb, validator=_check_rgb)


def _hsv_to_rgb(h: float, s: float, v: float) -> RGB:
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return _rgb([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def sample_chair_params(rng: np.random.Generator) -> ChairParams:
    """Draw a random chair; the same generator state always gives the same chair."""
    u = rng.uniform
    leg_style = LEG_STYLES[int(rng.choice(len(LEG_STYLES), p=[0.3, 0.2, 0.2, 0.15, 0.15]))]
    back_style = BACK_STYLES[int(rng.choice(len(BACK_STYLES), p=[0.5, 0.25, 0.25]))]
    arm_style = ARM_STYLES[int(rng.choice(len(ARM_STYLES), p=[0.55, 0.3, 0.15]))]

    seat_hue = u(0.0, 1.0)
    seat_color = _hsv_to_rgb(seat_hue, u(0.35, 0.9), u(0.4, 0.9))
    r = u()
    if r < 0.55:
        back_color = seat_color
    elif r < 0.8:  # neighbouring hue
        back_color = _hsv_to_rgb((seat_hue + u(-0.12, 0.12)) % 1.0, u(0.35, 0.9), u(0.35, 0.85))
    else:  # contrasting hue
        back_color = _hsv_to_rgb((seat_hue + 0.5 + u(-0.15, 0.15)) % 1.0, u(0.35, 0.9), u(0.35, 0.85))
    r = u()
    if r < 0.35:  # dark metal / plastic
        g = u(0.12, 0.3)
        leg_color = _rgb((g, g, g * u(1.0, 1.15)))
    elif r < 0.55:  # light metal
        g = u(0.6, 0.75)
        leg_color = _rgb((g, g, g))
    elif r < 0.85:  # wood
        leg_color = _hsv_to_rgb(u(0.05, 0.1), u(0.45, 0.75), u(0.3, 0.7))
    else:
        leg_color = seat_color

    thick = leg_style in ("panels",)
    return ChairParams(
        seat_width=u(0.38, 0.62),
        seat_depth=u(0.38, 0.56),
        seat_height=u(0.40, 0.50),
        seat_thickness=u(0.08, 0.15) if leg_style == "pedestal" else u(0.03, 0.12),
        leg_thickness=u(0.04, 0.08) if thick else u(0.025, 0.07),
        leg_style=leg_style,
        back_height=u(0.28, 0.55),
        back_thickness=u(0.03, 0.1),
        back_tilt_deg=u(0.0, 22.0),
        back_style=back_style,
        back_width_frac=u(0.75, 1.0) if back_style == "solid" else 1.0,
        arm_style=arm_style,
        arm_height=u(0.15, 0.26),
        seat_color=seat_color,
        back_color=back_color,
        leg_color=leg_color,
    )


# ----------------------------------------------------------------------------------------
# geometry: a chair as a list of oriented boxes


def _rot_x(deg: float) -> np.ndarray:
    """Rows are the box's local axes in object space, tilted backwards (+y) by ``deg``."""
    t = math.radians(deg)
    return np.array([[1.0, 0.0, 0.0], [0.0, math.cos(t), -math.sin(t)], [0.0, math.sin(t), math.cos(t)]])


def _rot_z(deg: float) -> np.ndarray:
    t = math.radians(deg)
    return np.array([[math.cos(t), math.sin(t), 0.0], [-math.sin(t), math.cos(t), 0.0], [0.0, 0.0, 1.0]])


_EYE = np.eye(3)


def _chair_boxes(p: ChairParams):
    """``(centres [B,3], axes [B,3,3] (rows = unit local axes), half [B,3], colours [B,3])``."""
    boxes: list[tuple[np.ndarray, np.ndarray, np.ndarray, RGB]] = []

    def box(lo, hi, color, axes=_EYE):
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        boxes.append(((lo + hi) / 2, axes, (hi - lo) / 2, color))

    def obox(centre, half, axes, color):
        boxes.append((np.asarray(centre, float), axes, np.asarray(half, float), color))

    W, D, H, T = p.seat_width, p.seat_depth, p.seat_height, p.seat_thickness
    lt = p.leg_thickness
    seat_bottom = H - T
    box((-W / 2, -D / 2, seat_bottom), (W / 2, D / 2, H), p.seat_color)

    # -- legs ------------------------------------------------------------------------
    if p.leg_style in ("four", "stretchers"):
        ins = 0.02
        xs = (-W / 2 + ins, W / 2 - ins - lt)
        ys = (-D / 2 + ins, D / 2 - ins - lt)
        for x in xs:
            for y in ys:
                box((x, y, 0.0), (x + lt, y + lt, seat_bottom), p.leg_color)
        if p.leg_style == "stretchers":
            st = lt * 0.7
            z0 = 0.3 * seat_bottom
            for x in xs:  # side rails, front to back
                box((x + (lt - st) / 2, ys[0] + lt, z0), (x + (lt + st) / 2, ys[1], z0 + st), p.leg_color)
            z1 = 0.45 * seat_bottom  # one cross rail between the side rails
            box((xs[0] + lt, -st / 2, z1), (xs[1], st / 2, z1 + st), p.leg_color)
    elif p.leg_style == "pedestal":
        col = max(lt * 1.3, 0.05)
        base_h = 0.04
        box((-col / 2, -col / 2, base_h), (col / 2, col / 2, seat_bottom), p.leg_color)
        spoke = min(W, D) * 0.55
        for k in range(5):  # five-star base
            axes = _rot_z(90.0 + 72.0 * k)
            centre = axes[0] * spoke / 2 + np.array([0.0, 0.0, base_h / 2 + 0.01])
            obox(centre, (spoke / 2, 0.022, base_h / 2 + 0.01), axes, p.leg_color)
        box((-col, -col, 0.02), (col, col, base_h + 0.05), p.leg_color)  # hub
    elif p.leg_style == "panels":
        for sx in (-1, 1):
            x0 = sx * W / 2 - (lt if sx > 0 else 0.0)
            box((x0, -D / 2 + 0.01, 0.0), (x0 + lt, D / 2 - 0.01, seat_bottom), p.leg_color)
    elif p.leg_style == "sled":
        rt = 0.03
        for sx in (-1, 1):
            x0 = sx * (W / 2 - 0.03) - lt / 2
            box((x0, -D / 2 - 0.02, 0.0), (x0 + lt, D / 2 + 0.02, rt), p.leg_color)  # runner
            for y0 in (-D / 2 + 0.04, D / 2 - 0.04 - lt):
                box((x0, y0, rt), (x0 + lt, y0 + lt, seat_bottom), p.leg_color)

    # -- backrest (tilted about the x axis at the rear edge of the seat) -------------
    axes = _rot_x(p.back_tilt_deg)
    bt = p.back_thickness
    length = p.back_height + T
    pivot = np.array([0.0, D / 2 - bt / 2, seat_bottom])

    def back_part(x0, x1, s0, s1, color, depth=bt):
        """Box spanning [x0, x1] across and [s0, s1] along the tilted back's length."""
        centre = pivot + axes[0] * (x0 + x1) / 2 + axes[2] * (s0 + s1) / 2
        obox(centre, ((x1 - x0) / 2, depth / 2, (s1 - s0) / 2), axes, color)

    bw = W * p.back_width_frac
    if p.back_style == "solid":
        back_part(-bw / 2, bw / 2, 0.0, length, p.back_color)
    else:
        post = max(lt, 0.035)
        for sx in (-1, 1):
            x0 = sx * W / 2 - (post if sx > 0 else 0.0)
            back_part(x0, x0 + post, 0.0, length, p.back_color, bt)
        rail = min(0.09, 0.3 * p.back_height)
        back_part(-W / 2 + post, W / 2 - post, length - rail, length, p.back_color, bt * 0.8)
        inner0, inner1 = T + 0.02, length - rail
        if p.back_style == "ladder":
            mid = (inner0 + inner1) / 2
            back_part(-W / 2 + post, W / 2 - post, mid - rail / 3, mid + rail / 3, p.back_color, bt * 0.6)
        else:  # vertical slats
            n = 3 if W < 0.5 else 4
            span = W - 2 * post
            sw = span / (2 * n + 1)
            for i in range(n):
                xa = -W / 2 + post + sw * (2 * i + 1)
                back_part(xa, xa + sw, inner0, inner1, p.back_color, bt * 0.6)

    # -- armrests ------------------------------------------------------------------
    if p.arm_style != "none":
        aw = 0.05
        az = H + p.arm_height
        for sx in (-1, 1):
            x0 = sx * (W / 2 + aw / 2) - aw / 2
            box((x0, -D / 2 + 0.02, az - 0.035), (x0 + aw, D / 2 - bt, az), p.back_color)
            if p.arm_style == "bars":
                box((x0 + aw * 0.2, -D / 2 + 0.05, seat_bottom + 0.01), (x0 + aw * 0.8, -D / 2 + 0.05 + 0.04, az - 0.035), p.leg_color)
            else:  # solid side panel under the arm
                box((x0 + aw * 0.15, -D / 2 + 0.03, seat_bottom), (x0 + aw * 0.85, D / 2 - bt, az - 0.035), p.seat_color)

    centres = np.stack([b[0] for b in boxes])
    axes_arr = np.stack([b[1] for b in boxes])
    half = np.stack([b[2] for b in boxes])
    colors = np.array([b[3] for b in boxes], dtype=float)
    return centres, axes_arr, half, colors


def box_corners(centres, axes, half) -> np.ndarray:
    """[B, 8, 3] object-space corners."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    local = signs[None, :, :] * half[:, None, :]  # [B,8,3]
    return centres[:, None, :] + np.einsum("bnk,bkj->bnj", local, axes)


def placed_boxes(p: ChairParams, elevation_deg: float):
    """Boxes centred on their bounding box, shrunk only if some view would not fit the frame.

    The fit is checked for every azimuth and every elevation in
    ``[0, max(ELEVATIONS_DEG)]`` plus ``elevation_deg``, so all views of
    :func:`render_chair_set` share one scale, and that scale is the same for
    (almost) all chairs.
    """
    centres, axes, half, colors = _chair_boxes(p)
    corners = box_corners(centres, axes, half).reshape(-1, 3)
    mid = (corners.min(0) + corners.max(0)) / 2
    mid[0] = 0.0  # the chair is mirror-symmetric; keep it exactly on the axis
    centres = centres - mid
    corners = corners - mid
    rho = np.hypot(corners[:, 0], corners[:, 1])  # any azimuth puts a corner at |u| <= rho
    elev = np.radians(np.append(np.linspace(0.0, max(ELEVATIONS_DEG), 31), float(elevation_deg)))
    # |v| = |z cos e + (horizontal offset) sin e| <= |z| |cos e| + rho |sin e|
    v_max = (np.abs(corners[:, 2:3]) * np.abs(np.cos(elev)) + rho[:, None] * np.abs(np.sin(elev))).max()
    extent = max(float(rho.max()), float(v_max))
    limit = _FIT * FRAME_HALF_WIDTH
    if extent > limit:
        s = limit / extent
        centres, half = centres * s, half * s
    return centres, axes, half, colors
