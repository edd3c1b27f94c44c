"""Procedural stand-in for the Chair CAD dataset (Aubry et al., CVPR 2014).

The VideoVAE paper uses 809 chairs rendered from 31 azimuths x 2 elevations as
64x64 RGB images.  This module generates a comparable, fully deterministic data
set with nothing but numpy:

* each chair is a union of boxes (seat slab, legs / pedestal / side panels,
  stretchers, a solid, ladder or slatted backrest that may be tilted back, and
  optional armrests), described by :class:`ChairParams` and drawn at random by
  :func:`sample_chair_params`;
* a view turns the chair about the vertical axis by the azimuth (azimuth
  increasing = the chair turns counter-clockwise seen from above; azimuth 0
  shows the chair's front, backrest behind the seat) and looks at it with an
  orthographic camera tilted down by the elevation;
* every box is ray-cast analytically (slab test) inside its screen rectangle,
  batched over all views, into a per-pixel z-buffer; visible faces are flat
  Lambertian-shaded by a fixed directional light (it does not turn with the
  chair, so faces change brightness as the chair rotates) plus ambient and a
  little sky light; the image is rendered at ``supersample`` times the
  resolution and box-downsampled.

World units are metres-ish: seats are 0.38-0.62 wide and 0.40-0.50 high.  The
world-to-screen scale is the same for every chair (``FRAME_HALF_WIDTH`` world
units from the centre to the frame edge), so bigger chairs look bigger (a
typical chair spans ~70% of the frame height); a chair is shrunk only in the
rare case (~0.2%) that some azimuth would not fit the frame with a margin, so
nothing is ever clipped.

``render_chair_set(100, seed=0)`` takes about 8 s on two CPU cores.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

__all__ = [
    "NUM_AZIMUTHS",
    "ELEVATIONS_DEG",
    "BACKGROUND",
    "FRAME_HALF_WIDTH",
    "LEG_STYLES",
    "BACK_STYLES",
    "ARM_STYLES",
    "ChairParams",
    "sample_chair_params",
    "render_views",
    "render_chair_set",
    "azimuths_deg",
]

NUM_AZIMUTHS = 31
ELEVATIONS_DEG = (20.0, 30.0)

BACKGROUND = (0.96, 0.96, 0.95)
FRAME_HALF_WIDTH = 0.69  # world units from the image centre to the frame edge
_FIT = 0.95  # every view of a chair must fit inside _FIT * FRAME_HALF_WIDTH (>= 1.5 px margin at 64)

LEG_STYLES = ("four", "stretchers", "pedestal", "panels", "sled")
BACK_STYLES = ("solid", "ladder", "slats")
ARM_STYLES = ("none", "bars", "panels")

# Fixed lighting (world frame: x right, y away from the azimuth-0 camera, z up).
_LIGHT = np.array([-0.55, -0.65, 0.85])
_LIGHT = _LIGHT / np.linalg.norm(_LIGHT)
_AMBIENT = 0.30
_SKY = 0.10  # extra ambient for up-facing, less for down-facing faces
_DIFFUSE = 0.62

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
    leg_style: str = attrs.field(default="four", validator=attrs.validators.in_(LEG_STYLES))
    back_height: float = attrs.field(default=0.45, converter=float, validator=_positive)  # above the seat top
    back_thickness: float = attrs.field(default=0.05, converter=float, validator=_positive)
    back_tilt_deg: float = attrs.field(default=8.0, converter=float)  # positive leans backwards
    back_style: str = attrs.field(default="solid", validator=attrs.validators.in_(BACK_STYLES))
    back_width_frac: float = attrs.field(default=1.0, converter=float, validator=_positive)
    arm_style: str = attrs.field(default="none", validator=attrs.validators.in_(ARM_STYLES))
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


def _box_corners(centres, axes, half) -> np.ndarray:
    """[B, 8, 3] object-space corners."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    local = signs[None, :, :] * half[:, None, :]  # [B,8,3]
    return centres[:, None, :] + np.einsum("bnk,bkj->bnj", local, axes)


