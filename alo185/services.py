"""Start and stop the whole stack of one instance: Redis, database, PBX and alo185's processes."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alo185.core import bus, db, procs, redis_server, supervisor, systemd
from alo185.core.asterisk import STOP_DEADLINE_S
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
    # The port it shares with its successor (SO_REUSEPORT): at a restart the new process serves before
    # the old one stops and drains, so no call is refused. Either is given ``drain_s`` to finish.
    shared_port: Callable[[Settings], int] | None = None
    drain_s: float = 10.0


# In start order; stopped in reverse (after the PBX): the recorder after the queue manager, so the
# events of the last calls are recorded before it exits.
PROCESSES = (
    Service(
        "agi", "agi", lambda s: procs.tcp_open(s.agi_host, s.agi_port), shared_port=lambda s: s.agi_port, drain_s=65.0
    ),
    Service("recorder", "recorder", drain_s=30.0),
    Service("queue", "queue", lambda s: bool(bus.connect(s.redis_connection_url).exists(bus.QUEUE_MANAGER_ALIVE))),
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


def argv(command: str) -> list[str]:
    """How alo185's subcommand ``command`` is started: this interpreter, so the same installation."""
    return [sys.executable, "-m", "alo185", command]


def start_process(settings: Settings, service: Service, timeout: float = 30) -> None:
    if procs.running_pid(settings, service.name):
        return
    proc = procs.spawn(settings, service.name, argv(service.command), env=settings_env(settings))
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
    start_supervisor(settings)
    log(f"supervisor pid {procs.running_pid(settings, supervisor.PROCESS_NAME)}")
    return pbx


def supervised(settings: Settings) -> list[supervisor.Child]:
    """What the supervisor keeps up: the bundled Redis (if this instance runs it) and alo185's processes.

    Asterisk is left out: its calls die with it, and ``Pbx.start`` installs and boots it (a minute at worst).
    """
    children = []
    conf = redis_server.config_path(settings)
    if settings.redis_is_local and conf.exists():
        children.append(supervisor.Child(redis_server.PROCESS_NAME, [redis_server.ensure_installed(), str(conf)]))
    env = settings_env(settings)
    children += [supervisor.Child(s.name, argv(s.command), env) for s in PROCESSES]
    return children


def start_supervisor(settings: Settings) -> None:
    """The supervisor, detached (no-op when one runs): it restarts a process that dies, with backoff."""
    supervisor.release(settings)
    if procs.running_pid(settings, supervisor.PROCESS_NAME) is None:
        procs.spawn(settings, supervisor.PROCESS_NAME, argv("supervise"), env=settings_env(settings))


def stop_supervisor(settings: Settings) -> None:
    """No restart from now on: what is stopped next is stopped on purpose."""
    supervisor.hold(settings)
    procs.stop(settings, supervisor.PROCESS_NAME)


def supervise(settings: Settings) -> None:
    """Run the supervisor in the foreground until SIGTERM/SIGINT; returns at once if another one runs."""
    other = procs.running_pid(settings, supervisor.PROCESS_NAME)
    if other is not None and other != os.getpid():
        logging.getLogger(__name__).info("a supervisor runs already (pid %d)", other)
        return
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    procs.pid_path(settings, supervisor.PROCESS_NAME).write_text(f"{os.getpid()}\n")
    supervisor.release(settings)  # run by hand after a 'down': it is asked to keep the processes up
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    supervisor.Supervisor(settings, supervised(settings)).run(lambda: bool(stopping))


def down(settings: Settings, log: Callable[[str], None] = print, deadline_s: float = STOP_DEADLINE_S) -> None:
    """Stop the instance without cutting a call or losing its record.

    The PBX first, gracefully (no new call; those in progress end, or are cut after ``deadline_s``),
    while alo185's processes still run: the IVR, the survey and the queue manager serve the last
    calls and their end events are recorded. Then the processes, then Redis, which holds their events.
    """
    stop_supervisor(settings)
    stop_pbx(settings, log, deadline_s)
    stop_processes(settings, log)
    if redis_server.stop(settings):
        log("stopped redis")


