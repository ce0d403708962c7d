"""One Asterisk instance: where its files are, and its process.

What the instance is configured with is the PBX feature's (``alo185.pbx``): it renders the
configuration from the domain before it starts the process this class runs.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Self

from alo185.core import asterisk_root, procs
from alo185.core.settings import Settings

PROCESS_NAME = "asterisk"
INSTANCE_SUBDIRS = ("etc", "spool", "log", "run", "lib", "cache", "sounds")
# Under the instance's spool: recordings of operator calls (unless ``recording_dir`` is set), and
# the directory the dialplan records voicemails into.
RECORDINGS_SPOOL = "alo185-recordings"
VOICEMAIL_RECORDING = ("alo185-voicemail", "recording")
# How long a stop waits for the calls in progress to end before it cuts them (``alo185 down --deadline``).
STOP_DEADLINE_S = 600.0


class Asterisk:
    """An Asterisk instance, either the system's binary or one inside the shared sid root."""

    def __init__(self, settings: Settings, chroot: Path | None, binary: str) -> None:
        self.settings = settings
        self.chroot = chroot
        self.binary = binary

    @classmethod
    def locate(cls, settings: Settings) -> Self:
        """The installed PBX; raises ProvisionError if there is none yet."""
        system = asterisk_root.system_asterisk()
        if system:
            return cls(settings, None, system)
        if asterisk_root.root_is_ready(settings.pbx_root):
            return cls(settings, settings.pbx_root, "/usr/sbin/asterisk")
        raise asterisk_root.ProvisionError("Asterisk is not installed yet: run 'alo185 pbx install' (as root)")

    @classmethod
    def provision(cls, settings: Settings, log: Callable[[str], None] = print) -> Self:
        """The installed PBX, installed first into the shared root when there is no system Asterisk."""
        if asterisk_root.system_asterisk() is None and not asterisk_root.root_is_ready(settings.pbx_root):
            mirror = asterisk_root.choose_mirror(settings.debian_mirror)
            asterisk_root.provision_root(settings.pbx_root, mirror, log)
        return cls.locate(settings)

    @property
    def instance_dir(self) -> Path:
        """Host path of this instance's files (inside the root when chrooted)."""
        if self.chroot is None:
            return self.settings.var_dir / "asterisk"
        return self.chroot / "srv" / "alo185" / self.settings.instance

    @property
    def queue_log(self) -> Path:
        """Host path of Asterisk's ``queue_log`` (``logger.conf``): its durable record of queued calls."""
        return self.instance_dir / "log" / "queue_log"

    def pbx_path(self, host_path: Path) -> str:
        """``host_path`` (a path under the root) as Asterisk sees it. On every prompt played: no syscalls."""
        if self.chroot is None:
            return str(host_path)
        text, root = str(host_path), str(self.chroot)
        if not text.startswith(root + "/"):
            raise ValueError(f"{host_path} is outside the PBX root {root}")
        return text[len(root) :]

    def host_path(self, pbx_path: str) -> Path:
        return Path(pbx_path) if self.chroot is None else self.chroot / pbx_path.lstrip("/")

    @property
    def conf_file(self) -> Path:
        return self.instance_dir / "etc" / "asterisk.conf"

    def argv(self, *args: str) -> list[str]:
        prefix = [] if self.chroot is None else ["chroot", str(self.chroot)]
        return [*prefix, self.binary, "-C", self.pbx_path(self.conf_file), *args]

    def make_dirs(self) -> None:
        for sub in INSTANCE_SUBDIRS:
            (self.instance_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.instance_dir / "spool").joinpath(*VOICEMAIL_RECORDING).mkdir(parents=True, exist_ok=True)
        if self.settings.record_calls:
            self.recordings_dir.mkdir(parents=True, exist_ok=True)

    @property
    def recordings_dir(self) -> Path:
        """Where Asterisk records operator calls (setting ``recording_dir``, else the instance's spool)."""
        return self.settings.recording_dir or self.instance_dir / "spool" / RECORDINGS_SPOOL

    def running(self) -> bool:
        return procs.running_pid(self.settings, PROCESS_NAME) is not None

    def start(self, timeout: float = 60.0) -> None:
        if self.running():
            return
        # A stale control socket from a killed instance would make '-rx' talk to nothing.
        (self.instance_dir / "run" / "asterisk.ctl").unlink(missing_ok=True)
        procs.spawn(self.settings, PROCESS_NAME, self.argv("-f", "-n"))
        if not procs.wait_until(self._booted, timeout, interval=0.25):
            raise RuntimeError(
                f"Asterisk did not boot in {timeout:.0f} s; see {procs.log_path(self.settings, PROCESS_NAME)}"
            )

    def _booted(self) -> bool:
        if not self.running():
            raise RuntimeError(f"Asterisk exited at start; see {procs.log_path(self.settings, PROCESS_NAME)}")
        try:
            return self.cli("core waitfullybooted", timeout=5).startswith("Asterisk has fully booted")
        except (subprocess.SubprocessError, RuntimeError):
            return False

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> bool:
        """Stop once the calls in progress have ended, cutting those still up after ``deadline_s``; True if it ran.

        Meanwhile Asterisk takes no new call (``core stop gracefully``: its SIP stack answers a new
        INVITE with 503 Service Unavailable) and makes no new channel at all, so a queued caller is
        no longer put through to an operator: ``alo185.pbx.control.Pbx`` closes its hotline first.
        """
        ran = self.running()
        if ran:
            self._stop_gracefully(deadline_s)
        return procs.stop(self.settings, PROCESS_NAME) or ran

    def _stop_gracefully(self, deadline_s: float) -> None:
        # 'core stop gracefully' returns only when Asterisk exits: it runs beside, and is not waited for.
        waiter = subprocess.Popen(
            self.argv("-rx", "core stop gracefully"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            if not procs.wait_until(lambda: not self.running(), deadline_s, interval=0.25):
                with contextlib.suppress(subprocess.SubprocessError, RuntimeError):
                    self.cli("core stop now", timeout=10)  # the deadline: the calls still up are cut
                procs.wait_until(lambda: not self.running(), 10)
        finally:
            if waiter.poll() is None:
                waiter.kill()
            waiter.wait()

    def active_channels(self) -> int:
        """How many channels the running instance has (calls and their legs)."""
        said = self.cli("core show channels count", timeout=5)
        found = re.search(r"^(\d+) active channels?$", said, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"unexpected answer to 'core show channels count': {said.strip()!r}")
        return int(found.group(1))

    def cli(self, command: str, timeout: float = 15) -> str:
        """Run one CLI command in the running instance and return its output."""
        proc = subprocess.run(self.argv("-rx", command), capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def remove_instance(self) -> None:
        """Delete this instance's files (tests use throw-away instances)."""
        shutil.rmtree(self.instance_dir, ignore_errors=True)


def recordings_dir(settings: Settings) -> Path | None:
    """Where operator calls are recorded: setting ``recording_dir``, else the PBX instance's spool.

    None when neither is there (no setting, no PBX installed). Asterisk writes each recording
    (``[alo185-queue]``) and the call record names it relative to this directory
    (``CallRecord.recording_ref``, ``YYYY/MM/<uniqueid>.wav``), so the directory can move with its files.
    """
    if settings.recording_dir is not None:
        return settings.recording_dir
    try:
        return Asterisk.locate(settings).recordings_dir
    except asterisk_root.ProvisionError:
        return None
