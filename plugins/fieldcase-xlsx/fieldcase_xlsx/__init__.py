"""XLSX case files in and visit records out, through openpyxl."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from fieldcase import hookimpl
from fieldcase.errors import InvalidInput
from fieldcase.importing import SourceRow
from fieldcase.text import visible


def _cell_text(value: Any) -> str:
    """A cell as the text a person sees in Excel: no binary floats, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr gives the shortest text that is this float: what Excel displays.
        exact = Decimal(repr(value))
        return str(exact.to_integral_value()) if exact == exact.to_integral_value() else str(exact)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def read_xlsx(path: Path, encoding: str) -> Iterator[SourceRow]:
    """The first sheet: a header row, then one case a row; ``encoding`` is not used."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a file that is not xlsx
        raise InvalidInput(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            return
        header = [_cell_text(h) for h in header_row]
        while header and not header[-1]:
            header.pop()
        for number, values in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in values]
            if not any(cells):
                continue
            extra = [c for c in cells[len(header) :] if c]
            if extra:
                yield SourceRow(number, None, f"expected {len(header)} columns, found {len(cells)}")
                continue
            cells += [""] * (len(header) - len(cells))
            yield SourceRow(number, dict(zip(header, cells[: len(header)], strict=True)))
    finally:
        workbook.close()


def write_xlsx(rows: Iterable[Sequence[Any]], columns: Sequence[str], out: BinaryIO) -> None:
    """One sheet, written as it streams (write-only mode keeps memory flat).

    Text is written as text cells, never formulas, whatever it starts with;
    control characters (which XML cannot hold) are shown escaped, as ``\\x0c``,
    the way fieldcase shows them everywhere (:func:`fieldcase.text.visible`).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("visits")

    def cell(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = WriteOnlyCell(sheet, value=visible(value))
        text.data_type = "s"  # openpyxl would take "=..." for a formula
        return text

    sheet.append(list(columns))
    for row in rows:
        sheet.append([cell(value) for value in row])
    workbook.save(out)


@hookimpl
def register_importers(register: Callable[..., None]) -> None:
    register("xlsx", read_xlsx, suffixes=(".xlsx",), text=False)


@hookimpl
def register_exporters(register: Callable[..., None]) -> None:
    register(
        "xlsx", write_xlsx, suffix=".xlsx", description="Excel workbook, one sheet", binary=True
    )
