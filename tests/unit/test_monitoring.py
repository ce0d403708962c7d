"""``/healthz``, ``/readyz``, ``/metrics`` and ``alo185 status`` over a real Redis, SQLite and Asterisk:
ready when all is well, then each dependency taken away in turn names its own check."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from admin.app import create_app
from agi_scripts.server import FastAGIServer, Script
from agi_scripts.session import AsyncAGI
from alo185 import services
from alo185.core import bus, procs, redis_server
from alo185.core.settings import Settings
from alo185.monitoring import readiness
from alo185.monitoring.metrics import start_of_today
from alo185.org.models import Role
from alo185.pbx.control import Pbx
from alo185.queues.models import QueueInterval
from alo185.sms.models import SmsMessage
from alo185.tickets.queries import create_ticket
from alo185.voicemail import spool
from queue_manager.service import QueueManager
from tests.staff import staff_client
from tests.unit.test_agi_protocol import ENV, Loop, Peer

CHECKS = ["database", "redis", "ami", "queue_manager", "recorder", "dead_letters", "disk"]
TOKEN = "prometheus-scrapes-with-this"


@pytest.fixture
def ready(redis_settings: Settings) -> Iterator[tuple[Settings, Pbx]]:
    """An instance that is ready: a seeded database, Redis, a running Asterisk, a fresh queue manager
    heartbeat (as the queue manager sets it) and a recorder's group with nothing behind."""
    settings = redis_settings.replace(metrics_token=TOKEN, disk_min_free_mb=0)
    services.prepare_database(settings)
    pbx = Pbx.install(settings, log=lambda _msg: None)
    pbx.start()
    client = bus.connect(settings.redis_connection_url)
    client.set(bus.QUEUE_MANAGER_ALIVE, repr(time.time()), ex=30)
    bus.ensure_group(client, readiness.RECORDER_GROUP)
    try:
        yield settings, pbx
    finally:
        pbx.stop(0)
        pbx.remove_instance()


def _readyz(settings: Settings) -> tuple[int, dict[str, Any]]:
    response = create_app(settings).test_client().get("/readyz")
    return response.status_code, response.get_json()


def _failing(body: dict[str, Any]) -> set[str]:
    return {c["name"] for c in body["checks"] if not c["ok"]}


def test_healthz_answers_whatever_the_dependencies(redis_settings: Settings) -> None:
    redis_server.stop(redis_settings)
    response = create_app(redis_settings).test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_when_all_is_well_with_every_check_named_and_timed(ready: tuple[Settings, Pbx]) -> None:
    settings, _pbx = ready
    code, body = _readyz(settings)
    assert code == 200, body
    assert body["status"] == "ready" and body["checked_at"].endswith("Z")
    assert [c["name"] for c in body["checks"]] == CHECKS
    assert all(c["ok"] and c["detail"] == "ok" and 0 <= c["ms"] < 5000 for c in body["checks"]), body


def _redis_stopped(settings: Settings, _pbx: Pbx) -> Settings:
    redis_server.stop(settings)
    return settings


def _database_unreadable(settings: Settings, _pbx: Pbx) -> Settings:
    garbage = settings.var_dir / "garbage.db"
    garbage.write_bytes(b"this is no SQLite database\n" * 200)
    return settings.replace(db_url=f"sqlite:///{garbage}")


def _asterisk_stopped(settings: Settings, pbx: Pbx) -> Settings:
    pbx.stop(0)
    return settings


def _no_heartbeat(settings: Settings, _pbx: Pbx) -> Settings:
    bus.connect(settings.redis_connection_url).delete(bus.QUEUE_MANAGER_ALIVE)
    return settings


def _stale_heartbeat(settings: Settings, _pbx: Pbx) -> Settings:
    bus.connect(settings.redis_connection_url).set(bus.QUEUE_MANAGER_ALIVE, repr(time.time() - 120), ex=30)
    return settings


