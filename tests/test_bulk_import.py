"""A large import sets the cases' indexes aside and rebuilds them: the same database
as keeping them up, and a kill at any statement leaves one the next command mends.

SQLite only: a server keeps its indexes (other sessions' queries rely on them).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import register
from fieldcase.store.sqlite import BULK_LOCK_SUFFIX, SET_ASIDE
from fieldcase.testing import invoke
from fieldcase.transfer import SET_ASIDE_ROWS, estimated_rows, sets_aside

AT = ("--at", "2026-11-23T09:00+08:00")
ROWS = 900

#: Runs ``fieldcase ARGS`` in this process, killed (SIGKILL) as its K-th SQL
#: statement starts, any connection's; K = 0 never kills and prints each
#: statement (one per line, JSON) to the file FIELDCASE_TEST_STATEMENTS names.
KILLER = """
import atexit, json, os, signal, sqlite3, sys
kill_at = int(sys.argv[1])
seen = []
connect = sqlite3.connect
def traced(*args, **kwargs):
    conn = connect(*args, **kwargs)
    def trace(sql):
        seen.append(sql)
        if len(seen) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    conn.set_trace_callback(trace)
    return conn
sqlite3.connect = traced
if not kill_at:
    def keep():
        with open(os.environ["FIELDCASE_TEST_STATEMENTS"], "w", encoding="utf-8") as out:
            out.writelines(json.dumps(sql) + "\\n" for sql in seen)
    atexit.register(keep)
