"""SL, ASA, AHT and abandonment from alo185's call records equal what Asterisk's queue_log implies."""

from __future__ import annotations

import time

from alo185.core import procs
from alo185.queues.service_level import figures, figures_from_records, parse
from harness.instance import Stack


def test_records_and_queue_log_agree(stack: Stack) -> None:
    # Zabıta (6, then 1: bakeries) with one operator who talks 20 s: the first caller is answered, the second waits
    # and gives up after a few seconds (abandoned), the third waits for the operator and is answered.
    queue, keys = "zabita", stack.after_notice("1w6w1")
    with stack.one_operator(queue, "Yavaş", talk_s=20, ident=98):
        first = stack.call(keys, caller="+905326660001", hang_up=False)
        time.sleep(3)  # the second and third arrive while the operator talks to the first
        second = stack.call(keys, caller="+905326660002", hang_up=True)
        third = stack.call(keys + "W" * 6, caller="+905326660003", hang_up=False)
        records = [stack.wait_record(u, timeout=180) for u in (first, second, third)]
    assert [r.queue for r in records] == [queue] * 3, [(r.queue, r.outcome) for r in records]
    assert (records[0].answered, records[1].abandoned, records[2].answered) == (True, True, True)
    log = stack.pbx.instance_dir / "log" / "queue_log"
    assert procs.wait_until(lambda: sum(1 for _ in parse(log.read_text().splitlines())) > 0, 10)
    from_log, _intervals = figures(parse(log.read_text().splitlines()), callids={r.uniqueid for r in records})
    from_records = figures_from_records(records)
    ours, asterisk = from_records[queue].as_dict(), from_log[queue].as_dict()
    for name in ("offered", "answered", "abandoned", "short_abandoned", "sl_5s", "sl_20s", "answer_rate"):
        assert ours[name] == asterisk[name], (name, ours, asterisk)
    for name in ("asa_s", "aht_s"):
        ours_s, asterisk_s = ours[name], asterisk[name]
        assert ours_s is not None and asterisk_s is not None, (name, ours, asterisk)
        assert abs(ours_s - asterisk_s) <= 1.0, (name, ours, asterisk)  # queue_log has whole seconds
