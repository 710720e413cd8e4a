"""Phone numbers: the compiled check gives phonenumbers' answers, number for number."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import phonenumbers
import pytest
from conftest import Run, query, register
from fieldcase.importing import ColumnMapping, read_csv
from fieldcase.importing import normalise_phone as normalise_in_import
from fieldcase.phones import normalise_phone

DATA = Path(__file__).parent / "data"
AT = ("--at", "2026-11-23T09:00+08:00")

#: (True, E.164) or (False, the ValueError's message).
Outcome = tuple[bool, str]


def reference(text: str, region: str | None) -> Outcome:
    """phonenumbers alone, as fieldcase has always called it, with fieldcase's messages."""
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return False, "has no country code: write it as +CC... or give the case a jurisdiction"
        return False, "is not a phone number"
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        return False, f"is not a valid phone number for {where}"
    return True, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def outcome(normalise: Callable[[str, str | None], str], text: str, region: str | None) -> Outcome:
    try:
        return True, normalise(text, region)
    except ValueError as exc:
        return False, str(exc)


# -- a large generated sample -------------------------------------------------

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
HEAVY = ("CN", "US", "IN")
CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
TYPES = (
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL,
)
FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
)
#: Regions given with numbers besides real ones: none, unknown, lower case, the non-geographic.
ODD_REGIONS = (None, "ZZ", "XX", "cn", "us", "001")
SAMPLE_SIZE = 200_000


def example_numbers() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    """(region, number) for every example number phonenumbers holds, of every type."""
    found = []
    for region in REGIONS:
        for kind in TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append((region, number))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append(("001", number))
    return found


def with_noise(rng: random.Random, digits: str) -> str:
    """``digits`` as people type them: spaces, dashes, dots, an area code in parentheses."""
    out = []
    for index, digit in enumerate(digits):
        if index and rng.random() < 0.25:
            out.append(rng.choice((" ", "-", ".", "  ", " - ")))
        out.append(digit)
    text = "".join(out)
    if len(digits) > 6 and rng.random() < 0.2:
        cut = rng.randint(2, 4)
        text = f"({digits[:cut]}) {with_noise(rng, digits[cut:])}"
    if rng.random() < 0.1:
        text = rng.choice((" ", "\t", "")) + text + rng.choice((" ", ".", ")", "\n"))
    return text


def random_digits(rng: random.Random, size: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(size))


def mutated(rng: random.Random, digits: str) -> str:
    """A near miss: one digit changed, dropped or added."""
    where = rng.randrange(len(digits))
    change = rng.randrange(3)
    if change == 0:
        return digits[:where] + rng.choice("0123456789") + digits[where + 1 :]
    if change == 1:
        return digits[:where] + digits[where + 1 :]
    return digits[:where] + rng.choice("0123456789") + digits[where:]


def strange(rng: random.Random, digits: str) -> str:
    """What phonenumbers must judge itself: letters, extensions, other plus signs and digits."""
    return rng.choice(
        (
            f"{digits} ext. 12",
            f"{digits} x3",
            f"{digits}#",
            f"++{digits}",
            f"+\uff10{digits}",
            f"\uff0b{digits}",
            f"tel:+{digits}",
            f"{digits[:3]}ABC{digits[3:]}",
            f"{digits[:3]}/{digits[3:]}",
            f"{digits[:3]}\t{digits[3:]}",
            f"00{digits}",
            f"011{digits}",
            "".join(chr(0xFF10 + int(d)) for d in digits),
            digits[:2],
            digits[:1],
            "",
            "+",
            "(-)",
            "+0" + digits,
        )
    )


