"""The domain's values, as attrs classes. Values are frozen: change them with ``attrs.evolve``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from .lifecycle import Stage, aging_bucket
from .money import ratio


@attrs.frozen
class Decision:
    """A plugin's verdict on an action: allowed or not, by which rule, and why."""

    allowed: bool
    rule: str
    reason: str = ""

    @classmethod
    def allow(cls, rule: str, reason: str = "") -> Decision:
        return cls(True, rule, reason)

    @classmethod
    def deny(cls, rule: str, reason: str) -> Decision:
        return cls(False, rule, reason)


@attrs.frozen
class Reason:
    """An overdue-reason code from the taxonomy."""

    code: str
    label: str


@attrs.frozen
class ChecklistItem:
    """One thing to bring or do on a visit."""

    code: str
    label: str
    required: bool = True
    ticked: bool = False


@attrs.frozen
class Staff:
    id: str
    name: str
    role: str  # "field" or "supervisor"
    active: bool = True
    #: The staff member's official identity number (agent licence, badge), if any.
    badge: str = ""

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


@attrs.frozen
class Borrower:
    name: str
    timezone: str
    national_id: str = ""
    phone: str = ""
    address: str = ""
    email: str = ""
    #: Where the borrower lives, as the institution's file gives it: degrees to 6
    #: places, both or neither (personal; what check-ins are measured against).
    latitude: Decimal | None = None
    longitude: Decimal | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def days_late(due: dt.date, today: dt.date) -> int:
    """Whole days from ``due`` to ``today`` (the borrower's calendar), never below 0."""
    return max((today - due).days, 0)


@attrs.frozen
class Case:
    """One overdue borrower account referred for an on-site verification visit."""

    institution: str
    reference: str
    borrower: Borrower
    currency: str
    principal: Decimal
    overdue_amount: Decimal
    overdue_since: dt.date
    referred_at: dt.datetime
    jurisdiction: str = ""
    id: int | None = None
    stage: Stage = Stage.CONFIRMATION
    assigned_to: str | None = None
    eligible: bool = True
    eligibility_note: str = ""
    confirmed_address: str | None = None
    failed_visits: int = 0
    escalated: bool = False
    feedback_status: str | None = None  # submitted | approved | returned
    resolution: str | None = None
    closed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 0
    accrued_interest: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    #: Annual penalty-interest rate on the overdue amount, as a fraction (0.18).
    penalty_rate: Decimal = Decimal(0)
    #: Compliance flags: cease-communication, attorney, no-credit-relationship.
    flags: tuple[str, ...] = ()
    #: When ``fieldcase purge`` removed the personal data, past its retention.
    purged_at: dt.datetime | None = None
    #: The institution's own fields, as its policy declares them (name -> value as
    #: text: ``{"branch": "Harbor-East"}``); see :mod:`fieldcase.attributes`.
    attributes: dict[str, str] = attrs.field(factory=dict, hash=False)
    #: The kind of the dispute open on the case, if any (see :class:`Dispute`).
    dispute: str | None = None
    #: The last day (borrower's local date) of a hardship pause, if one was granted.
    paused_until: dt.date | None = None
    #: After a complaint about contact frequency: fewer contacts up to this local date.
    fewer_contacts_until: dt.date | None = None
    #: ``collection`` (an overdue loan referred for a visit) or ``review`` (a performing
    #: loan's post-loan review; see :class:`Review`).
    kind: str = "collection"
    #: The loan's regular installment: what offers on a performing loan are built on.
    installment: Decimal | None = None
    #: For a review closed as reviewed: the borrower's local date the next one falls due.
    next_review: dt.date | None = None

    @property
    def label(self) -> str:
        return f"{self.institution}/{self.reference}"

    def days_past_due(self, at: dt.datetime) -> int:
        """Days past due at ``at`` in the borrower's time zone; a closed case stops ageing.

        A loan under review with nothing overdue is not past due at all.
        """
        if self.kind == "review" and not self.overdue_amount:
            return 0
        if self.closed_at is not None and at > self.closed_at:
            at = self.closed_at
        return days_late(self.overdue_since, at.astimezone(self.borrower.zone).date())

    def aging_bucket(self, at: dt.datetime) -> str:
        return aging_bucket(self.days_past_due(at))

    def local_date(self, at: dt.datetime) -> dt.date:
        """The borrower's calendar day at ``at``."""
        return at.astimezone(self.borrower.zone).date()

    def paused(self, at: dt.datetime) -> bool:
        """Whether a hardship pause covers the borrower's day at ``at``."""
        return self.paused_until is not None and self.local_date(at) <= self.paused_until


