"""Institution policy: its keys, how each is checked when set, and what it needs loaded.

A policy is one JSON object per institution and version, the shape of the
``[institutions.<id>]`` sections of the old ``fieldcase.toml``: top-level
keys (``min_days_past_due``, ``rule_packs``...), an ``offers`` table of the
built-in offers' terms and a ``rules`` table of rule parameters by rule id.
Hooks receive it as ``settings``.

This module decides what a valid policy is: every key, rule pack and rule
parameter is checked when it is set, never when first used, against the
built-in keys here, the keys plugins register (``register_policy_settings``)
and the packs they register (``register_rule_packs``). It writes nothing:
:mod:`fieldcase.institutions` records each change as an event.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import pluggy

from . import attributes, lifecycle, templates
from .errors import InvalidInput
from .rules import RulePack
from .suggest import hint

#: Checks a value and returns it in its stored form; raises ValueError or InvalidInput.
Parse = Callable[[Any], Any]


@attrs.frozen
class Setting:
    """One policy key: what it must be, and who reads it."""

    key: str
    description: str
    parse: Parse
    default: Any = None
    #: The plugin that registered it; "fieldcase" for the built-in keys.
    owner: str = "fieldcase"


# -- the value kinds ---------------------------------------------------------------


def whole(low: int, high: int) -> Parse:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError
        return value

    return parse


def decimal(low: Decimal, high: Decimal | None = None, *, below: bool = False) -> Parse:
    """A decimal between ``low`` and ``high`` (``below``: strictly under it), as exact text."""

    def parse(value: Any) -> str:
        if isinstance(value, bool):
            raise ValueError
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError from None
        if not number.is_finite() or number < low:
            raise ValueError
        if high is not None and (number >= high if below else number > high):
            raise ValueError
        return format(number, "f")

    return parse


def choice(*options: str) -> Parse:
    def parse(value: Any) -> str:
        if value not in options:
            raise ValueError
        return str(value)

    return parse


def choice_of(*options: int) -> Parse:
    def parse(value: Any) -> int:
        number = whole(min(options), max(options))(value)
        if number not in options:
            raise ValueError
        return number

    return parse


def names(value: Any) -> list[str]:
    """A list of names: a TOML list, or text separated by commas."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    return list(dict.fromkeys(value))


def months_list(value: Any) -> list[int]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError
        value = [int(p) for p in parts]
    check = whole(1, 360)
    if not isinstance(value, list):
        raise ValueError
    return [check(v) for v in value]


