"""Reports as tables: what the pages show and the exports write, with Turkish labels and formats.

The report modules compute figures; this module lays them out once, so a page, its CSV, its XLSX
and the monthly PDF never disagree. Values stay raw here (ratios 0–1, seconds, hours, dates);
``display`` writes them the Turkish way (``%85,7``, ``1.920``, ``21.11.2026``), the exports as
machine-readable numbers (``alo185.reports.export``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from alo185.reports.calls import SL_TARGETS_S, CallGroup, CallsReport
from alo185.reports.iso10002 import as_ratio
from alo185.surveys import results, scale

KINDS = ("text", "int", "pct", "sec", "dur", "hour", "date")
# The unit a machine-readable export states next to a value of each kind.
UNITS = {"pct": "%", "sec": "sn", "dur": "sn", "hour": "sa"}
NONE = "–"
UNSPECIFIED = "(belirtilmemiş)"
CHANNELS = {
    "phone": "Telefon",
    "whatsapp": "WhatsApp",
    "web": "Web",
    "email": "E-posta",
    "social": "Sosyal medya",
    "walk_in": "Yüz yüze",
    "platform": "Platform",
}
DECISIONS = {"reopen": "Yeniden açma", "redirect": "Yönlendirme", "": "Karar bekliyor"}
DIF_STATUSES = {
    "open": "Açık",
    "planned": "Planlandı",
    "done": "Uygulandı",
    "approved": "Onaylandı",
    "closed": "Kapatıldı",
}
MONTHS = ("Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim", "Kasım", "Aralık")


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"
    decimals: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Cell:
    """A value whose kind differs from its column's (the value column of a key–value table)."""

    value: Any
    kind: str
    decimals: int = 1


@dataclass
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    total: tuple[Any, ...] | None = None  # shown last, in bold

    def all_rows(self) -> list[tuple[Any, ...]]:
        return [*self.rows, *([self.total] if self.total is not None else [])]


@dataclass
class Document:
    """A titled set of tables for one period: one page, one CSV, one workbook, one PDF."""

    title: str
    first: date
    last: date  # inclusive
    tables: list[Table]
    slug: str  # the download's file name, without extension
    heading: str = ""  # how the period is named ("Kasım 2026"); the dates otherwise

    @property
    def period(self) -> str:
        return self.heading or period_tr(self.first, self.last)


# --- formats ---------------------------------------------------------------------------------


def resolve(value: Any, column: Column) -> tuple[Any, str, int]:
    """(raw value, kind, decimals) of one cell; a string is text in any column (a total row's "Toplam")."""
    if isinstance(value, Cell):
        return value.value, value.kind, value.decimals
    if isinstance(value, str):
        return value, "text", 0
    return value, column.kind, column.decimals