@attrs.frozen
class ContactAttempt:
    case_id: int
    channel: str
    target: str
    outcome: str
    at: dt.datetime
    staff: str
    note: str = ""
    #: Why the contact was made: collect (talk about the debt), locate, or message.
    purpose: str = "collect"
    id: int | None = None
    #: Who a third party is to the borrower (spouse, employer, reference...); empty for
    #: the borrower, and for contacts recorded before fieldcase asked.
    relationship: str = ""
    #: A letter or message rendered from the institution's template (``fieldcase
    #: message``): the template's name and the language of the text; empty for any
    #: other contact.
    template: str = ""
    language: str = ""
    #: The SHA-256 (hex) of the text as rendered, in UTF-8 (personal: a fingerprint
    #: of a text that names the borrower can be tried against guesses).
    message_sha256: str = ""
    #: Where it went (the phone, email or address the case held), its subject and
    #: its text (personal).
    recipient: str = ""
    message_subject: str = ""
    message_text: str = ""
    #: ``pending`` until a plugin was asked to send it, then ``sent`` or ``failed``.
    delivery: str = ""
    #: What the sending plugin returned (the file written, the gateway's message id).
    receipt: str = ""
    #: Why it could not be sent (personal: a gateway may name the recipient).
    delivery_error: str = ""


@attrs.frozen
class ContactDetail:
    """A phone number, email or address learned or verified while working a case.

    Each is a new record: a correction is another one, never an edit. The
    latest of each kind is the borrower's current one.
    """

    case_id: int
    #: ``phone``, ``email`` or ``address`` (:data:`fieldcase.lifecycle.DETAIL_KINDS`).
    kind: str
    value: str
    at: dt.datetime
    staff: str
    #: Whether it was verified (called back, seen on a document), not only heard of.
    verified: bool = False
    #: The channel it came from (``phone``, ``wechat``...), ``visit`` or ``institution``.
    source: str = ""
    note: str = ""
    #: The borrower's value of this kind before it (empty if there was none).
    previous: str = ""
    id: int | None = None


@attrs.frozen
class Visit:
    """A planned visit and, once made, what was found on site."""

    case_id: int
    number: int
    date: dt.date
    window_start: dt.time
    window_end: dt.time
    timezone: str
    staff: tuple[str, ...]
    planned_by: str
    planned_at: dt.datetime
    checklist: tuple[ChecklistItem, ...] = ()
    status: str = "planned"  # planned | done | failed
    met: str | None = None
    reason_code: str | None = None
    employment: str | None = None
    monthly_income: Decimal | None = None
    other_debts: Decimal | None = None
    multi_lender: bool | None = None
    #: How many lenders the borrower owes, this one included.
    lenders: int | None = None
    monthly_repayments: Decimal | None = None
    #: The trade of the borrower's business or employer: short free text, not personal.
    industry: str | None = None
    #: The employer, or the borrower's own business: names people and firms, so personal.
    employer: str | None = None
    suppliers: str | None = None
    buyers: str | None = None
    attitude: str | None = None
    notes: str = ""
    visited_at: dt.datetime | None = None
    recorded_by: str | None = None
    id: int | None = None

    @property
    def debt_to_income(self) -> Decimal | None:
        """Other debts as a multiple of monthly income (2 places); None without both."""
        return ratio(self.other_debts, self.monthly_income)

    @property
    def repayments_to_income(self) -> Decimal | None:
        """Monthly repayments as a share of monthly income (2 places); None without both."""
        return ratio(self.monthly_repayments, self.monthly_income)

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """The visit window as aware datetimes in the borrower's time zone."""
        zone = ZoneInfo(self.timezone)
        start = dt.datetime.combine(self.date, self.window_start, tzinfo=zone)
        end = dt.datetime.combine(self.date, self.window_end, tzinfo=zone)
        return start, end

    @property
    def checklist_ready(self) -> bool:
        return all(item.ticked for item in self.checklist if item.required)


@attrs.frozen
class Feedback:
    """The finalised visit record fed back to the institution; immutable once submitted."""

    case_id: int
    recommendation: str
    summary: str
    submitted_by: str
    submitted_at: dt.datetime
    visit_id: int | None = None
    review_status: str = "submitted"  # submitted | approved | returned
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    review_note: str = ""
    id: int | None = None


