"""Institution policy lives in the database: the attacks that used to work, and the record.

Each test drives the real command line against the real database (a file, or
PostgreSQL): a field worker's own configuration, a folder change, a mistyped rule
pack or institution, a plugin left out, a time in the future or long past.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import AT, Run, events, set_policy, snapshot, to_feedback
from fieldcase.store.dialect import is_server_url
from fieldcase.testing import OnlyPlugins
from pgserver import PgOffice, password_of

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

LATE_CALL = ("--at", "2026-11-23T22:30+08:00")


def call(run: Run, *at: str, as_: str = "li.na") -> Any:
    return run("contact", "1", "--channel", "phone", "--outcome", "no-answer", *at, as_=as_)


def offers(run: Run, at: str = "2026-11-25T11:00+08:00") -> dict[str, Any]:
    result = run("offers", "1", "--json", "--at", at, as_="li.na")
    assert result.exit_code == 0, result.output
    return {o["code"]: o for o in json.loads(result.stdout)["offers"]}


@pytest.fixture
def china(office: Run) -> Run:
    """The office, with hx-consumer bound by the China rule pack (version 2)."""
    set_policy(office, "hx-consumer", "rule_packs=cn")
    return office


# -- the caller's environment decides nothing ----------------------------------------


def test_a_field_workers_own_config_file_changes_nothing(
    office: Run, tmp_path: Path, target: str
) -> None:
    to_feedback(office)
    honest = offers(office)
    (tmp_path / "fieldcase.toml").write_text(
        '[institutions.hx-consumer]\napproval_threshold = "99999999"\n'
        '[institutions.hx-consumer.offers]\nsettlement_discount = "0.95"\n'
    )
    result = office("offers", "1", "--json", "--at", "2026-11-25T11:05+08:00", as_="li.na")
    assert "fieldcase.toml is not read" in result.stderr
    attacked = {o["code"]: o for o in json.loads(result.stdout)["offers"]}
    assert attacked["settlement"]["total_payable"] == honest["settlement"]["total_payable"]
    assert attacked["settlement"]["terms"] == honest["settlement"]["terms"]
    # The 20% discount of the policy still needs a supervisor's approval.
    assert attacked["settlement"]["status"] == "needs-approval"
    taken = office("accept", "1", "settlement", "--at", "2026-11-25T11:10+08:00", as_="li.na")
    assert taken.exit_code == 1 and "(rule offer.four_eyes)" in taken.stderr
    # And a file named on the command line is refused outright.
    named = office("--config", "fieldcase.toml", "offers", "1", as_="li.na")
    assert named.exit_code == 2 and "institution migrate fieldcase.toml" in named.stderr


def test_the_same_call_gets_the_same_verdict_from_any_folder(
    china: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    verdicts = []
    for folder in ("office", "home", "elsewhere"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        if folder == "home":
            (tmp_path / folder / "fieldcase.toml").write_text(
                "[institutions.hx-consumer]\nrule_packs = []\n"
            )
        result = call(china, *LATE_CALL)
        verdicts.append((result.exit_code, "(rule cn.hours)" in result.stderr))
    assert verdicts == [(1, True)] * 3
    assert [e["type"] for e in events(target, 1)][-3:] == ["refused"] * 3


def test_leaving_a_rule_pack_out_refuses_instead_of_switching_its_rules_off(
    china: Run, target: str, only_plugins: OnlyPlugins
) -> None:
    # The attack: leave the China pack out of the plugins this process loads.
    only_plugins("fieldcase-us-regf")
    result = call(china, *LATE_CALL)
    dry = china("check", "1", "--action", "contact", "--channel", "phone", *LATE_CALL)
    assert result.exit_code == 1
    assert "needs rule pack cn, which is not loaded here" in result.stderr
    assert "(rule policy.plugins)" in result.stderr
    last = events(target, 1)[-1]
    assert last["type"] == "refused" and last["policy_version"] == 2
    assert dry.exit_code == 1 and "policy.plugins" in dry.stdout


# -- policy is data, checked when set ---------------------------------------------------


@pytest.mark.bundled_plugins
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("rule_packs=CN", "no rule pack 'CN' (installed: cn, in-rbi, us-regf); did you mean cn?"),
        ('rule_packs=["cn", "us_regf"]', "did you mean us-regf?"),
        ("min_day_past_due=5", "institution keys'); did you mean min_days_past_due?"),
        ("offers.settlement_discont=0.2", "did you mean settlement_discount?"),
        ("rules.cn.hour.start=09:00", "e.g. rules.cn.hours.start=09:00); did you mean cn.hours?"),
        (
            "rules.cn.hours.begin=09:00",
            "rule cn.hours has no parameter 'begin' (its parameters: start, end)",
        ),
        ("offers.settlement_discount=0.95x", "must be a share below"),
        ("future_minutes=600", "future_minutes = 600 must be how many minutes"),
    ],
)
def test_a_bad_policy_is_refused_when_set_with_a_suggestion(
    office: Run, target: str, setting: str, message: str
) -> None:
    before = snapshot(target)
    result = office("institution", "policy", "hx-consumer", "--set", setting, as_="chen.wei")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert snapshot(target) == before


def test_a_policy_file_is_checked_whole(office: Run, tmp_path: Path, target: str) -> None:
    (tmp_path / "hx.toml").write_text('rule_packs = ["CN"]\nmin_days_past_due = 30\n')
    before = snapshot(target)
    result = office("institution", "policy", "hx-consumer", "--from", "hx.toml", as_="chen.wei")
    assert result.exit_code == 2 and "did you mean cn?" in result.stderr
    assert snapshot(target) == before
    (tmp_path / "hx.toml").write_text('rule_packs = ["cn"]\nmin_days_past_due = 30\n')
    result = office("institution", "policy", "hx-consumer", "--from", "hx.toml", as_="chen.wei")
    assert result.exit_code == 0, result.output
    shown = json.loads(office("institution", "show", "hx-consumer", "--json").stdout)
    assert shown["policy"] == {"rule_packs": ["cn"], "min_days_past_due": 30}
    assert shown["policy_version"] == 2


def test_only_a_supervisor_changes_a_policy_and_the_attempt_is_on_record(
    office: Run, target: str
) -> None:
    result = office(
        "institution",
        "policy",
        "hx-consumer",
        "--set",
        "approval_threshold=1000000",
        as_="li.na",
    )
    assert result.exit_code == 1 and "only a supervisor" in result.stderr
    shown = json.loads(office("institution", "show", "hx-consumer", "--json").stdout)
    assert shown["policy_version"] == 1 and shown["policy"] == {}
    chain = [e for e in events(target) if e["chain"] == "institution:hx-consumer"]
    assert [e["type"] for e in chain] == ["institution_added", "refused"]
    assert json.loads(chain[-1]["payload"])["data"]["reasons"][0]["rule"] == "permission.supervisor"


def test_a_policy_change_between_two_actions_shows_in_history(china: Run, target: str) -> None:
    assert call(china, "--at", "2026-11-23T10:00+08:00").exit_code == 0
    set_policy(china, "hx-consumer", "rules.cn.hours.start=11:00", at="2026-11-23T10:30+08:00")
    refused = call(china, "--at", "2026-11-24T10:45+08:00")
    assert refused.exit_code == 1
    assert "outside 11:00-21:00" in refused.stderr
    rows = json.loads(china("history", "1", "--json", as_="chen.wei").stdout)
    assert [(r["type"], r["policy_version"]) for r in rows][-2:] == [
        ("contact_recorded", 2),
        ("refused", 3),
    ]
    text = china("history", "1", as_="chen.wei").stdout
    assert "refused contact under hx-consumer policy v3: contact at 10:45" in text
    policy = china("history", "--institution", "hx-consumer").stdout
    assert "version 3: rules.cn.hours.start (default) -> 11:00" in policy
    # The policy in force at a moment, with its version.
    then = china("institution", "show", "hx-consumer", "--at", "2026-11-23T10:15+08:00")
    assert "Policy version 2 (now v3)" in then.stdout
    assert "rules.cn.hours.start" not in then.stdout


def tampered_copy(
    target: str, request: pytest.FixtureRequest, *statements: str, log: bool = False
) -> str:
    """A copy of the office with ``statements`` run on it by its administrator.

    The office itself must stay whole. With ``log``, the statements edit the log,
    whose guard is then out of their way: SQLite's trigger dropped; PostgreSQL's
    disabled for them and enabled again, as an administrator who edits it would.
    """
    if is_server_url(target):
        office: PgOffice = request.getfixturevalue("pg_office")
        name = f"{office.name}_tampered"
        with psycopg.connect(office.server.admin_url("postgres"), autocommit=True) as conn:
            # A template has no other sessions: end those the commands, done, left idle.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [office.name],
            )
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{office.name}"')
        copy = office.server.admin_url(name)
        with psycopg.connect(copy, autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL search_path = fieldcase")
            if log:
                conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
            for sql in statements:
                conn.execute(sql)
            if log:
                conn.execute("ALTER TABLE events ENABLE TRIGGER events_no_update")
        return copy
    path = Path(target).with_name("tampered.db")
    source, dest = sqlite3.connect(target), sqlite3.connect(path)
    source.backup(dest)
    source.close()
    if log:
        dest.execute("DROP TRIGGER events_no_update")
    for sql in statements:
        dest.execute(sql)
    dest.commit()
    dest.close()
    return str(path)


def fieldcase(db: Path | str, *args: str) -> Any:
    from click.testing import CliRunner
    from fieldcase.cli import cli

    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_replay_rebuilds_the_institutions_and_their_policies(
    china: Run, target: str, request: pytest.FixtureRequest
) -> None:
    set_policy(china, "hx-consumer", "offers.valid_days=3", at="2026-11-02T09:00+08:00")
    assert china("audit", "verify", "--replay").exit_code == 0
    tampered = tampered_copy(
        target,
        request,
        "UPDATE institutions SET policy = '{}' WHERE id = 'hx-consumer'",
        "DELETE FROM policy_versions WHERE version = 3",
    )
    result = fieldcase(tampered, "audit", "verify", "--replay")
    assert result.exit_code == 1
    assert "institutions row hx-consumer" in result.stderr
    assert "policy_versions row" in result.stderr


def test_an_edited_policy_event_breaks_the_chain(
    china: Run, target: str, request: pytest.FixtureRequest
) -> None:
    tampered = tampered_copy(
        target,
        request,
        "UPDATE events SET policy_version = 1 WHERE type = 'policy_changed'",
        log=True,
    )
    result = fieldcase(tampered, "audit", "verify")
    assert result.exit_code == 1 and "(institution:hx-consumer)" in result.stderr


# -- institutions are registered --------------------------------------------------------


def test_an_unknown_institution_is_refused_on_create_and_import(
    office: Run, tmp_path: Path, target: str
) -> None:
    before = snapshot(target)
    from conftest import create_args

    created = office(*create_args("L-2", institution="hx_consumer"), *AT, as_="chen.wei")
    assert created.exit_code == 1
    assert "no institution 'hx_consumer' is registered; did you mean hx-consumer?" in created.stderr
    (tmp_path / "cases.csv").write_text(
        "reference,borrower_name,principal,overdue_amount,days_past_due\nR-1,A,100,10,30\n"
    )
    imported = office("import", "cases.csv", "--institution", "HX-consumer", *AT, as_="chen.wei")
    assert imported.exit_code == 1 and "did you mean hx-consumer?" in imported.stderr
    listed = office("cases", "--institution", "hx-consumr")
    assert listed.exit_code == 1 and "did you mean hx-consumer?" in listed.stderr
    by_reference = office("show", "hx_consumer/L-1001")
    assert by_reference.exit_code == 1 and "did you mean hx-consumer?" in by_reference.stderr
    assert snapshot(target) == before


def test_an_import_takes_the_institutions_defaults_and_checks_jurisdictions(
    office: Run, tmp_path: Path
) -> None:
    (tmp_path / "cases.csv").write_text(
        "reference,borrower_name,principal,overdue_amount,days_past_due,jurisdiction\n"
        "R-1,A,100,10,30,\nR-2,B,100,10,30,cn\nR-3,C,100,10,30,China\nR-4,D,100,10,30,US-ZZ\n"
    )
    result = office("import", "cases.csv", "--institution", "hx-consumer", *AT, as_="chen.wei")
    assert result.exit_code == 0, result.output
    assert "2 imported" in result.stdout and "2 rejected" in result.stdout
    rejects = (tmp_path / "cases.rejects.csv").read_text()
    assert "did you mean CN (China)?" in rejects and "US-ZZ" in rejects
    for ref in ("R-1", "R-2"):
        case = json.loads(office("show", f"hx-consumer/{ref}", "--json").stdout)
        assert (case["jurisdiction"], case["currency"]) == ("CN", "CNY")
        assert case["borrower"]["timezone"] == "Asia/Shanghai"


def test_registering_checks_its_fields(office: Run, target: str) -> None:
    before = snapshot(target)
    base = ["institution", "add", "cn-bank", "--name", "CN Bank", "--timezone", "Asia/Shanghai"]
    for extra, message in [
        (["--jurisdiction", "China", "--currency", "CNY"], "did you mean CN (China)?"),
        (["--jurisdiction", "CN", "--currency", "RMB"], "RMB"),
        (
            ["--jurisdiction", "CN", "--currency", "CNY", "--set", "rule_packs=CN"],
            "did you mean cn?",
        ),
    ]:
        result = office(*base, *extra, as_="chen.wei")
        assert result.exit_code == 2, result.output
        assert message in result.stderr
    field = office(*base, "--jurisdiction", "CN", "--currency", "CNY", as_="li.na")
    assert field.exit_code == 1 and "only a supervisor" in field.stderr
    twin = office(
        "institution",
        "add",
        "HX_Consumer",
        "--name",
        "x",
        "--jurisdiction",
        "CN",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        as_="chen.wei",
    )
    assert twin.exit_code == 2 and "too like 'hx-consumer'" in twin.stderr
    assert snapshot(target)["events"][:-1] == before["events"]
    listed = json.loads(office("institution", "list", "--json").stdout)
    assert [i["id"] for i in listed] == ["hx-consumer"]


def test_migrating_an_old_configuration_file(office: Run, tmp_path: Path, target: str) -> None:
    from conftest import create_args

    (tmp_path / "fieldcase.toml").write_text(
        "[privacy]\nretention_years = 7\n"
        '[institutions.hx-consumer]\nrule_packs = ["cn"]\n'
        '[institutions.hx-consumer.rules."cn.hours"]\nstart = "09:00"\n'
        '[institutions.midwest]\nname = "Midwest Credit"\njurisdiction = "US-IL"\n'
        'timezone = "America/Chicago"\ncurrency = "USD"\nrule_packs = ["us-regf"]\n'
    )
    before = snapshot(target)
    dry = office("institution", "migrate", "fieldcase.toml", "--dry-run", *AT, as_="chen.wei")
    assert dry.exit_code == 0, dry.output
    assert "Would migrate fieldcase.toml: 2 institutions" in dry.stdout
    assert snapshot(target) == before
    done = office("institution", "migrate", "fieldcase.toml", *AT, as_="chen.wei")
    assert done.exit_code == 0, done.output
    assert "hx-consumer: policy-changed: version 2" in done.stdout
    assert "midwest: registered: US-IL, America/Chicago, USD" in done.stdout
    shown = json.loads(office("institution", "show", "hx-consumer", "--json").stdout)
    assert shown["policy"] == {
        "rule_packs": ["cn"],
        "rules": {"cn.hours": {"start": "09:00"}},
        "retention_years": 7,
    }
    again = office("institution", "migrate", "fieldcase.toml", *AT, as_="chen.wei")
    assert "hx-consumer: unchanged" in again.stdout
    case = office(*create_args("M-1", institution="midwest"), *AT, as_="chen.wei")
    assert case.exit_code == 0, case.output


def test_a_migration_with_one_bad_section_writes_nothing(
    office: Run, tmp_path: Path, target: str
) -> None:
    (tmp_path / "fieldcase.toml").write_text(
        "[institutions.hx-consumer]\nmax_failed_visits = 2\n"
        '[institutions.nowhere]\nrule_packs = ["cn"]\n'
    )
    before = snapshot(target)
    result = office("institution", "migrate", "fieldcase.toml", *AT, as_="chen.wei")
    assert result.exit_code == 2
    assert "cannot register nowhere: no jurisdiction, timezone, currency" in result.stderr
    assert snapshot(target) == before


# -- time is anchored to the real clock ----------------------------------------------------


@pytest.mark.sqlite_only  # sets the machine's clock; PostgreSQL's is the server's
def test_a_future_time_is_refused_and_nothing_is_written(
    office: Run, target: str, real_clock: Any
) -> None:
    real_clock("2026-11-23T04:00Z")  # 12:00 in Shanghai
    before = snapshot(target)
    result = call(office, "--at", "2062-11-23T12:00+08:00")
    assert result.exit_code == 2
    assert "--at 2062-11-23 12:00 +0800 is in the future" in result.stderr
    assert "did you mean 2026-11-23?" in result.stderr
    assert snapshot(target) == before
    # A few minutes ahead (a clock a little slow) is fine; the case is not locked.
    real_clock("2026-11-23T03:56Z")
    assert call(office, "--at", "2026-11-23T12:00+08:00").exit_code == 0
    real_clock("2026-11-23T04:01Z")
    assert call(office).exit_code == 0


@pytest.mark.sqlite_only  # sets the machine's clock; PostgreSQL's is the server's
def test_backdating_past_the_limit_needs_a_supervisor(
    office: Run, target: str, real_clock: Any
) -> None:
    real_clock("2026-12-05T04:00Z")
    old = ("--at", "2026-11-24T10:00+08:00")
    refused = call(office, *old)
    assert refused.exit_code == 1
    assert "more than 7 days ago; only a supervisor" in refused.stderr
    assert "(rule time.backdate)" in refused.stderr
    last = events(target, 1)[-1]
    assert last["type"] == "refused" and last["recorded_at"] == "2026-12-05T04:00:00Z"
    assert call(office, *old, as_="chen.wei").exit_code == 0
    # The institution may allow more: a policy key, set by a supervisor.
    set_policy(office, "hx-consumer", "backdate_days=30", at="2026-12-05T12:00+08:00")
    assert call(office, "--at", "2026-11-24T11:00+08:00").exit_code == 0


@pytest.mark.sqlite_only  # sets the machine's clock; PostgreSQL's is the server's
def test_events_record_the_real_time_and_history_shows_it_when_it_differs(
    office: Run, target: str, real_clock: Any
) -> None:
    real_clock("2026-11-25T02:00Z")
    assert call(office, "--at", "2026-11-24T09:00+08:00", as_="chen.wei").exit_code == 0
    assert call(office, "--at", "2026-11-25T09:59+08:00").exit_code == 0
    last_two = events(target, 1)[-2:]
    assert [e["recorded_at"] for e in last_two] == ["2026-11-25T02:00:00Z"] * 2
    assert [e["at"] for e in last_two] == ["2026-11-24T01:00:00Z", "2026-11-25T01:59:00Z"]
    text = office("history", "1", as_="chen.wei").stdout
    assert "2026-11-24 09:00 +0800 (recorded 2026-11-25 10:00 +0800)" in text
    assert "2026-11-25 09:59 +0800 (recorded" not in text
    assert office("audit", "verify").exit_code == 0


def test_without_at_a_command_acts_at_the_real_clocks_time(
    office: Run, target: str, store_kind: str, real_clock: Any
) -> None:
    """The machine's clock on a file; on PostgreSQL the server's, whatever the machine's.

    There, a machine two weeks slow or an hour fast made each command given no --at a
    backdated or a future one, refused, though nobody claimed any time.
    """
    import datetime as dt

    hour_fast = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    for machine in ("2026-11-23T05:00:00Z", f"{hour_fast:%Y-%m-%dT%H:%M:%SZ}"):
        real_clock(machine)
        done = call(office)
        assert done.exit_code == 0, done.output
        last = events(target, 1)[-1]
        if store_kind == "postgresql":
            at, recorded = (dt.datetime.fromisoformat(last[k]) for k in ("at", "recorded_at"))
            assert dt.timedelta(0) <= recorded - at < dt.timedelta(minutes=1), last
            assert at != dt.datetime.fromisoformat(machine)
        else:
            assert last["at"] == last["recorded_at"] == machine


def test_a_dry_run_may_ask_about_any_time(china: Run, real_clock: Any) -> None:
    real_clock("2026-11-23T04:00Z")  # on PostgreSQL the server's clock is the real one
    result = china(
        "check", "1", "--action", "contact", "--channel", "phone", "--at", "2027-01-05T22:30+08:00"
    )
    assert result.exit_code == 1 and "cn.hours" in result.stdout


# -- the demo shows compliance at work; an older database is moved over ------------------


@pytest.mark.parametrize(
    ("case", "late", "rule", "citation"),
    [
        ("hx-consumer/HX-100000", "2026-11-29T22:30+08:00", "cn.hours", "NIFA"),
        ("example-bank/EX-100002", "2026-11-29T22:30-05:00", "us.regf.hours", "12 CFR 1006.6"),
        ("deccan-finance/DE-100004", "2026-11-29T22:30+05:30", "in.rbi.hours", "RBI circular"),
    ],
)
def test_the_demo_binds_its_institutions_to_their_rule_packs(
    tmp_path: Path, case: str, late: str, rule: str, citation: str
) -> None:
    demo = tmp_path / "demo.db"
    built = fieldcase(demo, "demo", "--cases", "20", "--at", "2026-11-24T07:30+08:00")
    assert built.exit_code == 0, built.output
    result = fieldcase(
        demo, "check", case, "--action", "contact", "--channel", "phone", "--at", late
    )
    assert result.exit_code == 1, result.output
    denial = next(line for line in result.stdout.splitlines() if line.startswith("DENY"))
    assert rule in denial and citation in denial
    # The demo's own history shows one such refusal, on the record.
    refusals = [e for e in events(demo) if e["type"] == "refused" and "cn.hours" in e["payload"]]
    assert len(refusals) == 1 and refusals[0]["policy_version"] == 1


def older_database(run: Run, target: str, institution: str, jurisdiction: str) -> None:
    """A database with case 1 written as before institutions were registered (no checks).

    Written by the administrator through the store; on PostgreSQL, sup and w then
    log in with their passwords (``pgserver.password_of``).
    """
    import datetime as dt
    from decimal import Decimal

    from fieldcase.model import Borrower, Case, Staff
    from fieldcase.store import Store

    assert run("init").exit_code == 0
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    store = Store(target)
    store.commit("staff_added", actor=None, at=t0, records=[Staff("sup", "Sup", "supervisor")])
    store.commit("staff_added", actor=None, at=t0, records=[Staff("w", "W", "field")])
    old = Case(
        institution=institution,
        reference="R-1",
        borrower=Borrower(name="A", timezone="Asia/Shanghai"),
        currency="CNY",
        principal=Decimal(1000),
        overdue_amount=Decimal(100),
        overdue_since=dt.date(2026, 9, 1),
        referred_at=t0,
        assigned_to="w",
        jurisdiction=jurisdiction,
    )
    store.commit("case_created", actor="sup", at=t0, records=[old])
    if is_server_url(target):
        for staff in ("sup", "w"):
            store.set_password(staff, password_of(staff))
    store.close()


def test_an_older_database_is_refused_until_its_institutions_are_registered(
    tmp_path: Path, target: str, run: Run
) -> None:
    """Cases written before institutions were registered: their actions wait for a policy."""
    older_database(run, target, "legacy-bank", "")  # no jurisdiction, as then allowed
    late = ("--at", "2026-11-23T22:30+08:00")
    refused = run("contact", "1", "--channel", "phone", "--outcome", "no-answer", *late, as_="w")
    assert refused.exit_code == 1
    assert "institution 'legacy-bank' is not registered" in refused.stderr
    assert "institution migrate" in refused.stderr
    config = tmp_path / "fieldcase.toml"
    config.write_text('[institutions.legacy-bank]\nrule_packs = ["cn"]\n')
    unknown = run("institution", "migrate", "fieldcase.toml", *AT, as_="sup")
    assert unknown.exit_code == 2
    assert "cannot register legacy-bank: no jurisdiction in its section nor on its cases" in (
        unknown.stderr
    )
    config.write_text('[institutions.legacy-bank]\nrule_packs = ["cn"]\njurisdiction = "cn"\n')
    migrated = run("institution", "migrate", "fieldcase.toml", *AT, as_="sup")
    assert migrated.exit_code == 0, migrated.output
    # The time zone and currency come from its cases; the case without a
    # jurisdiction is judged in its institution's.
    assert "legacy-bank: registered: CN, Asia/Shanghai, CNY (from its section)" in migrated.stdout
    again = run("contact", "1", "--channel", "phone", "--outcome", "no-answer", *late, as_="w")
    assert again.exit_code == 1 and "(rule cn.hours)" in again.stderr


def test_amounts_are_kept_exactly_as_typed(office: Run) -> None:
    set_policy(office, "hx-consumer", "approval_threshold=999999999999999.99", "penalty_cap=0.30")
    shown = json.loads(office("institution", "show", "hx-consumer", "--json").stdout)
    assert shown["policy"] == {"approval_threshold": "999999999999999.99", "penalty_cap": "0.30"}


def test_observers_see_the_institutions_events(office: Run) -> None:
    from fieldcase import hookimpl
    from fieldcase.plugins import manager

    seen: list[tuple[str, int | None]] = []

    class Observer:
        @hookimpl
        def case_event(self, case: Any, event: Any) -> None:
            seen.append((event.type, event.policy_version))

    manager().register(Observer(), name="observer")
    try:
        set_policy(office, "hx-consumer", "max_failed_visits=2")
    finally:
        manager().unregister(name="observer")
    assert seen == [("policy_changed", 2)]


# -- what an attack on all this found ----------------------------------------------------


def test_migrating_never_resets_or_rolls_back_a_policy(
    china: Run, tmp_path: Path, target: str
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(
        '[institutions.other]\nname = "Other"\njurisdiction = "US-IL"\n'
        'timezone = "America/Chicago"\ncurrency = "USD"\n'
    )
    done = china("institution", "migrate", "other.toml", *AT, as_="chen.wei")
    assert done.exit_code == 0, done.output
    assert "hx-consumer" not in done.stdout  # not named by the file: left as it is
    old = tmp_path / "old.toml"
    old.write_text("[institutions.hx-consumer]\nrule_packs = []\nmax_failed_visits = 5\n")
    kept = china("institution", "migrate", "old.toml", *AT, as_="chen.wei")
    assert "hx-consumer: kept: its policy is already set in the database (version 2)" in kept.stdout
    shown = json.loads(china("institution", "show", "hx-consumer", "--json").stdout)
    assert shown["policy"] == {"rule_packs": ["cn"]} and shown["policy_version"] == 2
    (tmp_path / "bare.toml").write_text('rule_packs = ["cn"]\n')
    bare = china("institution", "migrate", "bare.toml", *AT, as_="chen.wei")
    assert bare.exit_code == 2 and "is not an old fieldcase.toml" in bare.stderr
    twins = tmp_path / "twins.toml"
    twins.write_text(
        '[institutions.acme-bank]\njurisdiction = "US"\ntimezone = "UTC"\ncurrency = "USD"\n'
        '[institutions.ACME_Bank]\njurisdiction = "US"\ntimezone = "UTC"\ncurrency = "USD"\n'
    )
    refused = china("institution", "migrate", "twins.toml", *AT, as_="chen.wei")
    assert refused.exit_code == 2 and "too like" in refused.stderr
    assert [i["id"] for i in json.loads(china("institution", "list", "--json").stdout)] == [
        "hx-consumer",
        "other",
    ]


def test_an_offer_worked_out_under_an_older_policy_cannot_be_accepted(office: Run) -> None:
    to_feedback(office)
    set_policy(office, "hx-consumer", "approval_threshold=100000", at="2026-11-25T10:40+08:00")
    standing = offers(office)
    assert standing["settlement"]["status"] == "presented"
    set_policy(
        office,
        "hx-consumer",
        "approval_threshold=100",
        "offers.settlement_discount=0.05",
        at="2026-11-25T11:01+08:00",
    )
    taken = office("accept", "1", "settlement", "--at", "2026-11-25T11:02+08:00", as_="li.na")
    assert taken.exit_code == 1
    assert "worked out under hx-consumer policy v2, and the policy is now v3" in taken.stderr
    assert "(rule offer.policy_changed)" in taken.stderr
    again = offers(office, "2026-11-25T11:03+08:00")
    assert again["settlement"]["status"] == "needs-approval"


def test_no_backdating_at_all_still_lets_staff_act_now(office: Run, real_clock: Any) -> None:
    set_policy(office, "hx-consumer", "backdate_days=0")
    real_clock("2026-11-24T02:00Z")  # on PostgreSQL the server's clock is the real one
    assert call(office).exit_code == 0
    late = call(office, "--at", "2026-11-24T09:57+08:00")
    assert late.exit_code == 1 and "(rule time.backdate)" in late.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("rules.cn.two_staff.min_staff=inf", "is not a whole number"),
        ("rules.cn.two_staff.min_staff=2.9", "is not a whole number"),
        ("rules.cn.hours.start=08:00:59", "is not a whole minute"),
        ("penalty_cap=1e24", 'must be a share of the overdue amount from "0" to "10"'),
        ("rule_packs=", "gives no value: write one, or --unset rule_packs"),
    ],
)
def test_values_that_broke_commands_later_are_refused_when_set(
    china: Run, target: str, setting: str, message: str
) -> None:
    before = snapshot(target)
    result = china("institution", "policy", "hx-consumer", "--set", setting, as_="chen.wei")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert snapshot(target) == before


def test_refusals_about_an_institution_are_on_its_chain_and_in_its_report(
    office: Run, target: str, real_clock: Any
) -> None:
    real_clock("2026-12-20T02:00Z")  # on PostgreSQL the server's clock, as late or later
    old = office(
        "institution",
        "policy",
        "hx-consumer",
        "--set",
        "max_failed_visits=9",
        "--at",
        "2026-11-20T09:00+08:00",
        as_="li.na",
    )
    assert old.exit_code == 1 and "(rule time.backdate)" in old.stderr
    from conftest import create_args

    created = office(*create_args("L-9"), as_="li.na")
    assert created.exit_code == 1 and "only a supervisor may create cases" in created.stderr
    chain = [e for e in events(target) if e["chain"] == "institution:hx-consumer"]
    assert [e["type"] for e in chain] == ["institution_added", "refused", "refused"]
    report = office("report", "compliance", "--institution", "hx-consumer", "--format", "json")
    rows = {(r["rule"], r["institution"]): r["refusals"] for r in json.loads(report.stdout)}
    assert rows == {
        ("time.backdate", "hx-consumer"): 1,
        ("permission.supervisor", "hx-consumer"): 1,
    }


def test_demo_replace_deletes_only_a_demo_database(
    office: Run, target: str, store_kind: str
) -> None:
    before = snapshot(target)
    for args in (("demo", "--replace", "--cases", "10"), ("demo", "--cases", "10")):
        result = office(*args)
        if store_kind == "postgresql":  # the demo is a file: it never fills an office's server
            assert result.exit_code == 2, result.output
            assert "is a database server; the demo builds a file" in result.output
        elif "--replace" in args:
            assert result.exit_code == 2, result.output
            assert "was not built by 'fieldcase demo'" in result.output
        else:
            assert result.exit_code == 1, result.output
            assert "already exists; pass --replace" in result.output
        assert snapshot(target) == before


def test_a_jurisdiction_with_a_dangling_dash_or_lookalike_letters_is_refused(office: Run) -> None:
    from conftest import create_args

    for code in ("CN-", "ın"):
        result = office(*create_args("L-7", jurisdiction=code), *AT, as_="chen.wei")
        assert result.exit_code == 2, (code, result.output)


# -- what a review of all this found ----------------------------------------------------------


def test_approving_one_offer_does_not_revive_the_others_after_a_policy_change(
    office: Run,
) -> None:
    to_feedback(office)
    set_policy(office, "hx-consumer", "approval_threshold=100", at="2026-11-25T10:40+08:00")
    standing = offers(office)
    assert standing["settlement"]["status"] == "needs-approval"
    set_policy(
        office, "hx-consumer", "offers.settlement_discount=0.01", at="2026-11-25T11:01+08:00"
    )
    approved = office(
        "review",
        "offer",
        "1",
        "settlement",
        "--approve",
        "--at",
        "2026-11-25T11:02+08:00",
        as_="chen.wei",
    )
    assert approved.exit_code == 1 and "(rule offer.policy_changed)" in approved.stderr
    taken = office("accept", "1", "installment-3", "--at", "2026-11-25T11:03+08:00", as_="li.na")
    assert taken.exit_code == 1 and "(rule offer.policy_changed)" in taken.stderr


def test_a_policy_change_cannot_be_backdated(office: Run, real_clock: Any, target: str) -> None:
    real_clock("2026-11-23T04:00Z")  # on PostgreSQL the server's clock, later still
    before = snapshot(target)
    result = office(
        "institution",
        "policy",
        "hx-consumer",
        "--set",
        "max_failed_visits=2",
        "--at",
        "2026-11-23T11:00+08:00",
        as_="chen.wei",
    )
    assert result.exit_code == 2 and "takes effect when it is recorded" in result.stderr
    assert snapshot(target) == before
    assert (
        office(
            "institution", "policy", "hx-consumer", "--set", "max_failed_visits=2", as_="chen.wei"
        ).exit_code
        == 0
    )


@pytest.mark.sqlite_only  # an event as written before migration 010 is only in files
def test_a_policy_version_put_on_an_older_event_is_found(db_path: Path, run: Run) -> None:
    import datetime as dt

    from fieldcase.model import Staff
    from fieldcase.store import Store

    assert run("init").exit_code == 0
    store = Store(db_path)
    store.commit(
        "staff_added",
        actor=None,
        at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        records=[Staff("sup", "Sup", "supervisor")],
    )
    store.close()
    conn = sqlite3.connect(db_path)
    # An event as written before migration 010: no recorded_at, no version.
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET recorded_at = NULL")
    conn.commit()
    conn.close()
    # (the hash no longer matches; what matters is the version check before it)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE events SET policy_version = 7")
    conn.commit()
    conn.close()
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "policy version it was not written with" in result.stderr


def test_refusals_of_an_institutions_import_are_on_its_chain(
    office: Run, tmp_path: Path, target: str
) -> None:
    (tmp_path / "cases.csv").write_text("reference,borrower_name,principal,overdue_amount\n")
    refused = office("import", "cases.csv", "--institution", "hx-consumer", *AT, as_="li.na")
    assert refused.exit_code == 1
    last = events(target)[-1]
    assert (last["type"], last["chain"], last["policy_version"]) == (
        "refused",
        "institution:hx-consumer",
        1,
    )


def test_concurrent_policy_changes_lose_nothing_and_crash_nothing(
    office: Run, target: str, request: pytest.FixtureRequest
) -> None:
    import datetime as dt

    from fieldcase.errors import StaleCase
    from fieldcase.plugins import manager
    from fieldcase.services import Services
    from fieldcase.store import Store

    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    if is_server_url(target):  # two supervisors, each logged in as herself
        pg_office: PgOffice = request.getfixturevalue("pg_office")
        target = pg_office.url("chen.wei")
    first, second = (Services(Store(target), manager(), clock=None) for _ in range(2))
    # Both read version 1; the first writes version 2, the second must not.
    first.store.get_institution("hx-consumer")
    second_reads = second.store.get_institution

    def read_then_lose_the_race(institution: str) -> Any:
        stale = second_reads(institution)  # version 1, as read...
        first.set_policy(
            "hx-consumer", actor="chen.wei", at=at, assignments=["max_failed_visits=2"]
        )  # ...before another supervisor writes version 2
        return stale

    second.store.get_institution = read_then_lose_the_race  # type: ignore[method-assign]
    try:
        with pytest.raises(StaleCase, match="changed by someone else meanwhile"):
            second.set_policy(
                "hx-consumer", actor="chen.wei", at=at, assignments=["max_failed_visits=4"]
            )
    finally:
        first.store.close()
        second.store.close()
    shown = json.loads(office("institution", "show", "hx-consumer", "--json").stdout)
    assert shown["policy"] == {"max_failed_visits": 2} and shown["policy_version"] == 2


def test_an_id_older_cases_carry_can_be_registered_as_it_is(target: str, run: Run) -> None:
    older_database(run, target, "华夏 消费", "CN")
    refused = run("assign", "1", "--to", "sup", *AT, as_="sup")
    assert "institution add '华夏 消费' ..." in refused.stderr
    added = run(
        "institution",
        "add",
        "华夏 消费",
        "--name",
        "华夏",
        "--jurisdiction",
        "CN",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        *AT,
        as_="sup",
    )
    assert added.exit_code == 0, added.output
    assert run("assign", "1", "--to", "sup", *AT, as_="sup").exit_code == 0
    fresh = run(
        "institution",
        "add",
        "新 银行",
        "--name",
        "x",
        "--jurisdiction",
        "CN",
        "--timezone",
        "Asia/Shanghai",
        "--currency",
        "CNY",
        *AT,
        as_="sup",
    )
    assert fresh.exit_code == 2 and "must be 1-64 letters" in fresh.stderr


# -- staff who leave (issue 13, item 9) ----------------------------------------------------


def test_a_deactivated_staff_member_can_no_longer_act(
    office: Run, target: str, store_kind: str
) -> None:
    assert call(office, "--at", "2026-11-23T10:00+08:00").exit_code == 0
    refused = office("staff", "deactivate", "li.na", "--note", "left", *AT, as_="zhang.min")
    assert refused.exit_code == 1 and "only a supervisor" in refused.stderr
    done = office("staff", "deactivate", "li.na", "--note", "left", *AT, as_="chen.wei")
    assert done.exit_code == 0, done.output
    logged = len(events(target))
    acted = call(office, "--at", "2026-11-23T12:30+08:00")
    assert acted.exit_code == 1
    if store_kind == "postgresql":
        # Her login is out of both groups: she cannot even connect (docs/deploy.md).
        assert "does not have CONNECT privilege" in acted.stderr
        assert len(events(target)) == logged
    else:
        assert "(rule permission.inactive)" in acted.stderr
        last = events(target)[-1]
        assert (last["type"], last["actor"]) == ("refused", "li.na")
    assigned = office("assign", "1", "--to", "li.na", *AT, as_="chen.wei")
    assert assigned.exit_code == 2 and "--to: staff member li.na is deactivated" in assigned.stderr
    listed = office("staff").stdout
    assert "field (deactivated)" in listed
    assert office("staff", "activate", "li.na", *AT, as_="chen.wei").exit_code == 0
    assert call(office, "--at", "2026-11-23T12:40+08:00").exit_code == 0


def test_the_office_keeps_one_supervisor(office: Run) -> None:
    alone = office("staff", "role", "chen.wei", "field", *AT, as_="chen.wei")
    assert alone.exit_code == 2 and "only active supervisor" in alone.stderr
    assert office("staff", "role", "li.na", "supervisor", *AT, as_="chen.wei").exit_code == 0
    assert office("staff", "deactivate", "chen.wei", *AT, as_="li.na").exit_code == 0
    rows = json.loads(office("history", "--system", "--json").stdout)
    changes = [r["data"]["changes"] for r in rows if r["type"] == "staff_updated"]
    assert changes == [{"role": ["field", "supervisor"]}, {"active": [True, False]}]
