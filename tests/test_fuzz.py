"""Fuzzing: no traceback ever reaches the user, and every refusal names what was wrong.

Two families of property tests, driven by hypothesis through the real click CLI:

* the importer gets CSV and JSON Lines files: random bytes, and valid files with
  mutated cells, missing and extra columns, duplicated references, byte-order
  marks and GB18030 bytes. Rejected rows must be named, line and field, in the
  rejects file, and the log must still verify afterwards;
* every command of the command tree gets argument lists built from its own
  ``params``: real and made-up option values, cases and staff that do not
  exist, malformed dates and times, times without a zone.

Each example runs against its own copy of a small prepared office database.

Each family runs on a SQLite file and, with fewer examples, on PostgreSQL
(``..._on_postgresql``): there the office is one database on the test server,
made again from its prepared copy before each example (``ServerOffice``), and
``--as STAFF`` logs in as that staff member instead.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import shlex
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import fieldcase.clock
import psycopg
import pytest
from click.testing import CliRunner, Result
from conftest import T0, Run, create_args, register, snapshot
from fieldcase.cli import cli
from fieldcase.importing import FIELDS, REQUIRED
from fieldcase.money import MINOR_UNITS
from fieldcase.store.postgres_schema import READ_PATH
from fieldcase.transfer import REJECTS_HEADER
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pgserver import Server, password_of

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py); the fuzzing
#: families, whose examples each need their own office, in twin tests (see above).
pytestmark = pytest.mark.both_stores

#: The office's last event is at 18:40 on the 25th; fuzzed actions come after it.
LATER = "2026-11-26T09:00+08:00"
DB = "office.db"

#: The autouse fixture resets the environment per test, not per example: do it here.
RUNNER = CliRunner(env={"FIELDCASE_DB": None, "FIELDCASE_STAFF": None, "FIELDCASE_CONFIG": None})

FUZZ = settings(
    deadline=None,
    # The autouse fixture only isolates the environment; each example makes its own copy.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: An example on PostgreSQL costs its database made again (about 0.3 s), logins and
#: the server's round trips: ten to fifteen times one on a file. Its twins try fewer.
ON_SERVER = 4


# -- running the CLI and judging what it said --------------------------------------------


def invoke(args: Sequence[str]) -> Result:
    return RUNNER.invoke(cli, list(args), input=passwords(args), catch_exceptions=True)


def passwords(args: Sequence[str]) -> str | None:
    """What ``staff add ID`` and ``staff password ID`` are answered on PostgreSQL.

    The password the tests give ID's login (``pgserver.password_of``): logins belong to
    the whole server, and every example logs in with them.
    """
    for i, word in enumerate(args[:-2]):
        if word == "staff" and args[i + 1] in ("add", "password"):
            # An id no terminal could type (a lone surrogate) is answered all the same.
            password = password_of(args[i + 2]).encode("utf-8", "backslashreplace").decode()
            return f"{password}\n{password}\n"
    return None


def shown(args: Sequence[str]) -> str:
    return "fieldcase " + shlex.join(a.encode("utf-8", "backslashreplace").decode() for a in args)


_EXPLAINED = re.compile(r"^(Error|Refused): *\S", re.MULTILINE)


def explains(output: str, also: Sequence[str] = ()) -> bool:
    """A non-empty ``Error:`` or ``Refused:`` line, or one of the command's own verdicts."""
    if _EXPLAINED.search(output):
        return True
    return any(re.search(pattern, output, re.MULTILINE) for pattern in also)


def assert_handled(result: Result, args: Sequence[str], also: Sequence[str] = ()) -> None:
    """The run ended as the CLI meant it to: an exit code, and words for a failure."""
    where = shown(args)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        trace = "".join(traceback.format_exception(exc))
        raise AssertionError(f"{where}: unhandled {exc!r}\n{trace}")
    assert result.exit_code in (0, 1, 2), f"{where}: exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output, f"{where}:\n{result.output}"
    if result.exit_code != 0:
        assert explains(result.output, also), (
            f"{where}: exit {result.exit_code} without saying why:\n{result.output!r}"
        )


def assert_log_verifies(example: Example, replay: bool = True) -> None:
    """``audit verify`` passes: hash chains intact and, with replay, tables equal the log."""
    args = ["--db", example.admin, "audit", "verify", *(["--replay"] if replay else [])]
    result = invoke(args)
    assert result.exception is None, f"{shown(args)}: {result.exception!r}"
    assert result.exit_code == 0, result.output


# -- the prepared office ---------------------------------------------------------------


def build_office(acting: Callable[[str | None], list[str]]) -> None:
    """Supervisor chen.wei, field staff li.na and zhang.min; cases in three stages.

    ``acting(STAFF)`` is how the command line names the database and who acts there.

    Case 1 is in confirmation (li.na), case 2 has its feedback submitted, offers
    made, a promise and a payment (li.na with zhang.min), case 3 (USD) is closed.
    """
    steps: list[tuple[str | None, list[str]]] = [
        (None, ["init"]),
        (None, ["staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor", "--at", T0]),
        ("chen.wei", ["staff", "add", "li.na", "--name", "李娜", "--at", T0]),
        ("chen.wei", ["staff", "add", "zhang.min", "--name", "张敏", "--at", T0]),
        *(
            (
                "chen.wei",
                [
                    *("institution", "add", name, "--name", name, "--jurisdiction", "CN"),
                    *("--timezone", "Asia/Shanghai", "--currency", "CNY", "--at", T0),
                ],
            )
            for name in ("hx-consumer", "fuzz-bank")
        ),
        ("chen.wei", [*create_args(), "--assign", "li.na", "--at", T0]),
        (
            "chen.wei",
            [
                *create_args("L-1002"),
                *("--interest", "420.50", "--fees", "50", "--penalty-rate", "18%"),
                *("--assign", "li.na", "--at", T0),
            ],
        ),
        (
            "chen.wei",
            [
                *create_args(
                    "L-1003",
                    currency="USD",
                    timezone="America/New_York",
                    jurisdiction="US-NY",
                    phone="+1 212 555 0142",
                ),
                *("--assign", "zhang.min", "--at", T0),
            ],
        ),
        ("li.na", ["contact", "1", "--channel", "phone", "--outcome", "no-answer", "--at", T0]),
        ("li.na", ["confirm", "2", "--address", "x", "--at", "2026-11-23T12:00+08:00"]),
        (
            "li.na",
            [
                *("plan", "2", "--date", "2026-11-25", "--window", "10:00-12:00"),
                *("--with", "zhang.min", "--at", "2026-11-23T12:00+08:00"),
            ],
        ),
        ("li.na", ["checklist", "2", "--all", "--at", "2026-11-23T12:00+08:00"]),
        (
            "li.na",
            [
                *("interview", "2", "--met", "borrower", "--reason", "medical"),
                *("--income", "8000", "--at", "2026-11-25T10:30+08:00"),
            ],
        ),
        (
            "li.na",
            [
                *("feedback", "2", "--recommend", "restructure", "--summary", "ok"),
                *("--at", "2026-11-25T18:00+08:00"),
            ],
        ),
        ("li.na", ["offers", "2", "--at", "2026-11-25T18:10+08:00"]),
        (
            "li.na",
            [
                *("promise", "2", "--amount", "100", "--date", "2026-12-15"),
                *("--at", "2026-11-25T18:20+08:00"),
            ],
        ),
        (
            "chen.wei",
            ["payment", "2", "50", "--reference", "P-1", "--at", "2026-11-25T18:30+08:00"],
        ),
        ("chen.wei", ["close", "3", "--resolution", "withdrawn", "--at", "2026-11-25T18:40+08:00"]),
        ("chen.wei", ["staff", "badge", "li.na", "RA-1001", "--at", "2026-11-25T18:40+08:00"]),
    ]
    for actor, step in steps:
        args = [*acting(actor), *step]
        result = invoke(args)
        assert result.exit_code == 0, f"{shown(args)}:\n{result.output}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("office")
    build = str(folder / "build.db")
    with contextlib.chdir(folder), pytest.MonkeyPatch.context() as patch:
        patch.setattr(fieldcase.clock, "real_clock", None)  # the office's story, at its times
        build_office(lambda actor: ["--db", build, *(["--as", actor] if actor else [])])
    # One self-contained file (no -wal beside it) to copy per example.
    path = folder / "template.db"
    copy_database(folder / "build.db", path)
    return path


