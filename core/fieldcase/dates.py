"""Calendar dates as people and banks' files write them: one reader for the command line
and the import, saying why a date that looks like one is not (there is no 31 November).

Times with a zone (``--at``) are read by :func:`fieldcase.commands.parse_time`,
which asks :func:`impossible_day` why a time's date does not exist.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

#: The spellings accepted besides ISO 8601 (2026-12-01): spreadsheets' slashes, dots,
#: and the compact form.
SPELLINGS = ("%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")

#: What to show a person who wrote a date in no known spelling.
EXAMPLES = "2026-12-01 (or 2026/12/01, 20261201, 2026.12.01)"

_SHAPE = re.compile(r"^(\d{4})([-/.]?)(\d{1,2})\2(\d{1,2})")


def parse_date(text: str) -> dt.date:
    """ISO dates, and the slashed, dotted or compact forms banks' spreadsheets use.

    ValueError says why not, without the text: "does not exist: November 2026
    has 30 days", or the spellings to use.
    """
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    for spelling in SPELLINGS:
        try:
            return dt.datetime.strptime(text, spelling).date()
        except ValueError:
            continue
    raise ValueError(impossible_day(text) or f"is not a date; write it as {EXAMPLES}")


def impossible_day(text: str) -> str | None:
    """Why ``text``, written as a date (or starting with one), names no day; None if it
    is not written as a date at all."""
    shape = _SHAPE.match(text)
    if shape is None:
        return None
    year, month, day = int(shape[1]), int(shape[3]), int(shape[4])
    if year < 1:
        return None
    if not 1 <= month <= 12:
        return f"does not exist: there is no month {month}; months are 01 to 12"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return f"does not exist: {calendar.month_name[month]} {year} has {last} days"
    return None
