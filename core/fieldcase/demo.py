"""A deterministic sample portfolio in mid-flight, a month after its cases were referred.

At the demo's now every stage holds cases: each field worker has calls to
make and made, visits planned for today and tomorrow in the borrowers' zones,
promises falling due today (and one broken), feedback awaiting review (and one
returned), and cases closed, restructured or settled (see ``PORTFOLIO``).

The institutions are registered with the rule packs of their countries
(China, US Regulation F, India RBI) where those plugins are installed, and
the walk obeys them: calls in local working hours, two staff on a Chinese
visit, agents' identity numbers on record, no visit on an institution's
holiday. One call is made too late, so the demo's history shows a refusal
with its citation. Money is recorded by supervisors, as a back office would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

from .errors import Refused
from .model import Case
from .policy import Schema
from .services import Services


@attrs.frozen
class Institution:
    id: str
    name: str
    packs: tuple[str, ...]
    jurisdiction: str
    timezones: tuple[str, ...]
    currency: str
    names: str  # "zh", "en" or "in"
    staff: tuple[str, ...]
    supervisor: str
    cities: tuple[str, ...]


INSTITUTIONS = (
    Institution(
        "hx-consumer",
        "华夏消费金融 Huaxia Consumer Finance",
        ("cn",),
        "CN",
        ("Asia/Shanghai",),
        "CNY",
        "zh",
        ("li.na", "zhang.min"),
        "chen.wei",
        ("上海市浦东新区", "杭州市西湖区", "南京市鼓楼区", "苏州市姑苏区"),
    ),
    Institution(
        "pearl-river-bank",
        "珠江银行 Pearl River Bank",
        ("cn",),
        "CN",
        ("Asia/Shanghai", "Asia/Urumqi"),
        "CNY",
        "zh",
        ("zhang.min", "li.na"),
        "chen.wei",
        ("广州市天河区", "深圳市南山区", "乌鲁木齐市天山区", "佛山市禅城区"),
    ),
    Institution(
        "example-bank",
        "Example Bank",
        ("us-regf",),
        "US-NY",
        ("America/New_York",),
        "USD",
        "en",
        ("maria.lopez",),
        "ann.hughes",
        ("Brooklyn, NY", "Queens, NY", "Yonkers, NY", "Buffalo, NY"),
    ),
    Institution(
        "midwest-credit",
        "Midwest Credit Union",
        ("us-regf",),
        "US-IL",
        ("America/Chicago",),
        "USD",
        "en",
        ("maria.lopez",),
        "ann.hughes",
        ("Chicago, IL", "Springfield, IL", "Peoria, IL", "Naperville, IL"),
    ),
    Institution(
        "deccan-finance",
        "Deccan Finance",
        ("in-rbi",),
        "IN",
        ("Asia/Kolkata",),
        "INR",
        "in",
        ("raj.patel",),
        "ann.hughes",
        ("Pune, MH", "Hyderabad, TS", "Bengaluru, KA", "Nagpur, MH"),
    ),
)

STAFF = (
    ("chen.wei", "陈伟 Chen Wei", "supervisor", ""),
    ("ann.hughes", "Ann Hughes", "supervisor", ""),
    ("li.na", "李娜 Li Na", "field", "CN-SH-0417"),
    ("zhang.min", "张敏 Zhang Min", "field", "CN-SH-0522"),
    ("maria.lopez", "Maria Lopez", "field", "NY-CA-2210"),
    ("raj.patel", "Raj Patel", "field", "MH-RA-8731"),
)

ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
ZH_GIVEN = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "建国",
    "小红",
)
EN_FIRST = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "Daniel",
    "Susan",
    "Carlos",
    "Aisha",
    "Kevin",
    "Grace",
)
EN_LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Nguyen",
    "Kim",
    "O'Brien",
    "Okafor",
)
IN_FIRST = (
    "Aarav",
    "Priya",
    "Vihaan",
    "Ananya",
    "Arjun",
    "Diya",
    "Rohan",
    "Kavya",
    "Ishaan",
    "Meera",
    "Sanjay",
    "Lakshmi",
)
IN_LAST = (
    "Sharma",
    "Patel",
    "Reddy",
    "Iyer",
    "Nair",
    "Gupta",
    "Deshmukh",
    "Kulkarni",
    "Rao",
    "Singh",
)
STREETS = {
    "zh": ("人民路", "中山路", "解放路", "建设路", "和平路"),
    "en": ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Pl"),
    "in": ("MG Road", "Station Road", "Gandhi Nagar", "Nehru Marg", "Tilak Road"),
}


def _phone(rng: random.Random, currency: str) -> str:
    """A well-formed mobile or city number of the institution's country."""
    if currency == "USD":
        return f"+1 212 {rng.randrange(200, 999)} {rng.randrange(1000, 9999)}"
    if currency == "INR":
        return f"+91 98{rng.randrange(100, 999)} {rng.randrange(10000, 99999)}"
    return f"+86 138 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"