def _placed_boxes(p: ChairParams, elevation_deg: float):
    """Boxes centred on their bounding box, shrunk only if some view would not fit the frame.

    The fit is checked for every azimuth and every elevation in
    ``[0, max(ELEVATIONS_DEG)]`` plus ``elevation_deg``, so all views of
    :func:`render_chair_set` share one scale, and that scale is the same for
    (almost) all chairs.
    """
    centres, axes, half, colors = _chair_boxes(p)
    corners = _box_corners(centres, axes, half).reshape(-1, 3)
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


# ----------------------------------------------------------------------------------------
# rendering


def _camera(azimuths_deg: np.ndarray, elevation_deg: float):
    """Camera right / up / towards-camera unit vectors in *object* space, each [V,3]."""
    a = np.radians(np.asarray(azimuths_deg, dtype=np.float64))
    e = math.radians(float(elevation_deg))
    c, s = np.cos(a), np.sin(a)
    ce, se = math.cos(e), math.sin(e)
    zero = np.zeros_like(a)
    # world frame: eu = (1,0,0), ev = (0, se, ce), w = (0, -ce, se); object = Rz(-a) world
    eu = np.stack([c, -s, zero], -1)
    ev = np.stack([s * se, c * se, np.full_like(a, ce)], -1)
    w = np.stack([-s * ce, -c * ce, np.full_like(a, se)], -1)
    light = np.stack([c * _LIGHT[0] + s * _LIGHT[1], -s * _LIGHT[0] + c * _LIGHT[1], np.full_like(a, _LIGHT[2])], -1)
    return eu, ev, w, light


def _render_boxes(boxes, azimuths_deg, elevation_deg: float, size: int, supersample: int) -> np.ndarray:
    centres, axes, half, colors = boxes
    azimuths_deg = np.asarray(azimuths_deg, dtype=np.float64).reshape(-1)
    V, B, N = len(azimuths_deg), len(centres), size * supersample
    if V == 0:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    S = FRAME_HALF_WIDTH
    pix = 2.0 * S / N  # world size of one (supersampled) pixel
    eu, ev, w, light = _camera(azimuths_deg, elevation_deg)

    # per view, box, axis: coefficients of local coordinate along the axis
    A = np.einsum("bkj,vj->vbk", axes, eu)
    Bc = np.einsum("bkj,vj->vbk", axes, ev)
    G = np.einsum("bkj,vj->vbk", axes, w)
    Dc = -np.einsum("bkj,bj->bk", axes, centres)[None]  # camera target at the origin
    sgn = np.where(G >= 0, 1.0, -1.0)
    G = sgn * np.maximum(np.abs(G), 1e-6)
    # t of a slab plane is q -/+ e with q linear in the pixel (row, col) indices
    qc = A * pix / G  # per column index
    qr = -Bc * pix / G  # per row index
    q0 = ((-S + 0.5 * pix) * A + (S - 0.5 * pix) * Bc + Dc) / G
    ext = half[None] / np.abs(G)

    # flat shading per visible face (box, axis), normal = sgn * axis
    normals = sgn[..., None] * axes[None]  # [V,B,3,3]
    ndl = np.einsum("vbkj,vj->vbk", normals, light)
    shade = _AMBIENT + _SKY * normals[..., 2] + _DIFFUSE * np.maximum(ndl, 0.0)
    lut = np.concatenate([np.broadcast_to(np.asarray(BACKGROUND), (V, 1, 3)),
                          (colors[None, :, None, :] * shade[..., None]).reshape(V, 3 * B, 3)], 1)
    lut = np.clip(lut, 0.0, 1.0).astype(np.float32)

    # screen rectangles of every box in every view
    corners = _box_corners(centres, axes, half)  # [B,8,3]
    cu = np.einsum("bnj,vj->vbn", corners, eu)
    cv = np.einsum("bnj,vj->vbn", corners, ev)
    col_lo = np.floor((cu.min(-1) + S) / pix - 0.5).astype(np.int64) - 1
    col_hi = np.ceil((cu.max(-1) + S) / pix - 0.5).astype(np.int64) + 2
    row_lo = np.floor((S - cv.max(-1)) / pix - 0.5).astype(np.int64) - 1
    row_hi = np.ceil((S - cv.min(-1)) / pix - 0.5).astype(np.int64) + 2

    zbuf = np.full(V * N * N, np.inf, dtype=np.float32)
    ids = np.zeros(V * N * N, dtype=np.int16)  # 0 = background, 1 + 3 * box + axis otherwise
    vix = np.arange(V)
    for b in range(B):
        h = int(min(N, (row_hi[:, b] - row_lo[:, b]).max()))
        wd = int(min(N, (col_hi[:, b] - col_lo[:, b]).max()))
        r0 = np.clip(row_lo[:, b], 0, N - h)
        c0 = np.clip(col_lo[:, b], 0, N - wd)
        rows = (r0[:, None] + np.arange(h)[None]).astype(np.float32)  # [V,h]
        cols = (c0[:, None] + np.arange(wd)[None]).astype(np.float32)  # [V,w]
        tn = tf = face = None
        for k in range(3):
            qrow = q0[:, b, k, None] + qr[:, b, k, None] * rows  # [V,h]
            qcol = qc[:, b, k, None] * cols  # [V,w]
            q = (qrow[:, :, None] + qcol[:, None, :]).astype(np.float32)
            e = np.float32(ext[:, b, k])[:, None, None]
            lo, hi = q - e, q + e
            if tn is None:
                tn, tf, face = lo, hi, np.zeros(lo.shape, np.int16)
            else:
                better = lo > tn
                face[better] = k
                np.maximum(tn, lo, out=tn)
                np.minimum(tf, hi, out=tf)
        flat = (vix[:, None, None] * (N * N) + r0[:, None, None] * N + c0[:, None, None]
                + (np.arange(h) * N)[None, :, None] + np.arange(wd)[None, None, :])
        zold = zbuf[flat]
        win = (tn <= tf) & (tn < zold)
        sel = flat[win]
        zbuf[sel] = tn[win]
        ids[sel] = (1 + 3 * b + face[win]).astype(np.int16)

    lut *= np.float32(255.0 / supersample**2)
    img = lut[vix[:, None], ids.reshape(V, N * N)].reshape(V, size, supersample, size, supersample, 3)
    acc = np.zeros((V, size, size, 3), dtype=np.float32)
    for i in range(supersample):  # box filter as strided adds (much faster than .mean over axes)
        for j in range(supersample):
            acc += img[:, :, i, :, j, :]
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