def stop_pbx(settings: Settings, log: Callable[[str], None] = print, deadline_s: float = STOP_DEADLINE_S) -> None:
    try:
        pbx = Pbx.locate(settings)
    except RuntimeError:
        return
    if pbx.running():
        log(f"asterisk  takes no new call; waiting up to {deadline_s:.0f} s for the calls in progress")
    if pbx.stop(deadline_s):
        log("stopped asterisk")


def stop_processes(settings: Settings, log: Callable[[str], None] = print) -> None:
    for service in reversed(PROCESSES):
        if procs.stop(settings, service.name, timeout=service.drain_s):
            log(f"stopped {service.name}")


def restart_processes(settings: Settings, log: Callable[[str], None] = print) -> None:
    """alo185's processes again, one at a time (after an upgrade of its code); the PBX and Redis go on.

    No call is touched: Asterisk holds the calls, the FastAGI server's successor takes new IVR
    sessions before it stops, and the queue manager resynchronises with Asterisk when it logs in again.
    """
    supervising = procs.running_pid(settings, supervisor.PROCESS_NAME) is not None
    stop_supervisor(settings)  # it would start a process replaced here a second time
    for service in PROCESSES:
        replace_process(settings, service)
        log(f"{service.name:<9} pid {procs.running_pid(settings, service.name)}")
    if supervising:
        start_supervisor(settings)  # its successor runs the new code too


def replace_process(settings: Settings, service: Service) -> None:
    """Stop ``service`` and start it again; one with a ``shared_port`` stops once its successor listens there."""
    old = procs.running_pid(settings, service.name)
    if old is None or service.shared_port is None:
        procs.stop(settings, service.name, timeout=service.drain_s)
        start_process(settings, service)
        return
    port = service.shared_port(settings)
    procs.pid_path(settings, service.name).unlink()
    try:
        start_process(settings, service)
        new = procs.running_pid(settings, service.name)
        if new is None or not procs.wait_until(lambda: procs.listening(new, port), 30):
            raise RuntimeError(f"{service.name} did not take over; see {procs.log_path(settings, service.name)}")
    except RuntimeError:
        procs.stop(settings, service.name)
        procs.pid_path(settings, service.name).write_text(f"{old}\n")  # the old one serves on
        raise
    procs.stop_pid(old, timeout=service.drain_s)


def status(settings: Settings) -> dict[str, int | None]:
    names = ["redis", "asterisk", *(s.name for s in PROCESSES)]
    return {name: procs.running_pid(settings, name) for name in names}


# The memory a process may take before the kernel stops it (and systemd starts it again): the voicemail
# worker holds a speech model; the others hold a few connections and a queue's worth of state.
MEMORY_MAX = {"worker": "3G", "admin": "1G"}
ASTERISK_CAPABILITIES = (
    "CAP_SYS_CHROOT",  # into its root
    "CAP_NET_BIND_SERVICE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_SYS_NICE",
)


def env_file_text(settings: Settings) -> str:
    """The settings as an EnvironmentFile: the ``ALO185_`` variables that make a process load ``settings``."""
    env = settings_env(settings)
    lines = [f"{k}={v}" for k, v in sorted(env.items()) if k.startswith(ENV_PREFIX)]
    return "\n".join(lines) + "\n"


