"""Tickets for staff: the work list, one ticket with its actions, a citizen's record, and the CSV export.

Directorate staff see only their directorate's tickets: anything else is "not found", so the pages
do not even confirm that a number exists. Opening a ticket or a citizen's record, and exporting,
are written to the audit trail (KVKK); numbers are shown as the role may see them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from admin import auth, context, i18n
from alo185.org import access
from alo185.org.access import Perm
from alo185.org.models import Directorate, Institution, InstitutionKind
from alo185.tickets import queries, search, sla, workflow
from alo185.tickets.models import Citizen, Ticket, TicketStatus

bp = Blueprint("tickets", __name__, template_folder="templates")
auth.protect(bp, Perm.TICKETS_VIEW)
PAGE_SIZE = 100
EXPORT_COLUMNS = (
    "numara",
    "kayit",
    "durum",
    "tur",
    "kanal",
    "kategori",
    "mudurluk",
    "ilce",
    "mahalle",
    "telefon",
    "son_tarih",
    "cozum",
    "yeniden_acilma",
)


def _scope() -> int | None:
    user = auth.current()
    return access.directorate_scope(user.role, user.directorate_id)


def _scoped(query: Select[Ticket]) -> Select[Ticket]:
    scope = _scope()
    return query if scope is None else query.where(Ticket.directorate_id == scope)


def _status_filter() -> TicketStatus | None:
    raw = request.args.get("status", "")
    try:
        return TicketStatus(raw) if raw else None
    except ValueError:
        abort(400, f"unknown status {raw!r}")


def _listed(session: Session, text: str, status: TicketStatus | None) -> list[Ticket]:
    scope = _scope()
    if text:
        return search.search(session, text, directorate_id=scope, limit=PAGE_SIZE)
    if scope is not None and status is None:
        return queries.open_for_directorate(session, scope, limit=PAGE_SIZE)
    query = _scoped(select(Ticket))
    if status is not None:
        query = query.where(Ticket.status == status)
    return list(session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(PAGE_SIZE)))


@bp.get("/tickets")
def list_tickets() -> str:
    text = request.args.get("q", "").strip()
    status = _status_filter()
    with context.sessions()() as session:
        rows = _listed(session, text, status)
        return render_template(
            "tickets/list.html",
            rows=rows,
            q=text,
            status=status,
            statuses=workflow.STATUS_TR,
            now=datetime.now(UTC),
        )


@bp.get("/tickets/overdue")
def overdue() -> str:
    """Late tickets: per directorate for the whole city; one directorate's list for its staff (or on request)."""
    now = datetime.now(UTC)
    scope = _scope()
    chosen = scope if scope is not None else request.args.get("directorate", type=int)
    with context.sessions()() as session:
        return render_template(
            "tickets/overdue.html",
            counts=sla.overdue_counts(session, now) if scope is None else [],
            late=sla.overdue_for_directorate(session, chosen, now) if chosen is not None else [],
            chosen=session.get(Directorate, chosen) if chosen is not None else None,
            statuses=workflow.STATUS_TR,
            now=now,
        )


def _visible(session: Session, number: str) -> Ticket:
    ticket = queries.find_by_number(session, number)
    user = auth.current()
    if ticket is None or not access.sees_directorate(user.role, user.directorate_id, ticket.directorate_id):
        abort(404)
    return ticket


def _show(session: Session, ticket: Ticket, status_code: int = 200) -> tuple[str, int]:
    user = auth.current()
    institutions = session.scalars(
        select(Institution).where(Institution.kind != InstitutionKind.METROPOLITAN).order_by(Institution.name)
    ).all()
    html = render_template(
        "tickets/detail.html",
        ticket=ticket,
        targets=workflow.allowed_targets(ticket, workflow.ActorKind(user.role.value)),
        statuses=workflow.STATUS_TR,
        institutions=institutions,
    )
    return html, status_code


@bp.get("/tickets/<number>")
def show_ticket(number: str) -> tuple[str, int]:
    with context.sessions()() as session:
        ticket = _visible(session, number)
        context.audit(session, action="ticket.view", entity="ticket", entity_id=ticket.number)
        page = _show(session, ticket)
        session.commit()
        return page


@bp.post("/tickets/<number>/status")
def change_status(number: str) -> ResponseReturnValue:
    form = request.form
    with context.sessions()() as session:
        ticket = _visible(session, number)
        institution = session.scalar(select(Institution).where(Institution.code == form.get("institution", "")))
        original = queries.find_by_number(session, form.get("duplicate_of", "").strip())
        try:
            workflow.transition(
                session,
                ticket,
                form.get("target", ""),
                actor=auth.current().username,
                channel="admin",
                note=form.get("note") or None,
                institution=institution,
                duplicate_of=original,
            )
        except (workflow.TransitionError, ValueError) as exc:
            session.rollback()
            flash(getattr(exc, "message_tr", None) or gettext("Geçersiz işlem: %(reason)s", reason=exc), "error")
            return _show(session, _visible(session, number), 400)
        session.commit()
        flash(f"{ticket.number}: {i18n.term(workflow.STATUS_TR[ticket.status])}", "ok")
    return redirect(url_for("tickets.show_ticket", number=number), code=303)


@bp.get("/citizens/<int:citizen_id>")
@auth.requires(Perm.CITIZEN_VIEW)
def show_citizen(citizen_id: int) -> str:
    with context.sessions()() as session:
        citizen = session.get(Citizen, citizen_id, options=[selectinload(Citizen.tickets)])
        if citizen is None:
            abort(404)
        context.audit(session, action="citizen.view", entity="citizen", entity_id=citizen.id)
        html = render_template("tickets/citizen.html", citizen=citizen, statuses=workflow.STATUS_TR)
        session.commit()
        return html


def _csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _export_rows(session: Session, tickets: list[Ticket]) -> Iterator[list[object]]:
    role = auth.current().role
    for t in tickets:
        yield [
            t.number,
            t.created_at.isoformat(),
            t.status.value,
            t.type.value,
            t.channel.value,
            t.category.code,
            t.directorate.code if t.directorate else "",
            t.district.name if t.district else "",
            t.mahalle.name if t.mahalle else "",
            access.phone_for(role, t.citizen.phone if t.citizen else None, "export"),
            t.due_at.isoformat() if t.due_at else "",
            t.resolved_at.isoformat() if t.resolved_at else "",
            t.reopen_count,
        ]


@bp.get("/tickets/export.csv")
@auth.requires(Perm.TICKETS_EXPORT)
def export_csv() -> Response:
    status = _status_filter()
    query = _scoped(select(Ticket)).order_by(Ticket.id)
    if status is not None:
        query = query.where(Ticket.status == status)
    options = [selectinload(Ticket.citizen), selectinload(Ticket.category), selectinload(Ticket.directorate)]
    options += [selectinload(Ticket.district), selectinload(Ticket.mahalle)]
    sessions = context.sessions()
    with sessions() as session:
        context.audit(
            session, action="tickets.export", entity="ticket", detail=f"status={status or 'all'} scope={_scope()}"
        )
        session.commit()

    def generate() -> Iterator[str]:
        yield "\ufeff" + _csv_line(list(EXPORT_COLUMNS))  # the BOM makes spreadsheet programs read UTF-8
        with sessions() as session:
            for batch in session.scalars(query.options(*options).execution_options(yield_per=1000)).partitions():
                for row in _export_rows(session, list(batch)):
                    yield _csv_line(row)

    headers = {"Content-Disposition": "attachment; filename=basvurular.csv"}
    return Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8", headers=headers)
