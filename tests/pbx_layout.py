"""A 'system' Asterisk layout on disk, enough to render an instance's configuration without a PBX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alo185.core.settings import Settings
from alo185.pbx.control import Pbx


def fake_system_pbx(tmp_path: Path, **settings: Any) -> Pbx:
    """Only the packaged asterisk.conf is read when rendering; ``settings`` adds to the instance's own."""
    root = tmp_path / "root"
    (root / "etc/asterisk").mkdir(parents=True)
    (root / "etc/asterisk/asterisk.conf").write_text(
        "[directories](!)\nastmoddir => /usr/lib/asterisk/modules\nastdatadir => /usr/share/asterisk\n"
        "astvarlibdir => /var/lib/asterisk\nastagidir => /usr/share/asterisk/agi-bin\nastsbindir => /usr/sbin\n"
    )
    pbx = Pbx(Settings(var_dir=tmp_path / "var", pbx_root=root, instance="t1", **settings), root, "/usr/sbin/asterisk")
    for sub in ("etc", "spool", "log", "run", "lib", "cache", "sounds"):
        (pbx.instance_dir / sub).mkdir(parents=True)
    return pbx
