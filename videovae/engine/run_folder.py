"""A run folder owned by one process at a time, and what a failed write or a signal says.

* :class:`RunLock`: ``<run>/run.lock``, an OS file lock (``fcntl.flock``) that the kernel releases when the
  process ends in any way (``kill -9`` included). The file holds the owner's pid; a second run into the
  folder is refused with one line naming it (:class:`~videovae.core.errors.RunInUseError`). A lock file
  left by a process that no longer runs is taken over with a notice. The owner removes the temporary
  files that dead processes left in the folder (:func:`~videovae.io.atomic.remove_stale_temp_files`).
* :func:`~videovae.io.atomic.storage_error` (shared with ``generate``): a full disk, a read-only folder or a
  missing permission as one line (:class:`~videovae.core.errors.StorageError`) that says what was kept.
* :func:`sigterm_as_interrupt`: SIGTERM stops a run (and, in the CLI, every command) as Ctrl-C does (exit status
  143 instead of 130).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

from ..core.errors import RunInterrupted, RunInUseError, StorageError
from ..io.atomic import process_alive, remove_stale_temp_files, storage_error

try:
    import fcntl
except ImportError:  # Windows: the lock file's pid is all there is
    fcntl = None

logger = logging.getLogger(__name__)

LOCK_NAME = "run.lock"

def _holder(path: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text() or "{}")
        if isinstance(data, dict):
            return data
    return {}


def _describe(holder: dict) -> str:
    pid = holder.get("pid", "unknown")
    host = holder.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    since = f", since {holder['started']}" if holder.get("started") else ""
    return f"pid {pid}{where}{since}"


class RunLock:
    """Ownership of a run folder: :meth:`acquire` it before writing into it, :meth:`release` it after."""

    def __init__(self, folder: Path, fd: int, created_folder: bool):
        self.folder, self.path = folder, folder / LOCK_NAME
        self._fd: int | None = fd
        self._created_folder = created_folder

    @classmethod
    def acquire(cls, folder: str | Path, what: str = "videovae train") -> "RunLock":
        """Own ``folder`` (created if missing) or raise a one-line :class:`RunInUseError` naming its owner;
        a full disk or a read-only place is a one-line :class:`StorageError`. Nothing is written when refused."""
        folder = Path(folder)
        created = not folder.exists()
        path = folder / LOCK_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    cls._lock(fd, path)
                    with contextlib.suppress(FileNotFoundError):
                        if os.path.samestat(os.fstat(fd), os.stat(path)):  # not removed by its owner meanwhile
                            break
                except BaseException:
                    os.close(fd)
                    raise
                os.close(fd)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTDIR) and not folder.is_dir():
                raise StorageError(f"{folder} is a file; expected a folder for the run (choose another --out)") from None
            raise storage_error(exc, path, "nothing was written") from None
        lock = cls(folder, fd, created)
        stale = _holder(path)
        if stale.get("pid") not in (None, os.getpid()):
            logger.info(f"taking over {path} from {_describe(stale)}, which is no longer running")
        try:
            info = {"pid": os.getpid(), "host": socket.gethostname(), "command": what,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as exc:
            lock.release()
            raise storage_error(exc, path, "nothing was written") from None
        for removed in remove_stale_temp_files(folder) + remove_stale_temp_files(folder / "samples"):
            logger.info(f"removed {removed}, a temporary file a stopped run left")
        return lock

    @staticmethod
    def _lock(fd: int, path: Path) -> None:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                raise RunInUseError(f"{path.parent} is in use by another run ({_describe(_holder(path))}); "
                                    f"wait for it to end or choose another --out") from None
            except OSError as exc:  # no locks on this file system (ENOLCK, EOPNOTSUPP): go by the pid
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
        holder = _holder(path)
        pid = holder.get("pid")
        same_host = holder.get("host") in (None, socket.gethostname())
        if isinstance(pid, int) and pid != os.getpid() and (not same_host or process_alive(pid)):
            raise RunInUseError(f"{path.parent} is in use by another run ({_describe(holder)}); "
                                f"wait for it to end or choose another --out")

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the folder up: the lock file goes, and so does the folder if :meth:`acquire` made it and nothing
        else was written into it."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(self._fd), os.stat(self.path)):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None
        if self._created_folder:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only if empty

    def __del__(self):
        with contextlib.suppress(Exception):
            if self._fd is not None:
                os.close(self._fd)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`RunInterrupted` (exit status 143) where Ctrl-C raises
    KeyboardInterrupt, so a save in progress is abandoned cleanly and the last checkpoint kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise RunInterrupted("terminated (SIGTERM)", exit_code=128 + signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