#: Annual penalty-interest rates by country, for the sample portfolio.
PENALTY_RATE = {"CN": Decimal("0.18"), "US": Decimal("0.10"), "IN": Decimal("0.24")}

#: Where each jurisdiction's made-up borrowers live, near enough: check-ins scatter about it.
CENTRES = {
    "CN": (Decimal("31.230416"), Decimal("121.473701")),
    "US-NY": (Decimal("40.678178"), Decimal("-73.944158")),
    "US-IL": (Decimal("41.878113"), Decimal("-87.629799")),
    "IN": (Decimal("18.520430"), Decimal("73.856744")),
}


def _position(case: Case) -> tuple[Decimal, Decimal]:
    """Where the staff stood when they met the borrower of ``case``: the same each build."""
    assert case.id is not None
    lat, lon = CENTRES[case.jurisdiction]
    return lat + Decimal(case.id % 97) / 1000, lon + Decimal(case.id % 89) / 1000


def is_demo_database(path: Path) -> bool:
    """Whether ``path`` was built by the demo: safe to replace.

    The demo records ``demo_built``; one built before it did is known by holding
    exactly the demo's staff and only its institutions' cases.
    """
    from .store.sqlite import has_event, staff_and_institutions

    if has_event(path, "demo_built"):
        return True
    found = staff_and_institutions(path)
    return found is not None and (
        found[0] == {s[0] for s in STAFF} and found[1] <= {i.id for i in INSTITUTIONS}
    )


def _name(rng: random.Random, style: str) -> str:
    if style == "zh":
        return rng.choice(ZH_SURNAMES) + rng.choice(ZH_GIVEN)
    if style == "in":
        return f"{rng.choice(IN_FIRST)} {rng.choice(IN_LAST)}"
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"


def _address(rng: random.Random, inst: Institution) -> str:
    city = rng.choice(inst.cities)
    street = rng.choice(STREETS[inst.names])
    number = rng.randint(1, 999)
    if inst.names == "zh":
        return f"{city}{street}{number}号"
    return f"{number} {street}, {city}"


#: How long before the demo's now its cases were referred: the story fills the month.
REFERRED_DAYS = 30


@attrs.frozen
class DemoResult:
    institutions: tuple[str, ...]
    #: Cases taken on from confirmation (the rest wait there, untouched).
    walked: int
    #: A case walked through every stage to closure, to look at first.
    showcase: int
    now: dt.datetime
    #: Cases by stage, every stage named.
    stages: tuple[tuple[str, int], ...] = ()


class _DemoServices(Services):
    """The services the demo tells its story with. No plugin comes or goes while it
    is built, so what the plugins declare (:meth:`Services.policy_schema`, read
    afresh by every action of an office) is read once: reading the installed
    distributions' metadata was most of the demo's time."""

    _plugins_schema: Schema | None = None

    def policy_schema(self) -> Schema:
        if self._plugins_schema is None:
            self._plugins_schema = super().policy_schema()
        return self._plugins_schema