class ServerOffice:
    """The prepared office as one database on the PostgreSQL server, made again per example.

    Its groups of logins are named after the database (``<db>_field``...), so each
    example's office has the same name: it is dropped and made again from a copy kept
    aside. What a database copy does not carry is set again: who may connect, the
    search path, and (the server's, not the database's) the staff's logins: their
    groups as the copy's staff table says, and their passwords.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.name = f"fuzz_{os.getpid()}"
        self.kept = f"{self.name}_prepared"
        server.create_database(self.name)

    def url(self, staff: str | None) -> str:
        if staff is None:
            return self.server.admin_url(self.name)
        return self.server.staff_url(self.name, staff, password_of(staff))

    def keep(self) -> None:
        """Keep the office as it is now, to make it again from."""
        with self.server_connection() as conn:
            conn.execute(f'CREATE DATABASE "{self.kept}" TEMPLATE "{self.name}"')

    def server_connection(self) -> Any:
        conn = psycopg.connect(self.server.admin_url("postgres"), autocommit=True)
        # A template has no other sessions: end those the commands left idle.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [self.name],
        )
        return conn

    def make_again(self) -> None:
        field, supervisor = f"{self.name}_field", f"{self.name}_supervisor"
        with self.server_connection() as conn:
            conn.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.kept}"')
            conn.execute(f'REVOKE ALL ON DATABASE "{self.name}" FROM PUBLIC')
            conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{self.name}" TO "{field}"')
            conn.execute(f'ALTER DATABASE "{self.name}" SET search_path = {READ_PATH}')
        with psycopg.connect(self.url(None), autocommit=True) as conn:
            members = conn.execute(
                "SELECT g.rolname, m.rolname FROM pg_auth_members a"
                " JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member"
                " WHERE g.rolname IN (%s, %s) AND m.rolcanlogin",
                [field, supervisor],
            ).fetchall()
            for group, member in members:
                conn.execute(f'REVOKE "{group}" FROM "{member}"')
            # The staff table's trigger puts each login in the group of its role.
            conn.execute("UPDATE fieldcase.staff SET id = id")
            for staff in ("chen.wei", "li.na", "zhang.min"):
                conn.execute(f"ALTER ROLE \"{staff}\" PASSWORD '{password_of(staff)}'")


@pytest.fixture(scope="module")
def server_template(pg_server: Server) -> ServerOffice:
    office = ServerOffice(pg_server)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fieldcase.clock, "real_clock", None)  # the office's story, at its times
        build_office(lambda actor: ["--db", office.url(actor)])
    office.keep()
    return office


def copy_database(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


class Example:
    """One example's office: its folder (the working directory) and its database."""

    def __init__(self, folder: Path, server: ServerOffice | None) -> None:
        self.folder = folder
        self.server = server
        #: What ``--db`` names for an administrator: the file, or the server's database.
        self.admin = str(folder / DB) if server is None else server.url(None)

    def args(self, args: Sequence[str]) -> list[str]:
        """``args``, written for the file (``--db office.db --as STAFF ...``), for this store.

        On PostgreSQL, ``--db`` names the office's database logged in as the staff
        member ``--as`` names, and ``--as`` is left out; an ``--as`` naming none of them
        stays, for the administrator's login (or theirs) to be refused it.
        """
        args = list(args)
        if self.server is None or args[:2] not in (["--db", DB], ["--db", str(self.folder / DB)]):
            return args
        staff = args[3] if args[2:3] == ["--as"] and len(args) > 3 else None
        if staff in ("chen.wei", "li.na", "zhang.min"):
            return ["--db", self.server.url(staff), *args[4:]]
        return ["--db", self.server.url(None), *args[2:]]


@contextlib.contextmanager
def office_copy(template: Path | ServerOffice) -> Iterator[Example]:
    """A fresh folder holding a copy of the office, as the working directory.

    On PostgreSQL the copy is the server's database, made again.
    """
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name, contextlib.chdir(name):
        folder = Path(name)
        if isinstance(template, ServerOffice):
            template.make_again()
            yield Example(folder, template)
        else:
            shutil.copyfile(template, folder / DB)
            yield Example(folder, None)


# -- values, good and bad ----------------------------------------------------------------

