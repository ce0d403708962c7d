"""Background processes with pid files under ``<var>/run`` and logs under ``<var>/log``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from alo185.core.settings import Settings


def pid_path(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def log_path(settings: Settings, name: str) -> Path:
    return settings.log_dir / f"{name}.log"


def alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running_pid(settings: Settings, name: str) -> int | None:
    path = pid_path(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def spawn(settings: Settings, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached in its own session, logging to ``<var>/log/NAME.log``."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path(settings, name), "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    pid_path(settings, name).write_text(f"{proc.pid}\n")
    return proc


def stop(settings: Settings, name: str, timeout: float = 10.0) -> bool:
    """Stop the process group named ``name``: TERM, then KILL after ``timeout``. True if one ran."""
    pid = running_pid(settings, name)
    pid_path(settings, name).unlink(missing_ok=True)
    if pid is None:
        return False
    stop_pid(pid, timeout)
    return True


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Stop the process group of ``pid`` (one whose pid file names another already): TERM, then KILL."""
    _signal_group(pid, signal.SIGTERM)
    if not wait_until(lambda: not alive(pid), timeout):
        _signal_group(pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), 5)


def listening(pid: int, port: int) -> bool:
    """True if process ``pid`` itself has a TCP socket listening on ``port`` (another may share it: SO_REUSEPORT)."""
    try:
        inodes = {os.readlink(fd.path) for fd in os.scandir(f"/proc/{pid}/fd")}
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                # local address "HEX_IP:HEX_PORT", state (0A: LISTEN), inode
                local, state, inode = (line.split()[i] for i in (1, 3, 9))
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and f"socket:[{inode}]" in inodes:
                    return True
    return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
