"""The same portfolio on SQLite and on PostgreSQL, side by side: figures, not pass/fail.

    .venv/bin/python benchmarks/postgres.py                 # 1,000,000 cases
    .venv/bin/python benchmarks/postgres.py --cases 100000

The portfolio is the worklist benchmark's (benchmarks/worklist.py), built in a
SQLite file and copied table by table into a throwaway PostgreSQL server
(tests/pgserver.py, Debian's server programs). Then, on each store, in one run:

- a worklist page of 20, in process, by filter (target on PostgreSQL: < 5 ms);
- one action end to end, a contact recorded through the command line by the
  case's field worker (logged in as themselves on PostgreSQL; target: within
  1.5 times SQLite's);
- each report through the command line (target: < 1 s);
- an export of every visit to CSV, and an import of 10,000 new cases;
- how long one contact holds the write lock (writers take it one at a time on
  both stores), and so how many such actions per second the whole team could
  make before writers wait on one another.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

from pgserver import Server, password_of  # noqa: E402
from worklist import AT, STAFF, build, pages  # noqa: E402

BIN = Path(sys.executable).parent
FIELDCASE = str(BIN / "fieldcase")
#: Copied in this order (foreign keys), then the log.
TABLES = ("staff", "institutions", "cases", "visits", "promises", "payments", "events")


def copy_into(db: Path, url: str) -> None:
    """Every row of the SQLite file's tables into the PostgreSQL database, with COPY."""
    import psycopg

    source = sqlite3.connect(db)
    with psycopg.connect(url, autocommit=True) as conn:
        # The generator writes events without chains, as the SQLite benchmark does.
        conn.execute("ALTER TABLE fieldcase.events DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE fieldcase.staff DISABLE TRIGGER USER")
        conn.execute("DELETE FROM fieldcase.staff")
        for table in TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info([{table}])")]
            names = ", ".join(f'"{c}"' for c in columns)
            with (
                conn.cursor() as cursor,
                cursor.copy(f'COPY fieldcase."{table}" ({names}) FROM STDIN') as copy,
            ):
                for row in source.execute(f"SELECT {names} FROM [{table}]"):
                    copy.write_row(row)
        conn.execute("ALTER TABLE fieldcase.events ENABLE TRIGGER USER")
        conn.execute("ALTER TABLE fieldcase.staff ENABLE TRIGGER USER")
        for member in (*STAFF, "boss"):  # their logins, as staff add makes them
            role = "supervisor" if member == "boss" else "field"
            conn.execute(f"UPDATE fieldcase.staff SET role = '{role}' WHERE id = '{member}'")
            conn.execute(f"ALTER ROLE \"{member}\" PASSWORD '{password_of(member)}'")
        conn.execute("ANALYZE")
    source.close()


