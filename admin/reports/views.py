"""Reports in the admin: calls, tickets, the satisfaction survey (İnegöl's form), ISO 10002, the month.

Every report is laid out as tables once (``alo185.reports.tables``); the page, its CSV and XLSX
(``?format=csv|xlsx``) and the monthly PDF are made from the same tables. The figures are the report
modules' (``alo185.reports``); nothing is computed here. Charts are inline SVG drawn by the templates,
with the numbers in the tables next to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from admin import auth, context
from admin.i18n import current_language, date_local, number_local, term
from alo185.org.access import Perm
from alo185.reports import calls, export, iso10002, tables
from alo185.reports.tables import Document
from alo185.surveys import results, scale
from alo185.tickets import figures

bp = Blueprint("reports", __name__, url_prefix="/reports", template_folder="templates")
TZ = ZoneInfo("Europe/Istanbul")
MAX_DAYS = 366  # the call report reads every call record of the period
# The survey report keeps its own permission; every other page here needs ``Perm.REPORTS``.
PAGE_PERMS = {"reports.survey_report": Perm.SURVEY_REPORT}
FORMATS = ("", "csv", "xlsx")
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # far from datetime's limits, with time zones applied


@bp.before_request
def _allowed() -> Any:
    """Safe by default: a page not named in ``PAGE_PERMS`` needs ``Perm.REPORTS``."""
    perm = PAGE_PERMS.get(request.endpoint or "", Perm.REPORTS)
    return auth.requires(perm)(lambda: None)()


@bp.context_processor
def _formats() -> dict[str, Any]:
    return {"display": display, "date_tr": tables.date_tr, "tr_int": number_local, "label": label}


def display(value: Any, column: tables.Column) -> str:
    """A cell in the page's language: ``tables.display`` in Turkish; ``85.7%``, ``9.6 s``, ``1,920`` in English."""
    lang = current_language()
    if lang == "tr":
        return tables.display(value, column)
    value, kind, decimals = tables.resolve(value, column)
    if value is None:
        return tables.NONE
    if kind == "int":
        return number_local(value)
    if kind == "pct":
        return number_local(100 * value, decimals) + "%"
    if kind in ("sec", "hour"):
        return f"{number_local(value, decimals)} {'s' if kind == 'sec' else 'h'}"
    if kind == "dur":
        total = round(value)
        parts = [(total // 86400, "d"), (total % 86400 // 3600, "h"), (total % 3600 // 60, "min"), (total % 60, "s")]
        return " ".join(f"{n} {unit}" for n, unit in [(n, u) for n, u in parts if n][:2]) or "0 s"
    if kind == "date":
        return date_local(value)
    return str(value)


@cache
def _labels() -> frozenset[str]:
    return frozenset(tables.labels())


def label(text: object) -> str:
    """A table's title, column or row name in the page's language (the exports keep them Turkish).

    Only the tables' own labels (``tables.labels()``) are translated, never the data beside them
    (a queue's, an operator's or a category's name).
    """
    text = str(text)
    if text.startswith(tables.RESPONSE_RATE_PREFIX) and text.endswith(")"):
        asked = text[len(tables.RESPONSE_RATE_PREFIX) : -1]
        return gettext("Yanıt oranı (yanıtlanan / sorulan %(offered)s)", offered=asked)
    return term(text) if text in _labels() else text


def heading(first: date) -> str:
    """The month of a monthly report: ``Kasım 2026``, ``November 2026``."""
    lang = current_language()
    return tables.month_tr(first) if lang == "tr" else format_date(first, "LLLL y", locale=lang)


def _date(name: str) -> date | None:
    value = request.args.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(
            400,
            gettext("Geçersiz tarih: '%(value)s'. Tarihler YYYY-AA-GG biçiminde olmalı (ör. 2026-11-21).", value=value),
        )


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Local midnights of ``first`` and of the day after ``last`` (aware)."""
    if first < EARLIEST or last > LATEST:
        abort(
            400, gettext("Tarihler %(first)s–%(last)s yılları arasında olmalı.", first=EARLIEST.year, last=LATEST.year)
        )
    return datetime.combine(first, time.min, TZ), datetime.combine(last + timedelta(days=1), time.min, TZ)


def _period(max_days: int | None = None) -> tuple[date, date, datetime, datetime]:
    """``from``/``to`` (inclusive, local dates; default the last 30 days) and their aware bounds."""
    last = _date("to") or datetime.now(TZ).date()
    first = _date("from") or last - timedelta(days=29)
    if first > last:
        abort(400, gettext("Başlangıç tarihi bitiş tarihinden sonra olamaz."))
    if max_days is not None and (last - first).days + 1 > max_days:
        abort(400, gettext("Dönem en fazla %(days)s gün olabilir.", days=max_days))
    start, end = _bounds(first, last)
    return first, last, start, end


def _month() -> tuple[date, date, datetime, datetime]:
    """``month=YYYY-MM`` (default the last complete month): its first and last day and bounds."""
    value = request.args.get("month", "")
    try:
        first = datetime.strptime(value, "%Y-%m").date() if value else None
        first = first or (datetime.now(TZ).date().replace(day=1) - timedelta(days=1)).replace(day=1)
        following = date(first.year + 1, 1, 1) if first.month == 12 else first.replace(month=first.month + 1)
    except ValueError:
        abort(400, gettext("Geçersiz ay: '%(value)s'. Ay YYYY-AA biçiminde olmalı (ör. 2026-11).", value=value))
    last = following - timedelta(days=1)
    start, end = _bounds(first, last)
    return first, last, start, end


def _format() -> str:
    value = request.args.get("format", "")
    if value not in FORMATS:
        abort(400, gettext("Geçersiz biçim: '%(value)s'. Dışa aktarma biçimi csv veya xlsx olabilir.", value=value))
    return value


def _download(document: Document, fmt: str) -> Response:
    """The document as a CSV or XLSX attachment."""
    if fmt == "csv":
        body, mimetype = export.to_csv(document).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, mimetype = export.to_xlsx(document), export.XLSX_MIME
    name = export.download_name(document, fmt)
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"})


def _page(fmt: str, document: Document, template: str, **context_: Any) -> Response | str:
    """The page, or with ``fmt`` (checked before the figures were read) its download."""
    if fmt:
        return _download(document, fmt)
    return render_template(template, document=document, **context_)


# --- documents -------------------------------------------------------------------------------


def _calls(session: Session, first: date, last: date, start: datetime, end: datetime) -> tuple[Any, Document]:
    report = calls.report(session, start, end)
    document = Document("Çağrı raporu", first, last, tables.call_tables(report), "cagri-raporu")
    return report, document


def _tickets(session: Session, first: date, last: date, start: datetime, end: datetime) -> tuple[Any, Document]:
    report = figures.month_report(session, start, end)
    document = Document("Başvuru raporu", first, last, tables.ticket_tables(report), "basvuru-raporu")
    return report, document


def _iso(
    session: Session,
    first: date,
    last: date,
    start: datetime,
    end: datetime,
    ticket_report: Mapping[str, Any] | None = None,
) -> tuple[Any, Document]:
    report = iso10002.report(session, start, end, datetime.now(UTC), ticket_report)
    document = Document("ISO 10002 raporu", first, last, tables.iso_tables(report), "iso10002-raporu")
    return report, document


def _monthly(session: Session, first: date, last: date, start: datetime, end: datetime) -> dict[str, Any]:
    """Calls, tickets, survey and ISO 10002 of one month: one document, its parts and the charts' data."""
    call_report, call_doc = _calls(session, first, last, start, end)
    ticket_report, ticket_doc = _tickets(session, first, last, start, end)
    _iso_report, iso_doc = _iso(session, first, last, start, end, ticket_report)
    answers = [tables.survey_table(results.table(results.answers(session, start, end)))]
    parts = {"calls": call_doc.tables, "tickets": ticket_doc.tables, "survey": answers, "iso": iso_doc.tables}
    heading = tables.month_tr(first)
    every = [t for group in parts.values() for t in group]
    document = Document(f"Aylık rapor – {heading}", first, last, every, "aylik-rapor", heading)
    charts = {"days": _day_chart(call_report), "categories": _category_chart(ticket_report)}
    return {"document": document, "parts": parts, "charts": charts}


def _chart(chart_id: str, title: str, items: list[tuple[str, int]]) -> dict[str, Any]:
    """What the SVG macros draw: bars of ``items`` scaled to the largest."""
    return {"id": chart_id, "title": title, "items": items, "top": max((v for _l, v in items), default=0)}


def _day_chart(report: calls.CallsReport) -> dict[str, Any]:
    return _chart(
        "chart-days",
        gettext("Günlere göre gelen çağrı"),
        [(d.strftime("%d.%m"), g.calls) for d, g in report.days.items()],
    )


def _hour_chart(report: calls.CallsReport) -> dict[str, Any]:
    items = [(f"{h:02d}", g.calls) for h, g in report.hours.items()]
    return _chart("chart-hours", gettext("Günün saatlerine göre gelen çağrı"), items)


def _category_chart(report: Mapping[str, Any], limit: int = 15) -> dict[str, Any]:
    """The ``limit`` largest categories (all of them are in the table)."""
    items = sorted(((name or tables.UNSPECIFIED, n) for name, n in report["by_category"].items()), key=lambda x: -x[1])
    return _chart(
        "chart-categories", gettext("Kategorilere göre başvuru (en çok %(limit)s)", limit=limit), items[:limit]
    )


# --- pages -----------------------------------------------------------------------------------


@bp.get("/calls")
def calls_report() -> ResponseReturnValue:
    first, last, start, end = _period(MAX_DAYS)
    fmt = _format()
    with context.sessions()() as s:
        report, document = _calls(s, first, last, start, end)
    charts = {"days": _day_chart(report), "hours": _hour_chart(report)}
    return _page(fmt, document, "reports/calls.html", first=first, last=last, charts=charts)


@bp.get("/tickets")
def tickets_report() -> ResponseReturnValue:
    first, last, start, end = _period(MAX_DAYS)
    fmt = _format()
    with context.sessions()() as s:
        report, document = _tickets(s, first, last, start, end)
    charts = {"categories": _category_chart(report)}
    return _page(fmt, document, "reports/tickets.html", first=first, last=last, charts=charts)


@bp.get("/iso10002")
def iso_report() -> ResponseReturnValue:
    first, last, start, end = _period(MAX_DAYS)
    fmt = _format()
    with context.sessions()() as s:
        _report, document = _iso(s, first, last, start, end)
    return _page(fmt, document, "reports/iso10002.html", first=first, last=last)


@bp.get("/monthly")
def monthly_report() -> ResponseReturnValue:
    first, last, start, end = _month()
    fmt = _format()
    with context.sessions()() as s:
        month = _monthly(s, first, last, start, end)
    if fmt:
        return _download(month["document"], fmt)
    return render_template("reports/monthly.html", month=first.strftime("%Y-%m"), heading=heading(first), **month)


@bp.get("/monthly.pdf")
def monthly_pdf() -> Response:
    first, last, start, end = _month()
    with context.sessions()() as s:
        document = _monthly(s, first, last, start, end)["document"]
    try:
        body = export.to_pdf(document)
    except export.FontMissing as missing:
        abort(503, str(missing))
    name = export.download_name(document, "pdf")
    return Response(body, mimetype="application/pdf", headers={"Content-Disposition": f"inline; filename={name}"})


@bp.get("/survey")
def survey_report() -> ResponseReturnValue:
    first, last, start, end = _period()
    by = request.args.get("by", "")
    if by and by not in results.DIMENSIONS:
        abort(
            400,
            gettext(
                "Geçersiz kırılım: '%(value)s'. Kırılım şunlardan biri olabilir: %(choices)s.",
                value=by,
                choices=", ".join(results.DIMENSIONS),
            ),
        )
    sessions = context.sessions()
    with sessions() as s:
        rows = results.answers(s, start, end)
        total = results.table(rows)
        groups = results.by(rows, by) if by else {}
        trend = results.trend(rows, start)
        comments = results.comments(s, start, end)
    fmt = request.args.get("format", "")
    if fmt in ("csv", "xlsx"):
        parts = [tables.survey_table(total)]
        parts += [
            tables.survey_table(t, f"Memnuniyet anketi – {name or tables.UNSPECIFIED}") for name, t in groups.items()
        ]
        return _download(Document("Memnuniyet anketi", first, last, parts, "anket-raporu"), fmt)
    if fmt == "json":
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
        labels=scale.LABELS,
        dimensions=results.DIMENSIONS,
    )