@attrs.frozen
class Dispute:
    """The borrower says the overdue is not their fault: a failed deduction, a bank error...

    Open, it holds collection (contacts and visits are refused, penalty interest
    stops); a supervisor upholds it (the penalty from ``since`` and, by policy,
    all the fees are reversed, and a credit-record correction is requested) or
    rejects it (the case carries on where it was).
    """

    case_id: int
    kind: str  # deduction-failure | bank-error | fraud | amount | other
    #: The borrower's local date from which the overdue is disputed.
    since: dt.date
    opened_at: dt.datetime
    opened_by: str
    note: str = ""
    status: str = "open"  # open | upheld | rejected
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    decision_note: str = ""
    #: Whether upholding it reversed the fees too (the institution's policy).
    fees_reversed: bool = False
    id: int | None = None


@attrs.frozen
class Evidence:
    """A document offered for a case (a bank statement, a police report): what it is and
    its SHA-256 fingerprint, so that the copy the institution holds can be checked."""

    case_id: int
    description: str
    sha256: str
    added_at: dt.datetime
    added_by: str
    dispute_id: int | None = None
    id: int | None = None


@attrs.frozen
class Hardship:
    """A pause granted to a borrower hit by illness, job loss...: no collection until ``until``.

    During it the worklist leaves the case out, collection contacts and visits
    are refused, promises due are not broken, and penalty interest accrues at
    ``penalty_share`` of its rate (0: frozen).
    """

    case_id: int
    reason: str
    starts: dt.date
    until: dt.date
    granted_at: dt.datetime
    granted_by: str
    penalty_share: Decimal = Decimal(0)
    note: str = ""
    #: Set when it was ended by hand before ``until`` (the last day it covered).
    ended_on: dt.date | None = None
    ended_at: dt.datetime | None = None
    ended_by: str | None = None
    end_note: str = ""
    id: int | None = None

    @property
    def last_day(self) -> dt.date:
        """The last day the pause covers: ``until``, or the day it was ended."""
        return self.ended_on if self.ended_on is not None else self.until

    def covers(self, day: dt.date) -> bool:
        return self.starts <= day <= self.last_day


@attrs.frozen
class Complaint:
    """A borrower's complaint: about contact frequency, conduct, an inquiry, or other."""

    case_id: int
    about: str  # contact-frequency | conduct | inquiry | other
    at: dt.datetime
    recorded_by: str
    note: str = ""
    #: For a complaint about frequency: fewer contacts up to this local date.
    fewer_contacts_until: dt.date | None = None
    id: int | None = None


@attrs.frozen
class Inquiry:
    """A credit-bureau inquiry made about the borrower (``fieldcase inquiry``): why, what
    kind, at which bureau. Rules count them (``default.inquiries``, the packs' own)."""

    case_id: int
    purpose: str  # post-loan-management | collection | application
    kind: str  # soft | hard
    at: dt.datetime
    staff: str
    #: The bureau asked ("PBOC Credit Reference Center"), if said.
    bureau: str = ""
    note: str = ""
    id: int | None = None


@attrs.frozen
class Attachment:
    """A file attached to a case (``fieldcase attach``): a photo or a document, kept in
    the database by its SHA-256 fingerprint. Every attachment counts as personal data."""

    case_id: int
    #: photo | statement | medical | id-document | agreement | other
    kind: str
    #: The SHA-256 of its bytes, 64 hex digits: the key of the stored file.
    sha256: str
    size: int
    #: The type its bytes are (``image/jpeg``), never what its name says.
    media_type: str
    at: dt.datetime
    staff: str
    #: The visit it was taken on, by number, if said.
    visit_number: int | None = None
    #: The file's name as given (personal: it may name the borrower).
    filename: str = ""
    note: str = ""
    #: When a photo was taken, from its EXIF (no offset there: the borrower's time zone).
    taken_at: dt.datetime | None = None
    #: Where a photo was taken, from its EXIF GPS: degrees to 6 places (personal).
    lat: Decimal | None = None
    lon: Decimal | None = None
    #: When a purge removed its file and personal fields (None: kept).
    purged_at: dt.datetime | None = None
    id: int | None = None


@attrs.frozen
class CreditCorrection:
    """A request to the institution to correct the borrower's credit record, from an upheld
    dispute: the overdue reported from ``since`` was not the borrower's fault."""

    case_id: int
    dispute_id: int
    since: dt.date
    reason: str
    requested_at: dt.datetime
    requested_by: str
    id: int | None = None