#: Text a terminal could pass: anything but NUL (argv cannot hold it).
ARG_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24)
#: Odd arguments people (and scripts) do pass.
ODD_ARGS = (
    "",
    " ",
    "-",
    "--",
    "-1",
    "--bogus",
    "\t\n",
    "x" * 3000,
    "王" * 300,
    "\u202e\u200b",
    "😀",
    "'; DROP TABLE cases; --",
    "%s%n{0}",
    "../../etc/passwd",
    "caf\udce9",  # a Latin-1 byte on a UTF-8 command line (surrogate escape)
    "\udcff\udcfe",
)
ODD = st.one_of(st.sampled_from(ODD_ARGS), ARG_TEXT)

#: (values that make sense, values that do not) for a kind of parameter.
Pool = tuple[tuple[str, ...], tuple[str, ...]]

TIMES: Pool = (
    (
        LATER,
        "2026-11-26T01:00Z",
        "2026-11-26T09:00:00.123456+08:00",
        "2026-12-20T09:00-05:00",
        "2026-11-25T18:45+08:00",
    ),
    (
        "2026-11-26T09:00",
        "2026-11-26",
        "2026-11-23T09:00+08:00",
        "2026-02-30T09:00+08:00",
        "2026-11-26T25:00+08:00",
        "2026-11-26T09:00+24:00",
        "0001-01-01T00:00+00:00",
        "9999-12-31T23:59:59+14:00",
        "2999-12-31T23:59-12:00",
        "1970-01-01T00:00Z",
        "now",
        "2026-W48-4T09:00+08:00",
        "20261126T090000+0800",
        "2026-11-26T09:00+08:00Z",
    ),
)
DATES: Pool = (
    ("2026-12-15", "2026-11-27", "2026-11-28"),
    (
        "2026-11-25",
        "2026-02-30",
        "2026-13-01",
        "1900-01-01",
        "0001-01-01",
        "9999-12-31",
        "2026/12/15",
        "tomorrow",
        "2026-12-15T10:00",
    ),
)
WINDOWS: Pool = (
    ("10:00-12:00", "19:00-21:30", "9:00-9:30", "14:00-16:00"),
    ("00:00-23:59", "23:00-01:00", "12:00-12:00", "25:00-26:00", "10:00", "10-12", "07:59-08:01"),
)
AMOUNTS: Pool = (
    ("100", "1500.00", "1,234.50", "50", "20580.81"),
    (
        "0",
        "-5",
        "0.001",
        "12,34",
        "1e3",
        "1e30",
        "1e999999",
        "NaN",
        "-Infinity",
        "abc",
        "1500 CNY",
        "CNY 1500",
        "USD 10",
        "99999999999999999999",
        "１２３",
        "٣",
    ),
)
RATES: Pool = (("0.18", "18%", "0"), ("-1", "1001%", "abc", "1e999999", "NaN", "%"))
ZONES: Pool = (
    ("Asia/Shanghai", "America/New_York", "UTC"),
    ("Asia", "Mars/Base", "../etc", "+08:00"),
)
CURRENCIES: Pool = (("CNY", "USD", "JPY"), ("cny", "XXX", "C N Y", "€"))
PHONES: Pool = (
    ("+86 138 0013 8000", "13800138000", "+1 212 555 0142"),
    ("12345", "phone", "+999 1"),
)
STAFF: Pool = (("chen.wei", "li.na", "zhang.min"), ("nobody", "CHEN.WEI", "chen.wei "))
CASES: Pool = (
    ("1", "2", "3", "hx-consumer/L-1001", "hx-consumer/L-1002"),
    (
        "0",
        "4",
        "999",
        "99999999999999999999999",
        "1.0",
        " 1",
        "hx-consumer/",
        "/L-1001",
        "hx-consumer/nope",
        "²",
        "١",
        "１",
    ),
)
OFFER_CODES: Pool = (
    ("installment-3", "installment-6", "installment-12", "settlement", "waiver", "extension-30"),
    ("nope", "INSTALLMENT-3"),
)
#: Files in every example's folder (see ``prepare_files``), new files, and wrong places.
PATHS: Pool = (
    ("cases.csv", "cases.jsonl", "map.toml", "out.csv", "out.jsonl", "out.xlsx", "out.svg"),
    ("bad.toml", "notes.txt", DB, f"{DB}-wal", ".", "missing.csv", "missing/out.csv", "out.txt"),
)
TEXTS: Pool = (("ok", "王芳", "Hospital bills since August", "RA-2002"), ())

#: For text parameters, chosen by name: what the parameter means.
BY_NAME: dict[str, Pool] = {
    "at": TIMES,
    "at_text": TIMES,
    "since": TIMES,
    "start": TIMES,
    "end": TIMES,
    "case_ref": CASES,
    "case_refs": CASES,
    "target": (("offer", *CASES[0], *OFFER_CODES[0]), CASES[1]),
    "staff_id": STAFF,
    "to": STAFF,
    "staff": STAFF,
    "companions": STAFF,
    "assign_to": STAFF,
    "principal": AMOUNTS,
    "overdue_amount": AMOUNTS,
    "amount": AMOUNTS,
    "income": AMOUNTS,
    "other_debts": AMOUNTS,
    "accrued_interest": AMOUNTS,
    "fees": AMOUNTS,
    "penalty_rate": RATES,
    "timezone": ZONES,
    "currency": CURRENCIES,
    "phone": PHONES,
    "window": WINDOWS,
    "offer_code": OFFER_CODES,
    "reason": (("medical", "income-loss", "payroll-change", "other"), ("nope",)),
    "items": (("id-badge", "authorisation", "contract", "statement"), ("nope",)),
    "institution": (("hx-consumer", "fuzz-bank"), ("a/b", "HX-CONSUMER")),
    "fmt": (("csv", "jsonl", "xlsx"), ("json", "table", "nope", "CSV")),
    "encoding": (("utf-8", "gb18030"), ("latin-1", "utf-16", "nope", "base64", "rot13")),
    "expected_seal": ((), ("0" * 64, "abc")),
    "reference": (("L-2001", "P-2"), ("L-1001", "P-1")),
}

#: Where a command's own verdict stands in for an "Error:" line (patterns).
VERDICTS: dict[str, tuple[str, ...]] = {
    # The dry run exits 1 with its table of verdicts.
    "check": (r"^DENY +\S", r'"verdict": "DENY"'),
    "audit verify": (r"^FAILED: \S",),
}
#: A group named without a command shows its help, listing the commands (exit 2).
GROUP_HELP = (r"^Commands:$",)


