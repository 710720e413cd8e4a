"""One function per user action. Each runs in ONE transaction with its event.

The order is always: read, check (stage, permission, policy), then write the
change and its event atomically, then notify ``case_event`` observers. A
refusal writes only a ``refused`` event and raises a :class:`Refused` error.
Services never print.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TypeVar

import attrs
import pluggy

from . import lifecycle
from .errors import (
    FieldcaseError,
    InstitutionNotFound,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    PluginFailed,
    PolicyDenied,
    Refused,
    StaffNotFound,
)
from .lifecycle import Stage
from .model import (
    ActionContext,
    Borrower,
    Case,
    ChecklistItem,
    ContactAttempt,
    Decision,
    Event,
    Feedback,
    Institution,
    Offer,
    PolicyVersion,
    Promise,
    Reason,
    Staff,
    Visit,
)
from .money import exponent, parse_amount, parse_rate
from .plugins import overdue_reasons
from .policy import Schema, default
from .store import SYSTEM_CHAIN, AuditProblem, Change, Record, Store, WorklistFilter

if TYPE_CHECKING:
    from .arrangements import MoneyView
    from .formats import Exporter
    from .institutions import MigrationStep
    from .model import Payment
    from .reader import Reader
    from .repayment import Balance
    from .transfer import ExportSummary, ImportSummary

log = logging.getLogger(__name__)


def _by_priority(pair: tuple[Case, float]) -> tuple[float, int]:
    """Worklist order: highest priority first, ties by case id."""
    return -pair[1], pair[0].id or 0


R = TypeVar("R", ContactAttempt, Visit, Feedback, Promise)


def _choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise InvalidInput(f"time {at.isoformat()} has no time zone; add one, e.g. +08:00 or Z")
    return at


def flatten_decisions(results: Sequence[Any]) -> list[Decision]:
    """``check_action`` answers: a Decision, a list of them (a rule pack), or None."""
    flat: list[Decision] = []
    for result in results:
        if result is None:
            continue
        flat.extend(result if isinstance(result, list | tuple) else [result])
    return flat


@attrs.frozen
class DayPlan:
    """What one staff member has on today: visits to make, promises falling due."""

    staff: Staff
    visits: list[tuple[Case, Visit]]
    promises: list[tuple[Case, Promise]]


@attrs.frozen
class CaseFile:
    """Everything known about one case, for ``show``."""

    case: Case
    contacts: list[ContactAttempt]
    visits: list[Visit]
    feedback: list[Feedback]
    #: Whether personal data was masked for the person asking.
    masked: bool = False

    @property
    def current_visit(self) -> Visit | None:
        return self.visits[-1] if self.visits else None


class Services:
    """The actions of fieldcase over one store, plugin manager and real clock.

    ``clock`` returns the real time (the command line gives the machine's):
    each event records it beside the claimed time of the action, and the
    institution's policy bounds how far the two may differ. ``None`` takes
    every claimed time as real, for replaying a story (the demo, tests); an
    office never runs so.
    """

    def __init__(
        self,
        store: Store,
        pm: pluggy.PluginManager,
        *,
        clock: Callable[[], dt.datetime] | None,
    ):
        self.store = store
        self.pm = pm
        self.clock = clock
        self._reasons: dict[str, Reason] | None = None
        # The institutions (with their policies) read during the current action:
        # every check of one action, and its event, see the same policy version.
        self._institutions: dict[str, Institution] = {}
        self._schema: Schema | None = None

    # -- shared checks ---------------------------------------------------------

    def begin_action(self) -> None:
        """A new action starts: read policies (and what plugins declare) afresh."""
        self._institutions = {}
        self._schema = None

    def institution(self, institution_id: str) -> Institution:
        """The registered institution (read once per action), or InstitutionNotFound."""
        if institution_id not in self._institutions:
            self._institutions[institution_id] = self.store.get_institution(institution_id)
        return self._institutions[institution_id]

    def institution_of(self, case: Case) -> Institution:
        try:
            return self.institution(case.institution)
        except InstitutionNotFound:
            raise InstitutionNotFound(
                f"case {case.id}'s institution {case.institution!r} is not registered, so no "
                f"policy judges its actions; a supervisor registers it with 'fieldcase "
                f"institution add {shlex.quote(case.institution)} ...' or 'fieldcase institution "
                "migrate'"
            ) from None

    def judged(self, case: Case) -> Case:
        """The case as rules see it: one stored without a jurisdiction (before they were
        required) is in its institution's."""
        if case.jurisdiction:
            return case
        return attrs.evolve(case, jurisdiction=self.institution_of(case).jurisdiction)

    def settings(self, case: Case) -> Mapping[str, Any]:
        """The policy in force for the case's institution: what hooks get as ``settings``."""
        return MappingProxyType(self.institution_of(case).policy)

    def policy_version(self, case: Case | None) -> int | None:
        """The version of the policy this action is judged under (None: no case, no policy)."""
        if case is None or case.institution not in self._institutions:
            return None
        return self._institutions[case.institution].policy_version

    def recorded_at(self) -> dt.datetime | None:
        """The real time now, for an event; None without a clock (the claimed time stands)."""
        return None if self.clock is None else self.clock()

    def policy_schema(self) -> Schema:
        """Every policy key and rule pack the loaded plugins know (:class:`.policy.Schema`)."""
        from .policy import schema

        # Asked several times by one action (its checks, a dry run): built once per action.
        if self._schema is None:
            self._schema = schema(self.pm)
        return self._schema

    def check_time(
        self,
        staff: Staff,
        at: dt.datetime,
        settings: Mapping[str, Any],
        action: str,
        *,
        case: Case | None = None,
        attempted: dict[str, Any] | None = None,
        institution: Institution | None = None,
    ) -> None:
        """The claimed time against the real clock: never in the future; old only for supervisors.

        A claimed time more than ``future_minutes`` (policy, default 5) past the
        real clock is bad input, and writes nothing; one more than
        ``backdate_days`` (default 7) before it is refused to field staff (a
        minute's grace: "now", read when the command started, is not old).
        The refusal goes on the case's chain, else the institution's.
        """
        if self.clock is None:
            return
        now = self.clock()
        ahead = dt.timedelta(minutes=int(settings.get("future_minutes", default("future_minutes"))))
        zone = at.tzinfo
        if at > now + ahead:
            local_now = now.astimezone(zone)
            meant = ""
            try:
                guess = at.replace(year=local_now.year)
                if guess <= now + ahead:
                    meant = f"; did you mean {guess:%Y-%m-%d}?"
            except ValueError:  # 29 February
                pass
            raise InvalidInput(
                f"--at {at:%Y-%m-%d %H:%M %z} is in the future (it is now "
                f"{local_now:%Y-%m-%d %H:%M %z}){meant or ';'} leave --at out to act now"
            )
        days = int(settings.get("backdate_days", default("backdate_days")))
        old = now - dt.timedelta(days=days, minutes=1)
        if at < old and not staff.is_supervisor:
            error = NotPermitted(
                f"--at {at:%Y-%m-%d %H:%M %z} is more than {days} days ago; only a "
                "supervisor may record an action that old (ask one to record it)",
                "time.backdate",
            )
            self.refuse(case, staff.id, at, action, error, attempted, None if case else institution)

    def check_requirements(
        self,
        institution: Institution,
        case: Case | None,
        staff: str | None,
        at: dt.datetime,
        action: str,
        attempted: dict[str, Any] | None = None,
    ) -> None:
        """Refuse while a pack or plugin the policy names is not loaded: its rules would not run."""
        missing = self.unloaded(institution)
        if missing:
            error = NotPermitted(
                f"{missing} (is it installed? is it left out by FIELDCASE_LOAD_PLUGINS?); "
                "see 'fieldcase plugins'",
                "policy.plugins",
            )
            if case is None:
                self.refuse_unscoped(staff or "", at, action, error, attempted, institution)
            self.refuse(case, staff, at, action, error, attempted)

    def unloaded(self, institution: Institution) -> str | None:
        """What the institution's policy needs that is not loaded here, said for people."""
        missing = self.policy_schema().missing(institution.policy)
        if not missing:
            return None
        return (
            f"{institution.id} policy v{institution.policy_version} needs {', '.join(missing)}, "
            "which is not loaded here"
        )

    def reasons(self) -> dict[str, Reason]:
        """The overdue-reason taxonomy: defaults plus every plugin's codes."""
        if self._reasons is None:
            self._reasons = overdue_reasons(self.pm)
        return self._reasons

    def actor(self, staff_id: str | None, at: dt.datetime | None = None) -> Staff:
        """The staff member acting; a deactivated one is refused (on the record, given ``at``)."""
        if not staff_id:
            raise InvalidInput(
                "who is acting? pass --as STAFF or set FIELDCASE_STAFF (see 'fieldcase staff')"
            )
        staff = self.store.get_staff(staff_id)
        if not staff.active:
            error = NotPermitted(
                f"staff member {staff_id} is deactivated and can no longer act; a supervisor "
                f"can reactivate them (fieldcase staff activate {staff_id})",
                "permission.inactive",
            )
            if at is not None:
                self.refuse_unscoped(staff_id, at, "act", error)
            raise error
        return staff

    def member(self, staff_id: str, option: str) -> Staff:
        """A staff member named by ``option`` (--to, --with...): one who may still act."""
        try:
            staff = self.store.get_staff(staff_id)
        except StaffNotFound as exc:
            raise InvalidInput(f"{option}: {exc}") from None
        if not staff.active:
            raise InvalidInput(f"{option}: staff member {staff_id} is deactivated")
        return staff

    def refuse(
        self,
        case: Case | None,
        actor: str | None,
        at: dt.datetime,
        action: str,
        error: Refused,
        attempted: dict[str, Any] | None = None,
        institution: Institution | None = None,
    ) -> NoReturn:
        """Record the refusal (case chain, else institution's, else system's), then raise it."""
        from .store import institution_chain

        if institution is None and case is not None and case.id is None:
            # A case not yet created (create): its refusal is its institution's.
            institution = self._institutions.get(case.institution)
        event = self.store.record_refusal(
            case_id=case.id if case else None,
            actor=actor,
            at=at,
            action=action,
            reasons=error.reasons,
            attempted=attempted,
            recorded_at=self.recorded_at(),
            policy_version=institution.policy_version if institution else self.policy_version(case),
            chain=institution_chain(institution.id) if institution else None,
        )
        self.notify(case, event)
        raise error

    def refuse_unscoped(
        self,
        actor: str,
        at: dt.datetime,
        action: str,
        error: Refused,
        attempted: dict[str, Any] | None = None,
        institution: Institution | None = None,
    ) -> NoReturn:
        """Refuse an action on no single case: on the institution's chain, or the system's."""
        self.refuse(None, actor, at, action, error, attempted, institution)

    def check_unscoped(
        self,
        action: str,
        actor: str,
        at: dt.datetime,
        institution: str | None,
        attempted: dict[str, Any],
    ) -> None:
        """``check_action`` for an action on no single case (``case`` is None)."""
        context = ActionContext(at=at, actor=actor, extra=dict(attempted))
        settings: Mapping[str, Any] = {}
        registered = self.institution(institution) if institution else None
        if registered is not None:
            self.check_requirements(registered, None, actor, at, action, attempted)
            settings = MappingProxyType(registered.policy)
        decisions = flatten_decisions(
            self.pm.hook.check_action(case=None, action=action, context=context, settings=settings)
        )
        denials = [d for d in decisions if not d.allowed]
        if denials:
            self.refuse_unscoped(actor, at, action, PolicyDenied(denials), attempted, registered)

    def exporter_for(self, name: str | None, output: Path | None) -> Exporter:
        """The export format: named, or told by the output file's suffix, or csv."""
        from .formats import exporter_for

        return exporter_for(self.pm, name, output)

    def draw_chart(
        self, title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], path: Path
    ) -> None:
        """Have a plugin (``render_chart``) draw rows into ``path``, by its suffix."""
        drawn = self.pm.hook.render_chart(title=title, columns=columns, rows=rows, path=path)
        if not drawn:
            raise InvalidInput(
                f"no installed plugin draws {path.suffix or 'that'} charts; install "
                "fieldcase-charts (PNG, SVG)"
            )

    def record_system_event(
        self, event_type: str, actor: str, at: dt.datetime, data: dict[str, Any]
    ) -> Event:
        """An event about no single case (e.g. an export), in the system chain."""
        change = Change(event_type, actor, at, (), data, recorded_at=self.recorded_at())
        event = self.store.commit_many([change])[0][0]
        self.notify(None, event)
        return event

    # -- money: offers, promises, payments ---------------------------------------------

    def money_view(self, ref: str | int, at: dt.datetime) -> MoneyView:
        """Balance, promises (kept, broken, open) and the arrangement, at ``at``."""
        from .arrangements import money_view

        return money_view(self, ref, _aware(at))

    def present_offers(
        self, ref: str | int, *, actor: str, at: dt.datetime
    ) -> tuple[Balance, list[Offer]]:
        from .arrangements import present_offers

        return present_offers(self, ref, actor=actor, at=at)

    def review_offer(
        self, ref: str | int, code: str, *, actor: str, at: dt.datetime, approve: bool
    ) -> Offer:
        from .arrangements import review_offer

        return review_offer(self, ref, code, actor=actor, at=at, approve=approve)

    def accept_offer(
        self, ref: str | int, code: str, *, actor: str, at: dt.datetime
    ) -> tuple[Offer, list[Promise]]:
        from .arrangements import accept_offer

        return accept_offer(self, ref, code, actor=actor, at=at)

    def record_promise(self, ref: str | int, **options: Any) -> Promise:
        from .arrangements import record_promise

        return record_promise(self, ref, **options)

    def record_payment(self, ref: str | int, **options: Any) -> tuple[Payment, bool, Case]:
        from .arrangements import record_payment

        return record_payment(self, ref, **options)

    # -- institutions and their policies -------------------------------------------------

    def add_institution(self, institution_id: str, **options: Any) -> Institution:
        """Register an institution; see :func:`fieldcase.institutions.add_institution`."""
        from .institutions import add_institution

        return add_institution(self, institution_id, **options)

    def set_policy(self, institution_id: str, **options: Any) -> tuple[Institution, dict[str, Any]]:
        """Change a policy; see :func:`fieldcase.institutions.set_policy`."""
        from .institutions import set_policy

        return set_policy(self, institution_id, **options)

    def institutions(self) -> list[Institution]:
        return self.store.list_institutions()

    def policy_in_force(
        self, institution_id: str, at: dt.datetime
    ) -> tuple[Institution, PolicyVersion]:
        """The institution and the version of its policy in force at ``at``."""
        from .institutions import policy_in_force

        return self.store.get_institution(institution_id), policy_in_force(self, institution_id, at)

    def migrate_config(self, path: Path, **options: Any) -> list[MigrationStep]:
        """Move an old fieldcase.toml into the database; see :mod:`fieldcase.institutions`."""
        from .institutions import migrate_config

        return migrate_config(self, path, **options)

    # -- case files in, visit records out ---------------------------------------------

    def import_cases(self, path: Path, **options: Any) -> ImportSummary:
        """Import an institution's case file; see :func:`fieldcase.transfer.import_cases`."""
        from .transfer import import_cases

        return import_cases(self, path, **options)

    def export_visits(self, out: BinaryIO, **options: Any) -> ExportSummary:
        """Stream visit records; see :func:`fieldcase.transfer.export_visits`."""
        from .transfer import export_visits

        return export_visits(self, out, **options)

    def guard(
        self,
        case: Case,
        staff: Staff,
        action: str,
        at: dt.datetime,
        *,
        attempted: dict[str, Any] | None = None,
        supervisor_only: bool | str = False,
        context: ActionContext | None = None,
        also_permitted: Sequence[str] = (),
    ) -> None:
        """Permission, stage and policy checks; the first failure is recorded and raised.

        Field staff act on cases assigned to them, and on those where they are in
        ``also_permitted`` (the staff visiting together); supervisors on all.
        """
        institution = self.institution_of(case)
        self.check_time(staff, at, institution.policy, action, case=case, attempted=attempted)
        self.check_requirements(institution, case, staff.id, at, action, attempted)
        # Money arrives when it arrives: a payment may be recorded after later actions.
        if case.updated_at is not None and at < case.updated_at and action != "record_payment":
            zone = case.borrower.zone
            raise InvalidInput(
                f"--at {at.astimezone(zone):%Y-%m-%d %H:%M:%S %z} is before case {case.id}'s "
                f"last change ({case.updated_at.astimezone(zone):%Y-%m-%d %H:%M:%S %z}); "
                "record actions in the order they happened"
            )
        error: Refused | None = None
        if supervisor_only and not staff.is_supervisor:
            what = supervisor_only if isinstance(supervisor_only, str) else action
            error = NotPermitted(
                f"only a supervisor may {what.replace('_', ' ')} (you are {staff.id}, "
                f"{staff.role})",
                "permission.supervisor",
            )
        elif (
            not staff.is_supervisor
            and case.assigned_to != staff.id
            and staff.id not in also_permitted
        ):
            owner = case.assigned_to or "nobody"
            error = NotPermitted(
                f"case {case.id} is assigned to {owner}, not to you ({staff.id}); "
                "ask a supervisor to assign it",
                "permission.assigned",
            )
        elif not lifecycle.stage_allows(action, case.stage):
            error = InvalidTransition(
                f"cannot {lifecycle.ACTION_VERBS.get(action, action)} case {case.id}: "
                f"it is in stage "
                f"{case.stage}; {lifecycle.NEXT_STEP[case.stage]}",
                f"stage.{action}",
            )
        if error is not None:
            self.refuse(case, staff.id, at, action, error, attempted)
        context = context or ActionContext(at=at, actor=staff.id)
        context = attrs.evolve(context, extra={**(attempted or {}), **context.extra})
        self._check_policy(case, action, context, attempted)

    def _check_policy(
        self,
        case: Case,
        action: str,
        context: ActionContext,
        attempted: dict[str, Any] | None = None,
    ) -> None:
        decisions = flatten_decisions(
            self.pm.hook.check_action(
                case=self.judged(case), action=action, context=context, settings=self.settings(case)
            )
        )
        denials = [d for d in decisions if not d.allowed]
        if denials:
            self.refuse(case, context.actor, context.at, action, PolicyDenied(denials), attempted)

    def eligibility(self, case: Case, at: dt.datetime) -> list[Decision]:
        """The denials of every ``case_eligible`` implementation (empty: eligible)."""
        decisions = self.pm.hook.case_eligible(
            case=self.judged(case), settings=self.settings(case), at=at
        )
        return [d for d in decisions if d is not None and not d.allowed]

    def save(
        self,
        event_type: str,
        case: Case,
        actor: str,
        at: dt.datetime,
        records: Sequence[Record] = (),
        data: dict[str, Any] | None = None,
    ) -> tuple[Case, list[Record]]:
        """Write the case (version + 1) with its other records and one event; then notify."""
        updated = attrs.evolve(case, version=case.version + 1, updated_at=at)
        event, saved = self.store.commit(
            event_type,
            actor=actor,
            at=at,
            records=[updated, *records],
            data=data,
            case_id=case.id,
            expected_version=case.version if case.id is not None else None,
            recorded_at=self.recorded_at(),
            policy_version=self.institution_of(case).policy_version,
        )
        saved_case = saved[0]
        assert isinstance(saved_case, Case)
        self.notify(saved_case, event)
        return saved_case, saved[1:]

    def save_one(
        self,
        event_type: str,
        case: Case,
        actor: str,
        at: dt.datetime,
        record: R,
        data: dict[str, Any] | None = None,
    ) -> tuple[Case, R]:
        """:meth:`save` for the common case of one record beside the case."""
        saved_case, saved = self.save(event_type, case, actor, at, [record], data)
        result = saved[0]
        assert isinstance(result, type(record))
        return saved_case, result

    def begin(self, ref: str | int, actor: str, at: dt.datetime) -> tuple[Staff, Case]:
        """The acting staff member and the case; a new action reads policies afresh."""
        _aware(at)
        self.begin_action()
        return self.actor(actor, at), self.store.get_case(ref)

    def _pending_visit(self, case: Case) -> Visit | None:
        """The planned visit not yet made, if any."""
        assert case.id is not None
        visits = self.store.visits(case.id, case.currency)
        return visits[-1] if visits and visits[-1].status == "planned" else None

    def has_observers(self) -> bool:
        """Whether any plugin implements ``case_event`` (bulk work skips building for none)."""
        return bool(self.pm.hook.case_event.get_hookimpls())

    def notify(self, case: Case | None, event: Event) -> None:
        # Observers run after commit: their failure must not undo the action.
        try:
            self.pm.hook.case_event(case=case, event=event)
        except FieldcaseError as exc:
            who = f"plugin {exc.plugin!r}" if isinstance(exc, PluginFailed) else "a plugin"
            cause = exc.error if isinstance(exc, PluginFailed) else exc
            log.warning(
                "%s failed in its case_event hook (%s: %s); the %s itself was recorded (event %s)",
                who,
                type(cause).__name__,
                cause,
                event.type,
                event.id,
            )

    # -- staff ------------------------------------------------------------------

    def add_staff(
        self,
        staff_id: str,
        name: str,
        role: str,
        *,
        actor: str | None,
        at: dt.datetime,
        badge: str = "",
    ) -> Staff:
        """Add a field worker or supervisor. The very first staff member needs no actor."""
        _choice(role, lifecycle.ROLES, "role")
        _aware(at)
        self.begin_action()
        if not staff_id.strip() or not name.strip():
            raise InvalidInput("staff id and name must not be empty")
        if self.store.list_staff():
            acting = self.actor(actor)
            self.check_time(acting, at, {}, "add_staff", attempted={"id": staff_id})
            if not acting.is_supervisor:
                self.refuse_unscoped(
                    acting.id,
                    at,
                    "add_staff",
                    NotPermitted("only a supervisor may add staff", "permission.supervisor"),
                    {"id": staff_id},
                )
            if any(s.id == staff_id for s in self.store.list_staff()):
                raise InvalidInput(f"staff member {staff_id} already exists")
        else:
            # The first staff member is whoever sets the office up: only the clock binds them.
            self.check_time(Staff(staff_id, name, role), at, {}, "add_staff")
        staff = Staff(staff_id, name, role, badge=badge.strip())
        event, _ = self.store.commit(
            "staff_added",
            actor=actor,
            at=at,
            records=[staff],
            data={"id": staff_id, "role": role},
            recorded_at=self.recorded_at(),
        )
        self.notify(None, event)
        return staff

    def change_staff(
        self,
        staff_id: str,
        *,
        actor: str,
        at: dt.datetime,
        active: bool | None = None,
        role: str | None = None,
        note: str = "",
    ) -> Staff:
        """Deactivate or reactivate a staff member, or change their role (supervisors).

        An office always keeps one active supervisor: the last one cannot be
        deactivated or made field staff. Cases assigned to someone deactivated
        stay theirs until a supervisor reassigns them.
        """
        acting = self.actor(actor, _aware(at))
        self.begin_action()
        member = self.store.get_staff(staff_id)
        if role is not None:
            _choice(role, lifecycle.ROLES, "role")
        attempted = {"staff": staff_id, "active": active, "role": role, "note": note}
        self.check_time(acting, at, {}, "change_staff", attempted=attempted)
        if not acting.is_supervisor:
            self.refuse_unscoped(
                acting.id,
                at,
                "change_staff",
                NotPermitted(
                    "only a supervisor may deactivate staff or change a role",
                    "permission.supervisor",
                ),
                attempted,
            )
        updated = attrs.evolve(
            member,
            active=member.active if active is None else active,
            role=member.role if role is None else role,
        )
        if updated == member:
            return member
        others = [
            s for s in self.store.list_staff() if s.id != staff_id and s.active and s.is_supervisor
        ]
        still_supervises = updated.is_supervisor and updated.active
        if member.is_supervisor and member.active and not still_supervises and not others:
            raise InvalidInput(
                f"{staff_id} is the office's only active supervisor; add or promote another "
                "first (fieldcase staff add ... --role supervisor)"
            )
        changes = {
            key: [old, new]
            for key, old, new in (
                ("active", member.active, updated.active),
                ("role", member.role, updated.role),
            )
            if old != new
        }
        event, _ = self.store.commit(
            "staff_updated",
            actor=acting.id,
            at=at,
            records=[updated],
            data={"id": staff_id, "changes": changes, **({"note": note} if note else {})},
            recorded_at=self.recorded_at(),
        )
        self.notify(None, event)
        return updated

    def staff_with_workload(self) -> list[tuple[Staff, int]]:
        """Every staff member with their number of open cases."""
        workload = self.store.staff_workload()
        return [(s, workload.get(s.id, 0)) for s in self.store.list_staff()]

    # -- audit ---------------------------------------------------------------------

    def verify_audit(self) -> tuple[int, AuditProblem | None]:
        """(events checked, first broken event or None)."""
        return self.store.verify_chains()

    def verify_file(self) -> list[str]:
        """What is wrong with the file beyond the chains: a guard trigger gone, damage."""
        problems = [
            f"trigger {name} is missing: events can be changed without a trace in the "
            "database itself; restore from a backup, or ask who removed it"
            for name in self.store.missing_guards()
        ]
        integrity = self.store.integrity()
        if integrity != "ok":
            problems.append(f"SQLite's integrity check: {integrity}")
        return problems

    def seal(self) -> tuple[str, int, int]:
        """(digest over every chain head, chains, events)."""
        return self.store.seal()

    def replay_differences(self) -> list[str]:
        """Differences between the stored tables and a replay of the events."""
        return self.store.compare_replay()

    # -- cases -------------------------------------------------------------------

    def create_case(
        self,
        *,
        actor: str,
        at: dt.datetime,
        institution: str,
        reference: str,
        borrower_name: str,
        principal: str | Decimal,
        overdue_amount: str | Decimal,
        overdue_since: dt.date,
        timezone: str = "",
        currency: str = "",
        jurisdiction: str = "",
        national_id: str = "",
        phone: str = "",
        address: str = "",
        assign_to: str | None = None,
        accrued_interest: str | Decimal = "0",
        fees: str | Decimal = "0",
        penalty_rate: str | Decimal = "0",
        attributes: Mapping[str, str] | None = None,
    ) -> Case:
        """Refer a new case. Ineligible cases are stored, flagged, out of the field queue.

        The institution must be registered; its time zone, currency and
        jurisdiction are the case's unless given. ``attributes`` are the
        institution's own fields, as its policy declares them.
        """
        from . import attributes as custom
        from .jurisdictions import check_timezone, normalise

        at = _aware(at)
        self.begin_action()
        staff = self.actor(actor)
        institution, reference = institution.strip(), reference.strip()
        borrower_name = borrower_name.strip()
        if not institution or not reference or not borrower_name:
            raise InvalidInput("institution, reference and borrower name are required")
        registered = self.institution(institution)
        currency = (currency.strip() or registered.currency).upper()
        timezone = timezone.strip() or registered.timezone
        jurisdiction = normalise(jurisdiction or registered.jurisdiction)
        exponent(currency)
        existing = self.store.find_case(institution, reference)
        if existing is not None:
            raise InvalidInput(f"case {institution}/{reference} already exists (id {existing.id})")
        if assign_to:
            self.member(assign_to, "--assign")
        if phone.strip():
            from .importing import normalise_phone

            try:
                phone = normalise_phone(phone, jurisdiction.split("-")[0].upper() or None)
            except ValueError as exc:
                raise InvalidInput(f"phone: {phone!r} {exc}") from None
        case = Case(
            institution=institution,
            reference=reference,
            borrower=Borrower(
                name=borrower_name,
                timezone=check_timezone(timezone),
                national_id=national_id,
                phone=phone,
                address=address,
            ),
            jurisdiction=jurisdiction,
            currency=currency,
            principal=parse_amount(principal, currency, field="principal"),
            overdue_amount=parse_amount(overdue_amount, currency, field="overdue amount"),
            overdue_since=overdue_since,
            referred_at=at,
            assigned_to=assign_to,
            accrued_interest=parse_amount(accrued_interest, currency, field="interest"),
            fees=parse_amount(fees, currency, field="fees"),
            penalty_rate=parse_rate(penalty_rate),
            attributes=custom.clean(
                attributes or {}, custom.declared(registered.policy), institution
            ),
        )
        attempted = {"institution": institution, "reference": reference}
        self.check_time(
            staff, at, registered.policy, "create", attempted=attempted, institution=registered
        )
        if not staff.is_supervisor:
            self.refuse(
                None,
                staff.id,
                at,
                "create",
                NotPermitted("only a supervisor may create cases", "permission.supervisor"),
                attempted,
                registered,
            )
        self.check_requirements(registered, None, staff.id, at, "create", attempted)
        self._check_policy(case, "create", ActionContext(at=at, actor=staff.id))
        denials = self.eligibility(case, at)
        if denials:
            case = attrs.evolve(
                case,
                eligible=False,
                eligibility_note="; ".join(f"{d.reason} (rule {d.rule})" for d in denials),
            )
        saved, _ = self.save(
            "case_created",
            case,
            staff.id,
            at,
            data={"eligible": case.eligible, "note": case.eligibility_note},
        )
        return saved

    def get_case(self, ref: str | int) -> Case:
        return self.store.get_case(ref)

    def case_file(self, ref: str | int, viewer: str | None = None) -> CaseFile:
        """Everything about a case; personal data masked unless ``viewer`` works it.

        Supervisors, the staff member assigned and the staff on one of its
        visits see it whole; anyone else (or no one named) sees it masked
        (see :func:`fieldcase.privacy.mask_case_file`).
        """
        from .privacy import mask_case_file

        case = self.store.get_case(ref)
        assert case.id is not None
        contacts = self.store.contacts(case.id)
        visits = self.store.visits(case.id, case.currency)
        feedback = self.store.feedback(case.id)
        if self.may_see_personal_data(case, visits, viewer):
            return CaseFile(case=case, contacts=contacts, visits=visits, feedback=feedback)
        case, contacts, visits, feedback = mask_case_file(case, contacts, visits, feedback)
        return CaseFile(case, contacts, visits, feedback, masked=True)

    def reader(self, viewer: str | None = None) -> Reader:
        """Read-only, typed access to the data, masked as ``viewer`` may see it (for plugins)."""
        from .reader import Reader

        return Reader(self, viewer)

    def may_see_personal_data(
        self, case: Case, visits: Sequence[Visit], viewer: str | None
    ) -> bool:
        if viewer is None:
            return False
        staff = self.actor(viewer)
        if staff.is_supervisor:
            return True
        return viewer == case.assigned_to or any(viewer in v.staff for v in visits)

    def backup(
        self,
        target: Path,
        *,
        actor: str,
        at: dt.datetime,
        replace: bool = False,
        progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """Copy the database to ``target``, checked; return how many events the copy holds.

        Supervisors only: a backup holds every borrower's personal data. The
        backup is recorded (``backup_made``, in the system chain) first, so the
        copy carries the record of its own making.
        """
        staff = self.actor(actor)
        self.begin_action()
        attempted = {"file": target.name}
        self.check_time(staff, _aware(at), {}, "backup", attempted=attempted)
        if not staff.is_supervisor:
            self.refuse_unscoped(
                staff.id,
                at,
                "backup",
                NotPermitted("only a supervisor may back up the database", "permission.supervisor"),
                attempted,
            )
        from .outputs import check_output, written_whole

        check_output(target, self.store.path, option="backup file", replace=replace)
        self.store.commit(
            "backup_made",
            actor=staff.id,
            at=at,
            records=[],
            data=attempted,
            recorded_at=self.recorded_at(),
        )
        # Written beside the target and renamed into place only once it passes
        # SQLite's integrity check and the audit chains verify: a failed backup
        # (a full disk included) leaves the previous one as it was. The copy is
        # checked read-only, so it stays in rollback-journal mode: unlike a WAL
        # file, it opens from read-only media.
        with written_whole(target, again="run backup again") as partial:
            self.store.backup_to(partial, progress)
            copy = Store(partial, read_only=True)
            try:
                integrity, (checked, problem) = copy.integrity(), copy.verify_chains()
            finally:
                copy.close()
            if integrity != "ok":
                raise FieldcaseError(f"the copy failed SQLite's integrity check: {integrity}")
            if problem is not None:
                raise FieldcaseError(
                    f"the copy's audit chain does not verify at event {problem.event_id}: "
                    f"{problem.problem}; run 'fieldcase audit verify' on the database"
                )
        return checked

    def system_history(self) -> list[Event]:
        """Events about no single case, oldest first."""
        return list(self.store.iter_events(chain=SYSTEM_CHAIN))

    def institution_history(self, institution_id: str) -> list[Event]:
        """The institution's own chain: its registration, policy changes and their refusals."""
        from .store import institution_chain

        return list(self.store.iter_events(chain=institution_chain(institution_id)))

    def history(self, ref: str | int, viewer: str | None = None) -> list[Event]:
        """The case's events; personal data in them masked unless ``viewer`` works it."""
        from .privacy import mask_event_data

        case = self.store.get_case(ref)
        assert case.id is not None
        events = list(self.store.iter_events(case.id))
        visits = self.store.visits(case.id, case.currency)
        if self.may_see_personal_data(case, visits, viewer):
            # A purge left digests where the personal data was: shown as withheld.
            return [
                attrs.evolve(
                    e, payload={**e.payload, "data": mask_event_data(e.payload["data"], e.type)}
                )
                if e.payload.get("redacted") is True
                else e
                for e in events
            ]
        # Without their hashes too: a hash over guessable data (a phone number)
        # would let the masked value be found by trying candidates.
        return [
            attrs.evolve(
                e,
                payload={"data": mask_event_data(e.payload.get("data") or {}, e.type)},
                hash="",
                prev_hash="",
            )
            for e in events
        ]

    def worklist(
        self,
        filters: WorklistFilter,
        at: dt.datetime,
        *,
        limit: int | None = 50,
        viewer: str | None = None,
    ) -> list[tuple[Case, float]]:
        """Open cases matching ``filters``, highest ``case_priority`` first.

        A search finds names and references for anyone, and addresses only
        where ``viewer`` sees them in clear (supervisors: every case; field
        staff: the cases they work; nobody named: none), so that it cannot
        reveal a masked address one letter at a time. A search that may reach
        addresses is recorded (``searched``, in the system chain).
        """
        if filters.bucket:
            _choice(filters.bucket, [b[0] for b in lifecycle.AGING_BUCKETS], "bucket")
        if filters.stage:
            _choice(filters.stage, [str(s) for s in Stage], "stage")
        self.begin_action()
        if filters.institution:
            self.institution(filters.institution)
        if filters.search:
            filters = self._scoped_search(filters, at, viewer)
        if limit is not None and not filters.include_closed and self._builtin_priority():
            return self._worklist_by_index(filters, at, limit)
        cases = self.store.list_cases(filters, at)
        visiting = {visit.case_id for visit in self.store.visits_today(at)}
        broken = self.store.broken_promise_counts(at)
        ranked = []
        for case in cases:
            priority = self.pm.hook.case_priority(
                case=case,
                settings=self._settings_if_registered(case),
                at=at,
                visit_today=case.id in visiting,
                broken_promises=broken.get(case.id or 0, 0),
            )
            ranked.append((case, float(priority or 0)))
        ranked.sort(key=_by_priority)
        return ranked[:limit] if limit is not None else ranked

    def _scoped_search(
        self, filters: WorklistFilter, at: dt.datetime, viewer: str | None
    ) -> WorklistFilter:
        if viewer is None:
            return attrs.evolve(filters, addresses="none")
        staff = self.actor(viewer, at)
        scoped = attrs.evolve(
            filters, addresses="all" if staff.is_supervisor else "own", searcher=staff.id
        )
        self.record_system_event(
            "searched", staff.id, at, {"text": filters.search, "addresses": scoped.addresses}
        )
        return scoped

    def _settings_if_registered(self, case: Case) -> Mapping[str, Any]:
        """For reading only: an unregistered institution's cases are listed, judged by nothing."""
        try:
            return self.settings(case)
        except InstitutionNotFound:
            return {}

    def _builtin_priority(self) -> bool:
        """Whether the built-in priority is the only ``case_priority`` there is."""
        names = [impl.plugin_name for impl in self.pm.hook.case_priority.get_hookimpls()]
        return names == ["fieldcase.builtin.priority"]

    def _worklist_by_index(
        self, filters: WorklistFilter, at: dt.datetime, limit: int
    ) -> list[tuple[Case, float]]:
        """The built-in order, read from the ``arrears_key`` index (see :mod:`.ranking`)."""
        from .ranking import MAX_LOG_AMOUNT, priority

        def rank(candidates: Iterable[tuple[Case, bool, int]]) -> list[tuple[Case, float]]:
            return [
                (c, priority(c.days_past_due(at), float(c.overdue_amount), visit, broken))
                for c, visit, broken in candidates
            ]

        candidates, young_ranked = self.store.worklist_candidates(filters, at, limit)
        ranked = rank(candidates)
        ranked.sort(key=_by_priority)
        # A case not yet overdue counts 0 days, not fewer: the index order, which
        # counts fewer, can only miss one when the page reaches that low.
        floor = ranked[limit - 1][1] if len(ranked) >= limit else -math.inf
        if not young_ranked and floor <= MAX_LOG_AMOUNT:
            seen = {c.id for c, _ in ranked}
            young = [c for c in self.store.not_yet_overdue(filters, at) if c.id not in seen]
            ranked += rank((c, False, 0) for c in young)
            ranked.sort(key=_by_priority)
        return ranked[:limit]

    def day_plan(self, staff_id: str, at: dt.datetime) -> DayPlan:
        """One staff member's day: visits in window order, and promises falling due."""
        staff = self.actor(staff_id)
        visits = [
            (self.store.get_case(v.case_id), v)
            for v in self.store.visits_today(_aware(at), staff.id)
        ]
        promises = [
            (self.store.get_case(p.case_id), p) for p in self.store.promises_due(at, staff.id)
        ]
        return DayPlan(staff=staff, visits=visits, promises=promises)

    def assign(self, ref: str | int, *, to: str, actor: str, at: dt.datetime) -> Case:
        staff, case = self.begin(ref, actor, at)
        target = self.member(to, "--to")
        context = ActionContext(at=at, actor=staff.id, staff=(target.id,))
        self.guard(
            case,
            staff,
            "assign",
            at,
            attempted={"to": to},
            supervisor_only=True,
            context=context,
        )
        saved, _ = self.save(
            "case_assigned",
            attrs.evolve(case, assigned_to=target.id),
            staff.id,
            at,
            data={"from": case.assigned_to, "to": target.id},
        )
        return saved

    # -- stage 1: confirmation -------------------------------------------------------

    def record_contact(
        self,
        ref: str | int,
        *,
        actor: str,
        at: dt.datetime,
        channel: str,
        target: str,
        outcome: str,
        note: str = "",
        purpose: str = "collect",
    ) -> ContactAttempt:
        staff, case = self.begin(ref, actor, at)
        _choice(channel, lifecycle.CHANNELS, "channel")
        _choice(target, lifecycle.TARGETS, "target")
        _choice(outcome, lifecycle.OUTCOMES, "outcome")
        _choice(purpose, lifecycle.PURPOSES, "purpose")
        attempted = {"channel": channel, "target": target, "outcome": outcome, "purpose": purpose}
        assert case.id is not None
        context = ActionContext(
            at=at,
            actor=staff.id,
            channel=channel,
            target=target,
            contacts=tuple(self.store.contacts(case.id)),
            staff_members=(staff,),
        )
        self.guard(case, staff, "contact", at, attempted=attempted, context=context)
        assert case.id is not None
        attempt = ContactAttempt(
            case_id=case.id,
            channel=channel,
            target=target,
            outcome=outcome,
            at=at,
            staff=staff.id,
            note=note,
            purpose=purpose,
        )
        _, result = self.save_one("contact_recorded", case, staff.id, at, attempt, attempted)
        return result

    def confirm_address(
        self, ref: str | int, *, actor: str, at: dt.datetime, address: str, source: str = ""
    ) -> Case:
        staff, case = self.begin(ref, actor, at)
        if not address.strip():
            raise InvalidInput("the confirmed address must not be empty")
        if source:
            _choice(source, (*lifecycle.CHANNELS, "visit", "institution"), "source")
        attempted = {"address": address, "source": source}
        self.guard(case, staff, "confirm_address", at, attempted=attempted)
        # Eligibility is checked again before the case enters preparation.
        denials = self.eligibility(case, at)
        if denials:
            self.refuse(case, staff.id, at, "confirm_address", PolicyDenied(denials), attempted)
        saved, _ = self.save(
            "address_confirmed",
            attrs.evolve(
                case,
                confirmed_address=address,
                stage=Stage.PREPARATION,
                eligible=True,
                eligibility_note="",
            ),
            staff.id,
            at,
            data=attempted,
        )
        return saved

    # -- stage 2: preparation --------------------------------------------------------

    def checklist_for(self, case: Case) -> tuple[ChecklistItem, ...]:
        items: dict[str, ChecklistItem] = {}
        # pluggy calls the last-registered plugin first; defaults should lead the list.
        for batch in reversed(
            self.pm.hook.visit_checklist(case=self.judged(case), settings=self.settings(case))
        ):
            for item in batch or []:
                items.setdefault(item.code, item)
        return tuple(items.values())

    def plan_visit(
        self,
        ref: str | int,
        *,
        actor: str,
        at: dt.datetime,
        date: dt.date,
        window: tuple[dt.time, dt.time],
        companions: Sequence[str] = (),
    ) -> tuple[Case, Visit]:
        """Plan (or re-plan) the next visit in the borrower's local time."""
        staff, case = self.begin(ref, actor, at)
        assert case.id is not None
        start, end = window
        if start >= end:
            raise InvalidInput(f"visit window {start:%H:%M}-{end:%H:%M} must end after it starts")
        visiting = [case.assigned_to or staff.id]
        for other in companions:
            self.member(other, "--with")
            if other not in visiting:
                visiting.append(other)
        pending = self._pending_visit(case)
        draft = Visit(
            case_id=case.id,
            number=pending.number
            if pending
            else len(self.store.visits(case.id, case.currency)) + 1,
            date=date,
            window_start=start,
            window_end=end,
            timezone=case.borrower.timezone,
            staff=tuple(visiting),
            planned_by=staff.id,
            planned_at=at,
            id=pending.id if pending else None,
        )
        attempted = {
            "date": date.isoformat(),
            "window": f"{start:%H:%M}-{end:%H:%M}",
            "staff": visiting,
        }
        context = ActionContext(
            at=at,
            actor=staff.id,
            window=draft.window(),
            staff=tuple(visiting),
            staff_members=tuple(self.store.get_staff(s) for s in visiting),
        )
        self.guard(case, staff, "plan_visit", at, attempted=attempted, context=context)
        ticked = {i.code for i in pending.checklist if i.ticked} if pending else set()
        checklist = tuple(
            attrs.evolve(item, ticked=item.code in ticked) for item in self.checklist_for(case)
        )
        visit = attrs.evolve(draft, checklist=checklist)
        stage = Stage.INTERVIEW if visit.checklist_ready else case.stage
        saved_case, result = self.save_one(
            "visit_replanned" if pending else "visit_planned",
            attrs.evolve(case, stage=stage),
            staff.id,
            at,
            visit,
            data=attempted,
        )
        return saved_case, result

    def tick_checklist(
        self,
        ref: str | int,
        *,
        actor: str,
        at: dt.datetime,
        items: Sequence[str] = (),
        tick_all: bool = False,
    ) -> tuple[Case, Visit]:
        """Tick checklist items; when every required one is ticked the case moves to interview."""
        staff, case = self.begin(ref, actor, at)
        assert case.id is not None
        attempted = {"items": list(items), "all": tick_all}
        self.guard(case, staff, "tick_checklist", at, attempted=attempted)
        visit = self._pending_visit(case)
        if visit is None:
            self.refuse(
                case,
                staff.id,
                at,
                "tick_checklist",
                InvalidTransition(
                    f"case {case.id} has no planned visit; plan one first (fieldcase plan)",
                    "stage.tick_checklist",
                ),
                attempted,
            )
        codes = {item.code for item in visit.checklist}
        unknown = [code for code in items if code not in codes]
        if unknown:
            raise InvalidInput(
                f"no checklist item {', '.join(unknown)}; items are {', '.join(sorted(codes))}"
            )
        chosen = codes if tick_all else set(items)
        checklist = tuple(
            attrs.evolve(item, ticked=item.ticked or item.code in chosen)
            for item in visit.checklist
        )
        visit = attrs.evolve(visit, checklist=checklist)
        stage = Stage.INTERVIEW if visit.checklist_ready else case.stage
        saved_case, result = self.save_one(
            "checklist_ticked",
            attrs.evolve(case, stage=stage),
            staff.id,
            at,
            visit,
            data={"ticked": sorted(chosen)},
        )
        return saved_case, result

    # -- stage 3: interview ----------------------------------------------------------

    def record_interview(
        self,
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
        attitude: str | None = None,
        notes: str = "",
    ) -> tuple[Case, Visit]:
        """Record what the visit found; "nobody" sends the case back for a revisit."""
        staff, case = self.begin(ref, actor, at)
        assert case.id is not None
        _choice(met, lifecycle.MET, "met")
        if reason is not None and reason not in self.reasons():
            raise InvalidInput(
                f"reason: {reason!r} is not a known code; codes are "
                f"{', '.join(sorted(self.reasons()))}"
            )
        if met == "borrower" and reason is None:
            raise InvalidInput("reason: when the borrower was met, give --reason CODE")
        findings = {
            "--reason": reason,
            "--employment": employment,
            "--income": monthly_income,
            "--other-debts": other_debts,
            "--multi-lender": multi_lender,
            "--attitude": attitude,
        }
        given = [name for name, value in findings.items() if value is not None]
        if met == "nobody" and given:
            raise InvalidInput(
                f"nobody was met, so there are no findings to record; drop {', '.join(given)}"
            )
        if employment is not None:
            _choice(employment, lifecycle.EMPLOYMENT, "employment")
        if attitude is not None:
            _choice(attitude, lifecycle.ATTITUDES, "attitude")
        income = (
            None
            if monthly_income is None
            else parse_amount(monthly_income, case.currency, field="income")
        )
        debts = (
            None
            if other_debts is None
            else parse_amount(other_debts, case.currency, field="other debts")
        )
        visit = self._pending_visit(case)
        if visit is None and case.stage == Stage.INTERVIEW:
            # Read after the case: someone recorded this visit meanwhile (StaleCase).
            self.store.check_version(case.id, case.version)
        attempted = {"met": met, "reason": reason}
        context = ActionContext(
            at=at,
            actor=staff.id,
            window=visit.window() if visit else None,
            staff=visit.staff if visit else (),
            staff_members=tuple(self.store.get_staff(s) for s in visit.staff) if visit else (),
        )
        self.guard(
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
            limit = self.pm.hook.max_failed_visits(
                case=self.judged(case), settings=self.settings(case)
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
                attitude=attitude,
                notes=notes,
                visited_at=at,
                recorded_by=staff.id,
            )
            case = attrs.evolve(case, stage=Stage.FEEDBACK)
            event_type = "interview_recorded"
            data = attempted
        saved_case, result = self.save_one(event_type, case, staff.id, at, visit, data)
        return saved_case, result

    # -- stage 4: feedback -----------------------------------------------------------

    def submit_feedback(
        self, ref: str | int, *, actor: str, at: dt.datetime, recommendation: str, summary: str
    ) -> tuple[Case, Feedback]:
        staff, case = self.begin(ref, actor, at)
        assert case.id is not None
        _choice(recommendation, lifecycle.RECOMMENDATIONS, "recommendation")
        if not summary.strip():
            raise InvalidInput("summary must not be empty: say what was found and why")
        attempted = {"recommendation": recommendation}
        self.guard(case, staff, "submit_feedback", at, attempted=attempted)
        if case.feedback_status in ("submitted", "approved"):
            self.refuse(
                case,
                staff.id,
                at,
                "submit_feedback",
                InvalidTransition(
                    f"feedback for case {case.id} was already "
                    f"{'approved' if case.feedback_status == 'approved' else 'submitted'}; "
                    "submitted feedback cannot be changed"
                    + (
                        "; a supervisor can return it"
                        if case.feedback_status == "submitted"
                        else ""
                    ),
                    "feedback.immutable",
                ),
                attempted,
            )
        visits = self.store.visits(case.id, case.currency)
        feedback = Feedback(
            case_id=case.id,
            visit_id=visits[-1].id if visits else None,
            recommendation=recommendation,
            summary=summary,
            submitted_by=staff.id,
            submitted_at=at,
        )
        saved_case, result = self.save_one(
            "feedback_submitted",
            attrs.evolve(case, feedback_status="submitted"),
            staff.id,
            at,
            feedback,
            data=attempted,
        )
        return saved_case, result

    def review_feedback(
        self, ref: str | int, *, actor: str, at: dt.datetime, approve: bool, note: str = ""
    ) -> tuple[Case, Feedback]:
        staff, case = self.begin(ref, actor, at)
        assert case.id is not None
        if not approve and not note.strip():
            raise InvalidInput("returning feedback needs --note saying what to change")
        attempted = {"approve": approve, "note": note}
        self.guard(case, staff, "review", at, attempted=attempted, supervisor_only=True)
        if case.feedback_status != "submitted":
            self.refuse(
                case,
                staff.id,
                at,
                "review",
                InvalidTransition(
                    f"case {case.id} has no feedback awaiting review "
                    f"(feedback is {case.feedback_status or 'not submitted'})",
                    "stage.review",
                ),
                attempted,
            )
        feedback = self.store.feedback(case.id)[-1]
        if feedback.submitted_by == staff.id:
            self.refuse(
                case,
                staff.id,
                at,
                "review",
                NotPermitted(
                    f"you submitted this feedback ({staff.id}); another supervisor must review it",
                    "review.four_eyes",
                ),
                attempted,
            )
        status = "approved" if approve else "returned"
        reviewed = attrs.evolve(
            feedback, review_status=status, reviewed_by=staff.id, reviewed_at=at, review_note=note
        )
        saved_case, result = self.save_one(
            f"feedback_{status}",
            attrs.evolve(case, feedback_status=status),
            staff.id,
            at,
            reviewed,
            data=attempted,
        )
        return saved_case, result

    # -- closure -------------------------------------------------------------------------

    def close(
        self, ref: str | int, *, actor: str, at: dt.datetime, resolution: str, note: str = ""
    ) -> Case:
        staff, case = self.begin(ref, actor, at)
        _choice(resolution, lifecycle.RESOLUTIONS, "resolution")
        attempted = {"resolution": resolution, "note": note}
        approved = case.stage == Stage.FEEDBACK and case.feedback_status == "approved"
        # Before approved feedback, "paid" and "withdrawn" are a supervisor's call.
        self.guard(
            case,
            staff,
            "close",
            at,
            attempted=attempted,
            supervisor_only=(
                f"close a case as {resolution} before its feedback is approved"
                if resolution in lifecycle.SUPERVISOR_RESOLUTIONS and not approved
                else False
            ),
        )
        early = case.stage in lifecycle.EARLY_RESOLUTIONS.get(resolution, ())
        if early and case.stage == Stage.FEEDBACK and resolution == "unlocatable":
            # Only an escalated case (failed visits) is unlocatable from feedback.
            early = case.escalated and case.feedback_status != "submitted"
        if not (approved or early):
            allowed = [r for r, st in lifecycle.EARLY_RESOLUTIONS.items() if case.stage in st]
            self.refuse(
                case,
                staff.id,
                at,
                "close",
                InvalidTransition(
                    f"cannot close case {case.id} as {resolution}: it is in stage {case.stage} "
                    "without approved feedback; have the feedback approved first"
                    + (f", or close it as {' / '.join(allowed)}" if allowed else ""),
                    "stage.close",
                ),
                attempted,
            )
        saved, _ = self.save(
            "case_closed",
            attrs.evolve(case, stage=Stage.CLOSED, resolution=resolution, closed_at=at),
            staff.id,
            at,
            data={**attempted, "from_stage": str(case.stage)},
        )
        return saved

    def set_flags(
        self,
        ref: str | int,
        *,
        actor: str,
        at: dt.datetime,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        note: str = "",
    ) -> Case:
        """Set or clear the compliance flags of a case (e.g. a cease-communication letter)."""
        staff, case = self.begin(ref, actor, at)
        for flag in (*add, *remove):
            _choice(flag, lifecycle.FLAGS, "flag")
        flags = tuple(sorted((set(case.flags) | set(add)) - set(remove)))
        attempted = {"set": list(add), "clear": list(remove), "note": note}
        if flags == tuple(sorted(case.flags)):
            return case
        # Anyone on the case may raise a flag; only a supervisor may lift one.
        self.guard(
            case,
            staff,
            "flag",
            at,
            attempted=attempted,
            supervisor_only="clear a compliance flag" if remove else False,
        )
        saved, _ = self.save(
            "flags_changed",
            attrs.evolve(case, flags=flags),
            staff.id,
            at,
            data={**attempted, "flags": list(flags)},
        )
        return saved

    def set_badge(self, staff_id: str, badge: str, *, actor: str, at: dt.datetime) -> Staff:
        """Record a staff member's official identity number (agent licence, badge)."""
        acting = self.actor(actor)
        self.begin_action()
        member = self.store.get_staff(staff_id)
        if not badge.strip():
            raise InvalidInput("the identity number must not be empty")
        self.check_time(acting, _aware(at), {}, "staff_badge", attempted={"staff": staff_id})
        if not acting.is_supervisor:
            self.refuse_unscoped(
                acting.id,
                at,
                "staff_badge",
                NotPermitted(
                    "only a supervisor may record identity numbers", "permission.supervisor"
                ),
                {"staff": staff_id},
            )
        updated = attrs.evolve(member, badge=badge.strip())
        event, _ = self.store.commit(
            "staff_updated",
            actor=acting.id,
            at=_aware(at),
            records=[updated],
            data={"id": staff_id, "badge": updated.badge},
            recorded_at=self.recorded_at(),
        )
        self.notify(None, event)
        return updated

    def dry_run(
        self,
        ref: str | int,
        action: str,
        *,
        actor: str | None,
        at: dt.datetime,
        channel: str | None = None,
        target: str | None = None,
        purpose: str | None = None,
        window: tuple[dt.datetime, dt.datetime] | None = None,
        companions: Sequence[str] = (),
    ) -> list[tuple[str, Decision]]:
        """Every rule ``check_action`` consults for ``action`` at ``at``, and its verdict.

        Writes nothing, so anyone may ask, for any time. ``actor`` is who would
        act (default: the staff member assigned). Each verdict comes with the
        plugin that gave it.
        """
        _choice(action, lifecycle.ACTIONS, "action")
        _aware(at)
        self.begin_action()
        case = self.store.get_case(ref)
        actor = actor or case.assigned_to
        if actor is None:
            raise InvalidInput(
                f"case {case.id} is assigned to nobody: say who would act, --as STAFF"
            )
        staff = self.actor(actor)
        assert case.id is not None
        visit = self._pending_visit(case)
        if window is None and visit is not None and action in ("plan_visit", "start_visit"):
            window = visit.window()
        # As plan would: the visit's staff, or the assignee with any companions.
        visiting = list(visit.staff) if visit and not companions else [case.assigned_to or staff.id]
        for other in companions:
            self.member(other, "--with")
            if other not in visiting:
                visiting.append(other)
        context = ActionContext(
            at=_aware(at),
            actor=staff.id,
            channel=channel,
            target=target,
            window=window,
            staff=tuple(visiting),
            extra={
                k: v
                for k, v in {"channel": channel, "target": target, "purpose": purpose}.items()
                if v
            },
            contacts=tuple(self.store.contacts(case.id)),
            staff_members=tuple(self.store.get_staff(s) for s in visiting),
        )
        institution = self.institution_of(case)
        kwargs = {
            "case": self.judged(case),
            "action": action,
            "context": context,
            "settings": self.settings(case),
        }
        verdicts: list[tuple[str, Decision]] = []
        missing = self.unloaded(institution)
        if missing:
            verdicts.append(("fieldcase", Decision.deny("policy.plugins", missing)))
        for impl in reversed(self.pm.hook.check_action.get_hookimpls()):
            result = impl.function(*(kwargs[name] for name in impl.argnames))
            for decision in flatten_decisions([result]):
                verdicts.append((impl.plugin_name, decision))
        return verdicts

    def reopen(self, ref: str | int, *, actor: str, at: dt.datetime, reason: str) -> Case:
        """Reopen a closed case: back to preparation (or confirmation without an address)."""
        staff, case = self.begin(ref, actor, at)
        if not reason.strip():
            raise InvalidInput("reopening needs --reason saying why")
        attempted = {"reason": reason}
        self.guard(case, staff, "reopen", at, attempted=attempted, supervisor_only=True)
        stage = Stage.PREPARATION if case.confirmed_address else Stage.CONFIRMATION
        saved, _ = self.save(
            "case_reopened",
            attrs.evolve(
                case,
                stage=stage,
                resolution=None,
                closed_at=None,
                feedback_status=None,
                escalated=False,
                failed_visits=0,
            ),
            staff.id,
            at,
            data={**attempted, "previous_resolution": case.resolution},
        )
        return saved