def pick_region(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(HEAVY)
    if roll < 0.97:
        return rng.choice(REGIONS)
    return rng.choice(ODD_REGIONS)


def generated(count: int, seed: int = 20261123) -> Iterator[tuple[str, str | None]]:
    """(text, region) pairs: valid examples, near misses, random digits, in both forms."""
    rng = random.Random(seed)
    examples = example_numbers()
    heavy = [e for e in examples if e[0] in HEAVY]
    for _ in range(count):
        region = pick_region(rng)
        kind = rng.random()
        if kind < 0.35:
            home, number = rng.choice(heavy if rng.random() < 0.4 else examples)
            written = phonenumbers.format_number(number, rng.choice(FORMATS))
            digits = "".join(c for c in written if c.isdigit())
            if rng.random() < 0.3:
                digits = mutated(rng, digits)
            plus = written.startswith("+") and rng.random() < 0.9
            text = ("+" if plus else "") + with_noise(rng, digits)
            yield text, (home if home != "001" and rng.random() < 0.7 else region)
        elif kind < 0.65:
            digits = random_digits(rng, rng.randint(4, 17))
            if region in phonenumbers.SUPPORTED_REGIONS and rng.random() < 0.3:
                prefix = phonenumbers.ndd_prefix_for_region(region, True) or ""
                digits = prefix + digits
            if rng.random() < 0.15:
                digits = "0" * rng.randint(1, 3) + digits
            yield with_noise(rng, digits), region
        elif kind < 0.9:
            code = rng.choice(CALLING_CODES) if rng.random() < 0.9 else rng.randint(1, 999)
            rest = random_digits(rng, rng.randint(1, 15))
            if rng.random() < 0.2:
                rest = rng.choice("0189") + rest
            joined = f"{code}{rest}"
            yield ("+" if rng.random() < 0.8 else "") + with_noise(rng, joined), region
        else:
            yield strange(rng, random_digits(rng, rng.randint(3, 14))), region


def test_generated_sample_agrees_with_phonenumbers() -> None:
    disagreements = []
    kinds: set[bool] = set()
    count = 0
    for text, region in generated(SAMPLE_SIZE):
        expected = reference(text, region)
        kinds.add(expected[0])
        count += 1
        got = outcome(normalise_phone, text, region)
        if got != expected:
            disagreements.append((text, region, got, expected))
    assert count >= SAMPLE_SIZE
    assert kinds == {True, False}
    assert disagreements[:20] == []


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("+86 138 0013 8000", "CN"),
        ("13800138000", "CN"),
        ("86 138 0013 8000", "CN"),  # the country code without "+"
        ("(415) 555-0100", "US"),
        ("1 415 555 0100", "US"),
        ("+1 1 415 555 0100", "US"),  # national prefix after the country code
        ("+1 416 555 0100", "CA"),
        ("416 555 0100", "CA"),
        ("+1 268 464 1234", None),  # Antigua: +1 and the leading-digits rule
        ("09876543210", "IN"),
        ("91 98765 43210", "IN"),
        ("+39 06 6982 1234", None),  # an Italian leading zero
        ("+39 312 345 6789", "IT"),
        ("+44 (0)20 7946 0958", "GB"),
        ("+7 8 912 345 67 89", None),
        ("+7 701 123 4567", "RU"),  # Kazakhstan shares +7
        ("8 (912) 345-67-89", "RU"),
        ("0 11 1234 5678", "AR"),  # a national prefix with a transform rule
        ("+800 1234 5678", None),  # non-geographic
        ("+86\t138 0013 8000", "CN"),
        ("0086 138 0013 8000", "CN"),
        ("+0086 138 0013 8000", "CN"),
        ("138 0013 8000", None),
        ("138 0013 8000", "cn"),
        ("+999 1234 5678", None),
        ("12", "CN"),
        ("+861", None),
        ("1" * 20, "CN"),
    ],
)
def test_known_hard_cases_agree(text: str, region: str | None) -> None:
    assert outcome(normalise_phone, text, region) == reference(text, region)


def test_common_forms_never_need_the_general_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("phonenumbers.parse was called")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    assert normalise_phone("+86 138 0013 8000", None) == "+8613800138000"
    assert normalise_phone("138-0013-8000", "CN") == "+8613800138000"
    assert normalise_phone("(415) 555-0100", "US") == "+14155550100"
    assert normalise_phone("09876543210", "IN") == "+919876543210"
    assert normalise_phone("+39 06 6982 1234", "CN") == "+390669821234"
    assert outcome(normalise_phone, "12345", "IN") == (
        False,
        "is not a valid phone number for IN",
    )
    assert outcome(normalise_phone, "+86 138 0013", "CN") == (
        False,
        "is not a valid phone number for CN",
    )