def render_views(params: ChairParams, azimuths_deg: np.ndarray, elevation_deg: float, size: int = 64,
                 supersample: int = 2) -> np.ndarray:
    """Render ``params`` at each azimuth (degrees) and one elevation: uint8 ``[V, size, size, 3]``.

    Azimuth 0 shows the chair's front; increasing azimuth turns the chair
    counter-clockwise seen from above, so at azimuth 90 its front faces the
    right-hand side of the image.  ``supersample`` is the antialiasing factor.
    """
    if size < 1 or supersample < 1:
        raise ValueError(f"size and supersample must be >= 1, got {size}, {supersample}")
    return _render_boxes(_placed_boxes(params, elevation_deg), azimuths_deg, elevation_deg, int(size), int(supersample))


def azimuths_deg(num: int = NUM_AZIMUTHS) -> np.ndarray:
    """``num`` azimuths evenly spaced over 360 degrees, starting at 0."""
    return np.arange(num, dtype=np.float64) * (360.0 / num)


def render_chair_set(num_objects: int, seed: int, size: int = 64) -> np.ndarray:
    """Render ``num_objects`` random chairs: uint8 ``[num_objects, 2, 31, size, size, 3]``.

    Axis 1 runs over :data:`ELEVATIONS_DEG`, axis 2 over :func:`azimuths_deg` (step 360/31).
    The result depends only on ``(num_objects, seed, size)``; chair ``i`` is the same for
    every ``num_objects > i``.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((num_objects, len(ELEVATIONS_DEG), NUM_AZIMUTHS, size, size, 3), dtype=np.uint8)
    az = azimuths_deg(NUM_AZIMUTHS)
    for i in range(num_objects):
        params = sample_chair_params(rng)
        boxes = _placed_boxes(params, ELEVATIONS_DEG[0])  # same scale for every listed elevation
        for j, elev in enumerate(ELEVATIONS_DEG):
            out[i, j] = _render_boxes(boxes, az, elev, size, 2)
    return out
