"""Find or provision an Asterisk >= 20.

A system Asterisk is used when one is installed. Otherwise Debian sid's package is
installed into a ``debootstrap`` root that every instance on the machine shares.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from alo185.core import apt_sources

MIN_VERSION = 20
READY_MARKER = ".alo185-ready"
STARTED_MARKER = ".alo185-provisioning"
PACKAGES = ("asterisk", "asterisk-core-sounds-en-gsm")


class ProvisionError(RuntimeError):
    """The PBX cannot be provisioned here; the message says what to do."""


def asterisk_version(command: list[str]) -> int | None:
    """Major version of the Asterisk that ``command -V`` runs, or None."""
    try:
        out = subprocess.run([*command, "-V"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Asterisk (\d+)", out.stdout)
    return int(match.group(1)) if match else None


def system_asterisk() -> str | None:
    """Path of an installed ``asterisk`` >= 20, if there is one."""
    path = shutil.which("asterisk") or ("/usr/sbin/asterisk" if os.access("/usr/sbin/asterisk", os.X_OK) else None)
    if path and (asterisk_version([path]) or 0) >= MIN_VERSION:
        return path
    return None


def root_is_ready(root: Path) -> bool:
    return (root / READY_MARKER).exists() and (root / "usr/sbin/asterisk").exists()


def choose_mirror(configured: str, etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror to bootstrap from: the setting if given, else the one the host's apt uses."""
    if configured:
        return configured
    mirror = apt_sources.debian_mirror(apt_sources.read_sources(etc_apt))
    if mirror is None:
        raise ProvisionError(
            f"No Debian archive mirror found in {etc_apt}/sources.list or {etc_apt}/sources.list.d/ "
            "to bootstrap the PBX root from: set debian_mirror (ALO185_DEBIAN_MIRROR), "
            "e.g. http://deb.debian.org/debian or your own mirror's address."
        )
    return mirror


def debootstrap_command(root: Path, mirror: str) -> list[str]:
    """The command that bootstraps a minimal Debian sid into ``root`` from ``mirror``."""
    return ["debootstrap", "--variant=minbase", "sid", str(root), mirror]


def provision_root(root: Path, mirror: str, log: Callable[[str], None] = print) -> None:
    """Make (or finish) a Debian-sid root with Asterisk in it. Idempotent."""
    if root_is_ready(root):
        return
    if os.geteuid() != 0:
        raise ProvisionError(
            "No Asterisk >= 20 is installed and provisioning one needs root: "
            "run this command as root (it installs Asterisk into a debootstrap root "
            f"under {root}), or install Asterisk >= 20 yourself."
        )
    if not shutil.which("debootstrap"):
        raise ProvisionError(
            "No Asterisk >= 20 is installed and 'debootstrap' is missing: "
            "install it with 'apt-get install debootstrap' and run this again."
        )
    if root.exists() and any(root.iterdir()) and not (root / STARTED_MARKER).exists():
        raise ProvisionError(f"{root} exists and was not made by alo185; remove it or set ALO185_PBX_ROOT")
    if (root / STARTED_MARKER).exists() and not (root / "usr/bin/apt-get").exists():
        log(f"removing an unfinished root at {root}")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / STARTED_MARKER).touch()
    if not (root / "usr/bin/apt-get").exists():
        log(f"debootstrap: Debian sid from {mirror} into {root} (about 20 s)")
        _run(debootstrap_command(root, mirror), log)
    # Packages must not try to start services inside the root.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    log("apt-get: Asterisk into the root (about 10 s)")
    apt = ["chroot", str(root), "apt-get", "-o", "Acquire::Check-Valid-Until=false"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run([*apt, "-q", "update"], log, env)
    _run([*apt, "install", "-y", "-q", "--no-install-recommends", *PACKAGES], log, env)
    version = asterisk_version(["chroot", str(root), "/usr/sbin/asterisk"])
    if (version or 0) < MIN_VERSION:
        raise ProvisionError(f"the root's Asterisk reports version {version}; need >= {MIN_VERSION}")
    (root / READY_MARKER).write_text(f"{version}\n")
    log(f"Asterisk {version} ready in {root}")


def _run(cmd: list[str], log: Callable[[str], None], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ProvisionError(f"{' '.join(cmd[:4])}… failed ({proc.returncode}):\n{tail}")
