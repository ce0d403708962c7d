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


def test_the_admin_relays_the_snapshot_as_json_and_a_stream(redis_settings) -> None:
    import json
    import threading

    from admin.app import create_app
    from alo185.core import bus, procs

    client = staff_client(create_app(redis_settings))
    assert client.get("/api/queues/live").get_json() == {}
    redis = bus.connect(redis_settings.redis_connection_url)
    first = {"su": {"waiting": 1}}
    redis.set(bus.LIVE_QUEUES, json.dumps(first))
    assert client.get("/api/queues/live").get_json() == first

    def later() -> None:  # once the stream listens: a message before that would reach nobody
        procs.wait_until(lambda: redis.pubsub_numsub(bus.LIVE_QUEUES)[0][1] > 0, 10, interval=0.01)
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


def test_wrap_up_follows_a_queue_call_in_every_queue_of_the_member_until_it_ends() -> None:
    live = LiveState(wrap_up_s=10)
    ayse = {"Interface": "PJSIP/1001", "MemberName": "ayse"}
    for queue in ("su", "genel"):
        live.apply(_ev("QueueMemberAdded", T, Queue=queue, Status="1", Paused="0", **ayse), T)
    live.apply(_ev("AgentConnect", T + 1, Queue="su", Uniqueid="c1", CallerIDNum="+905321", **ayse), T + 1)
    live.apply(_ev("AgentComplete", T + 31, Queue="su", Uniqueid="c1", **ayse), T + 31)
    # The phone is idle again, but Asterisk offers no call before the wrap-up is over.
    live.apply(_ev("QueueMemberStatus", T + 31.2, Queue="genel", Status="1", Paused="0", **ayse), T + 31.2)
    snap = live.snapshot(T + 35)
    assert {q: snap[q]["operators"]["PJSIP/1001"]["state"] for q in ("su", "genel")} == {
        "su": "wrap_up",
        "genel": "wrap_up",
    }
    assert snap["su"]["operators"]["PJSIP/1001"]["in_state_s"] == 4.0 and snap["su"]["by_state"] == {"wrap_up": 1}
    assert live.next_change(T + 35) == 6.0
    after = live.snapshot(T + 43)["su"]["operators"]["PJSIP/1001"]
    assert (after["state"], after["in_state_s"]) == ("available", 2.0)
    assert live.next_change(T + 43) is None
    # Paused during the wrap-up: paused wins, and an unpause then is available.
    live.apply(_ev("AgentComplete", T + 60, Queue="su", Uniqueid="c2", **ayse), T + 60)
    live.apply(_ev("QueueMemberPause", T + 61, Queue="su", Paused="1", PausedReason="cagri-sonrasi-is", **ayse), T + 61)
    assert live.snapshot(T + 62)["su"]["operators"]["PJSIP/1001"]["state"] == "paused"
    # Without a wrap-up (the default) a call's end makes the operator available at once.
    plain = LiveState()
    plain.apply(_ev("AgentComplete", T, Queue="su", Uniqueid="c1", **ayse), T)
    assert plain.snapshot(T + 1)["su"]["operators"]["PJSIP/1001"]["state"] == "available"
    assert plain.next_change(T + 1) is None


def test_a_resync_during_a_wrap_up_keeps_it() -> None:
    live = LiveState(wrap_up_s=10)
    member = {"Event": "QueueMember", "Queue": "su", "Name": "ayse", "Location": "PJSIP/1001",
              "StateInterface": "PJSIP/1001", "Status": "1", "Paused": "0"}  # fmt: skip
    live.resync([{"Event": "QueueParams", "Queue": "su"}, {**member, "LastCall": str(int(T) - 4)}], T)
    op = live.snapshot(T)["su"]["operators"]["PJSIP/1001"]
    assert (op["state"], op["in_state_s"]) == ("wrap_up", 4.0)
    live.resync([{**member, "LastCall": str(int(T) - 40)}], T)
    assert live.snapshot(T)["su"]["operators"]["PJSIP/1001"]["state"] == "available"


def test_a_member_status_that_repeats_what_is_held_changes_nothing() -> None:
    """Half the stream: the same phone state told once per queue of the member. It is no change, so the
    snapshot is not marked stale; anything that differs still goes through."""
    live = LiveState()
    ayse = {"Queue": "su", "Interface": "PJSIP/1001", "MemberName": "ayse"}
    assert live.apply(_ev("QueueMemberAdded", T, Status="1", Paused="0", **ayse), T)
    assert not live.apply(_ev("QueueMemberStatus", T + 5, Status="1", Paused="0", **ayse), T + 5)
    assert live.snapshot(T + 6)["su"]["operators"]["PJSIP/1001"]["in_state_s"] == 6.0  # since unchanged
    assert live.apply(_ev("QueueMemberStatus", T + 7, Status="1", Paused="0", Queue="su",
                          Interface="PJSIP/1001", MemberName="ayse k"), T + 7)  # fmt: skip
    assert live.snapshot(T + 8)["su"]["operators"]["PJSIP/1001"]["name"] == "ayse k"
    ayse["MemberName"] = "ayse k"
    assert live.apply(_ev("AgentCalled", T + 9, Uniqueid="c1", CallerIDNum="+905321", **ayse), T + 9)
    # Ringing again (the phone's own state): the call and caller stay, nothing changes.
    assert not live.apply(_ev("QueueMemberStatus", T + 9, Status="6", Paused="0", **ayse), T + 9)
    assert live.snapshot(T + 9)["su"]["operators"]["PJSIP/1001"]["call"] == "c1"
    # Idle: available again, and the call is forgotten.
    assert live.apply(_ev("QueueMemberStatus", T + 10, Status="1", Paused="0", **ayse), T + 10)
    op = live.snapshot(T + 10)["su"]["operators"]["PJSIP/1001"]
    assert (op["state"], op["call"], op["caller"]) == ("available", "", "")
    assert live.apply(_ev("QueueMemberPause", T + 11, Status="1", Paused="1", PausedReason="mola", **ayse), T + 11)
    # Paused with its reason: always folded in (the reason may change).
    assert live.apply(_ev("QueueMemberStatus", T + 12, Status="1", Paused="1", PausedReason="mola", **ayse), T + 12)
    assert live.snapshot(T + 12)["su"]["operators"]["PJSIP/1001"]["reason"] == "mola"


def test_folds_bound_once_match_apply() -> None:
    """The queue manager routes each event straight to its bound fold; it gives what ``apply`` gives."""
    events = [
        _ev("QueueMemberAdded", T, Queue="su", Interface="PJSIP/1001", MemberName="ayse", Status="1", Paused="0"),
        _ev("QueueCallerJoin", T + 1, Queue="su", Uniqueid="c1", CallerIDNum="+905321", Position="1"),
        _ev("AgentCalled", T + 2, Queue="su", Interface="PJSIP/1001", Uniqueid="c1", CallerIDNum="+905321"),
        _ev("QueueMemberStatus", T + 2, Queue="su", Interface="PJSIP/1001", Status="6", Paused="0"),
    ]
    by_apply, by_fold = LiveState(), LiveState()
    folds = by_fold.folds()
    assert [by_apply.apply(e, T) for e in events] == [folds[e["Event"]](e, T) for e in events]
    assert by_apply.snapshot(T + 3) == by_fold.snapshot(T + 3)
