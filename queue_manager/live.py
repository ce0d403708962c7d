"""Live queue state from AMI: callers waiting and operators by state, per queue.

Pure: events in, a snapshot out. The queue manager rebuilds it from ``QueueStatus`` whenever it
(re)connects, so nothing stale survives an Asterisk restart, then keeps it current from events.
Operator states: available, ringing, on_call, wrap_up (after a queue call, for the queues'
``wrapuptime``), paused (with reason), unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from queue_manager.events import ABSENT, header, headers

# QueueMemberStatus "Status" (ast_device_state) -> our word; paused wins over all.
DEVICE_STATE = {"1": "available", "2": "on_call", "3": "on_call", "6": "ringing", "7": "on_call", "8": "on_call"}
_WITH_CALL = ("ringing", "on_call")  # states in which a member's call and caller are kept


def _ts(ev: Mapping[str, Any], now: float) -> float:
    try:
        return float(header(ev, "Timestamp"))
    except ValueError:
        return now


@dataclass
class Member:
    name: str
    state: str = "available"
    since: float = 0.0
    reason: str = ""
    call: str = ""  # the caller's uniqueid while ringing or on a call
    caller: str = ""
    until: float = 0.0  # when a wrap-up ends


@dataclass
class Queue:
    callers: dict[str, dict[str, Any]] = field(default_factory=dict)  # uniqueid -> caller, joined
    members: dict[str, Member] = field(default_factory=dict)  # interface -> member


class LiveState:
    def __init__(self, wrap_up_s: float = 0.0) -> None:
        self.queues: dict[str, Queue] = {}
        self.wrap_up_s = wrap_up_s  # queues.conf wrapuptime: Asterisk sends no event when it ends

    def _queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:  # not setdefault: that builds a Queue on every event only to drop it
            queue = self.queues[name] = Queue()
        return queue

    def _member(self, ev: Mapping[str, Any], now: float) -> Member:
        name = header(ev, "Queue")
        queue = self.queues.get(name)  # ``_queue`` inline: this runs for nearly every event
        if queue is None:
            queue = self.queues[name] = Queue()
        interface = header(ev, "Interface") or header(ev, "StateInterface")
        member = queue.members.get(interface)
        if member is None:
            member = queue.members[interface] = Member(header(ev, "MemberName") or interface, since=_ts(ev, now))
        return member

    def _set(self, member: Member, state: str, at: float, call: str = "", caller: str = "") -> None:
        if member.state != state:
            member.state, member.since = state, at
        member.call, member.caller = call, caller

    def apply(self, ev: Mapping[str, Any], now: float) -> bool:
        """Fold one AMI event in; True if the state changed."""
        fold = _FOLDS.get(header(ev, "Event"))
        return fold is not None and fold(self, ev, now)

    def folds(self) -> dict[str, Callable[[Mapping[str, Any], float], bool]]:
        """Event name -> its fold, bound to this state: the queue manager routes each event straight to it,
        without looking its name up again."""
        return {name: fold.__get__(self) for name, fold in _FOLDS.items()}

    def _join(self, ev: Mapping[str, Any], now: float) -> bool:
        caller = {"caller": header(ev, "CallerIDNum"), "joined": _ts(ev, now), "position": header(ev, "Position")}
        self._queue(header(ev, "Queue")).callers[header(ev, "Uniqueid")] = caller
        return True

    def _leave(self, ev: Mapping[str, Any], _now: float) -> bool:
        self._queue(header(ev, "Queue")).callers.pop(header(ev, "Uniqueid"), None)
        return True

    def _called(self, ev: Mapping[str, Any], now: float) -> bool:
        self._set(self._member(ev, now), "ringing", _ts(ev, now), header(ev, "Uniqueid"), header(ev, "CallerIDNum"))
        return True

    def _connect(self, ev: Mapping[str, Any], now: float) -> bool:
        self._set(self._member(ev, now), "on_call", _ts(ev, now), header(ev, "Uniqueid"), header(ev, "CallerIDNum"))
        return True

    def _done(self, ev: Mapping[str, Any], now: float) -> bool:
        member = self._member(ev, now)
        if member.state not in ("paused", "wrap_up"):
            self._set(member, "available", _ts(ev, now))
        return True

    def _complete(self, ev: Mapping[str, Any], now: float) -> bool:
        """A queue call ended: wrap-up in every queue of this member (shared_lastcall), then available."""
        self._member(ev, now)
        at = _ts(ev, now)
        interface = header(ev, "Interface") or header(ev, "StateInterface")
        for queue in self.queues.values():
            member = queue.members.get(interface)
            if member is None or member.state == "paused":
                continue
            if self.wrap_up_s > 0:
                self._set(member, "wrap_up", at)
                member.until = at + self.wrap_up_s
            else:
                self._set(member, "available", at)
        return True

    def next_change(self, now: float) -> float | None:
        """Seconds until the next wrap-up ends (nothing tells us when it does), None if none runs."""
        ends = [m.until for q in self.queues.values() for m in q.members.values() if m.state == "wrap_up"]
        return max(0.0, min(ends) - now) if ends else None

    def _expire(self, now: float) -> None:
        for queue in self.queues.values():
            for member in queue.members.values():
                if member.state == "wrap_up" and now >= member.until:
                    self._set(member, "available", member.until)

    def _removed(self, ev: Mapping[str, Any], _now: float) -> bool:
        self._queue(header(ev, "Queue")).members.pop(header(ev, "Interface"), None)
        return True

    def _member_status(self, ev: Mapping[str, Any], now: float) -> bool:
        """Most events are this one (one per queue of the member, for every change of its phone): kept lean.
        About half of them repeat what is held (the phone of a member of several queues changes once, the
        queues each tell); those return before the timestamp is read or the snapshot is marked stale."""
        get = headers(ev).get
        name = get("queue", ABSENT)[1]
        queue = self.queues.get(name)  # ``_member`` inline: this runs for nearly every event
        if queue is None:
            queue = self.queues[name] = Queue()
        interface = get("interface", ABSENT)[1] or get("stateinterface", ABSENT)[1]
        member = queue.members.get(interface)
        paused = get("paused", ABSENT)[1] == "1"
        state = "paused" if paused else DEVICE_STATE.get(get("status", ABSENT)[1], "unavailable")
        member_name = get("membername", ABSENT)[1]
        if (
            member is not None
            and state == member.state
            and not paused
            and not member.reason
            and (state in _WITH_CALL or not (member.call or member.caller))
            and member_name in ("", member.name)
        ):
            return False  # nothing changes: the slow path below would leave the member as it is
        at = _ts(ev, now)
        if member is None:
            member = queue.members[interface] = Member(member_name or interface, since=at)
        else:
            member.name = member_name or member.name
        if paused:
            self._set(member, "paused", at, member.call, member.caller)
            member.reason = header(ev, "PausedReason") or header(ev, "Reason")
            return True
        member.reason = ""
        if state == "available" and member.state == "wrap_up" and at < member.until:
            return True  # the phone is idle, but Asterisk offers no call until the wrap-up is over
        if member.state != state:  # ``_set`` inline
            member.state, member.since = state, at
        if state not in _WITH_CALL:  # the call and caller stay while it rings or talks
            member.call = member.caller = ""
        return True

    def resync(self, replies: Iterable[Mapping[str, Any]], now: float) -> None:
        """Start over from a ``QueueStatus`` reply (QueueParams, QueueMember, QueueEntry events)."""
        self.queues = {}
        for ev in replies:
            kind = header(ev, "Event")
            if kind == "QueueParams":
                self._queue(header(ev, "Queue"))
            elif kind == "QueueMember":
                self._member_status({**ev, "Event": "QueueMemberStatus", "MemberName": header(ev, "Name")}, now)
                self._resume_wrap_up(ev, now)
            elif kind == "QueueEntry":
                waited = float(header(ev, "Wait") or 0)
                self._queue(header(ev, "Queue")).callers[header(ev, "Uniqueid")] = {
                    "caller": header(ev, "CallerIDNum"),
                    "joined": now - waited,
                    "position": header(ev, "Position"),
                }

    def _resume_wrap_up(self, ev: Mapping[str, Any], now: float) -> None:
        """An idle member whose last call ended less than the wrap-up ago is still wrapping up."""
        try:
            last = float(header(ev, "LastCall") or 0)
        except ValueError:
            return
        member = self._queue(header(ev, "Queue")).members.get(header(ev, "Interface") or header(ev, "StateInterface"))
        if member is not None and member.state == "available" and last and now < last + self.wrap_up_s:
            self._set(member, "wrap_up", last)
            member.until = last + self.wrap_up_s

    def snapshot(self, now: float) -> dict[str, Any]:
        self._expire(now)
        out = {}
        for name, queue in sorted(self.queues.items()):
            waits = [now - c["joined"] for c in queue.callers.values()]
            states: dict[str, int] = {}
            for member in queue.members.values():
                states[member.state] = states.get(member.state, 0) + 1
            out[name] = {
                "waiting": len(queue.callers),
                "longest_wait_s": round(max(waits), 1) if waits else 0.0,
                "callers": [
                    {"uniqueid": u, "caller": c["caller"], "wait_s": round(now - c["joined"], 1)}
                    for u, c in sorted(queue.callers.items(), key=lambda kv: kv[1]["joined"])
                ],
                "operators": {
                    interface: {
                        "name": m.name,
                        "state": m.state,
                        "in_state_s": round(max(0.0, now - m.since), 1),
                        "reason": m.reason,
                        "call": m.call,
                        "caller": m.caller,
                    }
                    for interface, m in sorted(queue.members.items())
                },
                "by_state": states,
            }
        return out


# The events the live state follows, and how each folds in.
_FOLDS: dict[str, Callable[[LiveState, Mapping[str, Any], float], bool]] = {
    "QueueCallerJoin": LiveState._join,
    "QueueCallerLeave": LiveState._leave,
    "QueueCallerAbandon": LiveState._leave,
    "AgentCalled": LiveState._called,
    "AgentConnect": LiveState._connect,
    "AgentComplete": LiveState._complete,
    "AgentRingNoAnswer": LiveState._done,
    "QueueMemberStatus": LiveState._member_status,
    "QueueMemberAdded": LiveState._member_status,
    "QueueMemberRemoved": LiveState._removed,
    "QueueMemberPause": LiveState._member_status,
}
LIVE_EVENTS = tuple(_FOLDS)
