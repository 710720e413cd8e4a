"""What plugins read and write through documented interfaces only (issue 12).

The bundled Example Bank plugin keeps a branch attribute, reports by branch
through the Reader, feeds its core system through an exporter that gets the
promises and payments in its rows, and adds a command with --json through the
command context. Each is driven here through the real command line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Run, register, set_policy, to_submitted
from fieldcase import hookimpl
from fieldcase.plugins import manager
from fieldcase.ranking import default_priority
from fieldcase.testing import RegisterPlugin

EB = ("--at", "2026-11-23T09:00-05:00")


def create(run: Run, reference: str, branch: str, **options: str) -> None:
    args = [
        "create", "--institution", "example-bank", "--reference", reference,
        "--name", f"Borrower {reference}", "--principal", "8000", "--overdue", "910.25",
        "--overdue-since", "2026-09-01", "--phone", "+1 212 555 0100",
        "--attribute", f"branch={branch}", *EB,
    ]  # fmt: skip
    for key, value in options.items():
        args += [f"--{key}", value]
    result = run(*args, as_="chen.wei")
    assert result.exit_code == 0, result.output


@pytest.fixture
def bank(office: Run) -> Run:
    """Example Bank with three cases in two branches, a broken promise and a payment."""
    register(
        office, "example-bank", jurisdiction="US-NY", timezone="America/New_York",
        currency="USD",
    )  # fmt: skip
    set_policy(office, "example-bank", 'attributes.branch="text"')
    create(office, "EB-1", "Harbor-East", assign="li.na")  # case 2
    create(office, "EB-2", "Harbor-East")  # case 3
    create(office, "EB-3", "Harbor-West")  # case 4
    promised = office("promise", "2", "--amount", "300", "--date", "2026-11-25", *EB, as_="li.na")
    assert promised.exit_code == 0, promised.output
    paid = office("payment", "4", "USD 100", "--reference", "ACH-1", *EB, as_="chen.wei")
    assert paid.exit_code == 0, paid.output
    return office


def report(run: Run, *args: str) -> list[dict[str, str]]:
    result = run("report", "example-bank-branches", "--format", "json", *args, as_="chen.wei")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_branch_report_reads_attributes_promises_and_payments(bank: Run) -> None:
    assert report(bank) == [
        {"branch": "Harbor-East", "cases": 2, "overdue": "1820.50", "promised": "300.00",
         "paid": "0.00"},
        {"branch": "Harbor-West", "cases": 1, "overdue": "910.25", "promised": "0.00",
         "paid": "100.00"},
    ]  # fmt: skip
    only_west = report(bank, "--where", "branch=Harbor-West")
    assert [row["branch"] for row in only_west] == ["Harbor-West"]


def test_built_in_reports_filter_on_attributes(bank: Run) -> None:
    def pipeline(*args: str) -> dict[str, int]:
        result = bank(
            "report", "pipeline", "--institution", "example-bank", "--format", "json",
            "--to", "2026-11-24T09:00-05:00", *args, as_="chen.wei",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return {row["stage"]: row["total"] for row in json.loads(result.output)}

    assert pipeline()["confirmation"] == 3
    assert pipeline("--where", "branch=Harbor-East")["confirmation"] == 2
    assert pipeline("--where", "branch=Nowhere")["confirmation"] == 0

    def promises_by_li_na(*args: str) -> int:
        result = bank("report", "staff", "--format", "json", *args, as_="chen.wei")
        assert result.exit_code == 0, result.output
        return next(r["promises_made"] for r in json.loads(result.output) if r["staff"] == "li.na")

    assert promises_by_li_na() == 1
    assert promises_by_li_na("--where", "branch=Harbor-East") == 1
    assert promises_by_li_na("--where", "branch=Harbor-West") == 0


class PlainReport:
    """A plugin's report that does not say it filters on attributes."""

    @hookimpl
    def register_reports(self, register: Callable[..., None]) -> None:
        register("plain", lambda services, filters: [{"n": 1}], ("n",), "A plain report.")


def test_a_report_that_does_not_say_it_filters_refuses_where(
    bank: Run, register_plugin: RegisterPlugin
) -> None:
    register_plugin(PlainReport(), name="plain-report")
    assert bank("report", "plain", "--format", "json", as_="chen.wei").exit_code == 0
    result = bank("report", "plain", "--where", "branch=Harbor-West", as_="chen.wei")
    assert result.exit_code == 2
    assert "report plain does not filter on attributes" in result.output


