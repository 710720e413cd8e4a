"""Letter and message templates: the ``templates`` table of an institution's policy.

Each ``[templates.<name>]`` says which channels it may go through
(``channels``: ``sms``, ``letter``, ``email``, ``wechat`` and the institution's
own ``messaging_channels``), why it is sent (``purpose``: ``collect``,
``message`` or ``locate``; the rule packs judge the contact by it), its text in
one language or more (``text.<language>``) and, for letters and emails, a
subject (``subject.<language>``).

Placeholders are Python's :class:`string.Template`: ``$borrower_name`` or
``${overdue_amount}``, and ``$$`` for a dollar sign. Nothing runs and nothing
is looked up but a name among :data:`FIELDS` and the institution's declared
attributes, so a template cannot reach anything else. A template is checked
whole when the policy is set (:func:`check`): an unknown placeholder, a
channel the institution does not use, a template without text are refused
then, never when a letter is due.

This module decides what a valid template is, which language a borrower
reads (:func:`language_of`) and what a template renders to (:func:`render`);
recording and sending the result is :mod:`fieldcase.messages`'.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from . import attributes
from .errors import InvalidInput
from .model import Case
from .money import format_money
from .suggest import hint
from .text import TextRefused, clean

#: The built-in channels a template may go through (beside an institution's messaging apps).
TEMPLATE_CHANNELS = ("sms", "letter", "email", "wechat")
#: Why a template is sent: what the rule packs see as the contact's purpose.
TEMPLATE_PURPOSES = ("collect", "message", "locate")
#: What a template holds beside its texts.
TEMPLATE_KEYS = ("channels", "purpose", "text", "subject")

#: The placeholders every template may use, and what each becomes.
FIELDS: dict[str, str] = {
    "borrower_name": "the borrower's name",
    "reference": "the institution's reference of the loan",
    "institution": "the institution's name",
    "overdue_amount": 'the overdue amount as referred, with its currency: "CNY 3,150.40"',
    "balance": "what the borrower owes at the time of sending, as 'fieldcase balance' says it",
    "currency": "the currency's code",
    "days_past_due": "days past due at the time of sending",
    "overdue_since": "the day the loan fell overdue, YYYY-MM-DD",
    "staff_name": "the name of the staff member sending it",
    "today": "the borrower's local date at the time of sending, YYYY-MM-DD",
}

#: Where a borrower reads Chinese when neither the case nor the policy says a language.
CHINESE_JURISDICTIONS = ("CN", "TW", "HK", "MO")

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
_APP = re.compile(r"[a-z][a-z0-9-]{1,31}")


@attrs.frozen
class Template:
    """One template of a policy, as :func:`check` leaves it."""

    name: str
    channels: tuple[str, ...]
    purpose: str
    #: Its text by language (``{"zh": "...", "en": "..."}``).
    texts: Mapping[str, str]
    subjects: Mapping[str, str]

    @classmethod
    def of(cls, name: str, stored: Mapping[str, Any]) -> Template:
        return cls(
            name=name,
            channels=tuple(stored.get("channels", ())),
            purpose=str(stored.get("purpose", "collect")),
            texts=dict(stored.get("text", {})),
            subjects=dict(stored.get("subject", {})),
        )

    def language(self, wanted: str) -> str | None:
        """The language of its text for a reader of ``wanted``: the very tag, else its
        base language (``zh-hant`` reads ``zh``); None if it has neither."""
        wanted = wanted.lower()
        if wanted in self.texts:
            return wanted
        base = wanted.split("-")[0]
        return base if base in self.texts else None


@attrs.frozen
class Rendered:
    """A template rendered for one case: what is sent, and its fingerprint's text."""

    template: str
    language: str
    text: str
    subject: str = ""


# -- checking, key by key (--set) and whole (every policy change) ---------------------------


def language_tag(value: Any) -> str:
    """A language as templates name it: ``zh``, ``en``, ``zh-hant`` (lower case)."""
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value.strip().lower()):
        raise InvalidInput(
            f"{value!r} is not a language tag such as zh, en or zh-Hant (BCP 47: a 2 or 3 "
            "letter language, then optional subtags)"
        )
    return value.strip().lower()