@attrs.frozen
class Review:
    """One post-loan review of a loan: why it was opened, and what it found.

    A review case (``Case.kind == "review"``) runs a short path: the check
    (contacts, a bureau inquiry), an optional visit, and findings with a
    recommendation a supervisor approves. Approved, ``refer-to-collection``
    makes the case a collection case; anything else closes the review as
    ``reviewed`` and sets the date the next one falls due.
    """

    #: None only until the case a ``create --kind review`` opens is saved with it.
    case_id: int | None
    trigger: str  # scheduled | cash-withdrawal | limit-increase | ...
    opened_at: dt.datetime
    opened_by: str
    #: The borrower's local date it was opened: from then on no penalty interest accrues
    #: while the loan is under review.
    opened_on: dt.date
    note: str = ""
    status: str = "open"  # open | reviewed | referred | withdrawn
    recommendation: str | None = None
    finished_at: dt.datetime | None = None
    finished_by: str | None = None
    #: The borrower's local date the review ended (closed, or referred to collection).
    finished_on: dt.date | None = None
    #: When the next review falls due (none when the policy schedules none).
    next_review: dt.date | None = None
    id: int | None = None
    #: The first day no penalty accrues: the day the loan's case was closed, when the
    #: review is of a closed case (paid, then reviewed: nothing accrues in between);
    #: None for reviews recorded before this was kept (their ``opened_on``).
    relief_from: dt.date | None = None


@attrs.frozen
class ScheduledPayment:
    due: dt.date
    amount: Decimal


@attrs.frozen
class Offer:
    """A repayment option computed by a plugin for a case (installments, waiver...).

    Plugins fill the first fields; fieldcase fills the rest when it presents,
    approves or accepts the offer.
    """

    code: str
    kind: str  # installment | extension | waiver | settlement
    label: str
    currency: str
    total_payable: Decimal
    schedule: tuple[ScheduledPayment, ...] = ()
    expires: dt.date | None = None
    terms: dict[str, Any] = attrs.field(factory=dict)
    #: What the borrower saves against the balance (negative when it costs more).
    saving: Decimal = Decimal(0)
    balance: Decimal | None = None
    case_id: int | None = None
    status: str = "presented"  # presented | needs-approval | approved | accepted | superseded
    presented_at: dt.datetime | None = None
    presented_by: str | None = None
    reviewed_by: str | None = None
    accepted_at: dt.datetime | None = None
    id: int | None = None


@attrs.frozen
class Promise:
    """A promise to pay ``amount`` by ``due`` (the borrower's local date)."""

    case_id: int
    amount: Decimal
    due: dt.date
    made_at: dt.datetime
    made_by: str
    offer_id: int | None = None
    number: int = 1
    id: int | None = None


#: A payment's statuses: only a confirmed one counts toward the balance and promises.
PAYMENT_STATUSES = ("reported", "confirmed", "reversed")


@attrs.frozen
class Payment:
    """Money received, at ``at`` (when it was paid), under the bank's ``reference``.

    Reported by field staff, it is shown but not counted until a supervisor (or
    the bank's payment file) confirms it; one recorded by a supervisor is
    confirmed at once. A reversed payment stopped counting; it stays on record.
    """

    case_id: int
    amount: Decimal
    at: dt.datetime
    reference: str
    recorded_by: str
    id: int | None = None
    #: ``reported``, ``confirmed`` or ``reversed`` (:data:`PAYMENT_STATUSES`).
    status: str = "confirmed"
    confirmed_by: str | None = None
    #: When it was confirmed (the action's time; ``at`` stays the money's time).
    confirmed_at: dt.datetime | None = None
    reversed_by: str | None = None
    reversed_at: dt.datetime | None = None
    #: Why it was reversed.
    reversal_reason: str | None = None

    @property
    def counts(self) -> bool:
        """Whether it counts toward the balance, promises and closing the case."""
        return self.status == "confirmed"


@attrs.frozen
class EventCorrection:
    """A recorded event put right: voided (as if it had not happened) or amended.

    The event itself stays in its chain, untouched; the correction is an event of
    its own that names it, and this record says what it changed.
    """

    case_id: int
    #: The event corrected, and its type.
    event_id: int
    event_type: str
    kind: str  # void | amend
    #: Why, in the words of whoever corrected it.
    reason: str
    made_by: str
    made_at: dt.datetime
    #: What changed: an amendment's fields, each ``[before, after]``; a void's rows
    #: removed (``{"removed": {"contacts": [7]}}``) and restored.
    changes: dict[str, Any] = attrs.field(factory=dict)
    id: int | None = None


