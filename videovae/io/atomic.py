"""The one atomic-write helper: every file videovae writes goes through it.

A file is written to a temporary name in the target's folder, flushed to disk and moved
onto the target with ``os.replace`` (atomic on POSIX and Windows), so a crash, a full
disk or a kill never leaves a half-written file and never destroys the previous one.

A temporary file is named ``.<stem>.<pid>-<random>.tmp<suffix>``: the writing process's id, so that a
later run can tell the temporary files of a dead process (a ``kill -9`` leaves them) from those of a
live one (:func:`remove_stale_temp_files`, :func:`writer_is_gone`).

A write that fails for want of room or permission is one line, :func:`storage_error`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from ..core.errors import StorageError

#: ``.<stem>.<pid>-<random>.tmp<suffix>``; older versions wrote ``.<stem>.<random>.tmp<suffix>`` (no pid)
TEMP_NAME = re.compile(r"^\.(?P<stem>.+?)\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+\.tmp(?P<suffix>\.[^.]*)?$")

#: what each errno of a failed write means to a user
_REASONS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
            errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EFBIG: "file too large for the file system", errno.EIO: "input/output error (a failing disk?)",
            errno.ENOTDIR: "a path component is a file, not a folder", errno.EEXIST: "a file of that name exists"}
STORAGE_ERRNOS = frozenset(_REASONS)


def default_file_mode() -> int:
    """The permissions a plain ``open()`` would give a new file (mkstemp's are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def keep_as_previous(path: Path, previous: Path) -> None:
    """Make ``previous`` a copy of ``path`` atomically (a hard link where the file system has them), so that
    at every moment both names hold a complete file."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samestat(os.stat(path), os.stat(previous)):
            return  # already one file (a save stopped between its two renames): rename(2) would do nothing
    fd, tmp = tempfile.mkstemp(dir=previous.parent, prefix=f".{previous.stem}.{os.getpid()}-",
                               suffix=f".tmp{previous.suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        tmp.unlink()
        try:
            os.link(path, tmp)
        except OSError:  # no hard links here (e.g. some network or FAT file systems): copy it
            shutil.copyfile(path, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, previous)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path, previous: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that look at it still work);
    on success it is fsynced and moved onto ``path``, on any error removed. With ``previous``, the
    file ``path`` held until then is kept under that name (:func:`keep_as_previous`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.{os.getpid()}-", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, default_file_mode())
        if previous is not None and path.is_file():
            keep_as_previous(path, Path(previous))
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file, then move it onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def target_of(path: str | Path) -> Path:
    """The file a temporary file of :func:`atomic_path` was to become (``path`` itself if it is none)."""
    path = Path(path)
    match = TEMP_NAME.match(path.name)
    return path.with_name(match["stem"] + (match["suffix"] or "")) if match else path


def storage_error(exc: OSError, path: str | Path | None = None, kept: str = "") -> StorageError:
    """One line for a failed write: what went wrong, the file (the target, not its temporary name) and ``kept``."""
    reason = _REASONS.get(exc.errno, exc.strerror or type(exc).__name__)
    where = target_of(exc.filename) if exc.filename else path
    text = f"{reason} writing {where}" if where is not None else reason
    return StorageError(f"{text}: {kept}" if kept else text)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (zombies count as running until reaped)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would end the process there
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def writer_is_gone(pid: str | int | None) -> bool:
    """Whether the process whose id a temporary name records (``None``: a name of an older version, which
    records none) no longer runs on this machine, so that what it was writing can be removed; this
    process's own names never count as gone."""
    if pid is None:
        return True
    return int(pid) != os.getpid() and not process_alive(int(pid))


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove the temporary files of :func:`atomic_path` in ``folder`` whose writer no longer runs (those of
    older versions, which carry no process id, too); the removed paths. Call it only while owning the folder."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = TEMP_NAME.match(entry.name)
        if not match or not entry.is_file() or not writer_is_gone(match["pid"]):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed
