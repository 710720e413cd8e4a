"""The worklist, reports, start-up and the audit at national scale: figures, not pass/fail.

    .venv/bin/python benchmarks/worklist.py                 # 1,000,000 cases
    .venv/bin/python benchmarks/worklist.py --cases 100000

The portfolio is built as an office builds it, where that matters to the log:
the staff and five institutions through the CLI, the cases through ``fieldcase
import`` of files mixing Chinese, US and Indian borrowers (``transfer.py``'s
generator), and one phone contact per case (one in 50 refused by the calling
hours) through fieldcase's own store, so every event has its real hash and
every chain verifies, with the log's append-only guards in place. Only the
worklist's state (stages, assignments, visits, promises, payments) is written
by SQL, and so is not in the log. ``fieldcase audit verify`` must then pass:
its time and peak memory are printed. The commands are timed as a user runs
them, each in its own process, against ``sqlite-utils --help`` measured in the
same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from transfer import fieldcase, generate, run_command

if TYPE_CHECKING:
    from fieldcase.store import Change

BIN = Path(sys.executable).parent
#: A national field force: 1,000,000 cases are 5,000 a head.
STAFF = tuple(f"w{n}" for n in range(1, 201))
AT = "2026-11-23T09:00+08:00"


def run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


#: (id, jurisdiction, time zone, currency) of the institutions; their files mix all three.
INSTITUTIONS = (
    ("inst0", "CN", "Asia/Shanghai", "CNY"),
    ("inst1", "US-IL", "America/Chicago", "USD"),
    ("inst2", "IN", "Asia/Kolkata", "INR"),
    ("inst3", "CN", "Asia/Shanghai", "CNY"),
    ("inst4", "US-NY", "America/New_York", "USD"),
)
#: When the field staff's contact attempts are recorded (every case has one).
CONTACTED = "2026-11-20T10:00+08:00"


def register(db: Path) -> None:
    """The supervisor, the field force and the institutions, each through the CLI."""
    path = str(db)
    fieldcase(path, "init")
    fieldcase(path, "staff", "add", "boss", "--name", "Boss", "--role", "supervisor")
    for member in STAFF:
        fieldcase(path, "--as", "boss", "staff", "add", member, "--name", member, "--role", "field")
    for institution, jurisdiction, zone, currency in INSTITUTIONS:
        fieldcase(
            path, "--as", "boss", "institution", "add", institution, "--name", institution,
            "--jurisdiction", jurisdiction, "--timezone", zone, "--currency", currency,
            "--at", AT,
        )  # fmt: skip


def import_portfolio(db: Path, cases: int) -> None:
    """A fifth of the cases for each institution, through ``fieldcase import``."""
    share, extra = divmod(cases, len(INSTITUTIONS))
    first = 0
    for n, (institution, *_) in enumerate(INSTITUTIONS):
        rows = share + (n < extra)
        path = db.with_name(f"{institution}.csv")
        generate(path, rows, first=first, broken_every=0)
        fieldcase(
            str(db), "--as", "boss", "import", str(path), "--institution", institution,
            "--at", AT,
        )  # fmt: skip
        first += rows


def spread_work(db: Path) -> None:
    """Stages, assignments, visits, promises and payments, by SQL: the worklist's state.

    These rows are not in the log (``audit verify`` passes; ``--replay`` would
    report them), which keeps building a national portfolio to minutes.
    """
    import sqlite3

    conn = sqlite3.connect(db)
    staff = ", ".join(f'"{s}"' for s in STAFF)
    conn.executescript(f"""
    CREATE TEMP TABLE s(i INTEGER PRIMARY KEY, id TEXT);
    INSERT INTO s SELECT row_number() OVER () - 1, value FROM json_each('[{staff}]');
    UPDATE cases SET
      stage = CASE id % 10 WHEN 0 THEN 'closed' WHEN 1 THEN 'preparation' WHEN 2 THEN 'interview'
        WHEN 3 THEN 'feedback' ELSE 'confirmation' END,
      assigned_to = (SELECT id FROM s WHERE s.i = (cases.id / 7) % {len(STAFF)});
    UPDATE cases SET resolution = 'paid', closed_at = '2026-11-10T00:00:00Z' WHERE stage = 'closed';
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
    """)
    conn.commit()
    conn.close()


#: The rule each jurisdiction's calling-hours refusal names.
HOURS_RULE = {"CN": "cn.hours", "US": "us.regf.hours", "IN": "in.rbi.hours"}
OUTCOMES = ("no-answer", "reached", "left-message", "wrong-number", "reached", "no-answer")


def contact_change(case: dict[str, Any], columns: Sequence[str], at: dt.datetime) -> Change:
    """The case's field officer phones the borrower; one call in 50 is refused (hours)."""
    from fieldcase.rows import CaseRow, TableRow, to_iso
    from fieldcase.store import Change

    actor = case["assigned_to"] or "boss"
    if case["id"] % 50 == 0:
        local = at.astimezone(ZoneInfo(case["timezone"]))
        data = {
            "action": "contact",
            "attempted": {"channel": "phone", "outcome": "no-answer", "purpose": "collect",
                          "target": "borrower"},
            "reasons": [{"rule": HOURS_RULE[case["jurisdiction"][:2]],
                         "reason": f"{local:%H:%M} is outside the borrower's calling hours"}],
        }  # fmt: skip
        return Change("refused", actor, at, (), data, case["id"], recorded_at=at, policy_version=1)
    outcome = OUTCOMES[case["id"] % len(OUTCOMES)]
    when = to_iso(at)
    row = {name: case[name] for name in columns} | {
        "version": case["version"] + 1,
        "updated_at": when,
    }
    contact = {
        "at": when, "case_id": case["id"], "channel": "phone", "id": case["id"], "note": "",
        "outcome": outcome, "purpose": "collect", "relationship": "", "staff": actor,
        "target": "borrower",
    }  # fmt: skip
    data = {"channel": "phone", "outcome": outcome, "purpose": "collect", "target": "borrower"}
    records = (CaseRow(row), TableRow("contacts", contact))
    return Change(
        "contact_recorded", actor, at, records, data, case["id"], recorded_at=at, policy_version=1
    )


