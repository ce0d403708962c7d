"""The IVR's view of the database: platform callers, tickets, announcements (``engine.Services``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from alo185.models import Announcement as AnnouncementRow
from alo185.models import Citizen, PlatformRole, Redirect, Ticket
from alo185.tickets import queries, workflow
from ivr.engine import Announcement, TicketInfo

log = logging.getLogger(__name__)


_CALLER_BY_PHONE = select(Citizen.id, Citizen.platform_role).where(Citizen.phone == bindparam("phone"))


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
        self._local = threading.local()  # each thread's connection for the caller lookup
        self._announcements: tuple[float, list[AnnouncementRow]] = (0.0, [])

    def _caller(self, e164: str) -> _Caller | None:
        now = time.monotonic()
        with self._lock:
            hit = self._callers.get(e164)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        row = self._caller_row(e164)
        found = _Caller(row.id, str(row.platform_role)) if row is not None else None
        with self._lock:
            if len(self._callers) > 10_000:
                self._callers.clear()
            self._callers[e164] = (now, found)
        return found

    def _caller_row(self, e164: str) -> Row | None:
        """Core on a connection this thread keeps, not an ORM session nor a pool checkout per call: this runs
        for nearly every call, on the event loop. A connection the database dropped is replaced once."""
        try:
            return self._query_caller(e164)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._query_caller(e164)  # on a new connection

    def _query_caller(self, e164: str) -> Row | None:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.sessions.kw["bind"].connect()
        try:
            return conn.execute(_CALLER_BY_PHONE, {"phone": e164}).first()
        finally:
            conn.rollback()  # nothing held between calls: no stale snapshot, no lock

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
