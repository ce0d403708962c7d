"""Operators on real SIP phones: two baresip softphones register with the real Asterisk as operator users
made with the CLI, log in through the console API, pause with a reason and unpause with the phone's
feature code, and answer queued calls with a wrap-up between them. SL, ASA and abandonment from
alo185's call records equal what Asterisk's queue_log implies for the same calls.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from admin.app import create_app
from alo185 import cli, services
from alo185.core import bus, procs
from alo185.queues.service_level import figures, figures_from_records, parse
from harness.instance import Stack, isolated_settings, running_stack
from harness.softphone import Softphone
from tests.staff import PASSWORD, add_user, log_in

QUEUE = "zabita"
WRAP_UP_S = 3
AYSE, MEHMET = "PJSIP/1001", "PJSIP/2002"


@pytest.fixture(scope="module")
def phone_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(tmp_path_factory.mktemp("phones"), wrap_up_s=WRAP_UP_S)
    with running_stack(settings) as stack:
        yield stack


def _me(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/console/me")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _states(me: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {queue: (s["state"], s["reason"]) for queue, s in me["queues"].items()}


def _until(predicate: Any, timeout: float, what: str) -> None:
    assert procs.wait_until(predicate, timeout, interval=0.2), what


def _alo185(*args: str) -> None:
    assert cli.main(list(args)) == 0, args


def test_operators_on_baresip_phones_take_queued_calls_and_the_figures_match_queue_log(
    phone_stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, settings = phone_stack, phone_stack.settings
    # Operator users from the CLI (as an administrator would): extensions, skills, the PBX reloaded.
    for key, value in services.settings_env(settings).items():
        if key.startswith("ALO185_"):
            monkeypatch.setenv(key, value)
    assert "2002" not in stack.pbx.cli("pjsip show endpoints")
    for name, extension in (("ayse", []), ("mehmet", ["--extension", "2002"])):
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        _alo185("user", "add", name, "--role", "operator", "--password-stdin", *extension)
    _alo185("user", "skills", "ayse", f"{QUEUE}:0", "genel:1")
    _alo185("user", "skills", "mehmet", f"{QUEUE}:1")
    out = capsys.readouterr().out
    assert "ayse: SIP extension 1001" in out and "mehmet: SIP extension 2002" in out, out
    assert out.count("PBX: SIP endpoints reloaded") == 2 and "not logged in" in out, out
    assert "2002" in stack.pbx.cli("pjsip show endpoints")

    app = create_app(settings)
    add_user(app, "sef", "supervisor")
    ayse, mehmet, sef = (log_in(app.test_client(), name) for name in ("ayse", "mehmet", "sef"))
    phones = {ext: Softphone(settings, ext, settings.sip_password(ext)) for ext in ("1001", "2002")}
    try:
        for phone in phones.values():
            phone.start()
        _until(lambda: _me(ayse)["registered"] and _me(mehmet)["registered"], 20, "the phones did not register")
        assert _me(mehmet)["phone"]["status"] in ("Reachable", "Created", "NonQualified", "Unknown")

        # Log in through the console API; a change of skills applies at once to a logged-in operator.
        for client in (ayse, mehmet):
            answer = client.post("/api/console/login")
            assert answer.status_code == 200 and answer.get_json()["ok"], answer.get_json()
        _alo185("user", "skills", "mehmet", f"{QUEUE}:1", "genel:2")
        assert "applied now: logged in to genel, zabita" in capsys.readouterr().out
        _until(lambda: set(_me(mehmet)["queues"]) == {QUEUE, "genel"}, 10, f"mehmet's queues: {_me(mehmet)}")
        assert _states(_me(ayse)) == {QUEUE: ("available", ""), "genel": ("available", "")}

        # A pause with a reason from the console; the live state shows it in every queue.
        paused = mehmet.post("/api/console/pause", json={"reason": "Toplantı"})
        assert paused.status_code == 200 and paused.get_json()["message"] == "paused (toplanti)", paused.get_json()
        _until(lambda: set(_states(_me(mehmet)).values()) == {("paused", "toplanti")}, 10, "not paused")
        wallboard = sef.get("/api/queues/live").get_json()
        assert wallboard[QUEUE]["operators"][MEHMET]["state"] == "paused"
        assert wallboard[QUEUE]["operators"][MEHMET]["reason"] == "toplanti"

        # ... and the unpause from the phone: *54, the same command through the queue manager.
        dialled = time.monotonic()
        assert phones["2002"].dial("*54")["ok"]
        _until(lambda: set(_states(_me(mehmet)).values()) == {("available", "")}, 10, "the feature code did nothing")
        _until(lambda: "CALL_CLOSED" in phones["2002"].event_types(), 15, "the feature code call did not end")
        # The dialplan heard "ok" (the error prompt would come only after 5 s without an answer).
        assert time.monotonic() - dialled < 5.0 + 1.0
        assert "|mehmet|UNPAUSE|" in (stack.pbx.instance_dir / "log" / "queue_log").read_text()

        records, seen = _calls(stack)

        # Log out: ayse from the phone (*52), mehmet from the console.
        assert phones["1001"].dial("*52")["ok"]
        assert mehmet.post("/api/console/logout").get_json()["message"] == "logged out"
        _until(lambda: not _me(ayse)["logged_in"] and not _me(mehmet)["logged_in"], 10, "still logged in")
        assert "|ayse|REMOVEMEMBER|" in (stack.pbx.instance_dir / "log" / "queue_log").read_text()
    finally:
        for phone in phones.values():
            phone.stop()

    # Who answered: the phones; the first two callers at once, one each; the third gave up.
    by_call = [(r.answered, r.abandoned, r.answered_by) for r in records]
    assert [r.queue for r in records] == [QUEUE] * 5, [(r.queue, r.outcome) for r in records]
    assert [a for a, _ab, _by in by_call] == [True, True, False, True, True], by_call
    assert by_call[2][1] is True, by_call
    assert {by_call[0][2], by_call[1][2]} == {"ayse", "mehmet"} and {by_call[3][2], by_call[4][2]} <= {"ayse", "mehmet"}

    # Wrap-up between calls: in the live state, and Asterisk offered no call during it.
    assert "wrap_up" in seen[AYSE] and "wrap_up" in seen[MEHMET], seen
    log_path = stack.pbx.instance_dir / "log" / "queue_log"
    entries = parse(log_path.read_text().splitlines())
    callids = {r.uniqueid for r in records}
    for agent in ("ayse", "mehmet"):
        mine = [e for e in entries if e.callid in callids and e.agent == agent]
        ends = [e.time for e in mine if e.event in ("COMPLETECALLER", "COMPLETEAGENT")]
        starts = [e.time for e in mine if e.event == "CONNECT"]
        assert len(starts) == 2 and len(ends) == 2, (agent, mine)
        assert starts[1] - ends[0] >= WRAP_UP_S - 1, (agent, starts, ends)  # queue_log has whole seconds

    # SL at 5 s and 20 s, ASA and abandonment: our records against queue_log, for the same calls.
    from_log, _intervals = figures(entries, callids=callids)
    ours, asterisk = figures_from_records(records)[QUEUE].as_dict(), from_log[QUEUE].as_dict()
    print(f"\nfigures from the call records: {json.dumps(ours)}\nfigures from queue_log:        {json.dumps(asterisk)}")
    for name in ("offered", "answered", "abandoned", "short_abandoned", "sl_5s", "sl_20s", "answer_rate"):
        assert ours[name] == asterisk[name], (name, ours, asterisk)
    for name in ("asa_s", "aht_s"):
        ours_s, asterisk_s = ours[name], asterisk[name]
        assert ours_s is not None and asterisk_s is not None, (name, ours, asterisk)
        assert abs(ours_s - asterisk_s) <= 1.0, (name, ours, asterisk)
    assert ours["answered"] == 4 and ours["abandoned"] == 1 and ours["sl_5s"] is not None and ours["sl_5s"] < 1.0

    # The phones went away: unregistered (ContactStatus Removed).
    _until(lambda: not _me(ayse)["registered"] and not _me(mehmet)["registered"], 15, "still registered")


def _calls(stack: Stack) -> tuple[list[Any], dict[str, set[str]]]:
    """Five callers to zabıta; returns their records and the states each phone was seen in meanwhile.

    The first two are answered at once and talk about half a minute; the third joins while both
    operators talk and gives up after a while; the last two wait for an operator (the wrap-up
    included), then talk a few seconds. Callers hang up themselves ("W": a second on the line).
    The IVR may first offer a callback to those who join a busy queue; they do not take it.
    """
    keys = stack.after_notice("1w6w1")
    plan = [(keys + "W" * 26, 0.5), (keys + "W" * 26, 1.5), (keys + "W" * 20, 1.0), (keys + "W" * 36, 1.0)]
    plan.append((keys + "W" * 36, 0.0))
    uniqueids = []
    for n, (script, pause) in enumerate(plan, start=1):
        uniqueids.append(stack.call(script, caller=f"+90532777000{n}", hang_up=True))
        time.sleep(pause)
    client = bus.connect(stack.settings.redis_connection_url)
    seen: dict[str, set[str]] = {AYSE: set(), MEHMET: set()}
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        raw = client.get(bus.LIVE_QUEUES)
        members = json.loads(raw).get(QUEUE, {}).get("operators", {}) if raw else {}
        for interface, states in seen.items():
            if interface in members:
                states.add(members[interface]["state"])
        if all((r := stack.record(u)) is not None and r.ended_at is not None for u in uniqueids):
            break
        time.sleep(0.2)
    return [stack.wait_record(u, timeout=30) for u in uniqueids], seen
