"""The services: one method per user action, each in ONE transaction with its event.

The order is always: read, check (stage, permission, policy), then write the
change and its event atomically, then notify ``case_event`` observers. A
refusal writes only a ``refused`` event and raises a :class:`Refused` error.
Services never print.

This module holds the steps every action shares (``begin``, ``guard``,
``save``/``save_one`` with the event, ``refuse``, ``notify``, the time and
policy checks). The actions themselves live one module per group, as
functions of the services: :mod:`~fieldcase.confirmation`,
:mod:`~fieldcase.preparation`, :mod:`~fieldcase.interview`,
:mod:`~fieldcase.feedback`, :mod:`~fieldcase.closure`, :mod:`~fieldcase.protections`,
:mod:`~fieldcase.inquiries`, :mod:`~fieldcase.attachments`, :mod:`~fieldcase.checkins`,
:mod:`~fieldcase.messages`, :mod:`~fieldcase.casefiles`, :mod:`~fieldcase.worklists`,
:mod:`~fieldcase.administration`, and money, transfer and institutions in
:mod:`~fieldcase.arrangements`, :mod:`~fieldcase.transfer`,
:mod:`~fieldcase.institutions`. ``Services`` offers each as a method.
"""

from __future__ import annotations

import datetime as dt
import logging
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TypeVar

import attrs
import pluggy

from . import (
    administration,
    attachments,
    casefiles,
    checkins,
    closure,
    confirmation,
    dayplan,
    feedback,
    inquiries,
    interview,
    lifecycle,
    messages,
    preparation,
    protections,
    reviews,
    worklists,
)
from .clock import aware
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
from .model import (
    ActionContext,
    Case,
    ContactAttempt,
    Decision,
    Event,
    EventCorrection,
    Feedback,
    Institution,
    Offer,
    PolicyVersion,
    Promise,
    Reason,
    Staff,
    Visit,
)
from .plugins import overdue_reasons
from .policy import Schema, default
from .store import AuditProblem, Change, Record, Store
from .suggest import choice

if TYPE_CHECKING:
    from .arrangements import MoneyView
    from .exporting import ExportSummary
    from .formats import Exporter
    from .institutions import MigrationStep
    from .model import Payment
    from .payment_files import PaymentImportSummary
    from .repayment import Balance
    from .transfer import ImportSummary

log = logging.getLogger(__name__)


R = TypeVar("R", ContactAttempt, Visit, Feedback, Promise)


def flatten_decisions(results: Sequence[Any]) -> list[Decision]:
    """``check_action`` answers: a Decision, a list of them (a rule pack), or None."""
    flat: list[Decision] = []
    for result in results:
        if result is None:
            continue
        flat.extend(result if isinstance(result, list | tuple) else [result])
    return flat


def eligibility_judges(pm: pluggy.PluginManager) -> list[tuple[pluggy.HookImpl, bool]]:
    """Who judges a batch of new cases: each plugin's ``cases_eligible`` (True) if it has
    one, else its ``case_eligible`` (False), in the order pluggy calls ``case_eligible``.

    pluggy calls tryfirst implementations, then plain ones, the last registered
    first, then trylast ones, the first registered first; a plugin keeps the place
    of its ``case_eligible`` when it implements both hooks.
    """
    batch = plain_hookimpls(pm.hook.cases_eligible)
    single = plain_hookimpls(pm.hook.case_eligible)
    registered = {name: index for index, (name, _) in enumerate(pm.list_name_plugin())}

    def place(name: str) -> tuple[int, int]:
        impl = single.get(name) or batch[name]
        if impl.tryfirst:
            return 0, -registered[name]
        if impl.trylast:
            return 2, registered[name]
        return 1, -registered[name]

    names = sorted({*single, *batch}, key=place)
    return [(batch[name], True) if name in batch else (single[name], False) for name in names]


