"""Building blocks for compliance rule packs (plugins on ``check_action``).

A pack is a set of rules, each with an id (``us.regf.hours``), a citation and
parameters an institution may override in its policy::

    fieldcase institution policy acme --set rules.us.regf.hours.start=09:00

An institution enables the packs it is bound by, and each applies to the
institution's cases in the pack's jurisdictions::

    fieldcase institution policy acme --set rule_packs=us-regf,cn

A pack plugin makes its pack known with ``register_rule_packs``, so that a
policy naming it, or one of its rules' parameters, is checked when it is set.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from .errors import InvalidInput
from .lifecycle import MESSAGING_CHANNELS
from .model import ActionContext, Case, ContactAttempt, Decision, Visit
from .money import parse_rate

#: Actions that reach the borrower or someone about the borrower.
CONTACT_ACTIONS = ("contact", "plan_visit", "start_visit")


def messaging(channel: str | None, settings: Mapping[str, Any]) -> bool:
    """Whether ``channel`` carries written electronic messages: a built-in messaging
    channel (sms, email, social, wechat) or one of the institution's messaging apps.

    A call-frequency rule counts ``phone`` only; a messaging contact is still a
    contact for the hours and third-party rules.
    """
    return channel in MESSAGING_CHANNELS or channel in settings.get("messaging_channels", ())


_HH_MM = re.compile(r"^\d{2}:\d{2}$")


@attrs.frozen
class Rule:
    """One rule: its id, the law or code it comes from, and its parameters' defaults.

    A parameter's kind is its default's: ``"08:00"`` is a time of day, an int
    a whole number, ``"0.24"`` a rate; anything else is text.
    """

    id: str
    citation: str
    summary: str
    params: Mapping[str, Any] = attrs.field(factory=dict)

    def describe_param(self, name: str) -> str:
        """What a value of parameter ``name`` must be, for people."""
        default = self.params[name]
        if isinstance(default, list):
            return "a list of names"
        if isinstance(default, str) and _HH_MM.match(default):
            return "a time of day, HH:MM"
        if isinstance(default, int) and not isinstance(default, bool):
            return "a whole number"
        if isinstance(default, str):
            try:
                Decimal(default)
            except ArithmeticError:
                return "text"
            return "an annual rate such as 0.24"
        return "a value"

    def parse_param(self, name: str, value: Any) -> Any:
        """``value`` for parameter ``name`` in its stored form, or InvalidInput saying why."""
        default = self.params[name]
        where = f"{self.id} {name}"
        if isinstance(value, bool):
            raise InvalidInput(
                f"rule setting {where} = {value!r} is not a {type(default).__name__}"
            )
        if isinstance(default, list):
            items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise InvalidInput(f"rule setting {where} = {value!r} is not a list of names")
            return items
        if isinstance(default, str) and _HH_MM.match(default):
            moment = clock(str(value))
            if moment.second or moment.microsecond:
                raise InvalidInput(f"rule setting {where} = {value!r} is not a whole minute, HH:MM")
            return f"{moment:%H:%M}"
        if isinstance(default, int) and not isinstance(default, bool):
            return whole(value, where)
        if isinstance(default, str):
            try:
                Decimal(default)
            except ArithmeticError:
                return str(value)
            return str(annual_rate(value, where))
        return value


@attrs.frozen
class RulePack:
    name: str
    jurisdictions: tuple[str, ...]
    rules: tuple[Rule, ...]

    def applies(self, case: Case | None, settings: Mapping[str, Any]) -> bool:
        """Enabled by the case's institution, and the case is in one of its jurisdictions."""
        if case is None or self.name not in settings.get("rule_packs", ()):
            return False
        code = case.jurisdiction.upper()
        return any(code == j or code.startswith(j + "-") for j in self.jurisdictions)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def params(self, rule_id: str, settings: Mapping[str, Any]) -> dict[str, Any]:
        rules = settings.get("rules", {})
        overrides = rules.get(rule_id, {}) if isinstance(rules, Mapping) else {}
        if not isinstance(overrides, Mapping):
            raise InvalidInput(
                f"rule settings for {rule_id} must be a table of parameters, set as "
                f"rules.{rule_id}.<parameter>"
            )
        return {**self.rule(rule_id).params, **overrides}

    def verdict(self, rule_id: str, denial: str | None) -> Decision:
        """Allowed, or denied with the reason and the rule's citation."""
        if denial is None:
            return Decision.allow(rule_id)
        return Decision.deny(rule_id, f"{denial} [{self.rule(rule_id).citation}]")


def clock(text: str) -> dt.time:
    """A rule parameter ``HH:MM``; a wrong one names itself instead of crashing."""
    try:
        if not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", str(text).strip()):
            raise ValueError
        return dt.time.fromisoformat(str(text).strip().zfill(5))
    except ValueError:
        raise InvalidInput(f"rule setting {text!r} is not a time HH:MM, e.g. 08:00") from None


def whole(value: Any, name: str) -> int:
    """A whole-number rule parameter."""
    try:
        number = int(value)
        if not isinstance(value, str) and number != value:
            number = -1  # 2.9 is not a whole number, not 2
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        number = -1
    if isinstance(value, bool) or not 0 <= number <= 36500:
        raise InvalidInput(f"rule setting {name} = {value!r} is not a whole number up to 36500")
    return number


def annual_rate(value: Any, name: str) -> Decimal:
    """A rate rule parameter: '0.24' or '24%'."""
    try:
        return parse_rate(str(value))
    except InvalidInput:
        raise InvalidInput(f"rule setting {name} = {value!r} is not a rate such as 0.24") from None


