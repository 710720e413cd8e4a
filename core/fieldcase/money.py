"""Money as ``Decimal`` in a currency, stored as integer minor units. No floats, ever."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from fractions import Fraction

import attrs

from .errors import InvalidInput

#: ISO 4217 minor-unit exponents of the currencies fieldcase handles.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "INR": 2,
    "GBP": 2,
    "EUR": 2,
    "JPY": 0,
    "HKD": 2,
    "SGD": 2,
    "KRW": 0,
    "IDR": 2,
    "PHP": 2,
    "MXN": 2,
    "BRL": 2,
}


def exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency``; unknown codes are refused."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        known = ", ".join(sorted(MINOR_UNITS))
        raise InvalidInput(f"unknown currency {currency!r}; use one of {known}") from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


#: Minor units are stored as SQLite INTEGER (signed 64-bit); stay well inside it.
MAX_MINOR = 10**17


def to_minor(amount: Decimal, currency: str) -> int:
    """``Decimal('12.34')`` in CNY -> ``1234``. Refuses amounts finer than the minor unit."""
    try:
        minor = amount.scaleb(exponent(currency))
        whole = minor == minor.to_integral_value()
    except ArithmeticError:
        raise InvalidInput(f"{amount} {currency} is too large an amount") from None
    if not whole:
        raise InvalidInput(
            f"{amount} has more decimal places than {currency} allows ({exponent(currency)})"
        )
    if abs(minor) >= MAX_MINOR:
        raise InvalidInput(f"{amount} {currency} is too large an amount")
    return int(minor)


def from_minor(minor: int, currency: str) -> Decimal:
    """``1234`` in CNY -> ``Decimal('12.34')``."""
    return Decimal(minor).scaleb(-exponent(currency)).quantize(quantum(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half to even (banker's rounding)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def ratio(part: Decimal | Fraction | None, whole: Decimal | Fraction | None) -> Decimal | None:
    """``part / whole`` to 2 places, half up, computed exactly (debts over income).

    None when either is missing or ``whole`` is zero: no income gives no ratio.
    The export's SQL (``store.ratio_sql``) repeats this on minor units; a test
    holds the two equal.
    """
    if part is None or whole is None or whole == 0:
        return None
    hundredths = Fraction(part) / Fraction(whole) * 100
    return Decimal(math.floor(hundredths + Fraction(1, 2))).scaleb(-2)


#: Thousands separators only in groups of three: '1,234.50' yes, '12,34' (a decimal comma) no.
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


_EXPONENT = re.compile(r"\d[eE]|[eE][+-]?\d")


def check_spelling(text: str, field: str, example: str) -> None:
    """Refuse what ``Decimal`` reads but a person does not write as an amount or a rate.

    Full-width (１０００), Arabic-Indic (١٠٠٠) and other non-ASCII digits,
    underscores (1_000, a Python literal) and exponents (1e3) come from a
    wrong input method or a program, not from a statement; taken, they would
    be stored as plausible numbers no one typed.
    """
    if not text.isascii():
        raise InvalidInput(
            f"{field}: {text!r} is not written with ASCII digits 0-9; write it as e.g. {example}"
        )
    if "_" in text:
        raise InvalidInput(f"{field}: {text!r} has an underscore; write it as e.g. {example}")
    if _EXPONENT.search(text):
        raise InvalidInput(
            f"{field}: {text!r} is in exponent notation; write it in full, e.g. {example}"
        )


#: An amount as files mostly write it: digits, and a point with up to three more.
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,17})(?:\.([0-9]{1,3}))?")


def plain_minor(text: str, currency: str) -> int | None:
    """``text`` in minor units, when it is plainly written ('1234.5', '800'); else None,
    and :func:`parse_amount` reads it (and says what is wrong, if anything is).

    For such text the answer is ``to_minor(parse_amount(text, currency), currency)``'s,
    without building a Decimal: an import reads millions of amounts.
    """
    match = _PLAIN_AMOUNT.fullmatch(text)
    if match is None:
        return None
    places = MINOR_UNITS.get(currency)
    whole, fraction = match.groups()
    fraction = fraction or ""
    if places is None or len(fraction.rstrip("0")) > places:
        return None  # finer than the minor unit: parse_amount refuses it, saying why
    minor = int(whole) * 10**places + int(fraction.ljust(places, "0")[:places] or 0)
    return minor if minor < MAX_MINOR else None


def parse_amount(text: str | Decimal | int, currency: str, *, field: str = "amount") -> Decimal:
    """Parse a non-negative amount exactly; '1,234.50' and '1234.5' are accepted.

    Only ASCII digits with an optional decimal point and thousands commas: no
    sign, no exponent, no underscore, no other script's digits.
    """
    if isinstance(text, Decimal | int):
        value = Decimal(text)
    else:
        cleaned = text.strip()
        check_spelling(cleaned, field, "1500.00 or 1,500.00")
        _check_characters(text, cleaned, field)
        if "," in cleaned:
            if not _GROUPED.match(cleaned):
                raise InvalidInput(
                    f"{field}: {text!r} is ambiguous; write it with a decimal point, "
                    "e.g. 1234.50 or 1,234.50"
                )
            cleaned = cleaned.replace(",", "")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise InvalidInput(f"{field}: {text!r} is not a number") from None
    if not value.is_finite():
        raise InvalidInput(f"{field}: {text!r} is not a finite number")
    if value < 0 or (isinstance(text, str) and value.is_signed()):  # "-0" has a minus sign too
        raise InvalidInput(f"{field}: {text!r} is negative")
    try:
        to_minor(value, currency)  # refuses sub-minor precision and absurd sizes
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None
    return value.quantize(quantum(currency))


#: What a slip of the keyboard puts where a digit belongs, and the digit meant.
_LOOK_ALIKES = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1"})


def _check_characters(text: str, cleaned: str, field: str) -> None:
    """Name the first character that is not a digit, a point or a comma in what is
    otherwise written as a number: '12,3O4.00' has the letter O where a 0 belongs."""
    # A leading sign is left to the check for negative amounts, which names it.
    stray = next((c for c in cleaned.lstrip("+-") if c not in "0123456789.,"), None)
    if stray is None or not any(c.isdigit() for c in cleaned):
        return  # all digits, or no number at all ('lots'): Decimal says which
    what = f"the letter {stray!r}" if stray.isalpha() else f"the character {stray!r}"
    if stray == " ":
        what = "a space"
    meant = cleaned.translate(_LOOK_ALIKES)
    instead = (
        f"write {meant}"
        if all(c in "0123456789.," for c in meant)
        else "write digits only, e.g. 1500.00 or 1,500.00"
    )
    raise InvalidInput(f"{field}: {text!r} has {what} where a digit belongs; {instead}")


def parse_money(
    text: str | Decimal | int,
    currency: str,
    *,
    field: str = "amount",
    named: str | None = None,
    owner: str = "the case",
) -> Decimal:
    """An amount in ``currency``, which the text may name: '1500', '1500 CNY', 'CNY 1500'.

    ``named`` is a currency given beside it (``--currency``); either must be
    ``currency``, the currency of ``owner`` (e.g. "case 42"). The number is
    read by :func:`parse_amount`.
    """
    if not isinstance(text, str):
        return parse_amount(text, currency, field=field)
    parts = text.replace("\u00a0", " ").split()
    # A currency is a three-letter code beside a number: "1500 CNY", "CNY 1500".
    codes = [
        p.upper()
        for p in parts
        if len(parts) > 1
        and len(p) == 3
        and p.isalpha()
        and (p.isupper() or p.upper() in MINOR_UNITS)
    ]
    number = " ".join(p for p in parts if p.upper() not in codes) or text
    given = {c for c in [*codes, (named or "").upper()] if c}
    if len(given) > 1:
        raise InvalidInput(
            f"{field} {text!r}: two currencies given ({', '.join(sorted(given))}); give one"
        )
    if given and (which := given.pop()) != currency:
        raise InvalidInput(
            f"{field} {text!r} is in {which}, but {owner} is in {currency}; "
            f"give the amount in {currency}"
        )
    return parse_amount(number, currency, field=field)


#: The highest annual rate fieldcase takes: 1000% a year.
MAX_RATE = Decimal(10)


def parse_rate(text: str | Decimal, *, example: str = "0.18 or 18%") -> Decimal:
    """An annual rate as a fraction: '0.18' or '18%'."""
    raw = str(text).strip()
    if not isinstance(text, Decimal):
        check_spelling(raw, "rate", example)
    try:
        rate = Decimal(raw.removesuffix("%")) / (100 if raw.endswith("%") else 1)
    except ArithmeticError:
        raise InvalidInput(f"rate {raw!r} is not a number; e.g. {example}") from None
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        raise InvalidInput(f"rate {raw!r} must be between 0 and 1000% a year")
    return rate.normalize() if rate else Decimal(0)


def annual_rate(daily: Decimal, day_count: int) -> Decimal:
    """The annual rate that accrues ``daily`` a day in a year of ``day_count`` days.

    Exact (no digit is rounded away), so :func:`penalty_interest` on it
    accrues ``amount * daily`` each day, as the lender's own statement does.
    """
    with localcontext() as ctx:
        ctx.prec = len(daily.as_tuple().digits) + len(str(day_count))
        annual = daily * day_count
        return annual.normalize() if annual else Decimal(0)


def format_money(amount: Decimal, currency: str) -> str:
    """``Decimal('12345.6')``, CNY -> ``'CNY 12,345.60'``."""
    return f"{currency} {round_money(amount, currency):,}"


# -- interest and amortisation ------------------------------------------------------

#: Working precision for exact intermediate values; results are rounded once.
PRECISION = 40


def penalty_interest(
    amount: Decimal,
    annual_rate: Decimal,
    start: dt.date,
    end: dt.date,
    currency: str,
    *,
    day_count: int = 365,
    cap: Decimal | None = None,
    reliefs: Sequence[tuple[dt.date, dt.date | None, Decimal]] = (),
) -> Decimal:
    """Simple penalty interest accrued daily on ``amount`` from ``start`` to ``end``.

    ``annual_rate`` is a fraction (0.18 for 18% a year); ``cap`` an upper bound
    in money set by policy. ``reliefs`` are days (first, last or None for
    open-ended, inclusive) on which only a share of the rate accrues (0: none);
    where they overlap the smallest share holds. Rounded once, half to even,
    to the minor unit.
    """
    days = Decimal(accrual_days(start, end, reliefs))
    with localcontext() as ctx:
        ctx.prec = PRECISION
        accrued = amount * annual_rate * days / day_count
    accrued = round_money(accrued, currency)
    if cap is not None:
        accrued = min(accrued, round_money(cap, currency))
    return max(accrued, Decimal(0).quantize(quantum(currency)))


def accrual_days(
    start: dt.date, end: dt.date, reliefs: Sequence[tuple[dt.date, dt.date | None, Decimal]] = ()
) -> Decimal:
    """The days from ``start`` to ``end`` (each day from ``start`` on, ``end`` not counted),
    each weighted by the share of the rate that accrues on it."""
    if end <= start:
        return Decimal(0)
    bounds = {start, end}
    for first, last, _ in reliefs:
        bounds.add(min(max(first, start), end))
        if last is not None:
            bounds.add(min(max(last + dt.timedelta(days=1), start), end))
    points = sorted(bounds)
    total = Decimal(0)
    for low, high in itertools.pairwise(points):
        shares = [s for f, l_, s in reliefs if f <= low and (l_ is None or low <= l_)]
        total += min(shares, default=Decimal(1)) * (high - low).days
    return total


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it has fewer."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


@attrs.frozen
class Installment:
    """One payment of a schedule: its principal and interest parts, and what remains."""

    number: int
    due: dt.date
    payment: Decimal
    principal: Decimal
    interest: Decimal
    remaining: Decimal


def _check_terms(amount: Decimal, rate: Decimal, periods: int) -> None:
    if periods < 1:
        raise InvalidInput(f"a schedule needs at least one period, not {periods}")
    if amount < 0 or rate < 0:
        raise InvalidInput("amount and rate of a schedule must not be negative")


def annuity_schedule(
    amount: Decimal,
    periodic_rate: Decimal,
    periods: int,
    first_due: dt.date,
    currency: str,
) -> tuple[Installment, ...]:
    """Equal installments: each payment is ``pmt``, rounded to the minor unit.

    Each principal part is the exact ``ppmt`` rounded; the last takes the
    rounding residue, so the principal parts sum exactly to ``amount``.
    """
    _check_terms(amount, periodic_rate, periods)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        r = periodic_rate
        if r == 0:
            pmt = amount / periods
            ppmts = [pmt] * periods
        else:
            growth = (1 + r) ** periods
            pmt = amount * r * growth / (growth - 1)
            # Principal part of payment k: pmt discounted over the periods still to run.
            ppmts = [pmt / (1 + r) ** (periods - k + 1) for k in range(1, periods + 1)]
        payment = round_money(pmt, currency)
        schedule = []
        remaining = amount
        for k in range(1, periods + 1):
            if k < periods and round_money(ppmts[k - 1], currency) <= remaining:
                principal = round_money(ppmts[k - 1], currency)
                interest = payment - principal
                this_payment = payment
            elif k < periods:
                # Tiny amounts: rounding up each part would overshoot what is owed.
                principal = remaining
                interest = round_money(pmt - ppmts[k - 1], currency)
                this_payment = principal + interest
            else:
                principal = remaining
                interest = round_money(pmt - ppmts[-1], currency)
                this_payment = principal + interest
            remaining -= principal
            schedule.append(
                Installment(
                    k, add_months(first_due, k - 1), this_payment, principal, interest, remaining
                )
            )
    return tuple(schedule)


def equal_principal_schedule(
    amount: Decimal,
    periodic_rate: Decimal,
    periods: int,
    first_due: dt.date,
    currency: str,
) -> tuple[Installment, ...]:
    """Equal principal parts, interest on what remains: payments fall over time.

    The last principal part takes the rounding residue, so they sum to ``amount``.
    """
    _check_terms(amount, periodic_rate, periods)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        part = round_money(amount / periods, currency)
        schedule = []
        remaining = amount
        for k in range(1, periods + 1):
            principal = min(part, remaining) if k < periods else remaining
            interest = round_money(remaining * periodic_rate, currency)
            remaining -= principal
            schedule.append(
                Installment(
                    k,
                    add_months(first_due, k - 1),
                    principal + interest,
                    principal,
                    interest,
                    remaining,
                )
            )
    return tuple(schedule)
