"""The loss curve: a log scale for positive losses, a linear one when a loss is negative (Gaussian NLL)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from videovae.engine.plots import save_loss_curve

BLUE = (31, 119, 180)  # the "loss" line


def loss_rows(image_path, column=None):
    """The pixel rows the loss line covers (in one pixel column, or anywhere)."""
    pixels = np.asarray(Image.open(image_path).convert("RGB"))
    blue = (pixels == BLUE).all(-1)
    return np.nonzero(blue[:, column] if column is not None else blue.any(1))[0]


def test_negative_losses_are_drawn_on_a_linear_scale(tmp_path):
    history = [{"step": s, "loss": 1000.0 - 40 * s, "reconstruction": 990.0 - 40 * s, "kl": 10.0} for s in range(1, 101)]
    path = save_loss_curve(history, tmp_path / "curve.png")
    # at step 75 the loss is -2000 of a [-3010, 960] range: 345 px high plot from y = 30, so y = 30 + 345 *
    # (960 + 2000) / 3970 = 287 (a log scale clamps every value under 1e-6 onto the bottom edge, y = 375)
    x = round(70 + (75 - 1) / 99 * 500)
    rows = loss_rows(path, column=x)
    assert len(rows) and abs(rows.mean() - 287) < 6


def test_positive_losses_keep_the_log_scale(tmp_path):
    history = [{"step": s, "loss": 10.0 ** (3 - s / 50), "reconstruction": 1.0, "kl": 0.5} for s in range(1, 101)]
    rows = loss_rows(save_loss_curve(history, tmp_path / "curve.png"))
    assert rows.max() - rows.min() > 150
