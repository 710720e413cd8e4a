"""Import, audit and export at portfolio scale: figures, not pass/fail.

    .venv/bin/python benchmarks/transfer.py            # 1,000,000 rows
    .venv/bin/python benchmarks/transfer.py --rows 100000

Each measurement runs in its own process, so its peak memory is its own. Speed
is compared with a baseline measured in the same run on the same file: a bare
``csv.reader`` + ``sqlite3.executemany`` load, as the import issue asks. The
audit of the imported database (one event, and one chain, per case) is
compared with reading every event and hashing its payload with bare
``sqlite3`` + ``hashlib``: the least a verify must do.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = [
    "reference",
    "borrower_name",
    "currency",
    "principal",
    "overdue_amount",
    "overdue_since",
    "timezone",
    "jurisdiction",
    "phone",
    "national_id",
    "address",
]
AT = "2026-11-23T09:00+08:00"


def generate(path: Path, rows: int) -> None:
    rng = random.Random(20261123)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for i in range(rows):
            out.writerow(
                [
                    f"B-{i:07d}",
                    f"借款人{i}",
                    "CNY",
                    f"{rng.randrange(100_000, 5_000_000) / 100:.2f}",
                    f"{rng.randrange(1_000, 500_000) / 100:.2f}",
                    f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}",
                    "Asia/Shanghai",
                    "CN",
                    f"+86 138{rng.randrange(10**7, 10**8)}",
                    f"{rng.randrange(10**17, 10**18)}",
                    f"上海市浦东新区世纪大道{i}号",
                ]
            )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- children: each prints one JSON line ----------------------------------------------


def child_bare(csv_path: str, db_path: str) -> dict[str, float]:
    start = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute(f"CREATE TABLE t ({', '.join(COLUMNS)})")
    with open(csv_path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(COLUMNS))})", reader)
    conn.commit()
    conn.close()
    return {"seconds": time.perf_counter() - start}


def child_validate(csv_path: str, db_path: str) -> dict[str, float]:
    """Read and validate every row as the import does, writing nothing."""
    import datetime as dt

    from fieldcase.importing import RowValidator, read_csv

    at = dt.datetime.fromisoformat(AT)
    start = time.perf_counter()
    validator = RowValidator(at)
    valid = 0
    for row in read_csv(Path(csv_path), "utf-8"):
        clean, _ = validator.validate(row.values or {})
        valid += clean is not None
    return {"seconds": time.perf_counter() - start, "valid": valid}


def child_import(csv_path: str, db_path: str) -> dict[str, float]:
    from click.testing import CliRunner
    from fieldcase.cli import cli

    runner = CliRunner()
    base = ["--db", db_path]

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*base, *args], catch_exceptions=False)
        if result.exit_code:
            raise SystemExit(f"fieldcase {' '.join(args)}: {result.output}")
        return result.stdout

    run("init")
    run("staff", "add", "boss", "--name", "Boss", "--role", "supervisor")
    run(
        "--as", "boss", "institution", "add", "bench", "--name", "Bench",
        "--jurisdiction", "CN", "--timezone", "Asia/Shanghai", "--currency", "CNY", "--at", AT,
    )  # fmt: skip
    start = time.perf_counter()
    output = run("--as", "boss", "import", csv_path, "--institution", "bench", "--at", AT, "--json")
    seconds = time.perf_counter() - start
    summary = json.loads(output)
    return {"seconds": seconds, "imported": summary["imported"]}


def child_hash(csv_path: str, db_path: str) -> dict[str, float]:
    """Read every event and hash its payload: the audit's baseline."""
    import hashlib

    start = time.perf_counter()
    conn = sqlite3.connect(db_path)
    events = 0
    for (payload,) in conn.execute("SELECT payload FROM events ORDER BY id"):
        hashlib.sha256(payload.encode("utf-8")).hexdigest()
        events += 1
    conn.close()
    return {"seconds": time.perf_counter() - start, "rows": events}


def audit(db_path: str, *args: str) -> tuple[float, str]:
    """``fieldcase audit ARGS`` on the database: (seconds, what it printed)."""
    from click.testing import CliRunner
    from fieldcase.cli import cli

    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["--db", db_path, "audit", *args], catch_exceptions=False)
    seconds = time.perf_counter() - start
    if result.exit_code:
        raise SystemExit(f"fieldcase audit {' '.join(args)}: {result.output}")
    return seconds, result.stdout


def child_verify(csv_path: str, db_path: str) -> dict[str, float]:
    seconds, output = audit(db_path, "verify")
    return {"seconds": seconds, "rows": int(output.split("OK: ", 1)[1].split(" ", 1)[0])}


def child_replay(csv_path: str, db_path: str) -> dict[str, float]:
    seconds, output = audit(db_path, "verify", "--replay")
    return {"seconds": seconds, "rows": int(output.split("OK: ", 1)[1].split(" ", 1)[0])}


def child_since_seal(csv_path: str, db_path: str) -> dict[str, float]:
    """Verify from a seal of the whole log: the seal's check, and no event after it."""
    _, seal = audit(db_path, "seal")
    seconds, _ = audit(db_path, "verify", "--since-seal", seal.strip())
    return {"seconds": seconds, "rows": int(seal.strip().split("@")[1])}


