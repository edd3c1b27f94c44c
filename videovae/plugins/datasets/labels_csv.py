"""Reading a data set's label table (a CSV with a header row and one row per clip)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from ...core.errors import DataError, one_line


def _names(cells: Sequence[str]) -> str:
    """Column names for a message: as they are when plain, quoted (``repr``) when one holds a line break,
    a quote or a comma, so that a message stays one line."""
    plain = all(cell.isprintable() and not any(c in cell for c in ",'\"") for cell in cells)  # no line breaks
    return ", ".join(cells) if plain else ", ".join(repr(cell) for cell in cells)


def _check_cells(cells: Sequence[str], path: Path, owner: str, where: str) -> None:
    """Refuse a NUL byte or a line break inside a cell (quoted cells may hold them): a clip name or label
    with one cannot be meant, and would break the messages and files that quote it."""
    for cell in cells:
        bad = next((c for c in cell if c == "\x00" or len(f"a{c}a".splitlines()) > 1), None)
        if bad is not None:
            what = "a NUL byte" if bad == "\x00" else "a line break"
            raise DataError(f"{owner}: {path} {where}: cell {cell[:40]!r} holds {what}; expected plain text cells")


def read_labels_csv(path: Path, owner: str, required: Sequence[str] = ("clip",)) -> tuple[list[str], list[tuple[int, dict]]]:
    """``(columns, [(line number, row), ...])`` of a CSV with a header; cells are stripped."""
    if not path.is_file():
        raise DataError(f"{owner}: labels file {path} does not exist; expected a CSV with a header row ({', '.join(required)}, ...)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{owner}: labels file {path} is empty; expected a header row with columns {', '.join(required)}")
            columns = [c.strip() for c in header]
            _check_cells(columns, path, owner, "header row")
            rows = []
            for line, cells in enumerate(reader, start=2):
                _check_cells(cells, path, owner, f"line {line}")
                if not any(c.strip() for c in cells):
                    continue  # blank line
                if len(cells) != len(columns):
                    raise DataError(f"{owner}: {path} line {line} has {len(cells)} cells; expected {len(columns)} ({_names(columns)})")
                rows.append((line, {c: v.strip() for c, v in zip(columns, cells)}))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{owner}: cannot read labels file {path}: {one_line(exc)}") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{owner}: {path} has no column(s) {', '.join(missing)}; expected columns {', '.join(required)} (found: {_names(columns) or 'none'})")
    dupes = [c for c in set(columns) if columns.count(c) > 1]
    if dupes:
        raise DataError(f"{owner}: {path} has duplicate column(s) {_names(sorted(dupes))}")
    seen: dict[str, int] = {}
    for line, row in rows:
        clip = row.get("clip", None)
        if clip is None:
            continue
        if not clip:
            raise DataError(f"{owner}: {path} line {line} has an empty clip name")
        if clip in seen:
            raise DataError(f"{owner}: {path} line {line} repeats clip {clip!r} (first on line {seen[clip]})")
        seen[clip] = line
    return columns, rows
