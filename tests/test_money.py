"""Money: exact Decimal amounts in a currency, stored as integer minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fieldcase.errors import InvalidInput
from fieldcase.money import (
    format_money,
    from_minor,
    parse_amount,
    parse_rate,
    round_money,
    to_minor,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("12.34", "CNY", 1234), ("0.01", "USD", 1), ("1500", "JPY", 1500), ("99.9", "INR", 9990)],
)
def test_round_trip_through_minor_units(amount: str, currency: str, minor: int) -> None:
    value = parse_amount(amount, currency)
    assert to_minor(value, currency) == minor
    assert from_minor(minor, currency) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "negative"),
        ("abc", "not a number"),
        ("NaN", "not a finite number"),
        ("1.005", "more decimal places"),
        ("Infinity", "not a finite number"),
    ],
)
def test_bad_amounts_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_amount(text, "USD")


def test_yen_has_no_minor_unit() -> None:
    with pytest.raises(InvalidInput, match="JPY allows \\(0\\)"):
        parse_amount("10.5", "JPY")


def test_unknown_currency() -> None:
    with pytest.raises(InvalidInput, match="unknown currency 'XXX'"):
        to_minor(Decimal(1), "XXX")


def test_grouping_and_rounding() -> None:
    assert parse_amount("1,234.50", "CNY") == Decimal("1234.50")
    assert round_money(Decimal("2.345"), "USD") == Decimal("2.34")  # half to even
    assert format_money(Decimal("12345.6"), "CNY") == "CNY 12,345.60"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-0", "negative"),
        ("-0.00", "negative"),
        ("1e3", "exponent notation"),
        ("1E+3", "exponent notation"),
        ("1_000", "underscore"),
        ("１０００", "ASCII digits 0-9"),
        ("١٠٠٠", "ASCII digits 0-9"),
        ("1\u00a0000", "ASCII digits 0-9"),
    ],
)
def test_amounts_no_statement_writes_are_refused(text: str, message: str) -> None:
    # Decimal() reads all but the last; a person who means 1000 writes 1000 or 1,000.
    with pytest.raises(InvalidInput, match=message):
        parse_amount(text, "CNY")


@pytest.mark.parametrize("text", ["１８%", "1e-1", "0_18"])
def test_rates_are_written_in_plain_digits_too(text: str) -> None:
    with pytest.raises(InvalidInput, match="rate"):
        parse_rate(text)
    assert parse_rate("18%") == Decimal("0.18")


def _slow_minor(text: str, currency: str) -> int | None:
    from fieldcase.money import parse_amount, to_minor

    try:
        return to_minor(parse_amount(text, currency), currency)
    except InvalidInput:
        return None


_AMOUNT_TEXT = st.one_of(
    st.from_regex(r"[0-9]{1,19}(\.[0-9]{0,5})?", fullmatch=True),
    st.from_regex(r"[0-9,. +-]{0,12}", fullmatch=True),
    st.text(max_size=12),
)


@settings(max_examples=3000)
@given(text=_AMOUNT_TEXT, currency=st.sampled_from(["CNY", "USD", "JPY", "INR", "KRW", "XXX"]))
def test_a_plain_amount_is_read_as_parse_amount_reads_it(text: str, currency: str) -> None:
    from fieldcase.money import plain_minor

    fast = plain_minor(text, currency)
    # Taken plainly, or left to parse_amount; never a different number.
    if fast is not None:
        assert fast == _slow_minor(text, currency)


def test_plain_amounts_take_the_fast_way() -> None:
    from fieldcase.money import plain_minor

    assert plain_minor("1234.5", "CNY") == 123450
    assert plain_minor("0800", "USD") == 80000
    assert plain_minor("12.340", "CNY") == 1234
    assert plain_minor("7", "JPY") == 7
    assert plain_minor("1.200", "KRW") is None and plain_minor("1.000", "KRW") == 1
    # Left to parse_amount, which refuses or reads them as it always did.
    for text in ("1,234.50", "12.345", "1e3", "-5", "５", ".5", "5.", "1.5"):
        assert plain_minor(text, "JPY" if text == "1.5" else "CNY") is None, text
    assert plain_minor("99999999999999999", "CNY") is None  # too large: parse_amount says so