def integers(param: click.Parameter) -> Pool:
    low = getattr(param.type, "min", None)
    high = getattr(param.type, "max", None)
    good = {str(low if low is not None else 1), str(low + 1 if low is not None else 2)}
    bad = {"0", "-1", "abc", "1.5", "", "0x10"}
    for bound in (low, high):
        if bound is not None:
            bad |= {str(bound - 1), str(bound + 1)}
    if high is not None or param.name != "count":  # never ask the demo for 2**64 cases
        bad.add(str(2**64))
    return tuple(sorted(good)), tuple(sorted(bad - good))


def pool_for(param: click.Parameter) -> Pool:
    kind = param.type
    if isinstance(kind, click.Choice):
        return tuple(str(c) for c in kind.choices), ("", "nope")
    if isinstance(kind, click.IntRange) or kind is click.INT:
        return integers(param)
    if isinstance(kind, click.DateTime):
        return DATES
    if isinstance(kind, click.Path):
        return PATHS
    return BY_NAME.get(param.name or "", TEXTS)


def value(draw: st.DrawFn, pool: Pool, chaos: int) -> str:
    """A sensible value, or (the more chaos, the likelier) a senseless one."""
    good, bad = pool
    if good and draw(st.integers(0, 3)) >= chaos:
        return draw(st.sampled_from(good))
    return draw(st.one_of(st.sampled_from(bad), ODD) if bad else ODD)


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command of the tree, as the words that name it; groups too."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def lookup(path: Sequence[str]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.commands.get(name)
        assert found is not None
        command = found
    return command


@st.composite
def command_line(draw: st.DrawFn, path: tuple[str, ...]) -> list[str]:
    """``fieldcase [--db] [--as] [--config] PATH... ARGS`` from the command's own params.

    ``chaos`` (0 to 3) sets how often a value is senseless: at 0 the command
    mostly runs; at 3 nearly every value is wrong.
    """
    chaos = draw(st.integers(0, 3), label="chaos")
    command = lookup(path)
    argv = ["--db", DB]
    if draw(st.integers(0, 11)) < chaos:
        argv[1] = draw(st.sampled_from(["missing.db", ".", "notes.txt"]))
    if draw(st.integers(0, 9)):
        argv += ["--as", value(draw, STAFF, chaos)]
    if draw(st.integers(0, 3)) < chaos:
        argv += ["--config", draw(st.sampled_from(["office.toml", "bad.toml", "nope.toml", "."]))]
    arguments: list[str] = []
    options: list[list[str]] = []
    for param in command.params:
        pool = pool_for(param)
        if isinstance(param, click.Argument):
            if not param.required and draw(st.booleans()):
                continue
            count = 1 if param.nargs == 1 else draw(st.integers(1, 3))
            arguments += [value(draw, pool, chaos) for _ in range(count)]
            continue
        assert isinstance(param, click.Option)
        if param.required or param.name == "at":  # without --at, "now" is before the office
            if draw(st.integers(0, 9)) < chaos:
                continue  # a required option left out
        elif not draw(st.booleans()):
            continue
        if param.is_flag:
            options.append([draw(st.sampled_from([*param.opts, *param.secondary_opts]))])
            continue
        for _ in range(draw(st.integers(1, 2)) if param.multiple else 1):
            options.append([draw(st.sampled_from(param.opts)), value(draw, pool, chaos)])
    if draw(st.integers(0, 9)) < chaos:
        options.append([draw(st.sampled_from(["--bogus", "extra", "--help", "-x"]))])
    if path == ("demo",):
        # Building the default 300 demo cases takes seconds; a few make the same point.
        options.append(["--cases", draw(st.sampled_from(["9", "10", "11"]))])
    words = [*arguments, *[w for chunk in draw(st.permutations(options)) for w in chunk]]
    return [*argv, *path, *words]


