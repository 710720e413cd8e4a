"""Reading institutions' case files: formats, column mapping and row validation.

Nothing here writes: :meth:`fieldcase.services.Services.import_cases` drives
the import and the store writes each batch in one transaction.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import tomllib
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from . import attributes
from .dates import parse_date
from .errors import InvalidInput
from .money import (
    MAX_RATE,
    MINOR_UNITS,
    annual_rate,
    parse_amount,
    parse_rate,
    plain_minor,
    to_minor,
)
from .phones import normalise_phone
from .text import TextRefused
from .text import clean as clean_text

#: fieldcase's import columns. A file maps its own columns onto these.
FIELDS = (
    "reference",
    "borrower_name",
    "currency",
    "principal",
    "overdue_amount",
    "overdue_since",
    "days_past_due",
    "timezone",
    "jurisdiction",
    "phone",
    "national_id",
    "address",
    "accrued_interest",
    "fees",
    "penalty_rate",
    "penalty_rate_daily",
    "kind",
    "trigger",
    "installment",
    "latitude",
    "longitude",
)
_FIELD_NAMES = frozenset(FIELDS)
REQUIRED = ("reference", "borrower_name", "principal", "overdue_amount")
#: Columns a row may leave empty (or a file leave out): the institution's own value is used.
DEFAULTED = ("currency", "timezone", "jurisdiction")


@attrs.frozen
class SourceRow:
    """One record read from a file: its values, or why it could not be read."""

    line: int
    values: Mapping[str, Any] | None
    error: str | None = None
    #: Bytes of the file read so far, for progress; None when a format cannot tell.
    offset: int | None = None


@attrs.frozen
class Reject:
    line: int
    field: str
    value: str
    reason: str


#: A reader turns a file into source rows: ``reader(path, encoding)``.
Reader = Callable[[Path, str], Iterator[SourceRow]]


def _decoding_hint(
    path: Path, encoding: str, exc: UnicodeDecodeError, at_byte: int | None = None
) -> InvalidInput:
    other = "utf-8" if codecs.lookup(encoding).name != "utf-8" else "gb18030"
    where = f" at byte {at_byte}" if at_byte is not None else ""
    return InvalidInput(
        f"{path.name}: cannot be read as {encoding}{where} ({exc.reason}); "
        f"pass the file's encoding, e.g. --encoding {other}"
    )


def check_encoding(path: Path, encoding: str, sample: int = 1 << 16) -> None:
    """Decode the head of the file before any write, so a wrong encoding costs nothing."""
    try:
        codecs.lookup(encoding)
        "".encode(encoding)  # refuses codecs that are no text encoding: base64, rot13...
    except (LookupError, UnicodeError):
        raise InvalidInput(f"unknown encoding {encoding!r}; e.g. utf-8, gb18030, gbk") from None
    with path.open("rb") as handle:
        head = handle.read(sample)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(head, final=len(head) < sample)
    except UnicodeDecodeError as exc:
        raise _decoding_hint(path, encoding, exc, exc.start) from None
    except UnicodeError as exc:  # e.g. UTF-16 without its byte-order mark
        raise InvalidInput(
            f"{path.name}: cannot be read as {encoding} ({exc}); pass the file's encoding"
        ) from None
    if codecs.lookup(encoding).name != "utf-8" and _reads_as_utf8(head, len(head) < sample):
        # GB18030 decodes almost any bytes: UTF-8 text read as GB18030 is garbled, silently.
        raise InvalidInput(
            f"{path.name} is UTF-8 text, not {encoding}: reading it as {encoding} would "
            "garble every name; pass --encoding utf-8"
        )


def _reads_as_utf8(head: bytes, final: bool) -> bool:
    """True when the bytes hold non-ASCII text that is valid UTF-8 (or start with its BOM)."""
    if head.startswith(codecs.BOM_UTF8):
        return True
    if head.isascii():
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _text_encoding(encoding: str) -> str:
    # utf-8-sig reads files with and without a byte-order mark alike.
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def read_csv(path: Path, encoding: str) -> Iterator[SourceRow]:
    """CSV with a header row. Rows with the wrong number of columns are rejected."""
    with (
        path.open("rb") as raw,
        io.TextIOWrapper(raw, encoding=_text_encoding(encoding), newline="") as handle,
    ):
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            width = len(header)
            position = raw.tell
            last = reader.line_num
            for record in reader:
                # A quoted field may span lines: a record starts after the previous one.
                line, last = last + 1, reader.line_num
                if not record or record == [""]:
                    continue
                if len(record) != width:
                    problem = f"expected {width} columns, found {len(record)}"
                    yield SourceRow(line, None, problem, position())
                    continue
                yield SourceRow(line, dict(zip(header, record, strict=True)), None, position())
        except UnicodeDecodeError as exc:
            raise _decoding_hint(path, encoding, exc) from None
        except csv.Error as exc:
            raise InvalidInput(f"{path}: line {reader.line_num}: {exc}") from None


def read_jsonl(path: Path, encoding: str) -> Iterator[SourceRow]:
    """JSON Lines: one object per line."""
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding=_text_encoding(encoding)) as handle:
        try:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield SourceRow(line, None, f"not valid JSON: {exc.msg}")
                    continue
                except ValueError:  # an integer of more than 4300 digits
                    yield SourceRow(line, None, "not valid JSON: a number has too many digits")
                    continue
                except RecursionError:
                    yield SourceRow(line, None, "not valid JSON: nested too deeply")
                    continue
                if not isinstance(value, dict):
                    yield SourceRow(line, None, "not a JSON object")
                    continue
                yield SourceRow(line, value, None, raw.tell())
        except UnicodeDecodeError as exc:
            raise _decoding_hint(path, encoding, exc) from None


@attrs.frozen
class ColumnMapping:
    """``--mapping map.toml``: ``[columns]`` their column -> our field; ``[defaults]``."""

    columns: Mapping[str, str] = attrs.field(factory=dict)
    defaults: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def load(cls, path: Path, fields: tuple[str, ...] = FIELDS) -> ColumnMapping:
        """Read ``path``; its names must be ``fields`` (a case file's, by default, which
        also takes the institution's own ``attributes.<name>``)."""
        own = fields is FIELDS
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"mapping {path}: {exc}") from None
        for section in ("columns", "defaults"):
            if not isinstance(data.get(section, {}), dict):
                raise InvalidInput(f"mapping {path}: [{section}] must be a table of names")
        columns = {str(k): str(v) for k, v in data.get("columns", {}).items()}
        defaults = {str(k): str(v) for k, v in data.get("defaults", {}).items()}
        unknown = sorted(
            name
            for name in set(columns.values()) | set(defaults)
            if name not in fields and not (own and name.startswith(attributes.PREFIX))
        )
        if unknown:
            raise InvalidInput(
                f"mapping {path}: unknown field(s) {', '.join(unknown)}; "
                f"fields are {', '.join(fields)}"
                + (
                    ", and attributes.<name> for the institution's own (declared in its policy)"
                    if own
                    else ""
                )
            )
        for name in set(columns.values()) | set(defaults):
            if name.startswith(attributes.PREFIX):
                try:
                    attributes.check_name(name.removeprefix(attributes.PREFIX))
                except InvalidInput as exc:
                    raise InvalidInput(f"mapping {path}: {exc}") from None
        return cls(columns, defaults)

    def apply(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The row under fieldcase's names; defaults fill missing and empty values."""
        row = {self.columns.get(key, key): value for key, value in values.items()}
        for key, value in self.defaults.items():
            if row.get(key) in (None, ""):
                row[key] = value
        return row


# -- validation ---------------------------------------------------------------

#: Where a validated amount goes: the store's integer minor-unit columns.
MINOR_FIELD = {
    "principal": "principal_minor",
    "overdue_amount": "overdue_minor",
    "accrued_interest": "interest_minor",
    "fees": "fees_minor",
}


class RowValidator:
    """Validates one mapped row at a time; caches what repeats (zones, regions).

    ``defaults`` gives the currency, time zone and jurisdiction of rows that
    leave them empty: the institution's. ``day_count`` turns a daily penalty
    rate into the annual one a case keeps; ``days_late_mismatch`` says whether
    a row whose days past due disagree with its due date is imported with a
    warning (``clean["warnings"]``) or rejected. ``institution`` names whose
    policy that is, in the reasons.
    """

    def __init__(
        self,
        at: dt.datetime,
        defaults: Mapping[str, str] | None = None,
        *,
        institution: str = "the institution",
        day_count: int = 365,
        days_late_mismatch: str = "warn",
    ) -> None:
        self.at = at
        self.defaults = dict(defaults or {})
        self.institution = institution
        self.day_count = day_count
        self.reject_days_late = days_late_mismatch == "reject"
        self._zones: dict[str, tuple[ZoneInfo | None, str]] = {}
        self._jurisdictions: dict[str, tuple[str, str | None]] = {}
        self._today: dict[ZoneInfo, dt.date] = {}

    def jurisdiction(self, text: str) -> tuple[str, str | None]:
        """(the code, normalised, or the text and why it is not one)."""
        if text not in self._jurisdictions:
            from .jurisdictions import normalise

            try:
                self._jurisdictions[text] = (normalise(text), None)
            except InvalidInput as exc:
                reason = str(exc).split(": ", 1)[-1].removeprefix(f"{text!r} ")
                self._jurisdictions[text] = (text, reason)
        return self._jurisdictions[text]

    def zone(self, name: str) -> tuple[ZoneInfo | None, str]:
        """(the zone, "") or (None, why ``name`` is none), for a name that is not empty."""
        if name not in self._zones:
            from .jurisdictions import check_timezone

            try:
                self._zones[name] = (ZoneInfo(check_timezone(name)), "")
            except InvalidInput as exc:
                self._zones[name] = (None, str(exc).removeprefix(f"time zone {name!r} "))
        return self._zones[name]

    def today(self, zone: ZoneInfo) -> dt.date:
        """The import's day in ``zone``: days past due count back from it."""
        if zone not in self._today:
            self._today[zone] = self.at.astimezone(zone).date()
        return self._today[zone]

    def daily_rate(
        self, daily: str, annual: Decimal | None, clean: dict[str, Any]
    ) -> tuple[str, str, str] | None:
        """Set ``clean["penalty_rate"]`` from a daily rate, or say why it cannot be.

        ``annual`` is the row's own annual rate, if it gave a valid one: the two must agree.
        """
        try:
            rate = parse_rate(daily, example="0.0005 or 0.05% a day")
        except InvalidInput as exc:
            return ("penalty_rate_daily", daily, str(exc).removeprefix(f"rate {daily!r} "))
        yearly = annual_rate(rate, self.day_count)
        year = f"{self.institution}'s {self.day_count}-day year (day_count)"
        if yearly > MAX_RATE:
            reason = f"is {yearly} a year in {year}; a rate must be between 0 and 1000% a year"
            return ("penalty_rate_daily", daily, reason)
        if annual is not None and annual != yearly:
            return (
                "penalty_rate_daily",
                daily,
                f"is {yearly} a year in {year}, but penalty_rate is {annual}; "
                "give one of the two, or make them agree",
            )
        clean["penalty_rate"] = str(yearly)
        return None

    def days_late(self, days: str, since: dt.date, zone: ZoneInfo) -> tuple[str, str, str] | None:
        """Why a row's days past due disagree with its due date ``since``, if they do."""
        count = whole_days(days)
        if count is None:
            if self.reject_days_late:
                return ("days_past_due", days, "must be a whole number of days")
            reason = f"is not a whole number of days; overdue_since {since} was used"
            return ("days_past_due", days, reason)
        today = self.today(zone)
        implied = today - dt.timedelta(days=count)
        if implied == since:
            return None
        if self.reject_days_late:
            then = (
                f"{self.institution}'s policy rejects such rows (import_days_late_mismatch): "
                "correct one, or leave one out"
            )
        else:
            then = "overdue_since was used"
        apart = plural(abs((implied - since).days), "day")
        return (
            "days_past_due",
            days,
            f"disagrees with overdue_since {since}: {plural(count, 'day')} late on {today} "
            f"is due {implied}, {apart} {'earlier' if implied < since else 'later'}; {then}",
        )

    def validate(self, row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[Reject]]:
        """Return (clean values, []) or (None, the reasons), each naming its field."""
        problems: list[tuple[str, str, str]] = []
        text: dict[str, str] = {}
        for name, value in row.items():
            if name not in _FIELD_NAMES:
                continue
            raw = "" if value is None else str(value)
            try:
                # One gate for every text: normalised, and refused when it is unsafe.
                text[name] = clean_text(raw, name).strip()
            except TextRefused as exc:
                problems.append((name, raw, exc.reason))
        refused = {name for name, _, _ in problems}
        given = frozenset(name for name, value in text.items() if value)
        for name in DEFAULTED:
            if not text.get(name) and self.defaults.get(name) and name not in refused:
                text[name] = self.defaults[name]
        kind = text.get("kind", "") or "collection"
        review = kind == "review"
        if review:
            # A performing loan: nothing overdue unless the file says so.
            text.setdefault("overdue_amount", "0")
            text["overdue_amount"] = text["overdue_amount"] or "0"
            if not (text.get("overdue_since") or text.get("days_past_due")):
                text["days_past_due"] = "0"
        for name in REQUIRED + DEFAULTED[:2]:
            if not text.get(name) and name not in refused:
                problems.append((name, "", "is required"))
        if not (text.get("overdue_since") or text.get("days_past_due")) and not (
            refused & {"overdue_since", "days_past_due"}
        ):
            problems.append(("overdue_since", "", "is required (or days_past_due)"))
        problems += review_problems(kind, text.get("trigger", ""))
        clean: dict[str, Any] = {
            "kind": kind,
            "trigger": text.get("trigger", "") or None,
            "reference": text.get("reference", ""),
            "borrower_name": text.get("borrower_name", ""),
            "national_id": text.get("national_id", ""),
            "address": text.get("address", ""),
        }
        code, problem = self.jurisdiction(text.get("jurisdiction", ""))
        clean["jurisdiction"] = code
        if problem and text.get("jurisdiction"):
            problems.append(("jurisdiction", code, problem))
        currency = text.get("currency", "").upper()
        clean["currency"] = currency
        exponent = MINOR_UNITS.get(currency)
        if currency and exponent is None:
            problems.append(
                ("currency", currency, f"is not one of fieldcase's currencies ({KNOWN})")
            )
        clean["interest_minor"] = clean["fees_minor"] = 0
        for name, column in MINOR_FIELD.items():
            value = text.get(name, "")
            if not value or exponent is None:
                continue
            minor = plain_minor(value, currency)
            if minor is not None:
                clean[column] = minor
                continue
            try:
                clean[column] = to_minor(parse_amount(value, currency, field=name), currency)
            except InvalidInput as exc:
                # parse_amount says "field: 'value' is ..."; the rejects file has columns.
                reason = str(exc).split(": ", 1)[-1].removeprefix(f"{value!r} ")
                problems.append((name, value, reason))
        installment = text.get("installment", "")
        clean["installment_minor"] = None
        if installment and exponent is not None:
            try:
                amount = parse_amount(installment, currency, field="installment")
            except InvalidInput as exc:
                reason = str(exc).split(": ", 1)[-1].removeprefix(f"{installment!r} ")
                problems.append(("installment", installment, reason))
            else:
                if amount <= 0:
                    problems.append(("installment", installment, "must be more than zero"))
                clean["installment_minor"] = to_minor(amount, currency)
        rate = text.get("penalty_rate", "")
        clean["penalty_rate"] = "0"
        annual = None
        if rate:
            try:
                annual = parse_rate(rate)
            except InvalidInput as exc:
                problems.append(("penalty_rate", rate, str(exc).removeprefix(f"rate {rate!r} ")))
            else:
                clean["penalty_rate"] = str(annual)
        daily = text.get("penalty_rate_daily")
        if daily:
            refusal = self.daily_rate(daily, annual, clean)
            if refusal is not None:
                problems.append(refusal)
        zone_name = text.get("timezone", "")
        zone, zone_problem = self.zone(zone_name) if zone_name else (None, "")
        if zone_problem:
            problems.append(("timezone", zone_name, zone_problem))
        clean["timezone"] = zone_name
        since = text.get("overdue_since", "")
        warning = None
        if since:
            try:
                parsed = parse_date(since)
            except ValueError as exc:
                problems.append(("overdue_since", since, str(exc)))
            else:
                clean["overdue_since"] = parsed
                if text.get("days_past_due") and zone is not None:
                    # A bank's two columns: the due date is kept, and a disagreement said.
                    warning = self.days_late(text["days_past_due"], parsed, zone)
                    if warning is not None and self.reject_days_late:
                        problems.append(warning)
        elif text.get("days_past_due"):
            days = text["days_past_due"]
            count = whole_days(days)
            if count is None:
                problems.append(("days_past_due", days, "must be a whole number of days"))
            elif zone is not None:
                clean["overdue_since"] = self.today(zone) - dt.timedelta(days=count)
        problems += coordinates(text, clean)
        phone = text.get("phone", "")
        clean["phone"] = ""
        if phone:
            region = clean["jurisdiction"].split("-")[0] or None
            try:
                clean["phone"] = normalise_phone(phone, region)
            except ValueError as exc:
                problems.append(("phone", phone, str(exc)))
        if problems:
            return None, [Reject(0, f, v, r) for f, v, r in problems]
        # Which fields the row really gave: an update changes only those.
        clean["given"] = given
        if warning is not None:
            clean["warnings"] = [Reject(0, *warning)]
        return clean, []


KNOWN = ", ".join(sorted(MINOR_UNITS))


def coordinates(text: Mapping[str, str], clean: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Set the borrower's ``latitude`` and ``longitude`` in ``clean`` (both, or neither),
    or say what is wrong with them, as (field, value, reason)."""
    from .geo import degrees

    clean["latitude"] = clean["longitude"] = None
    given = {name: text.get(name, "") for name in ("latitude", "longitude")}
    if not any(given.values()):
        return []
    problems = []
    for name, value in given.items():
        other = "longitude" if name == "latitude" else "latitude"
        if not value:
            problems.append((name, "", f"is required with {other}: a position is both"))
            continue
        try:
            clean[name] = degrees(value, name)
        except ValueError as exc:
            problems.append((name, value, str(exc)))
    return problems


def whole_days(text: str) -> int | None:
    """A count of days past due, or None when ``text`` is not one."""
    if text.isascii() and text.isdigit() and int(text) <= 36500:
        return int(text)
    return None


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def review_problems(kind: str, trigger: str) -> list[tuple[str, str, str]]:
    """What is wrong with a row's case kind and review trigger, as (field, value, reason)."""
    from .lifecycle import CASE_KINDS, REVIEW_TRIGGERS

    if kind not in CASE_KINDS:
        return [("kind", kind, f"is not one of {', '.join(CASE_KINDS)}")]
    if kind == "review" and trigger not in REVIEW_TRIGGERS:
        why = "is required for a review" if not trigger else "is not a review trigger"
        return [("trigger", trigger, f"{why}: one of {', '.join(REVIEW_TRIGGERS)}")]
    if kind != "review" and trigger:
        return [("trigger", trigger, "is for reviews (kind review)")]
    return []
