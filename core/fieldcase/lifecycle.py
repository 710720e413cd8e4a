"""Stages, the actions that move a case between them, and their guards, as data."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    CONFIRMATION = "confirmation"
    PREPARATION = "preparation"
    INTERVIEW = "interview"
    FEEDBACK = "feedback"
    CLOSED = "closed"


OPEN_STAGES = (Stage.CONFIRMATION, Stage.PREPARATION, Stage.INTERVIEW, Stage.FEEDBACK)

#: The closed set of action names ``check_action`` receives.
ACTIONS = (
    "create",
    "assign",
    "contact",
    "confirm_address",
    "plan_visit",
    "tick_checklist",
    "start_visit",
    "present_offer",
    "review_offer",
    "accept_offer",
    "promise",
    "record_payment",
    "confirm_payment",
    "reverse_payment",
    "flag",
    "submit_feedback",
    "review",
    "close",
    "reopen",
    "import",
    "export",
    "open_dispute",
    "add_evidence",
    "decide_dispute",
    "grant_hardship",
    "end_hardship",
    "complaint",
    "record_details",
    "inquiry",
    "open_review",
    "void_event",
    "amend_event",
    "attach",
    "checkin",
)

#: Stages in which each action may be taken. Guards beyond the stage live in services.
ALLOWED_STAGES: dict[str, tuple[Stage, ...]] = {
    "assign": OPEN_STAGES,
    "contact": OPEN_STAGES,
    "confirm_address": (Stage.CONFIRMATION,),
    "plan_visit": (Stage.PREPARATION, Stage.INTERVIEW),
    "tick_checklist": (Stage.PREPARATION,),
    "start_visit": (Stage.INTERVIEW,),
    "submit_feedback": (Stage.FEEDBACK,),
    "review": (Stage.FEEDBACK,),
    "close": OPEN_STAGES,
    "reopen": (Stage.CLOSED,),
    # An arrangement may be agreed on the phone as well as on site.
    "present_offer": OPEN_STAGES,
    "review_offer": OPEN_STAGES,
    "accept_offer": OPEN_STAGES,
    "promise": OPEN_STAGES,
    # Money arrives whatever the stage; on a closed case it is recorded, nothing more.
    "record_payment": (*OPEN_STAGES, Stage.CLOSED),
    "confirm_payment": (*OPEN_STAGES, Stage.CLOSED),
    "reverse_payment": (*OPEN_STAGES, Stage.CLOSED),
    # A dispute or a hardship may come up at any point of the visit's path.
    "open_dispute": OPEN_STAGES,
    "add_evidence": OPEN_STAGES,
    "decide_dispute": OPEN_STAGES,
    "grant_hardship": OPEN_STAGES,
    "end_hardship": OPEN_STAGES,
    # A borrower may complain after the case is closed too.
    "complaint": (*OPEN_STAGES, Stage.CLOSED),
    "record_details": OPEN_STAGES,
    # The bureau is asked about an account still being worked, never a closed one.
    "inquiry": OPEN_STAGES,
    # A loan's next review starts once the last one (or its collection) is closed.
    "open_review": (Stage.CLOSED,),
    # A mistake is put right whenever it is found, on a closed case too.
    "void_event": (*OPEN_STAGES, Stage.CLOSED),
    "amend_event": (*OPEN_STAGES, Stage.CLOSED),
    # Photos and documents go with a case being worked; a closed one is reopened first.
    "attach": OPEN_STAGES,
    # Where staff were, on any visit of a case being worked (a confirmation visit too).
    "checkin": OPEN_STAGES,
}

#: Where a review (case kind ``review``) differs from the visit's path: its findings
#: may be submitted from any open stage, the visit being optional.
REVIEW_STAGES: dict[str, tuple[Stage, ...]] = {
    "submit_feedback": OPEN_STAGES,
}

#: How refusal messages name each action: "cannot <verb> case 42".
ACTION_VERBS: dict[str, str] = {
    "create": "create",
    "assign": "assign",
    "contact": "record a contact on",
    "confirm_address": "confirm the address of",
    "plan_visit": "plan a visit for",
    "tick_checklist": "tick the checklist of",
    "start_visit": "record a visit on",
    "present_offer": "present offers on",
    "review_offer": "review an offer on",
    "accept_offer": "accept an offer on",
    "promise": "record a promise on",
    "flag": "change the flags of",
    "record_payment": "record a payment on",
    "confirm_payment": "confirm a payment on",
    "reverse_payment": "reverse a payment on",
    "submit_feedback": "submit feedback on",
    "review": "review",
    "close": "close",
    "reopen": "reopen",
    "import": "import",
    "export": "export",
    "open_dispute": "open a dispute on",
    "add_evidence": "add evidence to",
    "decide_dispute": "decide the dispute of",
    "grant_hardship": "grant a hardship pause on",
    "end_hardship": "end the hardship pause of",
    "complaint": "record a complaint on",
    "record_details": "record contact details on",
    "inquiry": "record a credit-bureau inquiry on",
    "open_review": "open a review of",
    "void_event": "void an event of",
    "amend_event": "amend an event of",
    "attach": "attach files to",
    "checkin": "check in on",
}

#: What a field worker should do next, by stage: used in refusal messages.
NEXT_STEP: dict[Stage, str] = {
    Stage.CONFIRMATION: "confirm the address first (fieldcase confirm)",
    Stage.PREPARATION: "plan the visit and tick the checklist first (fieldcase plan, checklist)",
    Stage.INTERVIEW: "record the interview first (fieldcase interview)",
    Stage.FEEDBACK: "submit feedback and have it reviewed (fieldcase feedback, review)",
    Stage.CLOSED: "reopen the case first (fieldcase reopen)",
}

#: The same for a review of a performing loan.
REVIEW_NEXT_STEP: dict[Stage, str] = {
    Stage.CONFIRMATION: "check the borrower (contacts, inquiry), then confirm the address to "
    "plan a visit, or submit the findings (fieldcase feedback)",
    Stage.PREPARATION: "plan the visit and tick the checklist, or submit the findings "
    "(fieldcase feedback)",
    Stage.INTERVIEW: "record the interview, or submit the findings (fieldcase feedback)",
    Stage.FEEDBACK: "submit the findings and have them reviewed (fieldcase feedback, review)",
    Stage.CLOSED: "open the next review (fieldcase reviews open)",
}

#: What a case is: an overdue loan referred for collection, or a performing loan's review.
CASE_KINDS = ("collection", "review")

#: What set a review off: the schedule, or something the borrower did.
REVIEW_TRIGGERS = (
    "scheduled",
    "cash-withdrawal",
    "limit-increase",
    "installment-request",
    "new-loan-elsewhere",
    "overdue",
    "other",
)

#: What a review recommends; approved, refer-to-collection makes the case a collection
#: case and every other closes the review as ``reviewed``.
REVIEW_RECOMMENDATIONS = (
    "no-action",
    "watch-list",
    "limit-cut",
    "freeze",
    "restructure-offer",
    "refer-to-collection",
)

RESOLUTIONS = (
    "paid",
    "settled",
    "restructured",
    "dispute-upheld",
    "unlocatable",
    "uncollectible",
    "legal-referral",
    "withdrawn",
    "reviewed",
)

#: Resolutions that may close a case before its feedback is approved, and from where.
EARLY_RESOLUTIONS: dict[str, tuple[Stage, ...]] = {
    "paid": OPEN_STAGES,
    "withdrawn": OPEN_STAGES,
    "unlocatable": (Stage.CONFIRMATION, Stage.PREPARATION, Stage.FEEDBACK),
}

#: Resolutions only a supervisor may give before the feedback is approved.
SUPERVISOR_RESOLUTIONS = ("paid", "withdrawn")

RECOMMENDATIONS = (
    "restructure",
    "settlement",
    "revisit",
    "legal-referral",
    "dispute-review",
    "close",
)

#: Why a contact is made: to talk about the debt, to find the borrower, to pass a
#: message, or about an open dispute (allowed while collection is on hold).
PURPOSES = ("collect", "locate", "message", "dispute")

#: Why a borrower disputes an overdue: it was not their fault.
DISPUTE_KINDS = ("deduction-failure", "bank-error", "fraud", "amount", "other")

#: Why a borrower is granted a hardship pause.
HARDSHIP_REASONS = ("illness", "job-loss", "income-loss", "disaster", "bereavement", "other")

#: What a borrower complains about.
COMPLAINT_ABOUT = ("contact-frequency", "conduct", "inquiry", "other")

#: Why the credit bureau is asked about the borrower (``fieldcase inquiry --purpose``).
INQUIRY_PURPOSES = ("post-loan-management", "collection", "application")

#: A soft inquiry leaves the borrower's score alone; a hard one shows to other lenders.
INQUIRY_KINDS = ("soft", "hard")

#: What an attached file is (``fieldcase attach --kind``).
ATTACHMENT_KINDS = ("photo", "statement", "medical", "id-document", "agreement", "other")

#: Flags a case may carry that compliance rules read.
FLAGS = ("cease-communication", "attorney", "no-credit-relationship")

CHANNELS = ("phone", "sms", "letter", "email", "employer", "bureau", "social", "wechat")
#: Channels that carry written electronic messages rather than calls. An institution's
#: own messaging apps (its policy's ``messaging_channels``) are messaging channels too.
MESSAGING_CHANNELS = ("sms", "email", "social", "wechat")
TARGETS = ("borrower", "third-party")
#: The borrower's contact details ``fieldcase details`` records.
DETAIL_KINDS = ("phone", "email", "address")
#: Who a third party is to the borrower (``contact --target third-party --relationship``).
RELATIONSHIPS = (
    "spouse",
    "parent",
    "child",
    "sibling",
    "relative",
    "employer",
    "colleague",
    "reference",
    "friend",
    "other",
)
OUTCOMES = ("reached", "no-answer", "wrong-number", "refused", "left-message")
MET = ("borrower", "relative", "nobody")
EMPLOYMENT = ("employed", "self-employed", "unemployed", "retired", "student", "unknown")
ATTITUDES = ("cooperative", "willing-unable", "evasive", "hostile", "disputes-debt")
ROLES = ("field", "supervisor")

#: Aging buckets in days past due, like delinquency buckets in lending systems.
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("181+", 181, None),
)


def aging_bucket(days_past_due: int) -> str:
    """The bucket label for a number of days past due ('current' when not yet due)."""
    for label, low, high in AGING_BUCKETS:
        if days_past_due >= low and (high is None or days_past_due <= high):
            return label
    return "current"


def bucket_range(label: str) -> tuple[int, int | None]:
    for name, low, high in AGING_BUCKETS:
        if name == label:
            return low, high
    raise ValueError(f"unknown bucket {label!r}")


def stage_allows(action: str, stage: Stage, kind: str = "collection") -> bool:
    stages = REVIEW_STAGES.get(action) if kind == "review" else None
    return stage in (stages or ALLOWED_STAGES.get(action, OPEN_STAGES))


def next_step(stage: Stage, kind: str = "collection") -> str:
    """What to do next on a case of ``kind`` in ``stage``, for refusal messages."""
    return (REVIEW_NEXT_STEP if kind == "review" else NEXT_STEP)[stage]
