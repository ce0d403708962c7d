"""The admin under gunicorn (``alo185 up``'s admin): pages answer beside open event streams, the proxy's
headers are believed from the proxy only, and the access log keeps no link token."""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Iterator

import pytest
from redis import Redis

from alo185 import services
from alo185.core import bus, db, procs
from alo185.core.settings import Settings
from alo185.org import accounts
from alo185.org.models import Role
from harness.web import Browser, open_stream

STREAMS = 120  # more than redis-py's default pool of 100 connections
PASSWORD = "parola-1234567"


@pytest.fixture
def admin(redis_settings: Settings) -> Iterator[Settings]:
    """``alo185 admin`` as the process table starts it: one gunicorn worker, behind a proxy at 127.0.0.1."""
    settings = redis_settings.replace(admin_workers=1, admin_threads=160, proxy_hops=1, proxy_addresses=("127.0.0.1",))
    with db.session_factory(settings.database_url).begin() as session:
        accounts.create_user(session, "yonetici", role=Role.ADMIN, password=PASSWORD)
    services.start_process(settings, services.process("admin"))
    try:
        yield settings
    finally:
        procs.stop(settings, "admin")


def test_pages_answer_beside_open_event_streams(admin: Settings) -> None:
    browser = Browser(admin.admin_url).log_in("yonetici", PASSWORD)
    # A snapshot to open each stream with: its response starts at once, not at the first keep-alive.
    bus.connect(admin.redis_connection_url).set(bus.LIVE_QUEUES, '{"genel": {}}')
    streams = []
    try:
        for _ in range(STREAMS):
            streams.append(open_stream(admin.admin_host, admin.admin_port, "/api/queues/stream", browser.cookie()))
        for path in ("/healthz", "/login", "/api/queues/live", "/console", "/healthz"):
            status, _body, seconds = browser.get(path)
            assert status in (200, 403) and seconds < 1.0, (path, status, seconds)
        # Still streaming: a published snapshot reaches an open stream.
        bus.connect(admin.redis_connection_url).publish(bus.LIVE_QUEUES, '{"genel": {"waiting": 7}}')
        streams[-1].settimeout(10)
        received = b""
        while b'"waiting": 7' not in received:
            received += streams[-1].recv(4096)
    finally:
        for sock in streams:
            sock.close()


def test_a_gunicorn_server_with_the_proxy_believed_from_its_address(admin: Settings) -> None:
    browser = Browser(admin.admin_url)
    with contextlib.closing(Redis.from_url(admin.redis_connection_url)) as client:
        status, _body, _s = browser.get("/basvuru", {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        assert status == 200
        assert client.keys("alo185:ratelimit:public:203.0.113.7:*"), client.keys("alo185:ratelimit:*")
    with urllib.request.urlopen(admin.admin_url + "/healthz", timeout=10) as response:
        assert response.headers["Server"].startswith("gunicorn")


def test_the_access_log_keeps_no_link_token(admin: Settings) -> None:
    browser = Browser(admin.admin_url)
    browser.get("/takip/GIZLI-BAGLANTI-ANAHTARI?ref=GIZLI-SORGU")
    log = procs.log_path(admin, "admin")
    deadline = time.monotonic() + 10
    while "/takip/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert "/takip/" in text and "GIZLI" not in text, text[-2000:]