def plain_hookimpls(hook: pluggy.HookCaller) -> dict[str, pluggy.HookImpl]:
    """A hook's implementations by plugin name, wrappers left out."""
    return {
        impl.plugin_name: impl
        for impl in hook.get_hookimpls()
        if not (impl.hookwrapper or impl.wrapper)
    }


def call_hookimpl(impl: pluggy.HookImpl, **arguments: Any) -> Any:
    """One plugin's implementation, given the arguments it takes (as pluggy gives them)."""
    return impl.function(*(arguments[name] for name in impl.argnames))


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
        #: (case, staff member) pairs a supervisor vouched for while resolving a sync
        #: conflict: that member's kept field actions pass the assignment and backdating
        #: checks, as the supervisor's own would.
        self.vouched: set[tuple[int, str]] = set()
        #: Whether actions may be older than the case's last change: kept field actions
        #: of a pack, done before what the office did meanwhile.
        self.late_actions = False

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
        # A supervisor keeping a field pack's actions vouches for them, as if recording them.
        vouched = case is not None and (case.id, staff.id) in self.vouched
        if at < old and not staff.is_supervisor and not vouched:
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

    def check_channel(
        self, case: Case, channel: str, option: str = "channel", also: Sequence[str] = ()
    ) -> str:
        """``channel`` itself if the case's institution contacts through it (the built-in
        channels, its messaging apps, ``also``), else InvalidInput with a suggestion."""
        from .policy import contact_channels
        from .suggest import hint

        allowed = (*contact_channels(self.institution_of(case).policy), *also)
        if channel not in allowed:
            suggestion = hint(channel, allowed) or (
                f"; a supervisor adds a messaging app to {case.institution}'s channels with "
                f"'fieldcase institution policy {case.institution} --set "
                f"messaging_channels={channel}'"
            )
            raise InvalidInput(
                f"{option}: {channel!r} is not one of {', '.join(allowed)}{suggestion}"
            )
        return channel

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

        return money_view(self, ref, aware(at))

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

    def void_event(
        self, ref: str | int, event_id: int, **options: Any
    ) -> tuple[Case, EventCorrection]:
        from .corrections import void_event

        return void_event(self, ref, event_id, **options)

    def amend_event(
        self, ref: str | int, event_id: int, **options: Any
    ) -> tuple[Case, EventCorrection]:
        from .corrections import amend_event

        return amend_event(self, ref, event_id, **options)

    def confirm_payment(
        self, ref: str | int, reference: str, **options: Any
    ) -> tuple[Payment, Case]:
        from .arrangements import confirm_payment

        return confirm_payment(self, ref, reference, **options)

    def reverse_payment(
        self, ref: str | int, reference: str, *, actor: str, at: dt.datetime, reason: str
    ) -> tuple[Payment, Case]:
        from .arrangements import reverse_payment

        return reverse_payment(self, ref, reference, actor=actor, at=at, reason=reason)

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

    def import_payments(self, path: Path, **options: Any) -> PaymentImportSummary:
        """Import a bank's payment file; see :func:`fieldcase.payment_files.import_payments`."""
        from .payment_files import import_payments

        return import_payments(self, path, **options)

    def export_visits(self, out: BinaryIO, **options: Any) -> ExportSummary:
        """Stream visit records; see :func:`fieldcase.exporting.export_visits`."""
        from .exporting import export_visits

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
        also_judged_as: Sequence[tuple[str, Case, ActionContext]] = (),
    ) -> None:
        """Permission, stage and policy checks; the first failure is recorded and raised.

        Field staff act on cases assigned to them, and on those where they are in
        ``also_permitted`` (the staff visiting together); supervisors on all.
        ``also_judged_as`` is what else the action is, for the rules: see
        :meth:`check_policy`.
        """
        institution = self.institution_of(case)
        self.check_time(staff, at, institution.policy, action, case=case, attempted=attempted)
        self.check_requirements(institution, case, staff.id, at, action, attempted)
        # Money arrives when it arrives: a payment may be recorded after later actions; a
        # correction names an earlier event, and comes when the mistake is found.
        if (
            case.updated_at is not None
            and at < case.updated_at
            and not self.late_actions
            and action not in ("record_payment", "void_event", "amend_event")
        ):
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
            and (case.id, staff.id) not in self.vouched
        ):
            owner = case.assigned_to or "nobody"
            error = NotPermitted(
                f"case {case.id} is assigned to {owner}, not to you ({staff.id}); "
                "ask a supervisor to assign it",
                "permission.assigned",
            )
        elif not lifecycle.stage_allows(action, case.stage, case.kind):
            error = InvalidTransition(
                f"cannot {lifecycle.ACTION_VERBS.get(action, action)} case {case.id}: "
                f"it is in stage "
                f"{case.stage}; {lifecycle.next_step(case.stage, case.kind)}",
                f"stage.{action}",
            )
        if error is not None:
            self.refuse(case, staff.id, at, action, error, attempted)
        context = context or ActionContext(at=at, actor=staff.id)
        context = attrs.evolve(context, extra={**(attempted or {}), **context.extra})
        self.check_policy(case, action, context, attempted, also_judged_as=also_judged_as)

    def check_policy(
        self,
        case: Case,
        action: str,
        context: ActionContext,
        attempted: dict[str, Any] | None = None,
        *,
        also_judged_as: Sequence[tuple[str, Case, ActionContext]] = (),
    ) -> None:
        """Ask every ``check_action``; any denial refuses ``action``.

        An action that is another one too is judged as both, and refused as
        ``action`` with every denial at once: ``also_judged_as`` holds each
        other action with the case and context the rules see it in (a contact
        on channel bureau is an ``inquiry``; a dispute decided with ``--close``
        is a ``close``).
        """
        decisions = self.decisions(case, action, context)
        for other, other_case, other_context in also_judged_as:
            decisions += self.decisions(other_case, other, other_context)
        denials = [d for d in decisions if not d.allowed]
        if denials:
            self.refuse(case, context.actor, context.at, action, PolicyDenied(denials), attempted)

    def decisions(self, case: Case, action: str, context: ActionContext) -> list[Decision]:
        """Every verdict ``check_action`` gives on ``action``, allowed or not."""
        return flatten_decisions(
            self.pm.hook.check_action(
                case=self.judged(case), action=action, context=context, settings=self.settings(case)
            )
        )

    def eligibility(self, case: Case, at: dt.datetime) -> list[Decision]:
        """The denials of every ``case_eligible`` implementation (empty: eligible)."""
        decisions = self.pm.hook.case_eligible(
            case=self.judged(case), settings=self.settings(case), at=at
        )
        return [d for d in decisions if d is not None and not d.allowed]

    def eligibility_of_batch(
        self,
        institution: str,
        cases: Sequence[Mapping[str, Any]],
        at: dt.datetime,
        as_case: Callable[[int], Case],
    ) -> list[list[Decision]]:
        """The denials for each of ``cases``, new cases of ``institution`` (mappings with
        the keys ``cases_eligible`` documents), as :meth:`eligibility` gives them.

        Each plugin answers through ``cases_eligible`` if it implements it, once for
        the batch; one that implements only ``case_eligible`` is asked per case, on
        ``as_case(i)``, the Case of ``cases[i]``, built only for such a plugin.
        """
        registered = self.institution(institution)
        settings = MappingProxyType(registered.policy)
        # As judged() does for a Case: no jurisdiction of its own is the institution's.
        judged = tuple(
            case
            if case["jurisdiction"]
            else MappingProxyType({**case, "jurisdiction": registered.jurisdiction})
            for case in cases
        )
        denials: list[list[Decision]] = [[] for _ in judged]
        built: list[Case] = []
        for impl, batch in eligibility_judges(self.pm):
            if batch:
                answers = call_hookimpl(impl, cases=judged, settings=settings, at=at)
                if answers is None:
                    continue
                if len(answers) != len(judged):
                    raise PluginFailed(
                        impl.plugin_name,
                        "cases_eligible",
                        ValueError(f"{len(answers)} answers for {len(judged)} cases"),
                    )
            else:
                # Built once, for the first plugin that judges a Case, and kept for the others.
                built = built or [self.judged(as_case(i)) for i in range(len(judged))]
                answers = [
                    call_hookimpl(impl, case=case, settings=settings, at=at) for case in built
                ]
            for found, answer in zip(denials, answers, strict=True):
                if answer is not None and not answer.allowed:
                    found.append(answer)
        return denials

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
        aware(at)
        self.begin_action()
        return self.actor(actor, at), self.store.get_case(ref)

    def pending_visit(self, case: Case) -> Visit | None:
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

    add_staff = administration.add_staff
    set_login_password = administration.set_login_password
    change_staff = administration.change_staff
    staff_with_workload = administration.staff_with_workload

    # -- audit ---------------------------------------------------------------------

    def verify_audit(
        self, after: int = 0, progress: Callable[[int, int], object] | None = None
    ) -> tuple[int, AuditProblem | None]:
        """(events checked, first broken event or None); ``after``: only the events after
        that one (a sealed event), each chain going on from its head there."""
        return self.store.verify_chains(after, progress)

    def verify_file(self) -> list[str]:
        """What is wrong with the file beyond the chains: a guard trigger gone, damage."""
        problems = [
            f"trigger {name} is missing: events can be changed without a trace in the "
            "database itself; restore from a backup, or ask who removed it"
            for name in self.store.missing_guards()
        ]
        integrity = self.store.integrity()
        if integrity != "ok":
            problems.append(f"the database's integrity check: {integrity}")
        return problems

    def seal(self, up_to: int | None = None) -> tuple[str, int, int, int]:
        """(digest over every chain head, chains, events, the last event sealed): of the
        log as it stands, or as it stood after event ``up_to``."""
        last = self.store.last_event_id()
        if up_to is not None:
            last = min(last, up_to)
        # Sealed up to an event, not "as it stands": the same seal, however many
        # events others append meanwhile.
        return (*self.store.seal(up_to=last), last)

    def replay_differences(
        self,
        limit: int | None = None,
        progress: Callable[[str, int, int], object] | None = None,
    ) -> list[str]:
        """Differences between the stored tables and a replay of the events (the first
        ``limit``); ``progress(stage, done, total)`` hears of the replay, then the compare."""
        return self.store.compare_replay(limit, progress)

    # -- the actions, one module per group (each a function of these services) ---------

    # cases, read whole and listed
    create_case = casefiles.create_case
    get_case = casefiles.get_case
    case_file = casefiles.case_file
    reader = casefiles.reader
    may_see_personal_data = casefiles.may_see_personal_data
    history = casefiles.history
    system_history = casefiles.system_history
    institution_history = casefiles.institution_history
    worklist = worklists.worklist
    worklist_page = worklists.worklist_page
    day_plan = dayplan.day_plan
    # the office
    assign = administration.assign
    set_badge = administration.set_badge
    backup = administration.backup
    # stage 1, confirmation
    record_contact = confirmation.record_contact
    record_details = confirmation.record_details
    confirm_address = confirmation.confirm_address
    # stage 2, preparation
    checklist_for = preparation.checklist_for
    plan_visit = preparation.plan_visit
    tick_checklist = preparation.tick_checklist
    # stage 3, interview
    record_interview = interview.record_interview
    # stage 4, feedback
    submit_feedback = feedback.submit_feedback
    review_feedback = feedback.review_feedback
    # closure
    close = closure.close
    set_flags = closure.set_flags
    reopen = closure.reopen
    # the borrower's protections, from any stage
    open_dispute = protections.open_dispute
    add_evidence = protections.add_evidence
    decide_dispute = protections.decide_dispute
    grant_hardship = protections.grant_hardship
    end_hardship = protections.end_hardship
    record_complaint = protections.record_complaint
    export_corrections = protections.export_corrections
    # credit-bureau inquiries
    record_inquiry = inquiries.record_inquiry
    # letters and messages from the institution's templates
    record_message = messages.record_message
    preview_message = messages.preview_message
    # where staff were on site
    check_in = checkins.check_in
    # photos and documents, kept in the database
    attach = attachments.attach
    case_attachments = attachments.case_attachments
    attachment_content = attachments.attachment_content
    stored_attachment = attachments.stored_attachment
    verify_attachments = attachments.verify_files
    # post-loan reviews of performing loans
    open_review = reviews.open_review
    reviews_due = reviews.reviews_due

    # -- what the rules would say, writing nothing ------------------------------------------

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
        relationship: str | None = None,
    ) -> list[tuple[str, Decision]]:
        """Every rule ``check_action`` consults for ``action`` at ``at``, and its verdict.

        Writes nothing, so anyone may ask, for any time. ``actor`` is who would
        act (default: the staff member assigned). Each verdict comes with the
        plugin that gave it.
        """
        return next(
            self.dry_runs(
                ref,
                action,
                actor=actor,
                times=[at],
                channel=channel,
                target=target,
                purpose=purpose,
                window=window,
                companions=companions,
                relationship=relationship,
            )
        )

    def dry_runs(
        self,
        ref: str | int,
        action: str,
        *,
        actor: str | None,
        times: Sequence[dt.datetime],
        channel: str | None = None,
        target: str | None = None,
        purpose: str | None = None,
        window: tuple[dt.datetime, dt.datetime] | None = None,
        companions: Sequence[str] = (),
        relationship: str | None = None,
    ) -> Iterator[list[tuple[str, Decision]]]:
        """:meth:`dry_run` at each of ``times`` in turn, the case read once.

        Lazily, so that a caller looking for the first time the rules allow
        stops asking there (see :mod:`fieldcase.contact_times`).
        """
        choice(action, lifecycle.ACTIONS, "action")
        if not times:
            return
        at = aware(times[0])
        self.begin_action()
        case = self.store.get_case(ref)
        if channel is not None:
            self.check_channel(case, channel)
        if relationship is not None:
            from .confirmation import check_relationship

            check_relationship(target or "borrower", relationship)
        actor = actor or case.assigned_to
        if actor is None:
            raise InvalidInput(
                f"case {case.id} is assigned to nobody: say who would act, --as STAFF"
            )
        staff = self.actor(actor)
        assert case.id is not None
        visit = self.pending_visit(case)
        if window is None and visit is not None and action in ("plan_visit", "start_visit"):
            window = visit.window()
        # As plan would: the visit's staff, or the assignee with any companions.
        visiting = list(visit.staff) if visit and not companions else [case.assigned_to or staff.id]
        for other in companions:
            self.member(other, "--with")
            if other not in visiting:
                visiting.append(other)
        context = ActionContext(
            at=aware(at),
            actor=staff.id,
            channel=channel,
            target=target,
            window=window,
            staff=tuple(visiting),
            extra={
                k: v
                for k, v in {
                    "channel": channel,
                    "target": target,
                    "purpose": purpose,
                    "relationship": relationship,
                }.items()
                if v
            },
            contacts=tuple(self.store.contacts(case.id)),
            staff_members=tuple(self.store.get_staff(s) for s in visiting),
            visits=tuple(self.store.visits(case.id, case.currency)),
            inquiries=tuple(self.store.inquiries(case.id)),
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
        impls = list(reversed(self.pm.hook.check_action.get_hookimpls()))
        for moment in times:
            timed = attrs.evolve(context, at=aware(moment))
            asked = [{**kwargs, "context": timed}]
            if action == "contact" and channel == "bureau":
                # As record_contact judges it: an inquiry recorded the old way, by both rules.
                asked.append(
                    {**kwargs, "action": "inquiry", "context": inquiries.as_inquiry(timed)}
                )
            found = list(verdicts)
            for arguments in asked:
                for impl in impls:
                    result = impl.function(*(arguments[name] for name in impl.argnames))
                    for decision in flatten_decisions([result]):
                        found.append((impl.plugin_name, decision))
            yield found
