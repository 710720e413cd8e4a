"""``fieldcase.toml``: a section per institution and per plugin."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from .errors import InvalidInput

DEFAULT_PATH = "fieldcase.toml"


@attrs.frozen
class Config:
    """Parsed configuration. ``institutions`` and ``plugins`` map ids to their sections."""

    institutions: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    plugins: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    path: Path | None = None
    #: ``[privacy] retention_years``: how long after closure personal data is kept.
    retention_years: int = 5

    def settings(self, institution: str) -> Mapping[str, Any]:
        """The institution's section, read-only; empty when it has none."""
        return MappingProxyType(dict(self.institutions.get(institution, {})))

    def plugin(self, name: str) -> Mapping[str, Any]:
        return MappingProxyType(dict(self.plugins.get(name, {})))


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path``, else ``$FIELDCASE_CONFIG``, else ``./fieldcase.toml`` if present."""
    explicit = path is not None or "FIELDCASE_CONFIG" in os.environ
    chosen = Path(path or os.environ.get("FIELDCASE_CONFIG") or DEFAULT_PATH)
    if not chosen.exists():
        if explicit:
            raise InvalidInput(f"configuration file {chosen} does not exist")
        return Config()
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{chosen}: {exc}") from None
    institutions = data.get("institutions", {})
    plugins = data.get("plugins", {})
    if not isinstance(institutions, dict) or not isinstance(plugins, dict):
        raise InvalidInput(f"{chosen}: [institutions] and [plugins] must be tables")
    for name, section in [*institutions.items(), *plugins.items()]:
        if not isinstance(section, dict):
            raise InvalidInput(f"{chosen}: {name} must be a table, e.g. [institutions.{name}]")
    for name, section in institutions.items():
        _check_builtin_settings(chosen, name, section)
        rules = section.get("rules", {})
        if not isinstance(rules, dict) or not all(isinstance(r, dict) for r in rules.values()):
            raise InvalidInput(
                f'{chosen}: rules of {name} must be tables: [institutions.{name}.rules."<rule id>"]'
            )
    privacy = data.get("privacy", {})
    years = privacy.get("retention_years", 5) if isinstance(privacy, dict) else None
    if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 100:
        raise InvalidInput(
            f"{chosen}: [privacy] retention_years must be a whole number of years, 1 to 100"
        )
    return Config(institutions=institutions, plugins=plugins, path=chosen, retention_years=years)


#: Settings the built-in policy reads, and what each must be.
BUILTIN_SETTINGS: dict[str, tuple[str, Any]] = {
    "min_days_past_due": ("a whole number of days, 0 or more", lambda v: int(v) >= 0),
    "max_failed_visits": ("a whole number, 1 or more", lambda v: int(v) >= 1),
    "min_overdue_amount": (
        'an amount such as "500.00"',
        lambda v: Decimal(str(v)).is_finite() and Decimal(str(v)) >= 0,
    ),
    "penalty_cap": (
        'a share of the overdue amount such as "0.3"',
        lambda v: Decimal(str(v)).is_finite() and Decimal(str(v)) >= 0,
    ),
    "approval_threshold": ('an amount such as "1000.00"', lambda v: _amount(v)),
    "approval_threshold_share": ('a share of the balance such as "0.10"', lambda v: _share(v)),
    "day_count": ("365 or 360", lambda v: int(v) in (360, 365)),
    "rule_packs": (
        'a list of rule packs such as ["cn"]',
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    ),
}


def _share(v: Any) -> bool:
    return Decimal(str(v)).is_finite() and 0 <= Decimal(str(v)) <= 1


def _amount(v: Any) -> bool:
    return Decimal(str(v)).is_finite() and 0 <= Decimal(str(v)) < 10**15


def _days(low: int) -> Any:
    return lambda v: not isinstance(v, bool) and low <= int(v) <= 3650


#: The terms of the built-in offers, ``[institutions.<id>.offers]``.
OFFER_SETTINGS: dict[str, tuple[str, Any]] = {
    "installment_periods": (
        "a list of whole numbers of months such as [3, 6, 12]",
        lambda v: isinstance(v, list) and all(isinstance(n, int) and 1 <= n <= 360 for n in v),
    ),
    "installment_rate": ('an annual rate such as "0.12"', _amount),
    "installment_method": (
        '"annuity" or "equal-principal"',
        lambda v: v in ("annuity", "equal-principal"),
    ),
    "extension_days": ("a whole number of days up to 3650, 0 for none", _days(0)),
    "extension_fee": ('an amount such as "25.00"', _amount),
    "waiver_share": ('a share from "0" to "1"', _share),
    "waiver_pay_within_days": ("a whole number of days from 1 to 3650", _days(1)),
    "settlement_discount": (
        'a share below "1" such as "0.20"',
        lambda v: _share(v) and Decimal(str(v)) < 1,
    ),
    "settlement_days": ("a whole number of days from 1 to 3650", _days(1)),
    "valid_days": ("a whole number of days from 1 to 3650", _days(1)),
}


def _check_builtin_settings(path: Path, institution: str, section: Mapping[str, Any]) -> None:
    offers = section.get("offers", {})
    if not isinstance(offers, dict):
        raise InvalidInput(
            f"{path}: offers of {institution} must be a table, [institutions.{institution}.offers]"
        )
    _check(path, f"institutions.{institution}.offers", offers, OFFER_SETTINGS)
    _check(path, f"institutions.{institution}", section, BUILTIN_SETTINGS)


def _check(
    path: Path, where: str, section: Mapping[str, Any], rules: Mapping[str, tuple[str, Any]]
) -> None:
    for key, (expected, valid) in rules.items():
        if key not in section:
            continue
        value = section[key]
        try:
            ok = not isinstance(value, bool) and valid(value)
        except (ValueError, TypeError, ArithmeticError):
            ok = False
        if not ok:
            raise InvalidInput(f"{path}: [{where}] {key} = {value!r} must be {expected}")
