"""Money as ``Decimal`` in a currency, stored as integer minor units. No floats, ever."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

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
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
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


#: Thousands separators only in groups of three: '1,234.50' yes, '12,34' (a decimal comma) no.
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_amount(text: str | Decimal | int, currency: str, *, field: str = "amount") -> Decimal:
    """Parse a non-negative amount exactly; '1,234.50' and '1234.5' are accepted."""
    if isinstance(text, Decimal | int):
        value = Decimal(text)
    else:
        cleaned = text.strip()
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
    if value < 0:
        raise InvalidInput(f"{field}: {text!r} is negative")
    try:
        to_minor(value, currency)  # refuses sub-minor precision and absurd sizes
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None
    return value.quantize(quantum(currency))


def format_money(amount: Decimal, currency: str) -> str:
    """``Decimal('12345.6')``, CNY -> ``'CNY 12,345.60'``."""
    return f"{currency} {round_money(amount, currency):,}"
