"""Concurrent writers on one database, SQLite and PostgreSQL: do citizens get error pages?

Against each database, for ``DURATION_S``, all at once:

- ``web``: citizens posting the public web form (``/basvuru``) to the admin (``alo185 admin``, its
  threaded server, over HTTP), each from an address of its own (behind one proxy hop), each a new
  submission after a random pause (mean ``THINK_S``; the full run's 50 submit about 20 a second);
- ``api``: clients creating tickets through ``/api/v1/tickets``, a few callers' numbers shared, so
  new citizens are created by several requests at once;
- ``whatsapp``: first messages of new senders through the signed webhook, several at once per sender;
- ``recorder``: the calls running: simulated calls' events (``CALLS_PER_S`` calls, seven events each)
  on the Redis stream, folded by recorder consumers (a sample: one batch read, folded, committed);
- ``sms``: senders sending what the tickets queued (the log gateway; a sample: one message's transaction);
- ``voicemail``: voicemail workers making tickets of recorded messages (no speech model here: each
  becomes an untranscribed ticket, the same transaction as a transcribed one).

Then a burst: ``burst_web`` citizens submit the web form at the same instant, while the calls run.
Each kind reports its successes, errors (HTTP status other than success, or an exception; a few
samples) and latency. The goal: no errors; web submissions' p95 under 200 ms (``goal``).
"""

from __future__ import annotations

import functools
import json
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alo185 import services
from alo185.channels import api_keys, whatsapp
from alo185.core import bus, db, procs, redis_server
from alo185.core.settings import Settings
from alo185.sms.sender import Sender
from alo185.tickets.models import Citizen, Ticket
from alo185.voicemail import spool
from alo185.voicemail.intake import Intake
from bench.common import summary_ms
from harness import pg_cluster
from harness.instance import isolated_settings
from workers.recorder import Recorder

SECRET = "bench-whatsapp-secret"
GOAL_P95_MS = 200.0
T0 = 1_795_256_920.0
WARM_UP = 5


@dataclass
class Load:
    duration_s: float
    writers: dict[str, int]  # per kind
    think_s: dict[str, float]  # mean pause between a writer's requests
    calls_per_s: float
    burst_web: int


FULL = Load(
    duration_s=60,
    writers={"web": 50, "api": 10, "whatsapp": 10, "recorder": 2, "sms": 2, "voicemail": 2},
    think_s={"web": 2.5, "api": 1.0, "whatsapp": 1.0, "voicemail": 2.0},
    calls_per_s=4,
    burst_web=50,
)
QUICK = Load(
    duration_s=6,
    writers={"web": 10, "api": 3, "whatsapp": 3, "recorder": 1, "sms": 1, "voicemail": 1},
    think_s={"web": 1.0, "api": 1.0, "whatsapp": 1.0, "voicemail": 1.0},
    calls_per_s=2,
    burst_web=10,
)


@dataclass
class Tally:
    """One kind's outcomes, added to from many threads."""

    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, attempt: Callable[[], bool | str]) -> bool:
        """Run one request; ``attempt`` returns True for success, False for nothing to do, or an error."""
        t0 = time.perf_counter()
        try:
            outcome: bool | str = attempt()
        except Exception as exc:  # the benchmark counts every failure, whatever it is
            outcome = f"{type(exc).__name__}: {exc}"[:300]
        elapsed = time.perf_counter() - t0
        with self.lock:
            if isinstance(outcome, str):
                self.errors.append(outcome)
            elif outcome:
                self.seconds.append(elapsed)
        return outcome is True

    def figures(self) -> dict[str, Any]:
        return {
            "successes": len(self.seconds),
            "errors": len(self.errors),
            "error_samples": sorted(set(self.errors))[:5],
            "latency_ms": summary_ms(self.seconds),
        }


class Http:
    """Requests to the admin over HTTP: a status, or the reason there was none."""

    def __init__(self, base: str) -> None:
        self.base = base

    def post(self, path: str, body: bytes, headers: dict[str, str], ok: int) -> bool | str:
        req = urllib.request.Request(self.base + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as reply:
                status = reply.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        return True if status == ok else f"HTTP {status}"


def _web(http: Http) -> bool | str:
    n = random.randrange(10**7)
    form = {
        "name": f"Vatandaş {n}",
        "phone": f"0533{n:07d}",
        "category": "cop-toplama",
        "description": "Çöp konteyneri taştı, koku var.",
        "consent": "on",
    }
    # Each submission from an address of its own: many citizens, not one tried against the per-address limit.
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
    }
    return http.post("/basvuru", urllib.parse.urlencode(form).encode(), headers, 200)