def w1_case(cases: int) -> int:
    """A case in confirmation assigned to w1 (the generator's: assigned by id / 7)."""
    return next(i for i in range(1, cases) if i % 10 >= 4 and STAFF[(i // 7) % len(STAFF)] == "w1")


def claimed(db: Path, case: int, n: int) -> str:
    """--at for the n-th action on ``case``: yesterday at 10:00 and n minutes, the
    borrower's time (the command line checks claimed times against the real clock)."""
    with sqlite3.connect(db) as conn:
        (zone,) = conn.execute("SELECT timezone FROM cases WHERE id = ?", [case]).fetchone()
    day = dt.datetime.now(ZoneInfo(zone)).date() - dt.timedelta(days=1)
    at = dt.datetime.combine(day, dt.time(10, n), ZoneInfo(zone))
    return at.isoformat(timespec="minutes")


def timed(command: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def measure(
    db: str, login: Callable[[str], list[str]], tmp: Path, case: int, times_at: list[str]
) -> dict[str, float]:
    """Seconds (medians) for the commands on one store; ``login(staff)`` gives --db (and --as)."""
    figures: dict[str, float] = {}
    boss = [FIELDCASE, *login("boss")]
    repeat = len(times_at)
    times = []
    for at in times_at:
        command = [FIELDCASE, *login("w1"), "contact", str(case), "--channel", "phone"]
        times += timed([*command, "--outcome", "reached", "--at", at], 1)
    figures["action: contact (CLI)"] = statistics.median(times)
    for name in ("pipeline", "reasons", "outcomes", "compliance", "staff"):
        figures[f"report {name} (CLI)"] = statistics.median(
            timed([*boss, "report", name, "--to", AT], repeat)
        )
    out = tmp / f"visits-{abs(hash(db))}.csv"
    figures["export visits (CLI)"] = statistics.median(
        timed([*boss, "export", "visits", "-o", str(out), "--replace", "--at", AT], 1)
    )
    portfolio = tmp / f"new-{abs(hash(db))}.csv"
    with portfolio.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["reference", "borrower_name", "currency", "principal", "overdue_amount",
             "days_past_due", "timezone", "jurisdiction"]
        )  # fmt: skip
        for i in range(10_000):
            row = [f"N{i}", f"新借款人{i}", "CNY", "1000.00", "120.50", 40]
            writer.writerow([*row, "Asia/Shanghai", "CN"])
    figures["import 10,000 cases (CLI)"] = statistics.median(
        timed([*boss, "import", str(portfolio), "--institution", "inst1", "--at", AT], 1)
    )
    return figures


def write_lock(db: list[str], case: int, times_at: list[str]) -> tuple[float, float]:
    """Median seconds one contact (in process) runs, and holds the write lock.

    Every write transaction takes the store's one write lock (SQLite's
    ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) from its first statement
    to its commit, so its length bounds the team's writes per second.
    """
    from fieldcase.store import Store
    from fieldcase.testing import invoke

    held: list[float] = []
    original = Store.transaction

    @contextmanager
    def timed(self: Store) -> Iterator[None]:
        start = time.perf_counter()
        with original(self):
            yield
        held.append(time.perf_counter() - start)

    Store.transaction = timed  # type: ignore[method-assign]
    totals, locks = [], []
    try:
        for at in times_at:
            held.clear()
            start = time.perf_counter()
            result = invoke(*db, "contact", str(case), "--channel", "phone", "--outcome",
                            "reached", "--at", at)  # fmt: skip
            totals.append(time.perf_counter() - start)
            assert result.exit_code == 0, result.output
            locks.append(sum(held))
    finally:
        Store.transaction = original  # type: ignore[method-assign]
    return statistics.median(totals), statistics.median(locks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = Server()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            db = tmp / "national.db"
            started = time.perf_counter()
            build(db, args.cases)
            built = time.perf_counter() - started
            server.create_database("national")
            admin = server.admin_url("national")
            subprocess.run([FIELDCASE, "--db", admin, "init"], check=True, capture_output=True)
            started = time.perf_counter()
            copy_into(db, admin)
            print(
                f"Built {args.cases:,} cases in {built:.1f} s (SQLite), copied to PostgreSQL "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            case = w1_case(args.cases)
            cli_at = [claimed(db, case, n) for n in range(args.repeat)]
            in_process_at = [claimed(db, case, args.repeat + n) for n in range(args.repeat)]

            def on_sqlite(staff: str) -> list[str]:
                return ["--db", str(db), "--as", staff]

            def on_pg(staff: str) -> list[str]:
                return ["--db", server.staff_url("national", staff, password_of(staff))]

            results = {
                "SQLite": measure(str(db), on_sqlite, tmp, case, cli_at),
                "PostgreSQL": measure(admin, on_pg, tmp, case, cli_at),
            }
            page_ms = {"SQLite": pages(db, args.repeat), "PostgreSQL": pages(admin, args.repeat)}
            locks = {
                "SQLite": write_lock(on_sqlite("w1"), case, in_process_at),
                "PostgreSQL": write_lock(on_pg("w1"), case, in_process_at),
            }
    finally:
        server.stop()
    print(f"\n{'command (median s)':34} {'SQLite':>9} {'PostgreSQL':>11} {'ratio':>7}")
    for name in results["SQLite"]:
        lite, pg = results["SQLite"][name], results["PostgreSQL"][name]
        print(f"{name:34} {lite:9.3f} {pg:11.3f} {pg / lite:7.2f}")
    print(f"\n{'worklist page of 20 (median ms)':34} {'SQLite':>9} {'PostgreSQL':>11}")
    for (name, lite), pg in zip(
        page_ms["SQLite"].items(), page_ms["PostgreSQL"].values(), strict=True
    ):
        print(f"{name:34} {lite:9.2f} {pg:11.2f}")
    print(f"\n{'one contact, in process (median ms)':34} {'SQLite':>9} {'PostgreSQL':>11}")
    for i, name in enumerate(("end to end", "write lock held")):
        lite, pg = locks["SQLite"][i] * 1000, locks["PostgreSQL"][i] * 1000
        print(f"{name:34} {lite:9.2f} {pg:11.2f}")
    lite, pg = (1 / locks[store][1] for store in ("SQLite", "PostgreSQL"))
    print(f"{'team ceiling (contacts/s)':34} {lite:9.0f} {pg:11.0f}")
    report: dict[str, Any] = {
        "cases": args.cases,
        "commands": results,
        "pages_ms": page_ms,
        "contact_ms": {store: [t * 1000 for t in pair] for store, pair in locks.items()},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
