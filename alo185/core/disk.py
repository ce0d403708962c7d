"""Whether a directory can take what is written to it: the faults of a disk, told apart from a bad file.

A full disk, a read-only mount or a directory the process may not write to is the machine's fault,
not the file's: whoever meets one waits and tries again later instead of giving the work up.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

# No space, no quota left, a read-only file system, no permission, an I/O error.
DISK_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})
PROBE_NAME = ".alo185-write-probe"


def is_disk_fault(exc: BaseException) -> bool:
    """True for an error of the disk (retry when it is fixed), False for one of the file itself."""
    return isinstance(exc, OSError) and exc.errno in DISK_FAULTS


def describe(exc: OSError, with_path: bool = True) -> str:
    """One line for the log: the errno's name and the path, e.g. ``ENOSPC (No space left on device): /x``."""
    name = errno.errorcode.get(exc.errno or 0, "error")
    where = f": {exc.filename}" if exc.filename and with_path else ""
    return f"{name} ({exc.strerror or exc}){where}"


def problem(path: Path, min_free_bytes: int) -> str | None:
    """What keeps ``path`` from taking files, or None: it cannot be written, or too little space is left.

    Writes (and syncs) a byte, as every writer does: permissions and a read-only mount say less
    than a write that succeeds, and a disk can be full while the directory is writable.
    """
    probe = path / f"{PROBE_NAME}.{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"{path} is not writable: {describe(exc, with_path=False)}"
    finally:
        with contextlib.suppress(OSError):  # a read-only file system refuses even to unlink what is not there
            probe.unlink()
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    if free < min_free_bytes:
        return f"{path} has {free // 1024} KB free, below {min_free_bytes // (1024 * 1024)} MB"
    return None
