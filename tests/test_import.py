"""Importing institutions' case files: encodings, mapping, validation, idempotence, resume."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, events, query, register, snapshot
from fieldcase import hookimpl
from fieldcase.plugins import manager
from fieldcase.store import Store
from pgserver import PgOffice

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

DATA = Path(__file__).parent / "data"
AT = ("--at", "2026-11-23T09:00+08:00")


#: The institutions these tests import for: (jurisdiction, time zone, currency).
IMPORTERS = {
    "hx": ("CN", "Asia/Shanghai", "CNY"),
    "pr": ("CN", "Asia/Shanghai", "CNY"),
    "e": ("CN", "Asia/Shanghai", "CNY"),
    "kill": ("CN", "Asia/Shanghai", "CNY"),
    "dup": ("CN", "Asia/Shanghai", "CNY"),
    "jl": ("CN", "Asia/Shanghai", "CNY"),
    "m": ("CN", "Asia/Shanghai", "CNY"),
    "midwest": ("US-IL", "America/Chicago", "USD"),
    "mw": ("US-IL", "America/Chicago", "USD"),
    "acme": ("US", "America/New_York", "USD"),
    "deccan": ("IN", "Asia/Kolkata", "INR"),
}


@pytest.fixture
def office(office: Run) -> Run:
    """The office, with the institutions whose files these tests import registered."""
    for name, (jurisdiction, zone, currency) in IMPORTERS.items():
        register(office, name, jurisdiction=jurisdiction, timezone=zone, currency=currency)
    return office


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Copies of the sample files, so rejects files land in the test's directory."""
    target = tmp_path / "files"
    shutil.copytree(DATA, target)
    return target


def cases(target: str) -> list[dict[str, Any]]:
    return [dict(r) for r in query(target, "SELECT * FROM cases ORDER BY id")]


def imported(office: Run, *args: str) -> dict[str, Any]:
    result = office("import", *args, *AT, "--json", as_="chen.wei")
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_gb18030_file_with_chinese_columns_and_names(office: Run, files: Path, target: str) -> None:
    summary = imported(
        office,
        str(files / "hx-gb18030.csv"),
        "--institution",
        "hx",
        "--encoding",
        "gb18030",
        "--mapping",
        str(files / "hx-columns.toml"),
    )
    assert (summary["imported"], summary["rejected"]) == (3, 0)
    rows = {r["reference"]: r for r in cases(target) if r["institution"] == "hx"}
    assert rows["HX-2001"]["borrower_name"] == "王芳"
    assert rows["HX-2002"]["borrower_name"] == "李建国"
    assert rows["HX-2003"]["borrower_name"] == "买买提·艾力"
    assert rows["HX-2003"]["timezone"] == "Asia/Urumqi"
    assert rows["HX-2001"]["address"] == "上海市浦东新区世纪大道100号"
    # Amounts exact in minor units; dates in three spellings; phones in E.164.
    assert rows["HX-2002"]["overdue_minor"] == 1200050
    assert [rows[r]["overdue_since"] for r in ("HX-2001", "HX-2002", "HX-2003")] == [
        "2026-09-15",
        "2026-07-01",
        "2026-08-20",
    ]
    assert rows["HX-2001"]["phone"] == "+8613800138000"
    assert rows["HX-2002"]["phone"] == "+8613912345678"
    assert rows["HX-2001"]["jurisdiction"] == "CN"  # from the mapping's defaults


def test_wrong_encoding_suggests_one_and_writes_nothing(
    office: Run, files: Path, target: str
) -> None:
    before = snapshot(target)
    result = office(
        "import",
        str(files / "hx-gb18030.csv"),
        "--institution",
        "hx",
        "--mapping",
        str(files / "hx-columns.toml"),
        *AT,
        as_="chen.wei",
    )
    assert result.exit_code == 2
    assert "cannot be read as utf-8" in result.stderr
    assert "--encoding gb18030" in result.stderr
    assert snapshot(target) == before


def test_utf8_file_with_byte_order_mark(office: Run, files: Path, target: str) -> None:
    summary = imported(office, str(files / "midwest-utf8-bom.csv"), "--institution", "midwest")
    assert summary["imported"] == 2
    rows = {r["reference"]: r for r in cases(target) if r["institution"] == "midwest"}
    # The first column's name arrived without the BOM, so references were found.
    assert set(rows) == {"MW-1", "MW-2"}
    assert rows["MW-2"]["borrower_name"] == "José Álvarez"
    assert rows["MW-1"]["phone"] == "+13125550142"  # national form, region from US-IL


