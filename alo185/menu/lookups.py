"""The IVR's view of the database: platform callers, tickets, announcements (``engine.Services``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, PoolProxiedConnection, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from alo185.menu.models import Announcement as AnnouncementRow
from alo185.tickets import queries, workflow
from alo185.tickets.models import Citizen, PlatformRole, Redirect, Ticket
from ivr.engine import Announcement, TicketInfo

log = logging.getLogger(__name__)


_CALLER_BY_PHONE = select(Citizen.id, Citizen.platform_role).where(Citizen.phone == bindparam("phone"))


class _CallerLookup:
    """``_CALLER_BY_PHONE`` compiled once by SQLAlchemy, run by the driver on a connection its thread keeps.

    Nearly every call runs it, on the event loop: through a Core ``Connection`` it took 28 µs, on the
    driver's cursor 4 µs. Nothing is held between lookups (rolled back: no stale snapshot, no lock), and
    a connection the database dropped is replaced once.
    """

    def __init__(self, engine: Engine) -> None:
        compiled = _CALLER_BY_PHONE.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._positions = compiled.positiontup  # the driver's parameters by position; None: by name
        self._local = threading.local()

    def __call__(self, phone: str) -> tuple[int, str] | None:
        try:
            return self._run(phone)
        except self._engine.dialect.loaded_dbapi.Error as exc:
            conn = getattr(self._local, "conn", None)
            if conn is None or not self._engine.dialect.is_disconnect(exc, conn.dbapi_connection, None):
                raise
            conn.invalidate(exc)
            self._local.conn = None
            return self._run(phone)  # on a new connection

    def _run(self, phone: str) -> tuple[int, str] | None:
        conn: PoolProxiedConnection | None = getattr(self._local, "conn", None)
        if conn is None or conn.dbapi_connection is None:
            conn = self._local.conn = self._engine.raw_connection()
        params: dict[str, str] = {"phone": phone}
        cursor = conn.cursor()
        try:
            cursor.execute(self._sql, params if self._positions is None else [params[n] for n in self._positions])
            return cursor.fetchone()
        finally:
            cursor.close()
            conn.rollback()


@dataclass(frozen=True)
class _Caller:
    id: int
    platform_role: str


class DbServices:
    """Database lookups of one IVR process, with the little caching a busy line needs.

    A call asks about its caller several times within seconds: the citizen row is looked up once
    (most callers are unknown: one indexed query, then nothing else). Active announcements are
    re-read at most every few seconds.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] | None = None,
        ttl_s: float = 3.0,
        reopen_window: timedelta = workflow.REOPEN_WINDOW,
    ) -> None:
        self.sessions = sessions
        self.reopen_window = reopen_window
        self.clock = clock or (lambda: datetime.now(UTC))
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._callers: dict[str, tuple[float, _Caller | None]] = {}
        self._lookup = _CallerLookup(sessions.kw["bind"])
        self._announcements: tuple[float, list[AnnouncementRow]] = (0.0, [])

    def _caller(self, e164: str) -> _Caller | None:
        now = time.monotonic()
        with self._lock:
            hit = self._callers.get(e164)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        row = self._lookup(e164)
        found = _Caller(row[0], str(row[1])) if row is not None else None
        with self._lock:
            if len(self._callers) > 10_000:
                self._callers.clear()
            self._callers[e164] = (now, found)
        return found

    def is_citizen(self, e164: str) -> bool:
        """Whether the number is a known citizen's (from the recognition the call has already made)."""
        return bool(e164) and self._caller(e164) is not None

    def platform_role(self, e164: str) -> str | None:
        caller = self._caller(e164)
        if caller is None or caller.platform_role == PlatformRole.NONE:
            return None
        return caller.platform_role

    def open_ticket(self, e164: str) -> TicketInfo | None:
        if self._caller(e164) is None:
            return None
        with self.sessions() as s:
            tickets = queries.open_tickets_for_phone(s, e164)
            return self._info(s, tickets[0]) if tickets else None

    def find_ticket(self, number: str) -> TicketInfo | None:
        with self.sessions() as s:
            ticket = queries.find_by_number(s, number)
            return self._info(s, ticket) if ticket is not None else None

    def reopen(self, number: str) -> bool:
        with self.sessions.begin() as s:
            ticket = queries.find_by_number(s, number)
            if ticket is None:
                return False
            try:
                workflow.reopen(
                    s,
                    ticket,
                    actor="citizen",
                    channel="phone",
                    reason="IVR",
                    now=self.clock(),
                    window=self.reopen_window,
                )
            except workflow.TransitionError as exc:
                log.info("reopen of %s refused: %s", number, exc)
                return False
        return True

    def _active_announcements(self) -> list[AnnouncementRow]:
        checked, rows = self._announcements
        if time.monotonic() - checked < self.ttl_s:
            return rows
        with self.sessions() as s:
            rows = list(
                s.scalars(
                    select(AnnouncementRow)
                    .where(AnnouncementRow.active.is_(True), AnnouncementRow.ends_at > self.clock())
                    .order_by(AnnouncementRow.id)
                )
            )
        self._announcements = (time.monotonic(), rows)
        return rows

    def announcements(self, e164: str, now: datetime) -> list[Announcement]:
        rows = [r for r in self._active_announcements() if r.starts_at <= now < r.ends_at]
        if not rows:
            return []
        district = mahalle = None
        if any(r.districts or r.mahalles for r in rows) and self._caller(e164) is not None:
            with self.sessions() as s:
                district, mahalle = queries.last_known_area(s, e164)
        return [Announcement(r.id, r.text_tr) for r in rows if _applies(r, now, district, mahalle)]

    def _info(self, session: Session, ticket: Ticket) -> TicketInfo:
        status = queries.public_status(ticket)
        institution = ""
        if status == "redirected":
            last = session.scalars(
                select(Redirect).where(Redirect.ticket_id == ticket.id).order_by(Redirect.id.desc())
            ).first()
            institution = last.institution.name if last is not None else ""
        return TicketInfo(
            number=ticket.number,
            phone=ticket.citizen.phone if ticket.citizen is not None else "",
            status=status,
            institution=institution,
            can_reopen=queries.can_reopen(ticket, self.clock(), self.reopen_window),
        )


def _applies(row: AnnouncementRow, now: datetime, district: str | None, mahalle: str | None) -> bool:
    if not row.districts and not row.mahalles:
        return True  # city-wide
    return (district is not None and district in row.districts) or (mahalle is not None and mahalle in row.mahalles)
