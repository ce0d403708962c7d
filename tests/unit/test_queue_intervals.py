"""Persisted 15-minute queue figures equal ``figures_from_records`` over the same calls, on both databases."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from admin.app import create_app
from alo185.audit.models import AuditLog
from alo185.calls.models import CallRecord
from alo185.core.settings import Settings
from alo185.queues import intervals
from alo185.queues.models import QueueInterval
from alo185.queues.service_level import QueueFigures, figures_from_records
from tests.staff import staff_client
from workers.recorder import apply_event

TR = ZoneInfo("Europe/Istanbul")


def local(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, 21, hh, mm, ss, tzinfo=TR)


def call_events(
    uid: str,
    queue: str,
    joined: datetime,
    wait_s: float,
    *,
    talk_s: float | None = None,
    abandoned: bool = False,
    ivr_s: float = 20.0,
) -> list[dict[str, Any]]:
    """The recorder's events for one queued call that joined at ``joined``, as the queue manager sends them."""
    t = joined.timestamp()
    events: list[dict[str, Any]] = [
        {"type": "call.start", "uniqueid": uid, "ts": t - ivr_s, "linkedid": uid, "caller": "+905321234567"},
        {"type": "ivr", "uniqueid": uid, "ts": t - 1, "queue": queue, "digit": "1"},
        {"type": "queue.join", "uniqueid": uid, "ts": t, "queue": queue, "position": 1},
    ]
    if abandoned:
        events.append({"type": "queue.abandon", "uniqueid": uid, "ts": t + wait_s, "queue": queue, "wait_s": wait_s})
        return [*events, {"type": "call.end", "uniqueid": uid, "ts": t + wait_s}]
    events.append({"type": "queue.connect", "uniqueid": uid, "ts": t + wait_s, "queue": queue, "wait_s": wait_s})
    if talk_s is None:
        return events  # still talking: no talk time yet
    events.append({"type": "queue.complete", "uniqueid": uid, "ts": t + wait_s + talk_s, "talk_s": talk_s})
    return [*events, {"type": "call.end", "uniqueid": uid, "ts": t + wait_s + talk_s + 0.5}]


# "su" in two intervals (14:45 and 15:00 local), "park" in both; the boundary calls join at
# 14:59:59 and 15:00:00, the latter after an IVR that started in the earlier interval.
CALLS = [
    *call_events("a1", "su", local(14, 50), 2, talk_s=60),
    *call_events("a2", "su", local(14, 51), 8, talk_s=30),
    *call_events("a3", "su", local(14, 52), 3, abandoned=True),
    *call_events("a4", "su", local(14, 53), 30, abandoned=True),
    *call_events("a5", "su", local(14, 54), 25),
    *call_events("a6", "su", local(14, 59, 59), 1, talk_s=10),
    *call_events("b1", "su", local(15, 0, 0), 4, talk_s=40),
    *call_events("b2", "su", local(15, 5), 10, abandoned=True),
    *call_events("p1", "park", local(14, 46), 6, talk_s=20),
    *call_events("p2", "park", local(15, 14, 59), 0, talk_s=5),
    {"type": "call.start", "uniqueid": "x1", "ts": local(14, 55).timestamp(), "caller": "+905329999999"},
    {"type": "ivr", "uniqueid": "x1", "ts": local(14, 55, 5).timestamp(), "queue": "su", "action": "hangup"},
]
A, B = intervals.interval_start(local(14, 45)), intervals.interval_start(local(15, 0))


def fold(sessions: sessionmaker[Session], events: list[dict[str, Any]]) -> None:
    with sessions.begin() as s:
        for e in events:
            apply_event(s, e)


def stored(sessions: sessionmaker[Session]) -> dict[tuple[str, datetime], dict[str, Any]]:
    with sessions() as s:
        rows = s.scalars(select(QueueInterval)).all()
        columns = [c.key for c in QueueInterval.__table__.columns if c.key != "id"]
        return {(r.queue, r.interval_start): {c: getattr(r, c) for c in columns} for r in rows}


def expected(sessions: sessionmaker[Session]) -> dict[tuple[str, datetime], QueueFigures]:
    """``figures_from_records`` over the records of each (queue, interval): the reference."""
    with sessions() as s:
        groups: dict[tuple[str, datetime], list[CallRecord]] = defaultdict(list)
        for r in s.scalars(select(CallRecord)):
            key = intervals.placement(r)
            if key is not None:
                groups[key].append(r)
        return {key: figures_from_records(rs)[key[0]] for key, rs in groups.items()}


