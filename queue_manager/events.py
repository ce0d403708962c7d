"""AMI events -> call events. Pure: a mapping in, a dict (or None) out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CALL_USEREVENT = "Alo185Call"

AmiEvent = Mapping[str, Any]


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def first(ev: AmiEvent, name: str, default: Any = None) -> Any:
    """A header's value; its first when the header repeats (panoramisk makes it a list)."""
    try:
        value = ev[name]  # on a panoramisk message ``get`` costs a Python call more, on every header of every event
    except KeyError:
        return default
    return value[0] if isinstance(value, list) and value else value


def header(ev: AmiEvent, name: str) -> str:
    """A header as text, '' when absent."""
    value = first(ev, name, "")
    return value if isinstance(value, str) else str(value)


class _Fields:
    """Header access for the translators (``first`` of each header)."""

    def __init__(self, ev: AmiEvent) -> None:
        self._ev = ev

    def get(self, name: str, default: Any = None) -> Any:
        return first(self._ev, name, default)


def _base(kind: str, ev: _Fields) -> dict[str, Any]:
    return {"type": kind, "uniqueid": ev.get("Uniqueid", ""), "ts": _num(ev.get("Timestamp"))}


def _user_event(ev: _Fields) -> dict[str, Any] | None:
    if ev.get("UserEvent") != CALL_USEREVENT:
        return None
    stage = ev.get("Stage")
    if stage == "start":
        return {**_base("call.start", ev), "linkedid": ev.get("Linkedid", ""), "caller": ev.get("CallerIDNum", "")}
    if stage == "ivr-done":
        return {**_base("ivr.done", ev), "agi_status": ev.get("AgiStatus", "")}
    if stage == "voicemail":
        return {**_base("call.voicemail", ev), "reason": ev.get("Reason", "")}
    return None


def _hangup(ev: _Fields) -> dict[str, Any] | None:
    # Only the channel that started the call (the citizen's), not operator legs.
    if ev.get("Uniqueid") != ev.get("Linkedid"):
        return None
    return {**_base("call.end", ev), "cause": ev.get("Cause", "")}


def _queue_join(ev: _Fields) -> dict[str, Any]:
    return {**_base("queue.join", ev), "queue": ev.get("Queue", ""), "position": _num(ev.get("Position"))}


def _agent_connect(ev: _Fields) -> dict[str, Any]:
    return {
        **_base("queue.connect", ev),
        "queue": ev.get("Queue", ""),
        "member": ev.get("MemberName") or ev.get("Interface", ""),
        "wait_s": _num(ev.get("HoldTime")),
        "ring_s": _num(ev.get("RingTime")),
    }


def _agent_complete(ev: _Fields) -> dict[str, Any]:
    return {
        **_base("queue.complete", ev),
        "queue": ev.get("Queue", ""),
        "talk_s": _num(ev.get("TalkTime")),
        "reason": ev.get("Reason", ""),
    }


def _abandon(ev: _Fields) -> dict[str, Any]:
    return {**_base("queue.abandon", ev), "queue": ev.get("Queue", ""), "wait_s": _num(ev.get("HoldTime"))}


TRANSLATORS: dict[str, Callable[[_Fields], dict[str, Any] | None]] = {
    "UserEvent": _user_event,
    "Hangup": _hangup,
    "QueueCallerJoin": _queue_join,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "QueueCallerAbandon": _abandon,
}


def translate(ev: AmiEvent) -> dict[str, Any] | None:
    """The call event for an AMI event, or None if it is not one we record."""
    fields = _Fields(ev)
    translator = TRANSLATORS.get(fields.get("Event", ""))
    event = translator(fields) if translator else None
    return event if event and event["uniqueid"] else None
