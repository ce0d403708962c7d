"""The API against its own OpenAPI document: schemathesis, every check, on a running admin.

The admin serves HTTP for real (werkzeug on a free loopback port, a migrated SQLite database, an API
key); schemathesis loads ``/api/v1/openapi.json`` and sends what the document allows and what it
forbids, then checks every answer (``--checks all``: no 500, only documented statuses and bodies, valid
data taken, invalid data refused, 405 with ``Allow``, auth not ignored, a created ticket found again).
Bounded: a fixed seed and a few examples per operation, so it runs in well under a minute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from admin.app import create_app
from alo185 import services
from alo185.channels import api_keys
from alo185.core import db
from alo185.core.settings import Settings
from harness import ports

MAX_EXAMPLES = 30  # per operation and phase: ~400 requests, ~20 s here
SEED = 185
RUN_TIMEOUT_S = 240  # far above the run's time: a hang fails instead of holding the suite


@dataclass(frozen=True)
class Served:
    base_url: str
    key: str


@pytest.fixture
def served(sqlite_template: Path, tmp_path: Path) -> Iterator[Served]:
    """The admin on a free port, with the seeded categories and districts and one API key."""
    path = tmp_path / "alo185.db"
    shutil.copyfile(sqlite_template, path)
    port = ports.free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(var_dir=tmp_path, db_url=f"sqlite:///{path}", public_url=base_url)
    services.prepare_database(settings)
    with db.session_factory(settings.database_url).begin() as s:
        key = api_keys.create(s, "schemathesis")
    server = make_server("127.0.0.1", port, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-http", daemon=True)
    thread.start()
    try:
        yield Served(base_url, key)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.engine_for(settings.database_url).dispose()


def test_the_api_keeps_every_promise_of_its_openapi_document(served: Served, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{served.base_url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {served.key}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",  # nothing remembered between runs: the same seed, the same cases
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert report.exists(), run.stdout + run.stderr
    result = json.loads(report.read_text())
    cases = result["test_cases"]
    print(
        f"schemathesis: {cases['generated']} cases, {cases['unique_failures']} failures, {len(result['errors'])} errors"
    )
    assert run.returncode == 0, run.stdout[-6000:]
    assert result["failures"] == [] and result["errors"] == []
    assert result["operations"]["tested"] == result["operations"]["total"] == 4
    assert cases["generated"] > 100 and cases["with_failures"] == 0
    assert {name: phase["status"] for name, phase in result["phases"].items() if phase["status"] != "skip"} == {
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }
