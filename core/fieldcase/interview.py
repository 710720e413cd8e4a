"""Stage 3, interview: what the visit found on site, or that it found nobody.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from . import checkins, lifecycle
from .errors import (
    InvalidInput,
)
from .lifecycle import Stage
from .model import (
    ActionContext,
    Case,
    CheckIn,
    Visit,
)
from .money import parse_money
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


def record_interview(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    met: str,
    reason: str | None = None,
    employment: str | None = None,
    monthly_income: str | Decimal | None = None,
    other_debts: str | Decimal | None = None,
    multi_lender: bool | None = None,
    lenders: int | None = None,
    monthly_repayments: str | Decimal | None = None,
    industry: str | None = None,
    employer: str | None = None,
    suppliers: str | None = None,
    buyers: str | None = None,
    attitude: str | None = None,
    notes: str = "",
    lat: str | Decimal | None = None,
    lon: str | Decimal | None = None,
    accuracy_m: int | None = None,
) -> tuple[Case, Visit]:
    """Record what the visit found; "nobody" sends the case back for a revisit.

    ``lenders`` counts every lender the borrower owes, this one included; more
    than one means ``multi_lender``, and a ``multi_lender`` given beside it
    must agree. Empty texts (``industry``...) count as not given. A position
    (``lat`` and ``lon``, with its ``accuracy_m``) records a check-in on the
    visit in the interview's own event (:mod:`fieldcase.checkins`).
    """
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    choice(met, lifecycle.MET, "met")
    position = None
    if lat is not None or lon is not None or accuracy_m is not None:
        position = checkins.position(lat, lon, accuracy_m)
    if reason is not None:
        check_reason(services, reason)
    if met == "borrower" and reason is None:
        raise InvalidInput("reason: when the borrower was met, give --reason CODE")
    industry, employer, suppliers, buyers = (
        (text.strip() or None) if text is not None else None
        for text in (industry, employer, suppliers, buyers)
    )
    findings = {
        "--reason": reason,
        "--employment": employment,
        "--income": monthly_income,
        "--other-debts": other_debts,
        "--multi-lender": multi_lender,
        "--lenders": lenders,
        "--monthly-repayments": monthly_repayments,
        "--industry": industry,
        "--employer": employer,
        "--suppliers": suppliers,
        "--buyers": buyers,
        "--attitude": attitude,
    }
    given = [name for name, value in findings.items() if value is not None]
    if met == "nobody" and given:
        raise InvalidInput(
            f"nobody was met, so there are no findings to record; drop {', '.join(given)}"
        )
    if employment is not None:
        choice(employment, lifecycle.EMPLOYMENT, "employment")
    if attitude is not None:
        choice(attitude, lifecycle.ATTITUDES, "attitude")
    multi_lender = multi_lender_of(lenders, multi_lender)
    whose = f"case {case.id}"
    repayments = (
        None
        if monthly_repayments is None
        else parse_money(monthly_repayments, case.currency, field="monthly repayments", owner=whose)
    )
    income = (
        None
        if monthly_income is None
        else parse_money(monthly_income, case.currency, field="income", owner=whose)
    )
    debts = (
        None
        if other_debts is None
        else parse_money(other_debts, case.currency, field="other debts", owner=whose)
    )
    visit = services.pending_visit(case)
    if visit is None and case.stage == Stage.INTERVIEW:
        # Read after the case: someone recorded this visit meanwhile (StaleCase).
        services.store.check_version(case.id, case.version)
    attempted = {"met": met, "reason": reason}
    context = ActionContext(
        at=at,
        actor=staff.id,
        window=visit.window() if visit else None,
        staff=visit.staff if visit else (),
        staff_members=tuple(services.store.get_staff(s) for s in visit.staff) if visit else (),
        visits=tuple(services.store.visits(case.id, case.currency)),
    )
    services.guard(
        case,
        staff,
        "start_visit",
        at,
        attempted=attempted,
        context=context,
        also_permitted=visit.staff if visit else (),
    )
    assert visit is not None  # the interview stage is reached only with a planned visit
    if met == "nobody":
        limit = services.pm.hook.max_failed_visits(
            case=services.judged(case), settings=services.settings(case)
        )
        failed = case.failed_visits + 1
        escalated = limit is not None and failed >= int(limit)
        case = attrs.evolve(
            case,
            failed_visits=failed,
            escalated=escalated,
            stage=Stage.FEEDBACK if escalated else Stage.PREPARATION,
        )
        visit = attrs.evolve(
            visit, status="failed", met=met, notes=notes, visited_at=at, recorded_by=staff.id
        )
        event_type = "visit_failed"
        data = {"failed_visits": failed, "limit": limit, "escalated": escalated}
    else:
        visit = attrs.evolve(
            visit,
            status="done",
            met=met,
            reason_code=reason,
            employment=employment,
            monthly_income=income,
            other_debts=debts,
            multi_lender=multi_lender,
            lenders=lenders,
            monthly_repayments=repayments,
            industry=industry,
            employer=employer,
            suppliers=suppliers,
            buyers=buyers,
            attitude=attitude,
            notes=notes,
            visited_at=at,
            recorded_by=staff.id,
        )
        case = attrs.evolve(case, stage=Stage.FEEDBACK)
        event_type = "interview_recorded"
        data = attempted
    records: list[Visit | CheckIn] = [visit]
    if position is not None:
        records.append(
            checkins.measure(
                services,
                case,
                visit_number=visit.number,
                staff=staff.id,
                at=at,
                lat=position[0],
                lon=position[1],
                accuracy_m=position[2],
            )
        )
    saved_case, saved = services.save(event_type, case, staff.id, at, records, data)
    result = saved[0]
    assert isinstance(result, Visit)
    return saved_case, result


#: More lenders than anyone owes: a slip of the keyboard, not an answer.
MAX_LENDERS = 99


def check_reason(services: Services, reason: str) -> str:
    """``reason`` itself, or InvalidInput listing the overdue-reason codes there are."""
    if reason not in services.reasons():
        raise InvalidInput(
            f"reason: {reason!r} is not a known code; codes are "
            f"{', '.join(sorted(services.reasons()))}"
        )
    return reason


def multi_lender_of(lenders: int | None, multi_lender: bool | None) -> bool | None:
    """Whether the borrower owes several lenders, from the count where one is given."""
    if lenders is None:
        return multi_lender
    if isinstance(lenders, bool) or not isinstance(lenders, int):
        raise InvalidInput(f"lenders: {lenders!r} is not a whole number")
    if not 1 <= lenders <= MAX_LENDERS:
        raise InvalidInput(
            f"lenders: {lenders} is not a count of lenders; give 1 to {MAX_LENDERS}, "
            "counting this lender too"
        )
    if multi_lender is not None and multi_lender != (lenders > 1):
        said = "--multi-lender" if multi_lender else "--single-lender"
        raise InvalidInput(
            f"lenders: {lenders} lender{'s' if lenders > 1 else ''} contradicts {said}; "
            "drop one of them"
        )
    return lenders > 1
