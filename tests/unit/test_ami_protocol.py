"""The queue manager's AMI protocol reads the same messages as panoramisk's, and keeps split UTF-8 characters."""

from __future__ import annotations

import asyncio

import pytest
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from alo185.core.ami_protocol import EOL, AmiProtocol, parse
from bench.ami import load_stream, wired_manager


def _same(ours: Message | None, theirs: Message | None) -> None:
    if theirs is None:
        assert ours is None
        return
    assert ours is not None
    assert type(ours) is type(theirs)
    assert ours._store == theirs._store
    assert vars(ours).keys() == vars(theirs).keys()  # its ``manager`` is whichever dispatched it
    assert type(ours.manager) is type(theirs.manager)


@pytest.fixture(scope="module")
def recorded() -> bytes:
    return load_stream(quick=False)


def test_every_message_of_a_recorded_stream_is_read_as_panoramisk_reads_it(recorded: bytes) -> None:
    blocks = [block.strip() for block in recorded.decode().split(EOL + EOL)][:-1]
    assert len(blocks) > 1000
    for block in blocks:
        _same(parse(block), Message.from_line(block))


@pytest.mark.parametrize(
    "block",
    [
        "Event: AgentCalled\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nDestChanVariable: C=3\r\nQueue: su",
        "Event: X\r\nchanvariable: a\r\nChanVariable: b",  # the same name in two cases
        "Event: UserEvent\r\nMessage: Not: a header",  # ": " in a value
        "Response: Success\r\nActionID: 42\r\nMessage: Added interface to queue",
        "Response: Follows\r\nActionID: 7\r\nPrivilege: Command\r\nline one\nline two\r\n--END COMMAND--",
        "Response: Fail\r\nActionID: 8\r\nMessage: Command output follows\r\nOutput: No such command",
        "Event: AsyncAGIExec\r\nResult: 200%20result%3D1%0A",  # a quoted value
        "Event: X\r\nContent: y",  # a header the message's own content overwrites
        "Event: X\r\nPausedReason: \r\nQueue: su",  # an empty value
        "Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nMessage: Authentication accepted",
        "EVENT: X\r\nQueue: su",  # neither "Event" nor "Response" as panoramisk spells them
        "Queue: su\r\nno header here",
        "Event: X\r\nEVENT: Y",
        "",
    ],
)
def test_special_messages_are_read_as_panoramisk_reads_them(block: str) -> None:
    _same(parse(block), Message.from_line(block))


def _received(protocol_factory: type[AMIProtocol], chunks: list[bytes]) -> list[Message]:
    """What a manager dispatches when its protocol receives ``chunks``."""

    async def run() -> list[Message]:
        manager = wired_manager(protocol_factory)
        protocol = manager.protocol
        seen: list[Message] = []
        manager.register_event("*", lambda _manager, message: seen.append(message))
        for chunk in chunks:
            protocol.data_received(chunk)
        manager.close()
        return seen

    return asyncio.run(run())


@pytest.mark.parametrize("size", [1, 7, 4096, 65536])
def test_a_stream_in_reads_of_any_size_gives_the_same_events(recorded: bytes, size: int) -> None:
    data = recorded[:60_000] if size < 100 else recorded
    whole = _received(AMIProtocol, [data])
    split = _received(AmiProtocol, [data[i : i + size] for i in range(0, len(data), size)])
    assert len(split) == len(whole) > 50
    for ours, theirs in zip(split, whole, strict=True):
        _same(ours, theirs)


def test_a_turkish_name_split_between_two_reads_is_kept() -> None:
    data = "Event: Newchannel\r\nCallerIDName: Şükrü Öztürk\r\nUniqueid: 1.1\r\n\r\n".encode()
    cut = data.index("Ş".encode()) + 1  # inside the two bytes of "Ş"
    (event,) = _received(AmiProtocol, [data[:cut], data[cut:]])
    assert event["CallerIDName"] == "Şükrü Öztürk"
    (dropped,) = _received(AMIProtocol, [data[:cut], data[cut:]])  # why the protocol is ours
    assert dropped["CallerIDName"] != "Şükrü Öztürk"


class _Transport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass


def test_text_read_before_the_manager_set_the_encoding_does_not_fix_it_to_ascii() -> None:
    async def run() -> Message:
        loop = asyncio.get_running_loop()
        manager = Manager(loop=loop, protocol_factory=AmiProtocol)
        protocol = AmiProtocol()
        protocol.connection_made(_Transport())
        protocol.data_received(b"Asterisk Call Manager/9.0.0\r\n")  # the greeting comes at once
        connected = loop.create_future()
        connected.set_result((protocol.transport, protocol))
        manager.connection_made(connected)
        seen: list[Message] = []
        manager.register_event("*", lambda _manager, message: seen.append(message))
        protocol.data_received("Event: QueueMemberStatus\r\nMemberName: Test operatör 1\r\n\r\n".encode())
        manager.close()
        return seen[0]

    assert asyncio.run(run())["MemberName"] == "Test operatör 1"


def test_replies_still_reach_the_actions_waiting_for_them() -> None:
    async def run() -> tuple[Message, list[str]]:
        manager = wired_manager(AmiProtocol)
        protocol = manager.protocol
        events: list[str] = []
        manager.register_event("*", lambda _manager, message: events.append(message.event))
        reply = manager.send_action({"Action": "Ping", "ActionID": "a1"}, as_list=False)
        protocol.data_received(b"Event: Newchannel\r\nUniqueid: 1.1\r\n\r\n")
        protocol.data_received(b"Response: Success\r\nActionID: a1\r\nPing: Pong\r\n\r\n")
        protocol.data_received(b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n")
        answer = await asyncio.wait_for(reply, 1)
        manager.close()
        return answer, events

    answer, events = asyncio.run(run())
    assert answer.ping == "Pong"
    assert events == ["Newchannel", "Hangup"]
