"""Queue figures from queue_log, and the Erlang predictions they are compared with."""

from __future__ import annotations

import math

import pytest

from alo185.queues import erlang
from alo185.queues.service_level import figures, parse

# Five callers to "su" in one quarter hour (from 1763715600 = 09:00 UTC): two answered fast,
# one after 12 s, one abandons after 2 s (short), one after 30 s; a sixth at 09:15 is answered.
QUEUE_LOG = """\
1763715601|c1|su|NONE|ENTERQUEUE||+905321|1
1763715603|c1|su|PJSIP/1001|CONNECT|2|c1-op|1
1763715663|c1|su|PJSIP/1001|COMPLETECALLER|2|60|1
1763715610|c2|su|NONE|ENTERQUEUE||+905322|1
1763715614|c2|su|PJSIP/1002|CONNECT|4|c2-op|1
1763715654|c2|su|PJSIP/1002|COMPLETEAGENT|4|40|1
1763715620|c3|su|NONE|ENTERQUEUE||+905323|1
1763715632|c3|su|PJSIP/1001|CONNECT|12|c3-op|0
1763715712|c3|su|PJSIP/1001|COMPLETECALLER|12|80|1
1763715630|c4|su|NONE|ENTERQUEUE||+905324|2
1763715632|c4|su|NONE|ABANDON|2|2|2
1763715640|c5|su|NONE|ENTERQUEUE||+905325|2
1763715670|c5|su|NONE|ABANDON|1|2|30
1763716500|c6|su|NONE|ENTERQUEUE||+905326|1
1763716501|c6|su|PJSIP/1002|CONNECT|1|c6-op|1
1763716521|c6|su|PJSIP/1002|COMPLETEAGENT|1|20|1
1763716530|NONE|NONE|NONE|QUEUESTART|
not a queue_log line
"""


def test_figures_per_queue_and_interval() -> None:
    totals, intervals = figures(parse(QUEUE_LOG.splitlines()), short_abandon_s=5)
    su = totals["su"]
    assert (su.offered, su.answered, su.abandoned, su.short_abandoned) == (6, 4, 2, 1)
    assert su.service_level(5) == 3 / 5  # 2, 4 and 1 s; the 2-s abandon is not held against it
    assert su.service_level(20) == 4 / 5
    assert su.asa_s == (2 + 4 + 12 + 1) / 4 and su.aht_s == (60 + 40 + 80 + 20) / 4
    assert su.answer_rate == 4 / 6
    assert [f.offered for _k, f in sorted(intervals.items())] == [5, 1]
    assert su.as_dict()["sl_5s"] == 0.6


def test_only_the_calls_asked_for() -> None:
    totals, _ = figures(parse(QUEUE_LOG.splitlines()), callids={"c1", "c4"})
    assert (totals["su"].offered, totals["su"].answered, totals["su"].abandoned) == (2, 1, 1)


def test_erlang_c_known_values() -> None:
    # 100 calls/hour, 3-minute handle time (5 Erlangs), 7 agents: P(wait) = 0.3241 (Erlang C tables).
    lam, mu = 100 / 3600, 1 / 180
    assert erlang.erlang_c(lam, mu, 7) == pytest.approx(0.3241, abs=5e-4)
    assert erlang.asa(lam, mu, 7) == pytest.approx(0.3241 / (7 / 180 - lam), rel=1e-3)
    assert erlang.service_level(lam, mu, 7, 20) == pytest.approx(1 - 0.3241 * math.exp(-2 / 180 * 20), abs=5e-4)
    assert erlang.erlang_c(lam, mu, 5) == 1.0 and erlang.asa(lam, mu, 5) == math.inf


def test_erlang_a_abandonment() -> None:
    lam, mu = 100 / 3600, 1 / 180
    patient, impatient = erlang.erlang_a_abandon(lam, mu, 5, 1 / 600), erlang.erlang_a_abandon(lam, mu, 5, 1 / 30)
    assert 0 < patient < impatient < 1  # less patience, more abandons
    assert erlang.erlang_a_abandon(lam, mu, 20, 1 / 60) < 1e-6  # plenty of agents: nobody waits
    with pytest.raises(ValueError):
        erlang.erlang_a_abandon(lam, mu, 5, 0)