def prepare_files(folder: Path) -> None:
    """The files that ``PATHS`` name, so commands find something at most of them."""
    (folder / "cases.csv").write_text(
        "reference,borrower_name,currency,principal,overdue_amount,overdue_since,timezone\n"
        "Z-1,Zoe,USD,100,10,2026-09-01,America/New_York\n",
        encoding="utf-8",
    )
    (folder / "cases.jsonl").write_text(
        json.dumps(
            {
                "reference": "Z-2",
                "borrower_name": "Zhao",
                "currency": "CNY",
                "principal": 100,
                "overdue_amount": 10,
                "days_past_due": 60,
                "timezone": "Asia/Shanghai",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    (folder / "map.toml").write_text(
        '[columns]\n"名字" = "borrower_name"\n[defaults]\njurisdiction = "CN"\n', encoding="utf-8"
    )
    (folder / "bad.toml").write_bytes(b"[columns\n\xff\xfe = 1\n")
    (folder / "notes.txt").write_text("not a database, not a case file\n", encoding="utf-8")
    (folder / "office.toml").write_text(
        '[institutions.hx-consumer]\nmin_days_past_due = 5\napproval_threshold = "1000.00"\n',
        encoding="utf-8",
    )


ALL_COMMANDS = list(commands(cli))


@pytest.fixture
def office(office: Run) -> Run:
    """The office of conftest, with fuzz-bank registered for the imports."""
    register(office, "fuzz-bank")
    return office


def test_the_command_tree_is_walked() -> None:
    names = {" ".join(path) for path in ALL_COMMANDS}
    assert {"import", "staff add", "export visits", "audit verify", "report pipeline"} <= names
    assert len(names) >= 35


def fuzz_command(template: Path | ServerOffice, path: tuple[str, ...], data: st.DataObject) -> None:
    args = data.draw(command_line(path), label="argv")
    with office_copy(template) as example:
        prepare_files(example.folder)
        result = invoke(example.args(args))
        event(f"exit {result.exit_code}")
        also = GROUP_HELP if isinstance(lookup(path), click.Group) else ()
        assert_handled(result, example.args(args), VERDICTS.get(" ".join(path), also))
        # Replaying the log costs more than a command: do it when something was done.
        assert_log_verifies(example, replay=result.exit_code == 0)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
@settings(FUZZ, max_examples=35)
@given(data=st.data())
def test_every_command_survives_fuzzed_arguments(
    template: Path, path: tuple[str, ...], data: st.DataObject
) -> None:
    fuzz_command(template, path, data)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
@settings(FUZZ, max_examples=ON_SERVER)
@given(data=st.data())
def test_every_command_survives_fuzzed_arguments_on_postgresql(
    server_template: ServerOffice, path: tuple[str, ...], data: st.DataObject
) -> None:
    fuzz_command(server_template, path, data)


# -- the importer ------------------------------------------------------------------------------

#: The import fields a file of these rows has (days past due is given as a date instead).
COLUMNS = tuple(f for f in FIELDS if f != "days_past_due")
ROWS: tuple[dict[str, str], ...] = (
    {
        "reference": "F-1",
        "borrower_name": "王芳",
        "currency": "CNY",
        "principal": "20000.00",
        "overdue_amount": "3150.40",
        "overdue_since": "2026-09-15",
        "timezone": "Asia/Shanghai",
        "jurisdiction": "CN",
        "phone": "+86 138 0013 8000",
        "national_id": "310101199001011234",
        "address": "上海市浦东新区世纪大道100号",
        "accrued_interest": "420.50",
        "fees": "50",
        "penalty_rate": "18%",
        "kind": "collection",
        "trigger": "",
        "installment": "",
        "penalty_rate_daily": "",
        "latitude": "31.230416",
        "longitude": "121.473701",
    },
    {
        "reference": "F-2",
        "borrower_name": "Mary Johnson",
        "currency": "USD",
        "principal": "9,000.00",
        "overdue_amount": "1200",
        "overdue_since": "2026/08/01",
        "timezone": "America/Chicago",
        "jurisdiction": "US-IL",
        "phone": "(312) 555-0142",
        "national_id": "123-45-6789",
        "address": "12 Oak Ave, Chicago, IL",
        "accrued_interest": "0",
        "fees": "",
        "penalty_rate": "0.05",
        "kind": "",
        "trigger": "",
        "installment": "450.00",
        "penalty_rate_daily": "",
        "latitude": "41.878113",
        "longitude": "-87.629799",
    },
    {
        "reference": "F-3",
        "borrower_name": "Priya Sharma",
        "currency": "INR",
        "principal": "150000.00",
        "overdue_amount": "25000.00",
        "overdue_since": "20260810",
        "timezone": "Asia/Kolkata",
        "jurisdiction": "IN",
        "phone": "9876543215",
        "national_id": "XXXXX1234X",
        "address": '"Nagpur", MH',
        "accrued_interest": "",
        "fees": "",
        "penalty_rate": "",
        "kind": "review",
        "trigger": "new-loan-elsewhere",
        "installment": "6,500",
        "penalty_rate_daily": "0.05%",
        "latitude": "",
        "longitude": "",
    },
)

#: Values that no row may be imported with, whatever its other cells: the field is named.
BAD: dict[str, tuple[str, ...]] = {
    "reference": ("", " ", "\t"),
    "borrower_name": ("", " "),
    # An empty currency or time zone is the institution's (fuzz-bank: CNY, Asia/Shanghai).
    "currency": ("XXX", "CNY?", "元"),
    "principal": ("", "-5", "12,34", "1e30", "abc", "NaN", "Infinity", "0.001", "1 000"),
    "overdue_amount": ("", "-0.01", "1e999999", "$100", "１２O"),
    "overdue_since": ("", "2026-02-30", "2026-13-01", "yesterday", "15/09/2026", "2026-9-31"),
    "timezone": ("Mars/Olympus", "Asia", "+08:00", "../etc/passwd", "UTC\x00"),
    "phone": ("12345", "not a phone", "+999 1234567", "+86 000"),
    "accrued_interest": ("-1", "abc", "1e30"),
    "fees": ("-1", "sNaN"),
    "penalty_rate": ("-1", "2000%", "abc", "11"),
    "kind": ("loan", "collections", "Review?"),
    "installment": ("0", "-1", "abc"),
    # A rate a day: 1 (100%) a day is far above 1000% a year, whatever the day count.
    "penalty_rate_daily": ("-1", "abc", "1", "3%"),
    # Degrees out of range, or no number at all (the other coordinate missing is named too).
    "latitude": ("91", "-90.5", "north", "NaN", "1e3"),
    "longitude": ("181", "east", "Infinity", "-180.01"),
}
#: Amount fields are only checked once the row's currency is known.
AMOUNT_FIELDS = {"principal", "overdue_amount", "accrued_interest", "fees", "installment"}
#: What a performing loan's review may leave out (nothing is overdue).
REVIEW_OPTIONAL = {"overdue_amount", "overdue_since"}

#: Anything at all, in any cell.
CELL_ODDITIES = (
    "",
    " ",
    "x" * 5000,
    "王芳" * 300,
    "\x00",
    "a\x00b",
    "\x01\x02\x7f",
    "line\nbreak",
    "carriage\rreturn",
    "\r\n",
    "\u2028\u2029",
    "\ufeffF-1",
    "😀",
    "=cmd|' /C calc'!A0",
    '"',
    ",",
    "1e5",
    "1,234.50",
    "１２３",
    "٣٠",
    "2026-02-29",
    "2024-02-29",
    "0001-01-01",
    "9999-12-31",
    "-0",
    "0",
    "L-1001",
    "L-1002",
    "USD",
    "JPY",
    "Asia/Urumqi",
    "+1 212 555 0142",
)
#: Text a cell may hold: no surrogates (they cannot be written to a file).
CELL_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


def cell_value(column: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(BAD.get(column, ("",))),
        st.sampled_from(CELL_ODDITIES),
        CELL_TEXT,
        st.sampled_from([row[column] for row in ROWS]),
    )


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for _ in range(draw(st.integers(0, 5))):
        row = draw(st.integers(0, len(ROWS) - 1))
        column = draw(st.sampled_from(COLUMNS))
        found.append((row, column, draw(cell_value(column))))
    return found


def mutated_rows(changes: Sequence[tuple[int, str, str]]) -> list[dict[str, str]]:
    rows = [dict(row) for row in ROWS]
    for index, column, value in changes:
        rows[index][column] = value
    return rows


def known_bad(row: Mapping[str, Any], columns: Sequence[str]) -> set[str]:
    """Fields of ``row`` that must be named among its rejects."""
    given = str(row.get("currency", "")).strip().upper() if "currency" in columns else ""
    currency = given or "CNY"
    fields = set()
    for field, values in BAD.items():
        if field not in row and field not in REQUIRED:
            continue
        value = row.get(field)
        text = "" if value is None else str(value)
        if text not in values or field not in columns:
            continue
        if field in AMOUNT_FIELDS and currency not in MINOR_UNITS:
            continue
        if field == "overdue_since" and text == "":
            continue  # reported, but with its own wording; the required check is above
        if field in REVIEW_OPTIONAL and text == "" and is_review(row, columns):
            continue
        fields.add(field)
    return fields


def is_review(row: Mapping[str, Any], columns: Sequence[str]) -> bool:
    """Whether the file gives the row as a performing loan's review."""
    return "kind" in columns and str(row.get("kind", "")).strip() == "review"


_NEWLINE = re.compile(r"\r\n|\r|\n")


def line_of(text: str, offset: int) -> int:
    """The line a record starting at ``offset`` is on, as the CSV reader counts them."""
    return len(_NEWLINE.findall(text, 0, offset)) + 1


def read_rejects(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def check_rejects(summary: Mapping[str, Any], rejects: Path, last_line: int) -> dict[int, set[str]]:
    """The rejects file agrees with the summary and names line, field and reason."""
    assert summary["rows"] == (
        summary["imported"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
    ), summary
    if not summary["rejected"]:
        assert summary["rejects_file"] is None, summary
        assert not rejects.exists(), f"stale rejects file {rejects}"
        return {}
    assert summary["rejects_file"] == str(rejects), summary
    records = read_rejects(rejects)
    assert records[0] == REJECTS_HEADER
    named: dict[int, set[str]] = {}
    for record in records[1:]:
        assert len(record) == 4, record
        line, field, _value, reason = record
        assert line.isdigit() and 1 <= int(line) <= last_line, (record, last_line)
        assert field.strip(), f"reject without a field: {record}"
        assert reason.strip(), f"reject without a reason: {record}"
        named.setdefault(int(line), set()).add(field)
    assert len(named) == summary["rejected"], (named, summary)
    return named


@st.composite
def import_options(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(the acting staff member, the import's options other than FILE)."""
    actor = draw(st.sampled_from(["chen.wei", "chen.wei", "chen.wei", "chen.wei", "li.na", "x"]))
    institution = draw(st.sampled_from(["fuzz-bank", "fuzz-bank", "hx-consumer", "", "a/b"]))
    options = ["--institution", institution, *draw(st.sampled_from([["--json"], []]))]
    options += ["--at", draw(st.sampled_from([LATER, LATER, LATER, "2026-11-26T09:00"]))]
    if draw(st.integers(0, 3)) == 0:
        options += ["--batch-size", draw(st.sampled_from(["1", "2", "0"]))]
    return actor, options


def run_import(
    example: Example, name: str, content: bytes, actor: str, options: Sequence[str]
) -> tuple[Result, list[str]]:
    path = example.folder / name
    path.write_bytes(content)
    args = example.args(["--db", DB, "--as", actor, "import", str(path), *options])
    result = invoke(args)
    event(f"exit {result.exit_code}")
    assert_handled(result, args)
    assert_log_verifies(example)
    return result, args


def settle(result: Result, rejects: Path, last_line: int) -> dict[int, set[str]] | None:
    """The rejects named per line when the import ran; None when it was refused whole."""
    if result.exit_code != 0:
        assert not rejects.exists() or read_rejects(rejects)[0] == REJECTS_HEADER
        return None
    summary = summary_of(result)
    event("rows rejected" if summary["rejected"] else "no row rejected")
    return check_rejects(summary, rejects, last_line)


_COUNTS = re.compile(
    r": (\d+) rows: (\d+) imported, (\d+) updated, (\d+) unchanged, (\d+) rejected"
)
_REJECTS_NAMED = re.compile(r"^Rejected rows, with line, field and reason: (.+)$", re.MULTILINE)


def summary_of(result: Result) -> dict[str, Any]:
    """The import's summary, from its JSON or from the sentences people read."""
    if result.stdout.startswith("{"):
        summary: dict[str, Any] = json.loads(result.stdout)
        return summary
    counts = _COUNTS.search(result.stdout)
    assert counts is not None, result.stdout
    named = _REJECTS_NAMED.search(result.stdout)
    keys = ("rows", "imported", "updated", "unchanged", "rejected")
    return {
        **dict(zip(keys, map(int, counts.groups()), strict=True)),
        "rejects_file": named.group(1) if named else None,
    }


def assert_idempotent(example: Example, args: Sequence[str], first: Result) -> None:
    """The same file again, at the same time: nothing new, nothing updated."""
    again = invoke(args)
    assert_handled(again, args)
    assert again.exit_code == 0, again.output
    before, after = summary_of(first), summary_of(again)
    assert (after["imported"], after["updated"]) == (0, 0), (before, after)
    assert after["rejected"] == before["rejected"], (before, after)
    assert_log_verifies(example)


#: What ``test_import_of_random_bytes`` draws.
RANDOM_BYTES: dict[str, st.SearchStrategy[Any]] = dict(
    content=st.one_of(
        st.binary(max_size=600),
        st.tuples(
            st.sampled_from([b"", codecs.BOM_UTF8, ",".join(COLUMNS).encode() + b"\n"]),
            st.binary(max_size=400),
        ).map(b"".join),
    ),
    suffix=st.sampled_from([".csv", ".jsonl", ".txt", ".json", ".xlsx", ".dat"]),
    extra=st.lists(
        st.sampled_from(
            [
                ["--encoding", "gb18030"],
                ["--encoding", "latin-1"],
                ["--encoding", "utf-16"],
                ["--encoding", "nope"],
                ["--encoding", "hex"],
                ["--encoding", "punycode"],
                ["--format", "csv"],
                ["--format", "jsonl"],
                ["--format", "xlsx"],
                ["--format", "nope"],
                ["--mapping", "map.toml"],
                ["--mapping", "bad.toml"],
                ["--mapping", "odd.toml"],
                ["--rejects", "missing/r.csv"],
                ["--rejects", "notes.txt"],
            ]
        ),
        max_size=3,
    ),
    mapping=st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"columns = [1, 2]\n",
                b"defaults = 3\n",
                b'[columns]\nreference = "nope"\n',
                b'[columns]\n"\xe5\x90\x8d" = "reference"\n',
                "[columns]\n名 = 'reference'\n".encode("gb18030"),
                b"[columns.nested]\nx = 1\n",
            ]
        ),
    ),
    options=import_options(),
)


def import_random_bytes(
    template: Path | ServerOffice,
    content: bytes,
    suffix: str,
    extra: list[list[str]],
    mapping: bytes,
    options: tuple[str, list[str]],
) -> None:
    actor, base = options
    with office_copy(template) as example:
        folder = example.folder
        prepare_files(folder)
        (folder / "odd.toml").write_bytes(mapping)
        result, _ = run_import(
            example, f"file{suffix}", content, actor, [*base, *[w for o in extra for w in o]]
        )
        # Every line break, in any of the encodings, holds a \n or \r byte.
        last_line = content.count(b"\n") + content.count(b"\r") + 1
        settle(result, folder / "file.rejects.csv", last_line)


@settings(FUZZ, max_examples=100)
@given(**RANDOM_BYTES)
def test_import_of_random_bytes(template: Path, **drawn: Any) -> None:
    import_random_bytes(template, **drawn)


@settings(FUZZ, max_examples=ON_SERVER * 4)
@given(**RANDOM_BYTES)
def test_import_of_random_bytes_on_postgresql(server_template: ServerOffice, **drawn: Any) -> None:
    import_random_bytes(server_template, **drawn)


def csv_text(
    rows: Sequence[Mapping[str, str]],
    columns: Sequence[str],
    *,
    terminator: str,
    blank_lines: bool,
    ragged: Mapping[int, int],
) -> tuple[str, list[int]]:
    """The CSV file's text, and the line each data row starts on."""
    out = io.StringIO()
    # csv.writer quotes a lone \r only when it is part of the line terminator.
    writer = csv.writer(
        out,
        lineterminator=terminator,
        quoting=csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL,
    )
    writer.writerow(columns)
    starts = []
    for index, row in enumerate(rows):
        if blank_lines:
            out.write(terminator)
        starts.append(line_of(out.getvalue(), out.tell()))
        cells = [row.get(c, "") for c in columns]
        change = ragged.get(index, 0)
        cells = cells[:change] if change < 0 else cells + ["spare"] * change
        writer.writerow(cells)
    return out.getvalue(), starts


#: What ``test_import_of_mutated_csv`` draws.
MUTATED_CSV: dict[str, st.SearchStrategy[Any]] = dict(
    changes=mutations(),
    dropped=st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True),
    extra_column=st.booleans(),
    duplicate=st.one_of(st.none(), st.tuples(st.integers(0, 2), st.integers(0, 2))),
    ragged=st.dictionaries(st.integers(0, 2), st.sampled_from([-3, -1, 1])),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "gb18030-as-utf-8"]),
    terminator=st.sampled_from(["\r\n", "\n"]),
    blank_lines=st.booleans(),
    options=import_options(),
)


def import_mutated_csv(
    template: Path | ServerOffice,
    changes: list[tuple[int, str, str]],
    dropped: list[str],
    extra_column: bool,
    duplicate: tuple[int, int] | None,
    ragged: dict[int, int],
    encoding: str,
    terminator: str,
    blank_lines: bool,
    options: tuple[str, list[str]],
) -> None:
    actor, base = options
    rows = mutated_rows(changes)
    if duplicate is not None:
        rows[duplicate[1]]["reference"] = rows[duplicate[0]]["reference"]
    columns = [c for c in COLUMNS if c not in dropped]
    if extra_column:
        columns.append("remarks")
        for row in rows:
            row["remarks"] = "extra, ignored"
    text, starts = csv_text(
        rows, columns, terminator=terminator, blank_lines=blank_lines, ragged=ragged
    )
    codec = encoding.removesuffix("-as-utf-8")
    content = text.encode(codec)
    extra = ["--encoding", codec] if codec == "gb18030" and encoding == codec else []
    with office_copy(template) as example:
        folder = example.folder
        result, args = run_import(example, "cases.csv", content, actor, [*base, *extra])
        # A file with a kind column may hold reviews, which need no overdue columns.
        missing = [
            c
            for c in dropped
            if (c in REQUIRED or c == "overdue_since")
            and not ("kind" in columns and c in REVIEW_OPTIONAL)
        ]
        if result.exit_code == 2 and missing and "no column for" in result.output:
            # A file that lacks a required column is refused whole, naming the column.
            assert all(column in result.output for column in missing), result.output
        named = settle(result, folder / "cases.rejects.csv", line_of(text, len(text)))
        if named is None:
            return
        summary = summary_of(result)
        if missing:  # accepted only when no row could be read at all
            assert summary["rejected"] == summary["rows"], (missing, summary)
        for index, row in enumerate(rows):
            line = starts[index]
            if index in ragged:
                assert "row" in named.get(line, set()), (line, named)
                continue
            for field in known_bad(row, columns):
                assert field in named.get(line, set()), (line, field, row[field], named)
        if actor == "chen.wei" and "--batch-size" not in args:
            assert_idempotent(example, args, result)


@settings(FUZZ, max_examples=120)
@given(**MUTATED_CSV)
def test_import_of_mutated_csv(template: Path, **drawn: Any) -> None:
    import_mutated_csv(template, **drawn)


@settings(FUZZ, max_examples=ON_SERVER * 4)
@given(**MUTATED_CSV)
def test_import_of_mutated_csv_on_postgresql(server_template: ServerOffice, **drawn: Any) -> None:
    import_mutated_csv(server_template, **drawn)


JSON_ODDITIES: tuple[Any, ...] = (
    None,
    True,
    0,
    -5,
    3150.4,
    1e308,
    10**40,
    [],
    ["F-1"],
    {},
    {"nested": {"x": 1}},
)
#: Lines that are not a JSON object, or not JSON at all.
ODD_LINES = (
    "[1, 2]",
    "42",
    '"F-1"',
    "null",
    "{",
    "{'reference': 'F-1'}",
    "NaN",
    '{"reference": "F-9", "principal": ' + "1" * 5000 + "}",
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 50_000 + "1" + "}" * 50_000,
    "\x00",
    "\ufeff{}",
)


#: What ``test_import_of_mutated_json_lines`` draws.
MUTATED_JSON_LINES: dict[str, st.SearchStrategy[Any]] = dict(
    changes=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from(COLUMNS),
            st.one_of(
                st.sampled_from(JSON_ODDITIES),
                st.sampled_from(CELL_ODDITIES),
                CELL_TEXT,
                st.sampled_from(BAD["principal"] + BAD["overdue_since"] + BAD["timezone"]),
            ),
        ),
        max_size=5,
    ),
    deleted=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(COLUMNS)), max_size=2),
    odd_lines=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(ODD_LINES)), max_size=2),
    duplicate=st.one_of(st.none(), st.tuples(st.integers(0, 2), st.integers(0, 2))),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    blank_lines=st.booleans(),
    options=import_options(),
)


