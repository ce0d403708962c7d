"""Operators' queue commands over the queue manager's AMI connection, and their phones' registrations.

Started from ``QueueManager.start`` (``commands.start(...)``):

- **Commands** (``alo185.operators.queue_commands``) are read from the stream ``alo185:queue-commands`` in the
  consumer group ``queue-manager``, carried out one at a time, answered on
  ``alo185:queue-command:<id>`` and only then acknowledged:

  - login: ``QueueAdd`` of ``PJSIP/<extension>`` (member name: the username; penalty: the skill's)
    to each queue of the operator's skills, ``QueuePenalty`` where it is already a member with another
    penalty, ``QueueRemove`` from queues no longer among the skills. Logging in again applies changed
    skills. Queues added while the operator is paused are joined paused, with the same reason;
  - logout: ``QueueRemove`` from every queue the phone is in;
  - pause / unpause: ``QueuePause`` in every queue, with the reason;
  - refresh (after ``alo185 user skills``): a login if the phone is in any queue, else nothing.

  Which queues the phone is in is asked of Asterisk (``QueueStatus`` for that member), never assumed.
- **Feature codes**: the dialplan's ``UserEvent(Alo185Operator, Action, Reason, Endpoint)`` becomes
  the same command on the same stream, for the calling endpoint (authenticated by Asterisk, not the
  caller id). Its outcome goes back to the phone's channel as ``ALO185_RESULT`` (``ok``/``error``,
  AMI ``Setvar``); the dialplan plays the matching prompt.
- **Registrations**: the hash ``alo185:phones`` (extension -> JSON: ``status``, ``uri``,
  ``user_agent``, ``at``) follows AMI ``ContactStatus`` and is rebuilt from ``PJSIPShowContacts``
  each time AMI (re)connects (``FullyBooted``). Updates are written in arrival order by one task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from panoramisk import Manager
from sqlalchemy.orm import Session, sessionmaker

from alo185.core import ami, bus
from alo185.operators import codes, phones, queue_commands
from alo185.operators.phones import Phone
from queue_manager.events import header

log = logging.getLogger(__name__)
GROUP = "queue-manager"
CONSUMER = "queue-manager"
OPERATOR_EVENT = "Alo185Operator"
BLOCK_MS = 2000  # below the client's socket timeout (redis-py 8: 5 s by default)
ACTION_TIMEOUT_S = 4.0
CONTACT_GONE = frozenset({"Removed"})


class Refused(RuntimeError):
    """The command cannot be carried out (no skills, not logged in…): said to the sender as is."""


def start(manager: Manager, redis: aioredis.Redis, sessions: sessionmaker[Session]) -> Commands:
    """Take commands and registrations on a logged-in manager from now on (tasks on the running loop)."""
    commands = Commands(manager, redis, sessions)
    commands.attach()
    return commands


class Commands:
    def __init__(self, manager: Manager, redis: aioredis.Redis, sessions: sessionmaker[Session]) -> None:
        self.manager, self.redis, self.sessions = manager, redis, sessions
        self.done = 0  # commands answered (for tests and inspection)
        self._tasks: set[asyncio.Task] = set()
        self._phone_updates: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def attach(self) -> None:
        self.manager.register_event("UserEvent", self.on_user_event)
        self.manager.register_event("ContactStatus", self.on_contact_status)
        self.manager.register_event("FullyBooted", self.on_fully_booted)
        self._spawn(self.serve_forever())
        self._spawn(self.write_phones_forever())
        self._spawn(self.refresh_phones())

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- commands -----------------------------------------------------------------------------

    async def serve_forever(self) -> None:
        """This consumer's unanswered commands first (a crash mid-command), then new ones."""
        start, grouped = "0", False
        while True:
            try:
                if not grouped:
                    await _ensure_group(self.redis)
                    grouped = True
                replies = cast(
                    bus.ReadReply,
                    await self.redis.xreadgroup(
                        GROUP, CONSUMER, {bus.QUEUE_COMMANDS: start}, count=20, block=None if start == "0" else BLOCK_MS
                    ),
                )
            except aioredis.ResponseError as exc:  # NOGROUP: Redis lost the group (restarted without persistence)
                log.warning("queue commands: %s", exc)
                grouped = False
                await asyncio.sleep(1)
                continue
            except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                log.warning("Redis unavailable for queue commands: %s", exc)
                await asyncio.sleep(1)
                continue
            messages = [m for _stream, batch in replies or [] for m in batch]
            if start == "0" and not messages:
                start = ">"
            for msg_id, fields in messages:
                command = queue_commands.decode(fields) if fields else None
                result = await self.execute(command)
                try:
                    await self.answer(command, result)
                    await self.redis.xack(bus.QUEUE_COMMANDS, GROUP, msg_id)
                except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                    log.warning("queue command %s not answered: %s", msg_id, exc)

    async def execute(self, command: dict[str, Any] | None, now: float | None = None) -> dict[str, Any]:
        if not command or command.get("action") not in queue_commands.ACTIONS:
            return {"ok": False, "message": "malformed command"}
        base = {"id": command.get("id", ""), "action": command["action"], "extension": command.get("extension", "")}
        if (now or time.time()) - float(command.get("ts") or 0) > queue_commands.COMMAND_TTL_S:
            return {**base, "ok": False, "message": "expired: the queue manager took it too late"}
        if not self.manager.authenticated:
            return {**base, "ok": False, "message": "the PBX is not connected"}
        phone = await asyncio.to_thread(self._phone, str(command.get("extension", "")))
        if phone is None:
            return {**base, "ok": False, "message": f"no active operator has extension {base['extension']}"}
        try:
            message, queues = await getattr(self, f"_{command['action']}")(phone, command)
        except Refused as refused:
            return {**base, "ok": False, "message": str(refused)}
        except (ami.AmiError, TimeoutError) as exc:
            log.warning("queue command %s for %s failed: %s", command["action"], phone.extension, exc)
            return {**base, "ok": False, "message": f"the PBX refused: {exc}"}
        log.info("%s: %s (%s, by %s)", phone.username, message, phone.interface, command.get("by") or "?")
        return {**base, "ok": True, "message": message, "queues": queues}

    def _phone(self, extension: str) -> Phone | None:
        with self.sessions() as session:
            return phones.by_extension(session, extension)

    async def _action(self, fields: dict[str, Any]) -> None:
        await ami.action(self.manager, fields, timeout=ACTION_TIMEOUT_S)

    async def member_of(self, interface: str) -> dict[str, dict[str, Any]]:
        """The queues ``interface`` is a member of now: queue -> penalty, paused, reason (from Asterisk)."""
        replies = await ami.list_action(self.manager, {"Action": "QueueStatus", "Member": interface}, ACTION_TIMEOUT_S)
        found = {}
        for ev in replies:
            if header(ev, "Event") != "QueueMember":
                continue
            if interface not in (header(ev, "Location"), header(ev, "Interface"), header(ev, "StateInterface")):
                continue
            found[header(ev, "Queue")] = {
                "penalty": int(header(ev, "Penalty") or 0),
                "paused": header(ev, "Paused") == "1",
                "reason": header(ev, "PausedReason"),
            }
        return found

    async def _login(self, phone: Phone, _command: dict[str, Any]) -> tuple[str, dict[str, int]]:
        if not phone.skills:
            raise Refused(f"{phone.username} has no queue skills (alo185 user skills {phone.username} QUEUE:PENALTY…)")
        current = await self.member_of(phone.interface)
        paused = next((m for m in current.values() if m["paused"]), None)
        for queue, penalty in phone.skills.items():
            if queue in current:
                if current[queue]["penalty"] != penalty:
                    await self._action(
                        {"Action": "QueuePenalty", "Queue": queue, "Interface": phone.interface, "Penalty": penalty}
                    )
                continue
            add = {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": phone.interface,
                "StateInterface": phone.interface,
                "MemberName": phone.username,
                "Penalty": penalty,
                "Paused": "true" if paused else "false",
            }
            if paused and paused["reason"]:
                add["Reason"] = paused["reason"]
            try:
                await self._action(add)
            except ami.AmiError as exc:
                if "Already there" not in str(exc):
                    raise
        for queue in set(current) - set(phone.skills):
            await self._remove(queue, phone.interface)
        return f"logged in to {', '.join(sorted(phone.skills))}", dict(phone.skills)

    async def _refresh(self, phone: Phone, command: dict[str, Any]) -> tuple[str, dict[str, int]]:
        """After a change of skills: a logged-in operator logs in again; anyone else at their next log-in."""
        if not await self.member_of(phone.interface):
            return "not logged in: the skills apply at the next log-in", dict(phone.skills)
        return await self._login(phone, command)

    async def _remove(self, queue: str, interface: str) -> None:
        try:
            await self._action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})
        except ami.AmiError as exc:
            if "Not there" not in str(exc):
                raise

    async def _logout(self, phone: Phone, _command: dict[str, Any]) -> tuple[str, dict[str, int]]:
        current = await self.member_of(phone.interface)
        for queue in current:
            await self._remove(queue, phone.interface)
        return ("logged out" if current else "was not logged in"), {}

    async def _pause(self, phone: Phone, command: dict[str, Any]) -> tuple[str, dict[str, int]]:
        return await self._set_paused(phone, True, str(command.get("reason") or codes.DEFAULT_PAUSE.code))

    async def _unpause(self, phone: Phone, _command: dict[str, Any]) -> tuple[str, dict[str, int]]:
        return await self._set_paused(phone, False, "")

    async def _set_paused(self, phone: Phone, paused: bool, reason: str) -> tuple[str, dict[str, int]]:
        current = await self.member_of(phone.interface)
        if not current:
            raise Refused(f"{phone.username} is not logged in to any queue")
        fields = {"Action": "QueuePause", "Interface": phone.interface, "Paused": "true" if paused else "false"}
        if reason:
            fields["Reason"] = reason
        await self._action(fields)  # no Queue: in every queue the interface is in
        return (f"paused ({reason})" if paused else "unpaused"), {q: m["penalty"] for q, m in current.items()}

    async def answer(self, command: dict[str, Any] | None, result: dict[str, Any]) -> None:
        """The result to whoever waits for it: the API on a list, the phone on its channel."""
        self.done += 1
        if command and command.get("id"):
            key = queue_commands.result_key(str(command["id"]))
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, json.dumps(result, ensure_ascii=False))
                pipe.expire(key, queue_commands.RESULT_TTL_S)
                await pipe.execute()
        if command and command.get("channel"):
            await self.tell_phone(str(command["channel"]), bool(result.get("ok")))
        if not result.get("ok"):
            log.info("queue command refused: %s", result)

    async def tell_phone(self, channel: str, ok: bool) -> None:
        try:
            await self._action(
                {"Action": "Setvar", "Channel": channel, "Variable": "ALO185_RESULT", "Value": "ok" if ok else "error"}
            )
        except (ami.AmiError, TimeoutError) as exc:  # the phone hung up meanwhile
            log.info("could not tell %s the outcome: %s", channel, exc)

    def on_user_event(self, _manager: Manager, message: Mapping[str, Any]) -> None:
        """A feature code dialled on an operator's phone: the same command as the console's."""
        if header(message, "UserEvent") != OPERATOR_EVENT:
            return
        channel, endpoint = header(message, "Channel"), header(message, "Endpoint")
        try:
            command = queue_commands.make(
                header(message, "Action"), endpoint, reason=header(message, "Reason"), by=f"phone {endpoint}"
            )
        except queue_commands.CommandError as exc:
            log.warning("feature code from %s refused: %s", channel, exc)
            self._spawn(self.tell_phone(channel, False))
            return
        self._spawn(self._enqueue({**command, "channel": channel}))

    async def _enqueue(self, command: dict[str, Any]) -> None:
        try:
            fields = queue_commands.encode(command)
            # redis-py types ``fields`` as a dict of its own unions: invariant, so a dict[str, str] is refused
            await self.redis.xadd(bus.QUEUE_COMMANDS, fields, maxlen=100_000, approximate=True)  # type: ignore[arg-type]
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            log.warning("feature code from %s lost, Redis unavailable: %s", command["channel"], exc)
            await self.tell_phone(command["channel"], False)

    # ---- registrations ------------------------------------------------------------------------

    def on_contact_status(self, _manager: Manager, message: Mapping[str, Any]) -> None:
        aor = header(message, "AOR")
        if not aor:
            return
        status = header(message, "ContactStatus")
        if status in CONTACT_GONE:
            self._phone_updates.put_nowait(("remove", aor))
            return
        entry = _entry(status, header(message, "URI"), header(message, "UserAgent"), _ts(message))
        self._phone_updates.put_nowait(("set", (aor, entry)))

    def on_fully_booted(self, _manager: Manager, _message: object) -> None:
        """After every AMI login: the contacts may have changed while we were away."""
        self._spawn(self.refresh_phones())

    async def refresh_phones(self) -> None:
        # Without contacts Asterisk answers one "Error: No Contacts found" and no list, which a list action
        # would wait for forever: panoramisk's own guess (a list only after "EventList: start") handles both.
        try:
            reply = await asyncio.wait_for(self.manager.send_action({"Action": "PJSIPShowContacts"}), 10)
        except TimeoutError:
            log.warning("could not list the SIP contacts: no answer from AMI")
            return
        replies = reply if isinstance(reply, list) else [reply]
        refused = not isinstance(reply, list) and header(reply, "Response") != "Success"
        if refused and "No Contacts" not in header(reply, "Message"):
            log.warning("could not list the SIP contacts: %s", header(reply, "Message"))
            return
        now = time.time()
        contacts = {
            header(ev, "Aor"): _entry(header(ev, "Status"), header(ev, "Uri"), header(ev, "UserAgent"), now)
            for ev in replies
            if header(ev, "Event") == "ContactList" and header(ev, "Aor")
        }
        self._phone_updates.put_nowait(("replace", contacts))

    async def write_phones_forever(self) -> None:
        while True:
            kind, value = await self._phone_updates.get()
            while True:
                try:
                    await self._write_phone(kind, value)
                    break
                except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                    log.warning("Redis unavailable for the phones' registrations: %s", exc)
                    await asyncio.sleep(1)

    async def _write_phone(self, kind: str, value: Any) -> None:
        if kind == "remove":
            await self.redis.hdel(bus.PHONES, value)
        elif kind == "set":
            await self.redis.hset(bus.PHONES, value[0], value[1])
        else:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(bus.PHONES)
                if value:
                    pipe.hset(bus.PHONES, mapping=value)
                await pipe.execute()


def _entry(status: str, uri: str, user_agent: str, at: float) -> str:
    return json.dumps({"status": status, "uri": uri, "user_agent": user_agent, "at": at}, ensure_ascii=False)


def _ts(message: Mapping[str, Any]) -> float:
    try:
        return float(header(message, "Timestamp"))
    except ValueError:
        return time.time()


async def _ensure_group(client: aioredis.Redis) -> None:
    try:
        # From the start of the stream: a command sent while the group was being made is not skipped (the old
        # ones are answered as expired).
        await client.xgroup_create(bus.QUEUE_COMMANDS, GROUP, id="0", mkstream=True)
    except aioredis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
