"""Published menu versions: the newest one is live; every one is kept.

The running IVR asks for the newest published id on each call (one indexed query) and
parses a version only once, so a publish takes effect on the next call without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.menu.models import MenuVersion
from alo185.queues.names import pbx_queues
from ivr.default import default_yaml
from ivr.tree import Tree, TreeError, load_yaml, validate


def check(yaml_text: str) -> Tree:
    """Parse and validate; raises TreeError listing every problem."""
    tree = load_yaml(yaml_text)
    errors = validate(tree, set(pbx_queues()))
    if errors:
        raise TreeError(errors)
    return tree


def publish(session: Session, yaml_text: str, by: str, note: str = "") -> MenuVersion:
    """Validate and publish a new version; nothing is written if the tree is refused."""
    check(yaml_text)
    version = MenuVersion(yaml=yaml_text, note=note[:200], created_by=by, published_at=datetime.now(UTC))
    session.add(version)
    session.flush()
    return version


def live(session: Session) -> MenuVersion | None:
    query = select(MenuVersion).where(MenuVersion.published_at.is_not(None)).order_by(MenuVersion.id.desc())
    return session.scalars(query.limit(1)).first()


def live_id(session: Session) -> int | None:
    query = select(MenuVersion.id).where(MenuVersion.published_at.is_not(None)).order_by(MenuVersion.id.desc())
    return session.scalars(query.limit(1)).first()


def history(session: Session) -> list[MenuVersion]:
    return list(session.scalars(select(MenuVersion).order_by(MenuVersion.id.desc())))


def ensure_seeded(session: Session) -> MenuVersion:
    """Publish the shipped default tree if nothing is published yet."""
    return live(session) or publish(session, default_yaml(), by="system", note="Varsayılan 185 menüsü")


class LiveTree:
    """The live tree for each call, re-parsed only when a new version is published.

    The live id is looked up at most every ``check_s`` seconds: a publish reaches the calls
    that start after that.
    """

    def __init__(self, check_s: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[int, Tree] | None = None
        self._checked = 0.0
        self.check_s = check_s

    def get(self, transaction: Callable[[], AbstractContextManager[Session]]) -> tuple[int, Tree]:
        """``transaction`` opens a session in a transaction (``sessions.begin``); used only on a check."""
        cached = self._cached
        if cached is not None and time.monotonic() - self._checked < self.check_s:
            return cached
        with transaction() as session:
            current = live_id(session)
            self._checked = time.monotonic()
            if cached is not None and cached[0] == current:
                return cached
            with self._lock:
                version = live(session) if current is not None else ensure_seeded(session)
                assert version is not None  # ``current`` is a published version, and none is ever removed
                self._cached = (version.id, load_yaml(version.yaml))
                return self._cached