@attrs.frozen
class CheckIn:
    """Where a field worker was on site (``fieldcase checkin``, or ``interview --lat
    --lon``), and how far that was from where the borrower is known to be.

    A check-in farther than the institution's limit is recorded with ``far``
    set, for a supervisor to look at; it is never refused (the record may be
    wrong, not the field worker). See :mod:`fieldcase.checkins`.
    """

    case_id: int
    #: The visit it was made on, by number; None when no visit was planned.
    visit_number: int | None
    at: dt.datetime
    staff: str
    #: Degrees to 6 places (personal); None once purged, or masked for a viewer who
    #: may not see the case's personal data.
    lat: Decimal | None
    lon: Decimal | None
    #: How far off the position may be, in metres, as the device said; None: not said.
    accuracy_m: int | None = None
    #: Metres from the reference; None when no location was known to compare with.
    distance_m: int | None = None
    #: What it was compared with: ``imported`` (the case's own coordinates),
    #: ``first-visit`` (the first check-in of the first visit that met someone), or "".
    reference: str = ""
    #: The policy's ``checkin_max_distance_m`` when it was made; None: no limit.
    limit_m: int | None = None
    #: Farther than the limit, even were the position off by its whole accuracy.
    far: bool = False
    id: int | None = None


@attrs.frozen
class ActionContext:
    """What ``check_action`` knows about the action: when, who, how, to whom."""

    at: dt.datetime
    actor: str
    channel: str | None = None
    target: str | None = None
    window: tuple[dt.datetime, dt.datetime] | None = None
    staff: tuple[str, ...] = ()
    extra: dict[str, Any] = attrs.field(factory=dict)
    #: The case's contact attempts so far, oldest first (for frequency rules).
    contacts: tuple[ContactAttempt, ...] = ()
    #: The staff taking part (the actor and the visiting staff), with their badges.
    staff_members: tuple[Staff, ...] = ()
    #: The case's visits so far, planned and made, oldest first (for visit-frequency
    #: rules); given for ``plan_visit`` and ``start_visit``.
    visits: tuple[Visit, ...] = ()
    #: The case's credit-bureau inquiries so far, oldest first (for inquiry-frequency
    #: rules); given for ``inquiry`` and for a ``contact`` on channel ``bureau``.
    inquiries: tuple[Inquiry, ...] = ()


@attrs.frozen
class Event:
    """One append-only entry of the audit log; ``payload`` carries the whole change."""

    type: str
    chain: str
    actor: str | None
    #: The claimed time: when the action happened, as the person said (``--at``).
    at: dt.datetime
    payload: dict[str, Any]
    case_id: int | None = None
    id: int | None = None
    prev_hash: str = ""
    hash: str = ""
    #: The real time the event was written (None on events older than migration 010).
    recorded_at: dt.datetime | None = None
    #: The version of the institution's policy that judged the action, if any.
    policy_version: int | None = None


@attrs.frozen
class Institution:
    """A lender whose cases fieldcase works, with the policy now in force for them.

    ``jurisdiction``, ``timezone`` and ``currency`` are the defaults of its
    cases; ``policy`` is the whole policy at ``policy_version`` (see
    :mod:`fieldcase.policy` for its keys).
    """

    id: str
    name: str
    jurisdiction: str
    timezone: str
    currency: str
    policy: dict[str, Any] = attrs.field(factory=dict)
    policy_version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@attrs.frozen
class PolicyVersion:
    """One version of an institution's policy: what was in force from ``at`` on."""

    institution: str
    version: int
    policy: dict[str, Any]
    at: dt.datetime
    actor: str | None
    id: int | None = None


@attrs.frozen
class OutgoingMessage:
    """A letter or message rendered from an institution's template, to be sent.

    ``fieldcase message`` records it as a contact (``contact_id``) before any
    plugin sends it (hook ``send_message``); ``sha256`` is the fingerprint of
    ``text`` (UTF-8) that the contact's event carries.
    """

    case_id: int
    contact_id: int
    template: str
    channel: str
    #: The language the text was rendered in (``zh``, ``en``...).
    language: str
    #: Where it goes: the borrower's phone, email or address, as the case holds it.
    recipient: str
    text: str
    sha256: str
    at: dt.datetime
    staff: str
    #: A letter's or email's subject line; empty for short messages.
    subject: str = ""