def build_demo(
    services: Services,
    now: dt.datetime,
    *,
    count: int = 300,
    seed: int = 20261102,
    progress: Callable[[int], object] = lambda n: None,
) -> DemoResult:
    """Fill ``services``' (empty) database; the same seed and ``now`` give the same portfolio.

    ``now`` is the demo's present. The cases are referred a month before it,
    and the month is told day by day in each borrower's time zone, so that at
    ``now`` every stage holds cases: calls made and still to make, visits
    planned for today and tomorrow, promises falling due today and one broken,
    feedback awaiting review and one returned, cases closed. The story is
    written by services that take each claimed time as the real one, and its
    events' salts come from the seed.
    """
    services = _DemoServices(services.store, services.pm, clock=None)
    rng = random.Random(seed)
    # Its people are made up: salts from the seed keep two demos byte-identical.
    salts = random.Random(seed + 1)
    services.store.salt = lambda: f"{salts.getrandbits(128):032x}"
    referred = now - dt.timedelta(days=REFERRED_DAYS)
    clock = referred
    for staff_id, name, role, badge in STAFF:
        services.add_staff(staff_id, name, role, actor="chen.wei", at=clock, badge=badge)
    installed, plugins = services.policy_schema().packs, services.policy_schema().plugins
    for inst in INSTITUTIONS:
        packs = [pack for pack in inst.packs if pack in installed]
        services.add_institution(
            inst.id,
            name=inst.name,
            jurisdiction=inst.jurisdiction,
            timezone=inst.timezones[0],
            currency=inst.currency,
            actor=inst.supervisor,
            at=clock - dt.timedelta(hours=3),
            assignments=[
                *([f"rule_packs={','.join(packs)}"] if packs else []),
                *(
                    ["require_plugins=fieldcase-example-bank"]
                    if inst.id == "example-bank" and "fieldcase-example-bank" in plugins
                    else []
                ),
            ],
        )
    # A few of the cases are performing loans' reviews, told by _review.
    reviews = min(3, count // 20)
    for i in range(count - reviews):
        inst = INSTITUTIONS[i % len(INSTITUTIONS)]
        zone = rng.choice(inst.timezones)
        principal = Decimal(rng.randrange(50_000, 5_000_000)) / 100
        if inst.currency == "INR":
            principal *= 20
        overdue = (principal * Decimal(rng.randint(5, 40)) / 100).quantize(Decimal("0.01"))
        since = (
            referred - dt.timedelta(days=rng.choice((0, 3, 12, 25, 40, 55, 75, 100, 150, 200, 320)))
        ).date()
        assign = rng.choice(inst.staff) if rng.random() < 0.85 else None
        services.create_case(
            actor=inst.supervisor,
            at=clock - dt.timedelta(hours=2),
            institution=inst.id,
            reference=f"{inst.id[:2].upper()}-{100000 + i}",
            borrower_name=_name(rng, inst.names),
            timezone=zone,
            currency=inst.currency,
            principal=principal,
            overdue_amount=overdue,
            overdue_since=since,
            jurisdiction=inst.jurisdiction,
            national_id=f"{rng.randrange(10**11, 10**12)}",
            phone=_phone(rng, inst.currency),
            address=_address(rng, inst),
            assign_to=assign,
            accrued_interest=(principal * Decimal("0.01")).quantize(Decimal("0.01")),
            fees=Decimal(rng.choice((0, 25, 50))),
            penalty_rate=PENALTY_RATE[inst.jurisdiction[:2]],
        )
        progress(1)
    # The protections first, on the cases last in the worklist: a small demo still
    # has them, and the walk takes its cases from the top.
    protected = _protect(services, now, referred)
    walked = _Walk(services, now, referred, rules="cn" in installed).run(protected)
    _review(services, now, reviews, rng)
    progress(reviews)
    _mistakes(services, now)
    _offline(services, now, seed)
    # The mark 'demo --replace' looks for: it deletes only a database built here.
    services.record_system_event("demo_built", "chen.wei", now, {"cases": count, "seed": seed})
    return DemoResult(
        institutions=tuple(i.id for i in INSTITUTIONS),
        walked=len(walked),
        showcase=walked[0],
        now=now,
        stages=_stages(services, now),
    )


def _mistakes(services: Services, now: dt.datetime) -> None:
    """A mistake put right each way: one contact's note amended, another contact voided.

    Each on a case whose last action was the contact, by its institution's supervisor.
    """
    last: dict[int, tuple[int, str]] = {}
    for event in services.store.iter_events():
        if event.case_id is not None and event.id is not None and event.type != "refused":
            last[event.case_id] = (event.id, event.type)
    contacted = [
        (case, event) for case, (event, kind) in last.items() if kind == "contact_recorded"
    ]
    supervisors = {inst.id: inst.supervisor for inst in INSTITUTIONS}
    for n, (case_id, event_id) in enumerate(contacted[:2]):
        supervisor = supervisors[services.store.get_case(case_id).institution]
        if n == 0:
            services.amend_event(
                case_id,
                event_id,
                actor=supervisor,
                at=now,
                values={"note": "Borrower's sister answered; she will pass the message on"},
                reason="The note left out who answered",
            )
        else:
            services.void_event(
                case_id, event_id, actor=supervisor, at=now, reason="Recorded on the wrong case"
            )


def _offline(services: Services, now: dt.datetime, seed: int) -> None:
    """A field pack: raj.patel takes two untouched cases offline yesterday, calls both
    and confirms one's address; meanwhile the office gives the other to maria.lopez.
    The sync takes the first case's work in and keeps the second's as a conflict,
    left open for a supervisor to resolve (``fieldcase sync --conflicts``)."""
    import tempfile
    import uuid

    from .offline import make_pack, services_for
    from .store import Store, WorklistFilter
    from .sync import sync_pack

    store = services.store
    untouched = [
        case
        for case, _ in services.worklist(WorklistFilter(staff="raj.patel"), now, limit=None)
        if case.stage == "confirmation" and not store.contacts(case.id or 0)
    ]
    if len(untouched) < 2:
        return
    kept, given = untouched[-1], untouched[-2]
    assert kept.id is not None and given.id is not None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "raj.patel.fcpack"
        made = _local(now, kept, -1, 8)
        make_pack(
            services,
            "raj.patel",
            path,
            actor="raj.patel",
            at=made,
            cases=[str(kept.id), str(given.id)],
            pack_id=uuid.UUID(int=random.Random(seed).getrandbits(128), version=4).hex,
        )
        field = services_for(Store(path), services.pm, clock=None)
        try:
            for case, minute in ((kept, 0), (given, 20)):
                field.record_contact(
                    case.id or 0,
                    actor="raj.patel",
                    at=_local(now, case, -1, 10, minute),
                    channel="phone",
                    target="borrower",
                    outcome="reached",
                )
            field.confirm_address(
                kept.id,
                actor="raj.patel",
                at=_local(now, kept, -1, 10, 5),
                address=kept.borrower.address or "",
                source="phone",
            )
        finally:
            field.store.close()
        services.assign(
            given.id, to="maria.lopez", actor="ann.hughes", at=_local(now, given, -1, 9)
        )
        sync_pack(services, path, actor="raj.patel", at=_local(now, kept, -1, 18))


def _stages(services: Services, now: dt.datetime) -> tuple[tuple[str, int], ...]:
    from .lifecycle import Stage
    from .store import WorklistFilter

    every = WorklistFilter(include_closed=True, include_ineligible=True, include_paused=True)
    counted = Counter(str(c.stage) for c, _ in services.worklist(every, now, limit=None))
    return tuple((str(stage), counted[str(stage)]) for stage in Stage)


def _photo(case_id: int) -> bytes:
    """A small PNG, of a colour of its own per case, written without an imaging library."""
    import struct
    import zlib

    colour = hashlib.sha256(f"photo-{case_id}".encode()).digest()[:3]
    size = 8
    pixels = b"".join(b"\x00" + colour * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 9))
        + chunk(b"IEND", b"")
    )


