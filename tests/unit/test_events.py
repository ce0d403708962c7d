"""AMI events -> call events."""

from queue_manager.events import translate

TS = "1795256920.213240"


def test_call_start_from_userevent() -> None:
    ev = {
        "Event": "UserEvent",
        "UserEvent": "Alo185Call",
        "Stage": "start",
        "Uniqueid": "u1",
        "Linkedid": "u1",
        "CallerIDNum": "+905321234567",
        "Timestamp": TS,
    }
    assert translate(ev) == {
        "type": "call.start",
        "uniqueid": "u1",
        "ts": float(TS),
        "linkedid": "u1",
        "caller": "+905321234567",
    }


def test_repeated_headers_take_the_first_value() -> None:
    ev = {
        "Event": "UserEvent",
        "UserEvent": "Alo185Call",
        "Stage": "start",
        "Uniqueid": ["u1", "u1"],
        "Linkedid": ["u1", "x"],
        "CallerIDNum": "1",
        "Timestamp": TS,
    }
    out = translate(ev)
    assert out is not None and out["uniqueid"] == "u1" and out["linkedid"] == "u1"


def test_other_user_events_are_ignored() -> None:
    assert translate({"Event": "UserEvent", "UserEvent": "Other", "Uniqueid": "u1"}) is None
    assert translate({"Event": "UserEvent", "UserEvent": "Alo185Call", "Stage": "?", "Uniqueid": "u1"}) is None


def test_hangup_only_for_the_callers_channel() -> None:
    assert translate({"Event": "Hangup", "Uniqueid": "u1", "Linkedid": "u1", "Cause": "16", "Timestamp": TS}) == {
        "type": "call.end",
        "uniqueid": "u1",
        "ts": float(TS),
        "cause": "16",
    }
    assert translate({"Event": "Hangup", "Uniqueid": "op-leg", "Linkedid": "u1"}) is None


def test_queue_events() -> None:
    join = translate({"Event": "QueueCallerJoin", "Uniqueid": "u1", "Queue": "su", "Position": "2"})
    assert join is not None and join["type"] == "queue.join" and join["position"] == 2.0
    connect = translate(
        {
            "Event": "AgentConnect",
            "Uniqueid": "u1",
            "Queue": "su",
            "MemberName": "Ayşe",
            "Interface": "PJSIP/1001",
            "HoldTime": "4",
            "RingTime": "1",
        }
    )
    assert connect is not None and (connect["member"], connect["wait_s"], connect["ring_s"]) == ("Ayşe", 4.0, 1.0)
    complete = translate(
        {"Event": "AgentComplete", "Uniqueid": "u1", "Queue": "su", "TalkTime": "62", "Reason": "caller"}
    )
    assert complete is not None and complete["talk_s"] == 62.0 and complete["reason"] == "caller"
    abandon = translate({"Event": "QueueCallerAbandon", "Uniqueid": "u1", "Queue": "su", "HoldTime": "9"})
    assert abandon is not None and abandon["type"] == "queue.abandon" and abandon["wait_s"] == 9.0


def test_unknown_and_incomplete_events_are_dropped() -> None:
    assert translate({"Event": "Newexten", "Uniqueid": "u1"}) is None
    assert translate({"Event": "AgentConnect", "Queue": "su"}) is None
    connect = translate({"Event": "AgentConnect", "Uniqueid": "u1", "HoldTime": "n/a"})
    assert connect is not None and connect["wait_s"] is None


def test_a_header_as_text() -> None:
    """``header``: the first of a repeated header, text, '' when absent; on a panoramisk message in any case."""
    from panoramisk.message import Message

    from queue_manager.events import header

    lines = ["Event: AgentCalled", f"Timestamp: {TS}", "Queue: su", "ChanVariable: A=1", "ChanVariable: B=2"]
    message = Message.from_line("\r\n".join(lines))
    assert header(message, "queue") == "su" and header(message, "ChanVariable") == "A=1"
    assert header(message, "Missing") == "" and header({"Position": 3}, "Position") == "3"
    assert header({"Queue": []}, "Queue") == ""


def test_headers_of_a_panoramisk_message_as_of_a_mapping() -> None:
    """Headers are read from panoramisk's own store: the same values, case-insensitive, the first of a repeat."""
    from panoramisk.message import Message

    from queue_manager.events import first, header

    raw = "Event: AgentCalled\r\nQueue: su\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nUniqueid: u1"
    message = Message.from_line(raw)
    plain = {"Event": "AgentCalled", "Queue": "su", "ChanVariable": ["A=1", "B=2"], "Uniqueid": "u1"}
    for ev in (message, plain):
        assert (header(ev, "Queue"), header(ev, "ChanVariable"), header(ev, "Missing")) == ("su", "A=1", "")
        assert (first(ev, "Uniqueid"), first(ev, "ChanVariable"), first(ev, "Missing", "-")) == ("u1", "A=1", "-")
    assert header(message, "queue") == "su"
    assert translate(message) is None  # AgentCalled gives no call event


def test_the_event_encoder_writes_what_json_dumps_writes() -> None:
    import json
    import math

    from alo185.core import bus

    values = [
        {"type": "queue.connect", "uniqueid": "1795270000.123", "ts": 1795270000.5, "wait_s": None, "ring_s": 1e-07},
        {"member": 'Test operatör "1"', "held": True, "n": 3, "tickets": [{"id": 7, "tags": []}], "x": {}},
        {"reason": "satır\nbir\t\u2028\x00", "big": 2**70, "neg": -0.0, "inf": math.inf},
        "şehir",
        [1.5, None, False],
    ]
    for value in values:
        assert bus.encode(value) == json.dumps(value, ensure_ascii=False)
