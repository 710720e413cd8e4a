"""Faults of the machine: a full disk (issue 13, item 10).

The disk is made full for real: the command runs in its own process with a
file size limit (``RLIMIT_FSIZE``), so every write past it fails as it would on
a full disk (Python ignores ``SIGXFSZ``; the write returns ``EFBIG``, which
SQLite reports as a disk I/O error).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import AT, Run, events, to_feedback

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid"), reason="needs POSIX file size limits and permissions"
)


def fieldcase(
    db: Path, *args: str, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``fieldcase --db DB ARGS...`` in its own process, as a person would run it."""
    script = Path(sys.executable).with_name("fieldcase")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fieldcase"]
    options: dict[str, Any] = {}
    if file_size_limit is not None:

        def limit_file_size() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        options["preexec_fn"] = limit_file_size
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDCASE_")}
    return subprocess.run(
        [*command, "--db", str(db), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=db.parent,
        timeout=300,
        check=False,
        **options,
    )


def failed_cleanly(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 1 with one ``Error:`` line a person can act on, and no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def settle(db_path: Path) -> None:
    """Move the write-ahead log into the database, so the log starts empty."""
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


# -- a full disk ----------------------------------------------------------------------------


def write_portfolio(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["reference", "borrower_name", "currency", "principal", "overdue_amount",
             "days_past_due", "timezone", "jurisdiction", "address"]
        )  # fmt: skip
        for i in range(rows):
            out.writerow(
                [f"F-{i:05d}", f"借款人{i}", "CNY", f"{1000 + i}.00", "150.50", 30 + i % 300,
                 "Asia/Shanghai", "CN", f"上海市浦东新区世纪大道{i}号"]
            )  # fmt: skip


def count_cases(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
    finally:
        conn.close()


def test_a_full_disk_stops_an_import_with_an_error_and_whole_batches_kept(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    total, batch = 2000, 100
    source = tmp_path / "portfolio.csv"
    write_portfolio(source, total)
    settle(db_path)
    cases_before = count_cases(db_path)
    args = ("--as", "chen.wei", "import", str(source), "--institution", "hx-consumer")
    stopped = fieldcase(
        db_path, *args, "--batch-size", str(batch), *AT, file_size_limit=1024 * 1024
    )
    failed_cleanly(stopped, "disk", str(db_path), "run", "again")
    kept = count_cases(db_path) - cases_before
    assert 0 < kept < total, "the import was not stopped half way: the test proves nothing"
    assert kept % batch == 0  # whole batches, each with its events
    verified = fieldcase(db_path, "audit", "verify", "--replay")
    assert verified.returncode == 0, verified.stderr

    # Space is freed; the same import goes on from where it stopped.
    again = fieldcase(db_path, *args, "--json", *AT)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] == kept
    assert count_cases(db_path) - cases_before == total


def test_a_full_disk_during_init_is_an_error_and_init_again_finishes(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    stopped = fieldcase(new, "init", file_size_limit=64 * 1024)
    failed_cleanly(stopped, "disk", str(new), "again")
    finished = fieldcase(new, "init")
    assert finished.returncode == 0, finished.stderr
    assert fieldcase(new, "audit", "verify").returncode == 0


def test_a_full_disk_leaves_no_partial_backup_and_the_older_one_untouched(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "nightly.db"
    assert office("backup", str(target), *AT, as_="chen.wei").exit_code == 0
    older = digest(target)
    settle(db_path)
    assert db_path.stat().st_size > 128 * 1024  # the copy cannot fit under the limit
    failed = fieldcase(
        db_path,
        "--as", "chen.wei", "backup", str(target), "--replace", *AT,
        file_size_limit=128 * 1024,
    )  # fmt: skip
    failed_cleanly(failed, "disk", str(target), "nothing was replaced", "backup again")
    assert digest(target) == older
    assert sorted(p.name for p in folder.iterdir()) == [target.name]
    verified = fieldcase(db_path, "audit", "verify", "--replay")
    assert verified.returncode == 0, verified.stderr


def test_a_full_disk_leaves_no_partial_export_and_the_older_one_untouched(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    to_feedback(office)
    summary = "家访记录 " * 40_000  # a long summary: one visit's row is larger than the limit
    written = office(
        "feedback", "1", "--recommend", "restructure", "--summary", summary,
        "--at", "2026-11-25T18:00+08:00", as_="li.na",
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    target = tmp_path / "visits.csv"
    target.write_text("yesterday's export, not to be lost\n")
    settle(db_path)
    logged = len(events(db_path))
    failed = fieldcase(
        db_path,
        "--as", "chen.wei", "export", "visits", "--unmasked", "-o", str(target), "--replace",
        "--at", "2026-11-26T09:00+08:00",
        file_size_limit=256 * 1024,
    )  # fmt: skip
    failed_cleanly(failed, "disk", str(target), "nothing was replaced")
    assert target.read_text() == "yesterday's export, not to be lost\n"
    assert leftovers(tmp_path) == []
    # The export was recorded before its first row left; its completion never was.
    assert [e["type"] for e in events(db_path)[logged:]] == ["export"]
