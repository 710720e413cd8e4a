"""Phone numbers in E.164, checked exactly as phonenumbers checks them, but faster.

Decides whether a phone number is valid and how it is written (E.164). The
rules are phonenumbers' own metadata, compiled once per calling code on first
use; the steps of ``phonenumbers.parse`` and ``is_valid_number`` are followed
one for one for the two forms that fill case files: ``+CC ...`` and national
digits with a region. Whatever the compiled path cannot decide for certain
(letters, extensions, international dialling prefixes, unknown regions...)
goes to phonenumbers itself. What a row or a command does with a refusal is
their own affair (importing, confirmation, casefiles).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from phonenumbers import PhoneMetadata, PhoneNumberDesc

NO_COUNTRY_CODE = "has no country code: write it as +CC... or give the case a jurisdiction"
NOT_A_NUMBER = "is not a phone number"

#: phonenumbers refuses longer input outright; such text goes to it.
_MAX_INPUT = 250
#: Bounds of a national significant number (phonenumbers' _MIN/_MAX_LENGTH_FOR_NSN).
_MIN_NSN, _MAX_NSN = 2, 17
#: Number types whose patterns make a number valid, as ``_number_type_helper`` tries them.
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


def normalise_phone(text: str, region: str | None) -> str:
    """A valid phone number in E.164 form (+8613800138000), or ValueError saying why.

    ``region`` (e.g. ``CN``) reads numbers written without a country code.
    """
    raw = text.strip()
    fast = _compiled(raw, region) if len(raw) <= _MAX_INPUT else None
    return fast if fast is not None else _by_phonenumbers(raw, region)


def _by_phonenumbers(raw: str, region: str | None) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError(NO_COUNTRY_CODE) from None
        raise ValueError(NOT_A_NUMBER) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code or 0)
        raise ValueError(f"is not a valid phone number for {where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _compiled(raw: str, region: str | None) -> str | None:
    """The E.164 form, a ValueError, or None when phonenumbers must decide."""
    if raw.startswith("+"):
        digits = _without_punctuation(raw[1:])
        # A region phonenumbers does not know (e.g. "001") changes how it reads even "+CC".
        if not _plain_digits(digits) or (region is not None and _plan_for(region) is None):
            return None
        return _international(digits)
    digits = _without_punctuation(raw)
    plan = _plan_for(region) if region is not None else None
    if plan is None or not _plain_digits(digits):
        return None
    return _national(digits, plan)


def _without_punctuation(text: str) -> str:
    """``text`` without the punctuation phonenumbers ignores and the compiled path accepts."""
    # Chained replaces beat str.translate and re.sub on such short strings.
    return text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").replace(".", "")


def _plain_digits(digits: str) -> bool:
    # Three digits make any such text a viable number to phonenumbers; fewer, it judges.
    return len(digits) >= 3 and digits.isascii() and digits.isdigit()


def _international(digits: str) -> str | None:
    """``+`` then ``digits``; calling codes are prefix-free, so the first known prefix is it."""
    if digits[0] == "0":
        return None  # phonenumbers retries such numbers with the region's dialling rules
    for width in (1, 2, 3):
        country = _country_for(digits[:width])
        if country is not None:
            return _checked(country, country.home, digits[width:])
    return None


def _national(digits: str, plan: _Plan) -> str | None:
    """Digits written for ``plan``'s region, read as phonenumbers reads them."""
    if plan.idd is not None and plan.idd.match(digits):
        return None  # an international dialling prefix: phonenumbers decides
    code = str(plan.country_code)
    country = _country_for(code)
    if country is None:
        return None
    if digits.startswith(code):
        # The region's own country code written without "+": phonenumbers drops it
        # when the rest fits the region better (_maybe_extract_country_code).
        rest = plan.strip_national_prefix(digits[len(code) :])
        if (not plan.fits(digits) and plan.fits(rest)) or plan.length_verdict(digits) == _TOO_LONG:
            return _checked(country, country.home, rest)
    return _checked(country, plan, digits)


def _checked(country: _Country, plan: _Plan, national: str) -> str:
    """The end of ``parse`` (national prefix, lengths) and ``is_valid_number``."""
    if len(national) < _MIN_NSN:
        raise ValueError(NOT_A_NUMBER)
    stripped = plan.strip_national_prefix(national)
    if stripped is not national and plan.length_verdict(stripped) in (_POSSIBLE, _TOO_LONG):
        national = stripped
    if len(national) > _MAX_NSN:
        raise ValueError(NOT_A_NUMBER)
    if not country.is_valid(national):
        raise ValueError(f"is not a valid phone number for {country.home_region}")
    # The national significant number keeps its leading zeros (Italian numbers),
    # exactly as phonenumbers rebuilds it from italian_leading_zero.
    return country.plus_code + national


# -- the compiled metadata ----------------------------------------------------

_POSSIBLE, _TOO_SHORT, _TOO_LONG, _LOCAL_ONLY, _INVALID_LENGTH = range(5)


