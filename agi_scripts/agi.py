"""pyst2's AGI class made safe for a threaded FastAGI server on Python 3.

pyst2 0.5.1 assumes a process per call on stdin/stdout. Over a socket in a thread:
- its constructor installs a SIGHUP handler, which raises outside the main thread;
  FastAGI reports a hangup with a ``HANGUP`` line on the socket instead;
- it writes debug lines for every command to stderr;
- ``_quote`` does not escape quotes or backslashes;
- an unsolicited ``HANGUP`` line, end of file or a ``511`` (dead channel) reply
  surface as unknown errors instead of a hangup.
"""

from __future__ import annotations

import io
from typing import TextIO

from asterisk.agi import (
    AGI,
    AGIAppError,
    AGIHangup,
    AGIInvalidCommand,
    AGIResultHangup,
    AGIUnknownError,
    AGIUsageError,
    re_code,
    re_kv,
)

__all__ = ["AGIHangup", "SocketAGI"]


def quote(value: object) -> str:
    """An AGI argument in double quotes; pyst2's own quoting escapes neither quotes nor backslashes."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{text}"'


def add_env_line(env: dict[str, str], line: str) -> None:
    """One ``agi_name: value`` line of the session's opening block."""
    key, _, value = line.partition(":")
    if key.strip():
        env[key.strip()] = value.strip()


def env_value(env: dict[str, str], name: str, default: str = "") -> str:
    """An environment value, with Asterisk's ``unknown`` read as absent."""
    value = env.get(name, default)
    return default if value == "unknown" else value


def interpret(lines: list[str]) -> dict:
    """Asterisk's reply to one command (one line, or a ``520-`` usage block) as pyst2 returns it.

    ``{"result": (value, data), other_key: (value, data)}``; errors raise pyst2's exceptions,
    and ``511`` (the channel is dead) is a hangup.
    """
    if len(lines) == 1 and (plain := _plain_success(lines[0])) is not None:
        return plain
    match = re_code.search(lines[0])
    code, response = (int(match.group(1)), match.group(2)) if match and match.group(1) else (0, "")
    if code == 200:
        result: dict = {"result": ("", "")}
        for key, value, data in re_kv.findall(response):
            result[key] = (value, data)
            if data == "hangup":
                raise AGIResultHangup("User hungup during execution")
            if key == "result" and value == "-1":
                raise AGIAppError("Error executing application, or hangup")
        return result
    if code == 510:
        raise AGIInvalidCommand(response)
    if code == 511:
        raise AGIHangup("command on a dead channel")
    if code == 520:
        raise AGIUsageError("\n".join(lines) + "\n")
    raise AGIUnknownError(code, "Unhandled code or undefined response")


def _plain_success(line: str) -> dict | None:
    """``200 result=49 endpos=8000``, nearly every reply, read as ``interpret`` reads it in half its time;
    None for anything else: data in parentheses, a failure, a key or value not plain."""
    if not line.startswith("200 result=") or "(" in line:
        return None
    result: dict = {}
    for pair in line[4:].split():
        key, _, value = pair.partition("=")
        if not value or not key.isidentifier() or "=" in value:
            return None
        result[key] = (value, "")
    return None if result["result"][0] == "-1" else result


class _HangupAwareReader:
    """Reads AGI lines, swallowing the asynchronous ``HANGUP`` notice and turning EOF into a hangup."""

    def __init__(self, stream: TextIO, agi: SocketAGI) -> None:
        self._stream = stream
        self._agi = agi

    def readline(self) -> str:
        while True:
            line = self._stream.readline()
            if line == "":
                raise AGIHangup("connection closed by Asterisk")
            if line.strip() == "HANGUP":
                self._agi.hung_up = True
                continue
            return line


class SocketAGI(AGI):
    def __init__(self, rfile: TextIO, wfile: TextIO) -> None:
        self.stdin = _HangupAwareReader(rfile, self)
        self.stdout = wfile
        self.stderr = io.StringIO()  # pyst2 writes debug lines here; nothing reads them
        self._got_sighup = False
        self.hung_up = False
        self.env: dict[str, str] = {}
        self._get_agi_env()

    def _get_agi_env(self) -> None:
        while line := self.stdin.readline().rstrip("\r\n"):
            add_env_line(self.env, line)

    def _quote(self, string: object) -> str:
        return quote(string)

    def send_command(self, command: str, *args: object) -> None:
        line = " ".join([command.strip(), *map(str, args)]).strip()
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def get_result(self, stdin: object = None) -> dict:
        """pyst2's parsing without its per-command debug formatting (a tenth of a session's time)."""
        lines = [self.stdin.readline().strip()]
        if lines[0].startswith("520"):
            while not lines[-1].startswith("520 "):
                lines.append(self.stdin.readline().strip())
        return interpret(lines)

    def execute(self, command: str, *args: object) -> dict:
        try:
            return super().execute(command, *args)
        except AGIHangup:
            raise
        except AGIAppError as exc:
            # "result=-1" means failure *or* hangup, and Asterisk's HANGUP notice may come later:
            # ask the channel before calling it an error.
            if self.hung_up or self._channel_gone():
                raise AGIHangup(str(exc)) from exc
            raise
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise AGIHangup("connection lost") from exc

    def _channel_gone(self) -> bool:
        try:
            self.send_command("CHANNEL STATUS")
            status = self.get_result()["result"][0]
        except (AGIHangup, AGIAppError, AGIUnknownError, OSError):
            return True
        return self.hung_up or status in ("-1", "")

    def env_get(self, name: str, default: str = "") -> str:
        return env_value(self.env, name, default)
