"""A dependency-free loss-curve plot (PIL), written atomically."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from ..io.atomic import atomic_write

_COLOURS = {"loss": (31, 119, 180), "reconstruction": (44, 160, 44), "kl": (214, 39, 40)}


def save_loss_curve(history: Sequence[dict], path: str | Path, keys=("loss", "reconstruction", "kl"),
                    size=(720, 420)) -> Path:
    """Plot ``history`` rows ``{"step": s, key: value, ...}``, one line per key, on a log-scale y axis, or a
    linear one when a value is not positive (the Gaussian likelihood's loss is a negative log-density)."""
    path = Path(path)
    width, height = size
    left, right, top, bottom = 70, 150, 30, 45
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rows = [r for r in history if all(k in r for k in keys)]
    log = all(r[k] > 0 for r in rows for k in keys)
    scale, unscale = (math.log10, lambda v: 10 ** v) if log else (float, float)
    draw.text((left, 8), f"training loss per frame ({'log' if log else 'linear'} scale)", fill="black")
    if rows:
        steps = [r["step"] for r in rows]
        values = [r[k] for r in rows for k in keys]
        lo, hi = scale(min(values)), scale(max(values))
        hi = hi if hi > lo else lo + 1
        s0, s1 = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1

        def xy(step, value):
            x = left + (step - s0) / (s1 - s0) * (width - left - right)
            y = top + (hi - scale(value)) / (hi - lo) * (height - top - bottom)
            return x, y

        draw.rectangle([left, top, width - right, height - bottom], outline="black")
        for i in range(5):
            v = lo + (hi - lo) * i / 4
            _, y = xy(s0, unscale(v))
            draw.line([left - 4, y, left, y], fill="black")
            draw.text((4, y - 6), f"{unscale(v):.3g}", fill="black")
        for i in range(5):
            s = s0 + (s1 - s0) * i / 4
            x, _ = xy(s, unscale(lo))
            draw.text((x - 10, height - bottom + 6), f"{int(s)}", fill="black")
        draw.text(((width - right + left) / 2 - 10, height - 18), "step", fill="black")
        for n, key in enumerate(keys):
            colour = _COLOURS.get(key, (0, 0, 0))
            points = [xy(r["step"], r[key]) for r in rows]
            if len(points) > 1:
                draw.line(points, fill=colour, width=2)
            draw.line([width - right + 10, top + 10 + 18 * n, width - right + 30, top + 10 + 18 * n], fill=colour, width=3)
            draw.text((width - right + 36, top + 4 + 18 * n), key, fill="black")
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
