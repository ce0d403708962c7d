"""The supervisors' wallboard: every queue live, today's figures, and the actions a supervisor takes from it.

The live part (callers waiting, operators by state) is the queue manager's snapshot, relayed by
``admin.queues`` as server-sent events; the page only draws it. Today's figures (SL, ASA, answered,
abandoned, the 15-minute chart) are the persisted intervals (``alo185.queues.intervals``), summed
here for all queues at once so the board needs one request instead of one per queue.

Actions: pausing, unpausing and logging out an operator go through the console API (a supervisor
names the operator); moving an operator to another queue changes their skills and sends the same
``refresh`` command the CLI sends, so a logged-in operator is moved at once; an announcement is the
IVR's (``ivr_announcements``), heard by callers before the menu. Moves and announcements are audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from admin import auth, context
from alo185.menu.models import Announcement
from alo185.operators import codes, phones, queue_commands
from alo185.operators.models import OperatorSkill
from alo185.org.access import Perm
from alo185.org.models import Role, User
from alo185.queues import intervals
from alo185.queues.models import QueueInterval
from alo185.queues.names import pbx_queues

bp = Blueprint(
    "wallboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/wallboard/static",
)
auth.protect(bp, Perm.QUEUES_LIVE)
TZ = ZoneInfo("Europe/Istanbul")
# The share of calls to answer within the queue's target (the classic 80/20); under it the SL turns red.
SL_GOAL_PERCENT = 80
WAIT_S = 5.0  # how long a move waits for the queue manager, as the console's commands do
MAX_ANNOUNCEMENT_MINUTES = 7 * 24 * 60
MAX_ANNOUNCEMENT_CHARS = 1000


def _goal() -> int:
    """``?goal=`` (1–100) overrides the SL goal for one screen, e.g. a queue with a looser promise."""
    value = request.args.get("goal", type=int)
    return value if value is not None and 1 <= value <= 100 else SL_GOAL_PERCENT


def _today() -> tuple[date, datetime, datetime]:
    day = datetime.now(TZ).date()
    start = datetime.combine(day, time.min, TZ)
    return day, start, datetime.combine(day + timedelta(days=1), time.min, TZ)


def _operators() -> list[dict[str, Any]]:
    """Active operator users with their phone and skills: the board names live members by their extension."""
    with context.sessions()() as session:
        users = session.scalars(
            select(User).where(User.role == Role.OPERATOR, User.active.is_(True)).order_by(User.username)
        ).all()
        skills: dict[int, dict[str, int]] = {}
        for row in session.scalars(select(OperatorSkill)):
            skills.setdefault(row.user_id, {})[row.queue] = row.penalty
        return [
            {
                "username": u.username,
                "full_name": u.full_name,
                "extension": u.extension,
                "interface": phones.interface(u.extension) if u.extension else None,
                "skills": skills.get(u.id, {}),
            }
            for u in users
        ]


def _announcements() -> list[dict[str, Any]]:
    """Announcements callers hear now or later (ended and past ones are on the IVR page)."""
    now = datetime.now(UTC)
    with context.sessions()() as session:
        rows = session.scalars(
            select(Announcement)
            .where(Announcement.active.is_(True), Announcement.ends_at > now)
            .order_by(Announcement.starts_at)
        ).all()
        return [
            {
                "id": r.id,
                "text_tr": r.text_tr,
                "starts_at": r.starts_at.astimezone(TZ).isoformat(),
                "ends_at": r.ends_at.astimezone(TZ).isoformat(),
                "areas": [*r.districts, *r.mahalles],
                "created_by": r.created_by,
            }
            for r in rows
        ]


@bp.get("/wallboard")
def page() -> str:
    """The board; ``?large=1`` for a wall screen (large type, no navigation)."""
    return render_template(
        "wallboard/wallboard.html",
        queues=pbx_queues(),
        large=request.args.get("large") in ("1", "true", "yes"),
        goal=_goal(),
        pause_reasons=[{"code": r.code, "label": r.label} for r in codes.PAUSE_REASONS],
        operators=_operators(),
        announcements=_announcements(),
        can_act=auth.current().can(Perm.CONSOLE) and auth.current().role == Role.SUPERVISOR,
        can_announce=auth.current().can(Perm.ANNOUNCEMENTS_EDIT),
    )


def _slot(figures: intervals.PeriodFigures) -> list[Any]:
    """One 15-minute slot, compact: [offered, answered, abandoned, SL at the target, SL at 20 s]."""
    return [figures.offered, figures.answered, figures.abandoned, _round(figures.sl_target), _round(figures.sl_20s)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@bp.get("/api/wallboard/today")
def today() -> Response:
    """Today's figures of every queue and of all together, in total and per 15-minute slot (local time).

    ``slots`` are the starts of the day's 96 slots; each queue's ``series`` has one
    ``[offered, answered, abandoned, sl_target, sl_20s]`` per slot (ratios null without calls).
    """
    day, start, end = _today()
    slots = [start + i * intervals.INTERVAL for i in range(int((end - start) / intervals.INTERVAL))]
    index = {slot.astimezone(UTC): n for n, slot in enumerate(slots)}
    titles = pbx_queues()
    with context.sessions()() as session:
        names = sorted(set(titles) | intervals.queues(session))
        rows = session.scalars(
            select(QueueInterval).where(QueueInterval.interval_start >= start, QueueInterval.interval_start < end)
        ).all()
        targets = {name: intervals.target_for(session, name) for name in names}
    per_slot: dict[str, list[intervals.PeriodFigures]] = {
        name: [intervals.PeriodFigures() for _slot_start in slots] for name in [*names, ""]
    }
    counted: dict[str, list[QueueInterval]] = {name: [] for name in [*names, ""]}
    for row in rows:
        n = index.get(row.interval_start.astimezone(UTC))
        if n is None or row.queue not in per_slot:
            continue
        for name in (row.queue, ""):  # "" is every queue together
            per_slot[name][n].add(row)
            counted[name].append(row)

    def entry(name: str) -> dict[str, Any]:
        found: dict[str, Any] = {
            "total": intervals.PeriodFigures.of(counted[name]).as_dict(),
            "series": [_slot(figures) for figures in per_slot[name]],
        }
        if name:
            found["target_s"] = targets[name].target_s
        return found

    return jsonify(
        {
            "date": day.isoformat(),
            "timezone": str(TZ),
            "slots": [slot.isoformat() for slot in slots],
            "goal_percent": _goal(),
            "queues": {name: {"title": titles.get(name, name), **entry(name)} for name in names},
            "all": entry(""),
        }
    )


@bp.get("/api/wallboard/operators")
def operator_list() -> Response:
    return jsonify({"operators": _operators()})


def _supervisor() -> None:
    """Changing who answers which queue is a supervisor's decision, as the console's actions on others are."""
    if auth.current().role != Role.SUPERVISOR:
        abort(403, _("Operatörleri yalnızca süpervizör yönetebilir."))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, _("JSON nesnesi gönderin."))
    return body


@bp.post("/api/wallboard/operators/<username>/move")
def move(username: str) -> Response:
    """JSON ``{"from": "su", "to": "genel"}``: the operator answers ``to`` instead of ``from``.

    The skill of ``from`` (its penalty kept, unless ``penalty`` is given) becomes one of ``to``;
    without ``from`` the operator answers ``to`` as well. A logged-in operator is moved at once
    (the queue manager logs them in again); anyone else joins the new queue at their next log-in.
    """
    _supervisor()
    body = _json_body()
    known = pbx_queues()
    source, target, penalty = body.get("from") or None, body.get("to"), body.get("penalty")
    if not isinstance(target, str) or target not in known:
        abort(400, _("Hedef kuyruk bilinmiyor: %(queue)s", queue=str(target)))
    if source is not None and (not isinstance(source, str) or source not in known):
        abort(400, _("Kaynak kuyruk bilinmiyor: %(queue)s", queue=str(source)))
    if source == target:
        abort(400, _("Kaynak ve hedef kuyruk aynı."))
    if penalty is not None and (
        isinstance(penalty, bool) or not isinstance(penalty, int) or not 0 <= penalty <= phones.MAX_PENALTY
    ):
        abort(400, _("Öncelik 0 ile %(max)s arasında bir tam sayı olmalı.", max=phones.MAX_PENALTY))
    with context.sessions().begin() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.active or Role(user.role) != Role.OPERATOR:
            abort(404, _("Etkin operatör yok: %(user)s", user=username))
        before = phones.skills_of(session, user.id)
        if source is not None and source not in before:
            abort(400, _("%(user)s bu kuyrukta değil: %(queue)s", user=username, queue=source))
        after = dict(before)
        kept = after.pop(source, 0) if source is not None else after.get(target, 0)
        after[target] = penalty if penalty is not None else kept
        phones.set_skills(session, user, after)
        extension = user.extension
        detail = f"{_skills_text(before)} -> {_skills_text(after)}"
        context.audit(
            session,
            action="queue.move",
            entity="user",
            entity_id=username,
            detail=detail,
        )
    applied, message = _apply(extension)
    with context.sessions().begin() as session:
        context.audit(
            session,
            action="queue.move.applied" if applied else "queue.move.pending",
            entity="user",
            entity_id=username,
            detail=message,
        )
    return jsonify({"ok": True, "user": username, "skills": after, "applied": applied, "message": message})


def _skills_text(skills: dict[str, int]) -> str:
    return " ".join(f"{q}:{p}" for q, p in sorted(skills.items())) or "-"


def _apply(extension: str | None) -> tuple[bool, str]:
    """Send ``refresh`` through the command stream: a logged-in operator's queues follow the new skills now."""
    if not extension:
        return False, "no phone extension yet: the skills apply once the operator logs in with one"
    try:
        result = queue_commands.run(
            context.redis_client(), queue_commands.make("refresh", extension, by=context.user()), WAIT_S
        )
    except redis.RedisError:
        return False, "the queues are not running: the skills apply at the next log-in"
    if result is None:
        return False, "the queue manager did not answer: the skills apply at the next log-in"
    return bool(result["ok"]), str(result["message"])


