"""India: the RBI's fair practices for recovery agents."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.rules import CONTACT_ACTIONS, Rule, RulePack, clock, outside_hours

AGENTS = "RBI circular RBI/2022-23/108 on recovery agents (12 Aug 2022)"
GUIDELINES = "RBI guidelines on engagement of recovery agents (24 Apr 2008)"

PACK = RulePack(
    name="in-rbi",
    jurisdictions=("IN",),
    rules=(
        Rule(
            "in.rbi.hours",
            AGENTS,
            "No calls or visits before 08:00 or after 19:00.",
            {"start": "08:00", "end": "19:00"},
        ),
        Rule(
            "in.rbi.third_party",
            GUIDELINES,
            "Family, referees and friends only to locate the borrower.",
            {},
        ),
        Rule(
            "in.rbi.agent_identity",
            GUIDELINES,
            "The visiting agent's identity (authorisation and identity card) recorded.",
            {},
        ),
    ),
)


@hookimpl
def register_rule_packs(register: Callable[[RulePack], None]) -> None:
    register(PACK)


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> list[Decision] | None:
    if case is None or action not in CONTACT_ACTIONS or not PACK.applies(case, settings):
        return None
    hours = PACK.params("in.rbi.hours", settings)
    verdicts = [
        PACK.verdict(
            "in.rbi.hours",
            outside_hours(case, context, action, clock(hours["start"]), clock(hours["end"])),
        )
    ]
    if action == "contact" and context.target == "third-party":
        purpose = context.extra.get("purpose", "collect")
        verdicts.append(
            PACK.verdict(
                "in.rbi.third_party",
                (
                    "family, referees and friends may be contacted only to locate the borrower "
                    "(--purpose locate)"
                    if purpose != "locate"
                    else None
                ),
            )
        )
    if action in ("plan_visit", "start_visit"):
        missing = [s.id for s in context.staff_members if not s.badge]
        verdicts.append(
            PACK.verdict(
                "in.rbi.agent_identity",
                (
                    f"no identity number on record for {', '.join(missing)}; "
                    "record it with fieldcase staff badge ID NUMBER"
                    if missing
                    else None
                ),
            )
        )
    return verdicts