@attrs.frozen
class _Plan:
    """One region's (or non-geographic entity's) rules, compiled."""

    country_code: int
    idd: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    transform: str | None
    general: re.Pattern[str] | None
    lengths: tuple[int, ...]
    local_lengths: frozenset[int]
    leading_digits: re.Pattern[str] | None
    #: By length of the national number: the pattern a valid number matches whole.
    valid_by_length: dict[int, re.Pattern[str]]

    def fits(self, number: str) -> bool:
        """Whether the general pattern matches (phonenumbers' _match_national_number)."""
        return self.general is not None and self.general.fullmatch(number) is not None

    def length_verdict(self, number: str) -> int:
        """phonenumbers' _test_number_length for the general description."""
        size = len(number)
        if size in self.local_lengths:
            return _LOCAL_ONLY
        if size == self.lengths[0]:
            return _POSSIBLE
        if size < self.lengths[0]:
            return _TOO_SHORT
        if size > self.lengths[-1]:
            return _TOO_LONG
        return _POSSIBLE if size in self.lengths[1:] else _INVALID_LENGTH

    def strip_national_prefix(self, number: str) -> str:
        """phonenumbers' _maybe_strip_national_prefix_carrier_code, without the carrier code."""
        prefix = self.national_prefix
        if prefix is None or not number:
            return number
        match = prefix.match(number)
        if match is None:
            return number
        groups = match.groups()
        if not self.transform or groups[len(groups) - 1] is None:
            result = number[match.end() :]
        else:
            result = prefix.sub(self.transform, number, count=1)
        if self.fits(number) and not self.fits(result):
            return number
        return result

    def is_valid(self, national: str) -> bool:
        """phonenumbers' _number_type_helper(...) != UNKNOWN."""
        pattern = self.valid_by_length.get(len(national))
        return pattern is not None and pattern.fullmatch(national) is not None


@attrs.frozen
class _Country:
    """A calling code: the regions sharing it, in phonenumbers' order."""

    code: int
    #: "+86": the start of every E.164 number with this code.
    plus_code: str
    home_region: str
    home: _Plan
    plans: tuple[_Plan | None, ...]

    def is_valid(self, national: str) -> bool:
        """phonenumbers' is_valid_number: pick the region (region_code_for_number), then check."""
        if len(self.plans) == 1:
            return self.home.country_code == self.code and self.home.is_valid(national)
        for plan in self.plans:
            if plan is None:
                continue
            if plan.leading_digits is not None:
                if plan.leading_digits.match(national):
                    return plan.country_code == self.code and plan.is_valid(national)
            elif plan.is_valid(national):
                return plan.country_code == self.code
        return False


#: By calling code as written ("86"); None for digits that are no calling code.
_COUNTRIES: dict[str, _Country | None] = {}
_REGIONS: dict[str, _Plan | None] = {}


def _country_for(code: str) -> _Country | None:
    try:
        return _COUNTRIES[code]
    except KeyError:
        _COUNTRIES[code] = country = _compile_country(int(code))
        return country


def _plan_for(region: str) -> _Plan | None:
    """The compiled rules of a region phonenumbers knows, or None."""
    try:
        return _REGIONS[region]
    except KeyError:
        _REGIONS[region] = plan = _compile_region(region)
        return plan


def _compile_region(region: str) -> _Plan | None:
    import phonenumbers

    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return _compile_plan(metadata) if metadata is not None else None


def _compile_country(code: int) -> _Country | None:
    import phonenumbers

    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions:
        return None
    plans = tuple(_region_or_entity_plan(code, region) for region in regions)
    home = plans[0]
    # phonenumbers holds metadata for every calling code it lists (parse asserts it).
    assert home is not None
    return _Country(code=code, plus_code=f"+{code}", home_region=regions[0], home=home, plans=plans)


def _region_or_entity_plan(code: int, region: str) -> _Plan | None:
    import phonenumbers

    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        metadata = phonenumbers.PhoneMetadata.metadata_for_nongeo_region(code)
        return _compile_plan(metadata) if metadata is not None else None
    return _plan_for(region)


def _compile_plan(metadata: PhoneMetadata) -> _Plan:
    general = metadata.general_desc
    assert general is not None
    return _Plan(
        country_code=metadata.country_code or 0,
        idd=_pattern(metadata.international_prefix),
        # phonenumbers ignores an empty national prefix or general pattern...
        national_prefix=_pattern(metadata.national_prefix_for_parsing or None),
        transform=metadata.national_prefix_transform_rule,
        general=_pattern(general.national_number_pattern or None),
        lengths=tuple(general.possible_length),
        local_lengths=frozenset(general.possible_length_local_only),
        # ...but not an empty dialling prefix or leading-digits rule: those match anything.
        leading_digits=_pattern(metadata.leading_digits),
        valid_by_length=_valid_by_length(metadata),
    )


def _pattern(source: str | None) -> re.Pattern[str] | None:
    return re.compile(source) if source is not None else None


def _valid_by_length(metadata: PhoneMetadata) -> dict[int, re.Pattern[str]]:
    """For each length, one pattern: the general one AND any type that makes a number valid."""
    general = metadata.general_desc
    if general is None or not general.national_number_pattern:
        return {}  # nothing matches an empty general pattern: no number is valid
    types = [getattr(metadata, name) for name in _TYPES]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.append(metadata.mobile)
    by_length: dict[int, re.Pattern[str]] = {}
    shared: dict[tuple[str, ...], re.Pattern[str]] = {}
    for size in range(_MIN_NSN, _MAX_NSN + 1):
        if not _admits(general, size):
            continue
        sources = tuple(
            desc.national_number_pattern
            for desc in types
            if desc is not None and desc.national_number_pattern and _admits(desc, size)
        )
        if not sources:
            continue
        if sources not in shared:
            either = "|".join(f"(?:{source})" for source in sources)
            shared[sources] = re.compile(
                rf"(?=(?:{general.national_number_pattern})\Z)(?:{either})"
            )
        by_length[size] = shared[sources]
    return by_length


def _admits(desc: PhoneNumberDesc, size: int) -> bool:
    # No possible lengths means those of the general description (_is_number_matching_desc).
    return not desc.possible_length or size in desc.possible_length
