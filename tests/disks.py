"""Small file systems of the tests' own (a tmpfs, mounted as root) that can be filled or made read-only."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def tmpfs(path: Path, options: str, *, lazy: bool = False) -> Iterator[Path]:
    """A tmpfs mounted over ``path`` while the block runs. ``lazy`` unmounts even if a file is still open."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", *(["--lazy"] if lazy else []), str(path)], check=True)


def fill(path: Path) -> Path:
    """Fill the file system ``path`` is on to the last byte; returns the file to delete to free it."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)
    return filler
