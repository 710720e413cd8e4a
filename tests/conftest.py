"""Shared fixtures: a fresh office database driven through the real CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fieldcase.clock
import pytest
from click.testing import Result
from fieldcase.plugins import manager
from fieldcase.services import Services
from fieldcase.store import STATE_TABLES, Store
from fieldcase.testing import OnlyPlugins, invoke

T0 = "2026-11-23T09:00+08:00"
AT = ("--at", "2026-11-23T12:00+08:00")

Run = Callable[..., Result]

ROOT = Path(__file__).parent.parent

#: The plugins under plugins/, installed by ``make test``.
BUNDLED_PLUGINS = tuple(
    sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
)


@pytest.fixture(autouse=True)
def _isolated_env(
    request: pytest.FixtureRequest,
    isolated_fieldcase: Path,
    only_plugins: OnlyPlugins,
) -> None:
    """Each test in its own folder, as fieldcase.testing isolates a plugin's tests.

    The tests tell stories at claimed times (--at 2026-11-23...), each taken
    as the real one; tests of the real clock set their own (see
    ``real_clock``). A test marked
    ``bundled_plugins`` loads, of the installed plugins, the bundled ones only:
    what it shows (plugins, reasons, formats, rule packs, policy keys) would
    change with any other plugin installed beside them.
    """
    if request.node.get_closest_marker("bundled_plugins"):
        only_plugins(*BUNDLED_PLUGINS)


@pytest.fixture
def real_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set the machine's clock as the command line reads it: ``real_clock("2026-11-29T10:00Z")``."""
    import datetime as dt

    def set_to(when: str) -> None:
        moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        monkeypatch.setattr(fieldcase.clock, "real_clock", lambda: moment)

    return set_to


def register(
    run: Run,
    institution: str = "hx-consumer",
    *options: str,
    jurisdiction: str = "CN",
    timezone: str = "Asia/Shanghai",
    currency: str = "CNY",
    as_: str = "chen.wei",
) -> None:
    """Register an institution (by default a Chinese lender with no rule pack)."""
    result = run(
        "institution",
        "add",
        institution,
        "--name",
        institution,
        "--jurisdiction",
        jurisdiction,
        "--timezone",
        timezone,
        "--currency",
        currency,
        "--at",
        "2026-11-01T08:00+08:00",
        *options,
        as_=as_,
    )
    assert result.exit_code == 0, result.output


def set_policy(
    run: Run,
    institution: str,
    *assignments: str,
    as_: str = "chen.wei",
    at: str = "2026-11-01T09:00+08:00",
) -> Result:
    """``institution policy INSTITUTION --set A --set B...``; asserts it was accepted."""
    args = [arg for text in assignments for arg in ("--set", text)]
    result = run("institution", "policy", institution, *args, "--at", at, as_=as_)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "office.db"


@pytest.fixture
def run(db_path: Path) -> Run:
    """Invoke ``fieldcase --db office.db ARGS...``; ``as_`` sets --as."""

    def run(*args: str, as_: str | None = None, input: str | None = None) -> Result:
        actor = ("--as", as_) if as_ else ()
        return invoke("--db", db_path, *actor, *args, input=input)

    return run


def create_args(reference: str = "L-1001", **overrides: str) -> list[str]:
    fields = {
        "institution": "hx-consumer",
        "reference": reference,
        "name": "王芳",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        "principal": "20000.00",
        "overdue": "3150.40",
        "overdue-since": "2026-09-15",
        "jurisdiction": "CN",
        "phone": "+86 138 0013 8000",
        "national-id": "310101199001011234",
        "address": "上海市浦东新区世纪大道100号",
    }
    fields.update(overrides)
    args = ["create"]
    for key, value in fields.items():
        args += [f"--{key}", value]
    return args


@pytest.fixture
def office(run: Run, db_path: Path) -> Iterator[Run]:
    """A database with a supervisor, two field workers and case 1 assigned to li.na.

    Whatever a test does, afterwards the log verifies and replays to the same tables.
    """
    assert run("init").exit_code == 0
    assert run("staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor").exit_code == 0
    assert run("staff", "add", "li.na", "--name", "李娜", as_="chen.wei").exit_code == 0
    assert run("staff", "add", "zhang.min", "--name", "张敏", as_="chen.wei").exit_code == 0
    register(run)
    result = run(*create_args(), "--assign", "li.na", "--at", T0, as_="chen.wei")
    assert result.exit_code == 0, result.output
    yield run
    if db_path.exists():
        store = Store(db_path)
        try:
            assert store.verify_chains()[1] is None
            assert store.compare_replay() == []
        finally:
            store.close()


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, events included, for before/after comparisons."""
    conn = sqlite3.connect(db_path)
    try:
        tables = [*STATE_TABLES, "events"]
        return {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY id").fetchall() for t in tables}
    finally:
        conn.close()


def events(db_path: Path, case_id: int | None = None) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        if case_id is None:
            return conn.execute("SELECT * FROM events ORDER BY id").fetchall()
        return conn.execute(
            "SELECT * FROM events WHERE case_id = ? ORDER BY id", [case_id]
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def services(db_path: Path) -> Iterator[Services]:
    store = Store(db_path)
    store.migrate()
    yield Services(store, manager(), clock=None)
    store.close()


# -- moving case 1 of the office along, stage by stage ----------------------------


def to_preparation(run: Run) -> None:
    assert run("confirm", "1", "--address", "x", *AT, as_="li.na").exit_code == 0


def to_interview(run: Run) -> None:
    to_preparation(run)
    assert (
        run(
            "plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", *AT, as_="li.na"
        ).exit_code
        == 0
    )
    assert run("checklist", "1", "--all", *AT, as_="li.na").exit_code == 0


def to_feedback(run: Run) -> None:
    to_interview(run)
    assert (
        run(
            "interview",
            "1",
            "--met",
            "borrower",
            "--reason",
            "medical",
            "--at",
            "2026-11-25T10:30+08:00",
            as_="li.na",
        ).exit_code
        == 0
    )


def to_submitted(run: Run) -> None:
    to_feedback(run)
    assert (
        run(
            "feedback",
            "1",
            "--recommend",
            "restructure",
            "--summary",
            "ok",
            "--at",
            "2026-11-25T18:00+08:00",
            as_="li.na",
        ).exit_code
        == 0
    )


def to_closed(run: Run) -> None:
    assert run("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
