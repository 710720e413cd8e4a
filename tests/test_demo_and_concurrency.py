"""The demo portfolio, and optimistic concurrency on cases."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result
from conftest import Run
from fieldcase.cli import cli
from fieldcase.errors import StaleCase
from fieldcase.services import Services

#: The demo's now in these tests: 07:30 in Shanghai, before the day's first call.
NOW = "2026-11-24T07:30+08:00"
TOMORROW = "2026-11-25T07:30+08:00"


def build(path: Path, *options: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(path), "demo", "--at", NOW, *options])
    assert result.exit_code == 0, result.output
    return result.output


def fieldcase(db: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result


def today(db: Path, staff: str, at: str = NOW) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(
        fieldcase(db, "--as", staff, "today", "--json", "--at", at).stdout
    )
    return plan


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo, 300 cases, built once."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build(path)
    return path


def test_demo_is_deterministic_and_complete(tmp_path: Path) -> None:
    output = build(tmp_path / "a.db", "--cases", "50")
    build(tmp_path / "b.db", "--cases", "50")
    a, b = sqlite3.connect(tmp_path / "a.db"), sqlite3.connect(tmp_path / "b.db")
    for table in ("cases", "visits", "promises", "payments", "feedback", "events"):
        assert (
            a.execute(f"SELECT * FROM {table}").fetchall()
            == b.execute(f"SELECT * FROM {table}").fetchall()
        )
    institutions = {r[0] for r in a.execute("SELECT institution FROM cases")}
    assert len(institutions) == 5
    zones = {r[0] for r in a.execute("SELECT timezone FROM cases")}
    assert {"Asia/Shanghai", "America/New_York", "Asia/Kolkata"} <= zones
    closed = a.execute("SELECT count(*) FROM cases WHERE resolution = 'restructured'").fetchone()
    assert closed[0] >= 4  # one for each field worker
    names = [r[0] for r in a.execute("SELECT borrower_name FROM cases")]
    assert any("\u4e00" <= ch <= "\u9fff" for n in names for ch in n)  # Chinese names
    assert any(n.isascii() for n in names)
    # A plugin refusal is part of the story, and the log verifies.
    assert a.execute("SELECT count(*) FROM events WHERE type = 'refused'").fetchone()[0] >= 1
    assert "Worklist of li.na" in output and "case_closed" in output
    verify = CliRunner().invoke(cli, ["--db", str(tmp_path / "a.db"), "audit", "verify"])
    assert verify.exit_code == 0


def test_the_demo_is_a_portfolio_in_mid_flight(portfolio: Path) -> None:
    conn = sqlite3.connect(portfolio)
    stages = dict(conn.execute("SELECT stage, count(*) FROM cases GROUP BY stage").fetchall())
    assert set(stages) == {"confirmation", "preparation", "interview", "feedback", "closed"}
    assert all(stages.values())
    # Confirmation: some cases called already, most not yet.
    called = conn.execute(
        "SELECT count(DISTINCT c.id) FROM cases c JOIN contacts k ON k.case_id = c.id"
        " WHERE c.stage = 'confirmation'"
    ).fetchone()[0]
    assert 0 < called < stages["confirmation"]
    # Feedback awaiting review, and one returned to its author.
    status = dict(
        conn.execute(
            "SELECT feedback_status, count(*) FROM cases WHERE stage = 'feedback'"
            " GROUP BY feedback_status"
        ).fetchall()
    )
    assert status["submitted"] >= 4 and status["returned"] == 1
    # Closed several ways; an accepted arrangement still running.
    resolutions = {
        r[0] for r in conn.execute("SELECT resolution FROM cases WHERE stage = 'closed'")
    }
    assert {"restructured", "settled", "dispute-upheld"} <= resolutions
    assert conn.execute("SELECT count(*) FROM offers WHERE status = 'accepted'").fetchone()[0]
    # A broken promise: due before the borrower's today, nothing paid.
    broken = conn.execute(
        "SELECT count(*) FROM promises WHERE met_at IS NULL AND due < '2026-11-24'"
    ).fetchone()[0]
    assert broken >= 1
    # The back office (a supervisor) records every payment, confirmed at once.
    payers = {
        r[0] for r in conn.execute("SELECT actor FROM events WHERE type = 'payment_recorded'")
    }
    assert payers and payers <= {"chen.wei", "ann.hughes"}
    # The story is over by its now: nothing is dated later.
    assert conn.execute("SELECT max(at) FROM events").fetchone()[0] == "2026-11-23T23:30:00Z"
    assert fieldcase(portfolio, "audit", "verify", "--replay").exit_code == 0


def test_every_field_worker_has_visits_today_and_tomorrow(portfolio: Path) -> None:
    for staff in ("li.na", "zhang.min", "maria.lopez", "raj.patel"):
        assert today(portfolio, staff)["visits"], staff
        assert today(portfolio, staff)["promises"], staff
        assert today(portfolio, staff, TOMORROW)["visits"], staff


def test_li_na_s_morning_through_the_command_line(portfolio: Path) -> None:
    plan = today(portfolio, "li.na")
    assert len(plan["visits"]) >= 2
    for visit in plan["visits"]:
        # A window on the borrower's clock and an address in her district.
        assert visit["window"].endswith("Asia/Shanghai") and visit["address"] and visit["area"]
    [promise] = plan["promises"]
    assert promise["due"] == "2026-11-24"
    assert any(c["stage"] == "confirmation" and c["last_contact"] for c in plan["contacts"])
    assert any(c["stage"] == "confirmation" and not c["last_contact"] for c in plan["contacts"])
    [fix] = plan["feedback"]
    assert fix["returned_by"] == "chen.wei" and fix["note"]
    text = fieldcase(portfolio, "--as", "li.na", "today", "--at", NOW).stdout
    first = text.splitlines()[0]
    assert f"{len(plan['visits'])} visits, 1 promise falling due" in first
    assert f"{len(plan['contacts'])} contacts to make" in first
    assert "1 feedback to fix" in first
    for heading in ("Visits, in route order", "Promises falling due", "Contacts to make"):
        assert heading in text
    assert "not before 08:00 Asia/Shanghai (cn.hours)" in text  # 07:30: too early to call
    tomorrow = today(portfolio, "li.na", TOMORROW)
    assert any(v["to_tick"] for v in tomorrow["visits"])  # one still to prepare


def test_the_supervisor_s_review_queue(portfolio: Path) -> None:
    rows = json.loads(
        fieldcase(
            portfolio, "--as", "chen.wei", "cases", "--stage", "feedback", "--json", "--at", NOW
        ).stdout
    )
    steps = Counter(r["next_step"] for r in rows)
    assert steps["review"] >= 2 and steps["feedback (returned)"] == 1
    waiting = next(r["id"] for r in rows if r["next_step"] == "review")
    approved = fieldcase(
        portfolio, "--as", "chen.wei", "review", str(waiting), "--approve", "--at", NOW
    )
    assert "feedback approved" in approved.stdout


def test_the_demo_is_built_around_the_real_now_by_default(
    tmp_path: Path, real_clock: Callable[[str], None]
) -> None:
    real_clock("2027-02-10T01:02:03Z")  # 09:02 in Shanghai
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "d.db"), "demo", "--cases", "60"])
    assert result.exit_code == 0, result.output
    assert "At 2027-02-10 01:02 +0000:" in result.output
    conn = sqlite3.connect(tmp_path / "d.db")
    built = conn.execute("SELECT at FROM events WHERE type = 'demo_built'").fetchone()[0]
    assert built == "2027-02-10T01:02:00Z"
    # Without --at, today is the real one, and li.na has visits on it.
    plan = json.loads(
        CliRunner()
        .invoke(cli, ["--db", str(tmp_path / "d.db"), "--as", "li.na", "today", "--json"])
        .stdout
    )
    assert plan["visits"] and plan["contacts"]


def test_demo_refuses_to_overwrite_without_replace(tmp_path: Path) -> None:
    build(tmp_path / "a.db")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "a.db"), "demo"])
    assert result.exit_code == 1
    assert "pass --replace" in result.output
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "a.db"), "demo", "--replace", "--cases", "20"]
    )
    assert result.exit_code == 0
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 20


@pytest.mark.both_stores  # on a SQLite file and on PostgreSQL (tests/conftest.py)
def test_stale_write_is_refused_not_merged(office: Run, services: Services) -> None:
    at = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    stale = services.get_case(1)
    services.record_contact(
        1, actor="li.na", at=at, channel="sms", target="borrower", outcome="left-message"
    )
    with pytest.raises(StaleCase, match="changed by someone else"):
        services.store.commit(
            "address_confirmed",
            actor="li.na",
            at=at,
            records=[attrs.evolve(stale, version=stale.version + 1, confirmed_address="x")],
            case_id=stale.id,
            expected_version=stale.version,
        )
    fresh = services.get_case(1)
    assert fresh.confirmed_address is None
    assert fresh.version == stale.version + 1


def readme_first_look() -> tuple[list[list[str]], str]:
    """The README's first-look commands (their words after ``--db demo.db``), and the
    output of li.na's day it shows."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## A first look") : text.index("## Documentation")]
    console, shown = re.findall(r"```(?:console)?\n(.*?)```", section, re.DOTALL)[:2]
    commands = [
        shlex.split(line.removeprefix("$ "), comments=True)
        for line in console.replace("\\\n", " ").splitlines()
        if line.startswith("$ fieldcase --db demo.db ")
    ]
    return [words[3:] for words in commands], shown


def test_the_readme_s_first_look_runs_on_the_demo(portfolio: Path, tmp_path: Path) -> None:
    commands, shown = readme_first_look()
    assert ["--as", "li.na", "today"] in commands
    db = tmp_path / "demo.db"
    shutil.copy(portfolio, db)
    for words in commands:
        result = CliRunner().invoke(cli, ["--db", str(db), *words])
        # 'check' of a late call says DENY (exit 1); everything else succeeds.
        assert result.exit_code == (1 if words[0] == "check" else 0), (words, result.output)
    # The morning it shows is li.na's at the demo's --at, line for line.
    out = fieldcase(portfolio, "--as", "li.na", "today", "--at", NOW).stdout.splitlines()
    lines = [line for line in shown.splitlines() if line and line != "..."]
    assert [line for line in out if line in lines] == lines
