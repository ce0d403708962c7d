"""Engines, sessions and migrations for SQLite (default) and PostgreSQL; write transactions that survive contention.

A unit of work that writes runs through :func:`write`: one short transaction, committed, and run again
from the start when it lost a race it could not wait out (a lock, a serialization failure, the unique
row another writer inserted first). On SQLite such a transaction begins with ``BEGIN IMMEDIATE``: it
waits (the busy timeout) for the one write lock *before* it reads, so its reads are never stale when it
writes. A deferred transaction that has read cannot wait for the lock: SQLite refuses it at once with
"database is locked" when another writer went first.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

# The schema's migrations live beside the whole schema they build (``alo185/migrations``).
MIGRATIONS = "alo185:migrations"
# A connection's execution option: its transaction takes SQLite's write lock when it begins.
BEGIN_IMMEDIATE = "alo185_begin_immediate"
BUSY_TIMEOUT_S = 30
WRITE_ATTEMPTS = 6
log = logging.getLogger(__name__)
T = TypeVar("T")


@cache
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A busy IVR runs hundreds of calls in threads; each holds a connection only for a lookup.
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S}, pool_size=20, max_overflow=80)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the web app read while the recorder writes; foreign keys on.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Writers say so before their first read; pysqlite then sees the open transaction and adds no
            # BEGIN of its own. Readers keep pysqlite's own handling: they never wait for the write lock.
            if conn.get_execution_options().get(BEGIN_IMMEDIATE):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=40)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


@contextmanager
def writing(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one write transaction (committed at the end, rolled back on an exception).

    On SQLite it holds the write lock from its start, waiting for it up to the busy timeout.
    """
    engine = sessions.kw.get("bind")
    gate = _write_gate(engine) if isinstance(engine, Engine) and engine.dialect.name == "sqlite" else None
    # Within a process, writers queue here and each is handed the lock at once; SQLite's busy handler
    # polls with growing sleeps, so many threads waiting there wait long and unfairly. The gate is only
    # for speed: past the busy timeout, go on and let SQLite's own lock decide.
    gated = gate.acquire(timeout=BUSY_TIMEOUT_S) if gate is not None else False
    try:
        with sessions.begin() as session:
            session.connection(execution_options={BEGIN_IMMEDIATE: True})
            yield session
    finally:
        if gated and gate is not None:
            gate.release()


@cache
def _write_gate(engine: Engine) -> threading.RLock:
    """One per SQLite engine; re-entrant, so a writer that opens a second write session does not wait on itself."""
    return threading.RLock()


def write(sessions: sessionmaker[Session], work: Callable[[Session], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """``work(session)`` in a write transaction, committed; run afresh when it lost a race (:func:`lost_race`).

    ``work`` must do nothing outside the database that a second run would repeat. What it returns
    is used after the commit: ORM objects in it are detached (loaded attributes only).
    """
    for attempt in range(1, attempts + 1):
        try:
            with writing(sessions) as session:
                return work(session)
        except DBAPIError as exc:
            if attempt == attempts or not lost_race(exc):
                raise
            log.info("write transaction lost a race (attempt %d of %d), again: %s", attempt, attempts, exc.orig)
            time.sleep(random.uniform(0, 0.02 * 2**attempt))  # jitter: the racers do not meet again
    raise AssertionError("unreachable: the last attempt returns or raises")


# PostgreSQL's serialization_failure, deadlock_detected and unique_violation.
RETRY_SQLSTATES = frozenset({"40001", "40P01", "23505"})


def lost_race(exc: DBAPIError) -> bool:
    """Whether the transaction failed only because another one went first: trying again may succeed."""
    if getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES:
        return True
    message = str(exc.orig)
    if isinstance(exc, OperationalError):
        return "database is locked" in message or "database table is locked" in message
    # Two writers inserted the same new row (a new citizen's phone); the loser finds it next time.
    return isinstance(exc, IntegrityError) and message.startswith("UNIQUE constraint failed")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
