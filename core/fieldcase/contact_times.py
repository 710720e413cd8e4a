"""When the rules next allow a call to the borrower, within the borrower's day.

The rule packs (``check_action``) answer yes or no for one moment; this module
asks them, through the services' dry run, at a few moments of the borrower's
day (now, then every half hour) and keeps the first they allow: "now", "not
before 08:00", or "not today". The rules themselves stay with the packs; the
question asked is a phone call to the borrower, the contact every pack limits.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from .clock import aware
from .errors import FieldcaseError
from .lifecycle import Stage

if TYPE_CHECKING:
    from .model import Case
    from .services import Services

#: How far apart the moments tried are: rule hours fall on the hour or the half hour.
STEP = dt.timedelta(minutes=30)


@attrs.frozen
class NextContact:
    """The first moment of the borrower's day the rules allow a call, and what refuses one now."""

    asked: dt.datetime
    #: The first allowed moment, in the borrower's time zone; None: not today.
    allowed: dt.datetime | None
    #: The rules that refuse a call at ``asked`` (none when allowed now).
    refused_by: tuple[str, ...] = ()
    #: Why not: the refusal's reason, or why no rule was asked.
    reason: str = ""

    @property
    def now(self) -> bool:
        return self.allowed is not None and self.allowed == self.asked

    def describe(self, zone: bool = False) -> str:
        """``now``, ``not before 08:00`` (borrower local time, ``zone`` named) or ``not today``."""
        if self.allowed is None:
            return "not today"
        if self.now:
            return "now"
        where = f" {self.allowed.tzinfo}" if zone else ""
        return f"not before {self.allowed:%H:%M}{where}"


def moments(case: Case, at: dt.datetime) -> list[dt.datetime]:
    """``at``, then each half hour after it to the end of the borrower's day."""
    local = aware(at).astimezone(case.borrower.zone)
    start = local.replace(minute=0, second=0, microsecond=0)
    found = [local]
    moment = start + STEP
    while moment.date() == local.date():
        if moment > local:
            found.append(moment)
        moment = (moment + STEP).astimezone(case.borrower.zone)
    return found


def next_contact(
    services: Services, case: Case, at: dt.datetime, actor: str | None = None
) -> NextContact:
    """When ``actor`` (default: the staff assigned) may next call the borrower of ``case``."""
    at = aware(at).astimezone(case.borrower.zone)
    if case.stage == Stage.CLOSED:
        return NextContact(at, None, reason="closed")
    actor = case.assigned_to or actor
    if actor is None:
        return NextContact(at, None, reason="assigned to nobody")
    assert case.id is not None
    tried = moments(case, at)
    first: dict[str, str] = {}
    always: set[str] = set()
    try:
        runs = services.dry_runs(
            case.id, "contact", actor=actor, times=tried, channel="phone", target="borrower"
        )
        for moment, verdicts in zip(tried, runs, strict=False):
            denials = {d.rule: d.reason for _, d in verdicts if not d.allowed}
            if not denials:
                return NextContact(at, moment, tuple(first), _reasons(first))
            always = always & set(denials) if first else set(denials)
            first = first or denials
    except FieldcaseError as exc:
        return NextContact(at, None, reason=str(exc))
    # Not today: the rules that refuse all day say why, not those that refuse only now.
    why = {rule: reason for rule, reason in first.items() if rule in always} or first
    return NextContact(at, None, tuple(why), _reasons(why))


def _reasons(denials: dict[str, str]) -> str:
    return "; ".join(f"{reason} ({rule})" for rule, reason in denials.items())
