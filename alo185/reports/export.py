"""A report's tables (``alo185.reports.tables.Document``) as CSV, XLSX and PDF.

- CSV: UTF-8 with a BOM (spreadsheet programs then read the Turkish letters), ``,``-separated,
  every table under its title, a blank line between tables. Values are machine-readable like the
  ticket export's: ISO dates, a decimal point, percentages as percent numbers, units in the headers.
- XLSX (openpyxl): a sheet with the title and period, then one sheet per table; real numbers and
  dates with formats (percentages as ratios shown ``0.0%``), so the figures can be computed on.
- PDF (fpdf2): the printable monthly report, the values as the page shows them (Turkish formats),
  in DejaVu Sans: a Unicode TrueType font with the Turkish letters (Debian's ``fonts-dejavu-core``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from alo185.reports.tables import UNITS, Cell, Column, Document, Table, display, resolve

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT, FONT_BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
SHEET_NAME_MAX = 31
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FontMissing(RuntimeError):
    """The PDF's font is not installed."""


# --- machine-readable values -----------------------------------------------------------------


def machine(value: Any, column: Column) -> Any:
    """A cell as CSV writes it: percent numbers (85.71), seconds and hours rounded, ISO dates."""
    value, kind, _decimals = resolve(value, column)
    if value is None:
        return ""
    if kind == "pct":
        return round(100 * value, 2)
    if kind in ("sec", "dur", "hour"):
        return round(value, 2)
    if kind == "date":
        return value.isoformat()
    return value


def _own_kind(value: Any, column: Column) -> bool:
    return isinstance(value, Cell) and value.kind != column.kind


def _per_row_units(table: Table) -> bool:
    """A key–value table: its values have kinds of their own, stated in a unit column."""
    return any(_own_kind(v, c) for row in table.all_rows() for v, c in zip(row, table.columns, strict=True))


def headers(table: Table) -> list[str]:
    """Column labels with their units (``SL 5 sn (%)``); a ``Birim`` column for a key–value table."""
    labels = [f"{c.label} ({UNITS[c.kind]})" if c.kind in UNITS else c.label for c in table.columns]
    return [*labels, "Birim"] if _per_row_units(table) else labels


def _unit(row: tuple[Any, ...], table: Table) -> str:
    kinds = [v.kind for v, c in zip(row, table.columns, strict=True) if _own_kind(v, c)]
    return UNITS.get(kinds[0], "") if kinds else ""


def machine_rows(table: Table) -> Iterator[list[Any]]:
    units = _per_row_units(table)
    for row in table.all_rows():
        values = [machine(v, c) for v, c in zip(row, table.columns, strict=True)]
        yield [*values, _unit(row, table)] if units else values


# --- CSV -------------------------------------------------------------------------------------


def to_csv(document: Document) -> str:
    """The whole document as one CSV text (BOM first)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([document.title])
    writer.writerow(["Dönem", document.first.isoformat(), document.last.isoformat()])
    for table in document.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(headers(table))
        writer.writerows(machine_rows(table))
    return out.getvalue()


# --- XLSX ------------------------------------------------------------------------------------


def sheet_name(title: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, unique within the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", "-", title)[:SHEET_NAME_MAX]
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _xlsx_format(value: Any, column: Column) -> tuple[Any, str | None]:
    value, kind, decimals = resolve(value, column)
    if value is None:
        return None, None
    if kind == "pct":
        return value, "0." + "0" * decimals + "%" if decimals else "0%"
    if kind in ("sec", "dur", "hour"):
        return value, "0.0"
    if kind == "int":
        return value, "#,##0"
    if kind == "date":
        return value, "DD.MM.YYYY"
    return value, None


def to_xlsx(document: Document) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    info = cast("Worksheet", book.active)  # a new workbook's one sheet
    taken = {"rapor"}
    info.title = "Rapor"
    info.append([document.title])
    info.append(["Dönem", document.first, document.last])
    for cell in info[2][1:]:
        cell.number_format = "DD.MM.YYYY"
    info["A1"].font = Font(bold=True, size=14)
    for table in document.tables:
        _sheet(book.create_sheet(sheet_name(table.title, taken)), table, Font(bold=True))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(sheet: Any, table: Table, bold: Any) -> None:
    from openpyxl.utils import get_column_letter

    sheet.append(headers(table))
    units = _per_row_units(table)
    for row in table.all_rows():
        formatted = [_xlsx_format(v, c) for v, c in zip(row, table.columns, strict=True)]
        sheet.append([v for v, _f in formatted] + ([_unit(row, table)] if units else []))
        for cell, (_v, number_format) in zip(sheet[sheet.max_row], formatted, strict=False):
            if number_format:
                cell.number_format = number_format
    for cell in sheet[1]:
        cell.font = bold
    if table.total is not None:
        for cell in sheet[sheet.max_row]:
            cell.font = bold
    for i, label in enumerate(headers(table), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(12, min(40, len(label) + 4))
    sheet.freeze_panes = "A2"


# --- PDF -------------------------------------------------------------------------------------


def font_paths(font_dir: Path | None = None) -> tuple[Path, Path]:
    """The regular and bold faces (the regular one again when the bold is missing)."""
    font_dir = font_dir or FONT_DIR
    regular, bold = font_dir / FONT, font_dir / FONT_BOLD
    if not regular.is_file():
        raise FontMissing(
            f"PDF için DejaVu Sans yazı tipi bulunamadı ({regular}). "
            "Debian/Ubuntu'da 'fonts-dejavu-core' paketini kurun (scripts/apt-packages.txt)."
        )
    return regular, bold if bold.is_file() else regular


def to_pdf(document: Document, font_dir: Path | None = None) -> bytes:
    """A4 landscape (the call tables are wide); the title and period in the PDF's metadata too."""
    from fpdf import FPDF

    regular, bold = font_paths(font_dir)
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    named = document.period in document.title  # "Aylık rapor – Ekim 2026"
    pdf.set_title(document.title if named else f"{document.title} – {document.period}")
    pdf.set_subject(f"{document.first.isoformat()} / {document.last.isoformat()}")
    pdf.set_creator("alo185")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(text=document.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(text=f"Dönem: {document.period}", new_x="LMARGIN", new_y="NEXT")
    for table in document.tables:
        _pdf_table(pdf, table)
    return bytes(pdf.output())


def _pdf_table(pdf: Any, table: Table) -> None:
    from fpdf.fonts import FontFace

    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(text=table.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7 if len(table.columns) > 6 else 9)
    align = tuple("LEFT" if c.kind in ("text", "date") else "RIGHT" for c in table.columns)
    widths = (2.2, *([1.0] * (len(table.columns) - 1)))
    total_style = FontFace(emphasis="BOLD")
    with pdf.table(col_widths=widths, text_align=align, first_row_as_headings=True, repeat_headings=1) as out:
        header = out.row()
        for column in table.columns:
            header.cell(column.label)
        for row in table.all_rows():
            style = total_style if row is table.total else None
            line = out.row(style=style)
            for value, column in zip(row, table.columns, strict=True):
                line.cell(display(value, column))


def download_name(document: Document, extension: str) -> str:
    """``cagri-raporu-2026-11-01-2026-11-30.xlsx``: ASCII, safe in any Content-Disposition."""
    return f"{document.slug}-{document.first.isoformat()}-{document.last.isoformat()}.{extension}"
