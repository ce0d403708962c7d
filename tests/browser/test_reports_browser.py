"""The reports in a real browser against a running instance: each page renders a known month with its
figures and charts, and the exports arrive as downloads (CSV, XLSX, the monthly PDF) with the right type.

The month is ``tests.unit.test_reports_figures.october`` (hand-computed figures there), written into the
running instance's database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from alo185.org.models import Role
from alo185.reports import export
from harness.instance import Stack
from tests.browser.conftest import add_staff, base_url, log_in
from tests.unit.test_reports_figures import october

OCTOBER = "from=2026-10-01&to=2026-10-31"


@pytest.fixture(scope="module")
def month(admin_stack: Stack) -> Stack:
    october(admin_stack.settings.database_url)
    add_staff(admin_stack, "raporcu", Role.SUPERVISOR)
    return admin_stack


def _download(page: Page, link_name: str, target: Path, save_link: bool = False) -> tuple[str, bytes]:
    """Click the export link as a person would; the browser's download: its file name and bytes.

    ``save_link``: Alt+click, the browser's "save the link" (the PDF is sent inline, to be shown).
    """
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click(modifiers=["Alt"] if save_link else None)
    download = info.value
    assert download.failure() is None, download.failure()
    download.save_as(target / download.suggested_filename)
    return download.suggested_filename, (target / download.suggested_filename).read_bytes()


def _content_type(page: Page, path: str) -> str:
    """The type the admin sends for a download, asked with the page's own session."""
    answer = page.request.get(page.url.split("/reports/")[0] + path)
    assert answer.ok, (path, answer.status)
    return answer.headers["content-type"]


def test_reports_render_and_export_in_the_browser(page: Page, month: Stack, artifacts: Path, tmp_path: Path) -> None:
    log_in(page, month, "raporcu")
    root = base_url(month)

    page.goto(f"{root}/reports/calls?{OCTOBER}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Çağrı raporu")
    expect(page.get_by_text("01.10.2026 – 31.10.2026").first).to_be_visible()
    for figure in ("%85,7", "%75,0", "9,6 sn"):
        expect(page.locator("table.report").get_by_text(figure, exact=True).first).to_be_visible()
    expect(page.locator("svg[role=img]")).to_have_count(2)
    expect(page.locator("#chart-days-t")).to_have_count(1)
    name, body = _download(page, "CSV", tmp_path)
    assert name == "cagri-raporu-2026-10-01-2026-10-31.csv"
    text = body.decode("utf-8")
    assert text.startswith("\ufeffÇağrı raporu\r\n") and "Başvuruya dönüşme oranı,85.71" in text
    assert _content_type(page, f"/reports/calls?{OCTOBER}&format=csv").startswith("text/csv")
    name, body = _download(page, "Excel (XLSX)", tmp_path)
    assert name.endswith(".xlsx") and body[:4] == b"PK\x03\x04"  # a zip: the OOXML container
    assert _content_type(page, f"/reports/calls?{OCTOBER}&format=xlsx") == export.XLSX_MIME

    page.goto(f"{root}/reports/tickets?{OCTOBER}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Başvuru raporu")
    expect(page.get_by_text("Yolda çukur / bozulma").first).to_be_visible()
    expect(page.locator("#chart-categories-t")).to_have_count(1)
    name, body = _download(page, "Excel (XLSX)", tmp_path)
    assert name.startswith("basvuru") and body[:4] == b"PK\x03\x04", name

    page.goto(f"{root}/reports/iso10002?{OCTOBER}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ISO 10002")
    for figure in ("35,0 sa", "%12,5", "%75"):  # resolution time, reopen rate, satisfaction
        expect(page.locator("table.report").first).to_contain_text(figure)
    name, body = _download(page, "CSV", tmp_path)
    assert name.endswith(".csv") and body.startswith("\ufeff".encode())

    page.goto(f"{root}/reports/survey?{OCTOBER}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("anket", ignore_case=True)
    expect(page.locator("table").first).to_be_visible()
    name, body = _download(page, "CSV", tmp_path)
    assert name.startswith("anket-raporu") and body.startswith("\ufeff".encode())

    page.goto(f"{root}/reports/monthly?month=2026-10")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Aylık")
    for section in ("Çağrılar", "Başvurular", "Memnuniyet anketi", "ISO 10002"):
        expect(page.get_by_role("heading", level=2, name=section)).to_be_visible()
    page.screenshot(path=str(artifacts / "monthly-report.png"), full_page=True)
    name, body = _download(page, "Yazdırılabilir PDF", tmp_path, save_link=True)
    assert name.endswith(".pdf") and body.startswith(b"%PDF-"), name
    assert _content_type(page, "/reports/monthly.pdf?month=2026-10") == "application/pdf"
    name, body = _download(page, "Excel (XLSX)", tmp_path)
    assert body[:4] == b"PK\x03\x04", name
