"""Offline field packs: a day's work done on a pack, synced, equals the same work online."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import AT, Run, events, query, snapshot
from fieldcase.store import Store
from fieldcase.testing import invoke

#: The day's work on case 1, as li.na types it: online, or on her pack.
DAY = [
    ("contact", "1", "--channel", "phone", "--target", "borrower", "--outcome", "no-answer",
     "--at", "2026-11-24T09:10+08:00"),
    ("contact", "1", "--channel", "phone", "--target", "borrower", "--outcome", "reached",
     "--note", "will be home Wednesday morning", "--at", "2026-11-24T09:40+08:00"),
    ("confirm", "1", "--address", "上海市浦东新区世纪大道100号3楼", "--at",
     "2026-11-24T09:45+08:00"),
    ("plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", "--with", "zhang.min",
     "--at", "2026-11-24T10:00+08:00"),
    ("checklist", "1", "--all", "--at", "2026-11-24T10:05+08:00"),
    ("checkin", "1", "--lat", "31.230416", "--lon", "121.473701", "--accuracy", "15",
     "--at", "2026-11-25T10:05+08:00"),
    ("interview", "1", "--met", "borrower", "--reason", "medical", "--employment", "employed",
     "--income", "8000", "--other-debts", "1200", "--attitude", "cooperative",
     "--note", "hospital bills in October", "--at", "2026-11-25T10:30+08:00"),
    ("offers", "1", "--at", "2026-11-25T10:40+08:00"),
    ("accept", "1", "installment-6", "--at", "2026-11-25T10:45+08:00"),
    ("promise", "1", "--amount", "500", "--date", "2026-11-30", "--at", "2026-11-25T10:50+08:00"),
    ("feedback", "1", "--recommend", "restructure", "--summary",
     "Medical bills; agreed to six instalments", "--at", "2026-11-25T18:00+08:00"),
]  # fmt: skip

#: Tables a sync writes that online work does not: which pack actions came in.
SYNC_TABLES = ("synced_actions", "sync_conflicts")


def pack(run: Run, out: Path, *cases: str, as_: str = "li.na", staff: str = "li.na") -> Any:
    picked = [arg for case in cases for arg in ("--case", case)]
    return run("pack", "--staff", staff, *picked, "-o", str(out), *AT, as_=as_)


def on_pack(path: Path, *args: str, as_: str = "li.na") -> Any:
    return invoke("--db", path, "--as", as_, *args)


def state(target: Path) -> dict[str, list[tuple[Any, ...]]]:
    tables = snapshot(target)
    del tables["events"]
    for table in SYNC_TABLES:
        del tables[table]
    return tables


def test_a_days_work_on_a_pack_syncs_and_equals_the_same_work_done_online(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    online = tmp_path / "online.db"
    shutil.copyfile(db_path, online)
    made = pack(office, tmp_path / "li.na.fcpack", "1")
    assert made.exit_code == 0, made.output
    path = tmp_path / "li.na.fcpack"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for step in DAY:
        done = on_pack(path, *step)
        assert done.exit_code == 0, (step, done.output)
        there = invoke("--db", online, "--as", "li.na", *step)
        assert there.exit_code == 0, (step, there.output)
    # The pack is a fieldcase database of its own: its log verifies, its case shows.
    assert on_pack(path, "audit", "verify").exit_code == 0
    assert "feedback" in on_pack(path, "show", "1").output

    synced = office("sync", str(path), *AT, as_="li.na")
    assert synced.exit_code == 0, synced.output
    assert f"{len(DAY)} actions; {len(DAY)} taken in" in synced.output

    assert state(db_path) == state(online)
    ours = office("report", "staff", "--format", "csv", as_="chen.wei")
    theirs = invoke("--db", online, "--as", "chen.wei", "report", "staff", "--format", "csv")
    assert ours.exit_code == 0 and ours.output == theirs.output
    export = ("export", "visits", "--format", "csv", "-o")
    assert office(*export, str(tmp_path / "ours.csv"), *AT, as_="chen.wei").exit_code == 0
    assert (
        invoke("--db", online, "--as", "chen.wei", *export, tmp_path / "theirs.csv", *AT).exit_code
        == 0
    )
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "theirs.csv").read_text()
    assert "Medical bills" in (tmp_path / "ours.csv").read_text()
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output
    # Each action came in as li.na's at the time she gave, naming the pack it came from.
    came = [e for e in events(db_path, 1) if '"pack_action"' in e["payload"]]
    assert len(came) == len(DAY)
    assert {e["actor"] for e in came} == {"li.na"}
    assert came[0]["at"] == "2026-11-24T01:10:00Z"

    again = office("sync", str(path), *AT, as_="li.na")
    assert again.exit_code == 0, again.output
    assert f"{len(DAY)} taken in before" in again.output
    assert state(db_path) == state(online)


def test_a_pack_holds_only_its_cases_and_takes_only_field_actions(
    office: Run, tmp_path: Path
) -> None:
    other = office(
        "create", "--institution", "hx-consumer", "--reference", "L-1002", "--name", "赵六",
        "--timezone", "Asia/Shanghai", "--currency", "CNY", "--principal", "9000",
        "--overdue", "900", "--overdue-since", "2026-09-01", "--jurisdiction", "CN",
        "--phone", "+86 139 0000 1111", "--address", "上海市徐汇区漕溪北路1号",
        "--assign", "zhang.min", *AT, as_="chen.wei",
    )  # fmt: skip
    assert other.exit_code == 0, other.output
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT id FROM cases").fetchall() == [(1,)]
        assert conn.execute(
            "SELECT DISTINCT case_id FROM events WHERE case_id IS NOT NULL"
        ).fetchall() == [(1,)]
        text = b"".join(row[0].encode() for row in conn.execute("SELECT payload FROM events"))
    finally:
        conn.close()
    assert "赵六".encode() not in text and "漕溪北路".encode() not in text

    assign = on_pack(path, "assign", "1", "--to", "zhang.min", *AT, as_="chen.wei")
    assert assign.exit_code == 1
    assert "records field actions only" in assign.output
    as_other = on_pack(path, "contact", "1", "--channel", "phone", "--target", "borrower",
                       "--outcome", "reached", *AT, as_="zhang.min")  # fmt: skip
    assert as_other.exit_code == 1
    assert "this pack is li.na's" in as_other.output
    assert [e["type"] for e in events(path, 1)][-1] == "case_created"

    refused = pack(office, tmp_path / "z.fcpack", "2", as_="li.na", staff="zhang.min")
    assert refused.exit_code == 1
    assert "only zhang.min or a supervisor" in refused.output
    not_hers = pack(office, tmp_path / "x.fcpack", "2")
    assert not_hers.exit_code == 2
    assert "assigned to zhang.min, not to li.na" in not_hers.output


def test_a_refusal_on_the_pack_is_recorded_at_the_office_and_nothing_else(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    early = on_pack(path, "plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", *AT)
    assert early.exit_code == 1  # the address is not confirmed yet: the stage says no
    before = snapshot(db_path)
    assert office("sync", str(path), *AT, as_="li.na").exit_code == 0
    after = snapshot(db_path)
    assert {t for t in after if after[t] != before[t]} == {"events", "synced_actions"}
    refusal = events(db_path, 1)[-1]
    assert refusal["type"] == "refused" and refusal["actor"] == "li.na"
    assert "stage.plan_visit" in refusal["payload"]


def test_a_pack_of_another_office_or_changed_since_is_refused_whole(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    assert on_pack(path, *DAY[0]).exit_code == 0
    assert on_pack(path, *DAY[1]).exit_code == 0

    elsewhere = tmp_path / "elsewhere.db"
    assert invoke("--db", elsewhere, "init").exit_code == 0
    assert invoke("--db", elsewhere, "staff", "add", "li.na", "--name", "x").exit_code == 0
    foreign = invoke("--db", elsewhere, "--as", "li.na", "sync", str(path), *AT)
    assert foreign.exit_code == 1
    assert "not made by this office" in foreign.output

    tampered = tmp_path / "tampered.fcpack"
    shutil.copyfile(path, tampered)
    conn = sqlite3.connect(tampered)
    try:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        first = conn.execute(
            "SELECT min(id) FROM events WHERE payload LIKE '%\"call\"%'"
        ).fetchone()[0]
        conn.execute(
            "UPDATE events SET payload = replace(payload, 'no-answer', 'reached') WHERE id = ?",
            [first],
        )
        conn.commit()
    finally:
        conn.close()
    before = snapshot(db_path)
    refused = office("sync", str(tampered), *AT, as_="li.na")
    assert refused.exit_code != 0
    assert f"event {first}" in refused.output and "nothing was synced" in refused.output
    assert snapshot(db_path) == before


def test_the_pack_cannot_be_synced_by_someone_else(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    refused = office("sync", str(path), *AT, as_="zhang.min")
    assert refused.exit_code == 1
    assert "li.na or a supervisor syncs it" in refused.output
    last = events(db_path)[-1]
    assert (last["type"], last["actor"]) == ("refused", "zhang.min")
    assert "permission.pack" in last["payload"]


@pytest.mark.parametrize("bad", ["", "not a database"])
def test_sync_of_a_file_that_is_no_pack_is_a_clear_error(
    office: Run, tmp_path: Path, bad: str
) -> None:
    path = tmp_path / "junk.fcpack"
    path.write_text(bad)
    result = office("sync", str(path), *AT, as_="li.na")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "pack" in result.output


def test_a_pack_store_knows_its_manifest(office: Run, tmp_path: Path) -> None:
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    store = Store(path, read_only=True)
    try:
        manifest = store.pack()
        assert manifest is not None
        assert manifest.staff == "li.na"
        assert [c["id"] for c in manifest.manifest["cases"]] == [1]
    finally:
        store.close()
    made = query(str(path), "SELECT count(*) FROM pack_manifest")
    assert made[0][0] == 1


def test_photos_attached_on_the_pack_travel_to_the_office(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    from test_attachments import photo, sha256_of

    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    taken = photo(tmp_path / "door.jpg")
    attached = on_pack(path, "attach", "1", str(taken), "--note", "front door", *AT)
    assert attached.exit_code == 0, attached.output
    synced = office("sync", str(path), *AT, as_="li.na")
    assert synced.exit_code == 0, synced.output
    assert "1 taken in" in synced.output
    out = tmp_path / "back.jpg"
    got = office("attachment", "get", "1", "-o", str(out), as_="li.na")
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == taken.read_bytes()
    rows = query(str(db_path), "SELECT sha256, note, staff FROM attachments")
    assert [tuple(r) for r in rows] == [(sha256_of(taken), "front door", "li.na")]
    verified = office("audit", "verify")
    assert verified.exit_code == 0 and "matches its fingerprint" in verified.output


def test_a_purge_removes_what_the_field_worker_typed_from_a_conflict(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    note = "neighbour says she moved to Suzhou"
    done = on_pack(path, "contact", "1", "--channel", "phone", "--target", "third-party",
                   "--relationship", "relative", "--outcome", "reached", "--note", note,
                   *AT)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert office("assign", "1", "--to", "zhang.min", *AT, as_="chen.wei").exit_code == 0
    assert office("sync", str(path), *AT, as_="li.na").exit_code == 0
    assert note in repr(query(str(db_path), "SELECT field FROM sync_conflicts"))
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    purged = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    assert note not in repr(snapshot(db_path))
    assert [tuple(r) for r in query(str(db_path), "SELECT kind, field FROM sync_conflicts")] == [
        ("reassigned", "[]")
    ]


def test_a_pack_synced_after_the_backdate_limit_is_kept_until_a_supervisor_vouches(
    office: Run, db_path: Path, tmp_path: Path, real_clock: Any
) -> None:
    real_clock("2026-11-24T02:00Z")
    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    assert on_pack(path, *DAY[0]).exit_code == 0  # 24 November, 09:10 in Shanghai
    real_clock("2026-12-05T04:00Z")  # eleven days on: older than backdate_days (7)
    synced = office("sync", str(path), as_="li.na")
    assert synced.exit_code == 0, synced.output
    kept = query(str(db_path), "SELECT id, kind, detail FROM sync_conflicts")
    assert [(r["kind"]) for r in kept] == ["refused"]
    assert "time.backdate" in kept[0]["detail"]
    assert query(str(db_path), "SELECT count(*) FROM contacts")[0][0] == 0
    resolved = office("conflict", "resolve", str(kept[0]["id"]), "--keep-field", as_="chen.wei")
    assert resolved.exit_code == 0, resolved.output
    contacts = query(str(db_path), "SELECT staff, at, outcome FROM contacts")
    assert [tuple(r) for r in contacts] == [("li.na", "2026-11-24T01:10:00Z", "no-answer")]


def test_a_call_with_arguments_no_command_passes_is_refused_whole(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    """A pack written by hand (here through its own services, so that its log still
    verifies) cannot have the office run a service with arguments no command passes."""
    import datetime as dt

    from fieldcase.offline import services_for
    from fieldcase.plugins import manager

    path = tmp_path / "li.na.fcpack"
    assert pack(office, path, "1").exit_code == 0
    field = services_for(Store(path), manager(), clock=None)
    try:
        field.record_payment(
            1,
            actor="li.na",
            at=dt.datetime.fromisoformat("2026-11-24T10:00+08:00"),
            amount="3150.40",
            reference="CASH-1",
            source={"status": "confirmed", "file": "bank.csv"},
        )
    finally:
        field.store.close()
    forged = query(str(path), "SELECT max(id) FROM events")[0][0]
    before = snapshot(db_path)
    refused = office("sync", str(path), *AT, as_="li.na")
    assert refused.exit_code != 0
    assert f"event {forged}" in refused.output and "source" in refused.output
    assert snapshot(db_path) == before
