"""Whether the PBX can keep what callers say: the directories it records voicemails and operator calls
into, and the voicemail archive, writable and with room. ``alo185 status`` shows it; a readiness check
can call ``disk_problems`` the same way."""

from __future__ import annotations

from alo185.core import disk
from alo185.core.asterisk import Asterisk
from alo185.core.asterisk_root import ProvisionError
from alo185.core.settings import Settings
from alo185.voicemail import spool


def disk_problems(settings: Settings) -> list[str]:
    """One line per directory that cannot take a recording now, or has less than ``disk_min_free_mb`` free."""
    min_free = settings.disk_min_free_mb * 1024 * 1024
    try:
        pbx = Asterisk.locate(settings)
    except ProvisionError:  # no PBX on this machine: only the archive is ours to check
        return spool.disk_problems(spool.Dirs(settings.var_dir / "no-pbx", settings.voicemail_path), min_free)
    problems = spool.disk_problems(spool.dirs_for(settings), min_free)
    if settings.record_calls and pbx.recordings_dir.exists():
        problems += [p for p in [disk.problem(pbx.recordings_dir, min_free)] if p is not None]
    return problems
