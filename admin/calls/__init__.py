"""Call records: the list operators and supervisors see at /calls, and its JSON twin."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import select

from admin import auth, context
from alo185.access import Perm
from alo185.models import CallRecord

bp = Blueprint("calls", __name__, template_folder="templates")
auth.protect(bp, Perm.CALLS_VIEW)
PAGE_SIZE = 100


def _recent(limit: int) -> list[CallRecord]:
    sessions = context.sessions()
    with sessions() as session:
        query = select(CallRecord).order_by(CallRecord.started_at.desc().nulls_last(), CallRecord.id.desc())
        return list(session.scalars(query.limit(limit)))


def _limit() -> int:
    try:
        return max(1, min(int(request.args.get("limit", PAGE_SIZE)), 1000))
    except ValueError:
        return PAGE_SIZE


@bp.get("/calls")
def list_calls():  # type: ignore[no-untyped-def]
    return render_template("calls/list.html", calls=_recent(_limit()))


@bp.get("/api/calls")
def api_calls():  # type: ignore[no-untyped-def]
    rows = _recent(_limit())
    return jsonify(
        [
            {
                "uniqueid": r.uniqueid,
                "caller": auth.shown_phone(r.caller),
                "digit": r.digit,
                "queue": r.queue,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "wait_s": r.wait_s,
                "talk_s": r.talk_s,
                "duration_s": r.duration_s,
                "answered": r.answered,
                "answered_by": r.answered_by,
                "outcome": r.outcome,
                "agi_status": r.agi_status,
            }
            for r in rows
        ]
    )