def assert_same(period: intervals.PeriodFigures, fig: QueueFigures, target_s: float = 5) -> None:
    got = (period.offered, period.answered, period.abandoned, period.short_abandoned)
    assert got == (fig.offered, fig.answered, fig.abandoned, fig.short_abandoned)
    assert period.sl_target == pytest.approx(fig.service_level(target_s))
    assert period.sl_20s == pytest.approx(fig.service_level(20))
    assert period.asa_s == pytest.approx(fig.asa_s)
    assert period.aht_s == pytest.approx(fig.aht_s)
    assert period.answer_rate == pytest.approx(fig.answer_rate)


def test_interval_start_is_utc_and_aligned() -> None:
    start = intervals.interval_start(local(14, 59, 59))
    assert (start, start.tzinfo) == (datetime(2026, 11, 21, 11, 45, tzinfo=UTC), UTC)  # 14:45 local
    assert intervals.interval_start(local(15, 0, 0)) == local(15, 0)
    assert intervals.interval_start(local(15, 0).timestamp() + 899.9) == local(15, 0)
    with pytest.raises(ValueError):
        intervals.interval_start(datetime(2026, 11, 21, 15, 0))


def test_intervals_equal_figures_from_records(sessions: sessionmaker[Session]) -> None:
    fold(sessions, CALLS)
    reference = expected(sessions)
    assert set(reference) == {("su", A), ("su", B), ("park", A), ("park", B)}
    with sessions() as s:
        for (queue, start), fig in reference.items():
            assert_same(intervals.figures_for(s, queue, start, start + intervals.INTERVAL), fig)
        # The two intervals together equal the figures over all the queue's records.
        records = list(s.scalars(select(CallRecord)))
        for queue, fig in figures_from_records(records).items():
            assert_same(intervals.figures_for(s, queue, A, B + intervals.INTERVAL), fig)
        su_a = intervals.figures_for(s, "su", A, B)
    # a1–a6: 2, 8 and 25 s waits, 1 s at the boundary; a3 (3 s) is a short abandon, a4 a long one.
    assert (su_a.offered, su_a.answered, su_a.abandoned, su_a.short_abandoned) == (6, 4, 2, 1)
    assert su_a.sl_target == 2 / 5 and su_a.sl_20s == 3 / 5
    assert su_a.aht_s == (60 + 30 + 10) / 3  # a5 is still talking: no talk time, not in AHT
    assert su_a.targets_s == {5}


def test_boundary_by_the_time_the_caller_joined(sessions: sessionmaker[Session]) -> None:
    fold(sessions, CALLS)
    with sessions() as s:
        by_uid = {r.uniqueid: intervals.placement(r) for r in s.scalars(select(CallRecord))}
    assert by_uid["a6"] == ("su", A)  # joined 14:59:59
    assert by_uid["b1"] == ("su", B)  # joined 15:00:00, though its call started at 14:59:40
    assert by_uid["x1"] is None  # hung up in the IVR: not offered to a queue


def test_replaying_and_refreshing_change_nothing(sessions: sessionmaker[Session]) -> None:
    fold(sessions, CALLS)
    once = stored(sessions)
    fold(sessions, CALLS + CALLS[::-1])  # the stream replayed after a restart, and out of order
    assert stored(sessions) == once  # updated_at included: nothing was rewritten
    with sessions.begin() as s:
        for queue, start in once:
            intervals.refresh(s, queue, start)
            intervals.refresh(s, queue, start)
    assert stored(sessions) == once
    with sessions.begin() as s:  # a backfill from the records rebuilds the same rows
        s.execute(delete(QueueInterval))
        intervals.rebuild(s, "su", A, B + intervals.INTERVAL)
        intervals.rebuild(s, "park", A, B + intervals.INTERVAL)
    again = stored(sessions)
    assert {k: {c: v for c, v in row.items() if c != "updated_at"} for k, row in again.items()} == {
        k: {c: v for c, v in row.items() if c != "updated_at"} for k, row in once.items()
    }


def test_a_call_that_moves_leaves_its_old_interval(sessions: sessionmaker[Session]) -> None:
    # The IVR starts at 14:59:50 and the caller joins at 15:00:05; until the hang-up arrives the
    # abandon's join time is unknown and the call is counted at its start (14:45).
    events = call_events("m1", "su", local(15, 0, 5), 10, abandoned=True, ivr_s=15)
    fold(sessions, events[:-1])
    assert stored(sessions)[("su", A)]["abandoned"] == 1
    fold(sessions, events[-1:])
    rows = stored(sessions)
    assert rows[("su", A)]["offered"] == 0 and rows[("su", B)]["abandoned"] == 1


