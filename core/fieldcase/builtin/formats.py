"""The built-in file formats: CSV and JSON Lines, for import and export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, BinaryIO

from fieldcase import hookimpl
from fieldcase.formats import inert
from fieldcase.importing import read_csv, read_jsonl


@hookimpl
def register_importers(register: Callable[..., None]) -> None:
    register("csv", read_csv, suffixes=(".csv", ".txt"))
    register("jsonl", read_jsonl, suffixes=(".jsonl", ".ndjson", ".json"))


def write_csv(rows: Iterable[Sequence[Any]], columns: Sequence[str], out: BinaryIO) -> None:
    """CSV for spreadsheets: text that would run as a formula is quoted (see ``inert``)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text)
    writer.writerow(columns)
    writer.writerows([inert(value) for value in row] for row in rows)  # None: an empty field
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