_BYTE_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB)?")
_BYTE_UNITS = {None: 1, "B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def byte_size(low: int, high: int) -> Parse:
    """A size in bytes from ``low`` to ``high``: a whole number, or with a unit
    (``"20MB"``, ``"500kB"``, ``"1.5 MB"``; decimal units); stored in bytes."""

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError
        found = _BYTE_SIZE.fullmatch(str(value).strip())
        if found is None:
            raise ValueError
        size = Decimal(found[1]) * _BYTE_UNITS[found[2]]
        if size != size.to_integral_value() or not low <= size <= high:
            raise ValueError
        return int(size)

    return parse


def media_types(value: Any) -> list[str]:
    """Media types a file's bytes can be told to be (``image/jpeg``...), as a list."""
    from .attachments import SNIFFED_TYPES

    types = names(value)
    for media_type in types:
        if media_type not in SNIFFED_TYPES:
            raise InvalidInput(
                f"{media_type!r} is not a type fieldcase tells from a file's bytes"
                f"{hint(media_type, SNIFFED_TYPES)} (e.g. image/jpeg, image/png, "
                "application/pdf; 'fieldcase institution keys' describes the key)"
            )
    return types


_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


def messaging_names(value: Any) -> list[str]:
    """Messaging apps an institution contacts through, beside the built-in channels."""
    apps = names(value)
    for app in apps:
        if app in lifecycle.CHANNELS:
            raise InvalidInput(
                f"{app!r} is a built-in channel already (built in: {', '.join(lifecycle.CHANNELS)})"
            )
        if not _CHANNEL_NAME.match(app):
            raise InvalidInput(
                f"{app!r} is not a channel name: 2 to 32 lower-case letters, digits and "
                'hyphens, starting with a letter, e.g. "whatsapp"'
            )
    return apps


def contact_channels(policy: Mapping[str, Any]) -> tuple[str, ...]:
    """The channels a contact of the institution's cases may go through: the built-in
    ones and the messaging apps its policy names."""
    return (*lifecycle.CHANNELS, *policy.get("messaging_channels", ()))


AMOUNT = decimal(Decimal(0), Decimal(10) ** 15, below=True)
SHARE = decimal(Decimal(0), Decimal(1))

#: Keys the built-in policy, offers and time checks read.
BUILTIN: tuple[Setting, ...] = (
    Setting("min_days_past_due", "a whole number of days, 0 or more", whole(0, 36500), 1),
    Setting("min_overdue_amount", 'an amount such as "500.00"', AMOUNT, "0"),
    Setting("max_failed_visits", "a whole number, 1 to 100", whole(1, 100), 3),
    Setting(
        "penalty_cap",
        'a share of the overdue amount from "0" to "10", such as "0.3"',
        decimal(Decimal(0), Decimal(10)),
    ),
    Setting("approval_threshold", 'an amount such as "1000.00"', AMOUNT),
    Setting("approval_threshold_share", 'a share of the balance such as "0.10"', SHARE, "0.10"),
    Setting("day_count", "365 or 360", choice_of(360, 365), 365),
    Setting(
        "import_days_late_mismatch",
        '"warn" or "reject" an imported row whose days_past_due and overdue_since disagree',
        choice("warn", "reject"),
        "warn",
    ),
    Setting(
        "future_minutes",
        "how many minutes past the real clock an --at may be, 0 to 60",
        whole(0, 60),
        5,
    ),
    Setting(
        "backdate_days",
        "how many days before the real clock field staff may date an action, 0 to 3650",
        whole(0, 3650),
        7,
    ),
    Setting(
        "retention_years",
        "years after closure to keep personal data, 1 to 100",
        whole(1, 100),
        5,
    ),
    Setting(
        "hardship_max_days",
        "days of hardship pause field staff may grant in any 365, 1 to 3650 (more: a supervisor)",
        whole(1, 3650),
        90,
    ),
    Setting(
        "hardship_granted_by",
        '"field" (any staff member on the case) or "supervisor" (only supervisors)',
        choice("field", "supervisor"),
        "field",
    ),
    Setting(
        "hardship_penalty_share",
        'the share of the penalty rate that accrues during a pause, "0" (frozen) to "1"',
        SHARE,
        "0",
    ),
    Setting(
        "dispute_reverse_fees",
        '"yes" or "no": whether an upheld dispute reverses the fees as well as the penalty',
        choice("yes", "no"),
        "yes",
    ),
    Setting(
        "complaint_quiet_days",
        "how many days a complaint about contact frequency lowers the limit, 0 to 3650",
        whole(0, 3650),
        90,
    ),
    Setting(
        "complaint_max_contacts_per_week",
        "contacts with the borrower allowed in 7 days after a complaint about frequency, 0 to 100",
        whole(0, 100),
        2,
    ),
    Setting(
        "messaging_channels",
        'messaging apps used beside the built-in channels, e.g. ["whatsapp", "line"]',
        messaging_names,
        [],
    ),
    Setting(
        "max_inquiries_per_year",
        "hard credit-bureau inquiries per case in any 365 days, 0 to 365",
        whole(0, 365),
        4,
    ),
    Setting(
        "checkin_max_distance_m",
        "metres from the borrower's known location beyond which a check-in is far, 0 (none) "
        "to 100000",
        whole(0, 100_000),
        500,
    ),
    Setting(
        "amend_window_hours",
        "hours after recording an event in which its author may amend it, 0 to 720 "
        "(later: a supervisor)",
        whole(0, 720),
        24,
    ),
    Setting(
        "review_every_months",
        "months from a review to the next one a performing loan is due, 0 (none) to 60",
        whole(0, 60),
        3,
    ),
    Setting(
        "review_watch_months",
        "months to the next review of a loan put on the watch list, 0 (none) to 60",
        whole(0, 60),
        1,
    ),
    Setting(
        "review_offer_installments",
        "installments due that offers on a performing loan are built on, 1 to 60",
        whole(1, 60),
        3,
    ),
    Setting(
        "attachment_max_bytes",
        'the largest file that may be attached, 1 byte to 200 MB, e.g. "20MB"',
        byte_size(1, 200 * 10**6),
        20 * 10**6,
    ),
    Setting(
        "attachment_types",
        "the types of file that may be attached, told from their bytes, e.g. "
        '["image/jpeg", "application/pdf"]',
        media_types,
        ["image/jpeg", "image/png", "image/heic", "image/webp", "application/pdf"],
    ),
    Setting(
        "require_plugins",
        'plugins the institution\'s actions need loaded, e.g. ["fieldcase-example-bank"]',
        names,
        [],
    ),
    Setting(
        "message_language",
        'the language of letters when the case names none, e.g. "en" (default: by jurisdiction)',
        templates.language_tag,
        "",
    ),
)

#: The terms of the built-in offers: ``offers.<key>``.
OFFERS: tuple[Setting, ...] = (
    Setting(
        "installment_periods",
        "a list of whole numbers of months such as [3, 6, 12]",
        months_list,
        [3, 6, 12],
    ),
    Setting("installment_rate", 'an annual rate such as "0.12"', AMOUNT, "0.12"),
    Setting(
        "installment_method",
        '"annuity" or "equal-principal"',
        choice("annuity", "equal-principal"),
        "annuity",
    ),
    Setting("extension_days", "a whole number of days up to 3650, 0 for none", whole(0, 3650), 30),
    Setting("extension_fee", 'an amount such as "25.00"', AMOUNT, "0"),
    Setting("waiver_share", 'a share from "0" to "1"', SHARE, "1"),
    Setting("waiver_pay_within_days", "a whole number of days from 1 to 3650", whole(1, 3650), 14),
    Setting(
        "settlement_discount",
        'a share below "1" such as "0.20"',
        decimal(Decimal(0), Decimal(1), below=True),
        "0.20",
    ),
    Setting("settlement_days", "a whole number of days from 1 to 3650", whole(1, 3650), 14),
    Setting("valid_days", "a whole number of days from 1 to 3650", whole(1, 3650), 7),
)


def default(key: str) -> Any:
    """The built-in default of a top-level key (one place for it)."""
    return next(s.default for s in BUILTIN if s.key == key)


#: Tables of a policy, beside its plain keys.
TABLES = ("offers", "rules", "attributes", "templates")


@attrs.frozen
class Schema:
    """Every key, rule pack and plugin a policy may name, as the loaded plugins say."""

    settings: Mapping[str, Setting]
    offers: Mapping[str, Setting]
    packs: Mapping[str, RulePack]
    plugins: frozenset[str]

    @property
    def keys(self) -> list[str]:
        """Every key ``--set`` takes, tables spelt out (``offers.valid_days``)."""
        return [
            *self.settings,
            "rule_packs",
            *(f"offers.{k}" for k in self.offers),
            *(
                f"rules.{rule.id}.{param}"
                for pack in self.packs.values()
                for rule in pack.rules
                for param in rule.params
            ),
        ]

    def rule_ids(self) -> dict[str, Any]:
        return {rule.id: rule for pack in self.packs.values() for rule in pack.rules}

    # -- one key at a time --------------------------------------------------------

    def parse(self, key: str, value: Any) -> tuple[tuple[str, ...], Any]:
        """(path in the policy, stored value) of ``key = value``, or InvalidInput saying why."""
        key = key.strip()
        if key == "rule_packs":
            return ("rule_packs",), self.parse_packs(value)
        if key == "require_plugins":
            wanted = _checked(self.settings[key], key, value)
            for name in wanted:
                if name not in self.plugins:
                    raise InvalidInput(
                        f"require_plugins: no plugin {name!r} is loaded{hint(name, self.plugins)}"
                        "; see 'fieldcase plugins'"
                    )
            return (key,), wanted
        if key in self.settings:
            return (key,), _checked(self.settings[key], key, value)
        if key.startswith("offers."):
            name = key.removeprefix("offers.")
            if name not in self.offers:
                raise InvalidInput(
                    f"unknown offer term {key!r} (terms: {', '.join(self.offers)})"
                    + hint(name, self.offers)
                )
            return ("offers", name), _checked(self.offers[name], key, value)
        if key.startswith("rules."):
            return self.parse_rule(key.removeprefix("rules."), value)
        if key.startswith(attributes.PREFIX):
            name = key.removeprefix(attributes.PREFIX)
            return ("attributes", name), attributes.parse_declaration(name, value)
        if key.startswith("templates."):
            return templates.parse_key(key.removeprefix("templates."), value)
        if key in TABLES:
            raise InvalidInput(f"{key} is a table: set one of its keys, e.g. {self.example(key)}")
        keys = [
            *self.settings,
            "rule_packs",
            "offers.<term>",
            "rules.<rule>.<param>",
            "attributes.<name>",
            "templates.<name>.<field>",
        ]
        raise InvalidInput(
            f"unknown policy key {key!r} (keys: {', '.join(keys)}; see 'fieldcase institution "
            f"keys'){hint(key, self.keys)}"
        )

    def example(self, table: str) -> str:
        return {
            "offers": "offers.valid_days=5",
            "rules": "rules.cn.hours.start=09:00",
            "attributes": 'attributes.branch="text"',
            "templates": "templates.reminder.channels=sms",
        }[table]

    def parse_packs(self, value: Any) -> list[str]:
        try:
            packs = names(value)
        except ValueError:
            raise InvalidInput(
                f'rule_packs = {value!r} must be a list of rule packs such as ["cn"]'
            ) from None
        for pack in packs:
            if pack not in self.packs:
                known = ", ".join(sorted(self.packs)) or "none are installed"
                raise InvalidInput(
                    f"rule_packs: no rule pack {pack!r} (installed: {known})"
                    + hint(pack, self.packs)
                )
        return packs

    def parse_rule(self, text: str, value: Any) -> tuple[tuple[str, ...], Any]:
        """``cn.hours.start``: the longest rule id that prefixes it, then the parameter."""
        rules = self.rule_ids()
        rule_id, _, param = text.rpartition(".")
        if rule_id not in rules:
            guess = rule_id or text
            raise InvalidInput(
                f"no rule {guess!r} in the installed rule packs "
                f"({', '.join(sorted(self.packs)) or 'none'}; set rules.<rule id>.<parameter>, "
                f"e.g. rules.cn.hours.start=09:00){hint(guess, rules)}"
            )
        rule = rules[rule_id]
        if param not in rule.params:
            params = ", ".join(rule.params) or "none"
            raise InvalidInput(
                f"rule {rule_id} has no parameter {param!r} (its parameters: {params})"
                + hint(param, rule.params)
            )
        stored = rule.parse_param(param, value)
        try:
            json.dumps(stored)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"rule setting {rule_id} {param} = {value!r} cannot be stored"
            ) from None
        return ("rules", rule_id, param), stored

    # -- whole policies ------------------------------------------------------------

    def check(self, policy: Mapping[str, Any]) -> dict[str, Any]:
        """The whole ``policy`` checked key by key, in stored form."""
        result: dict[str, Any] = {}
        for key, value in policy.items():
            if key == "offers":
                if not isinstance(value, Mapping):
                    raise InvalidInput("offers must be a table of terms, [offers]")
                for name, term in value.items():
                    set_path(result, *self.parse(f"offers.{name}", term))
            elif key == "rules":
                if not isinstance(value, Mapping) or not all(
                    isinstance(r, Mapping) for r in value.values()
                ):
                    raise InvalidInput('rules must be tables: [rules."<rule id>"]')
                for rule_id, params in value.items():
                    for param, setting in params.items():
                        set_path(result, *self.parse(f"rules.{rule_id}.{param}", setting))
            elif key == "attributes":
                if not isinstance(value, Mapping):
                    raise InvalidInput("attributes must be a table of kinds, [attributes]")
                for name, kind in value.items():
                    set_path(result, *self.parse(f"{attributes.PREFIX}{name}", kind))
            elif key == "templates":
                for field, setting in templates.table_keys(value):
                    set_path(result, *self.parse(f"templates.{field}", setting))
            elif key in ("name", "jurisdiction", "timezone", "currency"):
                continue  # the institution's own fields, not policy
            else:
                set_path(result, *self.parse(key, value))
        return result

    def missing(self, policy: Mapping[str, Any]) -> list[str]:
        """What ``policy`` needs that is not loaded now: packs, plugins, plugins' keys."""
        problems = [
            f"rule pack {pack}" for pack in policy.get("rule_packs", []) if pack not in self.packs
        ]
        problems += [
            f"plugin {name}"
            for name in policy.get("require_plugins", [])
            if name not in self.plugins
        ]
        problems += [
            f"the plugin that reads {key}"
            for key in policy
            if key not in (*self.settings, "rule_packs", *TABLES)
        ]
        rules = self.rule_ids()
        unknown = [rule_id for rule_id in policy.get("rules", {}) if rule_id not in rules]
        if unknown and not problems:
            problems.append(f"the rule pack of {', '.join(unknown)}")
        return problems