def number_tr(value: float, decimals: int = 0) -> str:
    """``1.920``, ``85,7``: dots between thousands, a decimal comma."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def duration_tr(seconds: float) -> str:
    """``45 sn``, ``3 dk 20 sn``, ``2 sa 5 dk``, ``3 gün 4 sa``: the two largest units."""
    total = round(seconds)
    parts = [(total // 86400, "gün"), (total % 86400 // 3600, "sa"), (total % 3600 // 60, "dk"), (total % 60, "sn")]
    shown = [(n, unit) for n, unit in parts if n]
    return " ".join(f"{n} {unit}" for n, unit in shown[:2]) or "0 sn"


def display(value: Any, column: Column) -> str:
    """A cell as a Turkish reader expects it; ``–`` where there is no figure (nothing to divide by)."""
    value, kind, decimals = resolve(value, column)
    if value is None:
        return NONE
    if kind == "int":
        return number_tr(value)
    if kind == "pct":
        return "%" + number_tr(100 * value, decimals)
    if kind == "sec":
        return f"{number_tr(value, decimals)} sn"
    if kind == "hour":
        return f"{number_tr(value, decimals)} sa"
    if kind == "dur":
        return duration_tr(value)
    if kind == "date":
        return date_tr(value)
    return str(value)


def date_tr(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def period_tr(first: date, last: date) -> str:
    return f"{date_tr(first)} – {date_tr(last)}"


def month_tr(first: date) -> str:
    """``Kasım 2026``."""
    return f"{MONTHS[first.month - 1]} {first.year}"


# --- calls -----------------------------------------------------------------------------------

CALL_COLUMNS = (
    Column("Çağrı", "int"),
    Column("Kuyruğa giren", "int"),
    Column("Cevaplanan", "int"),
    Column("Kaçan", "int"),
    Column("Kısa kaçan", "int"),
    *(Column(f"SL {t} sn", "pct") for t in SL_TARGETS_S),
    Column("ASA", "sec"),
    Column("AHT", "sec"),
    Column("Cevaplanma oranı", "pct"),
    Column("Başvuruya dönüşen", "int"),
    Column("Başvuru oranı", "pct"),
)
OPERATOR_COLUMNS = (
    Column("Cevaplanan", "int"),
    Column("AHT", "sec"),
    Column("Başvuruya dönüşen", "int"),
    Column("Başvuru oranı", "pct"),
)


def _call_cells(group: CallGroup) -> tuple[Any, ...]:
    f = group.figures
    return (
        group.calls,
        f.offered,
        f.answered,
        f.abandoned,
        f.short_abandoned,
        *(f.service_level(t) for t in SL_TARGETS_S),
        f.asa_s,
        f.aht_s,
        f.answer_rate,
        group.with_ticket,
        group.ticket_share,
    )


def _operator_cells(group: CallGroup) -> tuple[Any, ...]:
    return (group.figures.answered, group.figures.aht_s, group.with_ticket, group.ticket_share)


def _grouped(
    title: str,
    key: Column,
    groups: Mapping[Any, CallGroup],
    total: CallGroup,
    operators: bool = False,
    blank: str = UNSPECIFIED,
) -> Table:
    cells = _operator_cells if operators else _call_cells
    return Table(
        title,
        (key, *(OPERATOR_COLUMNS if operators else CALL_COLUMNS)),
        [(name or blank, *cells(g)) for name, g in groups.items()],
        ("Toplam", *cells(total)),
    )


def hour_label(hour: int) -> str:
    return f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"


def call_summary(report: CallsReport) -> Table:
    t, f = report.total, report.total.figures
    return _key_value(
        "Çağrılar – özet",
        [
            ("Gelen çağrı", t.calls, "int"),
            ("Kuyruğa giren", f.offered, "int"),
            ("Cevaplanan", f.answered, "int"),
            ("Cevaplanma oranı", f.answer_rate, "pct"),
            ("Kaçan (kısa kaçanlar dahil)", f.abandoned, "int"),
            ("Kısa kaçan", f.short_abandoned, "int"),
            *((f"Hizmet seviyesi ({t} sn)", f.service_level(t), "pct") for t in SL_TARGETS_S),
            ("Ortalama cevaplama süresi (ASA)", f.asa_s, "sec"),
            ("Ortalama görüşme süresi (AHT)", f.aht_s, "sec"),
            ("Başvuruya dönüşen cevaplanmış çağrı", t.with_ticket, "int"),
            ("Başvuruya dönüşme oranı", t.ticket_share, "pct"),
        ],
    )


def call_tables(report: CallsReport) -> list[Table]:
    hours = {hour_label(h): g for h, g in report.hours.items()}
    return [
        call_summary(report),
        _grouped("Çağrılar – günlük", Column("Gün", "date"), report.days, report.total),
        _grouped("Çağrılar – saatlik", Column("Saat"), hours, report.total),
        _grouped("Çağrılar – kuyruk", Column("Kuyruk"), report.queues, report.total, blank="(kuyruğa girmeyen)"),
        _grouped("Çağrılar – operatör", Column("Operatör"), report.operators, report.total, operators=True),
    ]


# --- tickets ---------------------------------------------------------------------------------


def _key_value(title: str, rows: Iterable[tuple[str, Any, str] | tuple[str, Any, str, int]]) -> Table:
    """A table of named figures, each of its own kind (``Cell``)."""
    return Table(title, (Column("Gösterge"), Column("Değer")), [(name, Cell(*rest)) for name, *rest in rows])


def _distribution(title: str, key: str, counts: Mapping[str, int], names: Mapping[str, str] | None = None) -> Table:
    """Counts by key with each one's share of the total, the most first."""
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Table(
        title,
        (Column(key), Column("Başvuru", "int"), Column("Pay", "pct")),
        [((names or {}).get(k, k) or UNSPECIFIED, n, n / total if total else None) for k, n in ordered],
        ("Toplam", total, 1.0 if total else None),
    )


def ticket_summary(report: Mapping[str, Any]) -> Table:
    """``alo185.tickets.figures.month_report``'s figures (its percentages as ratios)."""
    return _key_value(
        "Başvurular – özet",
        [
            ("Başvuru", report["tickets"], "int"),
            ("Çözülen", report["resolved"], "int"),
            ("Çözüm süresi (medyan)", report["resolution_hours_median"], "hour"),
            ("Çözüm süresi (ortalama)", report["resolution_hours_mean"], "hour"),
            ("Süresinde çözülen", as_ratio(report["within_sla_percent"]), "pct"),
            ("Yeniden açılma oranı", as_ratio(report["reopen_rate_percent"]), "pct"),
            ("Yönlendirme oranı", as_ratio(report["redirect_rate_percent"]), "pct"),
        ],
    )


