"""Plain-data archives (checkpoints, attribute nets, evaluation classifiers): written atomically with a
digest, read back with ``weights_only=True`` and the digest checked, every failure one line.

The digest (``"digest": "sha256:<hex>"``) covers everything stored: each tensor's dtype, shape and bytes,
and every key, string and number, walked in their stored order. A changed bit anywhere, e.g. in a weight,
is a one-line :class:`~videovae.core.errors.CheckpointError` naming the file; files written before digests
existed load as before.
"""

from __future__ import annotations

import errno
import hashlib
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ..core.errors import CheckpointError
from ..io.atomic import atomic_path

DIGEST_KEY = "digest"
_ZIP = b"PK\x03\x04"
_PICKLE = b"\x80"  # torch.save's legacy (non-zip) format starts with a pickle protocol byte


def _feed(h, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().contiguous()
        h.update(f"T{data.dtype}{tuple(data.shape)}".encode())
        if data.numel():
            h.update(data.reshape(-1).view(torch.uint8).numpy())  # its buffer: no copy
    elif isinstance(value, Mapping):
        h.update(f"D{len(value)}".encode())
        for key, item in value.items():
            _feed(h, key)
            _feed(h, item)
    elif isinstance(value, (list, tuple)):
        h.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(f"S{len(data)}:".encode() + data)
    elif isinstance(value, bytes):
        h.update(f"B{len(value)}:".encode() + value)
    else:  # None, bool, int, float (repr round-trips), and anything else plain
        text = f"{type(value).__name__}:{value!r}".encode()
        h.update(f"V{len(text)}:".encode() + text)


def payload_digest(payload: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of everything in ``payload`` but its own ``digest`` field."""
    h = hashlib.sha256()
    _feed(h, {key: value for key, value in payload.items() if key != DIGEST_KEY})
    return "sha256:" + h.hexdigest()


class _Writer:
    """A file handle for ``torch.save`` that keeps the first OSError of a write: torch turns it into an
    ``[enforce fail at inline_container.cc…] unexpected pos`` RuntimeError that never says the disk is full."""

    def __init__(self, handle):
        self.handle, self.error = handle, None

    def write(self, data) -> int:
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        self.handle.flush()


def atomic_torch_save(payload: dict[str, Any], path: str | Path, previous: str | Path | None = None) -> Path:
    """``torch.save`` of ``payload`` and its digest onto ``path`` atomically
    (:func:`videovae.io.atomic.atomic_path`; with ``previous``, the file it replaces is kept under that name).
    A failed write raises its OSError (ENOSPC…), never torch's RuntimeError."""
    payload = {**payload, DIGEST_KEY: payload_digest(payload)}
    with atomic_path(path, previous=previous) as tmp, open(tmp, "wb") as handle:
        writer = _Writer(handle)
        try:
            torch.save(payload, writer)
        except RuntimeError:
            if writer.error is not None:
                raise writer.error from None
            raise
    return Path(path)


def _unreadable(path: Path, what: str, writer: str, exc: Exception) -> CheckpointError:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    if "Weights only load failed" in text or "weights_only" in text:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text) or re.search(r"(Unsupported operand \d+)", text)
        detail = f" ({found.group(1)})" if found else ""
        return CheckpointError(f"{path} is not a readable videovae {what}: it holds pickled objects that are not plain "
                               f"data{detail}; expected only tensors, numbers, strings, lists and dicts (videovae "
                               "never loads code)")
    reason = " ".join(text.split())[:160] if text else type(exc).__name__
    return CheckpointError(f"{path} is not a readable videovae {what}: it is damaged or cut short ({reason}); "
                           f"expected a complete file written by {writer}")


def _sniff(path: Path, what: str, writer: str) -> None:
    """A one-line error for a file that is not a torch archive at all (empty, text, other bytes)."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(_ZIP) or head.startswith(_PICKLE):
        return
    expected = f"expected a torch zip archive written by {writer}"
    start = f"{path} is not a readable videovae {what}:"
    if not head:
        raise CheckpointError(f"{start} it is empty (0 bytes); {expected}")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        first = text.strip().splitlines()[0][:40] if text.strip() else ""
        raise CheckpointError(f"{start} it is a text file (starting {first!r}); {expected}")
    raise CheckpointError(f"{start} it starts with the bytes {head[:4].hex(' ')}; {expected}")


def load_plain_data(path: str | Path, what: str, marker: str, missing_hint: str,
                    writer: str = "videovae") -> dict[str, Any]:
    """A ``weights_only`` archive with ``{"format": marker}`` whose digest (if it has one) matches;
    a one-line :class:`CheckpointError` naming ``path`` and saying what was expected otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path} ({missing_hint})")
    try:
        _sniff(path, what, writer)
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EIO):  # torch's own errors on a cut-short file
            raise _unreadable(path, what, writer, exc) from None
        raise CheckpointError(f"{path} is not a readable videovae {what}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise _unreadable(path, what, writer, exc) from None
    if not isinstance(payload, dict) or payload.get("format") != marker:
        raise CheckpointError(f"{path} is not a videovae {what} (no '{marker}' format marker)")
    stored = payload.get(DIGEST_KEY)
    if stored is not None:
        if payload_digest(payload) != stored:
            raise CheckpointError(f"{path} is damaged: its contents do not match the digest written with them "
                                  f"(a changed byte, e.g. from a failing disk or an interrupted copy)")
    return payload


def state_misfit(expected: Mapping[str, torch.Tensor], stored: Any) -> str | None:
    """Why weights ``stored`` do not fit a module whose ``state_dict()`` is ``expected`` (None if they do):
    the first differences by name and shape, in one line."""
    if not isinstance(stored, Mapping):
        return f"the weights should be a dict of tensors, got {type(stored).__name__}"
    problems = []
    for name, tensor in expected.items():
        value = stored.get(name)
        if value is None:
            problems.append(f"{name} is missing")
        elif not isinstance(tensor, torch.Tensor):
            continue
        elif not isinstance(value, torch.Tensor):
            problems.append(f"{name} should be a tensor, got {type(value).__name__}")
        elif tuple(value.shape) != tuple(tensor.shape):
            problems.append(f"{name} has shape {tuple(value.shape)}, expected {tuple(tensor.shape)}")
    problems += [f"{name} is not a weight of this model" for name in stored if name not in expected]
    if not problems:
        return None
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more