def _recorder_behind(settings: Settings, _pbx: Pbx) -> Settings:
    client = bus.connect(settings.redis_connection_url)
    for n in range(6):  # published, and no recorder reads them
        bus.publish(client, {"type": "queue.join", "uniqueid": f"1700000000.{n}", "ts": time.time()})
    return settings.replace(ready_recorder_lag_max=5)


def _dead_letters(settings: Settings, _pbx: Pbx) -> Settings:
    client = bus.connect(settings.redis_connection_url)
    for n in range(3):
        bus.dead_letter(client, f"1-{n}", {"type": "x", "uniqueid": str(n)}, "ValueError()")
    return settings.replace(ready_dead_letters_max=2)


def _no_room(settings: Settings, _pbx: Pbx) -> Settings:
    return settings.replace(disk_min_free_mb=1 << 40)  # more than any disk has


@pytest.mark.parametrize(
    ("take_away", "named", "also"),
    [
        (_redis_stopped, "redis", {"queue_manager", "recorder", "dead_letters"}),  # those read Redis
        (_database_unreadable, "database", set()),
        (_asterisk_stopped, "ami", set()),
        (_no_heartbeat, "queue_manager", set()),
        (_stale_heartbeat, "queue_manager", set()),
        (_recorder_behind, "recorder", set()),
        (_dead_letters, "dead_letters", set()),
        (_no_room, "disk", set()),
    ],
    ids=["redis", "database", "ami", "no-heartbeat", "stale-heartbeat", "recorder-lag", "dead-letters", "disk"],
)
def test_not_ready_names_the_dependency_taken_away(
    ready: tuple[Settings, Pbx], take_away: Callable[[Settings, Pbx], Settings], named: str, also: set[str]
) -> None:
    settings = take_away(*ready)
    code, body = _readyz(settings)
    assert code == 503, body
    assert body["status"] == "not ready" and [c["name"] for c in body["checks"]] == CHECKS
    assert _failing(body) == {named} | also, body
    check = next(c for c in body["checks"] if c["name"] == named)
    assert check["detail"] != "ok" and check["ms"] >= 0


def test_readyz_tells_no_personal_data(ready: tuple[Settings, Pbx]) -> None:
    """A dead letter holds a caller's number: the check counts it, and says nothing of it."""
    settings, _pbx = ready
    client = bus.connect(settings.redis_connection_url)
    bus.dead_letter(client, "1-0", {"type": "x", "uniqueid": "1", "caller": "+905321234567"}, "ValueError()")
    code, body = _readyz(settings.replace(ready_dead_letters_max=0))
    assert code == 503 and "905321234567" not in json.dumps(body)


# --- metrics ---------------------------------------------------------------------------------


def _metrics_app(settings: Settings) -> Flask:
    """The instance with what the metrics should show: two tickets, one SMS failed, the live queues,
    counters, today's service level, a voicemail job waiting and a dead letter."""
    app = create_app(settings)
    with app.extensions["alo185.sessions"].begin() as s:
        for phone in ("+905321234567", "+905331234567"):
            create_ticket(s, phone=phone, category_code="yol-cukur", description="Çukur var", channel="phone")
        first = s.scalars(select(SmsMessage.id).order_by(SmsMessage.id)).first()
        s.execute(update(SmsMessage).where(SmsMessage.id == first).values(status="failed"))
        s.add(
            QueueInterval(
                queue="genel",
                interval_start=start_of_today(),
                offered=10,
                answered=8,
                answered_within_target=6,
                short_abandoned=2,
                target_s=20,
                short_abandon_s=5,
            )
        )
    client = bus.connect(settings.redis_connection_url)
    op = {"name": "A", "in_state_s": 1.0, "reason": "", "call": "", "caller": ""}
    live = {
        "genel": {
            "waiting": 3,
            "longest_wait_s": 42.5,
            "operators": {"PJSIP/1001": {**op, "state": "available"}, "PJSIP/1002": {**op, "state": "paused"}},
        },
        "cenaze": {"waiting": 0, "longest_wait_s": 0.0, "operators": {"PJSIP/1001": {**op, "state": "available"}}},
    }
    client.set(bus.LIVE_QUEUES, json.dumps(live))
    client.incrby(bus.AGI_SESSIONS, 7)
    client.incr(bus.AGI_FAILURES)
    client.incrby(bus.AMI_RECONNECTS, 2)
    bus.ensure_group(client, spool.GROUP, spool.JOBS)
    client.xadd(spool.JOBS, {"uniqueid": "1700000000.9"})
    bus.dead_letter(client, "1-0", {"type": "x", "uniqueid": "1"}, "ValueError()")
    return app


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_refused_without_the_token_or_a_supervisors_login(ready: tuple[Settings, Pbx]) -> None:
    settings, _pbx = ready
    app = create_app(settings)
    assert app.test_client().get("/metrics").status_code == 401
    wrong = app.test_client().get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and b"alo185_" not in wrong.data
    assert staff_client(app, Role.OPERATOR).get("/metrics").status_code == 403
    assert (
        create_app(settings.replace(metrics_token=""))
        .test_client()
        .get("/metrics", headers={"Authorization": "Bearer "})
        .status_code
        == 401
    )  # no token configured: none matches
    assert staff_client(app, Role.SUPERVISOR).get("/metrics").status_code == 200


