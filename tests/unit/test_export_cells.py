"""CSV and XLSX exports neutralise text a spreadsheet would run as a formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from services.exports import Sheet, safe_cell, write_csv, write_xlsx

HOSTILE = [
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]
SHEET = Sheet(
    name="Items",
    header=["Key", "Title", "Points", "Change", "Done"],
    rows=[[f"K-{i}", text, 3, -1.5, date(2026, 1, 5)] for i, text in enumerate(HOSTILE)]
    + [["K-9", "Plain title - with a dash", 0, -2, date(2026, 1, 6)]],
)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_formula_trigger_gets_a_single_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-1.5, -2, 0, 3.25, None, "plain", "a=b", date(2026, 1, 5)])
def test_numbers_dates_and_plain_text_are_left_alone(value: object) -> None:
    assert safe_cell(value) == value


def test_csv_cells_are_neutralised(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    write_csv([SHEET], path)
    with path.open(encoding="utf-8-sig", newline="") as fh:  # keep a cell's own carriage return
        rows = list(csv.reader(fh))
    titles = [r[1] for r in rows[1:]]
    assert titles[:-1] == ["'" + text for text in HOSTILE]
    assert titles[-1] == "Plain title - with a dash"
    assert {r[3] for r in rows[1:]} == {"-1.5", "-2"}  # negative numbers are written as numbers


def test_xlsx_cells_are_strings_not_formulas(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    write_xlsx([SHEET], path)
    ws = load_workbook(path)["Items"]
    cells = [row[1] for row in ws.iter_rows(min_row=2)]
    # (XML reads a stored carriage return back as a line feed)
    assert [c.value for c in cells[:-1]] == ["'" + text.replace("\r", "\n") for text in HOSTILE]
    assert all(c.data_type == "s" for c in cells)  # no cell was stored as a formula
    numbers = [row[2].value for row in ws.iter_rows(min_row=2)] + [row[3].value for row in ws.iter_rows(min_row=2)]
    assert all(isinstance(n, int | float) for n in numbers) and -1.5 in numbers