def parse_key(key: str, value: Any) -> tuple[tuple[str, ...], Any]:
    """``<name>.<field>`` of ``templates.<name>.<field> = value``: (path, stored value)."""
    name, _, field = key.partition(".")
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"templates.{key}: template name {name!r} must be lower-case letters, digits, "
            "'_' or '-', starting with a letter (at most 40), e.g. templates.reminder.text.zh"
        )
    where = f"templates.{name}.{field}"
    kind, _, language = field.partition(".")
    if kind == "channels" and not language:
        return ("templates", name, "channels"), _channels(where, value)
    if kind == "purpose" and not language:
        if value not in TEMPLATE_PURPOSES:
            raise InvalidInput(
                f"{where} = {value!r} must be one of {', '.join(TEMPLATE_PURPOSES)}"
                + hint(str(value), TEMPLATE_PURPOSES)
            )
        return ("templates", name, "purpose"), value
    if kind in ("text", "subject"):
        if not language:
            raise InvalidInput(
                f"{where} is a table by language: set {where}.<language>, e.g. "
                f'templates.{name}.{kind}.en="..."'
            )
        try:
            tag = language_tag(language)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        return ("templates", name, kind, tag), _text(f"templates.{name}.{kind}.{tag}", kind, value)
    raise InvalidInput(
        f"templates.{key}: a template has channels, purpose, text.<language> and "
        f"subject.<language>, no {field or 'value of its own'!r}" + hint(kind, TEMPLATE_KEYS)
    )


def table_keys(table: Any) -> Iterator[tuple[str, Any]]:
    """A policy file's ``[templates]`` table as ``(<name>.<field>, value)`` pairs to parse."""
    if not isinstance(table, Mapping) or not all(isinstance(t, Mapping) for t in table.values()):
        raise InvalidInput("templates must be tables, [templates.<name>]")
    for name, body in table.items():
        for field, value in body.items():
            if field in ("text", "subject") and isinstance(value, Mapping):
                for language, text in value.items():
                    yield f"{name}.{field}.{language}", text
            else:
                yield f"{name}.{field}", value


def _channels(where: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f'{where} = {value!r} must be a list of channels such as ["sms", "letter"]'
        )
    for channel in value:
        if channel not in TEMPLATE_CHANNELS and not _APP.fullmatch(channel):
            raise InvalidInput(
                f"{where}: {channel!r} is not a channel (a template goes through "
                f"{', '.join(TEMPLATE_CHANNELS)} or a messaging app of the institution's)"
                + hint(channel, TEMPLATE_CHANNELS)
            )
    return list(dict.fromkeys(value))