def test_a_plugin_command_gets_the_context_json_and_masking(bank: Run) -> None:
    late = ("--at", "2026-11-27T09:00-05:00")
    as_supervisor = bank("example-bank-followups", "--json", *late, as_="chen.wei")
    assert as_supervisor.exit_code == 0, as_supervisor.output
    rows = json.loads(as_supervisor.output)
    assert [(r["case"], r["branch"], r["unpaid"]) for r in rows] == [
        ("example-bank/EB-1", "Harbor-East", "300.00")
    ]
    assert rows[0]["phone"] == "+12125550100"
    assert rows[0]["due_since"] == "2026-11-25"  # the table's "due since", as an identifier
    # A field worker not on the case sees it masked, as 'show' would show it.
    other = json.loads(bank("example-bank-followups", "--json", *late, as_="zhang.min").output)
    assert other[0]["phone"] != "+12125550100" and other[0]["phone"].endswith("0100")
    # The branch filter, and the human table.
    west = bank("example-bank-followups", "--branch", "Harbor-West", *late, as_="chen.wei")
    assert west.exit_code == 0 and "(none)" in west.output


def test_an_exporter_gets_promises_payments_and_attributes(office: Run, tmp_path: Path) -> None:
    set_policy(office, "hx-consumer", 'attributes.branch="text"')
    to_submitted(office)
    promised = office(
        "promise", "1", "--amount", "1500", "--date", "2026-12-15",
        "--at", "2026-11-25T19:00+08:00", as_="li.na",
    )  # fmt: skip
    assert promised.exit_code == 0, promised.output
    feed = tmp_path / "visits.eb.jsonl"
    result = office(
        "export", "visits", "-o", str(feed), "--at", "2026-11-26T09:00+08:00", as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    record = json.loads(feed.read_text(encoding="utf-8").splitlines()[0])
    assert record["promises_made"] == 1 and record["promised_amount"] == "1500.00"
    assert record["next_promise_due"] == "2026-12-15" and record["paid_amount"] == "0.00"
    assert record["branch"] is None and "attributes" not in record


class Fragile:
    """A plugin whose check of its own setting crashes."""

    @hookimpl
    def register_policy_settings(self, register):  # type: ignore[no-untyped-def]
        register("fragile_limit", lambda value: {"a": 1}[value], "a limit", None)


def test_a_bad_setting_is_refused_with_the_plugins_reason_and_nothing_changes(
    bank: Run,
) -> None:
    before = bank("institution", "show", "example-bank", "--json").output
    refused = bank(
        "institution", "policy", "example-bank", "--set", 'holidays=["2026-12-25", "Xmas"]',
        as_="chen.wei",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "holidays: 'Xmas' is not a date; write holidays as YYYY-MM-DD" in refused.output
    plugin = Fragile()
    manager().register(plugin, name="fragile")
    try:
        crashed = bank(
            "institution", "policy", "example-bank", "--set", "fragile_limit=b", as_="chen.wei"
        )
    finally:
        manager().unregister(plugin)
    assert crashed.exit_code == 2 and "Traceback" not in crashed.output
    assert "check of 'b' failed (KeyError: 'b')" in crashed.output
    assert bank("institution", "show", "example-bank", "--json").output == before


class HarborWestFirst:
    """A priority that extends the built-in one instead of copying it."""

    @hookimpl
    def case_priority(self, case, at, visit_today, broken_promises):  # type: ignore[no-untyped-def]
        score = default_priority(case, at, visit_today, broken_promises)
        return score + 10_000 if case.attributes.get("branch") == "Harbor-West" else score


def test_a_priority_plugin_adjusts_the_built_in_one_and_the_worklist_shows_ranks(
    bank: Run,
) -> None:
    args = ("cases", "--institution", "example-bank", *EB)
    before = json.loads(bank(*args, "--json", as_="chen.wei").output)
    assert [r["rank"] for r in before] == [1, 2, 3]
    assert before[0]["case"] != "example-bank/EB-3"
    plugin = HarborWestFirst()
    manager().register(plugin, name="harbor-west-first")
    try:
        after = json.loads(bank(*args, "--json", as_="chen.wei").output)
        table = bank(*args, as_="chen.wei").output
    finally:
        manager().unregister(plugin)
    assert after[0]["case"] == "example-bank/EB-3"
    assert after[0]["priority_score"] == pytest.approx(before[-1]["priority_score"] + 10_000)
    header = table.splitlines()[0].split()
    assert header[0] == "rank" and "priority" not in header
