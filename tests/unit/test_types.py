"""The code base type-checks with mypy (its configuration is in setup.cfg; checked with every test run)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_mypy_is_clean(tmp_path: Path) -> None:
    # A cache of this run's own: another run of the suite (or mypy by hand) never shares it mid-write.
    # Cold, the whole check takes some 10 s.
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "setup.cfg", "--cache-dir", str(tmp_path / "mypy_cache")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
