"""The /ivr script over the protocol: prompt, key, queue variables, the call event."""

from __future__ import annotations

from agi_scripts import ivr
from tests.unit.test_agi_protocol import Peer
from tests.unit.test_agi_protocol import serve as serve  # the fixture


def _deps(events: list, fail: bool = False) -> ivr.IvrDeps:
    def publish(event: dict) -> None:
        if fail:
            raise ConnectionError("redis down")
        events.append(event)

    return ivr.IvrDeps(publish=publish, prompt=lambda lang, name: f"/snd/{lang}/{name}")


def test_key_sets_queue_and_publishes(serve) -> None:  # type: ignore[no-untyped-def]
    events: list = []
    peer = Peer(serve(ivr.run, _deps(events)))
    assert peer.command() == "GET DATA /snd/tr/alo185-hosgeldiniz 5000 1"
    peer.reply("200 result=1")
    assert peer.command() == 'SET VARIABLE "ALO185_DIGIT" "1"'
    peer.reply("200 result=1")
    assert peer.command() == 'SET VARIABLE "ALO185_QUEUE" "su"'
    peer.reply("200 result=1")
    assert peer.closed()
    assert events[0]["type"] == "ivr" and events[0]["uniqueid"] == "1700000000.42"
    assert (events[0]["digit"], events[0]["queue"], events[0]["caller"]) == ("1", "su", "+905321234567")


def test_caller_still_routed_when_the_bus_is_down(serve) -> None:  # type: ignore[no-untyped-def]
    peer = Peer(serve(ivr.run, _deps([], fail=True)))
    peer.command()
    peer.reply("200 result= (timeout)")
    peer.command()
    peer.reply("200 result=1")
    assert peer.command() == 'SET VARIABLE "ALO185_QUEUE" "genel"'
    peer.reply("200 result=1")
    assert peer.closed()


def test_hangup_in_menu_is_recorded(serve) -> None:  # type: ignore[no-untyped-def]
    events: list = []
    peer = Peer(serve(ivr.run, _deps(events)))
    peer.command()
    peer.reply("HANGUP")
    peer.reply("200 result=-1")
    assert peer.closed()
    assert events and events[0].get("hangup") is True
