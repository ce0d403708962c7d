"""Call records: the list operators and supervisors see at /calls, its JSON twin, and a call's recording.

A call's post-call survey is not copied into its record: the answer (``SurveyAnswer``, keyed by the same
uniqueid) is joined in when the calls are read, so there is one place it is kept and anonymised.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, url_for
from sqlalchemy import select

from admin import auth, context
from alo185.calls.models import CallRecord
from alo185.core.asterisk import recordings_dir
from alo185.org.access import Perm
from alo185.surveys.models import SurveyAnswer
from alo185.surveys.scale import LABELS

bp = Blueprint("calls", __name__, template_folder="templates")
auth.protect(bp, Perm.CALLS_VIEW)
PAGE_SIZE = 100


def _recent(limit: int) -> list[tuple[CallRecord, SurveyAnswer | None]]:
    """The newest calls, each with its survey (None when none was offered)."""
    sessions = context.sessions()
    with sessions() as session:
        query = (
            select(CallRecord, SurveyAnswer)
            .outerjoin(SurveyAnswer, SurveyAnswer.uniqueid == CallRecord.uniqueid)
            .order_by(CallRecord.started_at.desc().nulls_last(), CallRecord.id.desc())
        )
        return [(call, survey) for call, survey in session.execute(query.limit(limit))]


def _limit() -> int:
    try:
        return max(1, min(int(request.args.get("limit", PAGE_SIZE)), 1000))
    except ValueError:
        return PAGE_SIZE


def survey_json(row: SurveyAnswer | None) -> dict[str, Any] | None:
    """The survey of a call as the API shows it: offered, and the key pressed (None: not answered)."""
    if row is None:
        return None
    return {
        "answer": row.answer,
        "label": LABELS.get(row.answer) if row.answer is not None else None,
        "offered_at": row.offered_at.isoformat() if row.offered_at else None,
        "has_comment": row.has_comment,
    }


@bp.get("/calls")
def list_calls() -> str:
    return render_template("calls/list.html", calls=_recent(_limit()), labels=LABELS)


@bp.get("/api/calls")
def api_calls() -> Response:
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
                "hold_s": r.hold_s,
                "duration_s": r.duration_s,
                "answered": r.answered,
                "answered_by": r.answered_by,
                "outcome": r.outcome,
                "ivr_reason": r.ivr_reason,
                "agi_status": r.agi_status,
                "recording": url_for("calls.recording", uniqueid=r.uniqueid) if r.recording_ref else None,
                "survey": survey_json(survey),
            }
            for r, survey in _recent(_limit())
        ]
    )


@bp.get("/calls/<uniqueid>/recording")
def recording(uniqueid: str) -> Response:
    """The operator call's audio; listening to it is in the audit trail (a citizen's voice is personal data)."""
    root = recordings_dir(current_app.config["ALO185"])
    with context.sessions().begin() as session:
        ref = session.scalar(select(CallRecord.recording_ref).where(CallRecord.uniqueid == uniqueid))
        if not ref or root is None:
            abort(404)
        path = (root.resolve() / ref).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            abort(404)
        context.audit(
            session,
            action="call.recording",
            entity="call",
            entity_id=uniqueid,
        )
    return send_file(path, mimetype="audio/wav", conditional=True)
