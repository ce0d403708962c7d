"""The walking skeleton under load: calls through the real Asterisk, IVR, queue and recorder.

Measures how long a warm instance takes to come up (PBX root already provisioned), how many
calls fail to produce a complete record, and the lag from the call's hang-up (Asterisk's
timestamp) to its finished record being readable in the database.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import summary_ms
from harness import simulate
from harness.instance import Stack, isolated_settings, running_stack

PATHS = ("1w1w1", "1w3", "2w4")  # water fault; cleaning; English, roads (queues open around the clock)


def _one_call(stack: Stack, i: int) -> tuple[bool, float | None]:
    keys = simulate.then_survey(stack.after_notice(PATHS[i % len(PATHS)]))  # and answer the survey
    uniqueid = stack.call(keys=keys, caller=f"+90532{1000000 + i}")
    try:
        record = stack.wait_record(uniqueid, timeout=90)
    except AssertionError:
        return False, None
    seen = time.time()
    assert record.ended_at is not None  # ``wait_record`` waits for the end
    ended = record.ended_at.timestamp()
    ok = record.answered and record.duration_s is not None and record.queue is not None
    return ok, seen - ended


def run(quick: bool = False) -> dict[str, Any]:
    calls, concurrency = (3, 3) if quick else (60, 12)
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp:
        started = time.monotonic()
        with running_stack(isolated_settings(Path(tmp))) as stack:
            stack_up_s = time.monotonic() - started
            stack.add_sim_operators(talk_s=1, count=concurrency)
            t0 = time.monotonic()
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(lambda i: _one_call(stack, i), range(calls)))
            wall = time.monotonic() - t0
    lags = [lag for ok, lag in results if ok and lag is not None]
    lag = summary_ms(lags)
    figures = {
        "calls": calls,
        "concurrency": concurrency,
        "failed_calls": sum(1 for ok, _ in results if not ok),
        "stack_up_s": round(stack_up_s, 2),
        "record_lag_p50_ms": lag["p50"],
        "record_lag_p95_ms": lag["p95"],
        "calls_per_min": round(calls / wall * 60, 1),
    }
    return figures
