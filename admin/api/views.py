"""The channels' JSON API (``/api/v1``): token auth, tickets and categories, an OpenAPI document.

A client sends ``Authorization: Bearer <key>`` with a key made by ``alo185 apikey``. Errors are
``{"error": "..."}`` with the HTTP status; a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import context
from admin.api.openapi import document
from alo185.channels import api_keys
from alo185.core import db, links
from alo185.tickets import queries, search
from alo185.tickets.models import Category, Channel, Ticket, TicketHistory

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIMIT = 200


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> ResponseReturnValue:
    return jsonify(error=str(exc)), exc.status


def authorized(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        with context.sessions()() as s:
            g.api_client = api_keys.holder(s, key)
        if g.api_client is None:
            raise ApiError(401, "a valid API key is required: Authorization: Bearer <key>")
        return view(*args, **kwargs)

    return wrapper


def _ticket_json(session: Session, ticket: Ticket) -> dict[str, Any]:
    token = links.sign(current_app.config["SECRET_KEY"], "track", ticket.id)
    history = session.scalars(
        select(TicketHistory).where(TicketHistory.ticket_id == ticket.id).order_by(TicketHistory.id)
    ).all()
    return {
        "number": ticket.number,
        "status": queries.public_status(ticket),
        "status_text": queries.PUBLIC_STATUS_TR[queries.public_status(ticket)],
        "category": ticket.category.code,
        "directorate": ticket.directorate.name if ticket.directorate else None,
        "channel": str(ticket.channel),
        "description": ticket.description,
        "district": ticket.district.name if ticket.district else None,
        "created_at": ticket.created_at.isoformat(),
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "public_answer": ticket.public_answer,
        "tracking_url": links.url(current_app.config["ALO185"].public_base_url, "track", token),
        "history": [{"at": h.created_at.isoformat(), "status": str(h.to_status)} for h in history],
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document(current_app.config["ALO185"].public_base_url))


@bp.get("/categories")
@authorized
def categories() -> Response:
    with context.sessions()() as s:
        rows = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code))
        return jsonify([{"code": c.code, "name": c.name, "in_jurisdiction": c.in_jurisdiction} for c in rows])


@bp.post("/tickets")
@authorized
def create() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    missing = [f for f in ("category", "description") if not str(body.get(f, "")).strip()]
    if missing:
        raise ApiError(400, f"missing: {', '.join(missing)}")
    channel = str(body.get("channel", "web"))
    if channel not in {c.value for c in Channel}:
        raise ApiError(400, f"unknown channel {channel!r}")

    def work(s: Session) -> dict[str, Any]:
        try:
            with s.begin_nested():
                ticket = queries.create_ticket(
                    s,
                    phone=str(body["phone"]) if body.get("phone") else None,
                    category_code=str(body["category"]),
                    description=str(body["description"])[:4000],
                    channel=channel,
                    type=str(body.get("type", "istek")),
                    district=body.get("district"),
                    mahalle=body.get("mahalle"),
                    actor="citizen",
                )
                ticket.address = body.get("address")
        except (ValueError, TypeError) as exc:
            raise ApiError(400, str(exc)) from exc
        return _ticket_json(s, ticket)

    # One short write transaction, run again if it lost a race for the lock or the citizen's row.
    return jsonify(db.write(context.sessions(), work)), 201


@bp.get("/tickets/<number>")
@authorized
def get_ticket(number: str) -> Response:
    with context.sessions()() as s:
        ticket = queries.find_by_number(s, number)
        if ticket is None:
            raise ApiError(404, f"no ticket {number}")
        return jsonify(_ticket_json(s, ticket))


@bp.get("/tickets")
@authorized
def find_tickets() -> Response:
    q = request.args.get("q", "").strip()
    if not q:
        raise ApiError(400, "q (a ticket number, a phone number or words) is required")
    try:
        limit = max(1, min(int(request.args.get("limit", 50)), MAX_LIMIT))
    except ValueError as exc:
        raise ApiError(400, "limit is a number") from exc
    with context.sessions()() as s:
        return jsonify([_ticket_json(s, t) for t in search.search(s, q, limit=limit)])
