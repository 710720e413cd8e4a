"""Read-only access to fieldcase's data for plugins: reports, exporters, commands.

A plugin reads cases and everything recorded about them through a
:class:`Reader`, never through SQL: the records are fieldcase's own typed
values (:mod:`fieldcase.model`), named fields, amounts as ``Decimal``, times
aware, so the same plugin works on any store fieldcase runs on. A reader
cannot change anything.

A reader reads as someone: ``services.reader(viewer)``. Personal data
(phone, national id, addresses, notes, the financial situation found on a
visit) is masked in the cases of which ``viewer`` may not see it, exactly
as ``fieldcase show`` masks it: supervisors see every case in clear, field
staff the cases they are assigned to or visit, nobody named none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .lifecycle import Stage
from .model import (
    Attachment,
    Case,
    CheckIn,
    Complaint,
    ContactAttempt,
    ContactDetail,
    Dispute,
    Event,
    EventCorrection,
    Evidence,
    Feedback,
    Hardship,
    Inquiry,
    Institution,
    Offer,
    Payment,
    Promise,
    Reason,
    Review,
    Staff,
    Visit,
)
from .privacy import (
    mask_attachments,
    mask_case_file,
    mask_checkins,
    mask_details,
    mask_event_data,
    mask_notes,
    sees_in_clear,
)
from .repayment import Balance, PromiseStatus, promise_statuses

if TYPE_CHECKING:
    from .services import Services

T = TypeVar("T")

#: How many cases :meth:`Reader.cases` reads from the store at a time.
PAGE = 500


class Reader:
    """Typed, read-only queries over one fieldcase database, as ``viewer`` may see it."""

    def __init__(self, services: Services, viewer: str | None = None) -> None:
        self._services = services
        self._store = services.store
        self.viewer = viewer
        self._staff = services.actor(viewer) if viewer is not None else None

    # -- cases --------------------------------------------------------------------

    def cases(
        self,
        *,
        institution: str | None = None,
        stage: Stage | str | None = None,
        assigned_to: str | None = None,
        where: Mapping[str, str] | None = None,
        include_closed: bool = True,
    ) -> Iterator[Case]:
        """Cases in id order, filtered: by institution, stage, assignee, and attributes
        (``where={"branch": "Harbor-East"}``: each named attribute equals the value).

        Ineligible cases are included; closed ones unless ``include_closed=False``.
        Read page by page, so a portfolio of any size streams.
        """
        from .store import WorklistFilter

        filters = WorklistFilter(
            stage=str(stage) if stage is not None else None,
            staff=assigned_to,
            institution=institution,
            include_closed=include_closed,
            include_ineligible=True,
            include_paused=True,
            where=dict(where or {}),
        )
        # No filter here depends on the day; the worklist's query wants a time.
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        offset = 0
        while page := self._store.list_cases(filters, epoch, limit=PAGE, offset=offset):
            for case in page:
                yield self._as_seen(case)
            offset += len(page)

    def case(self, ref: str | int) -> Case:
        """One case by id (``12``) or ``institution/reference``; CaseNotFound if none."""
        return self._as_seen(self._store.get_case(ref))

    # -- what was recorded about a case ----------------------------------------------

    def contacts(self, case: Case) -> list[ContactAttempt]:
        """The case's contact attempts, oldest first."""
        found = self._store.contacts(_id(case))
        return found if self._sees(case) else mask_case_file(case, found, [], [])[1]

    def contact_details(self, case: Case) -> list[ContactDetail]:
        """The phones, emails and addresses recorded on the case since referral, oldest first."""
        found = self._store.contact_details(_id(case))
        return found if self._sees(case) else mask_details(found)

    def visits(self, case: Case) -> list[Visit]:
        """The case's visits, by number."""
        found = self._store.visits(_id(case), case.currency)
        return found if self._sees(case, found) else mask_case_file(case, [], found, [])[2]

    def feedback(self, case: Case) -> list[Feedback]:
        """The feedback submitted on the case's visits, oldest first."""
        found = self._store.feedback(_id(case))
        return found if self._sees(case) else mask_case_file(case, [], [], found)[3]

    def offers(self, case: Case) -> list[Offer]:
        """Every repayment offer made on the case, with its status, oldest first."""
        return self._store.offers(_id(case))

    def promises(self, case: Case) -> list[Promise]:
        """The case's promises to pay, by due date."""
        return self._store.promises(_id(case), case.currency)

    def promise_statuses(self, case: Case, at: dt.datetime) -> list[PromiseStatus]:
        """Each promise with its status at ``at`` (aware): ``open``, ``kept`` or ``broken``
        (not met by its due date, the borrower's local date, once that day has passed),
        and how much of it payments covered."""
        return promise_statuses(
            self.promises(case),
            self.payments(case),
            case.borrower.timezone,
            at,
            self._store.hardships(_id(case)),
        )

    def disputes(self, case: Case) -> list[Dispute]:
        """The case's disputes (open, upheld, rejected), oldest first; notes masked unless
        the viewer sees the case in clear."""
        return self._notes(case, self._store.disputes(_id(case)))

    def evidence(self, case: Case) -> list[Evidence]:
        """Documents offered for the case: description (masked likewise) and SHA-256."""
        return self._notes(case, self._store.evidence(_id(case)))

    def hardships(self, case: Case) -> list[Hardship]:
        """The case's hardship pauses, oldest first; notes masked likewise."""
        return self._notes(case, self._store.hardships(_id(case)))

    def complaints(self, case: Case) -> list[Complaint]:
        """The borrower's complaints, oldest first; notes masked likewise."""
        return self._notes(case, self._store.complaints(_id(case)))

    def inquiries(self, case: Case) -> list[Inquiry]:
        """The credit-bureau inquiries made about the borrower, oldest first; notes masked
        likewise."""
        return self._notes(case, self._store.inquiries(_id(case)))

    def checkins(self, case: Case) -> list[CheckIn]:
        """Where staff checked in on the case's visits, oldest first: each with its
        distance from the borrower's known location and whether it was too far; the
        positions masked (None) unless the viewer sees the case in clear."""
        found = self._store.checkins(_id(case))
        return found if self._sees(case) else mask_checkins(found)

    def reviews(self, case: Case) -> list[Review]:
        """The loan's post-loan reviews, oldest first; notes masked likewise."""
        return self._notes(case, self._store.reviews(_id(case)))

    def attachments(self, case: Case) -> list[Attachment]:
        """The photos and documents attached to the case, oldest first; their names,
        notes and places masked unless the viewer sees the case in clear."""
        found = self._store.attachments(_id(case))
        return found if self._sees(case) else mask_attachments(found)

    def attachment_content(self, attachment: Attachment) -> bytes:
        """The attachment's file, checked against its fingerprint. Only for a viewer who
        sees its case in clear: anyone else gets :class:`~fieldcase.errors.NotPermitted`,
        as ``fieldcase attachment get`` refuses them; a purged or damaged file is a
        :class:`~fieldcase.errors.FieldcaseError` saying so."""
        from .attachments import attachment_content

        return attachment_content(self._services, attachment, self.viewer)

    def corrections(self, case: Case) -> list[EventCorrection]:
        """Its events voided or amended, oldest first; an amendment's values withheld
        unless the viewer sees the case (they are the record's own: notes, finances)."""
        found = self._store.corrections(_id(case))
        if self._sees(case):
            return found
        return [
            attrs.evolve(
                c,
                reason="",
                changes={"fields": sorted(c.changes)} if c.kind == "amend" else c.changes,
            )
            for c in found
        ]

    def payments(self, case: Case) -> list[Payment]:
        """The payments recorded on the case, oldest first, with their status: only
        those whose ``counts`` is true (confirmed) count as paid."""
        return self._store.payments(_id(case), case.currency)

    def balance(self, case: Case, at: dt.datetime) -> Balance:
        """What the case owes at ``at`` (aware): principal, interest, fees, penalty, paid."""
        from .arrangements import balance_of

        _id(case)
        return balance_of(self._services, case, at)

    def events(
        self,
        case: Case | None = None,
        *,
        types: Iterable[str] = (),
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> Iterator[Event]:
        """Events of one case (or of all), oldest first: of ``types`` (all if empty),
        claimed at or after ``start`` and before ``end``. Their data is masked where
        the viewer may not see the case's personal data, and then without their hashes
        (as ``fieldcase history`` shows them); their rows are left out."""
        wanted = set(types)
        seen: dict[int, bool] = {}
        for event in self._store.iter_events(_id(case) if case is not None else None):
            if wanted and event.type not in wanted:
                continue
            if (start is not None and event.at < start) or (end is not None and event.at >= end):
                continue
            data = event.payload.get("data") or {}
            hashed = True
            if event.case_id is not None:
                if event.case_id not in seen:
                    seen[event.case_id] = self._sees(self._store.get_case(event.case_id))
                if not seen[event.case_id] or event.payload.get("redacted") is True:
                    data = mask_event_data(data, event.type)
                # A hash over guessable data would let a masked value be found by trying.
                hashed = seen[event.case_id]
            yield attrs.evolve(
                event,
                payload={"data": data},
                hash=event.hash if hashed else "",
                prev_hash=event.prev_hash if hashed else "",
            )

    # -- the office -------------------------------------------------------------------

    def staff(self) -> list[Staff]:
        """Every staff member, deactivated ones included."""
        return self._store.list_staff()

    def institutions(self) -> list[Institution]:
        """Every registered institution, with its policy in force."""
        return self._store.list_institutions()

    def policy(self, institution: str) -> Mapping[str, Any]:
        """The institution's policy in force (read-only), as hooks get it in ``settings``."""
        return self._services.institution(institution).policy

    def reasons(self) -> dict[str, Reason]:
        """The overdue-reason taxonomy, code -> :class:`Reason` (defaults and plugins')."""
        return dict(self._services.reasons())

    def sees_in_clear(self, case: Case) -> bool:
        """Whether the viewer sees ``case``'s personal data in clear (else it reads masked)."""
        return self._sees(case)

    # -- masking --------------------------------------------------------------------------

    def _sees(self, case: Case, visits: list[Visit] | None = None) -> bool:
        return sees_in_clear(
            self._staff,
            case,
            lambda: visits if visits is not None else self._store.visits(_id(case), case.currency),
        )

    def _notes(self, case: Case, records: list[T]) -> list[T]:
        return records if self._sees(case) else mask_notes(records)

    def _as_seen(self, case: Case) -> Case:
        return case if self._sees(case) else mask_case_file(case, [], [], [])[0]


def _id(case: Case) -> int:
    if case.id is None:
        raise ValueError("the case has no id: it is not stored")
    return case.id
