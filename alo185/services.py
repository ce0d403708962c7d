"""Start and stop the whole stack of one instance: Redis, database, PBX and alo185's processes."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from alo185.core import bus, db, procs, redis_server
from alo185.core.settings import ENV_PREFIX, Settings
from alo185.menu.versions import ensure_seeded
from alo185.pbx.control import Pbx
from alo185.privacy import retention
from alo185.sms import templates
from alo185.tickets.seed import seed


@dataclass(frozen=True)
class Service:
    name: str
    command: str  # the alo185 subcommand that runs it in the foreground
    ready: Callable[[Settings], bool] | None = None


# In start order; stopped in reverse.
PROCESSES = (
    Service("agi", "agi", lambda s: procs.tcp_open(s.agi_host, s.agi_port)),
    Service("queue", "queue", lambda s: bool(bus.connect(s.redis_connection_url).exists(bus.QUEUE_MANAGER_ALIVE))),
    Service("recorder", "recorder"),
    Service("worker", "worker"),
    Service("sms", "sms"),
    Service("scheduler", "scheduler"),
    Service("admin", "admin", lambda s: procs.tcp_open(s.admin_host, s.admin_port)),
)


def process(name: str) -> Service:
    return next(s for s in PROCESSES if s.name == name)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load exactly ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "config_file" or value is None:
            continue
        env[ENV_PREFIX + f.name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
    return env


def start_process(settings: Settings, service: Service, timeout: float = 30) -> None:
    if procs.running_pid(settings, service.name):
        return
    argv = [sys.executable, "-m", "alo185", service.command]
    proc = procs.spawn(settings, service.name, argv, env=settings_env(settings))
    ready = service.ready
    if ready is not None and not procs.wait_until(lambda: ready(settings) or proc.poll() is not None, timeout):
        raise RuntimeError(f"{service.name} did not become ready; see {procs.log_path(settings, service.name)}")
    if proc.poll() is not None:
        raise RuntimeError(f"{service.name} exited at start; see {procs.log_path(settings, service.name)}")


def prepare_database(settings: Settings) -> None:
    """Migrate, then add the shipped reference data (idempotent: edits made since are kept)."""

    db.migrate(settings.database_url)
    with db.session_factory(settings.database_url).begin() as session:
        seed(session)
        ensure_seeded(session)
        templates.seed(session)
        retention.seed_rules(session)


def up(settings: Settings, log: Callable[[str], None] = print) -> Pbx:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    redis_server.start(settings)
    log(f"redis     {settings.redis_connection_url}")
    prepare_database(settings)
    log(f"database  {settings.database_url}")
    pbx = Pbx.install(settings, log)
    pbx.start()
    log(f"asterisk  AMI 127.0.0.1:{settings.ami_port}, SIP udp 127.0.0.1:{settings.sip_port}")
    for service in PROCESSES:
        start_process(settings, service)
        log(f"{service.name:<9} pid {procs.running_pid(settings, service.name)}")
    return pbx


def down(settings: Settings, log: Callable[[str], None] = print) -> None:
    for service in reversed(PROCESSES):
        if procs.stop(settings, service.name):
            log(f"stopped {service.name}")
    try:
        if Pbx.locate(settings).stop():
            log("stopped asterisk")
    except RuntimeError:
        pass
    if redis_server.stop(settings):
        log("stopped redis")


def status(settings: Settings) -> dict[str, int | None]:
    names = ["redis", "asterisk", *(s.name for s in PROCESSES)]
    return {name: procs.running_pid(settings, name) for name in names}
