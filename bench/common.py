"""What every benchmark shares: percentiles, machine facts, the results file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float | None]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50": _r(percentile(ms, 50)),
        "p95": _r(percentile(ms, 95)),
        "p99": _r(percentile(ms, 99)),
        "mean": _r(statistics.fmean(ms)) if ms else None,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    with contextlib.suppress(OSError):
        cpu = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")]
        info["cpu_model"] = cpu[0].split(":", 1)[1].strip() if cpu else ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        info["memory_gib"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    return info


def write_results(name: str, figures: dict[str, Any], quick: bool, out_dir: Path | None = None) -> Path:
    out_dir = out_dir or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        **figures,
        "quick": quick,
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path
