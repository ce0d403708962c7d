"""The IVR under load.

(a) Real calls through Asterisk: N simulated callers (Local channels keying DTMF) at the same
    time walk notice -> language -> main menu -> water submenu -> water-fault queue. Failed call: no IVR outcome for
    it. AGI connect time: from the dialplan's AGI() to the server having read the session;
    per-command latency: round trips of the IVR's non-media AGI commands (both from the events
    the IVR publishes).
(b) The FastAGI server alone under a protocol-level load client (bench/agi_load.py), side by
    side with panoramisk's bare FastAGI replaying the same command sequence with no work, and
    with the classic process-per-call AGI script: sessions per second and p99. The load client
    answers each command with one write, as Asterisk does from C: a client costlier than the
    servers it drives would cap them both at its own speed and hide their difference. Rounds alternate
    between the two servers and the median round counts; a session whose IVR event never
    reached the stream counts as failed. The load client, both servers and Redis share the
    machine's cores, so each server's own CPU time per session is given too (``/proc``).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alo185 import services
from alo185.core import bus, procs, redis_server
from bench import agi_load
from bench.common import percentile, summary_ms
from harness import ports
from harness.instance import Stack, isolated_settings, running_stack

REPO = Path(__file__).resolve().parents[1]


def _ivr_events(stack_or_settings: Any, ids: set[str] | None = None) -> dict[str, dict]:
    settings = getattr(stack_or_settings, "settings", stack_or_settings)
    client = bus.connect(settings.redis_connection_url)
    return {
        e["uniqueid"]: e
        for e in bus.all_events(client)
        if e.get("type") == "ivr" and (ids is None or e["uniqueid"] in ids)
    }


def through_asterisk(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp, running_stack(isolated_settings(Path(tmp))) as st:
        st.add_sim_operators(talk_s=1, count=2)
        # A caller who keys 1 every second or so: ignored during the notice, then Türkçe, water,
        # water fault. The path holds however late a loaded PBX plays each prompt.
        keys = "1W" * 38
        ids = _originate(st, calls, keys)
        peak = _wait_and_sample(st, ids, timeout=60 + calls * 0.2)
        events = _ivr_events(st, set(ids))
    ok = [e for e in events.values() if e.get("action") == "queue" and e.get("category") == "su-arizasi"]
    failed_paths = Counter(">".join(e.get("path", [])) or "hangup" for e in events.values() if e not in ok)
    connect = [e["agi_connect_ms"] for e in ok if e.get("agi_connect_ms") is not None]
    cmd = [ms for e in ok for ms in e.get("agi_cmd_ms", [])]
    return {
        "concurrent_calls": calls,
        "peak_active_calls": peak,
        "failed_calls": calls - len(ok),
        "agi_connect_p50_ms": _r(percentile(connect, 50)),
        "agi_connect_p99_ms": _r(percentile(connect, 99)),
        "agi_cmd_p50_ms": _r(percentile(cmd, 50)),
        "agi_cmd_p99_ms": _r(percentile(cmd, 99)),
        "agi_cmds_measured": len(cmd),
        "failed_without_ivr_outcome": calls - len(events),
        "failed_paths": dict(failed_paths.most_common(5)),
    }


def _originate(st: Stack, calls: int, keys: str) -> list[str]:
    import asyncio

    from alo185.core import ami
    from harness import simulate

    async def go() -> list[str]:
        ids = []
        async with ami.session(st.settings) as manager:
            for i in range(calls):
                ids.append(f"bench-{time.time_ns()}-{i}")
                await simulate.call_185(manager, ids[-1], f"+90533{3000000 + i}", keys, hang_up=True)
                if i % 50 == 49:
                    await asyncio.sleep(0.2)
        return ids

    return asyncio.run(go())


def _wait_and_sample(st: Stack, ids: list[str], timeout: float) -> int:
    """Peak of Asterisk's active calls while waiting for every call's IVR outcome."""
    peak = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = st.pbx.cli("core show channels count")
        for line in out.splitlines():
            if line.endswith("active calls"):
                peak = max(peak, int(line.split()[0]))
        if len(_ivr_events(st, set(ids))) >= len(ids):
            break
        time.sleep(1)
    return peak


def protocol_level(sessions: int, concurrency: int, process_sessions: int, rounds: int = 7) -> dict[str, Any]:
    """Rounds alternate between our server and panoramisk's (which goes first alternates too), so a noisy
    neighbour hits both alike; each pair of rounds also gives a ratio of its own, taken under the same load."""
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp:
        settings = isolated_settings(Path(tmp))
        redis_server.start(settings)
        try:
            services.prepare_database(settings)
            services.start_process(settings, services.process("agi"))
            commands = agi_load.load_tcp(settings.agi_port, 1, 1, min_commands=8).commands
            ours, bare = [], []
            cpu: dict[str, list[float]] = {"ours": [], "bare": []}  # server CPU time per session, per round
            our_pid = int(procs.pid_path(settings, "agi").read_text())
            with _panoramisk(commands) as (bare_port, bare_pid):
                for i in range(rounds):
                    for side in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
                        pid = our_pid if side == "ours" else bare_pid
                        before = _cpu_s(pid)
                        if side == "ours":
                            ours.append(agi_load.load_tcp(settings.agi_port, sessions, concurrency, min_commands=8))
                        else:
                            bare.append(agi_load.load_tcp(bare_port, sessions, concurrency, min_commands=len(commands)))
                        done = (ours if side == "ours" else bare)[-1]
                        cpu[side].append((_cpu_s(pid) - before) / max(1, done.sessions - done.failed) * 1e6)
            expected = 1 + rounds * sessions
            procs.wait_until(lambda: len(_ivr_events(settings)) >= expected, 10)  # the publisher catches up
            events = _ivr_events(settings)
            wrong = sum(1 for e in events.values() if e.get("queue") != "temizlik")
            unpublished = expected - len(events)
            procs.stop(settings, "agi")
            env = services.settings_env(settings)
            classic = agi_load.load_processes(
                [sys.executable, "-m", "agi_scripts.classic"], env, process_sessions, 2, min_commands=8
            )
        finally:
            services.down(settings, log=lambda _m: None, deadline_s=0)
            _remove_instance(settings)
    our = _median_round(ours)
    theirs = _median_round(bare)
    return {
        "fastagi_sessions_per_s": round(our.per_s, 1),
        "fastagi_session_p99_ms": summary_ms(our.session_s)["p99"],
        "fastagi_failed": sum(r.failed for r in ours) + wrong + unpublished,
        "fastagi_rounds_per_s": [round(r.per_s, 1) for r in ours],
        "panoramisk_bare_sessions_per_s": round(theirs.per_s, 1),
        "panoramisk_bare_session_p99_ms": summary_ms(theirs.session_s)["p99"],
        "panoramisk_bare_rounds_per_s": [round(r.per_s, 1) for r in bare],
        "process_per_call_sessions_per_s": round(classic.per_s, 2),
        "process_per_call_session_p99_ms": summary_ms(classic.session_s)["p99"],
        "process_per_call_failed": classic.failed,
        "agi_commands_per_session": len(commands),
        "ratio_vs_panoramisk_bare": round(our.per_s / theirs.per_s, 2) if theirs.per_s else None,
        "ratio_vs_panoramisk_bare_paired_median": _r(
            statistics.median(o.per_s / b.per_s for o, b in zip(ours, bare, strict=True) if b.per_s)
        ),
        "ratio_vs_process_per_call": round(our.per_s / classic.per_s, 1) if classic.per_s else None,
        "fastagi_server_cpu_us_per_session": round(statistics.median(cpu["ours"])),
        "panoramisk_bare_server_cpu_us_per_session": round(statistics.median(cpu["bare"])),
        "load_sessions": sessions,
        "load_concurrency": concurrency,
        "load_rounds": rounds,
    }


def _median_round(results: list[agi_load.LoadResult]) -> agi_load.LoadResult:
    return sorted(results, key=lambda r: r.per_s)[len(results) // 2]


@contextlib.contextmanager
def _panoramisk(commands: list[str]) -> Iterator[tuple[int, int]]:
    """panoramisk's bare server in a process of its own: its port and pid."""
    port = ports.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.agi_servers", str(port), json.dumps(commands)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def _cpu_s(pid: int) -> float:
    """A process's CPU time so far (user and system), from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _remove_instance(settings: Any) -> None:
    from alo185.pbx.control import Pbx

    Pbx.locate(settings).remove_instance()


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run(quick: bool = False) -> dict[str, Any]:
    if quick:
        b = protocol_level(sessions=60, concurrency=10, process_sessions=4, rounds=1)
        a = through_asterisk(calls=5)
    else:
        b = protocol_level(sessions=3000, concurrency=100, process_sessions=40)
        a = through_asterisk(calls=500)
    return {**a, **b}
