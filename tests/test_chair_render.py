"""Tests for videovae/plugins/datasets/chair_render.py (procedural Chair CAD stand-in)."""

from __future__ import annotations

import numpy as np
import pytest

from videovae.plugins.datasets import chair_render as cr

BG = np.rint(np.asarray(cr.BACKGROUND) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def chair_set():
    return cr.render_chair_set(6, seed=3)


def _mad(a, b):
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _fg(img):
    """Foreground mask: pixels that differ from the background colour."""
    return np.any(img != BG, axis=-1)


def test_constants():
    assert cr.NUM_AZIMUTHS == 31
    assert len(cr.ELEVATIONS_DEG) == 2 and cr.ELEVATIONS_DEG[0] != cr.ELEVATIONS_DEG[1]
    az = cr.azimuths_deg()
    assert az.shape == (31,) and az[0] == 0.0
    np.testing.assert_allclose(np.diff(az), 360.0 / 31)


def test_shapes_and_dtype(chair_set):
    assert chair_set.shape == (6, 2, 31, 64, 64, 3) and chair_set.dtype == np.uint8
    small = cr.render_chair_set(2, seed=0, size=32)
    assert small.shape == (2, 2, 31, 32, 32, 3) and small.dtype == np.uint8
    params = cr.sample_chair_params(np.random.default_rng(0))
    assert isinstance(params, cr.ChairParams)
    views = cr.render_views(params, np.array([0.0, 45.0, 200.0]), 25.0)
    assert views.shape == (3, 64, 64, 3) and views.dtype == np.uint8
    assert cr.render_views(params, np.array([10.0]), 20.0, size=48).shape == (1, 48, 48, 3)


def test_deterministic(chair_set):
    again = cr.render_chair_set(6, seed=3)
    assert again.tobytes() == chair_set.tobytes()
    other = cr.render_chair_set(6, seed=4)
    assert other.tobytes() != chair_set.tobytes()
    # chair i does not depend on how many chairs are rendered
    assert cr.render_chair_set(2, seed=3).tobytes() == chair_set[:2].tobytes()
    # sampling is deterministic too
    a = cr.sample_chair_params(np.random.default_rng(11))
    b = cr.sample_chair_params(np.random.default_rng(11))
    assert a == b


def test_render_views_matches_chair_set(chair_set):
    rng = np.random.default_rng(3)
    params = cr.sample_chair_params(rng)
    for j, elev in enumerate(cr.ELEVATIONS_DEG):
        views = cr.render_views(params, cr.azimuths_deg(), elev)
        assert views.tobytes() == chair_set[0, j].tobytes()


def test_azimuths_differ_and_change_smoothly(chair_set):
    near, far = [], []
    for i in range(chair_set.shape[0]):
        for j in range(2):
            v = chair_set[i, j]
            for k in range(31):
                assert _mad(v[k], v[(k + 1) % 31]) > 0.0
                near.append(_mad(v[k], v[(k + 1) % 31]))
                far.append((_mad(v[k], v[(k + 15) % 31]) + _mad(v[k], v[(k + 16) % 31])) / 2)
    near, far = np.array(near), np.array(far)
    assert near.mean() < 0.6 * far.mean()
    assert (near < far).mean() > 0.9


def test_elevations_differ(chair_set):
    for i in range(chair_set.shape[0]):
        for k in range(0, 31, 5):
            assert _mad(chair_set[i, 0, k], chair_set[i, 1, k]) > 0.5


def test_chairs_are_distinct(chair_set):
    n = chair_set.shape[0]
    for a in range(n):
        for b in range(a + 1, n):
            assert _mad(chair_set[a, 0, 3], chair_set[b, 0, 3]) > 3.0


def test_chair_fills_frame_but_is_not_clipped():
    rng = np.random.default_rng(2024)
    az = cr.azimuths_deg()
    heights = []
    for _ in range(40):
        params = cr.sample_chair_params(rng)
        for elev in cr.ELEVATIONS_DEG:
            views = cr.render_views(params, az, elev)
            for border in (views[:, 0], views[:, -1], views[:, :, 0], views[:, :, -1]):
                assert (border == BG).all(), params
            fg = _fg(views)
            rows = np.flatnonzero(fg.any(axis=(0, 2)))
            heights.append(rows[-1] - rows[0] + 1)
    heights = np.array(heights)
    assert 0.55 * 64 < np.median(heights) < 0.9 * 64


def test_fit_geometry_many_chairs():
    """Projected box corners stay inside the frame (minus a margin) for many chairs and views."""
    rng = np.random.default_rng(7)
    az = np.radians(np.arange(0.0, 360.0, 5.0))
    limit = cr.FRAME_HALF_WIDTH * (1.0 - 1.5 / 32)
    for _ in range(500):
        params = cr.sample_chair_params(rng)
        for elev in cr.ELEVATIONS_DEG:
            boxes = cr.placed_boxes(params, elev)
            corners = cr.box_corners(*boxes[:3]).reshape(-1, 3)
            eu, ev, _, _ = cr._camera(np.degrees(az), elev)
            assert np.abs(corners @ eu.T).max() < limit
            assert np.abs(corners @ ev.T).max() < limit


def test_rotation_direction_and_mirror_symmetry():
    params = cr.ChairParams(back_tilt_deg=0.0, arm_style="none")
    views = cr.render_views(params, np.array([0.0, 90.0, 40.0, -40.0]), 20.0)
    fg = _fg(views)
    # the chair is mirror-symmetric: its silhouette at -az is the mirror image of the one at +az
    assert (fg[0] == fg[0, :, ::-1]).mean() > 0.99
    assert (fg[2] == fg[3, :, ::-1]).mean() > 0.99
    # increasing azimuth turns the chair counter-clockwise seen from above: at 90 degrees the
    # front faces the right of the image, so the backrest (the top of the silhouette) is on the left
    rows = np.flatnonzero(fg[1].any(axis=1))
    top = fg[1, rows[0] : rows[0] + 8]
    assert np.flatnonzero(top.any(axis=0)).mean() < 31.5 - 3


def test_lighting_changes_with_rotation():
    """Flat faces change brightness as the chair turns (the light does not turn with it)."""
    params = cr.ChairParams(seat_color=(0.6, 0.6, 0.6), back_color=(0.6, 0.6, 0.6), leg_color=(0.6, 0.6, 0.6))
    views = cr.render_views(params, np.array([0.0, 180.0]), 20.0).astype(np.float64)
    fg = [_fg(v.astype(np.uint8)) for v in views]
    assert abs(views[0][fg[0]].mean() - views[1][fg[1]].mean()) > 5.0


def test_params_validation():
    with pytest.raises(ValueError):
        cr.ChairParams(leg_style="tripod")
    with pytest.raises(ValueError):
        cr.ChairParams(seat_color=(1.5, 0.0, 0.0))
    with pytest.raises(ValueError):
        cr.ChairParams(seat_width=-0.1)
    rng = np.random.default_rng(0)
    styles = {(p.leg_style, p.back_style, p.arm_style) for p in (cr.sample_chair_params(rng) for _ in range(300))}
    assert {s[0] for s in styles} == set(cr.LEG_STYLES)
    assert {s[1] for s in styles} == set(cr.BACK_STYLES)
    assert {s[2] for s in styles} == set(cr.ARM_STYLES)
