"""Operators' queue commands carried out by the queue manager (``queue_manager.commands``) on a fake AMI.

The fake answers like Asterisk 22's app_queue (replies and error texts seen on the real PBX); the
real-PBX path is ``tests/integration/test_softphones_e2e.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from panoramisk.actions import Action
from panoramisk.message import Message

from alo185.core import bus, db
from alo185.core.settings import Settings
from alo185.operators import phones, queue_commands
from alo185.org import accounts
from alo185.org.models import User
from queue_manager import commands
from tests.staff import PASSWORD

QUEUES = ("su", "genel", "muhtar", "zabita")


class FakeAsterisk:
    """Queue members and SIP contacts, and the AMI replies an app_queue of Asterisk 22 gives."""

    def __init__(self) -> None:
        self.authenticated = True
        self.members: dict[tuple[str, str], dict[str, Any]] = {}  # (queue, interface) -> member
        self.contacts: list[dict[str, str]] = []
        self.sent: list[dict[str, Any]] = []
        self.callbacks: dict[str, list[Any]] = {}

    def register_event(self, pattern: str, callback: Any) -> None:
        self.callbacks.setdefault(pattern, []).append(callback)

    def emit(self, event: dict[str, str]) -> None:
        for callback in self.callbacks.get(event["Event"], []):
            callback(self, Message(event))

    def send_action(self, fields: dict[str, Any], as_list: bool | None = None) -> asyncio.Future:
        self.sent.append(dict(fields))
        future = asyncio.get_running_loop().create_future()
        future.set_result(self._reply(dict(fields)))
        return future

    def actions(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.sent if a["Action"] == name]

    def _reply(self, f: dict[str, Any]) -> Any:
        ok = Message({"Response": "Success", "Message": "done"})
        action, key = f["Action"], (f.get("Queue", ""), f.get("Interface", ""))
        if action == "QueueStatus":
            listed = [
                Message({"Event": "QueueMember", "Queue": q, "Name": m["name"], "Location": i, "StateInterface": i,
                         "Penalty": str(m["penalty"]), "Paused": "1" if m["paused"] else "0",
                         "PausedReason": m["reason"]})
                for (q, i), m in sorted(self.members.items()) if i == f.get("Member")
            ]  # fmt: skip
            return [Message({"Response": "Success", "EventList": "start"}), *listed]
        if action == "PJSIPShowContacts":
            if not self.contacts:  # no list at all, as Asterisk 22 answers
                return Message({"Response": "Error", "Message": "No Contacts found"})
            start = Message({"Response": "Success", "EventList": "start"})
            return [start, *(Message({"Event": "ContactList", **c}) for c in self.contacts)]
        if action == "QueueAdd":
            if key[0] not in QUEUES:
                return Message({"Response": "Error", "Message": "Unable to add interface to queue: No such queue"})
            if key in self.members:
                return Message({"Response": "Error", "Message": "Unable to add interface: Already there"})
            paused = f.get("Paused") == "true"
            self.members[key] = {"name": f["MemberName"], "penalty": int(f.get("Penalty", 0)), "paused": paused,
                                 "reason": f.get("Reason", "") if paused else ""}  # fmt: skip
            return Message({"Response": "Success", "Message": "Added interface to queue"})
        if action == "QueueRemove":
            if self.members.pop(key, None) is None:
                return Message({"Response": "Error", "Message": "Unable to remove interface: Not there"})
            return ok
        if action == "QueuePenalty":
            self.members[key]["penalty"] = int(f["Penalty"])
            return ok
        if action == "QueuePause":
            found = [m for (q, i), m in self.members.items() if i == f["Interface"]]
            if not found:
                return Message({"Response": "Error", "Message": "Interface not found"})
            for m in found:
                m["paused"], m["reason"] = f["Paused"] == "true", f.get("Reason", "")
            return ok
        return ok  # Setvar


@pytest.fixture
def sessions(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'alo185.db'}"
    db.migrate(url)
    factory = db.session_factory(url)
    with factory.begin() as s:
        ayse = accounts.create_user(s, "ayse", role="operator", password=PASSWORD)  # 1001
        phones.set_skills(s, ayse, {"su": 0, "genel": 1})
        accounts.create_user(s, "yeni", role="operator", password=PASSWORD)  # 1002, no skills yet
    return factory


def _cmd(action: str, extension: str = "1001", reason: str = "") -> dict[str, Any]:
    return queue_commands.make(action, extension, reason=reason, by="test")


def _run(pbx: FakeAsterisk, sessions: Any, *cmds: dict[str, Any]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        handler = commands.Commands(pbx, cast(aioredis.Redis, None), sessions)  # these commands never reach Redis
        return [await handler.execute(c) for c in cmds]

    return asyncio.run(go())


def test_login_joins_each_skill_queue_with_its_penalty_and_a_second_login_applies_changed_skills(sessions) -> None:
    pbx = FakeAsterisk()
    [done] = _run(pbx, sessions, _cmd("login"))
    assert done["ok"] and done["queues"] == {"genel": 1, "su": 0}, done
    adds = {a["Queue"]: a for a in pbx.actions("QueueAdd")}
    assert set(adds) == {"su", "genel"}
    assert adds["genel"] == {
        "Action": "QueueAdd", "Queue": "genel", "Interface": "PJSIP/1001", "StateInterface": "PJSIP/1001",
        "MemberName": "ayse", "Penalty": 1, "Paused": "false",
    }  # fmt: skip
    with sessions.begin() as s:
        phones.set_skills(s, s.get(User, 1), {"genel": 2, "muhtar": 0})
    pbx.sent.clear()
    [again] = _run(pbx, sessions, _cmd("refresh"))  # what a change of skills sends: a logged-in operator logs in again
    assert again["ok"] and again["queues"] == {"genel": 2, "muhtar": 0}
    assert [(a["Action"], a["Queue"]) for a in pbx.sent if a["Action"] != "QueueStatus"] == [
        ("QueuePenalty", "genel"),
        ("QueueAdd", "muhtar"),
        ("QueueRemove", "su"),
    ]
    assert {q: m["penalty"] for (q, _i), m in pbx.members.items()} == {"genel": 2, "muhtar": 0}


def test_pause_with_a_reason_in_every_queue_unpause_and_logout(sessions) -> None:
    pbx = FakeAsterisk()
    results = _run(pbx, sessions, _cmd("login"), _cmd("pause", reason="Eğitim"))
    assert [r["ok"] for r in results] == [True, True] and results[1]["message"] == "paused (egitim)"
    [pause] = pbx.actions("QueuePause")
    assert pause == {"Action": "QueuePause", "Interface": "PJSIP/1001", "Paused": "true", "Reason": "egitim"}
    assert all(m["paused"] and m["reason"] == "egitim" for m in pbx.members.values())
    # A queue joined while paused is joined paused, with the same reason.
    with sessions.begin() as s:
        phones.set_skills(s, s.get(User, 1), {"su": 0, "genel": 1, "zabita": 3})
    _run(pbx, sessions, _cmd("login"))
    assert pbx.members[("zabita", "PJSIP/1001")] == {"name": "ayse", "penalty": 3, "paused": True, "reason": "egitim"}
    [unpaused] = _run(pbx, sessions, _cmd("unpause"))
    assert unpaused["ok"] and not any(m["paused"] for m in pbx.members.values())
    assert "Reason" not in pbx.actions("QueuePause")[-1]
    out, again, paused, refresh = _run(
        pbx, sessions, _cmd("logout"), _cmd("logout"), _cmd("pause", reason="mola"), _cmd("refresh")
    )
    assert out["ok"] and out["message"] == "logged out" and pbx.members == {}
    assert refresh["ok"] and refresh["message"].startswith("not logged in") and pbx.members == {}
    assert again["ok"] and again["message"] == "was not logged in"
    assert not paused["ok"] and "not logged in" in paused["message"]


def test_what_cannot_be_done_is_refused_with_the_reason(sessions) -> None:
    pbx = FakeAsterisk()
    stale = {**_cmd("login"), "ts": time.time() - queue_commands.COMMAND_TTL_S - 1}
    no_skills, nobody, expired, malformed = _run(pbx, sessions, _cmd("login", "1002"), _cmd("login", "1009"), stale, {})
    assert not no_skills["ok"] and "no queue skills" in no_skills["message"]
    assert not nobody["ok"] and "no active operator has extension 1009" in nobody["message"]
    assert not expired["ok"] and "expired" in expired["message"]
    assert not malformed["ok"]
    assert pbx.sent == []  # none of them reached the PBX
    with sessions.begin() as s:
        phones.set_skills(s, s.get(User, 2), {"su": 0, "cenaze": 1})
    pbx.members[("su", "PJSIP/1002")] = {"name": "yeni", "penalty": 0, "paused": False, "reason": ""}  # a race
    [missing_queue] = _run(pbx, sessions, _cmd("login", "1002"))  # 'cenaze' is not in this fake PBX
    assert not missing_queue["ok"] and "No such queue" in missing_queue["message"]
    pbx.authenticated = False
    [down] = _run(pbx, sessions, _cmd("logout"))
    assert not down["ok"] and "not connected" in down["message"]
    for bad in (("dance", "1001", ""), ("pause", "1001", "uyku"), ("login", "", "")):
        with pytest.raises(queue_commands.CommandError):
            queue_commands.make(bad[0], bad[1], reason=bad[2])


def test_panoramisk_would_wait_forever_on_queue_add_unless_told_it_has_one_response() -> None:
    """panoramisk 1.4 takes "Added interface to queue" for the start of a list; ``ami.action`` sends as_list=False."""

    async def go() -> tuple[bool, bool]:
        reply = Message({"Response": "Success", "Message": "Added interface to queue"})
        guessed, single = Action({"Action": "QueueAdd"}), Action({"Action": "QueueAdd"}, as_list=False)
        guessed.add_message(reply)
        single.add_message(reply)
        return guessed.future.done(), single.future.done()

    assert asyncio.run(go()) == (False, True)


def test_commands_from_the_stream_and_from_feature_codes_and_the_phones_registrations(
    redis_settings: Settings, sessions
) -> None:
    pbx = FakeAsterisk()
    pbx.contacts = [{"Aor": "1001", "Status": "Reachable", "Uri": "sip:1001@127.0.0.1:5070", "UserAgent": "baresip"}]
    sync = bus.connect(redis_settings.redis_connection_url)
    sync.hset(bus.PHONES, "9999", "{}")  # stale: gone after the refresh

    async def go() -> dict[str, Any]:
        client = aioredis.Redis.from_url(redis_settings.redis_connection_url, decode_responses=True)
        handler = commands.start(pbx, client, sessions)
        out: dict[str, Any] = {}
        out["login"] = await asyncio.to_thread(queue_commands.run, sync, _cmd("login"), 5)
        out["phones"] = sync.hgetall(bus.PHONES)
        pbx.emit({"Event": "UserEvent", "UserEvent": "Alo185Operator", "Action": "pause", "Reason": "toplanti",
                  "Endpoint": "1001", "Channel": "PJSIP/1001-00000007"})  # fmt: skip
        pbx.emit({"Event": "UserEvent", "UserEvent": "Alo185Operator", "Action": "dance", "Reason": "",
                  "Endpoint": "1001", "Channel": "PJSIP/1001-00000008"})  # fmt: skip
        pbx.emit({"Event": "UserEvent", "UserEvent": "Alo185Call", "Stage": "start"})  # not ours
        pbx.emit({"Event": "ContactStatus", "AOR": "1002", "ContactStatus": "Created", "URI": "sip:1002@x",
                  "Timestamp": "1795270000.5"})  # fmt: skip
        pbx.emit({"Event": "ContactStatus", "AOR": "1001", "ContactStatus": "Removed", "URI": "sip:1001@x"})
        for _ in range(100):
            if len(pbx.actions("Setvar")) == 2 and handler.done == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        out["phones_after"] = sync.hgetall(bus.PHONES)
        out["registered"] = {ext: queue_commands.registration(sync, ext)["registered"] for ext in ("1001", "1002")}
        pbx.contacts = []  # after an AMI reconnect: nobody is registered any more
        pbx.emit({"Event": "FullyBooted"})
        for _ in range(100):
            if not sync.hgetall(bus.PHONES):
                break
            await asyncio.sleep(0.05)
        out["phones_at_last"] = sync.hgetall(bus.PHONES)
        await client.aclose()
        return out

    out = asyncio.run(go())
    assert out["login"]["ok"] and out["login"]["queues"] == {"genel": 1, "su": 0}
    assert set(out["phones"]) == {"1001"} and json.loads(out["phones"]["1001"])["status"] == "Reachable"
    assert out["registered"] == {"1001": False, "1002": True}  # 1001 removed since
    after = {ext: json.loads(raw) for ext, raw in out["phones_after"].items()}
    assert after == {"1002": {"status": "Created", "uri": "sip:1002@x", "user_agent": "", "at": 1795270000.5}}
    assert out["phones_at_last"] == {}
    assert all(m["paused"] and m["reason"] == "toplanti" for m in pbx.members.values())
    told = {a["Channel"]: a["Value"] for a in pbx.actions("Setvar")}
    assert told == {"PJSIP/1001-00000007": "ok", "PJSIP/1001-00000008": "error"}
    assert all(a["Variable"] == "ALO185_RESULT" for a in pbx.actions("Setvar"))
    # Every command went through the one stream, the phone's too, and each was acknowledged.
    entries = [queue_commands.decode(fields) for _id, fields in cast(bus.Entries, sync.xrange(bus.QUEUE_COMMANDS))]
    assert [(e["action"], e["by"]) for e in entries if e] == [("login", "test"), ("pause", "phone 1001")]
    assert sync.xpending(bus.QUEUE_COMMANDS, commands.GROUP)["pending"] == 0