def test_import_module_name_still_works() -> None:
    assert normalise_in_import("+86 138 0013 8000", "CN") == "+8613800138000"


def test_phonenumbers_loads_only_when_a_phone_is_checked() -> None:
    script = (
        "import sys, fieldcase.cli, fieldcase.phones as p\n"
        "print('phonenumbers' in sys.modules)\n"
        "p.normalise_phone('+86 138 0013 8000', 'CN')\n"
        "print('phonenumbers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


# -- the sample files ---------------------------------------------------------


def region_of(jurisdiction: str) -> str | None:
    return jurisdiction.split("-")[0] or None


def file_phones() -> list[tuple[str, str, str | None]]:
    """(file, phone, region) for every non-empty phone cell of the sample files."""
    plain = ColumnMapping.load(DATA / "hx-columns.toml")
    files = [
        ("deccan-broken.csv", "utf-8", ColumnMapping({}, {})),
        ("midwest-utf8-bom.csv", "utf-8", ColumnMapping({}, {})),
        ("hx-gb18030.csv", "gb18030", plain),
    ]
    found = []
    for name, encoding, mapping in files:
        for row in read_csv(DATA / name, encoding):
            values = mapping.apply(row.values or {})
            if values.get("phone"):
                found.append((name, values["phone"], region_of(values.get("jurisdiction", ""))))
    try:
        from fieldcase_xlsx import read_xlsx
    except ImportError:  # the bundled plugin not installed: the CSV files still count
        return found
    for row in read_xlsx(DATA / "pearl-river.xlsx", "utf-8"):
        cells = row.values or {}
        if cells.get("phone"):
            found.append(("pearl-river.xlsx", cells["phone"], region_of(cells["jurisdiction"])))
    return found


def test_sample_files_phones_agree_with_phonenumbers() -> None:
    phones = file_phones()
    results = [(name, text, region, reference(text, region)) for name, text, region in phones]
    assert {r[3][0] for r in results} == {True, False}
    assert {name for name, *_ in results} >= {
        "deccan-broken.csv",
        "midwest-utf8-bom.csv",
        "hx-gb18030.csv",
    }
    for name, text, region, expected in results:
        assert (name, text, outcome(normalise_phone, text, region)) == (name, text, expected)


# -- through an import --------------------------------------------------------


def test_import_rejects_bad_phones_with_the_same_reasons(
    office: Run, tmp_path: Path, target: str
) -> None:
    register(office, "deccan", jurisdiction="IN", timezone="Asia/Kolkata", currency="INR")
    rows = [
        ("P-1", "+91 98765 43210"),
        ("P-2", "098765 43211"),
        ("P-3", "12345"),
        ("P-4", "+86 138 0013"),
        ("P-5", "call me"),
        ("P-6", "+999 1234 5678"),
    ]
    path = tmp_path / "phones.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["reference", "borrower_name", "principal", "overdue_amount", "overdue_since", "phone"]
        )
        writer.writerows(
            [(ref, "Priya Sharma", "1000", "100", "2026-08-10", phone) for ref, phone in rows]
        )
    result = office("import", str(path), "--institution", "deccan", *AT, "--json", as_="chen.wei")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["rejected"]) == (2, 4)
    with (tmp_path / "phones.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert rejects[1:] == [
        [str(line), "phone", phone, reference(phone, "IN")[1]]
        for line, (_, phone) in enumerate(rows, start=2)
        if not reference(phone, "IN")[0]
    ]
    assert [r[3] for r in rejects[1:]] == [
        "is not a valid phone number for IN",
        "is not a valid phone number for CN",
        "is not a phone number",
        "has no country code: write it as +CC... or give the case a jurisdiction",
    ]
    stored = query(target, "SELECT reference, phone FROM cases WHERE institution = 'deccan'")
    assert sorted((r["reference"], r["phone"]) for r in stored) == [
        ("P-1", "+919876543210"),
        ("P-2", "+919876543211"),
    ]
