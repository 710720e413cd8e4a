"""Eligibility at import, judged a batch at a time: the same flags, notes and events as a
case at a time, whoever implements which form of the hook."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import events, query
from fieldcase import hookimpl
from fieldcase.model import Case, Decision
from fieldcase.plugins import get_plugin_manager, manager
from fieldcase.services import Services, eligibility_judges
from fieldcase.store import Store
from fieldcase.testing import OnlyPlugins, RegisterPlugin, invoke

AT = "2026-11-23T09:00+08:00"

#: Rows whose eligibility each turns on one thing: days past due (in the borrower's
#: own time zone), the amount, the kind, the jurisdiction, the borrower's name.
FILE = """\
reference,borrower_name,currency,principal,overdue_amount,overdue_since,timezone,jurisdiction,kind,trigger
E-1,Wang Fang,CNY,8000.00,1200.00,2026-08-01,Asia/Shanghai,CN,,
E-2,Li Jianguo,CNY,8000.00,1200.00,2026-11-20,Asia/Shanghai,CN,,
E-3,Zhao Lei,CNY,8000.00,100.00,2026-08-01,Asia/Shanghai,CN,,
E-4,Sun Li,CNY,8000.00,1200.00,2026-12-01,Asia/Shanghai,CN,,
E-5,Zhou Min,CNY,8000.00,,,Asia/Shanghai,CN,review,scheduled
E-6,Wu Hao,CNY,8000.00,50.00,2026-11-20,Asia/Shanghai,CN,review,cash-withdrawal
E-7,Zheng Yu,CNY,8000.00,1200.00,2026-08-01,Asia/Shanghai,,,
E-8,Chan Tai Man,HKD,8000.00,1200.00,2026-11-20,Asia/Hong_Kong,HK,,
E-9,Feng Jie,CNY,8000.00,1200.00,2026-10-24,Asia/Shanghai,CN,,
E-10,Feng Jie,CNY,8000.00,1200.00,2026-10-24,America/Los_Angeles,CN,,
E-11,Unknown,CNY,8000.00,1200.00,2026-08-01,Asia/Shanghai,CN,,
E-12,Unknown,CNY,8000.00,1200.00,2026-11-20,Asia/Shanghai,HK,,
"""

#: What the cases' eligibility notes say: the rules, and their order, as pluggy calls them.
NOTES = {
    "E-1": "",
    "E-2": "3 days past due is under the minimum of 30 for hx (rule default.eligibility)",
    "E-3": "overdue amount CNY 100.00 is under the minimum of 500 for hx "
    "(rule default.eligibility)",
    "E-4": "0 days past due is under the minimum of 30 for hx (rule default.eligibility)",
    "E-5": "",
    "E-6": "",
    "E-7": "",
    "E-8": "hx visits only in CN, not HK (rule test.region); "
    "3 days past due is under the minimum of 30 for hx (rule default.eligibility)",
    "E-9": "",
    # 09:00 in Shanghai is still the day before in Los Angeles: 29 days, not 30.
    "E-10": "29 days past due is under the minimum of 30 for hx (rule default.eligibility)",
    "E-11": "no visit without the borrower's name (rule test.named)",
    # region-rule was registered last: pluggy calls it first; the built-in rule comes last.
    "E-12": "hx visits only in CN, not HK (rule test.region); no visit without the "
    "borrower's name (rule test.named); 3 days past due is under the minimum of 30 for hx "
    "(rule default.eligibility)",
}


def region(jurisdiction: str, institution: str) -> Decision | None:
    """The rule test.region, shared by both forms of the hook."""
    if jurisdiction.split("-")[0] == "CN":
        return None
    return Decision.deny("test.region", f"{institution} visits only in CN, not {jurisdiction}")


class RegionRule:
    """A plugin with both forms of the hook, over one rule; it counts its calls."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.single = 0

    @hookimpl
    def case_eligible(self, case: Case) -> Decision | None:
        self.single += 1
        return region(case.jurisdiction, case.institution)

    @hookimpl
    def cases_eligible(self, cases: Sequence[Mapping[str, Any]]) -> list[Decision | None]:
        self.batches.append(len(cases))
        return [region(case["jurisdiction"], case["institution"]) for case in cases]


class NamedRule:
    """A third party's plugin of the per-case form only: it reads the borrower."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def case_eligible(self, case: Case) -> Decision | None:
        self.calls += 1
        if case.borrower.name == "Unknown":
            return Decision.deny("test.named", "no visit without the borrower's name")
        return None


class Abstains:
    """The per-case form only, never an opinion: imports must come out as without it."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def case_eligible(self) -> None:
        self.calls += 1