def _local(now: dt.datetime, case: Case, days: int, hour: int, minute: int = 0) -> dt.datetime:
    """``hour``:``minute`` on the borrower's clock, ``days`` after the borrower's today."""
    zone = ZoneInfo(case.borrower.timezone)
    day = now.astimezone(zone).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def _protect(services: Services, now: dt.datetime, referred: dt.datetime) -> set[int]:
    """A dispute upheld, one still open, a hardship pause, a complaint and a credit-bureau
    inquiry, on the last four assigned cases of the first institution, in the fortnight
    before ``now``; returns their ids."""
    from .store import WorklistFilter

    inst = INSTITUTIONS[0]
    cases = [
        c
        for c, _ in services.worklist(
            WorklistFilter(institution=inst.id, stage="confirmation"), referred, limit=None
        )
        if c.assigned_to and c.kind == "collection"
    ][-4:]
    for n, case in enumerate(cases):
        assert case.id is not None
        who = case.assigned_to or ""
        zone = ZoneInfo(case.borrower.timezone)
        t = _local(now, case, -12, 10, 5 * n)
        if n in (0, 1):
            services.open_dispute(
                case.id,
                actor=who,
                at=t,
                kind=("deduction-failure", "bank-error")[n],
                note="Says the automatic debit failed although the account was funded",
            )
            services.add_evidence(
                case.id,
                actor=who,
                at=t + dt.timedelta(minutes=30),
                description="Bank statement for the month of the missed debit",
                sha256=hashlib.sha256(f"statement-{case.id}".encode()).hexdigest(),
            )
        if n == 0:
            services.decide_dispute(
                case.id,
                actor=inst.supervisor,
                at=t + dt.timedelta(days=1),
                uphold=True,
                note="The bank confirms the debit failed on its side",
                close=True,
            )
        if n == 2:
            services.grant_hardship(
                case.id,
                actor=who,
                at=t,
                until=(t + dt.timedelta(days=30)).astimezone(zone).date(),
                reason="illness",
                note="In hospital; family will call when discharged",
            )
        if n == 3:
            services.record_complaint(
                case.id,
                actor=who,
                at=t,
                about="contact-frequency",
                note="Says she was called too often last week",
            )
            services.record_inquiry(
                case.id,
                actor=who,
                at=t + dt.timedelta(hours=1),
                purpose="post-loan-management",
                kind="soft",
                bureau="PBOC Credit Reference Center",
                note="Checking for borrowing from other lenders since referral",
            )
    return {c.id for c in cases if c.id is not None}


#: The demo's reviews of performing loans: what set each off, and what it finds
#: (None: still at the check).
REVIEWS = (
    (
        "new-loan-elsewhere",
        "watch-list",
        "New loan at another bank; income unchanged, pays on time",
    ),
    ("cash-withdrawal", "refer-to-collection", "Lost her job in October; the card is maxed out"),
    ("scheduled", None, ""),
)