from fieldcase.cli import cli
cli.main(sys.argv[2:], prog_name="fieldcase", standalone_mode=False)
"""


def write_file(path: Path, rows: int, start: int = 0) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["reference", "borrower_name", "currency", "principal", "overdue_amount",
                      "days_past_due", "timezone", "jurisdiction", "phone", "address"])  # fmt: skip
        for i in range(start, start + rows):
            out.writerow([f"B-{i:06d}", f"借款人{i}", "CNY", f"{2000 + i}.00", f"{100 + i % 89}.25",
                          20 + i % 200, "Asia/Shanghai", "CN", f"+86 139{i:08d}",
                          f"深圳市南山区科技园{i}号"])  # fmt: skip


def schema(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


def fts_whole(db: Path) -> bool:
    """Whether the search index holds exactly the table's rows (FTS5's own check)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO cases_fts(cases_fts) VALUES ('integrity-check')")
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def rows_of(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An office with a supervisor and an institution, and nothing imported yet."""
    db = tmp_path_factory.mktemp("template") / "office.db"

    def run(*args: str, as_: str | None = None) -> Any:
        actor = ("--as", as_) if as_ else ()
        return invoke("--db", db, *actor, *args)

    assert run("init").exit_code == 0
    assert run("staff", "add", "chen.wei", "--name", "陈伟", "--role", "supervisor").exit_code == 0
    register(run, "bulk")
    return db


@pytest.fixture
def office(template: Path, tmp_path: Path) -> Path:
    db = tmp_path / "office.db"
    shutil.copy(template, db)
    return db


def fieldcase(db: Path, *args: str) -> Any:
    return invoke("--db", db, "--as", "chen.wei", *args)


def import_file(db: Path, path: Path, *options: str) -> dict[str, Any]:
    result = fieldcase(db, "import", str(path), "--institution", "bulk", *AT, "--json", *options)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_a_rebuilt_import_writes_what_a_kept_one_does(template: Path, tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    write_file(path, ROWS)
    kept, rebuilt = tmp_path / "kept.db", tmp_path / "rebuilt.db"
    shutil.copy(template, kept)
    shutil.copy(template, rebuilt)
    assert import_file(kept, path, "--indexes", "keep")["imported"] == ROWS
    assert import_file(rebuilt, path, "--indexes", "rebuild")["imported"] == ROWS
    assert schema(rebuilt) == schema(kept) == schema(template)
    assert not Path(f"{rebuilt}{BULK_LOCK_SUFFIX}").exists()
    assert fts_whole(rebuilt)
    every_case = "SELECT * FROM cases ORDER BY id"
    assert rows_of(rebuilt, every_case) == rows_of(kept, every_case)
    # Search reads the rebuilt index: a borrower's address finds their case.
    found = fieldcase(rebuilt, "cases", "--search", "科技园417号", "--all", "--json")
    assert found.exit_code == 0, found.output
    assert [c["case"] for c in json.loads(found.stdout)] == ["bulk/B-000417"]
    # A second file into the table keeps its rows in the index too.
    more = tmp_path / "more.csv"
    write_file(more, 50, start=ROWS)
    assert import_file(rebuilt, more, "--indexes", "rebuild")["imported"] == 50
    assert fts_whole(rebuilt) and schema(rebuilt) == schema(template)


def test_auto_rebuilds_only_for_a_file_large_against_the_table(tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    write_file(path, 300)
    assert estimated_rows(path) == 301  # the header is a line too
    # Extrapolated from the first bytes when the file is longer than the sample.
    assert abs(estimated_rows(path, sample=4096) - 301) < 30
    big = tmp_path / "big.csv"
    write_file(big, SET_ASIDE_ROWS)
    assert sets_aside(big, True, cases=0)
    assert sets_aside(big, True, cases=SET_ASIDE_ROWS)
    assert not sets_aside(big, True, cases=SET_ASIDE_ROWS * 2)  # the table dwarfs it
    assert not sets_aside(path, True, cases=0)  # too few rows to gain
    assert not sets_aside(big, False, cases=0)  # a workbook is not estimated


def statements(db: Path, path: Path) -> list[str]:
    """Every statement an import with indexes set aside runs, in order."""
    log = db.with_suffix(".statements")
    done = killed_import(db, path, 0, FIELDCASE_TEST_STATEMENTS=str(log))
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def killed_import(
    db: Path, path: Path, kill_at: int, **env: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", KILLER, str(kill_at), "--db", str(db), "--as", "chen.wei",
               "import", str(path), "--institution", "bulk", "--indexes", "rebuild",
               "--batch-size", "300", *AT]  # fmt: skip
    env |= {**os.environ, "FIELDCASE_LOAD_PLUGINS": ""}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def kill_points(seen: list[str]) -> list[int]:
    """Statements to die at (counted from 1): each one of setting aside and of putting
    back, and some of those writing rows in between. Statements a trigger or the
    search index runs inside another (``-- ...``) are not the command's own."""
    own = [i for i, sql in enumerate(seen, 1) if not sql.startswith("--")]
    marked = [i for i in own if SET_ASIDE in seen[i - 1]]
    first, last = marked[0], marked[-1]
    back = max(i for i in own if i < last and seen[i - 1].startswith("BEGIN IMMEDIATE"))
    setting_aside = [i for i in own if first - 2 <= i <= first + 7]
    putting_back = [i for i in own if back <= i <= last + 1]
    rows = [i for i in own if first + 7 < i < back]
    return sorted({*setting_aside, *rows[:: len(rows) // 6], *putting_back[::2], last, last + 1})


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs SIGKILL")
def test_a_kill_at_any_statement_leaves_a_database_the_next_command_mends(
    template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "file.csv"
    write_file(path, ROWS)
    probe = tmp_path / "probe.db"
    shutil.copy(template, probe)
    points = kill_points(statements(probe, path))
    assert len(points) > 20, points
    whole = schema(template)
    mended = 0
    for kill_at in points:
        db = tmp_path / f"killed-{kill_at}.db"
        shutil.copy(template, db)
        killed = killed_import(db, path, kill_at)
        assert killed.returncode == -9, f"statement {kill_at}: {killed.stderr}"
        # As the kill left it: every case with its event, the log whole.
        verify = invoke("--db", db, "audit", "verify", "--replay")
        assert verify.exit_code == 0, f"killed at statement {kill_at}: {verify.output}"
        left_aside = schema(db) != whole
        # The next command that may write (here a list of cases) puts them back.
        listed = fieldcase(db, "cases", "--all", "--json")
        assert listed.exit_code == 0, listed.output
        assert ("rebuilding them first" in listed.stderr) == left_aside, listed.stderr
        assert schema(db) == whole, f"killed at statement {kill_at}"
        assert fts_whole(db), f"killed at statement {kill_at}: the search index lacks rows"
        assert not Path(f"{db}{BULK_LOCK_SUFFIX}").exists()
        mended += left_aside
        # Importing again goes on from where the kill stopped it.
        summary = import_file(db, path)
        assert summary["imported"] + summary["unchanged"] == ROWS
        count = rows_of(db, "SELECT count(*) FROM cases")[0][0]
        assert count == ROWS
    # The kills did land while the indexes were set aside, and in the rows between.
    assert mended >= len(points) // 2, (mended, len(points))


def test_a_foreign_file_where_the_lock_goes_is_named_not_a_crash(
    office: Path, tmp_path: Path
) -> None:
    # Something else (a careless copy, a planted file) sits where an import's lock goes.
    foreign = Path(f"{office}{BULK_LOCK_SUFFIX}")
    foreign.write_text("notes, not a database\n" * 10, encoding="utf-8")
    listed = fieldcase(office, "cases", "--all", "--json")
    assert listed.exit_code == 0, listed.output  # other commands go on, and leave it
    path = tmp_path / "file.csv"
    write_file(path, 20)
    before = schema(office)
    refused = fieldcase(office, "import", str(path), "--institution", "bulk", *AT,
                        "--indexes", "rebuild")  # fmt: skip
    assert refused.exit_code == 1, refused.output
    assert f"{foreign} is not the lock file" in refused.output
    assert "Traceback" not in refused.output
    assert schema(office) == before
    assert rows_of(office, "SELECT count(*) FROM cases")[0][0] == 0
    assert foreign.read_text(encoding="utf-8").startswith("notes")  # not ours to delete
