"""Live queue state from AMI events, and its rebuild from QueueStatus."""

from __future__ import annotations

from queue_manager.live import LiveState
from tests.staff import staff_client

T = 1795270000.0


def _ev(name: str, at: float, **fields: str) -> dict:
    return {"Event": name, "Timestamp": str(at), **fields}


def test_callers_and_operators_follow_the_events() -> None:
    live = LiveState()
    member = {"Queue": "su", "Interface": "PJSIP/1001", "MemberName": "Ayşe"}
    live.apply(_ev("QueueMemberAdded", T, Status="1", Paused="0", **member), T)
    live.apply(_ev("QueueCallerJoin", T + 1, Queue="su", Uniqueid="c1", CallerIDNum="+905321", Position="1"), T + 1)
    live.apply(_ev("QueueCallerJoin", T + 3, Queue="su", Uniqueid="c2", CallerIDNum="+905322", Position="2"), T + 3)
    snap = live.snapshot(T + 5)["su"]
    assert (snap["waiting"], snap["longest_wait_s"]) == (2, 4.0)
    assert [c["uniqueid"] for c in snap["callers"]] == ["c1", "c2"]
    assert snap["operators"]["PJSIP/1001"]["state"] == "available"
    live.apply(_ev("AgentCalled", T + 5, Uniqueid="c1", CallerIDNum="+905321", **member), T + 5)
    assert live.snapshot(T + 6)["su"]["operators"]["PJSIP/1001"] == {
        "name": "Ayşe", "state": "ringing", "in_state_s": 1.0, "reason": "", "call": "c1", "caller": "+905321",
    }  # fmt: skip
    live.apply(_ev("QueueCallerLeave", T + 7, Queue="su", Uniqueid="c1"), T + 7)
    live.apply(_ev("AgentConnect", T + 7, Uniqueid="c1", CallerIDNum="+905321", **member), T + 7)
    live.apply(_ev("QueueCallerAbandon", T + 8, Queue="su", Uniqueid="c2"), T + 8)
    snap = live.snapshot(T + 10)["su"]
    assert snap["waiting"] == 0 and snap["operators"]["PJSIP/1001"]["state"] == "on_call"
    assert snap["operators"]["PJSIP/1001"]["in_state_s"] == 3.0 and snap["by_state"] == {"on_call": 1}
    live.apply(_ev("AgentComplete", T + 60, Uniqueid="c1", **member), T + 60)
    live.apply(_ev("QueueMemberPause", T + 61, Paused="1", PausedReason="mola", Status="1", **member), T + 61)
    op = live.snapshot(T + 70)["su"]["operators"]["PJSIP/1001"]
    assert (op["state"], op["reason"], op["in_state_s"], op["call"]) == ("paused", "mola", 9.0, "")
    live.apply(_ev("QueueMemberRemoved", T + 80, **member), T + 80)
    assert live.snapshot(T + 81)["su"]["operators"] == {}
    assert not live.apply(_ev("Newchannel", T), T)


def test_resync_starts_over_from_queue_status() -> None:
    live = LiveState()
    live.apply(_ev("QueueCallerJoin", T, Queue="su", Uniqueid="stale", CallerIDNum="+905329"), T)
    replies = [
        {"Event": "QueueParams", "Queue": "su"},
        {"Event": "QueueParams", "Queue": "park"},
        {
            "Event": "QueueMember",
            "Queue": "su",
            "Name": "Ayşe",
            "StateInterface": "PJSIP/1001",
            "Interface": "PJSIP/1001",
            "Status": "2",
            "Paused": "0",
        },
        {
            "Event": "QueueEntry",
            "Queue": "su",
            "Uniqueid": "c9",
            "CallerIDNum": "+905321",
            "Wait": "12",
            "Position": "1",
        },
        {"Event": "QueueStatusComplete"},
    ]
    live.resync(replies, T + 100)
    snap = live.snapshot(T + 100)
    assert set(snap) == {"su", "park"} and snap["park"]["waiting"] == 0
    assert [c["uniqueid"] for c in snap["su"]["callers"]] == ["c9"] and snap["su"]["longest_wait_s"] == 12.0
    assert snap["su"]["operators"]["PJSIP/1001"]["state"] == "on_call"


def test_the_admin_relays_the_snapshot_as_json_and_a_stream(redis_settings) -> None:  # type: ignore[no-untyped-def]
    import json
    import threading
    import time

    from admin import create_app
    from alo185 import bus

    client = staff_client(create_app(redis_settings))
    assert client.get("/api/queues/live").get_json() == {}
    redis = bus.connect(redis_settings.redis_connection_url)
    first = {"su": {"waiting": 1}}
    redis.set(bus.LIVE_QUEUES, json.dumps(first))
    assert client.get("/api/queues/live").get_json() == first

    def later() -> None:
        time.sleep(0.5)
        redis.publish(bus.LIVE_QUEUES, json.dumps({"su": {"waiting": 0}}))

    threading.Thread(target=later, daemon=True).start()
    response = client.get("/api/queues/stream?max=2")
    assert response.mimetype == "text/event-stream"
    events = [
        line.removeprefix("data: ")
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]
    assert [json.loads(e)["su"]["waiting"] for e in events] == [1, 0]