def import_mutated_json_lines(
    template: Path | ServerOffice,
    changes: list[tuple[int, str, Any]],
    deleted: list[tuple[int, str]],
    odd_lines: list[tuple[int, str]],
    duplicate: tuple[int, int] | None,
    encoding: str,
    blank_lines: bool,
    options: tuple[str, list[str]],
) -> None:
    actor, base = options
    rows: list[dict[str, Any]] = [dict(row) for row in ROWS]
    for index, column, value in changes:
        rows[index][column] = value
    for index, column in deleted:
        rows[index].pop(column, None)
    if duplicate is not None:
        rows[duplicate[1]]["reference"] = rows[duplicate[0]].get("reference")
    lines: list[str] = []
    starts: list[int] = []
    for index, row in enumerate(rows):
        lines += [text for at, text in odd_lines if at == index]
        if blank_lines:
            lines.append("")
        starts.append(len(lines) + 1)
        lines.append(json.dumps(row, ensure_ascii=False))
    lines += [text for at, text in odd_lines if at == len(rows)]
    text = "\n".join(lines) + "\n"
    content = text.encode(encoding)
    extra = ["--encoding", "gb18030"] if encoding == "gb18030" else []
    with office_copy(template) as example:
        folder = example.folder
        result, args = run_import(example, "cases.jsonl", content, actor, [*base, *extra])
        named = settle(result, folder / "cases.rejects.csv", len(lines))
        if named is None:
            return
        for index, row in enumerate(rows):
            for field in known_bad(row, COLUMNS):
                assert field in named.get(starts[index], set()), (starts[index], field, named)
        for _, odd in odd_lines:
            line = lines.index(odd) + 1
            if odd.strip() and odd != "\ufeff{}":
                assert "row" in named.get(line, set()), (line, odd[:40], named)
        if actor == "chen.wei" and "--batch-size" not in args:
            assert_idempotent(example, args, result)


