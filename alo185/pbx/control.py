"""The PBX as the project runs it: an Asterisk instance configured from the domain at every start and reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from alo185.core.asterisk import Asterisk
from alo185.core.asterisk_root import ProvisionError
from alo185.core.settings import Settings
from alo185.pbx import config


class Pbx(Asterisk):
    """An ``Asterisk`` whose configuration (``asterisk_conf/``) is rendered before it starts or reloads."""

    @classmethod
    def install(cls, settings: Settings, log: Callable[[str], None] = print) -> Self:
        pbx = cls.provision(settings, log)
        pbx.render()
        return pbx

    def render(self) -> None:
        self.make_dirs()
        config.render(self)

    def start(self, timeout: float = 60.0) -> None:
        if self.running():
            return
        self.render()
        super().start(timeout)

    def reload(self) -> None:
        self.render()
        self.cli("core reload")

    def reload_phones(self) -> None:
        """After operators or their extensions changed: the endpoints again, without touching calls."""
        self.render()
        said = self.cli("module reload res_pjsip.so")  # Asterisk 22 has no 'pjsip reload'
        if "reloaded successfully" not in said:
            raise RuntimeError(f"the SIP endpoints were not reloaded: {said.strip()}")


def reload_phones(settings: Settings) -> bool:
    """Render the PBX configuration again and reload the SIP phones, if the PBX runs; True if it did."""
    try:
        pbx = Pbx.locate(settings)
    except ProvisionError:
        return False
    if not pbx.running():
        return False
    pbx.reload_phones()
    return True
