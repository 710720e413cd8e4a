"""Import, audit and export at portfolio scale: figures, not pass/fail.

    .venv/bin/python benchmarks/transfer.py            # 1,000,000 rows
    .venv/bin/python benchmarks/transfer.py --rows 100000 --repeat 5

The file mixes Chinese, US and Indian borrowers (CNY, USD and INR; Asia/Shanghai,
US zones and Asia/Kolkata; CN-.., US-.. and IN-.. jurisdictions; valid mobile and
landline numbers written as people write them), and one row in ``BROKEN_EVERY``
is broken on purpose (a short phone, an amount that is no number, no reference),
so the import rejects exactly those.

Each measurement runs in its own process, so its peak memory is its own. Every
load is compared, in the same run on the same file, with three baselines: a
bare ``csv.reader`` + ``sqlite3.executemany`` into a table of text columns (the
median of ``--repeat`` runs); a same-schema load, the rows as they are into the
``cases`` table of a database ``fieldcase init`` made (its indexes and search
triggers, no validation, no events); and ``sqlite-utils insert DB cases FILE
--csv``, a peer that validates nothing and writes no audit. The import runs
twice: the first, and again with the file unchanged. The audit of the imported
database (one event, and one chain, per case) is compared with reading every
event and hashing its payload with bare ``sqlite3`` + ``hashlib``: the least a
verify must do.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The demo's names: one list of them in the project.
from fieldcase.demo import EN_FIRST as US_FIRST
from fieldcase.demo import EN_LAST as US_LAST
from fieldcase.demo import IN_FIRST, IN_LAST
from fieldcase.demo import ZH_GIVEN as CN_GIVEN
from fieldcase.demo import ZH_SURNAMES as CN_SURNAMES

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
#: One row in this many is broken on purpose (a bad phone, a bad amount or no
#: reference, in turn), so that the rejects path is measured too.
BROKEN_EVERY = 33

# -- a portfolio of Chinese, US and Indian borrowers -----------------------------------

CN_PLACES = (
    ("CN-SH", "上海市", ("浦东新区世纪大道", "徐汇区漕溪北路", "静安区南京西路")),
    ("CN-BJ", "北京市", ("朝阳区建国路", "海淀区中关村大街", "东城区东长安街")),
    ("CN-GD", "广东省广州市", ("天河区天河路", "越秀区中山五路", "海珠区新港中路")),
)
#: Mobile prefixes in service in mainland China (all valid for phonenumbers).
CN_MOBILE = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "177",
    "180",
    "186",
    "187",
    "188",
    "199",
)

#: (jurisdiction, zone, city, ZIP prefix, area codes in use there)
US_PLACES = (
    ("US-IL", "America/Chicago", "Chicago, IL", "606", ("312", "773", "872")),
    ("US-IL", "America/Chicago", "Naperville, IL", "605", ("630", "331")),
    ("US-NY", "America/New_York", "Brooklyn, NY", "112", ("718", "347", "929")),
    ("US-CA", "America/Los_Angeles", "Oakland, CA", "946", ("510", "341")),
    ("US-TX", "America/Chicago", "Houston, TX", "770", ("713", "832", "281")),
)
US_STREETS = (
    "N Clark St",
    "W Madison St",
    "Flatbush Ave",
    "Telegraph Ave",
    "Westheimer Rd",
    "Oak Park Ave",
)

IN_PLACES = (
    ("IN-MH", "Mumbai", "400", ("Andheri West", "Dadar East", "Powai")),
    ("IN-KA", "Bengaluru", "560", ("Koramangala", "Indiranagar", "Jayanagar 4th Block")),
    ("IN-DL", "New Delhi", "110", ("Lajpat Nagar", "Karol Bagh", "Dwarka Sector 10")),
)


def overdue_since(rng: random.Random) -> str:
    return f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 28):02d}"


def amounts(rng: random.Random, low: int, high: int) -> tuple[str, str]:
    """(principal, overdue amount) as a bank writes them: two decimals, the overdue smaller."""
    principal = rng.randrange(low, high)
    return f"{principal / 100:.2f}", f"{rng.randrange(principal // 50, principal // 4) / 100:.2f}"


def chinese_row(rng: random.Random, i: int) -> list[str]:
    jurisdiction, city, streets = rng.choice(CN_PLACES)
    name = rng.choice(CN_SURNAMES) + rng.choice(CN_GIVEN) + (rng.choice(CN_GIVEN) if i % 3 else "")
    mobile = rng.choice(CN_MOBILE) + f"{rng.randrange(10**8):08d}"
    phone = f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}" if i % 2 else mobile
    birth = f"{rng.randrange(1960, 2004)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    region, serial, check = (
        rng.randrange(110000, 660000),
        rng.randrange(1000),
        rng.choice("0123456789X"),
    )
    national_id = f"{region}{birth}{serial:03d}{check}"
    building = f"{rng.randrange(1, 2000)}号{rng.randrange(1, 30)}楼{rng.randrange(101, 2800)}室"
    address = f"{city}{rng.choice(streets)}{building}"
    principal, overdue = amounts(rng, 500_000, 50_000_000)
    return [
        f"CN-{i:07d}",
        name,
        "CNY",
        principal,
        overdue,
        overdue_since(rng),
        "Asia/Shanghai",
        jurisdiction,
        phone,
        national_id,
        address,
    ]


def us_row(rng: random.Random, i: int) -> list[str]:
    jurisdiction, zone, city, zip_prefix, areas = rng.choice(US_PLACES)
    # Exchanges 200-989 not ending in 11; lines outside the fictional 555-01xx block.
    exchange = rng.randrange(200, 990)
    if exchange % 100 == 11 or exchange == 555:
        exchange += 1
    line = rng.randrange(1000, 10000)
    area = rng.choice(areas)
    phone = f"({area}) {exchange}-{line}" if i % 2 else f"+1 {area}-{exchange}-{line}"
    name = f"{rng.choice(US_FIRST)} {rng.choice(US_LAST)}"
    ssn = f"{rng.randrange(100, 900):03d}-{rng.randrange(10, 100)}-{rng.randrange(1000, 10000)}"
    street = f"{rng.randrange(100, 9999)} {rng.choice(US_STREETS)} Apt {rng.randrange(1, 40)}"
    address = f"{street}, {city} {zip_prefix}{rng.randrange(10, 100)}"
    principal, overdue = amounts(rng, 50_000, 5_000_000)
    return [
        f"US-{i:07d}",
        name,
        "USD",
        principal,
        overdue,
        overdue_since(rng),
        zone,
        jurisdiction,
        phone,
        ssn,
        address,
    ]


def indian_row(rng: random.Random, i: int) -> list[str]:
    jurisdiction, city, pin_prefix, areas = rng.choice(IN_PLACES)
    mobile = f"{rng.choice('6789')}{rng.randrange(10**9):09d}"
    phone = f"+91 {mobile[:5]} {mobile[5:]}" if i % 2 else mobile
    name = f"{rng.choice(IN_FIRST)} {rng.choice(IN_LAST)}"
    aadhaar = f"{rng.randrange(2, 10)}{rng.randrange(10**11):011d}"
    aadhaar = f"{aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]}"
    flat = f"Flat {rng.randrange(1, 40)}{rng.choice('ABCD')}, {rng.choice(areas)}"
    address = f"{flat}, {city} {pin_prefix}{rng.randrange(1, 100):03d}"
    principal, overdue = amounts(rng, 1_000_000, 200_000_000)
    return [
        f"IN-{i:07d}",
        name,
        "INR",
        principal,
        overdue,
        overdue_since(rng),
        "Asia/Kolkata",
        jurisdiction,
        phone,
        aadhaar,
        address,
    ]


#: Six rows in ten Chinese, three US, one Indian.
REGIONS = (chinese_row,) * 6 + (us_row,) * 3 + (indian_row,)


def broken(row: list[str], i: int) -> list[str]:
    """``row`` with one thing wrong that the import must refuse: phone, amount, reference."""
    kind = (i // BROKEN_EVERY) % 3
    if kind == 0:
        row[COLUMNS.index("phone")] = row[COLUMNS.index("phone")][:-4]  # too short
    elif kind == 1:
        row[COLUMNS.index("principal")] = row[COLUMNS.index("principal")] + ".5"
    else:
        row[COLUMNS.index("reference")] = ""
    return row


def generate(path: Path, rows: int, *, first: int = 0, broken_every: int = BROKEN_EVERY) -> int:
    """Write ``rows`` mixed rows (references from ``first``); return how many are broken.

    ``broken_every=0`` writes none broken.
    """
    rng = random.Random(20261123 + first)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for i in range(first, first + rows):
            row = REGIONS[rng.randrange(len(REGIONS))](rng, i)
            if broken_every and i % broken_every == broken_every - 1:
                row = broken(row, i)
                count += 1
            out.writerow(row)
    return count


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


#: The ``cases`` column each file column goes to in a same-schema load (the rest: as named).
CASE_COLUMN = {"principal": "principal_minor", "overdue_amount": "overdue_minor"}
#: What a same-schema load writes: an id, the institution, the file's columns as they are,
#: and the columns that may not be null.
SAME_SCHEMA_COLUMNS = (
    "id",
    "institution",
    *(CASE_COLUMN.get(name, name) for name in COLUMNS),
    "referred_at",
    "stage",
    "updated_at",
    "version",
)


def child_same_schema(csv_path: str, db_path: str) -> dict[str, float]:
    """The rows into a database ``fieldcase init`` made (its ``cases`` table, indexes and
    search triggers) with plain ``sqlite3``: no validation, no conversion, no events.

    A row whose reference is already taken (an empty one, again) is skipped, as the
    unique index on (institution, reference) says.
    """
    start = time.perf_counter()
    conn = sqlite3.connect(db_path)
    with open(csv_path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        rows = (
            (line, "bench", *record, AT, "confirmation", AT, 1)
            for line, record in enumerate(reader, start=1)
        )
        conn.executemany(
            f"INSERT OR IGNORE INTO cases ({', '.join(SAME_SCHEMA_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(SAME_SCHEMA_COLUMNS))})",
            rows,
        )
    conn.commit()
    loaded = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    conn.close()
    return {"seconds": time.perf_counter() - start, "loaded": loaded}


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


def fieldcase(db_path: str, *args: str) -> str:
    """Run ``fieldcase --db DB ARGS`` in this process; what it printed, or exit saying why."""
    from click.testing import CliRunner
    from fieldcase.cli import cli

    result = CliRunner().invoke(cli, ["--db", db_path, *args], catch_exceptions=False)
    if result.exit_code:
        raise SystemExit(f"fieldcase {' '.join(args)}: {result.output}")
    return result.stdout


def timed_import(csv_path: str, db_path: str) -> dict[str, Any]:
    """``fieldcase import`` of the file for the bench institution: time, counts, rejects."""
    start = time.perf_counter()
    output = fieldcase(
        db_path, "--as", "boss", "import", csv_path, "--institution", "bench", "--at", AT, "--json"
    )
    seconds = time.perf_counter() - start
    summary = json.loads(output)
    fields: dict[str, set[str]] = {}
    if summary["rejects_file"]:
        with open(summary["rejects_file"], encoding="utf-8", newline="") as handle:
            for reject in csv.DictReader(handle):
                fields.setdefault(reject["field"], set()).add(reject["line"])
    return {
        "seconds": seconds,
        **{key: summary[key] for key in ("imported", "unchanged", "updated", "rejected")},
        "rejected_by_field": {field: len(lines) for field, lines in sorted(fields.items())},
    }


def child_import(csv_path: str, db_path: str) -> dict[str, Any]:
    """A new database, its supervisor and institution (not timed), then the first import."""
    fieldcase(db_path, "init")
    fieldcase(db_path, "staff", "add", "boss", "--name", "Boss", "--role", "supervisor")
    fieldcase(
        db_path, "--as", "boss", "institution", "add", "bench", "--name", "Bench",
        "--jurisdiction", "CN", "--timezone", "Asia/Shanghai", "--currency", "CNY", "--at", AT,
    )  # fmt: skip
    return timed_import(csv_path, db_path)


def child_reimport(csv_path: str, db_path: str) -> dict[str, Any]:
    """The same file again: every row is already in, unchanged."""
    return timed_import(csv_path, db_path)


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
    start = time.perf_counter()
    output = fieldcase(db_path, "audit", *args)
    return time.perf_counter() - start, output


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
    "same_schema": child_same_schema,
    "validate": child_validate,
    "import": child_import,
    "reimport": child_reimport,
    "hash": child_hash,
    "verify": child_verify,
    "replay": child_replay,
    "since_seal": child_since_seal,
    "visits": child_visits,
    "export": child_export,
}
BIN = Path(sys.executable).parent


def run_child(name: str, csv_path: Path, db_path: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", name, str(csv_path), str(db_path)],
        capture_output=True,
        text=True,
    )
    if output.returncode:
        raise SystemExit(f"the {name} step failed:\n{output.stderr or output.stdout}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def run_command(*args: str) -> dict[str, Any]:
    """Run a command in its own process: its seconds and peak memory (from ``wait4``)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            out.seek(0)
            raise SystemExit(f"{' '.join(args)} failed:\n{out.read().decode(errors='replace')}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


def bare_median(csv_path: Path, folder: Path, repeat: int) -> dict[str, Any]:
    """The bare load ``repeat`` times, each in its own process and file: the median run."""
    runs = [run_child("bare", csv_path, folder / f"bare{n}.db") for n in range(repeat)]
    seconds = statistics.median(run["seconds"] for run in runs)
    return {"seconds": seconds, "peak_mb": max(run["peak_mb"] for run in runs), "runs": runs}


def measure(rows: int, repeat: int) -> dict[str, dict[str, Any]]:
    """Every measurement on one generated file, in one temporary folder."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "portfolio.csv"
        print(f"Generating {rows:,} rows (Chinese, US and Indian)...", flush=True)
        broken_rows = generate(csv_path, rows)
        print(f"  {csv_path.stat().st_size / 1e6:,.0f} MB, {broken_rows:,} broken", flush=True)
        results["file"] = {"broken": broken_rows}
        results["bare"] = bare_median(csv_path, folder, repeat)
        same = folder / "same-schema.db"
        subprocess.run([str(BIN / "fieldcase"), "--db", str(same), "init"], check=True,
                       capture_output=True)  # fmt: skip
        results["same_schema"] = run_child("same_schema", csv_path, same)
        sqlite_utils = shutil.which("sqlite-utils", path=str(BIN)) or "sqlite-utils"
        results["sqlite_utils"] = run_command(
            sqlite_utils, "insert", str(folder / "sqlite-utils.db"), "cases", str(csv_path), "--csv"
        )
        results["validate"] = run_child("validate", csv_path, folder / "unused.db")
        db = folder / "fieldcase.db"
        for name in ("import", "reimport", "hash", "verify", "replay", "since_seal"):
            # Audited before the visits, which are written by SQL, not through the log.
            results[name] = run_child(name, csv_path, db)
        run_child("visits", csv_path, db)
        results["export"] = run_child("export", csv_path, db)
    return results


def ratio(seconds: float, baseline: dict[str, Any]) -> str:
    return f"{seconds / baseline['seconds']:.1f}"


def print_loads(n: int, results: dict[str, dict[str, Any]], repeat: int) -> None:
    bare, same, peer = results["bare"], results["same_schema"], results["sqlite_utils"]
    print()
    print(
        f"{'load':44} {'seconds':>8} {'rows/s':>10} {'x bare':>7} {'x same':>7}"
        f" {'x s-utils':>9} {'peak MB':>8}"
    )
    for label, result in [
        (f"bare csv.reader + executemany (median of {repeat})", bare),
        ("same-schema load (sqlite3, no checks)", same),
        ("sqlite-utils insert --csv", peer),
        ("read + validate only (no writes)", results["validate"]),
        ("fieldcase import (first)", results["import"]),
        ("fieldcase import (again, unchanged)", results["reimport"]),
        ("fieldcase export visits (csv)", results["export"]),
    ]:
        rows = result.get("rows", n)
        print(
            f"{label:44} {result['seconds']:8.2f} {rows / result['seconds']:10,.0f}"
            f" {ratio(result['seconds'], bare):>7} {ratio(result['seconds'], same):>7}"
            f" {ratio(result['seconds'], peer):>9} {result['peak_mb']:8.0f}"
        )
    runs = ", ".join(f"{run['seconds']:.2f}" for run in bare["runs"])
    print(
        f"  bare runs: {runs} s; "
        f"same-schema load kept {same['loaded']:,} rows (repeated references skipped)"
    )


def print_import(results: dict[str, dict[str, Any]]) -> None:
    first, again = results["import"], results["reimport"]
    broken = results["file"]["broken"]
    by_field = ", ".join(
        f"{field} {count:,}" for field, count in first["rejected_by_field"].items()
    )
    print()
    print(
        f"import: {first['imported']:,} cases, {first['rejected']:,} rejected ({by_field}); "
        f"the file has {broken:,} broken rows"
    )
    if first["rejected"] != broken:
        print(f"  NOTE: {first['rejected'] - broken:+,} rejects against the broken rows written")
    print(
        f"again: {again['unchanged']:,} unchanged, {again['updated']:,} updated, "
        f"{again['imported']:,} new"
    )
    print(
        "targets: first import <= sqlite-utils: "
        f"{ratio(first['seconds'], results['sqlite_utils'])}x; "
        f"again <= 3x bare: {ratio(again['seconds'], results['bare'])}x; "
        f"peak < 300 MB: {first['peak_mb']:.0f} MB, again {again['peak_mb']:.0f} MB"
    )
    export = results["export"]
    print(
        f"export: {export['rows']:,} visits; target >= 200,000 rows/s: "
        f"{export['rows'] / export['seconds']:,.0f} rows/s, {export['peak_mb']:.0f} MB"
    )


def print_audit(results: dict[str, dict[str, Any]]) -> None:
    hashed, verified, replayed = results["hash"], results["verify"], results["replay"]
    print()
    print(f"{'audit':44} {'seconds':>8} {'events/s':>10} {'x hash':>7} {'peak MB':>8}")
    for label, result in [
        ("bare read + sha256 of payloads", hashed),
        ("fieldcase audit verify", verified),
        ("fieldcase audit verify --replay", replayed),
        ("audit verify --since-seal (at end)", results["since_seal"]),
    ]:
        print(
            f"{label:44} {result['seconds']:8.2f} {result['rows'] / result['seconds']:10,.0f}"
            f" {ratio(result['seconds'], hashed):>7} {result['peak_mb']:8.0f}"
        )
    print()
    print(
        f"audit: {verified['rows']:,} events in as many chains; targets at 2,000,000 events: "
        f"verify < 10 s, --replay < 60 s, memory flat: verify {verified['peak_mb']:.0f} MB, "
        f"--replay {replayed['peak_mb']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="bare loads to take the median of (default 3)"
    )
    parser.add_argument("--child", nargs=3, metavar=("NAME", "CSV", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, csv_path, db_path = args.child
        result = CHILDREN[name](csv_path, db_path)
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return
    results = measure(args.rows, args.repeat)
    print_loads(args.rows, results, args.repeat)
    print_import(results)
    print_audit(results)


if __name__ == "__main__":
    main()
