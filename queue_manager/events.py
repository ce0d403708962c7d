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
    """A header's value; its first when the header repeats (panoramisk makes it a list).

    On a panoramisk ``Message`` (a case-insensitive mapping: ``{lowercased name: (name, value)}``) it is read
    from the message's own store: ``ev[name]`` does the same behind one more Python call, and these reads are
    most of the queue manager's work per event. Any other mapping (tests, rows rebuilt in a resync) by name.
    """
    try:
        # A Message's private store, which panoramisk (untyped) does not declare; other mappings raise AttributeError.
        value = ev._store[name.lower()][1]  # type: ignore[attr-defined]
    except KeyError:
        return default
    except AttributeError:
        try:
            value = ev[name]
        except KeyError:
            return default
    return value[0] if isinstance(value, list) and value else value


def header(ev: AmiEvent, name: str) -> str:
    """A header as text, '' when absent. One call, not ``first`` and then a check: it runs for nearly every
    header of every event the queue manager follows (read as in ``first``)."""
    try:
        value = ev._store[name.lower()][1]  # type: ignore[attr-defined]  # a Message's private store: see ``first``
    except KeyError:
        return ""
    except AttributeError:
        try:
            value = ev[name]
        except KeyError:
            return ""
    if value.__class__ is str:  # nearly always
        return value
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else str(value)


ABSENT = ("", "")  # what ``headers(ev).get`` gives for a missing header


def headers(ev: AmiEvent) -> Mapping[str, tuple[str, Any]]:
    """All headers at once, as a panoramisk ``Message`` keeps them: ``{lowercased name: (name, value)}``.

    For a handler that reads several headers of every event: ``headers(ev).get("queue", ABSENT)[1]`` is
    a dict lookup where ``header`` is a call. A value is a list only for a repeated header.
    """
    try:
        return ev._store  # type: ignore[attr-defined]  # a Message's private store: see ``first``
    except AttributeError:
        return {str(name).lower(): (name, value) for name, value in ev.items()}


def _base(kind: str, ev: AmiEvent, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "uniqueid": first(ev, "Uniqueid", ""), "ts": _num(first(ev, "Timestamp")), **fields}


def _user_event(ev: AmiEvent) -> dict[str, Any] | None:
    if first(ev, "UserEvent") != CALL_USEREVENT:
        return None
    stage = first(ev, "Stage")
    if stage == "start":
        return _base("call.start", ev, linkedid=first(ev, "Linkedid", ""), caller=first(ev, "CallerIDNum", ""))
    if stage == "ivr-done":
        return _base("ivr.done", ev, agi_status=first(ev, "AgiStatus", ""))
    if stage == "voicemail":
        return _base("call.voicemail", ev, reason=first(ev, "Reason", ""))
    if stage == "voicemail-saved":  # the caller heard that the message is kept
        return _base("voicemail.saved", ev)
    if stage == "voicemail-failed":  # the message could not be written: the caller is offered another way
        return _base("voicemail.failed", ev, status=first(ev, "Status", ""))
    if stage == "recording":
        return _base("call.recording", ev, file=first(ev, "File", ""))
    return None


def _hangup(ev: AmiEvent) -> dict[str, Any] | None:
    # Only the channel that started the call (the citizen's), not operator legs.
    if first(ev, "Uniqueid") != first(ev, "Linkedid"):
        return None
    return _base("call.end", ev, cause=first(ev, "Cause", ""))


def _queue_join(ev: AmiEvent) -> dict[str, Any]:
    return _base("queue.join", ev, queue=first(ev, "Queue", ""), position=_num(first(ev, "Position")))


def _agent_connect(ev: AmiEvent) -> dict[str, Any]:
    return _base(
        "queue.connect",
        ev,
        queue=first(ev, "Queue", ""),
        member=first(ev, "MemberName") or first(ev, "Interface", ""),
        wait_s=_num(first(ev, "HoldTime")),
        ring_s=_num(first(ev, "RingTime")),
    )


def _agent_complete(ev: AmiEvent) -> dict[str, Any]:
    return _base(
        "queue.complete",
        ev,
        queue=first(ev, "Queue", ""),
        talk_s=_num(first(ev, "TalkTime")),
        reason=first(ev, "Reason", ""),
    )


def _abandon(ev: AmiEvent) -> dict[str, Any]:
    return _base("queue.abandon", ev, queue=first(ev, "Queue", ""), wait_s=_num(first(ev, "HoldTime")))


def _hold(ev: AmiEvent, held: bool) -> dict[str, Any]:
    """Any leg of the call put on hold or taken off it (the operator's phone, usually): keyed by the call."""
    return {
        "type": "call.hold",
        "uniqueid": first(ev, "Linkedid", ""),
        "ts": _num(first(ev, "Timestamp")),
        "held": held,
        "channel": first(ev, "Uniqueid", ""),
    }


TRANSLATORS: dict[str, Callable[[AmiEvent], dict[str, Any] | None]] = {
    "UserEvent": _user_event,
    "Hangup": _hangup,
    "QueueCallerJoin": _queue_join,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "QueueCallerAbandon": _abandon,
    "Hold": lambda ev: _hold(ev, True),
    "Unhold": lambda ev: _hold(ev, False),
}


def translate(ev: AmiEvent) -> dict[str, Any] | None:
    """The call event for an AMI event, or None if it is not one we record."""
    translator = TRANSLATORS.get(first(ev, "Event", ""))
    event = translator(ev) if translator else None
    return event if event and event["uniqueid"] else None
