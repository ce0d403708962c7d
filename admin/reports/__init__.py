"""Reports in the admin. So far: the satisfaction survey table (İnegöl's form) and its comments."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, jsonify, render_template, request

from admin import auth, context
from alo185.access import Perm
from alo185.reports import survey

bp = Blueprint("reports", __name__, url_prefix="/reports", template_folder="templates")
auth.protect(bp, Perm.SURVEY_REPORT)
TZ = ZoneInfo("Europe/Istanbul")


def _period() -> tuple[date, date, datetime, datetime]:
    """``from``/``to`` (inclusive, local dates; default the last 30 days) and their UTC bounds."""
    try:
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else datetime.now(TZ).date()
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else last - timedelta(days=29)
    except ValueError:
        abort(400, "dates are YYYY-MM-DD")
    if first > last:
        abort(400, "'from' is after 'to'")
    start = datetime.combine(first, time.min, TZ)
    end = datetime.combine(last + timedelta(days=1), time.min, TZ)
    return first, last, start, end


@bp.get("/survey")
def survey_report():  # type: ignore[no-untyped-def]
    first, last, start, end = _period()
    by = request.args.get("by", "")
    if by and by not in survey.DIMENSIONS:
        abort(400, f"'by' is one of {', '.join(survey.DIMENSIONS)}")
    sessions = context.sessions()
    with sessions() as s:
        rows = survey.answers(s, start, end)
        total = survey.table(rows)
        groups = survey.by(rows, by) if by else {}
        trend = survey.trend(rows, start)
        comments = survey.comments(s, start, end)
    if request.args.get("format") == "json":
        return jsonify(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "total": total.as_dict(),
                "by": {name: t.as_dict() for name, t in groups.items()},
                "trend": [{"from": d.isoformat(), **t.as_dict()} for d, t in trend],
            }
        )
    return render_template(
        "reports/survey.html",
        first=first,
        last=last,
        by=by,
        total=total,
        groups=groups,
        trend=trend,
        comments=comments,
        labels=survey.LABELS,
        dimensions=survey.DIMENSIONS,
    )