@settings(FUZZ, max_examples=100)
@given(**MUTATED_JSON_LINES)
def test_import_of_mutated_json_lines(template: Path, **drawn: Any) -> None:
    import_mutated_json_lines(template, **drawn)


@settings(FUZZ, max_examples=ON_SERVER * 4)
@given(**MUTATED_JSON_LINES)
def test_import_of_mutated_json_lines_on_postgresql(
    server_template: ServerOffice, **drawn: Any
) -> None:
    import_mutated_json_lines(server_template, **drawn)


# -- regressions found by the fuzzing above -------------------------------------------------


def test_a_database_path_that_is_a_folder_or_no_database(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n", encoding="utf-8")
    for db, command in [("notes.txt", "cases"), (".", "cases"), ("notes.txt", "init")]:
        result = CliRunner().invoke(cli, ["--db", db, command])
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code == 1, result.output
        assert f"Error: cannot open the database {db}: " in result.output
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "not a database\n"


def test_demo_refuses_a_folder_as_its_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path), "demo", "--replace", "--cases", "10"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--db': {tmp_path} is a folder" in result.output
    assert tmp_path.is_dir()


def test_arguments_that_are_not_utf8_are_refused_before_anything_is_written(
    office: Run, target: str
) -> None:
    before = snapshot(target)
    note = "caf\udce9"  # 'café' typed on a Latin-1 terminal, as Python hands it over
    result = office(
        *("contact", "1", "--channel", "phone", "--outcome", "reached", "--note", note),
        *("--at", LATER),
        as_="li.na",
    )
    assert result.exit_code == 2
    assert "Error: 'caf\\udce9' is not UTF-8 text" in result.output
    assert snapshot(target) == before