def test_a_changed_target_changes_service_level(sessions: sessionmaker[Session]) -> None:
    fold(sessions, CALLS)
    with sessions.begin() as s:
        assert intervals.figures_for(s, "su", A, B).sl_target == 2 / 5
        intervals.set_target(s, "su", 10, 2, actor="denetci")
    with sessions.begin() as s:  # the change applies from the next refresh on
        assert intervals.figures_for(s, "su", A, B).sl_target == 2 / 5
        row = intervals.refresh(s, "su", A)
        assert (row.target_s, row.short_abandon_s) == (10, 2)
    with sessions() as s:
        su_a = intervals.figures_for(s, "su", A, B)
        # Within 10 s: 2, 8 and 1; the 3-s abandon is no longer short (< 2 s), so six count.
        assert su_a.sl_target == 3 / 6 and su_a.sl_20s == 3 / 6 and su_a.short_abandoned == 0
        assert intervals.figures_for(s, "park", A, B).targets_s == {5}  # other queues keep the default
        assert s.scalars(select(AuditLog).where(AuditLog.action == "queue.target")).one().actor == "denetci"
    with sessions.begin() as s, pytest.raises(intervals.TargetError):
        intervals.set_target(s, "su", 601, actor="denetci")


# --- the admin API ---------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, database_url: str):
    application = create_app(Settings(var_dir=tmp_path, db_url=database_url))
    fold(application.extensions["alo185.sessions"], CALLS)
    return application


def test_a_supervisor_reads_the_intervals(app) -> None:
    client = staff_client(app, "supervisor")
    body = client.get("/api/queues/intervals?queue=su&from=2026-11-21&to=2026-11-22").get_json()
    assert (body["queue"], body["from"], body["to"], body["timezone"]) == ("su", "2026-11-21", "2026-11-22", TR.key)
    assert len(body["intervals"]) == 2 * 96 and body["intervals"][0]["start"] == "2026-11-21T00:00:00+03:00"
    by_start = {i["start"]: i for i in body["intervals"]}
    before, after = by_start["2026-11-21T14:45:00+03:00"], by_start["2026-11-21T15:00:00+03:00"]
    assert before["end"] == "2026-11-21T15:00:00+03:00" and before["target_s"] == 5
    assert (before["offered"], before["short_abandoned"], before["sl_target"], before["sl_20s"]) == (6, 1, 0.4, 0.6)
    assert (after["offered"], after["answered"], after["asa_s"], after["aht_s"]) == (2, 1, 4.0, 40.0)
    assert (
        by_start["2026-11-21T03:00:00+03:00"]["offered"] == 0
        and by_start["2026-11-21T03:00:00+03:00"]["sl_target"] is None
    )
    assert [d["date"] for d in body["days"]] == ["2026-11-21", "2026-11-22"]
    assert body["days"][0]["offered"] == 8 and body["days"][1]["offered"] == 0 and body["total"]["offered"] == 8
    assert body["total"]["answer_rate"] == 0.625 and body["target"]["target_s"] == 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("queue=su&from=21.11.2026", "YYYY-MM-DD"),
        ("queue=su&from=2026-11-22&to=2026-11-21", "after"),
        ("queue=su&from=2026-01-01&to=2026-11-21", "at most"),
        ("queue=yok&from=2026-11-21", "unknown queue"),
        ("from=2026-11-21", "'queue' is required"),
    ],
)
def test_bad_input_is_refused_with_the_reason(app, query: str, message: str) -> None:
    response = staff_client(app, "supervisor").get(f"/api/queues/intervals?{query}")
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_an_operator_is_refused(app) -> None:
    client = staff_client(app, "operator")
    assert client.get("/api/queues/intervals?queue=su&from=2026-11-21").status_code == 403
    assert client.post("/api/queues/su/target", json={"target_s": 10}).status_code == 403


def test_a_supervisor_sets_the_target(app) -> None:
    client = staff_client(app, "supervisor", username="sefe")
    response = client.post("/api/queues/su/target", json={"target_s": 10, "short_abandon_s": 3})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() | {"updated_at": None} == {
        "queue": "su",
        "target_s": 10,
        "short_abandon_s": 3,
        "updated_by": "sefe",
        "updated_at": None,
    }
    assert client.post("/api/queues/su/target", json={"target_s": 20}).get_json()["short_abandon_s"] == 3
    for bad in ({"target_s": 0}, {"target_s": 601}, {"target_s": "5"}, {"target_s": 5.5}, {"target_s": True}):
        refused = client.post("/api/queues/su/target", json=bad)
        assert refused.status_code == 400 and "1 to 600" in refused.get_json()["message"], bad
    assert client.post("/api/queues/su/target", json={"target_s": 5, "short_abandon_s": 0}).status_code == 400
    assert client.post("/api/queues/su/target", json=[5]).status_code == 400
    assert client.post("/api/queues/yok/target", json={"target_s": 5}).status_code == 404
    body = client.get("/api/queues/intervals?queue=su&from=2026-11-21").get_json()
    assert body["target"]["target_s"] == 20 and body["target"]["updated_by"] == "sefe"
    del client.environ_base["HTTP_X_CSRFTOKEN"]  # a forged cross-site post carries no token
    assert client.post("/api/queues/su/target", json={"target_s": 7}).status_code == 400