def office_at(folder: Path) -> Path:
    """A database file with a supervisor and the lender hx: 30 days and 500.00 at least."""
    folder.mkdir()
    db = folder / "office.db"
    steps = [
        ("init",),
        ("staff", "add", "chen.wei", "--name", "Chen Wei", "--role", "supervisor"),
        ("--as", "chen.wei", "institution", "add", "hx", "--name", "hx", "--jurisdiction",
         "CN", "--timezone", "Asia/Shanghai", "--currency", "CNY",
         "--at", "2026-11-01T08:00+08:00"),
        ("--as", "chen.wei", "institution", "policy", "hx", "--set", "min_days_past_due=30",
         "--set", "min_overdue_amount=500", "--at", "2026-11-01T09:00+08:00"),
    ]  # fmt: skip
    for step in steps:
        result = invoke("--db", db, *step)
        assert result.exit_code == 0, result.output
    (folder / "referrals.csv").write_text(FILE, encoding="utf-8")
    return db


def import_file(db: Path, *options: str) -> dict[str, Any]:
    result = invoke(
        "--db", db, "--as", "chen.wei", "import", db.parent / "referrals.csv",
        "--institution", "hx", "--at", AT, "--json", *options,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def flags(db: Path) -> dict[str, tuple[int, str]]:
    rows = query(db, "SELECT reference, eligible, eligibility_note FROM cases")
    return {row["reference"]: (row["eligible"], row["eligibility_note"]) for row in rows}


def imported_events(db: Path) -> list[tuple[Any, ...]]:
    """Each import event's case, type, actor, time and data (the payload's rows have
    personal data sealed with a random salt)."""
    return [
        (row["case_id"], row["type"], row["actor"], row["at"], json.loads(row["payload"])["data"])
        for row in events(db)
        if row["type"] == "case_imported"
    ]


@pytest.fixture
def named(only_plugins: OnlyPlugins, register_plugin: RegisterPlugin) -> NamedRule:
    """No installed plugin; a per-case-only rule registered."""
    only_plugins()
    rule = NamedRule()
    register_plugin(rule, name="named-rule")
    return rule


@pytest.fixture
def rules(named: NamedRule, register_plugin: RegisterPlugin) -> RegionRule:
    """Beside the per-case rule, a rule of both forms, registered after it."""
    rule = RegionRule()
    register_plugin(rule, name="region-rule")
    return rule


def test_an_import_flags_the_same_cases_with_or_without_a_per_case_plugin(
    tmp_path: Path, rules: RegionRule, register_plugin: RegisterPlugin
) -> None:
    plain = office_at(tmp_path / "plain")
    summary = import_file(plain)
    abstains = Abstains()
    register_plugin(abstains, name="abstains")
    forced = office_at(tmp_path / "forced")
    import_file(forced)

    assert (summary["imported"], summary["ineligible"]) == (12, 7)
    assert abstains.calls == 12  # the per-case path was taken, for this plugin
    expected = {ref: (int(not note), note) for ref, note in NOTES.items()}
    assert flags(plain) == expected
    assert flags(forced) == expected
    assert imported_events(plain) == imported_events(forced)
    payloads = {event[4]["line"]: event[4] for event in imported_events(plain)}
    assert payloads[3]["note"] == NOTES["E-2"] and payloads[3]["eligible"] is False
    reviews = query(plain, "SELECT count(*) AS n FROM reviews")
    assert reviews[0]["n"] == 2


def test_the_notes_are_those_of_judging_each_case_through_pluggy(
    tmp_path: Path, rules: RegionRule
) -> None:
    db = office_at(tmp_path / "office")
    import_file(db)

    store = Store(str(db))
    try:
        services = Services(store, manager(), clock=None)
        at = dt.datetime.fromisoformat(AT)
        for reference, (eligible, note) in flags(db).items():
            denials = services.eligibility(store.get_case(f"hx/{reference}"), at)
            assert note == "; ".join(f"{d.reason} (rule {d.rule})" for d in denials), reference
            assert eligible == (not denials)
    finally:
        store.close()


def test_a_plugin_of_the_per_case_form_only_is_still_asked(
    tmp_path: Path, named: NamedRule, rules: RegionRule
) -> None:
    db = office_at(tmp_path / "office")
    import_file(db)

    assert named.calls == 12
    assert flags(db)["E-11"] == (0, NOTES["E-11"])
    shown = invoke("--db", db, "--as", "chen.wei", "show", "hx/E-11", "--json")
    assert "no visit without the borrower's name" in shown.stdout


def test_a_plugin_of_the_batch_form_is_asked_once_a_batch(
    tmp_path: Path, only_plugins: OnlyPlugins, register_plugin: RegisterPlugin
) -> None:
    only_plugins()
    rule = RegionRule()
    register_plugin(rule, name="region-rule")
    db = office_at(tmp_path / "office")

    import_file(db, "--batch-size", "5")

    assert rule.batches == [5, 5, 2]
    assert rule.single == 0
    assert flags(db)["E-8"][1].startswith("hx visits only in CN, not HK (rule test.region)")
    # Imported again, nothing is new: no batch to judge.
    import_file(db, "--batch-size", "5")
    assert rule.batches == [5, 5, 2]


def test_the_batch_form_sees_the_documented_keys(
    tmp_path: Path, only_plugins: OnlyPlugins, register_plugin: RegisterPlugin
) -> None:
    seen: list[Mapping[str, Any]] = []

    class Looks:
        @hookimpl
        def cases_eligible(self, cases: Sequence[Mapping[str, Any]]) -> None:
            seen.extend(cases)

    only_plugins()
    register_plugin(Looks(), name="looks")
    db = office_at(tmp_path / "office")
    import_file(db)

    by_reference = {case["reference"]: case for case in seen}
    assert set(by_reference["E-1"]) == {
        "institution", "reference", "kind", "jurisdiction", "currency", "timezone",
        "principal_minor", "overdue_minor", "overdue_since", "days_past_due", "attributes",
    }  # fmt: skip
    assert by_reference["E-7"]["jurisdiction"] == "CN"  # the institution's
    assert by_reference["E-3"]["overdue_minor"] == 10000
    assert by_reference["E-10"]["days_past_due"] == 29
    assert by_reference["E-9"]["days_past_due"] == 30
    assert by_reference["E-5"]["days_past_due"] == 0
    with pytest.raises(TypeError):
        by_reference["E-1"]["kind"] = "review"  # type: ignore[index]


def test_a_batch_answer_of_the_wrong_length_imports_nothing(
    tmp_path: Path, only_plugins: OnlyPlugins, register_plugin: RegisterPlugin
) -> None:
    class Short:
        @hookimpl
        def cases_eligible(self) -> list[None]:
            return [None]

    only_plugins()
    register_plugin(Short(), name="short-answers")
    db = office_at(tmp_path / "office")

    result = invoke(
        "--db", db, "--as", "chen.wei", "import", db.parent / "referrals.csv",
        "--institution", "hx", "--at", AT,
    )  # fmt: skip

    assert result.exit_code != 0
    assert "plugin 'short-answers' failed in its cases_eligible hook" in result.stderr
    assert "1 answers for 12 cases" in result.stderr
    assert flags(db) == {}


class Plain:
    @hookimpl
    def case_eligible(self) -> None:
        return None


class First:
    @hookimpl(tryfirst=True)
    def case_eligible(self) -> None:
        return None


class Last:
    @hookimpl(trylast=True)
    def case_eligible(self) -> None:
        return None


class BatchFirst:
    @hookimpl(tryfirst=True)
    def cases_eligible(self) -> None:
        return None


def test_judges_come_in_the_order_pluggy_calls_case_eligible() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    for name, plugin in [
        ("last-1", Last()),
        ("plain-1", Plain()),
        ("first-1", First()),
        ("last-2", Last()),
        ("plain-2", Plain()),
        ("first-2", First()),
        ("both", RegionRule()),
        ("plain-3", Plain()),
    ]:
        pm.register(plugin, name=name)

    pluggy_order = [impl.plugin_name for impl in reversed(pm.hook.case_eligible.get_hookimpls())]
    judges = eligibility_judges(pm)

    assert [impl.plugin_name for impl, _ in judges] == pluggy_order
    assert pluggy_order[:2] == ["first-2", "first-1"]
    assert pluggy_order[-3:] == ["fieldcase.builtin.policy", "last-1", "last-2"]
    assert [name for name, batch in ((i.plugin_name, b) for i, b in judges) if batch] == [
        "both",
        "fieldcase.builtin.policy",
    ]
    pm.register(BatchFirst(), name="batch-first")
    assert eligibility_judges(pm)[0][0].plugin_name == "batch-first"


def test_a_rule_of_the_batch_form_only_takes_its_place_among_the_others(
    tmp_path: Path, rules: RegionRule, register_plugin: RegisterPlugin
) -> None:
    class Hongkong:
        @hookimpl(tryfirst=True)
        def cases_eligible(self, cases: Sequence[Mapping[str, Any]]) -> list[Decision | None]:
            return [
                Decision.deny("test.hk", "not in Hong Kong") if c["currency"] == "HKD" else None
                for c in cases
            ]

    register_plugin(Hongkong(), name="hongkong")
    db = office_at(tmp_path / "office")
    import_file(db)

    assert flags(db)["E-8"][1] == "not in Hong Kong (rule test.hk); " + NOTES["E-8"]