def _text(where: str, kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be text")
    try:
        text = clean(value, "template_text" if kind == "text" else "template_subject")
    except TextRefused as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    if not text:
        raise InvalidInput(f"{where} must not be empty (--unset {where} removes it)")
    problem = _placeholder_problem(text)
    if problem is not None:
        raise InvalidInput(f"{where}: {problem}")
    return text


def _placeholder_problem(text: str) -> str | None:
    """Why ``text`` is no template (a ``$`` that starts no placeholder), or None."""
    if string.Template(text).is_valid():
        return None
    for match in string.Template.pattern.finditer(text):
        if match.group("invalid") is not None:
            start = match.start("invalid")
            shown = text[max(start - 10, 0) : start + 10]
            return (
                f"the $ in {shown!r} starts no placeholder: write $name or ${{name}}, "
                "and $$ for a dollar sign"
            )
    return "a $ starts no placeholder: write $name or ${name}, and $$ for a dollar sign"


def placeholders(policy: Mapping[str, Any]) -> dict[str, str]:
    """Every placeholder the policy's templates may use: the built-in fields, then its
    declared attributes (a built-in field keeps its name)."""
    found = {
        name: f"the case's attribute {name} (empty if the case has none)"
        for name in attributes.declared(policy)
    }
    return {**found, **FIELDS}


def check(policy: Mapping[str, Any]) -> None:
    """Every template of ``policy`` whole, against the rest of it; InvalidInput naming
    the template and what to set, at the first problem."""
    table = policy.get("templates") or {}
    allowed = placeholders(policy)
    apps = tuple(policy.get("messaging_channels", ()))
    channels = (*TEMPLATE_CHANNELS, *apps)
    for name, stored in table.items():
        template = Template.of(name, stored)
        if not template.channels:
            raise InvalidInput(
                f"template {name} goes through no channel: set templates.{name}.channels "
                "(e.g. sms,letter) with its text, in one change"
            )
        for channel in template.channels:
            if channel not in channels:
                raise InvalidInput(
                    f"template {name}: {channel!r} is not one of the institution's channels "
                    f"for templates ({', '.join(channels)}); a messaging app is added with "
                    f"--set messaging_channels={','.join([*apps, channel])}"
                    + hint(channel, channels)
                )
        if not template.texts:
            raise InvalidInput(
                f"template {name} has no text: set templates.{name}.text.<language> "
                f'(e.g. templates.{name}.text.en="Dear $borrower_name, ...")'
            )
        for language in template.subjects:
            if language not in template.texts:
                raise InvalidInput(
                    f"template {name} has a subject in {language} but no text in it "
                    f"(texts: {', '.join(template.texts)})"
                )
        pieces = [("text", template.texts), ("subject", template.subjects)]
        for kind, by_language in pieces:
            for language, text in by_language.items():
                for placeholder in string.Template(text).get_identifiers():
                    if placeholder not in allowed:
                        raise InvalidInput(
                            f"templates.{name}.{kind}.{language}: unknown placeholder "
                            f"${placeholder}{hint(placeholder, allowed)} (placeholders: "
                            f"{', '.join('$' + p for p in sorted(allowed))})"
                        )


def templates_of(policy: Mapping[str, Any]) -> dict[str, Template]:
    """The policy's templates by name."""
    return {
        name: Template.of(name, stored) for name, stored in (policy.get("templates") or {}).items()
    }


# -- one case's letter -------------------------------------------------------------------------


def language_of(case: Case, policy: Mapping[str, Any]) -> tuple[str, str]:
    """(language, where it comes from) of the case's borrower.

    The case's attribute ``language``, if the institution declares one and the
    case has it; else the policy's ``message_language``; else the jurisdiction's:
    ``zh`` in CN, TW, HK and MO, ``en`` elsewhere.
    """
    given = case.attributes.get("language", "") if "language" in attributes.declared(policy) else ""
    if given.strip():
        return given.strip().lower(), f"case {case.id}'s attribute language"
    configured = str(policy.get("message_language") or "")
    if configured:
        return configured, f"{case.institution}'s message_language"
    country = case.jurisdiction.split("-")[0]
    if country in CHINESE_JURISDICTIONS:
        return "zh", f"jurisdiction {case.jurisdiction}"
    return "en", f"jurisdiction {case.jurisdiction or 'unknown'}"


def field_values(
    case: Case,
    policy: Mapping[str, Any],
    *,
    institution: str,
    staff_name: str,
    at: dt.datetime,
    balance: Decimal,
) -> dict[str, str]:
    """What each placeholder becomes for ``case`` at ``at``."""
    values = {name: case.attributes.get(name, "") for name in attributes.declared(policy)}
    return {
        **values,
        "borrower_name": case.borrower.name,
        "reference": case.reference,
        "institution": institution,
        "overdue_amount": format_money(case.overdue_amount, case.currency),
        "balance": format_money(balance, case.currency),
        "currency": case.currency,
        "days_past_due": str(case.days_past_due(at)),
        "overdue_since": case.overdue_since.isoformat(),
        "staff_name": staff_name,
        "today": case.local_date(at).isoformat(),
    }


def render(
    template: Template, language: str, values: Mapping[str, str], *, subject: bool = True
) -> Rendered:
    """The template's text in ``language`` with ``values`` put in, and its subject
    unless ``subject`` is False (a short message has none)."""
    text = string.Template(template.texts[language]).substitute(values)
    subject_text = template.subjects.get(language, "") if subject else ""
    return Rendered(
        template=template.name,
        language=language,
        text=text,
        subject=string.Template(subject_text).substitute(values) if subject_text else "",
    )
