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
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import context
from alo185.channels import schemas
from alo185.core import db, links
from alo185.org.models import District
from alo185.surveys import web
from alo185.surveys.scale import LABELS
from alo185.tickets import queries, workflow
from alo185.tickets.models import Category, Redirect, Ticket, TicketHistory, TicketStatus

bp = Blueprint("public", __name__, template_folder="templates")
REQUESTS_PER_MINUTE = 30


@bp.before_request
def _rate_limit() -> None:
    client = context.redis_client()
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
        text = gettext("Başvurunuz yeniden açıldı.") if row.to_status == "reopened" else queries.PUBLIC_STATUS_TR[word]
        detail = row.note or "" if row.to_status in ("redirected", "cannot_be_done") else ""
        steps.append(Step(row.created_at, text, detail))
    return steps


def _institution(session: Session, ticket: Ticket) -> str:
    last = session.scalars(select(Redirect).where(Redirect.ticket_id == ticket.id).order_by(Redirect.id.desc())).first()
    return last.institution.name if last is not None else ""


@bp.route("/takip/<link_token>", methods=["GET", "POST"])
def track(link_token: str) -> ResponseReturnValue:
    sessions = context.sessions()
    error, status = "", 200
    window = current_app.config["ALO185"].reopen_window
    with sessions.begin() as s:
        ticket = _ticket_for(s, "track", link_token)
        now = datetime.now(UTC)
        if request.method == "POST":
            reason = request.form.get("reason", "").strip()[:1000]
            if not reason:
                error, status = gettext("Lütfen neden yeniden açmak istediğinizi yazınız."), 400
            elif not queries.can_reopen(ticket, now, window):
                error, status = gettext("Bu başvuru artık yeniden açılamaz."), 409
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
def survey(link_token: str) -> ResponseReturnValue:
    sessions = context.sessions()
    with sessions.begin() as s:
        ticket = _ticket_for(s, "survey", link_token)
        if request.method == "GET":
            done = web.answered(s, ticket)
            return render_template("public/survey.html", number=ticket.number, labels=LABELS, done=done, error="")
        try:
            web.answer(s, ticket, int(request.form.get("answer", "0") or 0))
        except (ValueError, web.SurveyError) as exc:
            already = isinstance(exc, web.SurveyError) and web.answered(s, ticket)
            message = (
                gettext("Bu anket daha önce yanıtlanmış.") if already else gettext("Lütfen bir seçenek işaretleyiniz.")
            )
            return render_template(
                "public/survey.html", number=ticket.number, labels=LABELS, done=already, error=message
            ), (409 if already else 400)
        return render_template("public/survey.html", number=ticket.number, labels=LABELS, done=True, error="")


FORM_FIELDS = ("name", "phone", "category", "district", "mahalle", "address", "description")
KVKK_NOTICE_VERSION = "web-1"


def _form_choices(session: Session) -> dict[str, list[tuple[str, str]]]:
    categories = session.execute(
        select(Category.code, Category.name).where(Category.active.is_(True)).order_by(Category.name)
    ).all()
    districts = session.scalars(select(District.name).order_by(District.name)).all()
    return {"categories": [(c, n) for c, n in categories], "districts": [(d, d) for d in districts]}


def _field_error(field: str) -> str:
    """What the citizen is told about a refused field, in the form's words."""
    if field == "phone":
        return gettext("Telefon numaranızı 05xx xxx xx xx biçiminde yazınız.")
    if field == "category":
        return gettext("Lütfen bir konu seçiniz.")
    if field == "description":
        return gettext("Lütfen talebinizi yazınız (en çok 4000 karakter).")
    labels = {
        "name": (gettext("Adınız soyadınız (isteğe bağlı)"), schemas.NAME_MAX),
        "district": (gettext("İlçe"), schemas.PLACE_MAX),
        "mahalle": (gettext("Mahalle"), schemas.PLACE_MAX),
        "address": (gettext("Adres"), schemas.ADDRESS_MAX),
    }
    label, limit = labels[field]
    return gettext("%(field)s geçersiz: en çok %(limit)s karakter yazınız.", field=label, limit=limit)


def _parse_form(form: dict[str, str], consent: bool) -> tuple[schemas.WebForm | None, dict[str, str]]:
    """The form parsed with the limits every channel has, or each refused field with its message."""
    errors: dict[str, str] = {}
    parsed = None
    try:
        parsed = schemas.WebForm.model_validate(form | {"consent": consent})
    except ValidationError as exc:
        errors = {field: _field_error(field) for field in schemas.field_errors(exc)}
    if not consent:
        errors["consent"] = gettext("Başvurunuzun işlenmesi için aydınlatma metnini onaylamanız gerekir.")
    return (parsed if not errors else None), errors


@bp.route("/basvuru", methods=["GET", "POST"])
def web_form() -> ResponseReturnValue:
    """The citizens' web form: a ticket with channel ``web``, then its number and tracking link."""
    sessions = context.sessions()
    form = {name: request.form.get(name, "").strip() for name in FORM_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        given, errors = _parse_form(form, request.form.get("consent") == "on")
        if given is not None:
            try:
                # One short write transaction, run again if it lost a race for the lock.
                ticket = db.write(sessions, lambda s: _record_form(s, given))
            except queries.FieldError as exc:
                errors[exc.field] = gettext("Başvuru kaydedilemedi: %(reason)s", reason=exc)
            else:
                token = links.sign(current_app.config["SECRET_KEY"], "track", ticket.id)
                tracking = links.url(current_app.config["ALO185"].public_base_url, "track", token)
                return render_template("public/form_done.html", number=ticket.number, tracking=tracking)
    with sessions() as s:
        choices = _form_choices(s)
    return render_template("public/form.html", form=form, errors=errors, **choices), 400 if errors else 200


def _record_form(session: Session, given: schemas.WebForm) -> Ticket:
    ticket = queries.create_ticket(
        session,
        phone=given.phone,
        category_code=given.category,
        description=given.description,
        channel="web",
        district=given.district or None,
        mahalle=given.mahalle or None,
        actor="citizen",
    )
    ticket.address = given.address or None
    if ticket.citizen is not None:
        ticket.citizen.kvkk_notice_version = KVKK_NOTICE_VERSION
        if given.name and not ticket.citizen.full_name:
            ticket.citizen.full_name = given.name
    return ticket
