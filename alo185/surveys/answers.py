"""Post-call survey answers, folded from the IVR's ``survey`` events (``agi_scripts.survey``).

A survey is offered first, then answered (or opted out of): both fold into one row keyed by the
call's uniqueid, so a redelivered event changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.core.bus import event_time
from alo185.surveys import scale
from alo185.surveys.models import SurveyAnswer, SurveyOptOut


def fold(session: Session, event: dict[str, Any]) -> SurveyAnswer:
    """The event into its answer row (made when the survey was offered); 9 also opts the number out."""
    uniqueid = event["uniqueid"]
    row = session.scalars(select(SurveyAnswer).where(SurveyAnswer.uniqueid == uniqueid)).one_or_none()
    if row is None:
        row = SurveyAnswer(
            uniqueid=uniqueid, channel="phone", has_comment=False, offered_at=event_time(event.get("ts"))
        )
        session.add(row)
    for name in ("caller", "queue", "operator", "lang"):
        if event.get(name):
            setattr(row, name, event[name])
    if event.get("answer") in scale.LABELS:
        row.answer = int(event["answer"])
    row.has_comment = row.has_comment or bool(event.get("has_comment"))
    if event.get("opt_out") and row.caller:
        _opt_out(session, row.caller)
    return row


def _opt_out(session: Session, phone: str) -> None:
    if session.scalars(select(SurveyOptOut).where(SurveyOptOut.phone == phone)).first() is None:
        session.add(SurveyOptOut(phone=phone))
