"""The report pages: Turkish figures from a known month, their CSV/XLSX/PDF, charts, permissions, bad input.

The month is ``test_reports_figures.october`` (hand-computed figures there); the admin is ``tests.staff.World``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from alo185.reports import export
from tests.staff import World
from tests.unit.test_reports_figures import csv_tables, october

OCTOBER = "from=2026-10-01&to=2026-10-31"
REPORTS = ("/reports/calls", "/reports/tickets", "/reports/iso10002", "/reports/monthly", "/reports/monthly.pdf")


@pytest.fixture
def month(world: World, database_url: str) -> World:
    october(database_url)
    return world


def _text(world: World, path: str, role: str = "supervisor") -> str:
    response = world.client(role).get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_the_call_report_in_turkish_formats_with_charts(month: World) -> None:
    page = _text(month, f"/reports/calls?{OCTOBER}")
    assert "01.10.2026 – 31.10.2026" in page
    for figure in ("%85,7", "%77,8", "%50,0", "%75,0", "9,6 sn", "90,0 sn", "75,0 sn", "110,0 sn", "%66,7"):
        assert figure in page, figure
    assert '<th scope="row">02.10.2026</th><td class="num">5</td>' in page
    assert '<th scope="row">10:00–11:00</th><td class="num">3</td>' in page
    charts = re.findall(r'<svg role="img" aria-labelledby="([\w-]+)-t [\w-]+-d"', page)
    assert charts == ["chart-days", "chart-hours"] and "<title>02.10: 5</title>" in page
    assert 'aria-current="page">Çağrılar' in page and "<script" not in page


def test_the_call_report_csv_and_xlsx(month: World) -> None:
    client = month.client("quality")
    response = client.get(f"/reports/calls?{OCTOBER}&format=csv")
    assert (
        response.mimetype == "text/csv"
        and "cagri-raporu-2026-10-01-2026-10-31.csv" in response.headers["Content-Disposition"]
    )
    parsed = csv_tables(response.get_data(as_text=True))
    summary = {row[0]: row[1] for row in parsed["Çağrılar – özet"][1:]}
    assert (summary["Cevaplanan"], summary["Başvuruya dönüşen cevaplanmış çağrı"]) == ("7", "6")
    assert summary["Başvuruya dönüşme oranı"] == "85.71" and summary["Hizmet seviyesi (20 sn)"] == "75.0"
    workbook = client.get(f"/reports/calls?{OCTOBER}&format=xlsx")
    assert workbook.mimetype == export.XLSX_MIME
    book = load_workbook(io.BytesIO(workbook.data))
    queues = {row[0]: row[1:] for row in book["Çağrılar – kuyruk"].iter_rows(min_row=2, values_only=True)}
    assert queues["su"][:3] == (6, 6, 5) and queues["cop"][5] == 0 and queues["(kuyruğa girmeyen)"][:2] == (1, 0)
    assert queues["Toplam"][:3] == (10, 9, 7)
    [su] = [row for row in book["Çağrılar – kuyruk"].iter_rows(min_row=2) if row[0].value == "su"]
    assert (su[6].value, su[6].number_format) == (0.8, "0.0%")  # SL 5 sn: a ratio shown as a percentage


def test_the_ticket_report(month: World) -> None:
    page = _text(month, f"/reports/tickets?{OCTOBER}", "admin")
    assert '<th scope="row">Başvuru</th><td class="num">8</td>' in page
    assert "%12,5" in page and "35,0 sa" in page and "%50,0" in page
    assert "Yolda çukur / bozulma" in page and "Telefon" in page and 'id="chart-categories-t"' in page
    parsed = csv_tables(month.client("admin").get(f"/reports/tickets?{OCTOBER}&format=csv").get_data(as_text=True))
    channels = parsed["Başvurular – kanal"]
    assert channels[0] == ["Kanal", "Başvuru", "Pay (%)"] and channels[1] == ["Telefon", "8", "100.0"]


def test_the_iso10002_report(month: World) -> None:
    page = _text(month, f"/reports/iso10002?{OCTOBER}", "quality")
    for figure in ("1 dk 30 sn", "10 dk", "35,0 sa", "%12,5", "%75"):
        assert figure in page, figure
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>', page))
    assert rows["Alındı bildirimi olmayan"] == "3" and rows["Süresi geçmiş açık başvuru (şu an)"] == "6"
    assert rows["Karar bekleyen uygunsuzluk"] == "1" and rows["Açık DİF (tümü, şu an)"] == "2"
    assert rows["Yeniden açma"] == "1" and rows["Kapatıldı"] == "1"


def test_the_monthly_report_page_exports_and_pdf(month: World) -> None:
    client = month.client("supervisor")
    page = _text(month, "/reports/monthly?month=2026-10")
    assert "Aylık rapor – Ekim 2026" in page and 'value="2026-10"' in page
    assert "%85,7" in page and "%75" in page and "1 dk 30 sn" in page and "Memnun (çok memnun + memnun)" in page
    assert 'href="/reports/monthly.pdf?month=2026-10"' in page
    book = load_workbook(io.BytesIO(client.get("/reports/monthly?month=2026-10&format=xlsx").data))
    assert {"Çağrılar – özet", "Başvurular – özet", "Memnuniyet anketi", "DİF – durum"} <= set(book.sheetnames)
    survey = {row[0]: row[1:] for row in book["Memnuniyet anketi"].iter_rows(min_row=2, values_only=True)}
    assert survey["Memnun (çok memnun + memnun)"] == (3, 0.75)
    pdf = client.get("/reports/monthly.pdf?month=2026-10")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    title = pdf.data.split(b"/Title <", 1)[1].split(b">", 1)[0]
    assert bytes.fromhex(title.decode()).decode("utf-16") == "Aylık rapor – Ekim 2026"


def test_the_pdf_without_its_font_says_what_to_install(month: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "FONT_DIR", Path("/nonexistent"))
    response = month.client("admin").get("/reports/monthly.pdf?month=2026-10")
    assert response.status_code == 503 and "fonts-dejavu-core" in response.get_data(as_text=True)


def test_the_survey_report_exports_too(month: World) -> None:
    parsed = csv_tables(month.client("quality").get(f"/reports/survey?{OCTOBER}&format=csv").get_data(as_text=True))
    rows = {row[0]: row[1:] for row in parsed["Memnuniyet anketi"][1:]}
    assert rows["1 – Çok memnunum"] == ["2", "50.0"] and rows["Memnun (çok memnun + memnun)"] == ["3", "75.0"]


def test_roles_without_the_report_permission_are_refused(world: World) -> None:
    for role in ("operator", "expert", "chief", "manager"):
        client = world.client(role)
        for page in REPORTS:
            assert client.get(page).status_code == 403, (role, page)
            assert client.get(f"{page}?format=csv").status_code == 403, (role, page)
    assert world.app.test_client().get("/reports/monthly?format=xlsx").status_code == 302  # to the login


BAD_INPUT = [
    ("/reports/calls?from=2026-13-01", "YYYY-AA-GG"),
    ("/reports/tickets?from=21.10.2026", "YYYY-AA-GG"),
    ("/reports/iso10002?from=2026-10-31&to=2026-10-01", "Başlangıç tarihi bitiş tarihinden sonra olamaz"),
    ("/reports/calls?from=2025-01-01&to=2026-10-31", "en fazla 366 gün"),
    ("/reports/monthly?month=2026-13", "YYYY-AA"),
    ("/reports/monthly?month=3000-01", "1900–2999"),
    ("/reports/iso10002?from=0001-01-01&to=0001-01-02", "1900–2999"),
    ("/reports/monthly.pdf?month=ekim", "YYYY-AA"),
    ("/reports/calls?format=pdf", "csv veya xlsx"),
    ("/reports/survey?by=renk", "Geçersiz kırılım"),
]


def test_bad_input_is_refused_in_turkish(world: World) -> None:
    client = world.client("supervisor")
    for path, message in BAD_INPUT:
        response = client.get(path)
        assert response.status_code == 400, path
        assert message in response.get_data(as_text=True), path
