"""The built-in file formats: CSV and JSON Lines, for import and export."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, BinaryIO

from fieldcase import hookimpl
from fieldcase.formats import FORMULA_STARTS, inert
from fieldcase.importing import read_csv, read_jsonl


@hookimpl
def register_importers(register: Callable[..., None]) -> None:
    register("csv", read_csv, suffixes=(".csv", ".txt"))
    register("jsonl", read_jsonl, suffixes=(".jsonl", ".ndjson", ".json"))


#: Rows written at a time: csv's writer (C code) formats a batch, and one search
#: of the batch's text tells whether any cell needs ``inert``, which almost none do.
CSV_BATCH_ROWS = 512

#: A cell of csv's output that starts as a formula would, after a comma or at a
#: line's start: quoted (``"=``) or not. An unquoted cell holds no comma, quote or
#: line break, so the match is the whole cell; one inside a quoted cell (``"a,=b"``)
#: is a false alarm, which only costs its batch the slow way. Each pattern begins
#: with its comma or line break, which the search skips to quickly.
FORMULA_CELLS = tuple(
    re.compile(
        re.escape(boundary) + r'("?)([' + re.escape("".join(FORMULA_STARTS)) + r'][^,\r\n"]*)'
    )
    for boundary in (",", "\n")
)


def _may_run(written: str) -> bool:
    """Whether a cell of csv's ``written`` text could be one ``inert`` changes."""
    lines = "\n" + written  # the first cell starts a line too
    for pattern in FORMULA_CELLS:
        for match in pattern.finditer(lines):
            quoted, cell = match.groups()
            # Numbers and phone numbers (+8613800138000) stay as they are, and are never quoted.
            if quoted or inert(cell) is not cell:
                return True
    return False


def write_csv(rows: Iterable[Sequence[Any]], columns: Sequence[str], out: BinaryIO) -> None:
    """CSV for spreadsheets: text that would run as a formula is quoted (see ``inert``).

    A batch of rows is formatted whole and searched for such a cell; only a
    batch with one is formatted again, cell by cell through ``inert``. The file
    is the same as passing every cell through ``inert``, at a fraction of the calls.
    """
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    csv.writer(text).writerow(columns)
    batch_text = io.StringIO()
    writer = csv.writer(batch_text)
    pending = iter(rows)
    while batch := list(itertools.islice(pending, CSV_BATCH_ROWS)):
        writer.writerows(batch)  # None: an empty field
        written = batch_text.getvalue()
        if _may_run(written):
            batch_text.seek(0)
            batch_text.truncate()
            writer.writerows([inert(value) for value in row] for row in batch)
            written = batch_text.getvalue()
        text.write(written)
        batch_text.seek(0)
        batch_text.truncate()
    text.flush()
    text.detach()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_jsonl(rows: Iterable[Sequence[Any]], columns: Sequence[str], out: BinaryIO) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
    encode = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
    for row in rows:
        text.write(encode(dict(zip(columns, row, strict=True))))
        text.write("\n")
    text.flush()
    text.detach()


@hookimpl
def register_exporters(register: Callable[..., None]) -> None:
    register("csv", write_csv, suffix=".csv", description="CSV, UTF-8, one header row")
    register("jsonl", write_jsonl, suffix=".jsonl", description="JSON Lines, one object a row")
