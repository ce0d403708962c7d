"""Where the recordings of operator calls live (setting ``recording_dir``), for the PBX and for the readers.

Asterisk writes each one (``[alo185-queue]`` in ``asterisk_conf/extensions.conf``) and the call record names
it relative to this directory (``CallRecord.recording_ref``, ``YYYY/MM/<uniqueid>.wav``), as voicemails are
named relative to theirs, so the directory can move with its files.
"""

from __future__ import annotations

from pathlib import Path

from alo185.core.asterisk import Asterisk
from alo185.core.asterisk_root import ProvisionError
from alo185.core.settings import Settings


def recordings_dir(settings: Settings) -> Path | None:
    """The directory; None when it is not configured and no PBX is installed to hold the default."""
    if settings.recording_dir is not None:
        return settings.recording_dir
    try:
        return Asterisk.locate(settings).recordings_dir
    except ProvisionError:
        return None