def systemd_units(settings: Settings, user: str, env_file: Path) -> list[systemd.Unit]:
    """One unit per process of the instance, in start order: Redis (if bundled), the database's migration,
    Asterisk, then alo185's processes; each restarted on failure and confined to its own directories."""
    python = [sys.executable, "-m", "alo185"]
    data = tuple(p for p in (settings.var_dir, settings.recording_dir, settings.voicemail_dir) if p is not None)
    pbx = Pbx.locate(settings)
    pbx_dirs = (pbx.chroot,) if pbx.chroot is not None else (pbx.instance_dir,)
    redis = ("alo185-redis.service",) if settings.redis_is_local else ()
    units = []
    if settings.redis_is_local:
        binary = redis_server.ensure_installed()
        argv_ = [binary, str(redis_server.config_path(settings))]
        units.append(systemd.Unit("alo185-redis", "Alo 185: Redis (events and jobs)", argv_, user, read_write=data))
    units.append(
        systemd.Unit(
            "alo185-migrate",
            "Alo 185: database migrations and reference data",
            [*python, "migrate"],
            user,
            env_file,
            read_write=data,
            kind="oneshot",
            extra=(("RemainAfterExit", "yes"),),
        )
    )
    units.append(
        systemd.Unit(
            "alo185-asterisk",
            "Alo 185: Asterisk PBX" + (" (in its root)" if pbx.chroot is not None else ""),
            pbx.argv("-f", "-n"),
            None if pbx.chroot is not None else user,
            env_file,
            requires=("alo185-migrate.service",),
            read_write=(*data, *pbx_dirs),
            exec_start_pre=([*python, "pbx", "install"],),  # this instance's configuration, as 'up' renders it
            exec_stop=pbx.argv("-rx", "core stop gracefully"),
            timeout_stop_s=STOP_DEADLINE_S + 30,
            capabilities=ASTERISK_CAPABILITIES if pbx.chroot is not None else (),
        )
    )
    for service in PROCESSES:
        units.append(
            systemd.Unit(
                f"alo185-{service.name}",
                f"Alo 185: {service.command}",
                [*python, service.command],
                user,
                env_file,
                requires=(*redis, "alo185-migrate.service"),
                # Started after the PBX, but not stopped with it: a restarted Asterisk finds them serving.
                wants=() if service.name == "admin" else ("alo185-asterisk.service",),
                read_write=(*data, *pbx_dirs),
                timeout_stop_s=service.drain_s + 5,
                memory_max=MEMORY_MAX.get(service.name, "512M"),
            )
        )
    return units


def render_systemd(settings: Settings, directory: Path, user: str, env_file: Path | None = None) -> list[Path]:
    """The units, the target and the settings' EnvironmentFile into ``directory`` (the units name
    ``env_file``, by default the one written there)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = directory / "alo185.env"
    written.write_text(env_file_text(settings))
    written.chmod(0o640)  # the settings may name a database password
    return [*systemd.write(systemd_units(settings, user, env_file or written), directory), written]


def install_systemd(settings: Settings, user: str, log: Callable[[str], None] = print) -> None:
    """As root: the user, the settings under /etc/alo185, Redis's configuration, the units; loaded when
    systemd runs this machine. ``systemctl enable --now alo185.target`` starts it all then."""
    if os.geteuid() != 0:
        raise RuntimeError("installing systemd units needs root")
    system_user(user, settings.var_dir)
    etc = Path("/etc/alo185")
    env_file = etc / "alo185.env"
    etc.mkdir(parents=True, exist_ok=True)
    env_file.write_text(env_file_text(settings))
    env_file.chmod(0o640)
    shutil.chown(env_file, "root", user)
    if settings.redis_is_local:
        redis_server.write_config(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "-R", f"{user}:{user}", str(settings.var_dir)], check=True)
    for path in systemd.write(systemd_units(settings, user, env_file), systemd.UNIT_DIR):
        log(f"wrote {path}")
    if systemd.running():
        systemd.daemon_reload()
        log(f"loaded; start with: systemctl enable --now {systemd.TARGET}")
    else:
        log("systemd is not running here: the units are written, not loaded")


def system_user(user: str, home: Path) -> None:
    """A system account for the processes, created when missing (no login, no password)."""
    if subprocess.run(["id", "-u", user], capture_output=True).returncode == 0:
        return
    shell = "/usr/sbin/nologin"
    subprocess.run(["useradd", "--system", "--user-group", "--home-dir", str(home), "--shell", shell, user], check=True)
