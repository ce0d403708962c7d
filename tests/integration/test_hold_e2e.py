"""Time on hold through the real PBX: an operator on a baresip phone answers a queued call, puts the caller
on hold and takes them back; the call record's ``hold_s`` comes from Asterisk's Hold/Unhold events, and the
conversation's recording is on disk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from alo185.core import procs
from alo185.core.asterisk import recordings_dir
from harness.instance import Stack, isolated_settings, running_stack
from harness.softphone import Softphone, available

QUEUE = "zabita"
HOLD_S = 3.0


@pytest.fixture(scope="module")
def hold_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(tmp_path_factory.mktemp("hold"), wrap_up_s=0)
    with running_stack(settings) as stack:
        yield stack


@pytest.mark.skipif(not available(), reason="baresip is not installed")
def test_the_operator_holds_the_caller_and_the_record_has_the_time_on_hold(hold_stack: Stack) -> None:
    stack, settings = hold_stack, hold_stack.settings
    phone = Softphone(settings, "1001", settings.sip_password("1001"))
    phone.start()
    try:
        assert procs.wait_until(lambda: "1001/sip:" in stack.pbx.cli("pjsip show contacts"), 20), "not registered"
        stack.ami({"Action": "QueueAdd", "Queue": QUEUE, "Interface": "PJSIP/1001", "MemberName": "ayse"})
        # Türkçe, 6: zabıta, 1; then the caller stays on the line about 20 s and hangs up.
        uniqueid = stack.call(stack.after_notice("1w6w1") + "W" * 20, hang_up=True)
        stack.wait_record(uniqueid, lambda r: r.answered, timeout=90)
        time.sleep(1)
        assert phone.command("hold").get("ok") is not False
        time.sleep(HOLD_S)
        assert phone.command("resume").get("ok") is not False
        record = stack.wait_record(uniqueid, lambda r: r.ended_at is not None and r.recording_ref is not None, 60)
    finally:
        phone.stop()
    assert record.answered_by == "ayse" and record.outcome == "answered"
    assert record.hold_s is not None and HOLD_S - 0.5 <= record.hold_s <= HOLD_S + 1.5, record.hold_s
    assert record.talk_s is not None and record.talk_s > record.hold_s
    root = recordings_dir(settings)
    assert root is not None and record.recording_ref is not None and (root / record.recording_ref).stat().st_size > 44