def _api(http: Http, key: str) -> bool | str:
    body = {
        "category": "yol-cukur",
        "description": "Okul önünde çukur",
        "phone": f"0534{random.randrange(20):07d}",  # a few callers: new citizens made by several requests at once
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    return http.post("/api/v1/tickets", json.dumps(body).encode(), headers, 201)


def _whatsapp(http: Http, sender: str) -> bool | str:
    message: dict[str, Any] = {"from": sender, "id": f"wamid.{uuid.uuid4().hex}", "type": "text"}
    message |= {"timestamp": str(int(time.time())), "text": {"body": "Sokakta su borusu patladı"}}
    value = {"contacts": [{"profile": {"name": "Zeynep"}, "wa_id": sender}], "messages": [message]}
    change = {"field": "messages", "value": value}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [change]}]}
    body = json.dumps(payload).encode()
    return http.post(
        "/webhooks/whatsapp",
        body,
        {"Content-Type": "application/json", "X-Hub-Signature-256": whatsapp.signature(SECRET, body)},
        200,
    )


def _call_events(uniqueid: str, caller: str) -> list[dict[str, Any]]:
    """A simulated call, menu to hang-up, as the queue manager and the IVR publish it."""
    t = T0 + random.randrange(86400 * 30)
    return [
        {"type": "call.start", "uniqueid": uniqueid, "ts": t, "linkedid": uniqueid, "caller": caller},
        {"type": "ivr", "uniqueid": uniqueid, "ts": t + 1, "caller": caller, "digit": "1", "queue": "su"},
        {"type": "ivr.done", "uniqueid": uniqueid, "ts": t + 4, "agi_status": "SUCCESS"},
        {"type": "queue.join", "uniqueid": uniqueid, "ts": t + 4, "queue": "su", "position": 1},
        {"type": "queue.connect", "uniqueid": uniqueid, "ts": t + 7, "queue": "su", "member": "Ayşe", "wait_s": 3.0},
        {"type": "queue.complete", "uniqueid": uniqueid, "ts": t + 67, "queue": "su", "talk_s": 60.0},
        {"type": "call.end", "uniqueid": uniqueid, "ts": t + 68.5, "cause": "16"},
    ]


def _recorded(recorder: Recorder) -> bool:
    """A batch of call events folded (False: none arrived within 50 ms)."""
    return recorder.run_once(block_ms=50) > 0


def _sent(sender: Sender) -> bool:
    """One due message sent (False: none is due)."""
    return sender.run_once(limit=1) > 0


def _silence(path: Path, seconds: float = 1.0) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))