def local_day(case: Case, moment: dt.datetime) -> dt.date:
    """The borrower's calendar day of ``moment``: what a refusal should name."""
    return moment.astimezone(ZoneInfo(case.borrower.timezone)).date()


def action_day(case: Case, action: str, context: ActionContext) -> dt.date:
    """The borrower's day an action reaches them: a planned visit's date (when the
    plan gives one), else the day of ``context.at``."""
    when = context.window[0] if action == "plan_visit" and context.window else context.at
    return local_day(case, when)


def outside_hours(
    case: Case, context: ActionContext, action: str, start: dt.time, end: dt.time
) -> str | None:
    """Why ``action`` falls outside ``start``-``end`` borrower local time, or None.

    A visit window must lie wholly inside the hours; a contact is checked at its
    time. Both ends are allowed: 21:00 is not "after 21:00".
    """
    zone = ZoneInfo(case.borrower.timezone)
    hours = f"{start:%H:%M}-{end:%H:%M} borrower local time"
    if action == "plan_visit" and context.window is not None:
        first, last = (t.astimezone(zone) for t in context.window)
        if first.date() != last.date() or first.time() < start or last.time() > end:
            return f"visit window {first:%H:%M}-{last:%H:%M} is outside {hours}"
        return None
    local = context.at.astimezone(zone)
    moment = local.time().replace(second=0, microsecond=0)
    if moment < start or moment > end or (moment == end and local.time() > end):
        what = "a visit" if action == "start_visit" else "contact"
        return f"{what} at {local:%H:%M} is outside {hours}"
    return None


def inquiry_without_account(case: Case, context: ActionContext) -> str | None:
    """Why a credit-bureau inquiry (action ``inquiry``) serves no account of the borrower,
    or None: no open credit relationship (flag ``no-credit-relationship``), or the
    purpose ``application``, which is for new credit, not the account the case is."""
    if "no-credit-relationship" in case.flags:
        return (
            "no open credit relationship with the borrower (flag no-credit-relationship): "
            "no credit-bureau inquiry"
        )
    if context.extra.get("purpose") == "application":
        return (
            "purpose application is for new credit; this case is an existing account: "
            "inquire for post-loan-management or collection"
        )
    return None


def within(contacts: Sequence[ContactAttempt], at: dt.datetime, days: int) -> list[ContactAttempt]:
    """Contacts in the ``days`` days before ``at`` (a rolling window)."""
    since = at - dt.timedelta(days=days)
    return [c for c in contacts if since < c.at <= at]


# -- frequency limits, as the packs count them -------------------------------------


def ceased(case: Case) -> str | None:
    """Why no one may contact the borrower (the flag ``cease-communication``), or None."""
    if "cease-communication" not in case.flags:
        return None
    return (
        "the borrower asked in writing for no more contact "
        "(flag cease-communication): no call, message or visit"
    )


def judged_by_frequency(action: str, context: ActionContext) -> bool:
    """A contact with the borrower, a visit made, or a visit planned for a date."""
    if action == "contact":
        return context.target != "third-party"
    # A plan is judged by its date: without one (check with no --date) it is not consulted.
    return action == "start_visit" or (action == "plan_visit" and context.window is not None)


def too_frequent(
    case: Case, action: str, context: ActionContext, limits: Mapping[str, Any]
) -> str | None:
    """:func:`too_many_contacts` for a contact, :func:`too_many_visits` for a visit."""
    if action == "contact":
        return too_many_contacts(case, context, limits)
    return too_many_visits(case, action, context, limits)


def too_many_contacts(case: Case, context: ActionContext, limits: Mapping[str, Any]) -> str | None:
    """Why one more contact with the borrower would be too many, or None."""
    per_day = whole(limits["max_per_day"], "max_per_day")
    per_week = whole(limits["max_per_week"], "max_per_week")
    # Attempts count, answered or not: the phone rang either way.
    earlier = [c for c in context.contacts if c.target == "borrower" and c.channel != "bureau"]
    day = local_day(case, context.at)
    that_day = [c for c in earlier if local_day(case, c.at) == day]
    if len(that_day) >= per_day:
        return (
            f"{counted(len(that_day), 'contact')} with the borrower on {day} already; "
            f"at most {per_day} a day"
        )
    week = within(earlier, context.at, 7)
    if len(week) >= per_week:
        return (
            f"{counted(len(week), 'contact')} with the borrower in the 7 days to {day} already; "
            f"at most {per_week} in 7 days"
        )
    return None


def too_many_visits(
    case: Case, action: str, context: ActionContext, limits: Mapping[str, Any]
) -> str | None:
    """Why one more visit would be too many, or None."""
    most = whole(limits["max_visits"], "max_visits")
    days = whole(limits["visit_days"], "visit_days")
    day = action_day(case, action, context)
    near = [v for v in other_visits(case, context.visits) if abs((v - day).days) < days]
    if len(near) >= most:
        dates = ", ".join(str(v) for v in near)
        return (
            f"{counted(len(near), 'visit')} within {days} days of {day} already ({dates}); "
            f"at most {most} in {days} days"
        )
    return None


def other_visits(case: Case, visits: Sequence[Visit]) -> list[dt.date]:
    """The borrower-local days of the case's visits but the one being planned or made."""
    # The last visit, while planned, is the one a plan replaces or an interview records.
    if visits and visits[-1].status == "planned":
        visits = visits[:-1]
    return [local_day(case, v.visited_at) if v.visited_at else v.date for v in visits]


def counted(number: int, noun: str) -> str:
    """``1 contact``, ``3 contacts``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
