"""The channels' JSON API (``/api/v1``): token auth, tickets and categories, an OpenAPI document.

A client sends ``Authorization: Bearer <key>`` with a key made by ``alo185 apikey``. Errors are
``{"error": "..."}`` with the HTTP status, and ``"fields": {name: why}`` for each refused field; a
refused request changes nothing. Input is parsed by the models of ``alo185/channels/schemas.py``,
which the OpenAPI document is generated from.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import context
from admin.api.openapi import document
from alo185.channels import api_keys, schemas
from alo185.core import db, links
from alo185.org.models import District
from alo185.tickets import queries, search
from alo185.tickets.models import Category, Ticket, TicketHistory

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.fields = status, fields

    @classmethod
    def invalid(cls, error: ValidationError) -> ApiError:
        fields = schemas.field_errors(error)
        return cls(400, schemas.refusal(fields), fields)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> ResponseReturnValue:
    body = schemas.ApiError(error=str(exc), fields=exc.fields)
    return jsonify(body.model_dump(exclude_none=True)), exc.status


@bp.before_request
def _cap_body() -> None:
    request.max_content_length = schemas.MAX_BODY_BYTES  # larger bodies: 413 before they are read


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
    view = schemas.TicketView(
        number=ticket.number,
        status=queries.public_status(ticket),
        status_text=queries.PUBLIC_STATUS_TR[queries.public_status(ticket)],
        category=ticket.category.code,
        directorate=ticket.directorate.name if ticket.directorate else None,
        channel=str(ticket.channel),
        description=ticket.description,
        district=ticket.district.name if ticket.district else None,
        created_at=ticket.created_at.isoformat(),
        due_at=ticket.due_at.isoformat() if ticket.due_at else None,
        public_answer=ticket.public_answer,
        tracking_url=links.url(current_app.config["ALO185"].public_base_url, "track", token),
        history=[schemas.HistoryStep(at=h.created_at.isoformat(), status=str(h.to_status)) for h in history],
    )
    return view.model_dump()


def _query() -> dict[str, str | list[str]]:
    """The query string; a parameter given twice stays a list, which a one-value field refuses."""
    return {k: v[0] if len(v) == 1 else v for k, v in request.args.lists()}


@bp.get("/openapi.json")
def openapi() -> Response:
    with context.sessions()() as s:
        codes = s.scalars(select(Category.code).where(Category.active.is_(True)).order_by(Category.code)).all()
        districts = s.scalars(select(District.name).order_by(District.name)).all()
    return jsonify(document(current_app.config["ALO185"].public_base_url, codes, districts))


@bp.get("/categories")
@authorized
def categories() -> Response:
    with context.sessions()() as s:
        rows = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code))
        listed = [schemas.CategoryView(code=c.code, name=c.name, in_jurisdiction=c.in_jurisdiction) for c in rows]
        return jsonify([c.model_dump() for c in listed])


@bp.post("/tickets")
@authorized
def create() -> ResponseReturnValue:
    try:
        new = schemas.NewTicket.model_validate_json(request.get_data(cache=False) or b"null")
    except ValidationError as exc:
        raise ApiError.invalid(exc) from exc

    def work(s: Session) -> dict[str, Any]:
        try:
            with s.begin_nested():
                ticket = queries.create_ticket(
                    s,
                    phone=new.phone,
                    category_code=new.category,
                    description=new.description,
                    channel=new.channel,
                    type=new.type,
                    district=new.district or None,
                    mahalle=new.mahalle or None,
                    actor="citizen",
                )
                ticket.address = new.address or None
        except queries.FieldError as exc:
            raise ApiError(400, schemas.refusal({exc.field: str(exc)}), {exc.field: str(exc)}) from exc
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
    try:
        query = schemas.TicketSearch.model_validate(_query())
    except ValidationError as exc:
        raise ApiError.invalid(exc) from exc
    with context.sessions()() as s:
        return jsonify([_ticket_json(s, t) for t in search.search(s, query.q.strip(), limit=query.limit)])
