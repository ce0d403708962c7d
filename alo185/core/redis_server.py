"""The instance's private Redis: Debian's redis-server on a unix socket under ``<var>/run``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from alo185.core import bus, procs
from alo185.core.settings import Settings

PROCESS_NAME = "redis"


def ensure_installed() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    if os.geteuid() != 0:
        raise RuntimeError("redis-server is missing: apt-get install redis-server (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=True, env=env)
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def config_text(settings: Settings) -> str:
    data = settings.var_dir / "redis"
    return "\n".join(
        [
            "port 0",  # no TCP: the socket is private to this machine's alo185 processes
            f"unixsocket {settings.redis_socket}",
            "unixsocketperm 700",
            f"dir {data}",
            # Events and jobs are durable: append-only file, fsync every second.
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "daemonize no",
            "loglevel notice",
            "",
        ]
    )


def config_path(settings: Settings) -> Path:
    return settings.var_dir / "redis" / "redis.conf"


def write_config(settings: Settings) -> Path:
    (settings.var_dir / "redis").mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    conf = config_path(settings)
    conf.write_text(config_text(settings))
    return conf


def ping(settings: Settings) -> bool:
    try:
        return bool(bus.connect(settings.redis_connection_url).ping())
    except Exception:
        return False


def start(settings: Settings, timeout: float = 15) -> None:
    if not settings.redis_is_local or procs.running_pid(settings, PROCESS_NAME):
        return
    binary = ensure_installed()
    conf = write_config(settings)
    procs.spawn(settings, PROCESS_NAME, [binary, str(conf)])
    if not procs.wait_until(lambda: ping(settings), timeout):
        raise RuntimeError(f"Redis did not start; see {procs.log_path(settings, PROCESS_NAME)}")


def stop(settings: Settings) -> bool:
    return procs.stop(settings, PROCESS_NAME)