def child_visits(csv_path: str, db_path: str) -> dict[str, float]:
    """Give every imported case a recorded visit, by SQL (a fixture, not measured)."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    checklist = json.dumps(
        [{"code": "id-badge", "label": "Staff ID badge", "required": True, "ticked": True}]
    )
    conn.execute(
        "INSERT INTO visits (id, case_id, number, date, window_start, window_end, timezone,"
        " staff, planned_by, planned_at, checklist, status, met, reason_code, employment,"
        " monthly_income_minor, other_debts_minor, multi_lender, attitude, notes, visited_at,"
        " recorded_by)"
        " SELECT id, id, 1, '2026-11-25', '10:00', '12:00', timezone, '[\"li.na\"]', 'boss',"
        " '2026-11-23T01:00:00Z', ?, 'done', 'borrower', 'medical', 'employed', 850000,"
        " 120000, 0, 'cooperative', '医院账单', '2026-11-25T02:30:00Z', 'li.na' FROM cases",
        [checklist],
    )
    conn.execute(
        "INSERT INTO feedback (id, case_id, visit_id, recommendation, summary, submitted_by,"
        " submitted_at, review_status) SELECT id, id, id, 'restructure', 'Hardship; 6 months',"
        " 'li.na', '2026-11-25T10:00:00Z', 'submitted' FROM cases WHERE id % 2 = 0"
    )
    conn.commit()
    count = conn.execute("SELECT count(*) FROM visits").fetchone()[0]
    conn.close()
    return {"visits": count}


def child_export(csv_path: str, db_path: str) -> dict[str, float]:
    from click.testing import CliRunner
    from fieldcase.cli import cli

    out = str(Path(db_path).with_name("visits.csv"))
    start = time.perf_counter()
    result = CliRunner().invoke(
        cli,
        ["--db", db_path, "--as", "boss", "export", "visits", "-o", out, "--at", AT],
        catch_exceptions=False,
    )
    seconds = time.perf_counter() - start
    rows = int(result.stderr.split("Exported ", 1)[1].split(" ", 1)[0])
    return {"seconds": seconds, "rows": rows}


CHILDREN = {
    "bare": child_bare,
    "validate": child_validate,
    "import": child_import,
    "hash": child_hash,
    "verify": child_verify,
    "replay": child_replay,
    "since_seal": child_since_seal,
    "visits": child_visits,
    "export": child_export,
}


def run_child(name: str, csv_path: Path, db_path: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", name, str(csv_path), str(db_path)],
        capture_output=True,
        text=True,
    )
    if output.returncode:
        raise SystemExit(f"the {name} step failed:\n{output.stderr or output.stdout}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3, metavar=("NAME", "CSV", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, csv_path, db_path = args.child
        result = CHILDREN[name](csv_path, db_path)
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "portfolio.csv"
        print(f"Generating {args.rows:,} rows...", flush=True)
        generate(csv_path, args.rows)
        print(f"  {csv_path.stat().st_size / 1e6:,.0f} MB", flush=True)
        bare = run_child("bare", csv_path, folder / "bare.db")
        validate = run_child("validate", csv_path, folder / "unused.db")
        imported = run_child("import", csv_path, folder / "fieldcase.db")
        # Audited before the visits, which are written by SQL, not through the log.
        hashed = run_child("hash", csv_path, folder / "fieldcase.db")
        verified = run_child("verify", csv_path, folder / "fieldcase.db")
        replayed = run_child("replay", csv_path, folder / "fieldcase.db")
        since_seal = run_child("since_seal", csv_path, folder / "fieldcase.db")
        run_child("visits", csv_path, folder / "fieldcase.db")
        exported = run_child("export", csv_path, folder / "fieldcase.db")
    n = args.rows
    print()
    print(f"{'measurement':34} {'seconds':>9} {'rows/s':>10} {'x bare':>7} {'peak MB':>8}")
    for label, result in [
        ("bare csv.reader + executemany", bare),
        ("read + validate only (no writes)", validate),
        ("fieldcase import", imported),
        ("fieldcase export visits (csv)", exported),
    ]:
        rows = result.get("rows", n)
        print(
            f"{label:34} {result['seconds']:9.2f} {rows / result['seconds']:10,.0f}"
            f" {result['seconds'] / bare['seconds']:7.1f} {result['peak_mb']:8.0f}"
        )
    print()
    print(
        f"import: {imported['imported']:,.0f} cases; target <= 3x bare (2x stretch), "
        f"< 200 MB: {imported['seconds'] / bare['seconds']:.1f}x, "
        f"{imported['peak_mb']:.0f} MB"
    )
    print(
        f"export: {exported['rows']:,.0f} visits; target >= 100,000 rows/s, < 150 MB: "
        f"{exported['rows'] / exported['seconds']:,.0f} rows/s, {exported['peak_mb']:.0f} MB"
    )
    print()
    print(f"{'audit':34} {'seconds':>9} {'events/s':>10} {'x hash':>7} {'peak MB':>8}")
    for label, result in [
        ("bare read + sha256 of payloads", hashed),
        ("fieldcase audit verify", verified),
        ("fieldcase audit verify --replay", replayed),
        ("audit verify --since-seal (at end)", since_seal),
    ]:
        print(
            f"{label:34} {result['seconds']:9.2f} {result['rows'] / result['seconds']:10,.0f}"
            f" {result['seconds'] / hashed['seconds']:7.1f} {result['peak_mb']:8.0f}"
        )
    print()
    print(
        f"audit: {verified['rows']:,.0f} events in as many chains; memory must not grow with "
        f"the log: verify {verified['peak_mb']:.0f} MB, --replay {replayed['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
