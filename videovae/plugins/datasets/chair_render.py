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

import numpy as np

from .chair_shapes import (ARM_STYLES, BACK_STYLES, BACKGROUND, ELEVATIONS_DEG, FRAME_HALF_WIDTH, LEG_STYLES,
                           NUM_AZIMUTHS, ChairParams, box_corners, placed_boxes, sample_chair_params)

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

# Fixed lighting (world frame: x right, y away from the azimuth-0 camera, z up).
_LIGHT = np.array([-0.55, -0.65, 0.85])
_LIGHT = _LIGHT / np.linalg.norm(_LIGHT)
_AMBIENT = 0.30
_SKY = 0.10  # extra ambient for up-facing, less for down-facing faces
_DIFFUSE = 0.62



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
    corners = box_corners(centres, axes, half)  # [B,8,3]
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
    return _render_boxes(placed_boxes(params, elevation_deg), azimuths_deg, elevation_deg, int(size), int(supersample))


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
        boxes = placed_boxes(params, ELEVATIONS_DEG[0])  # same scale for every listed elevation
        for j, elev in enumerate(ELEVATIONS_DEG):
            out[i, j] = _render_boxes(boxes, az, elev, size, 2)
    return out
