"""The wallboard's page and endpoints: today's figures, moving an operator between queues, announcements.

Who may do what: the page and its figures need ``queues.live`` (supervisors, administrators);
moving operators is a supervisor's; announcements need ``announcements.edit``. A refused or malformed
request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

import admin.wallboard.views
from admin.app import create_app
from alo185 import services
from alo185.audit.models import AuditLog
from alo185.core.settings import Settings
from alo185.menu.models import Announcement
from alo185.operators import phones
from alo185.org.models import User
from tests.fake_queue_manager import FakeQueueManager, running
from tests.staff import add_user, log_in
from tests.unit.test_queue_intervals import call_events
from workers.recorder import apply_event

TR = ZoneInfo("Europe/Istanbul")


@pytest.fixture
def app(redis_settings: Settings) -> Flask:
    services.prepare_database(redis_settings)
    application = create_app(redis_settings)
    for name, role in (("ayse", "operator"), ("sef", "supervisor"), ("yonetici", "admin"), ("kalite", "quality")):
        add_user(application, name, role)
    with application.extensions["alo185.sessions"].begin() as s:
        ayse = s.scalar(select(User).where(User.username == "ayse"))
        assert ayse is not None
        phones.set_skills(s, ayse, {"su": 0, "zabita": 2})
    return application


@pytest.fixture
def queue_manager(redis_settings: Settings) -> Iterator[FakeQueueManager]:
    with running(redis_settings, lambda _command: {"ok": True, "message": "logged in to genel", "queues": {}}) as fake:
        yield fake


def _skills(app: Flask, username: str = "ayse") -> dict[str, int]:
    with app.extensions["alo185.sessions"]() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return phones.skills_of(s, user.id)


def _audit(app: Flask, prefix: str) -> list[tuple[str, str, str, str | None]]:
    with app.extensions["alo185.sessions"]() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action.like(f"{prefix}%")).order_by(AuditLog.id))
        return [(r.actor, r.action, str(r.entity_id), r.detail) for r in rows]


def test_the_page_is_the_supervisors_home_and_refused_to_an_operator(app: Flask) -> None:
    sef = log_in(app.test_client(), "sef")
    assert sef.get("/").headers["Location"] == "/wallboard"
    page = sef.get("/wallboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Duvar panosu" in html and 'data-queue="su"' in html and "wallboard.js" in html
    assert 'data-can-act="1"' in html and 'id="wb-move"' in html and 'id="wb-ann-form"' in html
    assert 'class="wb large"' in sef.get("/wallboard?large=1").get_data(as_text=True)
    assert 'class="wb"' in html
    script = sef.get("/wallboard/static/wallboard.js")
    assert script.status_code == 200 and "EventSource" in script.get_data(as_text=True)

    # The administrator watches, but moving operators and their pauses are the supervisor's.
    admin_page = log_in(app.test_client(), "yonetici").get("/wallboard").get_data(as_text=True)
    assert 'data-can-act="0"' in admin_page and 'id="wb-move"' not in admin_page

    ayse = log_in(app.test_client(), "ayse")
    for path in ("/wallboard", "/api/wallboard/today", "/api/wallboard/operators", "/api/wallboard/announcements"):
        assert ayse.get(path).status_code == 403, path
    assert app.test_client().get("/wallboard").status_code == 302  # to the login form


def _today_at(hh: int, mm: int) -> datetime:
    return datetime.combine(datetime.now(TR).date(), time(hh, mm), TR)


def test_today_sums_the_persisted_intervals_per_queue_per_slot_and_for_all(app: Flask) -> None:
    events = [
        *call_events("s1", "su", _today_at(10, 2), 3, talk_s=30),
        *call_events("s2", "su", _today_at(10, 7), 12, talk_s=30),
        *call_events("s3", "su", _today_at(10, 9), 40, abandoned=True),
        *call_events("s4", "su", _today_at(10, 20), 2, talk_s=30),
        *call_events("p1", "park", _today_at(10, 14), 25, talk_s=30),
        # Yesterday's call stays out of today.
        *call_events("old", "su", _today_at(10, 2) - timedelta(days=1), 1, talk_s=30),
    ]
    with app.extensions["alo185.sessions"].begin() as s:
        for event in events:
            apply_event(s, event)
    body = log_in(app.test_client(), "sef").get("/api/wallboard/today").get_json()
    assert body["date"] == datetime.now(TR).date().isoformat() and len(body["slots"]) == 96
    assert body["slots"][40] == _today_at(10, 0).isoformat() and body["goal_percent"] == 80
    su = body["queues"]["su"]
    assert su["target_s"] == 5 and su["title"]
    total = su["total"]
    assert (total["offered"], total["answered"], total["abandoned"]) == (4, 3, 1)
    assert (total["sl_target"], total["sl_20s"]) == (0.5, 0.75)  # within 5 s: 3 and 2 of 4; within 20 s: +12
    assert total["asa_s"] == pytest.approx((3 + 12 + 2) / 3, abs=1e-3)
    # [offered, answered, abandoned, SL at the target, SL at 20 s] per slot
    assert su["series"][40] == [3, 2, 1, 0.3333, 0.6667]
    assert su["series"][41] == [1, 1, 0, 1.0, 1.0]
    assert su["series"][39] == [0, 0, 0, None, None]
    assert body["all"]["series"][40] == [4, 3, 1, 0.25, 0.5]
    assert (body["all"]["total"]["offered"], body["all"]["total"]["answered"]) == (5, 4)
    assert body["queues"]["genel"]["total"]["offered"] == 0 and body["queues"]["genel"]["total"]["sl_target"] is None
    assert log_in(app.test_client(), "sef").get("/api/wallboard/today?goal=90").get_json()["goal_percent"] == 90


def test_operators_are_listed_with_their_phone_and_skills(app: Flask) -> None:
    found = log_in(app.test_client(), "sef").get("/api/wallboard/operators").get_json()["operators"]
    assert [(o["username"], o["interface"], o["skills"]) for o in found] == [
        ("ayse", "PJSIP/1001", {"su": 0, "zabita": 2})
    ]


def test_a_supervisor_moves_an_operator_through_the_command_stream(app: Flask, queue_manager: FakeQueueManager) -> None:
    sef = log_in(app.test_client(), "sef")
    moved = sef.post("/api/wallboard/operators/ayse/move", json={"from": "su", "to": "genel"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json() | {"message": ""} == {
        "ok": True,
        "user": "ayse",
        "skills": {"genel": 0, "zabita": 2},
        "applied": True,
        "message": "",
    }
    assert _skills(app) == {"genel": 0, "zabita": 2}
    assert [(c["action"], c["extension"], c["by"]) for c in queue_manager.seen] == [("refresh", "1001", "sef")]
    # Without "from" the queue is added, with the penalty asked for.
    added = sef.post("/api/wallboard/operators/ayse/move", json={"to": "park", "penalty": 5})
    assert added.status_code == 200 and _skills(app) == {"genel": 0, "park": 5, "zabita": 2}
    assert _audit(app, "queue.move") == [
        ("sef", "queue.move", "ayse", "su:0 zabita:2 -> genel:0 zabita:2"),
        ("sef", "queue.move.applied", "ayse", "logged in to genel"),
        ("sef", "queue.move", "ayse", "genel:0 zabita:2 -> genel:0 park:5 zabita:2"),
        ("sef", "queue.move.applied", "ayse", "logged in to genel"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"from": "su", "to": "yok"}, 400, "Hedef kuyruk"),
        ({"from": "yok", "to": "genel"}, 400, "Kaynak kuyruk"),
        ({"from": "park", "to": "genel"}, 400, "bu kuyrukta değil"),
        ({"from": "su", "to": "su"}, 400, "aynı"),
        ({"from": "su", "to": "genel", "penalty": 101}, 400, "Öncelik"),
        ({"from": "su", "to": "genel", "penalty": True}, 400, "Öncelik"),
        ({"from": ["su"], "to": "genel"}, 400, "Kaynak kuyruk"),
        ([], 400, "JSON"),
    ],
)
def test_a_bad_move_is_refused_and_changes_nothing(
    app: Flask, queue_manager: FakeQueueManager, body: Any, status: int, message: str
) -> None:
    response = log_in(app.test_client(), "sef").post("/api/wallboard/operators/ayse/move", json=body)
    assert response.status_code == status and message in response.get_json()["message"], response.get_json()
    assert _skills(app) == {"su": 0, "zabita": 2}
    assert queue_manager.seen == [] and _audit(app, "queue.move") == []


def test_only_a_supervisor_moves_and_only_an_operator_is_moved(app: Flask, queue_manager: FakeQueueManager) -> None:
    body, path = {"from": "su", "to": "genel"}, "/api/wallboard/operators/ayse/move"
    assert log_in(app.test_client(), "ayse").post(path, json=body).status_code == 403
    assert log_in(app.test_client(), "yonetici").post(path, json=body).status_code == 403
    sef = log_in(app.test_client(), "sef")
    assert sef.post("/api/wallboard/operators/sef/move", json=body).status_code == 404
    assert sef.post("/api/wallboard/operators/nobody/move", json=body).status_code == 404
    assert _skills(app) == {"su": 0, "zabita": 2} and queue_manager.seen == []
    # Like every form post in the admin, it needs the CSRF token.
    sef.environ_base.pop("HTTP_X_CSRFTOKEN")
    assert sef.post("/api/wallboard/operators/ayse/move", json=body).status_code == 400
    assert _skills(app) == {"su": 0, "zabita": 2}


def test_a_move_without_the_queue_manager_applies_at_the_next_log_in(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin.wallboard.views, "WAIT_S", 0.3)
    moved = log_in(app.test_client(), "sef").post("/api/wallboard/operators/ayse/move", json={"to": "genel"})
    assert moved.status_code == 200
    assert not moved.get_json()["applied"] and "next log-in" in moved.get_json()["message"]
    assert _skills(app) == {"genel": 0, "su": 0, "zabita": 2}
    assert [a for _actor, a, _u, _d in _audit(app, "queue.move")] == ["queue.move", "queue.move.pending"]


def test_an_announcement_starts_now_and_ends(app: Flask) -> None:
    sef = log_in(app.test_client(), "sef")
    before = datetime.now(UTC)
    made = sef.post(
        "/api/wallboard/announcements",
        json={"text_tr": "  Mezitli'de su kesintisi 16.00'ya kadar sürecek. ", "minutes": 90, "districts": ["Mezitli"]},
    )
    assert made.status_code == 201, made.get_json()
    [shown] = made.get_json()["announcements"]
    assert shown["text_tr"] == "Mezitli'de su kesintisi 16.00'ya kadar sürecek." and shown["areas"] == ["Mezitli"]
    with app.extensions["alo185.sessions"]() as s:
        row = s.get(Announcement, shown["id"])
        assert row is not None and row.active and row.created_by == "sef" and row.districts == ["Mezitli"]
        assert before <= row.starts_at <= datetime.now(UTC)
        assert row.ends_at - row.starts_at == timedelta(minutes=90)
    assert sef.get("/api/wallboard/announcements").get_json()["announcements"] == [shown]
    assert "su kesintisi 16.00" in sef.get("/wallboard").get_data(as_text=True)  # listed on the board

    ended = sef.post(f"/api/wallboard/announcements/{shown['id']}/end")
    assert ended.status_code == 200 and ended.get_json()["announcements"] == []
    with app.extensions["alo185.sessions"]() as s:
        assert not s.get(Announcement, shown["id"]).active
    assert sef.post("/api/wallboard/announcements/9999/end").status_code == 404
    assert [(a, action) for a, action, _id, _d in _audit(app, "announcement.")] == [
        ("sef", "announcement.add"),
        ("sef", "announcement.end"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text_tr": " ", "minutes": 60}, "Türkçe metin"),
        ({"minutes": 60}, "Türkçe metin"),
        ({"text_tr": "Duyuru", "minutes": 0}, "Süre"),
        ({"text_tr": "Duyuru", "minutes": "60"}, "Süre"),
        ({"text_tr": "Duyuru", "minutes": 60 * 24 * 8}, "Süre"),
        ({"text_tr": "Duyuru", "minutes": 60, "districts": "Mezitli"}, "İlçeler"),
        ({"text_tr": "x" * 1001, "minutes": 60}, "en fazla"),
    ],
)
def test_a_bad_announcement_is_refused_and_nothing_is_saved(app: Flask, body: dict[str, Any], message: str) -> None:
    response = log_in(app.test_client(), "sef").post("/api/wallboard/announcements", json=body)
    assert response.status_code == 400 and message in response.get_json()["message"], response.get_json()
    with app.extensions["alo185.sessions"]() as s:
        assert s.scalars(select(Announcement)).all() == []
    assert _audit(app, "announcement.") == []


def test_announcements_are_refused_to_those_without_the_permission(app: Flask) -> None:
    body = {"text_tr": "Duyuru", "minutes": 60}
    assert log_in(app.test_client(), "ayse").post("/api/wallboard/announcements", json=body).status_code == 403
    assert log_in(app.test_client(), "kalite").post("/api/wallboard/announcements", json=body).status_code == 403
    assert log_in(app.test_client(), "yonetici").post("/api/wallboard/announcements", json=body).status_code == 201