def ticket_tables(report: Mapping[str, Any]) -> list[Table]:
    return [
        ticket_summary(report),
        _distribution("Başvurular – kategori", "Kategori", report["by_category"]),
        _distribution("Başvurular – müdürlük", "Müdürlük", report["by_directorate"]),
        _distribution("Başvurular – kanal", "Kanal", report["by_channel"], CHANNELS),
        _distribution("Başvurular – ilçe", "İlçe", report["by_district"]),
    ]


# --- survey ----------------------------------------------------------------------------------


def survey_table(result: results.SurveyTable, title: str = "Memnuniyet anketi") -> Table:
    """İnegöl's table: shares cut to one decimal, "satisfied" to a whole percent (``survey``'s rules)."""
    rows: list[tuple[Any, ...]] = [
        (f"{a} – {label.capitalize()}", result.counts[a], result.percent(a) / 100) for a, label in scale.LABELS.items()
    ]
    rows += [
        ("Toplam", result.answered, 1.0 if result.answered else None),
        ("Memnun (çok memnun + memnun)", result.satisfied, Cell(result.satisfied_percent / 100, "pct", 0)),
        (f"Yanıt oranı (yanıtlanan / sorulan {result.offered})", None, result.response_rate / 100),
    ]
    return Table(title, (Column("Cevap"), Column("Adet", "int"), Column("Oran", "pct")), rows)


# --- ISO 10002 -------------------------------------------------------------------------------


def iso_tables(report: Mapping[str, Any]) -> list[Table]:
    ack, nc, difs = report["acknowledgement"], report["nonconformities"], report["difs"]
    summary = _key_value(
        "ISO 10002 – göstergeler",
        [
            ("Alınan başvuru", report["received"], "int"),
            ("Alındı bildirimi gönderilen", ack["sent"], "int"),
            ("Alındı bildirimi olmayan", ack["missing"], "int"),
            ("Alındı bildirimi süresi (medyan)", ack["median_s"], "dur"),
            ("Alındı bildirimi süresi (%90'ı bu sürede)", ack["p90_s"], "dur"),
            ("Çözüm süresi (medyan)", report["resolution_hours_median"], "hour"),
            ("Süresinde çözülen", report["within_sla"], "pct"),
            ("Yeniden açılma oranı", report["reopen_rate"], "pct"),
            ("Memnuniyet (ankete yanıt verenler)", report["satisfied"], "pct", 0),
            ("Ankete yanıt", report["survey_answered"], "int"),
            ("Uygunsuzluk kaydı", nc["total"], "int"),
            ("Karara bağlanan uygunsuzluk", nc["decided"], "int"),
            ("Karar bekleyen uygunsuzluk", nc["undecided"], "int"),
            ("Açık DİF (tümü, şu an)", difs["open_now"], "int"),
            ("Süresi geçmiş açık başvuru (şu an)", report["overdue_now"], "int"),
        ],
    )
    decisions = Table(
        "Uygunsuzluk – karar",
        (Column("Karar"), Column("Adet", "int")),
        [(DECISIONS.get(k, k), n) for k, n in nc["by_decision"].items()],
        ("Toplam", nc["total"]),
    )
    statuses = Table(
        "DİF – durum",
        (Column("Durum"), Column("Adet", "int")),
        [(DIF_STATUSES.get(k, k), n) for k, n in difs["by_status"].items()],
        ("Toplam", sum(difs["by_status"].values())),
    )
    return [summary, decisions, statuses]


# --- labels ----------------------------------------------------------------------------------


def labels() -> set[str]:
    """Every fixed Turkish label the tables write (titles, columns, row names, names of values).

    The admin translates them on its pages (``admin.i18n.vocabulary()``); the exports keep them
    Turkish. Read off tables laid out from empty reports, so a label added above is listed too.
    """
    groups = ("by_category", "by_directorate", "by_channel", "by_district")
    ticket_report = _Blank({k: {} for k in groups})
    iso_report = _Blank(acknowledgement=_Blank(), nonconformities=_Blank(by_decision={}), difs=_Blank(by_status={}))
    empty = CallsReport(CallGroup(), {}, {}, {"": CallGroup()}, {})  # "": the queue-less calls
    every = [
        *call_tables(empty),
        *ticket_tables(ticket_report),
        *iso_tables(iso_report),
        survey_table(results.SurveyTable(offered=0)),
    ]
    found = {UNSPECIFIED, *CHANNELS.values(), *DECISIONS.values(), *DIF_STATUSES.values()}
    for table in every:
        found.add(table.title)
        found.update(c.label for c in table.columns)
        found.update(row[0] for row in table.all_rows() if isinstance(row[0], str))
    return {label for label in found if not label.startswith(RESPONSE_RATE_PREFIX)}


# The survey table's response-rate row names the number asked: not a fixed label.
RESPONSE_RATE_PREFIX = "Yanıt oranı (yanıtlanan / sorulan "


class _Blank(dict[str, Any]):
    """A report with nothing in it: any missing figure is ``None``, any missing group empty."""

    def __missing__(self, key: str) -> Any:
        return None