def test_policy_file_that_is_not_utf8_or_is_a_folder(office: Run, tmp_path: Path) -> None:
    (tmp_path / "gb.toml").write_bytes("[institutions.华夏]\n".encode("gb18030"))
    for source, message in [("gb.toml", "gb.toml: 'utf-8' codec can't decode"), (".", "is a")]:
        result = office(
            *("institution", "policy", "hx-consumer", "--from", source, "--at", LATER),
            as_="chen.wei",
        )
        assert result.exit_code == 2, result.output
        assert message in result.output
    gone = office("--config", "gb.toml", "cases", "--at", LATER)
    assert gone.exit_code == 2 and "institution migrate gb.toml" in gone.output


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("[columns]\n名 = 'reference'\n".encode("gb18030"), "'utf-8' codec can't decode"),
        (b"columns = ['reference']\n", "[columns] must be a table"),
        (b"defaults = 3\n", "[defaults] must be a table"),
    ],
)
def test_a_mapping_file_that_is_not_utf8_or_not_tables(
    office: Run, tmp_path: Path, target: str, mapping: bytes, message: str
) -> None:
    (tmp_path / "map.toml").write_bytes(mapping)
    (tmp_path / "cases.csv").write_text("reference\nX-1\n", encoding="utf-8")
    before = snapshot(target)
    result = office(
        *("import", "cases.csv", "--institution", "fuzz-bank", "--mapping", "map.toml"),
        *("--at", LATER),
        as_="chen.wei",
    )
    assert result.exit_code == 2, result.output
    assert f"Error: mapping map.toml: {message}" in result.output
    assert snapshot(target) == before


def test_json_lines_with_an_endless_number_or_deep_nesting_are_rejected_rows(
    office: Run, tmp_path: Path
) -> None:
    good = json.dumps(dict(ROWS[0]), ensure_ascii=False)
    lines = [
        good,
        '{"reference": "F-9", "principal": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
    ]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = office(
        "import",
        "cases.jsonl",
        "--institution",
        "fuzz-bank",
        "--json",
        "--at",
        LATER,
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["imported"], json.loads(result.stdout)["rejected"]) == (1, 3)
    assert read_rejects(tmp_path / "cases.rejects.csv")[1:] == [
        ["2", "row", "", "not valid JSON: a number has too many digits"],
        ["3", "row", "", "not valid JSON: nested too deeply"],
        ["4", "row", "", "not valid JSON: nested too deeply"],
    ]


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("base64", "unknown encoding 'base64'"),
        ("rot13", "unknown encoding 'rot13'"),
        ("hex", "unknown encoding 'hex'"),
        ("utf-16", "cases.csv: cannot be read as utf-16 (UTF-16 stream does not start with BOM)"),
    ],
)
def test_codecs_that_cannot_read_a_text_file_are_named(
    office: Run, tmp_path: Path, encoding: str, message: str
) -> None:
    (tmp_path / "cases.csv").write_text("reference\nX-1\n", encoding="utf-8")
    result = office(
        *("import", "cases.csv", "--institution", "fuzz-bank", "--encoding", encoding),
        *("--at", LATER),
        as_="chen.wei",
    )
    assert result.exit_code == 2, result.output
    assert f"Error: {message}" in result.output
