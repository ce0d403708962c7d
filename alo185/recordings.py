"""Where the recordings of operator calls live (setting ``recording_dir``), for the PBX and for the readers.

Asterisk writes each one (``[alo185-queue]`` in ``asterisk_conf/extensions.conf``) and the call record names
it relative to this directory (``CallRecord.recording_ref``, ``YYYY/MM/<uniqueid>.wav``), as voicemails are
named relative to theirs, so the directory can move with its files.
"""

from __future__ import annotations

from pathlib import Path

from alo185.settings import Settings

SPOOL_NAME = "alo185-recordings"


def recordings_dir(settings: Settings) -> Path | None:
    """The directory; None when it is not configured and no PBX is installed to hold the default."""
    if settings.recording_dir is not None:
        return settings.recording_dir
    from alo185.pbx import Pbx  # the PBX package reads settings too: imported only when needed
    from alo185.pbx.provision import ProvisionError

    try:
        return Pbx.locate(settings).instance_dir / "spool" / SPOOL_NAME
    except ProvisionError:
        return None