class Run:
    """The writers of one database, started together and stopped together."""

    def __init__(self, settings: Settings, load: Load) -> None:
        self.settings, self.load = settings, load
        self.http = Http(settings.admin_url)
        self.stop = threading.Event()
        self.tallies = {kind: Tally() for kind in load.writers}
        self.threads: list[threading.Thread] = []
        with db.session_factory(settings.database_url).begin() as s:
            self.api_key = api_keys.create(s, "bench")

    def _loop(self, kind: str, one: Callable[[], bool | str]) -> None:
        tally, think = self.tallies[kind], self.load.think_s.get(kind, 0.2)
        while not self.stop.is_set():
            if not tally.timed(one):
                self.stop.wait(0.05)  # nothing to do (or a failure): look again shortly
            self.stop.wait(random.expovariate(1 / think) if kind in self.load.think_s else 0)

    def _start(self, kind: str, one: Callable[[], bool | str]) -> None:
        thread = threading.Thread(target=self._loop, args=(kind, one), name=f"bench-{kind}", daemon=True)
        thread.start()
        self.threads.append(thread)

    def warm_up(self) -> None:
        """A few requests first, not counted: the server's first ones load templates and open connections."""
        for _ in range(WARM_UP):
            for outcome in (_web(self.http), _api(self.http, self.api_key), _whatsapp(self.http, "905350000000")):
                if outcome is not True:
                    raise RuntimeError(f"the admin does not work before the load: {outcome}")

    def start(self) -> None:
        w = self.load.writers
        for _ in range(w["web"]):
            self._start("web", lambda: _web(self.http))
        for _ in range(w["api"]):
            self._start("api", lambda: _api(self.http, self.api_key))
        senders = [f"90535{random.randrange(10**7):07d}" for _ in range(max(1, w["whatsapp"] // 2))]
        for i in range(w["whatsapp"]):
            self._start("whatsapp", functools.partial(_whatsapp, self.http, senders[i % len(senders)]))
        for i in range(w["recorder"]):
            recorder = Recorder(self.settings, consumer=f"bench-recorder-{i}")
            self._start("recorder", functools.partial(_recorded, recorder))
        for _ in range(w["sms"]):
            sender = Sender(self.settings)
            self._start("sms", functools.partial(_sent, sender))
        intake = Intake(self.settings, db.session_factory(self.settings.database_url))
        intake.dirs.ensure()
        for _ in range(w["voicemail"]):
            self._start("voicemail", lambda: self._voicemail(intake))
        calls = threading.Thread(target=self._calls, name="bench-calls", daemon=True)
        calls.start()
        self.threads.append(calls)

    def _calls(self) -> None:
        client = bus.connect(self.settings.redis_connection_url)
        while not self.stop.wait(1 / self.load.calls_per_s):
            uniqueid = f"{time.time():.6f}"
            bus.append_many(client, _call_events(uniqueid, f"+90536{random.randrange(10**7):07d}"))

    def _voicemail(self, intake: Intake) -> bool | str:
        job = spool.Job(f"{time.time():.6f}{random.randrange(1000)}", caller=f"+90537{random.randrange(10**7):07d}")
        _silence(intake.dirs.inbox / f"{spool.file_stem(job.uniqueid)}.wav")
        intake.process(job)
        return True

    def burst(self, count: int) -> dict[str, Any]:
        tally, start = Tally(), threading.Barrier(count)

        def submit() -> None:
            start.wait()
            tally.timed(lambda: _web(self.http))

        threads = [threading.Thread(target=submit) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return tally.figures()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def measure(settings: Settings, load: Load) -> dict[str, Any]:
    services.prepare_database(settings)
    load_before = os.getloadavg()[0]
    redis_server.start(settings)
    try:
        services.start_process(settings, services.process("admin"))
        try:
            run = Run(settings, load)
            run.warm_up()
            run.start()
            time.sleep(load.duration_s)
            burst = run.burst(load.burst_web)
            time.sleep(1)
            run.finish()
        finally:
            procs.stop(settings, "admin")
        locked = procs.log_path(settings, "admin").read_text(errors="replace").count("database is locked")
    finally:
        redis_server.stop(settings)
    kinds = {kind: tally.figures() for kind, tally in run.tallies.items()}
    with db.session_factory(settings.database_url)() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket))
        citizens = s.scalar(select(func.count()).select_from(Citizen))
    db.engine_for(settings.database_url).dispose()
    errors = sum(k["errors"] for k in kinds.values()) + burst["errors"]
    web_p95 = kinds["web"]["latency_ms"]["p95"]
    return {
        "kinds": kinds,
        "burst_web": {"writers": load.burst_web, **burst},
        "errors": errors,
        "database_is_locked_in_admin_log": locked,
        "tickets": tickets,
        "citizens": citizens,
        # Other work on the machine: its load average (1 min) before and after the run.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "goal_met": errors == 0 and web_p95 is not None and web_p95 < GOAL_P95_MS,
    }


def run(quick: bool = False) -> dict[str, Any]:
    load = QUICK if quick else FULL
    results: dict[str, Any] = {
        "duration_s": load.duration_s,
        "writers": load.writers,
        "think_s": load.think_s,
        "calls_per_s": load.calls_per_s,
        "goal_p95_ms": GOAL_P95_MS,
    }
    with tempfile.TemporaryDirectory(prefix="alo185-bench-writes-") as tmp:
        base = dict(proxy_hops=1, whatsapp_verify_token="bench", whatsapp_app_secret=SECRET)
        results["sqlite"] = measure(isolated_settings(Path(tmp) / "sqlite", **base), load)
        with pg_cluster.private_cluster() as server:
            url = pg_cluster.create_database(server, f"b_{uuid.uuid4().hex[:8]}")
            results["postgresql"] = measure(isolated_settings(Path(tmp) / "pg", db_url=url, **base), load)
    return results
