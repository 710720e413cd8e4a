"""Packs written by hand: whoever holds the file can write any call on it with hashes
that verify. None of it may get the office to do what that person could not do online."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import AT, Run, events, query, snapshot
from fieldcase.store import Store
from fieldcase.testing import invoke

WHEN = "2026-11-24T10:00+08:00"


def make_pack(office: Run, path: Path, *cases: str) -> None:
    picked = [arg for case in cases for arg in ("--case", case)]
    made = office("pack", "--staff", "li.na", *picked, "-o", str(path), *AT, as_="li.na")
    assert made.exit_code == 0, made.output


def forge(path: Path, case_id: int, call: dict[str, Any], event_type: str = "noted") -> int:
    """Append an event carrying ``call`` to the pack, its chain intact; return its id."""
    import datetime as dt

    store = Store(path)
    try:
        with store.carrying(lambda change: ({"call": call}, ())):
            event, _ = store.commit(
                event_type,
                actor="li.na",
                at=dt.datetime.fromisoformat(WHEN),
                records=[],
                data={
                    "action": "purge_case",
                    "reasons": [{"rule": "x", "reason": "chen.wei did it"}],
                }
                if event_type == "refused"
                else {},
                case_id=case_id,
            )
    finally:
        store.close()
    assert event.id is not None
    return event.id


def call(action: str, case: int = 1, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"action": action, "case": case, "at": WHEN, "args": list(args), "kwargs": kwargs}


def second_case(office: Run) -> None:
    made = office(
        "create", "--institution", "hx-consumer", "--reference", "L-1002", "--name", "赵六",
        "--timezone", "Asia/Shanghai", "--currency", "CNY", "--principal", "9000",
        "--overdue", "900", "--overdue-since", "2026-09-01", "--jurisdiction", "CN",
        "--phone", "+86 139 0000 1111", "--address", "上海市徐汇区漕溪北路1号",
        "--assign", "zhang.min", *AT, as_="chen.wei",
    )  # fmt: skip
    assert made.exit_code == 0, made.output


def test_a_forged_attach_cannot_name_its_way_into_another_case_s_file(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    from test_attachments import photo, sha256_of

    second_case(office)
    theirs = photo(tmp_path / "theirs.jpg", colour=(1, 2, 3))
    attached = office("attach", "2", str(theirs), *AT, as_="zhang.min")
    assert attached.exit_code == 0, attached.output
    assert office("attachment", "get", "1", "-o", str(tmp_path / "x"), as_="li.na").exit_code == 1

    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    upload = {"filename": "door.jpg", "sha256": sha256_of(theirs), "size": 1,
              "media_type": "image/jpeg", "taken": None, "lat": None, "lon": None}  # fmt: skip
    forge(path, 1, call("attach", 1, [{"$upload": upload}], kind=None, visit=None, note=""))
    # The office changes the case meanwhile: the attach waits in a conflict.
    contact = ("contact", "1", "--channel", "phone", "--target", "borrower",
               "--outcome", "no-answer", "--at", "2026-11-24T09:00+08:00")  # fmt: skip
    assert office(*contact, as_="chen.wei").exit_code == 0
    assert office("sync", str(path), *AT, as_="li.na").exit_code == 0
    conflict = str(query(str(db_path), "SELECT id FROM sync_conflicts")[0][0])

    for how in (("--keep-field",), ("--keep-field", "--pack", str(path)), ("--merge",)):
        office("conflict", "resolve", conflict, *how, *AT, as_="chen.wei")
    assert query(str(db_path), "SELECT count(*) FROM attachments WHERE case_id = 1")[0][0] == 0
    assert office("attachment", "get", "2", "-o", str(tmp_path / "y"), as_="li.na").exit_code != 0


def test_an_attached_file_is_what_its_bytes_say_not_what_the_pack_says(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    from fieldcase.attachments import Upload
    from fieldcase.offline import services_for
    from fieldcase.plugins import manager

    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    page = b"<html><script>alert(1)</script></html>"
    import datetime as dt
    import hashlib

    lie = Upload(
        filename="door.jpg", sha256=hashlib.sha256(page).hexdigest(), size=len(page),
        media_type="image/jpeg", content=page,
    )  # fmt: skip
    field = services_for(Store(path), manager(), clock=None)
    try:
        field.attach(1, [lie], actor="li.na", at=dt.datetime.fromisoformat(WHEN))
    finally:
        field.store.close()
    synced = office("sync", str(path), *AT, as_="li.na")
    assert synced.exit_code == 0, synced.output
    assert query(str(db_path), "SELECT count(*) FROM attachments")[0][0] == 0
    kept = query(str(db_path), "SELECT kind, detail FROM sync_conflicts")
    assert [r["kind"] for r in kept] == ["refused"]
    assert "default.attachments" in kept[0]["detail"]


def test_text_no_command_would_take_is_not_taken_in(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    forge(path, 1, call("record_contact", 1, channel="phone", target="borrower",
                        outcome="reached", note="paid \u202egnp.exe" + "x" * 5000))  # fmt: skip
    synced = office("sync", str(path), *AT, as_="li.na")
    assert synced.exit_code == 0, synced.output
    assert query(str(db_path), "SELECT count(*) FROM contacts")[0][0] == 0
    kept = query(str(db_path), "SELECT kind, detail FROM sync_conflicts")
    assert [r["kind"] for r in kept] == ["failed"]
    assert "note" in kept[0]["detail"]


def test_a_refusal_written_on_the_pack_is_judged_again_not_copied(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    forge(path, 1, call("record_contact", 1, channel="phone", target="borrower",
                        outcome="reached"), event_type="refused")  # fmt: skip
    synced = office("sync", str(path), *AT, as_="li.na")
    assert synced.exit_code == 0, synced.output
    assert query(str(db_path), "SELECT count(*) FROM contacts")[0][0] == 0  # never done
    refusal = events(db_path, 1)[-1]
    assert refusal["type"] == "refused" and refusal["actor"] == "li.na"
    assert (
        "pack.refused" in refusal["payload"] and "the office's rules allow it" in refusal["payload"]
    )
    assert "chen.wei did it" not in refusal["payload"] and "purge_case" not in refusal["payload"]


def test_an_unreadable_argument_is_kept_and_the_rest_goes_on(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    bad = call("record_promise", 1, amount={"$decimal": "abc"}, due={"$date": "nope"})
    forge(path, 1, bad)
    synced = office("sync", str(path), *AT, as_="li.na")
    assert synced.exit_code == 0, synced.output
    assert "Traceback" not in synced.output
    assert [r["kind"] for r in query(str(db_path), "SELECT kind FROM sync_conflicts")] == ["failed"]


def test_a_call_that_is_no_call_refuses_the_pack_whole(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    forged = forge(path, 1, {**call("record_contact", 1), "at": "yesterday"})
    before = snapshot(db_path)
    refused = office("sync", str(path), *AT, as_="li.na")
    assert refused.exit_code == 2
    assert f"event {forged}" in refused.output and "Traceback" not in refused.output
    assert snapshot(db_path) == before


def test_a_pack_cannot_sync_into_an_office_restored_from_an_older_backup(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.db"
    shutil.copyfile(db_path, backup)
    contact = ("contact", "1", "--channel", "phone", "--target", "borrower", "--outcome")
    assert (
        office(*contact, "no-answer", "--at", "2026-11-24T09:00+08:00", as_="li.na").exit_code == 0
    )
    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    shutil.copyfile(backup, db_path)  # restored: the contact, and the pack's base, are gone
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    away = office(
        "assign", "1", "--to", "zhang.min", "--at", "2026-11-24T09:05+08:00", as_="chen.wei"
    )
    assert away.exit_code == 0
    field = invoke("--db", path, "--as", "li.na", *contact, "reached", "--at", WHEN)
    assert field.exit_code == 0, field.output
    before = snapshot(db_path)
    refused = office("sync", str(path), *AT, as_="li.na")
    assert refused.exit_code == 2
    assert "older backup" in refused.output
    assert snapshot(db_path) == before


def test_pack_never_writes_over_a_database_that_is_not_a_pack(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    before = snapshot(db_path)
    over = office("pack", "--staff", "li.na", "--case", "1", "-o", str(db_path), "--replace",
                  *AT, as_="li.na")  # fmt: skip
    assert over.exit_code == 2
    assert "is the database the pack is made from" in over.output
    assert snapshot(db_path) == before
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    over = office("pack", "--staff", "li.na", "--case", "1", "-o", str(notes), "--replace",
                  *AT, as_="li.na")  # fmt: skip
    assert over.exit_code == 2 and "is not a field pack" in over.output
    assert notes.read_text() == "my notes"
    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    again = office("pack", "--staff", "li.na", "--case", "1", "-o", str(path), "--replace",
                   *AT, as_="li.na")  # fmt: skip
    assert again.exit_code == 0, again.output


def test_careless_pack_options_are_clear_errors(office: Run, tmp_path: Path) -> None:
    far = office("pack", "--staff", "li.na", "--date", "2999-01-01", "-o",
                 str(tmp_path / "x.fcpack"), *AT, as_="li.na")  # fmt: skip
    assert far.exit_code == 2 and "days from today" in far.output
    empty = office("pack", "--staff", "li.na", "--case", "1", "-o", "", *AT, as_="li.na")
    assert empty.exit_code == 2 and "Traceback" not in empty.output
    assert not (tmp_path / "x.fcpack").exists()


def test_a_resolution_takes_files_only_from_that_conflict_s_pack(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    from test_attachments import photo

    path = tmp_path / "li.na.fcpack"
    make_pack(office, path, "1")
    taken = photo(tmp_path / "door.jpg")
    assert invoke("--db", path, "--as", "li.na", "attach", "1", str(taken), *AT).exit_code == 0
    assert office("assign", "1", "--to", "zhang.min", *AT, as_="chen.wei").exit_code == 0
    assert office("sync", str(path), *AT, as_="li.na").exit_code == 0
    conflict = str(query(str(db_path), "SELECT id FROM sync_conflicts")[0][0])
    junk = tmp_path / "empty.fcpack"
    junk.write_bytes(b"")
    for pack in (None, junk):
        args = () if pack is None else ("--pack", str(pack))
        tried = office("conflict", "resolve", conflict, "--keep-field", *args, *AT, as_="chen.wei")
        assert tried.exit_code == 2 and "Traceback" not in tried.output, tried.output
        assert "--pack" in tried.output or "not a field pack" in tried.output
    kept = office("conflict", "resolve", conflict, "--keep-field", "--pack", str(path), *AT,
                  as_="chen.wei")  # fmt: skip
    assert kept.exit_code == 0, kept.output
    rows = query(str(db_path), "SELECT case_id, staff FROM attachments")
    assert [tuple(r) for r in rows] == [(1, "li.na")]
