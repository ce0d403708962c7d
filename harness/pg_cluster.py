"""A private, throw-away PostgreSQL cluster on a free port (tests and benchmarks).

Runs Debian's server binaries as the ``postgres`` user when started as root (the server refuses
root), with trust authentication on 127.0.0.1 only and fsync off: for measuring and testing,
never for keeping data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy

from harness import ports


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: apt-get install postgresql")
    return found[-1].parent


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def private_cluster() -> Iterator[str]:
    """Yields the server's base URL (no database): ``postgresql+psycopg://alo185@127.0.0.1:<port>``."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="alo185-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", ports.free_port()
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "alo185", "--no-sync", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    # Room for a test session's many short-lived databases, each with its own connection pool.
    options = f"-p {port} -k {base} -h 127.0.0.1 -F -c max_connections=300"
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log")]
    subprocess.run(_as_postgres([*ctl, "-o", options, "-w", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://alo185@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([*ctl, "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: str, name: str, template: str | None = None) -> str:
    """A new database; a copy of ``template`` (a database nobody is connected to) when given."""
    copy = f' TEMPLATE "{template}"' if template else ""
    with sqlalchemy.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"{copy}'))
    return f"{server}/{name}"
