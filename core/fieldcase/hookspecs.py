"""Every hook of fieldcase. Each docstring here is the reference for plugin authors.

Implementations may accept only the arguments they need (pluggy passes by name).
``settings`` is always the policy in force for the case's institution, read-only:
the version recorded in the database (``fieldcase institution show ID``), with
only the keys the institution set; the same for every caller, wherever they
run the command from. Its keys are checked when they are set, against the
built-in keys and those plugins register with ``register_policy_settings``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pluggy

from .model import (
    ActionContext,
    Case,
    ChecklistItem,
    Decision,
    Event,
    Offer,
    OutgoingMessage,
    Reason,
    Visit,
)
from .repayment import Balance
from .visit_report import VisitReport

hookspec = pluggy.HookspecMarker("fieldcase")


@hookspec
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> Decision | list[Decision] | None:
    """Decide whether ``action`` may be taken on ``case`` now.

    Called before every state-changing action, outside the write transaction.
    ``case`` is None for actions on no single case (``export``).
    ``action`` is one of ``fieldcase.lifecycle.ACTIONS`` (``contact``,
    ``plan_visit``, ``start_visit``, ``close``...). ``context`` carries the
    time (aware), the actor and, where they apply, channel, target, visit
    window and visiting staff.

    Return a :class:`~fieldcase.model.Decision`, a list of them (one per rule
    consulted, as rule packs do), or None to abstain. Any
    denial refuses the action: every denial is shown with its rule id and
    reason and recorded as one ``refused`` event.
    """


@hookspec
def case_eligible(case: Case, settings: Mapping[str, Any], at: dt.datetime) -> Decision | None:
    """Decide whether ``case`` qualifies for a field visit at time ``at``.

    Called when a case is created or imported (ineligible cases are stored,
    flagged, with the reason, and kept out of the field queue) and again
    before the case enters preparation. Return a Decision or None.

    An import judges its new cases a batch at a time with ``cases_eligible``
    instead, for each plugin that implements it; a plugin that implements
    only this hook is still asked, once per new case.
    """


@hookspec
def cases_eligible(
    cases: Sequence[Mapping[str, Any]], settings: Mapping[str, Any], at: dt.datetime
) -> Sequence[Decision | None] | None:
    """Decide, for a batch of new cases at once, whether each qualifies for a field visit.

    Called by ``fieldcase import`` once per batch of new cases (up to
    ``--batch-size``), all of one institution, whose policy is ``settings``.
    For a plugin that implements it, it replaces ``case_eligible`` at import,
    so no :class:`~fieldcase.model.Case` is built for it: implement both with
    one rule function, so that an import and a later check cannot disagree.

    Each of ``cases`` is a read-only mapping with exactly these keys:

    - ``institution``, ``reference``: text;
    - ``kind``: ``collection`` or ``review``;
    - ``jurisdiction``: the case's ISO 3166 code, else its institution's;
    - ``currency``, ``timezone``: the ISO 4217 code and the borrower's IANA zone;
    - ``principal_minor``, ``overdue_minor``: amounts in integer minor units
      (``fieldcase.money.from_minor(minor, currency)`` gives the ``Decimal``
      that ``Case.principal`` and ``Case.overdue_amount`` hold);
    - ``overdue_since``: a ``date``;
    - ``days_past_due``: what ``Case.days_past_due(at)`` gives, an ``int``;
    - ``attributes``: the institution's own fields, name -> text.

    Return a sequence as long as ``cases``, the Decision (or None) for each,
    in order; or None to abstain for the whole batch. A denial flags the case
    ineligible exactly as one from ``case_eligible`` does, and denials are
    listed in the order pluggy would call the plugins for ``case_eligible``
    (a plugin's place is that of its ``case_eligible`` when it has one).
    An import calls the implementations themselves: hook wrappers of either
    hook do not run there.
    """


@hookspec
def visit_checklist(case: Case, settings: Mapping[str, Any]) -> list[ChecklistItem]:
    """Return checklist items for a visit being planned for ``case``.

    Called when a visit is planned. Items from all plugins are merged in plugin
    order; a later item with the same ``code`` is dropped. Required items must
    all be ticked before the case moves to the interview stage.
    """


@hookspec
def overdue_reasons() -> list[Reason]:
    """Return overdue-reason codes and labels to add to the taxonomy.

    Called once at start. An interview's ``--reason`` must be one of the codes.
    """


@hookspec(firstresult=True)
def max_failed_visits(case: Case, settings: Mapping[str, Any]) -> int | None:
    """Return how many failed visits ("nobody home") a case may have.

    firstresult: the first non-None answer wins. When a failed visit reaches
    the limit the case is escalated to feedback instead of going back to
    preparation for a revisit.
    """


@hookspec
def repayment_offers(
    case: Case,
    visit: Visit | None,
    balance: Balance,
    at: dt.datetime,
    settings: Mapping[str, Any],
) -> list[Offer]:
    """Return the repayment offers this plugin makes for ``case``.

    Called by ``fieldcase offers``: ``balance`` is what the case owes at
    ``at``, ``visit`` the latest visit (or None). Offers are computed, never
    typed by hand: give each a unique ``code``, its ``schedule`` (due dates in
    the borrower's local calendar), ``total_payable``, ``saving`` against
    ``balance.total`` and ``expires``. fieldcase stores them, asks a
    supervisor's approval for large concessions, and turns an accepted one
    into promises to pay.
    """


@hookspec(firstresult=True)
def penalty_rate_cap(case: Case, settings: Mapping[str, Any]) -> Decimal | None:
    """Return the highest annual penalty-interest rate the law allows for ``case``.

    firstresult: the first non-None answer wins. Called whenever a balance is
    worked out; the case's own rate applies when it is lower. Rule packs for
    jurisdictions that cap penalty interest implement it.
    """


@hookspec(firstresult=True)
def case_priority(
    case: Case,
    settings: Mapping[str, Any],
    at: dt.datetime,
    visit_today: bool,
    broken_promises: int,
) -> float | None:
    """Return the case's priority on the worklist at time ``at``, higher first.

    ``visit_today`` says a visit is planned on the borrower's today;
    ``broken_promises`` counts the case's promises broken by ``at``.
    firstresult: the first non-None answer wins; the built-in default comes last.
    """


@hookspec
def map_import_row(
    institution: str, row: dict[str, str], settings: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Translate one row of an institution's case file into fieldcase's columns.

    Called per imported row, with the institution's policy as ``settings``.
    Return the mapped row, or None to leave it to other plugins and the
    mapping file. Keys are fieldcase's import fields (``fieldcase.importing.FIELDS``)
    and ``attributes.<name>`` for the institution's own attributes, which its
    policy must declare (``attributes.<name> = "text"``); a value of the wrong
    kind rejects the row with the reason.
    """


@hookspec
def register_policy_settings(register: Callable[..., None]) -> None:
    """Declare the policy keys this plugin reads from ``settings``. Called when a policy is set.

    Call ``register(key, parse, description="", default=None)`` for each key.
    ``parse(value)`` gets the value as given (TOML: a string, a number, a
    list) and returns it in the form to store, or raises ``ValueError`` (the
    person is told the key must be ``description``) or
    :class:`~fieldcase.errors.SettingError` with a message of its own. A key
    no plugin registers is refused when set, with the nearest known key; a
    policy that sets a key whose plugin is no longer loaded refuses the
    institution's actions until it is.
    """


@hookspec
def register_rule_packs(register: Callable[..., None]) -> None:
    """Make compliance rule packs known: ``register(pack)``, a :class:`fieldcase.rules.RulePack`.

    Called when a policy is set or checked. A policy may enable only packs
    registered here (``rule_packs``) and set only their rules' parameters
    (``rules.<rule id>.<param>``); while a policy enables a pack that no
    loaded plugin registers, the institution's actions are refused, so that
    leaving a plugin out (``FIELDCASE_LOAD_PLUGINS``) cannot switch its rules off.
    """


@hookspec
def register_importers(register: Callable[..., None]) -> None:
    """Register case-file formats for ``fieldcase import``. Called when formats are looked up.

    Call ``register(name, read, suffixes=(".csv",), text=True)``. ``read(path,
    encoding)`` yields :class:`fieldcase.importing.SourceRow`: the line number and
    a dict of the row's values keyed by the file's own column names, or an error
    for a row that cannot be read. ``text`` formats are decoded with
    ``--encoding``; binary ones (xlsx) ignore it.
    """


@hookspec
def register_exporters(register: Callable[..., None]) -> None:
    """Register formats for ``fieldcase export``. Called when formats are looked up.

    Call ``register(name, write, suffix=".csv", description="", binary=False)``
    (``binary`` formats cannot go to standard output). ``export -o FILE``
    picks the format whose suffix ends the file's name, the longest first
    (``.harbor.json`` before ``.json``); a name no format claims is refused. ``write(rows,
    columns, out)`` writes ``rows``, an iterable of tuples whose values are in
    ``columns`` order (``dict(zip(columns, row))`` gives a row by name), to the
    binary stream ``out``. Rows arrive one at a time: stream them, so memory
    does not grow with the export.
    """


@hookspec
def register_reports(register: Callable[..., None]) -> None:
    """Register named reports: ``register(name, report)``. Called once at start."""


@hookspec(firstresult=True)
def render_chart(
    title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], path: Path
) -> bool | None:
    """Draw a report as a chart into ``path`` (its suffix says the format).

    Called by ``fieldcase report NAME --chart FILE``. firstresult: return True
    once drawn, or None to leave a format you do not draw to another plugin.
    The bundled fieldcase-charts plugin draws PNG and SVG with matplotlib.
    """


@hookspec(firstresult=True)
def render_visit_report(report: VisitReport, path: Path) -> bool | None:
    """Draw a visit report into ``path`` (its suffix says the format, e.g. ``.pdf``).

    Called by ``fieldcase report visit CASE -o FILE`` with the report as the
    person running it may see it (personal data already masked where they
    may not see it). firstresult: return True once drawn, or None to leave a
    format you do not draw to another plugin; raise
    :class:`~fieldcase.errors.FieldcaseError` with a reason a person can act
    on when it cannot be drawn (no file is left). The bundled
    fieldcase-documents plugin draws PDF with fpdf2.
    """


@hookspec(firstresult=True)
def send_message(message: OutgoingMessage, case: Case, settings: Mapping[str, Any]) -> str | None:
    """Send a letter or message that ``fieldcase message`` has recorded as a contact.

    Called after the contact's transaction committed, with the text rendered
    from the institution's template in the borrower's language. firstresult:
    return a receipt (the file written, the gateway's message id) once sent,
    or None to leave the message to another plugin; raise to say it could not
    be sent (the contact stays recorded, the failure is recorded beside it).
    The bundled fieldcase-documents plugin writes letters as PDF and other
    messages as text files into an outbox folder.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``fieldcase`` command line. Called once at start."""


@hookspec
def case_event(case: Case | None, event: Event) -> None:
    """Observe an event after its transaction committed.

    For notifications and integrations; returns nothing. ``case`` is the case
    as it stands after the event (None for events about no case).
    """
