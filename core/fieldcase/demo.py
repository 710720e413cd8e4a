"""A deterministic sample portfolio, and a few cases walked through every stage.

The institutions are registered with the rule packs of their countries
(China, US Regulation F, India RBI) where those plugins are installed, and
the walk obeys them: calls in local working hours, two staff on a Chinese
visit, agents' identity numbers on record. One call is made too late, so the
demo's history shows a refusal with its citation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

from .errors import Refused
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


@attrs.frozen
class DemoResult:
    institutions: tuple[str, ...]
    walked: int
    showcase: int
    now: dt.datetime


def is_demo_database(path: Path) -> bool:
    """Whether ``path`` was built by the demo: safe to replace.

    The demo records ``demo_built``; one built before it did is known by holding
    exactly the demo's staff and only its institutions' cases.
    """
    from .store import has_event, staff_and_institutions

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


def build_demo(
    services: Services,
    start: dt.datetime,
    *,
    count: int = 300,
    seed: int = 20261102,
    progress: Callable[[int], object] = lambda n: None,
) -> DemoResult:
    """Fill ``services``' (empty) database; the same seed gives the same portfolio.

    The demo's story is told at its own times (from ``start``), so it is
    written by services that take each claimed time as the real one, and its
    events' salts come from the seed.
    """
    from .services import Services

    services = Services(services.store, services.pm, clock=None)
    rng = random.Random(seed)
    # Its people are made up: salts from the seed keep two demos byte-identical.
    salts = random.Random(seed + 1)
    services.store.salt = lambda: f"{salts.getrandbits(128):032x}"
    clock = start
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
            start - dt.timedelta(days=rng.choice((0, 3, 12, 25, 40, 55, 75, 100, 150, 200, 320)))
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
    walked = _walk(services, start, rules="cn" in installed)
    _protect(services, start, walked)
    _review(services, start, reviews, rng)
    progress(reviews)
    # The mark 'demo --replace' looks for: it deletes only a database built here.
    services.record_system_event(
        "demo_built", "chen.wei", start + dt.timedelta(days=4), {"cases": count, "seed": seed}
    )
    return DemoResult(
        institutions=tuple(i.id for i in INSTITUTIONS),
        walked=len(walked),
        showcase=walked[0],
        now=start + dt.timedelta(days=4),
    )


def _first_morning(after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """10:00 in ``zone`` on the first day it comes after ``after``."""
    local = after.astimezone(zone)
    day = local.date() + dt.timedelta(days=1 if local.time() >= dt.time(10) else 0)
    return dt.datetime.combine(day, dt.time(10), tzinfo=zone)


def _protect(services: Services, start: dt.datetime, walked: list[int]) -> None:
    """A dispute upheld, one still open, a hardship pause, a complaint and a credit-bureau
    inquiry, on other cases."""
    from .store import WorklistFilter

    inst = INSTITUTIONS[0]
    cases = [
        c
        for c, _ in services.worklist(
            WorklistFilter(institution=inst.id, stage="confirmation"), start, limit=None
        )
        if c.assigned_to and c.id not in walked and c.kind == "collection"
    ][:4]
    for n, case in enumerate(cases):
        assert case.id is not None
        who = case.assigned_to or ""
        zone = ZoneInfo(case.borrower.timezone)
        t = _first_morning(case.updated_at or start, zone) + dt.timedelta(days=1, minutes=5 * n)
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


def _review(services: Services, start: dt.datetime, count: int, rng: random.Random) -> None:
    """Performing loans under review: one closed on the watch list, one referred to
    collection, one at the check."""
    inst = INSTITUTIONS[0]
    zone = ZoneInfo(inst.timezones[0])
    # The monthly scan refers them together; then each is worked.
    referred = []
    for n, (trigger, _, _) in enumerate(REVIEWS[:count]):
        principal = Decimal(rng.randrange(2_000_000, 8_000_000)) / 100
        case = services.create_case(
            actor=inst.supervisor,
            at=start - dt.timedelta(hours=1),
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
        t = _first_morning(start, zone) + dt.timedelta(minutes=20 * n)
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


def _walk(services: Services, start: dt.datetime, *, rules: bool) -> list[int]:
    """Take a handful of eligible assigned cases through every stage, with detours."""
    from .store import WorklistFilter

    picked = []
    for inst in INSTITUTIONS:
        candidates = [
            c
            for c, _ in services.worklist(
                WorklistFilter(institution=inst.id, stage="confirmation"), start, limit=None
            )
            if c.assigned_to and c.kind == "collection"
        ]
        picked.extend(candidates[: 2 if inst.id == "hx-consumer" else 1])
    done = []
    for n, case in enumerate(picked):
        assert case.id is not None
        who = case.assigned_to or ""
        supervisor = next(i.supervisor for i in INSTITUTIONS if i.id == case.institution)
        inst = next(i for i in INSTITUTIONS if i.id == case.institution)
        zone = ZoneInfo(case.borrower.timezone)
        # Calls in the borrower's working hours: the rule packs allow no other.
        t = _first_morning(case.updated_at or start, zone) + dt.timedelta(minutes=10 * n)
        services.record_contact(
            case.id, actor=who, at=t, channel="phone", target="borrower", outcome="no-answer"
        )
        chinese = inst.jurisdiction == "CN"
        services.record_contact(
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
        services.record_details(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=2, minutes=30),
            email=f"{case.reference.lower()}@example.com",
            verified=True,
            source="phone",
            note="Given when she called back",
        )
        services.confirm_address(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=3),
            address=case.borrower.address,
            source="phone" if chinese else "employer",
        )
        visit_day = (t + dt.timedelta(days=1)).astimezone(zone).date()
        if case.institution == "example-bank":
            # Show a plugin refusal: Thanksgiving is an Example Bank holiday.
            with contextlib.suppress(Refused):
                services.plan_visit(
                    case.id,
                    actor=who,
                    at=t + dt.timedelta(hours=4),
                    date=dt.date(2026, 11, 26),
                    window=(dt.time(10), dt.time(12)),
                )
        # Chinese visits are made by two staff members (rule cn.two_staff).
        companions = [s for s in inst.staff if s != who][:1] if chinese else []
        services.plan_visit(
            case.id,
            actor=who,
            at=t + dt.timedelta(hours=4),
            date=visit_day,
            window=(dt.time(14), dt.time(16)),
            companions=companions,
        )
        services.tick_checklist(case.id, actor=who, at=t + dt.timedelta(hours=5), tick_all=True)
        if n == 0 and rules:
            # A call at 22:30 the borrower's time: the rule pack refuses it, on the record.
            with contextlib.suppress(Refused):
                services.record_contact(
                    case.id,
                    actor=who,
                    at=dt.datetime.combine(t.date(), dt.time(22, 30), tzinfo=zone),
                    channel="phone",
                    target="borrower",
                    outcome="no-answer",
                )
        visit_time = dt.datetime.combine(visit_day, dt.time(14, 30), tzinfo=zone)
        if n == 1:
            # Nobody home the first time: back to preparation, then a revisit.
            services.record_interview(
                case.id,
                actor=who,
                at=visit_time,
                met="nobody",
                notes="No answer at the door; neighbour says back Monday",
            )
            visit_day += dt.timedelta(days=2)
            services.plan_visit(
                case.id,
                actor=who,
                at=visit_time + dt.timedelta(hours=1),
                date=visit_day,
                window=(dt.time(10), dt.time(12)),
                companions=companions,
            )
            services.tick_checklist(
                case.id, actor=who, at=visit_time + dt.timedelta(hours=2), tick_all=True
            )
            visit_time = dt.datetime.combine(visit_day, dt.time(10, 20), tzinfo=zone)
        services.record_interview(
            case.id,
            actor=who,
            at=visit_time,
            met="borrower",
            reason=("medical", "income-loss", "business-failure", "dispute")[n % 4],
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
        )
        # On site, the worker puts the offers in front of the borrower, who takes one.
        services.present_offers(case.id, actor=who, at=visit_time + dt.timedelta(minutes=20))
        _, promises = services.accept_offer(
            case.id,
            "installment-6" if n % 2 == 0 else "waiver",
            actor=who,
            at=visit_time + dt.timedelta(minutes=30),
        )
        after = visit_time + dt.timedelta(hours=3)
        services.submit_feedback(
            case.id,
            actor=who,
            at=after,
            recommendation="restructure",
            summary="Temporary hardship; proposes a 6-month plan",
        )
        if n == 0:
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
        # The back office records the first payment when it arrives.
        services.record_payment(
            case.id,
            actor=supervisor,
            at=after + dt.timedelta(days=2),
            amount=str(promises[0].amount),
            reference=f"DEMO-{case.id}-1",
        )
        done.append(case.id)
    return done