def test_metrics_show_what_the_instance_holds(ready: tuple[Settings, Pbx]) -> None:
    settings, _pbx = ready
    app = _metrics_app(settings)
    with app.extensions["alo185.sessions"]() as s:
        pending = len(s.scalars(select(SmsMessage.id).where(SmsMessage.status == "pending")).all())
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.mimetype == "text/plain"
    got = _samples(response.get_data(as_text=True))
    expected = {
        ("alo185_tickets", (("status", "routed"),)): 2,
        ("alo185_queue_waiting", (("queue", "genel"),)): 3,
        ("alo185_queue_waiting", (("queue", "cenaze"),)): 0,
        ("alo185_queue_longest_wait_seconds", (("queue", "genel"),)): 42.5,
        ("alo185_operators", (("state", "available"),)): 1,  # 1001 is in two queues: one operator
        ("alo185_operators", (("state", "paused"),)): 1,
        ("alo185_queue_service_level_today", (("queue", "genel"),)): 6 / 8,
        ("alo185_agi_sessions_total", ()): 7,
        ("alo185_agi_failures_total", ()): 1,
        ("alo185_ami_reconnects_total", ()): 2,
        ("alo185_stream_lag", (("group", "transcribers"), ("stream", spool.JOBS))): 1,
        ("alo185_stream_lag", (("group", "recorder"), ("stream", bus.CALL_EVENTS))): 0,
        ("alo185_voicemail_backlog", ()): 1,
        ("alo185_dead_letters", ()): 1,
        ("alo185_sms_failed", ()): 1,
        ("alo185_sms_outbox_pending", ()): pending,
    }
    assert {key: got.get(key) for key in expected} == expected
    assert {dict(k[1])["check"]: v for k, v in got.items() if k[0] == "alo185_ready"} == dict.fromkeys(CHECKS, 1)


def test_metrics_go_on_without_redis(ready: tuple[Settings, Pbx]) -> None:
    """A scrape still answers with what the database holds, and says Redis is away."""
    settings, _pbx = ready
    app = _metrics_app(settings)
    redis_server.stop(settings)
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    got = _samples(response.get_data(as_text=True))
    assert response.status_code == 200 and got[("alo185_tickets", (("status", "routed"),))] == 2
    assert got[("alo185_ready", (("check", "redis"),))] == 0


# --- alo185 status ---------------------------------------------------------------------------


def _status(settings: Settings) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "alo185", "status"]
    return subprocess.run(argv, env=services.settings_env(settings), capture_output=True, text=True, timeout=60)


