"""The PBX as the project runs it: an Asterisk instance configured from the domain at every start and reload."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from typing import Self

from alo185.core import ami, procs
from alo185.core.asterisk import STOP_DEADLINE_S, Asterisk
from alo185.core.asterisk_root import ProvisionError
from alo185.core.settings import Settings
from alo185.pbx import config

# The dialplan's global that closes the hotline to new callers ([alo185-inbound]); a reload or a
# start of Asterisk clears it (clearglobalvars).
STOPPING = "ALO185_STOPPING"
CUT_CAUSE = "41"  # a call cut at a stop's deadline: Asterisk's "temporary failure"


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

    def stop(self, deadline_s: float = STOP_DEADLINE_S) -> bool:
        """Stop once the calls in progress have ended; those still up after ``deadline_s`` are cut. True if it ran.

        First the hotline closes: the dialplan refuses a new caller (503, for the carrier's fallback)
        while Asterisk runs as ever, so a queued caller is still put through to an operator: in
        Asterisk's own graceful stop it makes no new channel, not even the operator's. Once no
        channel is left, that stop, which then has nothing to wait for.
        """
        if not self.running():
            return super().stop(0)
        ends = time.monotonic() + deadline_s
        try:
            self.cli(f"dialplan set global {STOPPING} 1")
            if not procs.wait_until(lambda: self.active_channels() == 0, deadline_s, interval=0.5):
                self.cut_calls()
        except (subprocess.SubprocessError, RuntimeError):
            pass  # Asterisk went meanwhile, or does not answer: its own stop below decides
        except BaseException:  # interrupted: the hotline opens again, the calls go on
            with contextlib.suppress(subprocess.SubprocessError, RuntimeError):
                self.cli(f"dialplan set global {STOPPING} 0")
            raise
        return super().stop(max(0.0, ends - time.monotonic()))

    def cut_calls(self) -> None:
        """Hang up every channel with cause 41 (temporary failure): the record of a call cut by a stop's
        deadline says so, where Asterisk's own stop would hang it up as a normal clearing (16)."""
        ami.run(self.settings, {"Action": "Hangup", "Channel": "/.*/", "Cause": CUT_CAUSE})
        procs.wait_until(lambda: self.active_channels() == 0, 5, interval=0.25)

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
