"""A real call leaves no full phone number in any log: Asterisk's own and every process's."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Stack

CALLER = "+905321239876"  # this test's caller only: its digits must appear in no log line


def _logs(stack: Stack) -> list[Path]:
    """Every log an instance writes: the processes' (Asterisk's console among them) and Asterisk's files.

    Not queue_log: that is Asterisk's record of the calls (the queue manager rebuilds from it), not a log.
    """
    asterisk_logs = stack.pbx.instance_dir / "log"
    files = [*stack.settings.log_dir.glob("*.log"), *asterisk_logs.glob("*")]
    return [f for f in files if f.is_file() and f.name != "queue_log"]


def test_no_log_carries_the_callers_number(stack: Stack) -> None:
    uniqueid = stack.call(stack.after_notice("1w1w1"), caller=CALLER)  # Türkçe, water, fault: to an operator
    record = stack.wait_record(uniqueid, timeout=90)
    assert record.caller == CALLER and record.answered
    logs = _logs(stack)
    assert any(f.name == "asterisk.log" for f in logs) and any(f.name == "messages.log" for f in logs)
    assert any(uniqueid in f.read_text(errors="replace") for f in logs), "the call should be in the logs"
    for log in logs:
        leaks = [line for line in log.read_text(errors="replace").splitlines() if "5321239876" in line]
        assert not leaks, f"{log.name}: {leaks[:3]}"
