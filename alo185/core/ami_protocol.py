"""The AMI wire protocol of every connection: panoramisk's ``AMIProtocol`` with its own reading of the stream.

Two reasons, both about the reading; sending actions, matching their replies and dispatching events
stay panoramisk's:
- panoramisk decodes each socket read on its own, so a UTF-8 character split between two reads
  (a Turkish name in a ``CallerIDName``) is dropped. Here an incremental decoder carries it over.
- panoramisk builds each ``Message`` through a mapping's generic ``update``, one Python call per
  header; the queue manager takes every event Asterisk sends, and that parse was most of its work.
  Here the same ``Message`` is built in one pass. Messages that need panoramisk's special cases (a
  response with a body, a repeated header, a quoted ``Result``) are still built by
  ``Message.from_line``. ``tests/unit/test_ami_protocol.py`` compares both on a recorded stream.
"""

from __future__ import annotations

import codecs
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

EOL = "\r\n"
_WITH_BODY = ("Response: Follows", "Response: Fail")  # as ``Message.from_line`` tells them
_NONE = ("", "")


def parse(block: str) -> Message | None:
    """One message's text (its lines, without the blank line after them) as ``Message.from_line`` reads it."""
    if block.startswith(_WITH_BODY):
        return Message.from_line(block)
    parts = [line.partition(": ") for line in block.split(EOL)]
    store = {key.lower(): (key, value) for key, sep, value in parts if sep}
    if len(store) == block.count(": "):  # each header once, in any case, and no ": " in a value
        if store.get("event", _NONE)[0] != "Event" and store.get("response", _NONE)[0] != "Response":
            return None
    else:
        headers = _headers(parts)
        if "Event" not in headers and "Response" not in headers:
            return None
        store = {key.lower(): (key, value) for key, value in headers.items()}
    if "result" in store or "content" in store:  # a quoted value; a header ``content`` would overwrite
        return Message.from_line(block)
    store["content"] = ("content", "")
    message = Message.__new__(Message)
    message._store = store  # what ``CaseInsensitiveDict.__init__`` fills
    message.manager = None
    return message


def _headers(parts: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Headers by their name as sent; a repeated one (``ChanVariable``) as the list of its values."""
    headers: dict[str, Any] = {}
    for key, sep, value in parts:
        if not sep:
            continue
        held = headers.get(key)
        if held is None:
            headers[key] = value
        elif isinstance(held, list):
            held.append(value)
        else:
            headers[key] = [held, value]
    return headers


class AmiProtocol(AMIProtocol):  # type: ignore[misc]  # panoramisk ships no types: its class is Any
    """``AMIProtocol`` reading with ``parse`` and a decoder that keeps a character split between reads."""

    version: str | None  # set by ``AMIProtocol.connection_made``

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._decoding: tuple[str, Any] | None = None  # (encoding, its incremental decoder's ``decode``)
        self._rest = ""  # the start of a message whose end has not come yet

    def data_received(self, data: bytes) -> None:
        encoding = getattr(self, "encoding", "ascii")  # the manager sets it, maybe after Asterisk's greeting came
        if self._decoding is None or self._decoding[0] != encoding:
            self._decoding = (encoding, codecs.getincrementaldecoder(encoding)("ignore").decode)
        stream = getattr(self.factory, "save_stream", None)
        if stream:  # panoramisk's option to keep a copy of the stream
            super().data_received(data)
            return
        text = self._rest + self._decoding[1](data)
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            self.version = text.partition(EOL)[0].partition("/")[2].strip()
        blocks = text.split(EOL + EOL)
        self._rest = blocks.pop()
        for block in blocks:
            message = parse(block.strip())
            if message is not None:
                self.handle_message(message)

    def handle_message(self, message: Message) -> None:
        """panoramisk's, with its result known in advance for the common case: an event while no action
        waits for a reply can only be dispatched."""
        store = message._store
        if self.responses or "event" not in store:
            super().handle_message(message)
            return
        if store["event"][1].lower() == "shutdown":
            self.connection_lost(message)
        self.factory.dispatch(message)
