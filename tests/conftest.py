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
from fieldcase.store.dialect import is_server_url
from fieldcase.testing import OnlyPlugins, invoke
from pgserver import PgOffice, Server

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


#: The stores a test marked ``both_stores`` runs on, each in turn.
STORES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_stores`` run once on a SQLite file, once on PostgreSQL.

    One marked ``sqlite_only`` too, in such a module, tests the file itself.
    """
    marked = metafunc.definition.get_closest_marker("both_stores")
    only_sqlite = metafunc.definition.get_closest_marker("sqlite_only")
    if marked and not only_sqlite and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", STORES, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` (the default), or the store a ``both_stores`` test is running on."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """A throwaway PostgreSQL server for the whole session (tests/pgserver.py)."""
    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "office.db"


@pytest.fixture
def target(db_path: Path, store_kind: str, request: pytest.FixtureRequest) -> str:
    """What ``--db`` names for an administrator: the file, or a new PostgreSQL database."""
    if store_kind == "postgresql":
        office: PgOffice = request.getfixturevalue("pg_office")
        return office.admin
    return str(db_path)


@pytest.fixture
def pg_office(pg_server: Server) -> PgOffice:
    return PgOffice(pg_server)


@pytest.fixture
def run(db_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Run:
    """Invoke ``fieldcase --db office.db ARGS...``; ``as_`` sets --as.

    On PostgreSQL (tests marked ``both_stores``), ``as_`` logs in as that staff
    member instead, each with their own password; no ``as_`` is the administrator.
    """
    if store_kind == "postgresql":
        office: PgOffice = request.getfixturevalue("pg_office")
        return office.run

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
def office(run: Run, target: str) -> Iterator[Run]:
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
    if Path(target).exists() or target.startswith("postgresql://"):
        store = Store(target)
        try:
            assert store.verify_chains()[1] is None
            assert store.compare_replay() == []
        finally:
            store.close()


def snapshot(target: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, events included, for before/after comparisons."""
    tables = [*STATE_TABLES, "events"]
    if is_server_url(str(target)):
        store = Store(target)
        try:
            return {t: [tuple(row.values()) for row in store.table_rows(t)] for t in tables}
        finally:
            store.close()
    conn = sqlite3.connect(target)
    try:
        return {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY id").fetchall() for t in tables}
    finally:
        conn.close()


class Row(tuple[Any, ...]):
    """A row read by position or by column name, as ``sqlite3.Row`` is read."""

    names: tuple[str, ...]

    def __new__(cls, names: tuple[str, ...], values: tuple[Any, ...]) -> Row:
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self.names.index(key))
        return super().__getitem__(key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def query(target: Path | str, sql: str, params: list[Any] | None = None) -> list[Row]:
    """Rows of ``sql`` (``?`` parameters) on either store."""
    store = Store(target)
    try:
        return [Row(tuple(row), tuple(row.values())) for row in store.db.query(sql, params or [])]
    finally:
        store.close()


def events(target: Path | str, case_id: int | None = None) -> list[Any]:
    """The events (of one case), oldest first: rows read by column name."""
    where, params = ("", []) if case_id is None else (" WHERE case_id = ?", [case_id])
    sql = f"SELECT * FROM events{where} ORDER BY id"
    if is_server_url(str(target)):
        store = Store(target)
        try:
            return list(store.db.query(sql, params))
        finally:
            store.close()
    conn = sqlite3.connect(target)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def services(target: str) -> Iterator[Services]:
    store = Store(target)
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