def test_status_fails_when_a_process_is_down_and_shows_readiness(ready: tuple[Settings, Pbx], tmp_path: Path) -> None:
    settings, _pbx = ready
    # Every process "running" (a pid file of a live process of ours), so only the one taken away counts.
    sleepers = {s.name: procs.spawn(settings, s.name, ["sleep", "60"]) for s in services.PROCESSES}
    try:
        shown = _status(settings)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        ready_lines = [line.split()[1:3] for line in shown.stdout.splitlines() if line.startswith("ready")]
        assert ready_lines == [[name, "ok"] for name in CHECKS], shown.stdout

        sleepers["recorder"].terminate()
        sleepers["recorder"].wait(10)
        shown = _status(settings)
        assert shown.returncode == 1, shown.stdout + shown.stderr
        assert "recorder  stopped" in shown.stdout.splitlines(), shown.stdout
    finally:
        for proc in sleepers.values():
            proc.terminate()
            proc.wait(10)


def test_status_fails_when_not_ready(ready: tuple[Settings, Pbx]) -> None:
    settings, _pbx = ready
    bus.connect(settings.redis_connection_url).delete(bus.QUEUE_MANAGER_ALIVE)
    shown = _status(settings)
    assert shown.returncode == 1
    [line] = [line for line in shown.stdout.splitlines() if line.split()[:2] == ["ready", "queue_manager"]]
    assert "no heartbeat" in line, shown.stdout


# --- the counters the processes keep ---------------------------------------------------------


def test_the_fastagi_server_counts_sessions_and_failures(redis_settings: Settings) -> None:
    """One INCR per session ended, one more per failure, as ``alo185 agi`` wires the server."""

    async def fine(agi: AsyncAGI, deps: object) -> None:
        await agi.set_variable("A", "1")

    async def broken(agi: AsyncAGI, deps: object) -> None:
        raise RuntimeError("a bug in a script")

    counters = bus.Counters(redis_settings.redis_connection_url)
    scripts: dict[str, Script] = {
        "ivr": functools.partial(fine, deps=None),
        "survey": functools.partial(broken, deps=None),
    }
    server = FastAGIServer(("127.0.0.1", 0), scripts, count=counters.incr)
    loop = Loop()
    try:
        loop.run(server.start())
        peer = Peer(server.port)
        assert peer.command().startswith("SET VARIABLE")
        peer.reply("200 result=1")
        assert peer.closed()
        env = [line.replace("/ivr", "/survey").replace(": ivr", ": survey") for line in ENV]
        assert Peer(server.port, env).closed()
        client = bus.connect(redis_settings.redis_connection_url)
        assert procs.wait_until(lambda: client.mget(bus.AGI_SESSIONS, bus.AGI_FAILURES) == ["2", "1"], 5)
    finally:
        loop.call(server.stop_accepting)
        loop.close()


def test_the_queue_manager_beats_with_its_time_and_counts_ami_reconnects(ready: tuple[Settings, Pbx]) -> None:
    """Its heartbeat makes the check pass; Asterisk restarted, its login again is a reconnect counted."""
    settings, pbx = ready
    client = bus.connect(settings.redis_connection_url)
    client.delete(bus.QUEUE_MANAGER_ALIVE)

    async def run() -> None:
        qm = QueueManager(settings)
        await qm.start()
        try:
            assert await asyncio.to_thread(procs.wait_until, lambda: bool(client.exists(bus.QUEUE_MANAGER_ALIVE)), 10)
            assert abs(float(client.get(bus.QUEUE_MANAGER_ALIVE) or 0) - time.time()) < 15
            assert readiness.run_check("qm", readiness.queue_manager, settings, client).ok
            assert client.get(bus.AMI_RECONNECTS) is None  # the first login is no reconnect
            await asyncio.to_thread(pbx.stop, 0)
            await asyncio.to_thread(pbx.start)
            assert await asyncio.to_thread(procs.wait_until, lambda: client.get(bus.AMI_RECONNECTS) == "1", 15)
        finally:
            await qm.stop()

    asyncio.run(run())
