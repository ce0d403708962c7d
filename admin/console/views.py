"""The operator console: its page (``/console``) and its JSON API.

The page shows the operator's phone and queue state, the screen-pop of a ringing call (a server-sent
event stream relaying the operator's own Redis channel, ``/api/console/stream``), and does the work of
a call without a page reload: a ticket pre-filled from the pop, a search, a note, a wrap-up code.

The queue controls: the operator's phone and queues, log in/out, pause, unpause.

A logged-in operator acts on themself; a supervisor may act on any operator by naming them
(``"user"`` in the body, ``?user=`` for ``GET``). Every action is a command through
``alo185.operators.queue_commands``, carried out by the queue manager, which answers within a few seconds:
200 when done, 409 when refused (no skills, not logged in…), 504 when it did not answer.
Each action is written to the audit trail with its outcome.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin import auth, context, sse
from admin.console import work
from alo185.core.bus import screenpop_channel
from alo185.core.phone import mask
from alo185.operators import codes, phones, queue_commands
from alo185.org import access
from alo185.org.access import Perm
from alo185.org.models import Role, User
from alo185.tickets.models import TicketType

bp = Blueprint("console", __name__, template_folder="templates")
auth.protect(bp, Perm.CONSOLE)
WAIT_S = 5.0
TICKET_TYPES = {
    TicketType.ISTEK: "İstek",
    TicketType.SIKAYET: "Şikâyet",
    TicketType.ONERI: "Öneri",
    TicketType.BILGI: "Bilgi",
    TicketType.IHBAR: "İhbar",
    TicketType.TESEKKUR: "Teşekkür",
}


def _operator(name: object) -> tuple[str, str | None, dict[str, int]]:
    """The operator acted on (username, extension, skills): oneself, or anyone for a supervisor."""
    me = auth.current()
    if name is not None and not isinstance(name, str):
        abort(400, "'user' is a username")
    if name and name != me.username and me.role != Role.SUPERVISOR:
        abort(403, "an operator acts only on themself")
    username = name or me.username
    with context.sessions()() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.active or Role(user.role) != Role.OPERATOR:
            abort(404, f"no active operator {username!r}")
        return user.username, user.extension, phones.skills_of(session, user.id)


@bp.get("/api/console/me")
def me() -> Response:
    """The phone (extension, registered or not) and each queue the operator is in, with their state there."""
    username, extension, skills = _operator(request.args.get("user"))
    phone: dict[str, Any] = {"registered": False}
    queues: dict[str, Any] = {}
    if extension:
        client = context.redis_client()
        try:
            phone = queue_commands.registration(client, extension)
            queues = queue_commands.memberships(queue_commands.live_snapshot(client), extension)
        except redis.RedisError:
            abort(503, "the queue state is unavailable")
    states = {q["state"] for q in queues.values()}
    return jsonify(
        {
            "user": username,
            "extension": extension,
            "interface": phones.interface(extension) if extension else None,
            "registered": phone["registered"],
            "phone": phone,
            "skills": skills,
            "logged_in": bool(queues),
            "paused": "paused" in states,
            "queues": queues,
            "pause_reasons": [{"code": r.code, "key": r.key, "label": r.label} for r in codes.PAUSE_REASONS],
        }
    )


def _command(action: str) -> ResponseReturnValue:
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        abort(400, "send a JSON object")
    username, extension, _skills = _operator(body.get("user"))
    if not extension:
        abort(409, f"{username} has no phone extension (alo185 user extension {username})")
    reason = body.get("reason", "")
    if action == "pause" and not reason:
        abort(400, 'a pause needs a reason, e.g. {"reason": "mola"}')
    if not isinstance(reason, str):
        abort(400, "'reason' is text")
    try:
        command = queue_commands.make(action, extension, reason=reason, by=context.user())
    except queue_commands.CommandError as refused:
        abort(400, str(refused))
    try:
        result = queue_commands.run(context.redis_client(), command, WAIT_S)
    except redis.RedisError:
        abort(503, "the queue commands are unavailable")
    outcome = "no answer" if result is None else ("ok" if result["ok"] else f"refused: {result['message']}")
    with context.sessions().begin() as session:
        detail = f"{extension} {command['reason']} {outcome}".replace("  ", " ")
        context.audit(
            session,
            action=f"queue.{action}",
            entity="user",
            entity_id=username,
            detail=detail,
        )
    if result is None:
        abort(504, "the queue manager did not answer")
    return jsonify({**result, "user": username}), 200 if result["ok"] else 409


@bp.post("/api/console/login")
def login() -> ResponseReturnValue:
    return _command("login")


@bp.post("/api/console/logout")
def logout() -> ResponseReturnValue:
    return _command("logout")


@bp.post("/api/console/pause")
def pause() -> ResponseReturnValue:
    """JSON ``{"reason": "mola"}``: a code, a Turkish label or an English name of ``PAUSE_REASONS``."""
    return _command("pause")


@bp.post("/api/console/unpause")
def unpause() -> ResponseReturnValue:
    return _command("unpause")


@bp.get("/console")
def page() -> str:
    """The console; a supervisor may watch an operator's (``?user=``), numbers masked as their role sees them."""
    watched = request.args.get("user", "")
    if watched:
        _operator(watched)
    with context.sessions()() as session:
        categories = [(c.code, c.name) for c in work.categories(session)]
        watchable = []
        if auth.current().role == Role.SUPERVISOR:
            found = select(User.username).where(User.role == Role.OPERATOR, User.active.is_(True))
            watchable = list(session.scalars(found.order_by(User.username)))
    return render_template(
        "console/console.html",
        watched=watched,
        watchable=watchable,
        categories=categories,
        ticket_types=TICKET_TYPES,
        pause_reasons=codes.PAUSE_REASONS,
        wrap_up_codes=work.WRAP_UP_CODES,
    )


