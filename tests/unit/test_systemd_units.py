"""The rendered systemd units: one per process under alo185.target, restarted on failure, in order, confined,
and accepted by ``systemd-analyze verify``."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from alo185 import services
from harness.instance import isolated_settings

# What verify may say that is about this machine, not the units: no systemd running, no bus to talk to.
ENVIRONMENT_NOTES = ("System has not been booted with systemd", "Failed to connect to bus")


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(path.read_text())
    return parser


def test_rendered_units_start_in_order_restart_on_failure_and_stay_confined(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path / "var")
    written = services.render_systemd(settings, tmp_path / "units", "alo185")
    names = {p.name for p in written}
    processes = {f"alo185-{s.name}.service" for s in services.PROCESSES}
    assert processes | {"alo185-redis.service", "alo185-asterisk.service", "alo185.target"} <= names
    target = _unit(tmp_path / "units" / "alo185.target")
    assert processes <= set(target["Unit"]["Wants"].split())
    for name in processes | {"alo185-redis.service", "alo185-asterisk.service"}:
        unit = _unit(tmp_path / "units" / name)
        service = unit["Service"]
        assert service["Restart"] == "on-failure" and float(service["RestartSec"]) > 0, name
        assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes", name
        assert service["PrivateTmp"] == "yes" and int(service["LimitNOFILE"]) >= 4096, name
        assert str(settings.var_dir) in service["ReadWritePaths"].split(), name
        assert unit["Unit"]["PartOf"] == "alo185.target"
        if name in processes:
            assert service["User"] == "alo185" and service["ExecStart"].startswith(sys.executable), name
            assert service["EnvironmentFile"] == str(tmp_path / "units" / "alo185.env")
            assert "alo185-redis.service" in unit["Unit"]["Requires"].split(), name
            assert "alo185-redis.service" in unit["Unit"]["After"].split(), name
            if name != "alo185-admin.service":
                assert "alo185-asterisk.service" in unit["Unit"]["After"].split(), name
    env = (tmp_path / "units" / "alo185.env").read_text()
    assert f"ALO185_VAR_DIR={settings.var_dir}" in env and f"ALO185_AGI_PORT={settings.agi_port}" in env


def test_systemd_analyze_verify_accepts_the_rendered_units(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path / "var")
    written = services.render_systemd(settings, tmp_path / "units", "alo185")
    units = [str(p) for p in written if p.suffix in (".service", ".target")]
    done = subprocess.run(
        ["/usr/bin/systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in done.stderr.splitlines() if not any(n in line for n in ENVIRONMENT_NOTES)]
    assert done.returncode == 0 and not problems, done.stderr