def test_xlsx_file_through_the_bundled_plugin(office: Run, files: Path, target: str) -> None:
    summary = imported(office, str(files / "pearl-river.xlsx"), "--institution", "pr")
    assert (summary["imported"], summary["rejected"]) == (2, 1)
    rows = {r["reference"]: r for r in cases(target) if r["institution"] == "pr"}
    # Float cells become the exact decimals Excel shows.
    assert rows["PR-1"]["overdue_minor"] == 315040
    assert rows["PR-2"]["principal_minor"] == 1200050
    assert rows["PR-2"]["overdue_minor"] == 10
    assert rows["PR-1"]["overdue_since"] == "2026-09-15"  # a date cell
    assert rows["PR-1"]["phone"] == "+8613800138000"  # a number cell
    rejects = (files / "pearl-river.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects == ["line,field,value,reason", "4,principal,abc,is not a number"]


def test_broken_rows_go_to_the_rejects_file(office: Run, files: Path, target: str) -> None:
    summary = imported(office, str(files / "deccan-broken.csv"), "--institution", "deccan")
    assert summary == {
        "file": str(files / "deccan-broken.csv"),
        "institution": "deccan",
        "rows": 8,
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 6,
        "ineligible": 0,
        "rejects_file": str(files / "deccan-broken.rejects.csv"),
        "warned": 0,
        "warnings_file": None,
    }
    with (files / "deccan-broken.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert rejects == [
        ["line", "field", "value", "reason"],
        ["3", "principal", "15O000", "has the letter 'O' where a digit belongs; write 150000"],
        ["4", "reference", "", "is required"],
        ["5", "overdue_since", "2026-02-30", "does not exist: February 2026 has 28 days"],
        ["6", "phone", "12345", "is not a valid phone number for IN"],
        [
            "7",
            "timezone",
            "Asia/Mumbai",
            "is not an IANA name; use one such as Asia/Shanghai or America/New_York",
        ],
        ["8", "row", "", "expected 11 columns, found 4"],
    ]
    assert sorted(r["reference"] for r in cases(target) if r["institution"] == "deccan") == [
        "OK-1",
        "OK-2",
    ]


def test_rejects_option_and_stale_rejects_removed(office: Run, files: Path) -> None:
    target = files / "out" / "bad.csv"
    target.parent.mkdir()
    imported(
        office,
        str(files / "deccan-broken.csv"),
        "--institution",
        "deccan",
        "--rejects",
        str(target),
    )
    assert len(target.read_text().splitlines()) == 7
    stale = files / "midwest-utf8-bom.rejects.csv"
    stale.write_text("line,field,value,reason\n2,phone,x,is not a phone number\n")
    imported(office, str(files / "midwest-utf8-bom.csv"), "--institution", "midwest")
    assert not stale.exists()


@pytest.mark.parametrize(
    ("rejects_at", "message"),
    [
        ("hx-columns.toml", "exists and is not a rejects file"),
        ("deccan-broken.csv", "is the file being imported"),
        ("nodir/bad.csv", "folder"),
    ],
)
def test_rejects_never_clobber_other_files(
    office: Run, files: Path, target: str, rejects_at: str, message: str
) -> None:
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    result = office(
        "import",
        str(files / "deccan-broken.csv"),
        "--institution",
        "deccan",
        "--rejects",
        str(files / rejects_at),
        *AT,
        as_="chen.wei",
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()} == before
    assert not [c for c in cases(target) if c["institution"] == "deccan"]


def test_utf8_file_read_as_gb18030_is_refused(office: Run, files: Path, tmp_path: Path) -> None:
    plain = tmp_path / "nobom.csv"
    plain.write_bytes((files / "midwest-utf8-bom.csv").read_bytes().removeprefix(b"\xef\xbb\xbf"))
    for path in (plain, files / "midwest-utf8-bom.csv"):
        result = office(
            "import", str(path), "--institution", "mw", "--encoding", "gb18030", *AT, as_="chen.wei"
        )
        assert result.exit_code == 2
        assert "is UTF-8 text, not gb18030" in result.stderr


def test_mapping_defaults_fill_empty_cells(office: Run, tmp_path: Path, target: str) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[defaults]\njurisdiction = "US-NY"\n')
    path = tmp_path / "empty.csv"
    path.write_text(
        "reference,borrower_name,currency,principal,overdue_amount,days_past_due,timezone,"
        "jurisdiction,phone\nE-1,A,USD,10,5,40,America/New_York,,(212) 555-0142\n"
    )
    imported(office, str(path), "--institution", "e", "--mapping", str(mapping))
    row = next(r for r in cases(target) if r["institution"] == "e")
    assert (row["jurisdiction"], row["phone"]) == ("US-NY", "+12125550142")


def test_same_file_twice_changes_nothing(office: Run, files: Path, target: str) -> None:
    args = (str(files / "deccan-broken.csv"), "--institution", "deccan")
    imported(office, *args)
    before = snapshot(target)
    summary = imported(office, *args)
    assert (summary["imported"], summary["updated"], summary["unchanged"]) == (0, 0, 2)
    assert snapshot(target) == before


def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The references of the rows an import validates from now on (in this process)."""
    from fieldcase.importing import RowValidator

    seen: list[str] = []
    validate = RowValidator.validate

    def counted(self: RowValidator, row: dict[str, Any]) -> Any:
        seen.append(str(row.get("reference")))
        return validate(self, row)

    monkeypatch.setattr(RowValidator, "validate", counted)
    return seen


def test_an_unchanged_row_is_known_by_its_fingerprint(
    office: Run, tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "daily.csv"
    header = "reference,borrower_name,principal,overdue_amount,overdue_since,days_past_due,address"
    rows = [f"F-{i},借款人{i},5000,1200,2026-10-0{1 + i},,上海市长宁路{i}号" for i in range(4)]
    rows.append("F-9,借款人9,5000,1200,,40,上海市长宁路9号")  # due date from days past due
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    assert imported(office, str(path), "--institution", "hx")["imported"] == 5
    before = snapshot(target)
    seen = validations(monkeypatch)
    again = imported(office, str(path), "--institution", "hx")
    assert (again["unchanged"], again["updated"], again["rejected"]) == (5, 0, 0)
    assert seen == []  # nothing validated nor compared: each row's fingerprint matched
    assert snapshot(target) == before
    # A case changed since its import is compared again, and the file still wins.
    details = office("details", "hx/F-1", "--address", "上海市新华路1号", *AT, as_="chen.wei")
    assert details.exit_code == 0, details.output
    again = imported(office, str(path), "--institution", "hx")
    assert (again["unchanged"], again["updated"]) == (4, 1)
    assert seen == ["F-1"]
    # A changed row is validated and updates its case.
    path.write_text(path.read_text(encoding="utf-8").replace("长宁路2号", "长宁路22号"), "utf-8")
    seen.clear()
    again = imported(office, str(path), "--institution", "hx")
    assert (again["unchanged"], again["updated"], seen) == (4, 1, ["F-2"])
    # A day later, days past due mean another due date: that row is judged again.
    seen.clear()
    later = office("import", str(path), "--institution", "hx", "--json",
                   "--at", "2026-11-24T09:00+08:00", as_="chen.wei")  # fmt: skip
    assert later.exit_code == 0, later.output
    assert (json.loads(later.stdout)["updated"], seen) == (1, ["F-9"])


def test_a_file_read_in_a_second_process_imports_as_one_read_here(
    office: Run, tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldcase import import_pipeline

    if not import_pipeline.can_fork():
        pytest.skip("needs fork and two cores")
    header = "reference,borrower_name,principal,overdue_amount,overdue_since,address,phone"
    rows = [f"P-{i},借款人{i},5000,{100 + i},2026-10-01,上海市长宁路{i}号,+86 139{i:08d}"
            for i in range(40)]  # fmt: skip
    rows[7] = "P-7,借款人7,5000,abc,2026-10-01,上海市长宁路7号,+86 13900000007"  # bad amount
    rows[23] = "P-3,again,5000,1,2026-10-01,上海市,+86 13900000003"  # a reference again
    rows[31] = "P-31,借款人31,5000,9,2026-10-01,上海市,12"  # a bad phone
    for name in ("here", "child"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.csv").write_text("\n".join([header, *rows]) + "\n", "utf-8")

    def run(name: str, institution: str) -> dict[str, Any]:
        args = (str(tmp_path / name / "p.csv"), "--institution", institution, "--batch-size", "6")
        return imported(office, *args)

    here = run("here", "hx")
    monkeypatch.setattr(import_pipeline, "PARALLEL_ROWS", 0)
    child = run("child", "jl")
    assert (child["imported"], child["rejected"]) == (here["imported"], here["rejected"]) == (37, 3)
    rejects = {
        name: (tmp_path / name / "p.rejects.csv").read_text().splitlines()[1:]
        for name in ("here", "child")
    }
    assert rejects["child"] == rejects["here"] and len(rejects["here"]) == 3

    def stored(institution: str) -> list[tuple[Any, ...]]:
        columns = "reference, borrower_name, address, phone, overdue_minor, eligible, version"
        sql = f"SELECT {columns} FROM cases WHERE institution = ? ORDER BY id"
        return [tuple(r) for r in query(target, sql, [institution])]

    assert stored("jl") == stored("hx") and len(stored("hx")) == 37
    # Again, from the second process: every row known by its fingerprint.
    again = imported(office, str(tmp_path / "child" / "p.csv"), "--institution", "jl")
    assert (again["unchanged"], again["rejected"], again["updated"]) == (37, 3, 0)


def test_changed_row_updates_the_case_with_an_event(office: Run, files: Path, target: str) -> None:
    path = files / "midwest-utf8-bom.csv"
    imported(office, str(path), "--institution", "midwest")
    path.write_bytes(path.read_bytes().replace(b"1200.00", b"1350.00"))
    result = office(
        "import",
        str(path),
        "--institution",
        "midwest",
        "--json",
        "--at",
        "2026-11-24T09:00+08:00",
        as_="chen.wei",
    )
    summary = json.loads(result.stdout)
    assert (summary["updated"], summary["unchanged"]) == (1, 1)
    case = next(r for r in cases(target) if r["reference"] == "MW-1")
    assert case["overdue_minor"] == 135000
    assert case["version"] == 2
    last = events(target, case["id"])[-1]
    assert last["type"] == "case_updated"
    data = json.loads(last["payload"])["data"]
    assert data["changes"] == {"overdue": ["1200.00", "1350.00"]}
    assert data["line"] == 2


def found(office: Run, text: str) -> list[str]:
    result = office("cases", "--search", text, "--institution", "hx", "--limit", "500", "--json",
                    *AT, as_="chen.wei")  # fmt: skip
    assert result.exit_code == 0, result.output
    return sorted(case["case"].removeprefix("hx/") for case in json.loads(result.stdout))


def test_a_large_batch_keeps_the_search_index_in_step(
    office: Run, tmp_path: Path, target: str
) -> None:
    # Batches this large reach the tables through one INSERT ... SELECT each (the
    # search index then writes once): new cases and changed ones are found by
    # their new text, and no longer by their old.
    path = tmp_path / "many.csv"

    def write(street: str) -> None:
        rows = [f"H-{i:03d},借款人{i},5000,1200,2026-10-01,上海市{street}{i}号" for i in range(150)]
        header = "reference,borrower_name,principal,overdue_amount,overdue_since,address"
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    write("长宁路")
    first = imported(office, str(path), "--institution", "hx", "--batch-size", "100")
    assert (first["imported"], first["rejected"]) == (150, 0)
    assert len(found(office, "长宁路")) == 150
    assert found(office, "长宁路77号") == ["H-077"]
    write("淮海路")
    again = imported(office, str(path), "--institution", "hx")
    assert (again["updated"], again["unchanged"]) == (150, 0)
    assert found(office, "长宁路") == []
    assert found(office, "淮海路149号") == ["H-149"]
    assert [r["address"] for r in query(target, "SELECT address FROM cases WHERE reference = ?",
                                        ["H-005"])] == ["上海市淮海路5号"]  # fmt: skip
    assert len([e for e in events(target) if e["type"] == "case_updated"]) == 150


def test_duplicate_reference_in_one_file_is_rejected(office: Run, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "reference,borrower_name,currency,principal,overdue_amount,days_past_due,timezone\n"
        "D-1,A,USD,10,5,40,America/New_York\n"
        "D-1,B,USD,10,5,40,America/New_York\n"
    )
    summary = imported(office, str(path), "--institution", "dup", "--batch-size", "1")
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    rejects = (tmp_path / "dup.rejects.csv").read_text().splitlines()
    assert rejects[1] == "3,reference,D-1,appears again: the file already has it on line 2"
    # Running it again is still idempotent.
    again = imported(office, str(path), "--institution", "dup")
    assert (again["unchanged"], again["rejected"]) == (1, 1)


def test_days_past_due_column_and_eligibility(office: Run, tmp_path: Path, target: str) -> None:
    path = tmp_path / "dpd.jsonl"
    path.write_text(
        '{"reference": "J-1", "borrower_name": "A", "currency": "USD", "principal": "10",'
        ' "overdue_amount": "5", "days_past_due": 40, "timezone": "America/New_York"}\n'
        '{"reference": "J-2", "borrower_name": "B", "currency": "USD", "principal": "10",'
        ' "overdue_amount": "5", "days_past_due": 0, "timezone": "America/New_York"}\n'
        "not json\n"
    )
    summary = imported(office, str(path), "--institution", "jl")
    assert (summary["imported"], summary["ineligible"], summary["rejected"]) == (2, 1, 1)
    rows = {r["reference"]: r for r in cases(target) if r["institution"] == "jl"}
    # 09:00 in Shanghai is 20:00 the day before in New York.
    assert rows["J-1"]["overdue_since"] == "2026-10-13"
    assert rows["J-2"]["eligible"] == 0
    assert "rule default.eligibility" in rows["J-2"]["eligibility_note"]


def test_file_whose_columns_do_not_map_is_refused_whole(
    office: Run, files: Path, target: str
) -> None:
    before = snapshot(target)
    result = office(
        "import",
        str(files / "hx-gb18030.csv"),
        "--institution",
        "hx",
        "--encoding",
        "gb18030",
        *AT,
        as_="chen.wei",
    )
    assert result.exit_code == 2
    assert "no column for reference" in result.stderr
    assert "--mapping" in result.stderr
    assert snapshot(target) == before


def test_map_import_row_hook(office: Run, tmp_path: Path, target: str) -> None:
    class Acme:
        @hookimpl
        def map_import_row(self, institution: str, row: dict[str, str]) -> dict[str, Any] | None:
            if institution != "acme":
                return None
            first, last = row["Name"].split("|")
            return {
                "reference": row["Acct"],
                "borrower_name": f"{first} {last}",
                "currency": "GBP",
                "principal": row["Bal"],
                "overdue_amount": row["Arr"],
                "days_past_due": row["DPD"],
                "timezone": "Europe/London",
            }

    path = tmp_path / "acme.csv"
    path.write_text("Acct,Name,Bal,Arr,DPD\nA-9,Ann|Hughes,1000.00,99.99,35\n")
    manager().register(Acme(), name="acme")
    try:
        summary = imported(office, str(path), "--institution", "acme")
    finally:
        manager().unregister(name="acme")
    assert summary["imported"] == 1
    row = next(r for r in cases(target) if r["institution"] == "acme")
    assert (row["borrower_name"], row["currency"], row["overdue_minor"]) == (
        "Ann Hughes",
        "GBP",
        9999,
    )


def test_only_supervisors_import(office: Run, files: Path, target: str) -> None:
    result = office(
        "import", str(files / "deccan-broken.csv"), "--institution", "deccan", *AT, as_="li.na"
    )
    assert result.exit_code == 1
    assert "only a supervisor may import" in result.stderr
    assert events(target)[-1]["type"] == "refused"


def test_no_progress_bar_when_piped(office: Run, files: Path) -> None:
    result = office(
        "import", str(files / "midwest-utf8-bom.csv"), "--institution", "mw", *AT, as_="chen.wei"
    )
    assert result.exit_code == 0
    assert "Importing" not in result.output


def write_portfolio(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "reference",
                "borrower_name",
                "currency",
                "principal",
                "overdue_amount",
                "days_past_due",
                "timezone",
                "jurisdiction",
                "phone",
            ]
        )
        for i in range(rows):
            out.writerow(
                [
                    f"K-{i:06d}",
                    f"借款人{i}",
                    "CNY",
                    f"{1000 + i}.00",
                    f"{100 + i % 97}.50",
                    30 + i % 300,
                    "Asia/Shanghai",
                    "CN",
                    f"+86 138{i:08d}",
                ]
            )


def count(target: str, sql: str, params: list[Any] | None = None) -> int:
    return int(query(target, sql, params)[0][0])


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_import_leaves_whole_cases_and_resumes(
    office: Run, tmp_path: Path, target: str, store_kind: str, request: pytest.FixtureRequest
) -> None:
    total = 6000
    path = tmp_path / "portfolio.csv"
    write_portfolio(path, total)
    if store_kind == "postgresql":  # chen.wei logs in as herself
        pg_office: PgOffice = request.getfixturevalue("pg_office")
        acting = ["--db", pg_office.url("chen.wei")]
    else:
        acting = ["--db", target, "--as", "chen.wei"]
    command = [
        sys.executable,
        "-m",
        "fieldcase",
        *acting,
        "import",
        str(path),
        "--institution",
        "kill",
        "--batch-size",
        "100",
        *AT,
    ]
    in_kill = "SELECT count(*) FROM cases WHERE institution = 'kill'"
    env = {**os.environ, "FIELDCASE_LOAD_PLUGINS": ""}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if count(target, in_kill) >= 500:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = count(target, in_kill)
    store = Store(target)
    try:
        assert store.integrity() == "ok"
    finally:
        store.close()
    assert 0 < partial < total, "the import was not caught half way; the test proves nothing"
    # Whole batches only: every case has its event; the chain and replay hold.
    assert partial % 100 == 0
    verify = office("audit", "verify", "--replay")
    assert verify.exit_code == 0, verify.output
    summary = imported(office, str(path), "--institution", "kill")
    assert summary["unchanged"] == partial
    assert summary["imported"] == total - partial
    from_file = "SELECT count(*) FROM events WHERE type = 'case_imported' AND payload LIKE ?"
    assert count(target, from_file, ["%portfolio.csv%"]) == total


def test_bulk_rows_have_the_columns_of_a_created_case(
    office: Run, files: Path, target: str
) -> None:
    imported(office, str(files / "midwest-utf8-bom.csv"), "--institution", "midwest")
    rows = cases(target)
    created, bulk = rows[0], rows[-1]
    assert created["reference"] == "L-1001" and bulk["reference"] == "MW-2"
    # The events carry rows of the same shape, so replay treats both alike.
    by_type = {
        e["type"]: json.loads(e["payload"])["rows"][0]["row"]
        for e in events(target)
        if e["type"] in ("case_created", "case_imported")
    }
    assert list(by_type["case_created"]) == list(by_type["case_imported"])
    assert {k: type(v) for k, v in by_type["case_created"].items() if k != "assigned_to"} == {
        k: type(v) for k, v in by_type["case_imported"].items() if k != "assigned_to"
    }
    assert bulk["phone_masked"] == "+1******0199"
    assert bulk["national_id_masked"] == "*******4321"


def test_masked_copies_are_filled_for_existing_cases_by_the_migration(tmp_path: Path) -> None:
    from fieldcase.migrations import migrations
    from fieldcase.store import Store
    from sqlite_utils import Database

    store = Store(tmp_path / "old.db")
    migrations.apply(Database(store.db.conn), stop_before="003_masked_personal_data")
    store.db.execute(
        "INSERT INTO cases (id, institution, reference, borrower_name, national_id, phone,"
        " stage, currency, version) VALUES (1, 'x', 'r', 'n', '310101199001011234',"
        " '+8613800138000', 'confirmation', 'CNY', 1)"
    )
    store.db.conn.commit()
    store.migrate()
    row = store.table_rows("cases")[0]
    assert (row["national_id_masked"], row["phone_masked"]) == (
        "**************1234",
        "+86*******8000",
    )
    store.close()


def test_interest_fees_and_penalty_rate_columns(office: Run, tmp_path: Path, target: str) -> None:
    path = tmp_path / "money.csv"
    path.write_text(
        "reference,borrower_name,currency,principal,overdue_amount,overdue_since,timezone,"
        "accrued_interest,fees,penalty_rate\n"
        "M-1,A,USD,1000,100,2026-10-01,America/New_York,12.50,25,18%\n"
        'M-2,B,USD,1000,100,2026-10-01,America/New_York,"12,5",0,0.18\n'
        "M-3,C,USD,1000,100,2026-10-01,America/New_York,1,0,lots\n"
    )
    summary = imported(office, str(path), "--institution", "m")
    assert (summary["imported"], summary["rejected"]) == (1, 2)
    row = next(r for r in cases(target) if r["reference"] == "M-1")
    assert (row["interest_minor"], row["fees_minor"], row["penalty_rate"]) == (1250, 2500, "0.18")
    with (tmp_path / "money.rejects.csv").open(newline="") as handle:
        rejects = list(csv.reader(handle))[1:]
    assert rejects[0][:3] == ["3", "accrued_interest", "12,5"]
    assert rejects[0][3].startswith("is ambiguous; write it with a decimal point")
    assert rejects[1] == ["4", "penalty_rate", "lots", "is not a number; e.g. 0.18 or 18%"]
