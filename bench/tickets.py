"""The ticket store at scale: N synthetic Turkish tickets in SQLite and in PostgreSQL.

The generator follows the shape of a metropolitan hotline's year: water faults and waste lead,
most requests come by phone, districts by population, a citizen calls more than once (a
skewed reuse of 300 k-odd numbers), 85 % of tickets are finished. Tickets are bulk-loaded (no
history rows for them); then, on the loaded database:

- ``search_number_p95_ms`` / ``search_phone_p95_ms``: ``tickets.search`` with a ticket number /
  a caller's number (the results: up to 50 tickets, newest first);
- ``open_list_p95_ms``: a directorate's work list (``queries.open_for_directorate``, 100 rows);
- ``create_per_s`` / ``create_p95_ms``: ``queries.create_ticket`` (number, routing, due time,
  history, the SMS outbox row), one transaction each, committed;
- ``month_report_s``: ``reports.tickets.month_report`` for the last full month.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from alo185 import services
from alo185.core import db
from alo185.core.settings import Settings
from alo185.org.models import District, Mahalle
from alo185.tickets import numbers, queries, search
from alo185.tickets.figures import month_report
from alo185.tickets.models import Category, Citizen, Ticket
from bench.common import percentile
from harness import pg_cluster

BATCH = 20_000
WEIGHTS = {  # category code -> relative frequency
    "su-arizasi": 14, "su-kesintisi": 9, "kanal-tikanikligi": 6, "cop-toplama": 12, "konteyner-talebi": 4,
    "yol-cukur": 7, "kaldirim-onarim": 3, "park-bakim": 3, "agac-budama": 3, "zabita-firin": 2,
    "zabita-pazar": 2, "zabita-gurultu": 3, "otobus-sefer": 5, "kentkart": 3, "ilaclama": 4,
    "sokak-hayvanlari": 3, "sosyal-yardim": 3, "cenaze-hizmeti": 1, "fatura-itiraz": 4, "sayac-arizasi": 3,
}  # fmt: skip
CHANNELS = {"phone": 70, "whatsapp": 12, "web": 10, "email": 3, "social": 2, "walk_in": 2, "platform": 1}
DISTRICT_WEIGHTS = {
    "Tarsus": 34, "Toroslar": 28, "Yenişehir": 27, "Mezitli": 21, "Akdeniz": 17, "Erdemli": 15,
    "Silifke": 12, "Anamur": 7, "Mut": 6, "Bozyazı": 3, "Gülnar": 2, "Aydıncık": 1, "Çamlıyayla": 1,
}  # fmt: skip
FINISHED = ["resolved"] * 60 + ["closed"] * 18 + ["redirected"] * 4 + ["cannot_be_done"] * 2 + ["duplicate"]
OPEN = ["routed"] * 6 + ["in_progress"] * 6 + ["awaiting_chief"] * 2 + ["checked"] + ["reopened"]
PHRASES = (
    "Sokağımızda {x} gündür su yok", "Ana boru patladı, su fışkırıyor", "Çöpler {x} gündür toplanmadı",
    "Kaldırımda büyük çukur var, yaşlılar düşüyor", "Parktaki ağacın dalı kırıldı", "Fırında ekmek gramajı düşük",
    "Otobüs {x} dakikadır gelmedi", "Kanalizasyon taştı, koku var", "Gece müzik sesi çok yüksek",
    "Sokak köpekleri saldırgan", "Su faturam çok yüksek geldi, itiraz ediyorum", "Sayaç dönmüyor",
)  # fmt: skip


def _world(session: Session) -> dict[str, Any]:
    categories = {c.code: c for c in session.scalars(select(Category).where(Category.code.in_(WEIGHTS)))}
    districts = {d.name: d.id for d in session.scalars(select(District))}
    mahalles: dict[int, list[int]] = {}
    for m in session.scalars(select(Mahalle)):
        mahalles.setdefault(m.district_id, []).append(m.id)
    return {"categories": categories, "districts": districts, "mahalles": mahalles}


def _next_id(session: Session, model: type[Citizen] | type[Ticket]) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def generate(url: str, count: int, now: datetime, seed: int = 185) -> dict[str, Any]:
    """Load ``count`` tickets; returns samples for the queries (numbers, phones, directorates)."""
    rng = random.Random(seed)
    sessions = db.session_factory(url)
    with sessions() as s:
        world = _world(s)
        citizen_base, ticket_base = _next_id(s, Citizen), _next_id(s, Ticket)
    phones = [f"+905{rng.randrange(30, 60):02d}{rng.randrange(10**7):07d}" for _ in range(max(10, count // 3))]
    phones = list(dict.fromkeys(phones))
    engine = db.engine_for(url)
    with engine.begin() as conn:
        for start in range(0, len(phones), BATCH):
            chunk = phones[start : start + BATCH]
            rows = [{"id": citizen_base + start + i, "phone": p, "platform_role": "none"} for i, p in enumerate(chunk)]
            conn.execute(insert(Citizen), [{**r, "created_at": now, "updated_at": now} for r in rows])
    codes = list(WEIGHTS)
    code_weights = list(WEIGHTS.values())
    district_names = [d for d in DISTRICT_WEIGHTS if d in world["districts"]]
    bodies = rng.sample(range(10 ** (numbers.BODY_DIGITS - 1), 10**numbers.BODY_DIGITS), count)
    channel_names, channel_weights = list(CHANNELS), list(CHANNELS.values())
    with engine.begin() as conn:
        for start in range(0, count, BATCH):
            rows = []
            for i in range(start, min(count, start + BATCH)):
                category = world["categories"][rng.choices(codes, code_weights)[0]]
                district_id = world["districts"][
                    rng.choices(district_names, [DISTRICT_WEIGHTS[d] for d in district_names])[0]
                ]
                created = now - timedelta(seconds=rng.randrange(365 * 86400))
                finished = rng.random() < 0.85 and created < now - timedelta(days=2)
                status = rng.choice(FINISHED if finished else OPEN)
                due = created + timedelta(days=rng.choice((1, 2, 3, 5, 10)))
                resolved = (
                    created + timedelta(hours=rng.expovariate(1 / 40)) if status in ("resolved", "closed") else None
                )
                description = rng.choice(PHRASES).format(x=rng.randint(2, 9))
                body = str(bodies[i])
                phone_index = min(len(phones) - 1, int(rng.paretovariate(1.2)) - 1 + rng.randrange(len(phones)) // 2)
                rows.append(
                    {
                        "id": ticket_base + i,
                        "number": body + numbers.check_digit(body),
                        "type": "sikayet" if rng.random() < 0.3 else "istek",
                        "channel": rng.choices(channel_names, channel_weights)[0],
                        "status": status,
                        "priority": str(category.default_priority),
                        "category_id": category.id,
                        "directorate_id": category.directorate_id,
                        "citizen_id": citizen_base + phone_index,
                        "district_id": district_id,
                        "mahalle_id": rng.choice(world["mahalles"].get(district_id) or [None]),
                        "description": description,
                        "search_text": queries.search_text(description, None),
                        "reopen_count": 1 if status == "reopened" or rng.random() < 0.03 else 0,
                        "due_at": due,
                        "created_at": created,
                        "updated_at": resolved or created,
                        "resolved_at": resolved,
                        "closed_at": resolved + timedelta(days=3) if status == "closed" and resolved else None,
                    }
                )
            conn.execute(insert(Ticket), rows)
    _after_bulk_load(url)
    numbers_sample = [str(b) + numbers.check_digit(str(b)) for b in rng.sample(bodies, min(500, count))]
    with sessions() as s:
        directorates = [c.directorate_id for c in world["categories"].values() if c.directorate_id]
    return {
        "numbers": numbers_sample,
        "phones": rng.sample(phones, min(500, len(phones))),
        "directorates": directorates,
    }


def _after_bulk_load(url: str) -> None:
    """Statistics for the planner; on PostgreSQL, id sequences past the loaded ids."""
    with db.engine_for(url).begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("citizens", "tickets"):
                conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))


def _timed(fn: Any, items: list[Any]) -> list[float]:
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def measure(url: str, count: int, creations: int) -> dict[str, Any]:
    services.prepare_database(Settings(db_url=url))
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    sample = generate(url, count, now)
    load_s = time.perf_counter() - t0
    sessions = db.session_factory(url)
    with sessions() as s:
        by_number = _timed(lambda n: search.search(s, n), sample["numbers"])
        by_phone = _timed(lambda p: search.search(s, p), sample["phones"])
        directorates = sample["directorates"] * (200 // max(1, len(sample["directorates"])) + 1)
        open_list = _timed(lambda d: queries.open_for_directorate(s, d), directorates[:200])
    rng = random.Random(7)

    def create(_i: int) -> None:
        with sessions.begin() as s:
            queries.create_ticket(
                s,
                phone=f"+90532{rng.randrange(10**7):07d}",
                category_code=rng.choice(list(WEIGHTS)),
                description="Yeni başvuru: sokakta çukur var",
                channel="phone",
            )

    t0 = time.perf_counter()
    create_ms = _timed(create, list(range(creations)))
    create_s = time.perf_counter() - t0
    month_end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_start = (month_end - timedelta(days=1)).replace(day=1)
    with sessions() as s:
        t0 = time.perf_counter()
        report = month_report(s, month_start, month_end)
        report_s = time.perf_counter() - t0
    return {
        "tickets": count,
        "load_s": round(load_s, 1),
        "search_number_p95_ms": _p95(by_number),
        "search_phone_p95_ms": _p95(by_phone),
        "open_list_p95_ms": _p95(open_list),
        "create_per_s": round(creations / create_s, 1),
        "create_p95_ms": _p95(create_ms),
        "month_report_s": round(report_s, 3),
        "month_report_tickets": report["tickets"],
    }


def _p95(values: list[float]) -> float | None:
    p = percentile(values, 95)
    return None if p is None else round(p, 2)


def run(quick: bool = False) -> dict[str, Any]:
    import tempfile

    count, creations = (20_000, 50) if quick else (1_000_000, 300)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="alo185-bench-tickets-") as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'tickets.db'}", count, creations)
        with pg_cluster.private_cluster() as server:
            results["postgresql"] = measure(
                pg_cluster.create_database(server, f"b_{uuid.uuid4().hex[:8]}"), count, creations
            )
    return results
