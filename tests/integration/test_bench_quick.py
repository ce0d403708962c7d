"""Every benchmark runs in quick mode (a smoke run of the same code path) and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_quick_run(name: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert data["quick"] is True and data["machine"]["cpus"] and data["date"]
    if name == "calls":
        assert data["failed_calls"] == 0 and data["calls"] == 3
    if name == "busy_hour":
        keys = ("sl_measured", "sl_erlang", "asa_measured_s", "asa_erlang_s", "abandon_plain", "abandon_callback")
        assert all(data[k] is not None for k in keys), {k: data[k] for k in keys}
        assert data["state_ok"] is True and data["plain"]["queued"] == data["parameters"]["measured_per_run"] > 0
    if name == "screenpop":
        assert data["calls"] == 5 and data["missed"] == 0 and not data["call_failures"], data
        assert 0 < data["screenpop_p50_ms"] <= data["screenpop_p95_ms"], data
    if name == "sse":
        assert data["clients_held"] == 20 and all(step["held"] for step in data["steps"]), data
    if name == "ami":
        assert data["ingest_events_per_s"] > 0 and data["panoramisk_parse_events_per_s"] > 0 and data["ratio"] > 0
        state = data["state"]
        assert data["state_ok"] is True and state["callers_waiting"] == 0 and not state["busy_operators"]
        assert state["call_events_in_redis"] == state["call_events_expected"] > 0 and state["open_queue_joins"] == 0
    if name == "writes":
        for kind in ("sqlite", "postgresql"):
            figures = data[kind]
            assert figures["errors"] == 0, figures
            assert all(k["successes"] > 0 for k in figures["kinds"].values()), figures["kinds"]
            assert figures["burst_web"]["successes"] == figures["burst_web"]["writers"] > 0, figures["burst_web"]
