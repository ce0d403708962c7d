"""Pages for citizens, reached from a link in an SMS: no login, nothing but what the link is for.

Every request counts against a per-address limit (Redis, a minute's window), so links cannot
be tried in bulk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alo185 import bus, links, surveys
from alo185.models import Redirect, Ticket, TicketHistory, TicketStatus
from alo185.tickets import queries, workflow
from ivr.survey import LABELS

bp = Blueprint("public", __name__, template_folder="templates")
REQUESTS_PER_MINUTE = 30


@bp.before_request
def _rate_limit() -> None:
    client = current_app.extensions.get("alo185.redis")
    if client is None:
        client = current_app.extensions["alo185.redis"] = bus.connect(current_app.config["ALO185"].redis_connection_url)
    key = f"alo185:ratelimit:public:{request.remote_addr}:{int(time.time() // 60)}"
    try:
        count = client.incr(key)
        if count == 1:
            client.expire(key, 120)
    except redis.RedisError:
        return  # the limiter is down: serve rather than lock citizens out
    if count > REQUESTS_PER_MINUTE:
        abort(429)


def _ticket_for(session: Session, purpose: str, link_token: str) -> Ticket:
    ticket_id = links.unsign(current_app.config["SECRET_KEY"], purpose, link_token)
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None:
        abort(404)
    return ticket


@dataclass(frozen=True)
class Step:
    when: datetime
    text: str
    detail: str = ""


def _steps(session: Session, ticket: Ticket) -> list[Step]:
    """The ticket's history in the citizen's words: consecutive internal moves are one step."""
    rows = session.scalars(
        select(TicketHistory).where(TicketHistory.ticket_id == ticket.id).order_by(TicketHistory.id)
    ).all()
    steps: list[Step] = []
    for row in rows:
        word = queries.PUBLIC_STATUS.get(TicketStatus(row.to_status))
        if word is None or (steps and steps[-1].text == queries.PUBLIC_STATUS_TR[word] and row.to_status != "reopened"):
            continue
        text = "Başvurunuz yeniden açıldı." if row.to_status == "reopened" else queries.PUBLIC_STATUS_TR[word]
        detail = row.note or "" if row.to_status in ("redirected", "cannot_be_done") else ""
        steps.append(Step(row.created_at, text, detail))
    return steps


def _institution(session: Session, ticket: Ticket) -> str:
    last = session.scalars(select(Redirect).where(Redirect.ticket_id == ticket.id).order_by(Redirect.id.desc())).first()
    return last.institution.name if last is not None else ""


@bp.route("/takip/<link_token>", methods=["GET", "POST"])
def track(link_token: str):  # type: ignore[no-untyped-def]
    sessions: sessionmaker[Session] = current_app.extensions["alo185.sessions"]
    error, status = "", 200
    window = current_app.config["ALO185"].reopen_window
    with sessions.begin() as s:
        ticket = _ticket_for(s, "track", link_token)
        now = datetime.now(UTC)
        if request.method == "POST":
            reason = request.form.get("reason", "").strip()[:1000]
            if not reason:
                error, status = "Lütfen neden yeniden açmak istediğinizi yazınız.", 400
            elif not queries.can_reopen(ticket, now, window):
                error, status = "Bu başvuru artık yeniden açılamaz.", 409
            else:
                workflow.reopen(
                    s, ticket, actor="citizen", channel="tracking_link", reason=reason, now=now, window=window
                )
        return render_template(
            "public/track.html",
            ticket=ticket,
            category=ticket.category.name,
            steps=_steps(s, ticket),
            institution=_institution(s, ticket),
            can_reopen=queries.can_reopen(ticket, now, window),
            reopened=request.method == "POST" and not error,
            error=error,
        ), status


@bp.route("/anket/<link_token>", methods=["GET", "POST"])
def survey(link_token: str):  # type: ignore[no-untyped-def]
    sessions: sessionmaker[Session] = current_app.extensions["alo185.sessions"]
    with sessions.begin() as s:
        ticket = _ticket_for(s, "survey", link_token)
        if request.method == "GET":
            done = surveys.answered(s, ticket)
            return render_template("public/survey.html", number=ticket.number, labels=LABELS, done=done, error="")
        try:
            surveys.answer(s, ticket, int(request.form.get("answer", "0") or 0))
        except (ValueError, surveys.SurveyError) as exc:
            already = isinstance(exc, surveys.SurveyError) and surveys.answered(s, ticket)
            message = "Bu anket daha önce yanıtlanmış." if already else "Lütfen bir seçenek işaretleyiniz."
            return render_template(
                "public/survey.html", number=ticket.number, labels=LABELS, done=already, error=message
            ), (409 if already else 400)
        return render_template("public/survey.html", number=ticket.number, labels=LABELS, done=True, error="")
