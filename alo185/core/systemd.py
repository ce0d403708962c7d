"""systemd units for an instance's processes: what each runs, its order, its limits and its confinement.

Only the text; which processes, in which order, is the instance's (``alo185.services.systemd_units``).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TARGET = "alo185.target"
UNIT_DIR = Path("/etc/systemd/system")
HOME_PREFIXES = ("/home", "/root", "/run/user")

# Confinement that fits every process: none needs new privileges, other users' /tmp, devices, the
# kernel's tunables or modules, realtime scheduling, or to write outside its own directories.
HARDENING = (
    ("NoNewPrivileges", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictNamespaces", "yes"),
    ("LockPersonality", "yes"),
    ("SystemCallArchitectures", "native"),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
)


@dataclass(frozen=True)
class Unit:
    """One service: ``name`` is the unit's name without ``.service``."""

    name: str
    description: str
    exec_start: list[str]
    user: str | None  # None: root (Asterisk chrooted into its root needs CAP_SYS_CHROOT)
    env_file: Path | None = None
    requires: tuple[str, ...] = ()  # stopped or restarted by hand with these
    wants: tuple[str, ...] = ()  # started with these, after them, but not stopped with them
    read_write: tuple[Path, ...] = ()
    read_only: tuple[Path, ...] = ()  # besides the system (ProtectSystem=strict leaves it readable)
    exec_start_pre: tuple[list[str], ...] = ()
    exec_stop: list[str] | None = None
    timeout_stop_s: float = 90.0
    restart_s: float = 1.0
    memory_max: str | None = None
    nofile: int = 65536
    capabilities: tuple[str, ...] = ()  # the bounding set when it runs as root; empty: no capability
    kind: str = "simple"
    extra: tuple[tuple[str, str], ...] = field(default=())


def command_line(argv: list[str]) -> str:
    """A command for Exec*=: the program by its absolute path (systemd looks in no PATH of ours)."""
    program = argv[0] if argv[0].startswith("/") else shutil.which(argv[0]) or argv[0]
    return " ".join(shlex.quote(a) for a in [program, *argv[1:]])


def _home(paths: tuple[Path, ...]) -> str:
    """ProtectHome: 'yes' hides /home, /root and /run/user; 'read-only' when the unit needs a path there."""
    inside = any(str(p) == h or str(p).startswith(h + "/") for p in paths for h in HOME_PREFIXES)
    return "read-only" if inside else "yes"


def render(unit: Unit) -> str:
    """The unit file's text."""
    after = [*unit.requires, *unit.wants]
    lines = ["[Unit]", f"Description={unit.description}", f"PartOf={TARGET}"]
    if after:
        lines.append(f"After={' '.join(after)}")
    if unit.requires:
        lines.append(f"Requires={' '.join(unit.requires)}")
    if unit.wants:
        lines.append(f"Wants={' '.join(unit.wants)}")
    lines += ["", "[Service]", f"Type={unit.kind}"]
    if unit.user is not None:
        lines.append(f"User={unit.user}")
    if unit.env_file is not None:
        lines.append(f"EnvironmentFile={unit.env_file}")
    lines += [f"ExecStartPre={command_line(argv)}" for argv in unit.exec_start_pre]
    lines.append(f"ExecStart={command_line(unit.exec_start)}")
    if unit.exec_stop is not None:
        lines.append(f"ExecStop={command_line(unit.exec_stop)}")
    lines += [
        "Restart=on-failure",
        f"RestartSec={unit.restart_s:g}",
        f"TimeoutStopSec={unit.timeout_stop_s:g}",
        f"LimitNOFILE={unit.nofile}",
    ]
    if unit.memory_max is not None:
        lines.append(f"MemoryMax={unit.memory_max}")
    lines += [f"{key}={value}" for key, value in HARDENING]
    lines.append(f"ProtectHome={_home((*unit.read_write, *unit.read_only, *map(Path, unit.exec_start[:1])))}")
    lines.append(f"CapabilityBoundingSet={' '.join(unit.capabilities)}")
    if unit.read_write:
        lines.append(f"ReadWritePaths={' '.join(str(p) for p in unit.read_write)}")
    lines += [f"{key}={value}" for key, value in unit.extra]
    lines += ["", "[Install]", f"WantedBy={TARGET}", ""]
    return "\n".join(lines)


def render_target(units: list[Unit]) -> str:
    """The target that starts and stops them all, started at boot."""
    names = " ".join(f"{u.name}.service" for u in units)
    return "\n".join(
        [
            "[Unit]",
            "Description=Alo 185 citizen hotline: all its processes",
            f"Wants=network-online.target {names}",
            "After=network-online.target",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def write(units: list[Unit], directory: Path) -> list[Path]:
    """Each unit and the target into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in units:
        path = directory / f"{unit.name}.service"
        path.write_text(render(unit))
        written.append(path)
    target = directory / TARGET
    target.write_text(render_target(units))
    return [*written, target]


def running() -> bool:
    """True when systemd is this machine's init (PID 1): only then are units installed and loaded."""
    return Path("/run/systemd/system").is_dir()


def daemon_reload() -> None:
    subprocess.run(["systemctl", "daemon-reload"], check=True)