def _checked(setting: Setting, key: str, value: Any) -> Any:
    try:
        stored = setting.parse(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{key}: {exc}") from None
    except (ValueError, TypeError, ArithmeticError):
        shown = str(value) if isinstance(value, Decimal) else repr(value)
        raise InvalidInput(f"{key} = {shown} must be {setting.description}") from None
    except Exception as exc:  # a plugin's parse function failed: refuse, and say whose
        raise InvalidInput(
            f"{key}: {setting.owner}'s check of {value!r} failed ({type(exc).__name__}: {exc}); "
            "nothing was changed. Its register_policy_settings parse function should raise "
            "fieldcase.errors.SettingError for a value it refuses"
        ) from None
    try:
        json.dumps(stored)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{key}: {setting.owner} turned {value!r} into {stored!r}, which cannot be stored; "
            "its register_policy_settings parse function must return text, numbers, lists "
            "or tables"
        ) from None
    return stored


def set_path(policy: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        policy = policy.setdefault(part, {})
    policy[path[-1]] = value


def unset_path(policy: dict[str, Any], path: Sequence[str]) -> bool:
    """Remove ``path``; drop tables left empty. Whether anything was there."""
    tables = [policy]
    for part in path[:-1]:
        inner = tables[-1].get(part)
        if not isinstance(inner, dict):
            return False
        tables.append(inner)
    if path[-1] not in tables[-1]:
        return False
    del tables[-1][path[-1]]
    for depth in range(len(tables) - 1, 0, -1):
        if not tables[depth]:
            del tables[depth - 1][path[depth - 1]]
    return True


def value_of(text: str) -> Any:
    """A ``--set`` value: TOML when it reads as TOML (5, [3, 6], "0.2"), else the text.

    Decimals stay exact: ``500.00`` is the decimal 500.00, not a float.
    """
    try:
        return tomllib.loads(f"v = {text}", parse_float=Decimal)["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def split_assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(f"--set {text!r}: write KEY=VALUE, e.g. min_days_past_due=30")
    if not value.strip():
        raise InvalidInput(
            f"--set {text!r} gives no value: write one, or --unset {key.strip()} for the default"
        )
    return key.strip(), value


def changes_between(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new``, flattened: {"offers.valid_days": [5, 7]}."""
    flat_old, flat_new = flatten(old), flatten(new)
    return {
        key: [flat_old.get(key), flat_new.get(key)]
        for key in sorted(flat_old.keys() | flat_new.keys())
        if flat_old.get(key) != flat_new.get(key)
    }


def flatten(policy: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in policy.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_policy_file(path: Path, institution: str) -> dict[str, Any]:
    """The policy in ``path``: ``[institutions.<id>]`` of an old fieldcase.toml, or bare keys."""
    data = read_toml(path)
    sections = data.get("institutions")
    if isinstance(sections, dict):
        if institution not in sections:
            found = ", ".join(sections) or "none"
            raise InvalidInput(
                f"{path} has no [institutions.{institution}] section (it has: {found})"
                + hint(institution, sections)
            )
        section = sections[institution]
        if not isinstance(section, dict):
            raise InvalidInput(f"{path}: institutions.{institution} must be a table")
        return with_retention(dict(section), data)
    return with_retention({k: v for k, v in data.items() if k not in ("plugins", "privacy")}, data)


def with_retention(section: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The section, with the file's ``[privacy] retention_years`` unless it sets its own."""
    privacy = data.get("privacy")
    if isinstance(privacy, Mapping) and "retention_years" in privacy:
        section.setdefault("retention_years", privacy["retention_years"])
    return section


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None


# -- what the plugins add ------------------------------------------------------------


def schema(pm: pluggy.PluginManager) -> Schema:
    """The keys and packs of the built-in policy and of every loaded plugin."""
    from .plugins import describe_plugins

    settings = {s.key: s for s in BUILTIN}
    packs: dict[str, RulePack] = {}
    for impl in pm.hook.register_policy_settings.get_hookimpls():

        def register(
            key: str,
            parse: Parse,
            description: str = "a value the plugin accepts",
            default: Any = None,
            owner: str = impl.plugin_name,
        ) -> None:
            if key in settings or key in (*TABLES, "rule_packs") or "." in key:
                raise InvalidInput(
                    f"plugin {owner!r} registers policy key {key!r}, which is "
                    f"{'taken' if key in settings else 'not a plain name'}; rename it"
                )
            settings[key] = Setting(key, description, parse, default, owner)

        impl.function(register)

    def add_pack(pack: RulePack) -> None:
        packs[pack.name] = pack

    pm.hook.register_rule_packs(register=add_pack)
    loaded = frozenset(
        name for row in describe_plugins(pm, all_plugins=True) for name in (row["name"],)
    ) | frozenset(pm.get_name(p) or "" for p in pm.get_plugins())
    return Schema(settings, {s.key: s for s in OFFERS}, packs, loaded)


def parse_assignments(
    schema: Schema, assignments: Iterable[str]
) -> list[tuple[tuple[str, ...], Any]]:
    return [
        schema.parse(key, value_of(value))
        for key, value in (split_assignment(text) for text in assignments)
    ]


def describe_keys(schema: Schema) -> list[dict[str, Any]]:
    """Every key a policy may set, with its default, what it must be, and whose it is."""
    rows = [
        {"key": s.key, "default": s.default, "must be": s.description, "from": s.owner}
        for s in schema.settings.values()
    ]
    rows.append(
        {
            "key": "rule_packs",
            "default": [],
            "must be": f"a list of rule packs: {', '.join(sorted(schema.packs)) or 'none'}",
            "from": "fieldcase",
        }
    )
    rows += [
        {"key": f"offers.{s.key}", "default": s.default, "must be": s.description, "from": s.owner}
        for s in schema.offers.values()
    ]
    rows += [
        {
            "key": f"rules.{rule.id}.{param}",
            "default": default,
            "must be": rule.describe_param(param),
            "from": f"rule pack {pack.name}",
        }
        for pack in schema.packs.values()
        for rule in pack.rules
        for param, default in rule.params.items()
    ]
    rows.append(
        {
            "key": "attributes.<name>",
            "default": None,
            "must be": f"the kind of a custom case attribute: {', '.join(attributes.KINDS)}",
            "from": "fieldcase",
        }
    )
    rows.append(
        {
            "key": "templates.<name>.<field>",
            "default": None,
            "must be": "a letter or message template: channels, purpose, text.<language>, "
            "subject.<language>",
            "from": "fieldcase",
        }
    )
    return rows


def check_together(policy: Mapping[str, Any]) -> None:
    """What no key says alone, checked once the whole policy is known: each template
    against the channels and attributes the policy declares (:func:`templates.check`)."""
    templates.check(policy)