def _announcer() -> None:
    if not auth.current().can(Perm.ANNOUNCEMENTS_EDIT):
        abort(403)


@bp.get("/api/wallboard/announcements")
def announcement_list() -> Response:
    return jsonify({"announcements": _announcements()})


@bp.post("/api/wallboard/announcements")
def add_announcement() -> ResponseReturnValue:
    """JSON ``{"text_tr": "…", "minutes": 60, "districts": ["Yenişehir"]}``: callers hear it from now on.

    The same announcement as the IVR page's (``/ivr/announcements``), which sets the other languages
    and a later start; here it starts at once, for a situation the supervisor sees on the board.
    """
    _announcer()
    body = _json_body()
    text, minutes, districts = body.get("text_tr"), body.get("minutes"), body.get("districts", [])
    if not isinstance(text, str) or not text.strip():
        abort(400, _("Türkçe metin zorunludur."))
    if len(text) > MAX_ANNOUNCEMENT_CHARS:
        abort(400, _("Metin en fazla %(n)s karakter olabilir.", n=MAX_ANNOUNCEMENT_CHARS))
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_ANNOUNCEMENT_MINUTES:
        abort(400, _("Süre 1 ile %(max)s dakika arasında olmalı.", max=MAX_ANNOUNCEMENT_MINUTES))
    if not isinstance(districts, list) or not all(isinstance(d, str) for d in districts):
        abort(400, _("İlçeler bir metin listesi olmalı."))
    now = datetime.now(UTC)
    with context.sessions().begin() as session:
        row = Announcement(
            text_tr=text.strip(),
            text_en="",
            text_ar="",
            starts_at=now,
            ends_at=now + timedelta(minutes=minutes),
            districts=[d.strip() for d in districts if d.strip()],
            mahalles=[],
            active=True,
            created_by=context.user(),
        )
        session.add(row)
        session.flush()
        context.audit(
            session,
            action="announcement.add",
            entity="announcement",
            entity_id=row.id,
            detail=f"{minutes} min: {text.strip()[:200]}",
        )
    return jsonify({"announcements": _announcements()}), 201


@bp.post("/api/wallboard/announcements/<int:ann_id>/end")
def end_announcement(ann_id: int) -> Response:
    _announcer()
    with context.sessions().begin() as session:
        row = session.get(Announcement, ann_id)
        if row is None:
            abort(404, _("Duyuru bulunamadı."))
        row.active = False
        context.audit(
            session,
            action="announcement.end",
            entity="announcement",
            entity_id=ann_id,
        )
    return jsonify({"announcements": _announcements()})
