"""Prometheus metrics read at scrape time from Redis and the database.

Nothing is counted in the web process: every admin worker answers a scrape with the same figures,
and none vanish at a restart. What only a process sees (FastAGI sessions, AMI reconnects) it counts
in Redis (``bus.AGI_SESSIONS``, ``bus.AMI_RECONNECTS``). docs/operations.md lists the metrics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alo185.core import bus, db
from alo185.core.settings import Settings
from alo185.monitoring import readiness
from alo185.queues.models import QueueInterval
from alo185.sms.models import SmsMessage
from alo185.tickets.models import Ticket
from alo185.voicemail import spool

log = logging.getLogger(__name__)

# The streams read in consumer groups, and their groups: what each has still to do is its lag.
CONSUMER_GROUPS = (
    (bus.CALL_EVENTS, readiness.RECORDER_GROUP),
    (spool.JOBS, spool.GROUP),
)


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight of the server's local day, in UTC (the intervals are stored in UTC)."""
    local = (now or datetime.now(UTC)).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def live_metrics(client: redis.Redis) -> Iterator[Metric]:
    """From the queue manager's live state: who waits, for how long, and the operators by state."""
    raw = client.get(bus.LIVE_QUEUES)
    queues: dict[str, Any] = json.loads(cast(str, raw)) if raw else {}
    waiting = GaugeMetricFamily("alo185_queue_waiting", "Callers waiting in the queue now", labels=["queue"])
    longest = GaugeMetricFamily(
        "alo185_queue_longest_wait_seconds", "How long the longest-waiting caller has waited", labels=["queue"]
    )
    states: dict[str, str] = {}  # interface -> state: an operator in several queues counts once
    for name, queue in sorted(queues.items()):
        waiting.add_metric([name], queue.get("waiting", 0))
        longest.add_metric([name], queue.get("longest_wait_s", 0.0))
        for interface, member in queue.get("operators", {}).items():
            states[interface] = member.get("state", "unknown")
    operators = GaugeMetricFamily("alo185_operators", "Operators logged in to a queue, by state", labels=["state"])
    for state in sorted(set(states.values())):
        operators.add_metric([state], sum(1 for s in states.values() if s == state))
    yield from (waiting, longest, operators)


def redis_metrics(client: redis.Redis) -> Iterator[Metric]:
    """The processes' counters, the streams' lag, the dead letters and the voicemail backlog."""
    agi, failed, reconnects = client.mget(bus.AGI_SESSIONS, bus.AGI_FAILURES, bus.AMI_RECONNECTS)
    yield CounterMetricFamily("alo185_agi_sessions", "FastAGI sessions ended", value=int(agi or 0))
    yield CounterMetricFamily("alo185_agi_failures", "FastAGI sessions whose script failed", value=int(failed or 0))
    yield CounterMetricFamily(
        "alo185_ami_reconnects", "AMI logins of the queue manager after its first", value=int(reconnects or 0)
    )
    lag = GaugeMetricFamily(
        "alo185_stream_lag", "Stream entries a consumer group has not finished", labels=["stream", "group"]
    )
    backlogs = {(stream, group): readiness.stream_backlog(client, stream, group) for stream, group in CONSUMER_GROUPS}
    for (stream, group), value in backlogs.items():
        lag.add_metric([stream, group], value)
    yield lag
    yield GaugeMetricFamily(
        "alo185_dead_letters",
        "Events and jobs set aside for a person",
        value=int(client.xlen(bus.DEAD_LETTERS)),
    )
    yield GaugeMetricFamily(
        "alo185_voicemail_backlog",
        "Voicemails not yet transcribed and filed",
        value=backlogs[(spool.JOBS, spool.GROUP)],
    )


def database_metrics(session: Session, now: datetime | None = None) -> Iterator[Metric]:
    """Today's service level per queue, the SMS outbox, the tickets by status."""
    since = start_of_today(now)
    rows = session.execute(
        select(
            QueueInterval.queue,
            func.sum(QueueInterval.answered_within_target),
            func.sum(QueueInterval.offered - QueueInterval.short_abandoned),
        )
        .where(QueueInterval.interval_start >= since)
        .group_by(QueueInterval.queue)
    ).all()
    sl = GaugeMetricFamily(
        "alo185_queue_service_level_today",
        "Share answered within the queue's target today (short abandons left out)",
        labels=["queue"],
    )
    for queue, within, base in sorted(rows):
        if base:
            sl.add_metric([queue], int(within or 0) / int(base))
    yield sl
    sms = {
        status: count
        for status, count in session.execute(select(SmsMessage.status, func.count()).group_by(SmsMessage.status))
    }
    yield GaugeMetricFamily(
        "alo185_sms_outbox_pending", "Text messages waiting to be sent", value=sms.get("pending", 0)
    )
    yield GaugeMetricFamily("alo185_sms_failed", "Text messages given up on", value=sms.get("failed", 0))
    tickets = GaugeMetricFamily("alo185_tickets", "Tickets by status", labels=["status"])
    by_status = session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
    for status, count in sorted((str(status), count) for status, count in by_status):
        tickets.add_metric([status], count)
    yield tickets


def ready_metrics(checks: list[readiness.Check]) -> Iterator[Metric]:
    ready = GaugeMetricFamily("alo185_ready", "1 while the readiness check passes", labels=["check"])
    for check in checks:
        ready.add_metric([check.name], 1 if check.ok else 0)
    yield ready


class AloCollector(Collector):
    """Reads every figure when scraped; a source that does not answer leaves out its metrics, and
    ``alo185_ready`` says which."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions or db.session_factory(settings.database_url)

    def collect(self) -> Iterator[Metric]:
        yield from ready_metrics(readiness.run(self.settings))
        client = readiness.redis_client(self.settings)
        try:
            yield from live_metrics(client)
            yield from redis_metrics(client)
        except redis.RedisError as exc:
            log.warning("metrics from Redis left out: %s", exc)
        finally:
            client.close()
        try:
            with self.sessions() as session:
                yield from database_metrics(session)
        except Exception as exc:  # the database away: the rest is still worth a scrape
            log.warning("metrics from the database left out: %s", exc)
