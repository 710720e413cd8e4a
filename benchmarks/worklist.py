"""The worklist, reports and start-up at national scale: figures, not pass/fail.

    .venv/bin/python benchmarks/worklist.py                 # 1,000,000 cases
    .venv/bin/python benchmarks/worklist.py --cases 100000

The portfolio is written straight into the tables with SQL (cases, visits,
promises, payments, and two events a case), so that building it takes
seconds; the commands are then timed as a user runs them, each in its own
process, against ``sqlite-utils --help`` measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
#: A national field force: 1,000,000 cases are 5,000 a head.
STAFF = tuple(f"w{n}" for n in range(1, 201))
ZONES = ("Asia/Shanghai", "America/New_York", "Asia/Kolkata")
AT = "2026-11-23T09:00+08:00"


def run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def build(db: Path, cases: int) -> None:
    fieldcase = str(BIN / "fieldcase")
    subprocess.run([fieldcase, "--db", str(db), "init"], check=True, capture_output=True)
    subprocess.run(
        [
            fieldcase,
            "--db",
            str(db),
            "staff",
            "add",
            "boss",
            "--name",
            "Boss",
            "--role",
            "supervisor",
        ],
        check=True,
        capture_output=True,
    )
    import sqlite3

    from fieldcase.rows import case_arrears_key

    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO staff (id, name, role, active, badge) VALUES (?, ?, 'field', 1, '')",
        [(member, member) for member in STAFF],
    )
    conn.executemany(
        "INSERT INTO institutions (id, name, jurisdiction, timezone, currency, policy,"
        " policy_version) VALUES (?, ?, 'CN', 'Asia/Shanghai', 'CNY', '{}', 1)",
        [(f"inst{n}", f"inst{n}") for n in range(5)],
    )
    # The stored ordering key, worked out as the store does when it writes a case.
    conn.create_function(
        "arrears_key",
        3,
        lambda minor, currency, since: case_arrears_key(
            {"overdue_minor": minor, "currency": currency, "overdue_since": since}
        ),
        deterministic=True,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    zones = ", ".join(f"'{z}'" for z in ZONES)
    staff = ", ".join(f"'{s}'" for s in STAFF)
    conn.executescript(f"""
    CREATE TEMP TABLE z(i INTEGER PRIMARY KEY, zone TEXT);
    INSERT INTO z SELECT row_number() OVER () - 1, value
      FROM json_each('[{zones.replace("'", '"')}]');
    CREATE TEMP TABLE s(i INTEGER PRIMARY KEY, id TEXT);
    INSERT INTO s SELECT row_number() OVER () - 1, value
      FROM json_each('[{staff.replace("'", '"')}]');
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {cases})
    INSERT INTO cases (id, institution, reference, borrower_name, national_id, phone, address,
      timezone, jurisdiction, currency, principal_minor, overdue_minor, overdue_since,
      referred_at, stage, assigned_to, eligible, eligibility_note, failed_visits, escalated,
      updated_at, version, interest_minor, fees_minor, penalty_rate, flags,
      national_id_masked, phone_masked)
    SELECT i, 'inst' || (i % 5), 'R' || i, '借款人' || i, '3101' || i, '+86138' || (10000000 + i),
      '上海市浦东新区世纪大道' || i || '号', (SELECT zone FROM z WHERE z.i = n.i % 3), 'CN', 'CNY',
      100000 + i % 5000000, 10000 + i % 900000, date('2026-11-20', '-' || (i % 400) || ' days'),
      '2026-11-01T00:00:00Z',
      CASE i % 10 WHEN 0 THEN 'closed' WHEN 1 THEN 'preparation' WHEN 2 THEN 'interview'
        WHEN 3 THEN 'feedback' ELSE 'confirmation' END,
      (SELECT id FROM s WHERE s.i = (n.i / 7) % {len(STAFF)}), 1, '', 0, 0,
      '2026-11-01T00:00:00Z', 1, 0, 0, '0.18',
      '[]', '************' || i, '+86*******' || i
    FROM n;
    UPDATE cases SET resolution = 'paid', closed_at = '2026-11-10T00:00:00Z' WHERE stage = 'closed';
    UPDATE cases SET arrears_key = arrears_key(overdue_minor, currency, overdue_since);
    INSERT INTO visits (id, case_id, number, date, window_start, window_end, timezone, staff,
      planned_by, planned_at, checklist, status, met, reason_code, visited_at, recorded_by)
    SELECT id, id, 1, date('2026-11-23', (id % 30 - 10) || ' days'), '10:00', '12:00',
      timezone, json_array(assigned_to),
      assigned_to, '2026-11-20T00:00:00Z', '[]',
      CASE WHEN stage IN ('feedback', 'closed') THEN 'done' ELSE 'planned' END,
      CASE WHEN stage IN ('feedback', 'closed') THEN 'borrower' END,
      CASE WHEN stage IN ('feedback', 'closed') THEN 'medical' END,
      CASE WHEN stage IN ('feedback', 'closed') THEN '2026-11-21T02:00:00Z' END, assigned_to
    FROM cases WHERE stage != 'confirmation';
    INSERT INTO promises (id, case_id, number, amount_minor, due, made_at, made_by, met_at)
    SELECT id, id, 1, 50000, date('2026-11-23', (id % 60 - 30) || ' days'),
      '2026-10-10T00:00:00Z', assigned_to,
      CASE WHEN id % 40 = 0 THEN '2026-10-14T00:00:00Z' END
    FROM cases WHERE id % 20 = 0;
    UPDATE cases SET unmet_due = (SELECT min(due) FROM promises p
      WHERE p.case_id = cases.id AND p.met_at IS NULL) WHERE id % 20 = 0;
    UPDATE cases SET visit_date = (SELECT date FROM visits v
      WHERE v.case_id = cases.id AND v.status = 'planned') WHERE stage != 'confirmation';
    INSERT INTO payments (id, case_id, amount_minor, at, reference, recorded_by)
    SELECT id, id, 50000, '2026-10-14T00:00:00Z', 'P' || id, 'boss'
    FROM cases WHERE id % 40 = 0;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {2 * cases})
    INSERT INTO events (id, case_id, chain, type, actor, at, payload, prev_hash, hash)
    SELECT 1000 + i, (i + 1) / 2, 'case:' || ((i + 1) / 2),
      CASE WHEN i % 50 = 0 THEN 'refused' ELSE 'contact_recorded' END,
      (SELECT id FROM s WHERE s.i = n.i % {len(STAFF)}), '2026-11-20T00:00:00Z',
      CASE WHEN i % 50 = 0 THEN '{{"data":{{"reasons":[{{"rule":"us.regf.hours"}}]}},"rows":[]}}'
        ELSE '{{"data":{{}},"rows":[]}}' END, '', ''
    FROM n;
    """)
    conn.commit()
    conn.close()


def pages(db: Path | str, repeat: int) -> dict[str, float]:
    """Median milliseconds for one worklist page of 20, in process, by filter."""
    import datetime as dt

    from fieldcase.plugins import manager
    from fieldcase.services import Services
    from fieldcase.store import Store, WorklistFilter

    at = dt.datetime.fromisoformat(AT)
    store = Store(db)
    services = Services(store, manager(), clock=None)
    filters = {
        "no filter": WorklistFilter(),
        "staff": WorklistFilter(staff="w1"),
        "staff + stage": WorklistFilter(staff="w7", stage="interview"),
        "institution + bucket 91-180": WorklistFilter(institution="inst2", bucket="91-180"),
        "staff + due today": WorklistFilter(staff="w4", due_today=True),
        "search (Chinese)": WorklistFilter(search="世纪大道12345号"),
    }
    result = {}
    for name, wanted in filters.items():
        times = []
        for _ in range(repeat * 4):
            start = time.perf_counter()
            page = services.worklist(wanted, at, limit=20)
            times.append(time.perf_counter() - start)
        result[f"{name} ({len(page)} rows)"] = statistics.median(times) * 1000
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    fieldcase = str(BIN / "fieldcase")
    sqlite_utils = shutil.which("sqlite-utils", path=str(BIN)) or "sqlite-utils"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "national.db"
        started = time.perf_counter()
        build(db, args.cases)
        print(
            f"Built {args.cases:,} cases and {2 * args.cases:,} events in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        # Byte-compile fieldcase as a normal install does (this machine's
        # PYTHONDONTWRITEBYTECODE would otherwise compile it on every start).
        root = Path(__file__).resolve().parent.parent
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(root / "core"), str(root / "plugins")],
            check=True,
            capture_output=True,
        )
        base = [fieldcase, "--db", str(db)]
        figures: dict[str, list[float]] = {
            "sqlite-utils --help (baseline)": [
                run(sqlite_utils, "--help") for _ in range(args.repeat)
            ],
            "fieldcase --help": [run(fieldcase, "--help") for _ in range(args.repeat)],
            "cases --limit 20": [
                run(*base, "cases", "--limit", "20", "--at", AT) for _ in range(args.repeat)
            ],
            "cases --staff w1 --limit 20": [
                run(*base, "cases", "--staff", "w1", "--limit", "20", "--at", AT)
                for _ in range(args.repeat)
            ],
        }
        for name in ("pipeline", "reasons", "outcomes", "compliance", "staff"):
            figures[f"report {name}"] = [
                run(*base, "report", name, "--to", AT) for _ in range(args.repeat)
            ]
        page_ms = pages(db, args.repeat)
    baseline = statistics.median(figures["sqlite-utils --help (baseline)"])
    print(f"\n{'command':34} {'median s':>9} {'x sqlite-utils --help':>22}")
    for name, times in figures.items():
        median = statistics.median(times)
        print(f"{name:34} {median:9.2f} {median / baseline:22.1f}")
    print(f"\n{'worklist page of 20, in process':34} {'median ms':>9}")
    for name, ms in page_ms.items():
        print(f"{name:34} {ms:9.2f}")
    print(json.dumps({**{k: statistics.median(v) for k, v in figures.items()}, **page_ms}))


if __name__ == "__main__":
    main()