def _review(services: Services, now: dt.datetime, count: int, rng: random.Random) -> None:
    """Performing loans under review, referred a week before ``now``: one closed on the
    watch list, one referred to collection, one at the check."""
    inst = INSTITUTIONS[0]
    zone = ZoneInfo(inst.timezones[0])
    today = now.astimezone(zone).date()
    # The monthly scan refers them together; then each is worked.
    scanned = dt.datetime.combine(today - dt.timedelta(days=7), dt.time(7), tzinfo=zone)
    referred = []
    for n, (trigger, _, _) in enumerate(REVIEWS[:count]):
        principal = Decimal(rng.randrange(2_000_000, 8_000_000)) / 100
        case = services.create_case(
            actor=inst.supervisor,
            at=scanned,
            institution=inst.id,
            reference=f"{inst.id[:2].upper()}-R{100 + n}",
            borrower_name=_name(rng, inst.names),
            timezone=zone.key,
            currency=inst.currency,
            principal=principal,
            phone=_phone(rng, inst.currency),
            address=_address(rng, inst),
            assign_to=inst.staff[n % len(inst.staff)],
            kind="review",
            trigger=trigger,
            installment=(principal / 24).quantize(Decimal("0.01")),
            note="Flagged by the monthly portfolio scan",
        )
        referred.append(case)
    for n, (case, (_, recommendation, summary)) in enumerate(zip(referred, REVIEWS, strict=False)):
        assert case.id is not None
        who = case.assigned_to or ""
        if recommendation is None:
            continue
        t = scanned + dt.timedelta(hours=3, minutes=20 * n)
        services.record_contact(
            case.id, actor=who, at=t, channel="phone", target="borrower", outcome="reached"
        )
        services.record_inquiry(
            case.id,
            actor=who,
            at=t + dt.timedelta(minutes=30),
            purpose="post-loan-management",
            kind="soft",
            bureau="PBOC Credit Reference Center",
        )
        services.submit_feedback(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=2),
            recommendation=recommendation,
            summary=summary,
        )
        services.review_feedback(
            case.id, actor=inst.supervisor, at=t + dt.timedelta(hours=5), approve=True
        )


#: What the interviews learn of the borrowers' work, by the employment they record.
WORK: tuple[dict[str, str], ...] = (
    {"industry": "logistics", "employer": "Harbor Freight Lines"},
    {"industry": "construction"},
    {
        "industry": "retail",
        "employer": "Corner Grocery (own shop)",
        "suppliers": "City Wholesale Market",
        "buyers": "walk-in customers, two canteens",
    },
    {"industry": "healthcare", "employer": "Riverside Clinic"},
)

#: Where each field worker's cases stand at the demo's now, handed out in this order
#: to the worker's cases (a small demo gets the first ones; what each means is
#: :meth:`_Walk.take`). li.na has one of each, and the only feedback returned.
PORTFOLIO: dict[str, tuple[str, ...]] = {
    "li.na": (
        "closed",
        "visit-today",
        "submitted",
        "returned",
        "promise-today",
        "broken",
        "visit-tomorrow",
        "revisit-today",
        "settled",
        "planned-tomorrow",
        "confirmed",
        "contacted",
        "submitted",
        "contacted",
    ),
    "zhang.min": (
        "closed",
        "visit-today",
        "submitted",
        "promise-today",
        "visit-tomorrow",
        "confirmed",
        "contacted",
    ),
    "maria.lopez": (
        "closed",
        "visit-today",
        "submitted",
        "promise-today",
        "broken",
        "visit-tomorrow",
        "settled",
        "planned-tomorrow",
        "confirmed",
        "contacted",
    ),
    "raj.patel": (
        "closed",
        "visit-today",
        "submitted",
        "promise-today",
        "visit-tomorrow",
        "confirmed",
        "contacted",
    ),
}

#: Visit windows (borrower local time), handed out in turn per country so that the
#: two staff of a Chinese visit are never due in two places at once.
WINDOWS_TODAY = ((9, 0, 10, 30), (11, 0, 12, 30), (14, 0, 15, 30), (16, 0, 17, 30))
WINDOWS_TOMORROW = ((10, 0, 12, 0), (14, 0, 16, 0), (16, 30, 18, 0))

#: Overdue reasons found at the interviews, in turn (never a dispute: that is
#: recommended for dispute review, which _protect shows).
REASONS = ("medical", "income-loss", "business-failure", "financial-management")


