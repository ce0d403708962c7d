"""The operator console's queue controls (JSON): the operator's phone and queues, log in/out, pause, unpause.

A logged-in operator acts on themself; a supervisor may act on any operator by naming them
(``"user"`` in the body, ``?user=`` for ``GET``). Every action is a command through
``alo185.queue_commands``, carried out by the queue manager, which answers within a few seconds:
200 when done, 409 when refused (no skills, not logged in…), 504 when it did not answer.
Each action is written to the audit trail with its outcome.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, abort, jsonify, request
from sqlalchemy import select

from admin import auth, context
from alo185 import audit, operators, queue_commands
from alo185.access import Perm
from alo185.models import Role, User

bp = Blueprint("console", __name__)
auth.protect(bp, Perm.CONSOLE)
WAIT_S = 5.0


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
        return user.username, user.extension, operators.skills_of(session, user.id)


@bp.get("/api/console/me")
def me():  # type: ignore[no-untyped-def]
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
            "interface": operators.interface(extension) if extension else None,
            "registered": phone["registered"],
            "phone": phone,
            "skills": skills,
            "logged_in": bool(queues),
            "paused": "paused" in states,
            "queues": queues,
            "pause_reasons": [{"code": r.code, "key": r.key, "label": r.label} for r in operators.PAUSE_REASONS],
        }
    )


def _command(action: str):  # type: ignore[no-untyped-def]
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
        audit.record(
            session,
            actor=context.user(),
            action=f"queue.{action}",
            entity="user",
            entity_id=username,
            detail=detail,
            ip=request.remote_addr,
        )
    if result is None:
        abort(504, "the queue manager did not answer")
    return jsonify({**result, "user": username}), 200 if result["ok"] else 409


@bp.post("/api/console/login")
def login():  # type: ignore[no-untyped-def]
    return _command("login")


@bp.post("/api/console/logout")
def logout():  # type: ignore[no-untyped-def]
    return _command("logout")


@bp.post("/api/console/pause")
def pause():  # type: ignore[no-untyped-def]
    """JSON ``{"reason": "mola"}``: a code, a Turkish label or an English name of ``PAUSE_REASONS``."""
    return _command("pause")


@bp.post("/api/console/unpause")
def unpause():  # type: ignore[no-untyped-def]
    return _command("unpause")
