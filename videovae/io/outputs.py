"""Output folders given on the command line (``--out``): checked before anything is computed, and
written all or nothing.

:func:`output_folder` refuses, in one line, a path that is a file, lies under a file, or whose
nearest existing folder cannot be written (saying why: a read-only file system or a missing permission,
as training does), without creating anything. :func:`all_or_nothing`
stages the files a command writes in a hidden folder inside the output folder and moves them in
together at the end; when one fails (a read-only folder, a full disk) or anything else raises, the
staged ones are removed, and so are the folders the command created, so a failed command leaves the
output folder as it found it. A failed write is one line, :func:`~videovae.io.atomic.storage_error`.
The staging folder's name carries the writer's pid (``.videovae-writing-<pid>-<random>``): one that a
killed command left (``kill -9``) is removed by the next :func:`all_or_nothing` into the folder, one of a
command still running is not (:func:`remove_stale_staging`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from ..core.errors import ConfigError, one_line
from .atomic import storage_error, writer_is_gone

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".videovae-writing-"
#: ``.videovae-writing-<pid>-<random>``; older versions wrote ``.videovae-writing-<random>`` (no pid)
STAGING_NAME = re.compile(rf"^{re.escape(STAGING_PREFIX)}(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+$")


def output_folder(path: str | Path, flag: str = "--out", *, writable: bool = True) -> Path:
    """``path`` as a Path when it is, or can become, a folder (``writable`` too: its nearest existing
    folder can be written); a one-line :class:`ConfigError` (a file in the way) or
    :class:`~videovae.core.errors.StorageError` (not writable) saying why not otherwise. Nothing is created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file; expected a folder (existing or new) for the output")
    existing = path
    while not existing.exists():
        parent = existing.parent
        if parent == existing:
            break
        existing = parent
    if existing != path and existing.exists() and not existing.is_dir():
        raise ConfigError(f"{flag} {path} cannot be a folder: {existing} is a file")
    if writable and existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        code = _why_unwritable(existing)
        raise storage_error(OSError(code, os.strerror(code)), path, "nothing was written")
    return path


def _why_unwritable(folder: Path) -> int:
    """The errno a write into ``folder`` (which ``os.access`` found unwritable) would fail with: EROFS on a
    file system mounted read-only, EACCES otherwise."""
    with contextlib.suppress(OSError, AttributeError):  # no statvfs on Windows
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return errno.EROFS
    return errno.EACCES


def output_file(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a Path when a file can be written there (not a folder; its folder can be one); a
    one-line :class:`ConfigError` otherwise. Nothing is created."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; expected the path of a file to write")
    output_folder(path.parent, flag)
    return path


def plain_stem(name: str, flag: str = "--name") -> str:
    """``name`` when it is a plain file name stem (no folder part); a one-line :class:`ConfigError` otherwise."""
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
            or name != name.strip() or name.startswith(".")):
        raise ConfigError(f"{flag} must be a plain file name stem (no folders, no leading dot), got {name!r}")
    return name


def remove_stale_staging(folder: str | Path) -> list[Path]:
    """Remove the staging folders of :func:`all_or_nothing` in ``folder`` whose writer no longer runs
    (:func:`~videovae.io.atomic.writer_is_gone`, as for temporary files: those of older versions, whose names
    carry no pid, too); the removed paths."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            match = STAGING_NAME.match(entry.name)
            if match and entry.is_dir() and not entry.is_symlink() and writer_is_gone(match["pid"]):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


@contextlib.contextmanager
def all_or_nothing(folder: str | Path) -> Iterator[Path]:
    """Yield a hidden staging folder inside ``folder`` to write the outputs into; when the block ends
    they are moved into ``folder`` together. On any error the staging folder goes, and so do the folders
    this call created, so ``folder`` is left as it was (an earlier file of the same name included). An
    ``OSError`` (a read-only folder, a full disk) becomes a one-line :class:`~videovae.core.errors.StorageError`
    (:func:`~videovae.io.atomic.storage_error`, as in training) naming ``folder``. Staging folders that
    killed commands left in ``folder`` are removed first (:func:`remove_stale_staging`)."""
    folder = Path(folder)
    created, probe = [], folder  # the folders this call may create, innermost first
    while not probe.exists() and probe.parent != probe:
        created.append(probe)
        probe = probe.parent
    staging = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_staging(folder):
            logger.info(f"removed {stale}, a staging folder a stopped command left")
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
        yield staging
        for path in sorted(staging.iterdir()):
            os.replace(path, folder / path.name)
        staging.rmdir()
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for path in created:
            with contextlib.suppress(OSError):
                path.rmdir()
        if isinstance(exc, OSError):  # named by the output folder, not the hidden staging one
            reason = exc.strerror or one_line(exc) or type(exc).__name__
            raise storage_error(OSError(exc.errno, reason), folder, "nothing was written") from None
        raise
