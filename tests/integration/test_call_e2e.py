"""A real call through Asterisk: IVR over FastAGI, queue, operator, call record via the Redis stream."""

from __future__ import annotations

import os
import signal

from admin.app import create_app
from alo185 import services
from alo185.core import procs
from alo185.core.asterisk import recordings_dir
from tests.conftest import TEST_OPERATOR, Stack
from tests.staff import staff_client


def test_call_to_water_faults_is_answered_and_recorded(stack: Stack) -> None:
    uniqueid = stack.call(stack.after_notice("1w1w1"), caller="+905321234567")  # Türkçe, water, fault
    record = stack.wait_record(uniqueid, timeout=90)
    assert record.caller == "+905321234567"
    assert record.digit == "1"
    assert record.queue == "su" and record.category == "su-arizasi" and record.lang == "tr"
    assert record.ivr_path == "kvkk>language:1>main:1>water:1"
    assert record.agi_status == "SUCCESS"
    assert record.answered is True and record.outcome == "answered"
    assert record.answered_by is not None and record.answered_by.startswith(TEST_OPERATOR)
    assert record.wait_s is not None and 0 <= record.wait_s < 30
    assert record.talk_s is not None and 1 <= record.talk_s <= 5
    assert record.duration_s is not None and record.duration_s > record.talk_s
    # The conversation with the operator was recorded (MixMonitor) and the record names the file.
    record = stack.wait_record(uniqueid, lambda r: r.recording_ref is not None, timeout=30)
    root = recordings_dir(stack.settings)
    assert root is not None and record.recording_ref is not None and record.recording_ref.endswith(f"/{uniqueid}.wav")
    audio = root / record.recording_ref
    assert audio.is_file() and audio.stat().st_size > 44 + 8000  # more than a header: a second or more of audio

    client = staff_client(create_app(stack.settings))
    page = client.get("/calls")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert uniqueid in html and "Cevaplandı" in html
    assert "+905321234567" not in html and "+90 532 *** ** 67" in html  # masked in lists
    rows = {r["uniqueid"]: r for r in client.get("/api/calls").get_json()}
    assert rows[uniqueid]["queue"] == "su" and rows[uniqueid]["digit"] == "1"


def _agi_pid(stack: Stack) -> int:
    pid = procs.running_pid(stack.settings, "agi")
    assert pid, "the FastAGI server should be running"
    return pid


def _restart_agi(stack: Stack) -> None:
    services.start_process(stack.settings, services.process("agi"))


def test_fastagi_stopped_caller_still_reaches_operators(stack: Stack) -> None:
    procs.stop(stack.settings, "agi")
    assert not procs.tcp_open(stack.settings.agi_host, stack.settings.agi_port)
    try:
        record = stack.wait_record(stack.call(stack.after_notice("1w2")))
        assert record.agi_status == "FAILURE"
        assert record.queue == "genel"  # not the "2" choice: the IVR never ran
        assert record.answered and record.answered_by is not None and record.answered_by.startswith(TEST_OPERATOR)
    finally:
        _restart_agi(stack)


def test_fastagi_killed_mid_call_caller_still_reaches_operators(stack: Stack) -> None:
    pid = _agi_pid(stack)
    uniqueid = stack.call("")  # keys nothing: the IVR waits on the prompt
    try:
        assert procs.wait_until(lambda: "AGI" in stack.channel_app(uniqueid), 15), "call never reached the IVR"
        os.kill(pid, signal.SIGKILL)
        record = stack.wait_record(uniqueid)
        assert record.queue == "genel" and record.answered
    finally:
        procs.wait_until(lambda: not procs.alive(pid), 5)
        _restart_agi(stack)


def test_recording_survives_recorder_restart(stack: Stack) -> None:
    procs.stop(stack.settings, "recorder")
    uniqueid = stack.call(stack.after_notice("1w3"))
    stack.wait_until_gone(uniqueid)  # the call runs its course while nothing consumes the stream
    assert stack.record(uniqueid) is None
    services.start_process(stack.settings, services.process("recorder"))
    record = stack.wait_record(uniqueid)
    assert record.queue == "temizlik" and record.answered
