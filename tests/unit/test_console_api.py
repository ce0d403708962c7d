"""The operator console's queue API: who may act on whom, reasons, answers from the queue manager, ``/me``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import admin.console.views
from admin.app import create_app
from alo185 import services
from alo185.audit.models import AuditLog
from alo185.core import bus
from alo185.core.settings import Settings
from alo185.org.models import User
from tests.fake_queue_manager import FakeQueueManager, running
from tests.staff import add_user, log_in


@pytest.fixture
def app(redis_settings: Settings) -> Flask:
    services.prepare_database(redis_settings)
    app = create_app(redis_settings)
    for name, role in (("ayse", "operator"), ("mehmet", "operator"), ("sef", "supervisor")):
        add_user(app, name, role)
    add_user(app, "uzman", "expert", "fen-isleri")
    return app


@pytest.fixture
def queue_manager(redis_settings: Settings) -> Iterator[FakeQueueManager]:
    def answer(command: dict[str, Any]) -> dict[str, Any]:
        if command["action"] == "unpause":
            return {"ok": False, "message": "ayse is not logged in to any queue"}
        return {"ok": True, "message": "done", "queues": {"su": 0}}

    with running(redis_settings, answer) as fake:
        yield fake


def test_an_operator_acts_on_themself_a_supervisor_on_anyone_an_expert_on_nobody(app, queue_manager) -> None:
    ayse, sef, uzman = (
        log_in(app.test_client(), "ayse"),
        log_in(app.test_client(), "sef"),
        log_in(app.test_client(), "uzman"),
    )
    done = ayse.post("/api/console/login")
    assert done.status_code == 200 and done.get_json()["ok"] and done.get_json()["user"] == "ayse"
    assert ayse.post("/api/console/login", json={"user": "mehmet"}).status_code == 403
    assert ayse.get("/api/console/me?user=mehmet").status_code == 403
    assert sef.post("/api/console/logout", json={"user": "mehmet"}).status_code == 200
    assert sef.post("/api/console/login").status_code == 404  # a supervisor is no operator
    assert sef.post("/api/console/login", json={"user": "nobody"}).status_code == 404
    assert sef.post("/api/console/login", json={"user": 5}).status_code == 400
    for path in ("/api/console/login", "/api/console/pause", "/api/console/unpause", "/api/console/logout"):
        assert uzman.post(path, json={"reason": "mola"}).status_code == 403, path
    assert uzman.get("/api/console/me").status_code == 403
    seen = [(c["action"], c["extension"], c["by"]) for c in queue_manager.seen]
    assert seen == [("login", "1001", "ayse"), ("logout", "1002", "sef")]
    with app.extensions["alo185.sessions"]() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action.like("queue.%")).order_by(AuditLog.id)).all()
        assert [(r.actor, r.action, r.entity_id, r.detail) for r in rows] == [
            ("ayse", "queue.login", "ayse", "1001 ok"),
            ("sef", "queue.logout", "mehmet", "1002 ok"),
        ]


def test_a_pause_needs_a_known_reason_and_a_refusal_is_a_conflict(app, queue_manager) -> None:
    ayse = log_in(app.test_client(), "ayse")
    missing = ayse.post("/api/console/pause", json={})
    assert missing.status_code == 400 and "reason" in missing.get_json()["message"]
    bad = ayse.post("/api/console/pause", json={"reason": "uyku"})
    assert bad.status_code == 400 and "mola" in bad.get_json()["message"]
    assert ayse.post("/api/console/pause", json={"reason": 3}).status_code == 400
    assert ayse.post("/api/console/pause", data="not json", content_type="application/json").status_code == 400
    assert ayse.post("/api/console/pause", json={"reason": "Çağrı sonrası iş"}).status_code == 200
    refused = ayse.post("/api/console/unpause")
    assert refused.status_code == 409 and "not logged in" in refused.get_json()["message"]
    assert [(c["action"], c["reason"]) for c in queue_manager.seen] == [("pause", "cagri-sonrasi-is"), ("unpause", "")]


def test_no_answer_from_the_queue_manager_is_a_gateway_timeout(app, monkeypatch) -> None:
    monkeypatch.setattr(admin.console.views, "WAIT_S", 0.3)
    answer = log_in(app.test_client(), "ayse").post("/api/console/login")
    assert answer.status_code == 504 and "did not answer" in answer.get_json()["message"]


def test_an_operator_without_a_phone_is_told_so(app, queue_manager) -> None:
    with app.extensions["alo185.sessions"].begin() as s:
        s.scalar(select(User).where(User.username == "mehmet")).extension = None
    mehmet = log_in(app.test_client(), "mehmet")
    assert mehmet.post("/api/console/login").status_code == 409
    me = mehmet.get("/api/console/me").get_json()
    assert (me["extension"], me["registered"], me["logged_in"]) == (None, False, False)
    assert queue_manager.seen == []


def test_me_shows_the_phone_registration_and_the_state_in_each_queue(app, redis_settings) -> None:
    client = bus.connect(redis_settings.redis_connection_url)
    client.hset(bus.PHONES, "1001", json.dumps({"status": "Reachable", "uri": "sip:1001@127.0.0.1:5070", "at": 1.0}))
    paused = {"name": "ayse", "state": "paused", "in_state_s": 12.0, "reason": "mola", "call": "", "caller": ""}
    live = {
        "su": {"operators": {"PJSIP/1001": paused, "PJSIP/1002": {**paused, "name": "mehmet"}}},
        "genel": {"operators": {"PJSIP/1001": {**paused, "state": "wrap_up", "reason": ""}}},
        "park": {"operators": {}},
    }
    client.set(bus.LIVE_QUEUES, json.dumps(live))
    me = log_in(app.test_client(), "ayse").get("/api/console/me").get_json()
    assert (me["user"], me["extension"], me["interface"]) == ("ayse", "1001", "PJSIP/1001")
    assert me["registered"] is True and me["phone"]["uri"] == "sip:1001@127.0.0.1:5070"
    assert me["logged_in"] is True and me["paused"] is True
    assert {q: s["state"] for q, s in me["queues"].items()} == {"su": "paused", "genel": "wrap_up"}
    assert [r["code"] for r in me["pause_reasons"]][:2] == ["mola", "egitim"]
    client.hset(bus.PHONES, "1002", json.dumps({"status": "Unreachable", "uri": "sip:1002@x", "at": 2.0}))
    other = log_in(app.test_client(), "sef").get("/api/console/me?user=mehmet").get_json()
    assert (other["registered"], other["phone"]["status"], list(other["queues"])) == (False, "Unreachable", ["su"])