class _Walk:
    """Each field worker's cases taken from confirmation to where PORTFOLIO leaves them,
    every step through the services at a time the rule packs allow."""

    def __init__(self, services: Services, now: dt.datetime, referred: dt.datetime, *, rules: bool):
        self.services = services
        self.now = now
        self.referred = referred
        self.rules = rules
        self.n = 0
        self.windows: Counter[tuple[str, int]] = Counter()

    def run(self, leave: set[int]) -> list[int]:
        """Walk each worker's cases (but those in ``leave``); their ids, the showcase first."""
        from .store import WorklistFilter

        done: list[int] = []
        for worker, scenarios in PORTFOLIO.items():
            # The worker's cases, one institution's after another's, in worklist order;
            # only those in the institution's own zone, where its staff work.
            lists = [
                [
                    c
                    for c, _ in self.services.worklist(
                        WorklistFilter(institution=inst.id, stage="confirmation"),
                        self.referred,
                        limit=None,
                    )
                    if c.assigned_to == worker
                    and c.id not in leave
                    and c.kind == "collection"
                    and c.borrower.timezone == inst.timezones[0]
                ]
                for inst in INSTITUTIONS
                if worker in inst.staff
            ]
            mine = [c for group in itertools.zip_longest(*lists) for c in group if c is not None]
            for scenario, case in zip(scenarios, mine, strict=False):
                assert case.id is not None
                self.take(case, scenario)
                done.append(case.id)
                self.n += 1
        return done

    # -- the steps ---------------------------------------------------------------------------

    def at(self, case: Case, days: int, hour: int, minute: int = 0) -> dt.datetime:
        return _local(self.now, case, days, hour, minute)

    def confirm(self, case: Case, days: int) -> None:
        """Found on ``days``: no answer, the employer passes a message, she calls back."""
        assert case.id is not None
        who = case.assigned_to or ""
        chinese = case.jurisdiction == "CN"
        t = self.at(case, days, 10, 10 * (self.n % 6))
        self.services.record_contact(
            case.id, actor=who, at=t, channel="phone", target="borrower", outcome="no-answer"
        )
        self.services.record_contact(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=2),
            channel="employer",
            target="third-party",
            relationship="employer",
            outcome="reached",
            # In China a third party may only be asked to pass a message on.
            purpose="message" if chinese else "locate",
            note=(
                "HR passed on a message; she called back and confirmed her address"
                if chinese
                else "Employer confirmed the home address"
            ),
        )
        self.services.record_details(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=2, minutes=30),
            email=f"{case.reference.lower()}@example.com",
            verified=True,
            source="phone",
            note="Given when she called back",
        )
        self.services.confirm_address(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=3),
            address=case.borrower.address,
            source="phone" if chinese else "employer",
        )

    def companions(self, case: Case) -> list[str]:
        # Chinese visits are made by two staff members (rule cn.two_staff).
        inst = next(i for i in INSTITUTIONS if i.id == case.institution)
        if inst.jurisdiction != "CN":
            return []
        return [s for s in inst.staff if s != case.assigned_to][:1]

    def window(self, case: Case, day: int) -> tuple[dt.time, dt.time]:
        """The next free window on ``day`` (0 today, 1 tomorrow; others: early afternoon)."""
        choices = {0: WINDOWS_TODAY, 1: WINDOWS_TOMORROW}.get(day, ((14, 0, 16, 0),))
        key = (case.jurisdiction[:2], day)
        h1, m1, h2, m2 = choices[self.windows[key] % len(choices)]
        self.windows[key] += 1
        return dt.time(h1, m1), dt.time(h2, m2)

    def visit_day(self, case: Case, day: int, step: int) -> int:
        """``day``, or the nearest day ``step`` on that the institution's rules allow a
        visit (not one of its holidays)."""
        assert case.id is not None
        for _ in range(7):
            start, end = self.at(case, day, 10), self.at(case, day, 12)
            verdicts = self.services.dry_run(
                case.id,
                "plan_visit",
                actor=case.assigned_to,
                at=self.at(case, day - 1, 15),
                window=(start, end),
                companions=self.companions(case),
            )
            if all(d.allowed for _, d in verdicts if not d.rule.startswith("stage")):
                return day
            day += step
        return day

    def plan(self, case: Case, day: int, *, on: int, tick: bool = True) -> tuple[dt.time, dt.time]:
        """Plan the visit on ``day`` the day ``on``, in the next free window; tick the list."""
        assert case.id is not None
        who = case.assigned_to or ""
        window = self.window(case, day)
        self.services.plan_visit(
            case.id,
            actor=who,
            at=self.at(case, on, 15),
            date=self.at(case, day, 0).date(),
            window=window,
            companions=self.companions(case),
        )
        if tick:
            self.services.tick_checklist(
                case.id, actor=who, at=self.at(case, on, 16), tick_all=True
            )
        return window

    def interview(self, case: Case, day: int, window: tuple[dt.time, dt.time]) -> dt.datetime:
        """The borrower met on ``day``, 20 minutes into the window; returns when."""
        assert case.id is not None
        n = self.n
        start = self.at(case, day, window[0].hour, window[0].minute) + dt.timedelta(minutes=20)
        lat, lon = _position(case)
        self.services.record_interview(
            case.id,
            actor=case.assigned_to or "",
            at=start,
            met="borrower",
            reason=REASONS[n % 4],
            employment=("employed", "unemployed", "self-employed", "employed")[n % 4],
            monthly_income=(case.overdue_amount / 2).quantize(Decimal("0.01")),
            other_debts=case.overdue_amount,
            monthly_repayments=(case.overdue_amount / 5).quantize(Decimal("0.01")),
            lenders=3 if n % 3 == 0 else 1,
            industry=WORK[n % 4].get("industry"),
            employer=WORK[n % 4].get("employer"),
            suppliers=WORK[n % 4].get("suppliers"),
            buyers=WORK[n % 4].get("buyers"),
            attitude=("cooperative", "willing-unable", "evasive", "cooperative")[n % 4],
            notes="Borrower present; documents shown and explained",
            lat=lat,
            lon=lon,
            accuracy_m=5 + n % 20,
        )
        self.photograph(case, start + dt.timedelta(minutes=5))
        return start

    def photograph(self, case: Case, at: dt.datetime) -> None:
        """A photo of where the borrower was met, attached to the visit just made."""
        from .attachments import HEAD, upload_of

        assert case.id is not None
        content = _photo(case.id)
        upload = upload_of(
            f"visit-{case.id}.png",
            content,
            content[:HEAD],
            hashlib.sha256(content).hexdigest(),
            len(content),
        )
        visit = self.services.store.visits(case.id, case.currency)[-1]
        self.services.attach(
            case.id,
            [upload],
            actor=case.assigned_to or "",
            at=at,
            visit=visit.number,
            note="Where the borrower was met",
        )

    def visited(self, case: Case, day: int) -> dt.datetime:
        """Found two days before ``day`` (a visit day the rules allow), planned the day
        before, met on the day; returns when the interview began."""
        day = self.visit_day(case, day, -1)
        self.confirm(case, day - 2)
        return self.interview(case, day, self.plan(case, day, on=day - 1))

    def supervisor(self, case: Case) -> str:
        return next(i.supervisor for i in INSTITUTIONS if i.id == case.institution)

    def pay(self, case: Case, at: dt.datetime, amount: Decimal, n: int = 1) -> None:
        """Money received, recorded by the back office (a supervisor: confirmed at once)."""
        assert case.id is not None
        self.services.record_payment(
            case.id,
            actor=self.supervisor(case),
            at=at,
            amount=str(amount),
            reference=f"DEMO-{case.id}-{n}",
        )

    def take(self, case: Case, scenario: str) -> None:
        """Leave ``case`` where ``scenario`` says (days are the borrower's, 0 today):

        - contacted: called twice, no answer yet (confirmation);
        - confirmed: address confirmed yesterday, no visit agreed (preparation);
        - planned-tomorrow: a visit tomorrow, its checklist not ticked (preparation);
        - visit-today, visit-tomorrow: planned and ticked (interview);
        - revisit-today: nobody home three days ago, the revisit today (interview);
        - promise-today: met yesterday, promised to pay today, feedback to write;
        - broken: met 12 days ago, promised 4 days ago and did not pay; the feedback
          approved (feedback);
        - submitted: met two days ago, agreed a 6-month plan, feedback awaiting review;
        - returned: met three days ago, the feedback returned yesterday to be fixed;
        - settled: met 9 days ago, a settlement approved, accepted and paid (closed);
        - closed: restructured three weeks ago, its first installment paid (closed).
        """
        assert case.id is not None
        who = case.assigned_to or ""
        services, supervisor = self.services, self.supervisor(case)
        if scenario == "contacted":
            t = self.at(case, -3, 10, 10 * (self.n % 6))
            services.record_contact(
                case.id, actor=who, at=t, channel="phone", target="borrower", outcome="no-answer"
            )
            services.record_contact(
                case.id,
                actor=who,
                at=self.at(case, -1, 11, 10 * (self.n % 6)),
                channel="sms",
                target="borrower",
                outcome="left-message",
                note="Asked her to call back about the overdue account",
            )
        elif scenario == "confirmed":
            self.confirm(case, -1)
        elif scenario in ("planned-tomorrow", "visit-tomorrow"):
            day = self.visit_day(case, 1, 1)
            self.confirm(case, -2)
            self.plan(case, day, on=-1, tick=scenario == "visit-tomorrow")
        elif scenario == "visit-today":
            day = self.visit_day(case, 0, 1)
            self.confirm(case, -3)
            self.plan(case, day, on=-2)
        elif scenario == "revisit-today":
            first = self.visit_day(case, -3, -1)
            self.confirm(case, first - 2)
            window = self.plan(case, first, on=first - 1)
            knocked = self.at(case, first, window[0].hour, window[0].minute)
            services.record_interview(
                case.id,
                actor=who,
                at=knocked + dt.timedelta(minutes=30),
                met="nobody",
                notes="No answer at the door; neighbour says she is back at the weekend",
            )
            self.plan(case, self.visit_day(case, 0, 1), on=first)
        elif scenario == "promise-today":
            met = self.visited(case, -1)
            services.record_promise(
                case.id,
                actor=who,
                at=met + dt.timedelta(minutes=40),
                amount=(case.overdue_amount / 4).quantize(Decimal("0.01")),
                due=self.at(case, 0, 0).date(),
            )
        elif scenario == "broken":
            met = self.visited(case, -12)
            services.record_promise(
                case.id,
                actor=who,
                at=met + dt.timedelta(minutes=40),
                amount=(case.overdue_amount / 3).quantize(Decimal("0.01")),
                due=self.at(case, -4, 0).date(),
            )
            services.submit_feedback(
                case.id,
                actor=who,
                at=met + dt.timedelta(hours=3),
                recommendation="revisit",
                summary="Promised a third of the arrears within the week; revisit if unpaid",
            )
            services.review_feedback(
                case.id, actor=supervisor, at=met + dt.timedelta(days=1), approve=True
            )
        elif scenario in ("submitted", "returned"):
            met = self.visited(case, -2 if scenario == "submitted" else -3)
            services.present_offers(case.id, actor=who, at=met + dt.timedelta(minutes=20))
            services.accept_offer(
                case.id, "installment-6", actor=who, at=met + dt.timedelta(minutes=30)
            )
            services.submit_feedback(
                case.id,
                actor=who,
                at=met + dt.timedelta(hours=3),
                recommendation="restructure",
                summary="Temporary hardship; agreed a 6-month plan",
            )
            if scenario == "returned":
                services.review_feedback(
                    case.id,
                    actor=supervisor,
                    at=self.at(case, -1, 17),
                    approve=False,
                    note="State the monthly amount agreed and the income it rests on",
                )
        elif scenario == "settled":
            met = self.visited(case, -9)
            _, offers = services.present_offers(
                case.id, actor=who, at=met + dt.timedelta(minutes=20)
            )
            settlement = next(o for o in offers if o.code == "settlement")
            if settlement.status == "needs-approval":
                services.review_offer(
                    case.id,
                    "settlement",
                    actor=supervisor,
                    at=met + dt.timedelta(minutes=40),
                    approve=True,
                )
            services.accept_offer(
                case.id, "settlement", actor=who, at=met + dt.timedelta(minutes=50)
            )
            services.submit_feedback(
                case.id,
                actor=who,
                at=met + dt.timedelta(hours=3),
                recommendation="settlement",
                summary="Can borrow from family to settle at the discount offered",
            )
            services.review_feedback(
                case.id, actor=supervisor, at=met + dt.timedelta(hours=5), approve=True
            )
            # The settlement arrives: paid in full, the case closes as settled.
            self.pay(case, met + dt.timedelta(days=4), settlement.total_payable)
        elif scenario == "closed":
            self.closed(case)
        else:  # pragma: no cover - PORTFOLIO names only the scenarios above
            raise ValueError(scenario)

    def closed(self, case: Case) -> None:
        """The whole path three weeks ago: found, visited, a 6-month plan, feedback
        returned once and approved, closed as restructured, the first installment paid.
        The first such case also shows a call the rule pack refuses (22:30) and a
        visit refused on an Example Bank holiday."""
        assert case.id is not None
        who, supervisor, services = case.assigned_to or "", self.supervisor(case), self.services
        first = self.n == 0
        day = self.visit_day(case, -20, -1)
        self.confirm(case, day - 1)
        if case.institution == "example-bank":
            # Show a plugin refusal: a visit on one of Example Bank's holidays.
            declared = services.policy_schema().settings.get("holidays")
            listed = services.settings(case).get("holidays", declared and declared.default)
            holidays = sorted(
                d
                for d in map(dt.date.fromisoformat, listed or ())
                if d > self.at(case, day, 0).date()
            )
            if holidays:
                with contextlib.suppress(Refused):
                    services.plan_visit(
                        case.id,
                        actor=who,
                        at=self.at(case, day - 1, 14),
                        date=holidays[0],
                        window=(dt.time(10), dt.time(12)),
                    )
        window = self.plan(case, day, on=day - 1)
        if first and self.rules:
            # A call at 22:30 the borrower's time: the rule pack refuses it, on the record.
            with contextlib.suppress(Refused):
                services.record_contact(
                    case.id,
                    actor=who,
                    at=self.at(case, day - 1, 22, 30),
                    channel="phone",
                    target="borrower",
                    outcome="no-answer",
                )
        met = self.interview(case, day, window)
        # On site, the worker puts the offers in front of the borrower, who takes one.
        services.present_offers(case.id, actor=who, at=met + dt.timedelta(minutes=20))
        _, promises = services.accept_offer(
            case.id, "installment-6", actor=who, at=met + dt.timedelta(minutes=30)
        )
        after = met + dt.timedelta(hours=3)
        services.submit_feedback(
            case.id,
            actor=who,
            at=after,
            recommendation="restructure",
            summary="Temporary hardship; proposes a 6-month plan",
        )
        if first:
            services.review_feedback(
                case.id,
                actor=supervisor,
                at=after + dt.timedelta(hours=1),
                approve=False,
                note="State the monthly amount proposed",
            )
            services.submit_feedback(
                case.id,
                actor=who,
                at=after + dt.timedelta(hours=2),
                recommendation="restructure",
                summary="Temporary hardship; can pay about a third of income monthly for 6 months",
            )
        services.review_feedback(
            case.id, actor=supervisor, at=after + dt.timedelta(hours=3), approve=True
        )
        services.close(
            case.id, actor=who, at=after + dt.timedelta(hours=4), resolution="restructured"
        )
        # The back office records the first installment when it arrives.
        self.pay(case, after + dt.timedelta(days=2), promises[0].amount)
