"""The import contracts (``.importlinter``, the map in ``docs/architecture.md``) hold, and they would catch a break."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("alo185", "ivr", "agi_scripts", "queue_manager", "admin", "workers", "harness")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert tool, "import-linter is a test dependency"
    env = {**os.environ, "PYTHONPATH": str(root)}  # the packages of ``root``, not of the installed checkout
    return subprocess.run(
        [tool, str(root / ".importlinter"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_import_contracts_hold() -> None:
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_contracts_catch_the_old_back_imports(tmp_path: Path) -> None:
    """The cycles the layout removed, put back in a copy of the tree: the IVR reading tickets, a report
    importing the queue manager, the core reaching into a feature."""
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(REPO / ".importlinter", tmp_path)
    for path, line in (
        ("ivr/engine.py", "from alo185.tickets import queries"),
        ("alo185/reports/calls.py", "from queue_manager import screenpop"),
        ("alo185/core/db.py", "from alo185.tickets import models"),
    ):
        with (tmp_path / path).open("a") as f:
            f.write(f"\n{line}  # noqa\n")
    proc = lint_imports(tmp_path)
    out = proc.stdout
    assert proc.returncode != 0, out
    assert "ivr is not allowed to import alo185" in out
    assert "alo185.reports is not allowed to import queue_manager" in out
    assert "alo185.core is not allowed to import alo185.tickets" in out