def record_contacts(db: Path, batch: int = 10_000) -> None:
    """A second event on every case's chain, written by fieldcase's own store."""
    from fieldcase.store import Store

    at = dt.datetime.fromisoformat(CONTACTED)
    store = Store(db)
    # The case columns an event carries: those the import's events carry.
    imported = store.db.execute(
        "SELECT payload FROM events WHERE type = 'case_imported' LIMIT 1"
    ).fetchone()[0]
    columns = list(json.loads(imported)["rows"][0]["row"])
    last = 0
    while True:
        cases = list(
            store.db.query("SELECT * FROM cases WHERE id > ? ORDER BY id LIMIT ?", [last, batch])
        )
        if not cases:
            break
        store.commit_many([contact_change(case, columns, at) for case in cases])
        last = cases[-1]["id"]
    store.close()


def build(db: Path, cases: int) -> None:
    register(db)
    import_portfolio(db, cases)
    spread_work(db)
    record_contacts(db)


def verify(db: Path) -> dict[str, float]:
    """``fieldcase --db DB audit verify`` in its own process; it must pass."""
    import sqlite3

    measured = run_command(str(BIN / "fieldcase"), "--db", str(db), "audit", "verify")
    conn = sqlite3.connect(db)
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return {**measured, "events": events}


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
        "search (Chinese)": WorklistFilter(search="世纪大道12"),
    }
    result = {}
    for name, wanted in filters.items():
        times = []
        for _ in range(repeat * 4):
            start = time.perf_counter()
            # A search reaches addresses only for a viewer who may see them (and
            # records that it did): the supervisor's, as at the command line.
            viewer = "boss" if wanted.search else None
            page = services.worklist(wanted, at, limit=20, viewer=viewer)
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
        print(f"Built {args.cases:,} cases in {time.perf_counter() - started:.1f} s", flush=True)
        verified = verify(db)
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
    rate = verified["events"] / verified["seconds"]
    print(
        f"\naudit verify: {verified['events']:,} events in {verified['seconds']:.2f} s "
        f"({rate:,.0f} events/s), {verified['peak_mb']:.0f} MB peak"
    )
    medians = {k: statistics.median(v) for k, v in figures.items()}
    print(json.dumps({**medians, **page_ms, "audit verify": verified}))


if __name__ == "__main__":
    main()
