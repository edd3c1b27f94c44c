"""Natural ordering of file and clip names (``p2`` before ``p10``)."""

from __future__ import annotations

import re
from typing import Iterable


def natural_key(text: str):
    """Sort key that orders ``p2`` before ``p10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def natural_sorted(values: Iterable[str]) -> list[str]:
    return sorted(values, key=natural_key)