def _shown(raw: str, full_numbers: bool) -> str:
    """The pop as the viewer may see it: the caller's number masked unless their role shows it in full."""
    if full_numbers:
        return raw
    pop = json.loads(raw)
    pop["caller"] = pop.get("caller_masked") or mask(pop.get("caller"))
    return json.dumps(pop, ensure_ascii=False)


@bp.get("/api/console/stream")
def stream() -> Response:
    """``text/event-stream`` of the operator's screen-pops: ``ready`` once subscribed, then ``screenpop`` each.

    Only the operator's own channel (``alo185:screenpop:<username>``) is relayed; ``?max=N`` ends after
    N pops (for tests).
    """
    username, _extension, _skills = _operator(request.args.get("user"))
    full_numbers = access.allowed(auth.current().role, Perm.PHONE_IN_LISTS)
    pubsub = sse.subscribe(context.redis_client(), screenpop_channel(username))
    return sse.relay(
        pubsub,
        "screenpop",
        opening=lambda: [sse.message("ready", json.dumps({"user": username}))],
        limit=request.args.get("max", type=int),
        shown=lambda raw: _shown(raw, full_numbers),
    )


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object")
    return body


@bp.post("/api/console/tickets")
def create_ticket() -> ResponseReturnValue:
    """JSON ``{"uniqueid", "phone", "category", "type", "description"}``: a phone ticket, linked to the call."""
    body = _body()
    with context.sessions().begin() as session:
        try:
            ticket = work.ticket_from_call(session, body, context.user())
        except work.Refused as refused:
            abort(refused.status, refused.message)
        detail = f"console {ticket.call_uniqueid or ''}".strip()
        context.audit(session, action="ticket.create", entity="ticket", entity_id=ticket.number, detail=detail)
        answer = {
            "number": ticket.number,
            "category": ticket.category.code,
            "status": ticket.status.value,
            "directorate": ticket.directorate.name if ticket.directorate else None,
            "call_uniqueid": ticket.call_uniqueid,
        }
    return jsonify(answer), 201


@bp.get("/api/console/search")
def find() -> Response:
    """``?q=``: a ticket number, a phone number, or words (a name, the description)."""
    text = request.args.get("q", "").strip()
    if not text:
        abort(400, "'q' is required")
    me = auth.current()
    with context.sessions()() as session:
        return jsonify(work.find(session, text[:200], me.role, me.directorate_id))


@bp.post("/api/console/tickets/<number>/notes")
def add_note(number: str) -> ResponseReturnValue:
    """JSON ``{"note": "..."}``: a line in the ticket's history, its status unchanged."""
    body = _body()
    me = auth.current()
    with context.sessions().begin() as session:
        try:
            ticket = work.visible_ticket(session, number, me.role, me.directorate_id)
            user = session.get(User, me.id)
            assert user is not None
            row = work.add_note(session, ticket, body.get("note"), user)
        except work.Refused as refused:
            abort(refused.status, refused.message)
        context.audit(session, action="ticket.note", entity="ticket", entity_id=ticket.number)
        answer = {"number": ticket.number, "note": row.note, "at": row.created_at.isoformat()}
    return jsonify(answer), 201


@bp.get("/api/console/wrap-up-codes")
def wrap_up_codes() -> Response:
    return jsonify([{"code": c.code, "label": c.label} for c in work.WRAP_UP_CODES])


@bp.post("/api/console/wrap-up")
def wrap_up() -> Response:
    """JSON ``{"uniqueid": "...", "code": "bilgi-verildi"}``: the wrap-up code of a call the operator answered."""
    body = _body()
    me = auth.current()
    with context.sessions().begin() as session:
        try:
            record = work.set_wrap_up(
                session, body.get("uniqueid"), body.get("code"), me.username, me.role == Role.SUPERVISOR
            )
        except work.Refused as refused:
            abort(refused.status, refused.message)
        context.audit(
            session, action="call.wrap_up", entity="call", entity_id=record.uniqueid, detail=record.wrap_up_code
        )
        answer = {"uniqueid": record.uniqueid, "wrap_up_code": record.wrap_up_code}
    return jsonify(answer)
