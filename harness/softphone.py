"""A real SIP softphone for tests and demos: baresip (Debian ``baresip-core``) headless, on loopback.

Each phone gets a config directory of its own (under ``<var>/softphones/<extension>``): SIP on
``127.0.0.1:<free port>``, the account ``<sip:EXT@127.0.0.1:SIP_PORT>;auth_pass=…;answermode=auto``
(it registers with the PBX and answers every call at once), a WAV file as its microphone (``aufile``,
no sound card), no loudspeaker (``aubridge``: the far end's audio goes nowhere) and ``ctrl_tcp`` on
a free loopback port, through which a test dials (feature codes too) and hangs up. It runs as a
background process with a pid file (``baresip-<extension>``) and is stopped by that pid.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alo185.core import procs
from alo185.core.settings import Settings
from harness import ports

BINARY = "baresip"
MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules")
MODULES = ("g711.so", "aufile.so", "aubridge.so")
APP_MODULES = ("account.so", "menu.so", "ctrl_tcp.so")


class SoftphoneError(RuntimeError):
    pass


def available() -> bool:
    return shutil.which(BINARY) is not None and _module_dir() is not None


def _module_dir() -> str | None:
    return next((d for d in MODULE_DIRS if Path(d, "ctrl_tcp.so").exists()), None)


def _voice(path: Path, seconds: int = 120, rate: int = 8000) -> None:
    """A quiet 440 Hz tone at telephone rate: something to send, so the call has media both ways."""
    frames = b"".join(struct.pack("<h", int(1000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(rate))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(seconds):
            w.writeframes(frames)


def _netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


@dataclass
class Softphone:
    """One baresip registered as ``extension`` with the PBX of ``settings``."""

    settings: Settings
    extension: str
    password: str
    sip_port: int = field(default_factory=ports.free_port)
    ctrl_port: int = field(default_factory=ports.free_port)
    events: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""
    _sock: socket.socket | None = None

    @property
    def name(self) -> str:
        return f"baresip-{self.extension}"

    @property
    def config_dir(self) -> Path:
        return self.settings.var_dir / "softphones" / self.extension

    def write_config(self) -> None:
        module_dir = _module_dir()
        if module_dir is None or shutil.which(BINARY) is None:
            raise SoftphoneError("baresip is not installed: apt-get install baresip-core")
        conf = self.config_dir
        conf.mkdir(parents=True, exist_ok=True)
        voice = conf / "voice.wav"
        if not voice.exists():
            _voice(voice)
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            "call_local_timeout 120",
            f"audio_source aufile,{voice}",
            "audio_player aubridge,nowhere",
            "audio_alert aubridge,nowhere",
            f"module_path {module_dir}",
            *(f"module {m}" for m in MODULES),
            *(f"module_app {m}" for m in APP_MODULES),
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
        ]
        (conf / "config").write_text("\n".join(lines) + "\n")
        account = (
            f"<sip:{self.extension}@127.0.0.1:{self.settings.sip_port}>"
            f";auth_pass={self.password};answermode=auto;regint=60;audio_codecs=pcmu,pcma\n"
        )
        path = conf / "accounts"
        path.write_text(account)
        path.chmod(0o600)
        (conf / "contacts").write_text("")

    def start(self, timeout: float = 15) -> None:
        """Start baresip and connect to its control port (registration is the PBX's to report)."""
        self.write_config()
        procs.spawn(self.settings, self.name, [BINARY, "-f", str(self.config_dir)])
        if not procs.wait_until(lambda: self._running() and procs.tcp_open("127.0.0.1", self.ctrl_port), timeout):
            self.stop()
            log = procs.log_path(self.settings, self.name)
            raise SoftphoneError(f"baresip {self.extension} did not start; see {log}")
        self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5)

    def _running(self) -> bool:
        if procs.running_pid(self.settings, self.name) is None:
            raise SoftphoneError(f"baresip {self.extension} exited; see {procs.log_path(self.settings, self.name)}")
        return True

    def stop(self) -> bool:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return procs.stop(self.settings, self.name, timeout=5)

    def command(self, command: str, params: str = "", timeout: float = 5) -> dict[str, Any]:
        """One ctrl_tcp command; its response (events that arrive meanwhile are kept in ``events``)."""
        if self._sock is None:
            raise SoftphoneError("the phone is not started")
        token = f"t{len(self.events)}-{command}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(_netstring(body))
        self._sock.settimeout(timeout)
        while True:
            message = self._read()
            if message.get("response") and message.get("token") == token:
                return message
            self.events.append(message)

    def poll_events(self, wait_s: float = 0.0) -> list[dict[str, Any]]:
        """Events that have arrived (waiting up to ``wait_s`` for the first)."""
        if self._sock is None:
            raise SoftphoneError("the phone is not started")
        self._sock.settimeout(max(wait_s, 0.001))
        while True:
            try:
                message = self._read()
            except TimeoutError:
                return self.events
            if not message.get("response"):
                self.events.append(message)
            self._sock.settimeout(0.001)

    def _read(self) -> dict[str, Any]:
        assert self._sock is not None
        while True:
            head, sep, rest = self._buffer.partition(b":")
            if sep and head.isdigit() and len(rest) > int(head):
                size = int(head)
                payload, self._buffer = rest[:size], rest[size + 1 :]
                return json.loads(payload)
            chunk = self._sock.recv(65536)
            if not chunk:
                raise SoftphoneError(f"baresip {self.extension} closed its control connection")
            self._buffer += chunk

    def dial(self, number: str) -> dict[str, Any]:
        return self.command("dial", number)

    def hangup(self) -> dict[str, Any]:
        return self.command("hangup")

    def event_types(self) -> list[str]:
        return [str(e.get("type", "")) for e in self.poll_events()]
