"""Attachments through the command line: photos and documents kept in the database by
fingerprint, judged by the institution's policy, handed back only to those who may see
them, checked by audit verify, removed by purge."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import (
    AT,
    T0,
    Run,
    create_args,
    events,
    query,
    set_policy,
    snapshot,
    to_interview,
)
from fieldcase.plugins import manager
from fieldcase.services import Services
from fieldcase.store import Store
from fieldcase.store.dialect import is_server_url
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

#: Where the photos are "taken": the Bund, Shanghai, as degrees, minutes and seconds.
BUND = ((31, 1), (13, 1), (4977, 100)), ((121, 1), (28, 1), (2532, 100))
#: The same place in decimal degrees, to six places.
BUND_DEGREES = ("31.230492", "121.473700")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def photo(
    path: Path,
    *,
    taken: str | None = "2026:11:23 10:15:00",
    offset: str | None = "+08:00",
    place: Any = BUND,
    colour: tuple[int, int, int] = (200, 30, 30),
    kind: str = "JPEG",
) -> Path:
    """A small photo with EXIF time (and offset) and GPS place, as a phone writes them."""
    image = Image.new("RGB", (16, 16), colour)
    exif = Image.Exif()
    details = exif.get_ifd(0x8769)  # the Exif IFD
    if taken is not None:
        details[0x9003] = taken  # DateTimeOriginal
    if offset is not None:
        details[0x9011] = offset  # OffsetTimeOriginal
    if place is not None:
        gps = exif.get_ifd(0x8825)
        (lat, lon) = place
        gps[1], gps[2] = "N", tuple(IFDRational(*part) for part in lat)
        gps[3], gps[4] = "E", tuple(IFDRational(*part) for part in lon)
    out = io.BytesIO()
    image.save(out, kind, exif=exif)
    path.write_bytes(out.getvalue())
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def attach(
    office: Run, *args: str, at: str = "2026-11-23T12:00+08:00", as_: str = "li.na"
) -> Result:
    return office("attach", "1", *args, "--at", at, as_=as_)


def blobs(target: str) -> dict[str, bytes]:
    """The stored files, by fingerprint, as the administrator reads them."""
    return {
        row["sha256"]: bytes(row["content"])
        for row in query(target, "SELECT * FROM attachment_blobs")
    }


def replace_blob(target: str, sha256: str, content: bytes) -> None:
    """Swap a stored file's bytes behind fieldcase's back, as someone with SQL access could."""
    if is_server_url(target):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(
                "UPDATE fieldcase.attachment_blobs SET content = %s WHERE sha256 = %s",
                (content, sha256),
            )
        return
    file = sqlite3.connect(target)
    file.execute("UPDATE attachment_blobs SET content = ? WHERE sha256 = ?", (content, sha256))
    file.commit()
    file.close()


def refusals(target: str, case_id: int = 1) -> list[dict[str, Any]]:
    return [
        json.loads(e["payload"])["data"] for e in events(target, case_id) if e["type"] == "refused"
    ]


# -- attaching -----------------------------------------------------------------------------


def test_a_photo_and_a_document_are_kept_with_what_their_bytes_say(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "front-door.jpg")
    slip = tmp_path / "payslip.pdf"
    slip.write_bytes(PDF)
    done = attach(office, str(door), str(slip), "--note", "Shop shuttered since May")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"Case 1: attachment 1 front-door.jpg (photo, image/jpeg, {door.stat().st_size} bytes, "
        f"taken 2026-11-23 10:15 +0800 at {','.join(BUND_DEGREES)}) sha256 {sha256_of(door)}",
        f"Case 1: attachment 2 payslip.pdf (other, application/pdf, {len(PDF)} bytes) "
        f"sha256 {sha256_of(slip)}",
    ]

    rows = query(target, "SELECT * FROM attachments ORDER BY id")
    assert [dict(zip(r.keys(), r, strict=True)) for r in rows] == [
        {
            "id": 1, "case_id": 1, "kind": "photo", "sha256": sha256_of(door),
            "size": door.stat().st_size, "media_type": "image/jpeg",
            "at": "2026-11-23T04:00:00Z", "staff": "li.na", "visit_number": None,
            "filename": "front-door.jpg", "note": "Shop shuttered since May",
            "taken_at": "2026-11-23T02:15:00Z", "lat": BUND_DEGREES[0], "lon": BUND_DEGREES[1],
            "purged_at": None,
        },
        {
            "id": 2, "case_id": 1, "kind": "other", "sha256": sha256_of(slip), "size": len(PDF),
            "media_type": "application/pdf", "at": "2026-11-23T04:00:00Z", "staff": "li.na",
            "visit_number": None, "filename": "payslip.pdf", "note": "Shop shuttered since May",
            "taken_at": None, "lat": None, "lon": None, "purged_at": None,
        },
    ]  # fmt: skip
    assert blobs(target) == {sha256_of(door): door.read_bytes(), sha256_of(slip): PDF}

    # One event per file: its fingerprint, type and EXIF, never its bytes.
    added = [e for e in events(target, 1) if e["type"] == "attachment_added"]
    assert len(added) == 2
    data = json.loads(added[0]["payload"])["data"]
    assert data == {
        "filename": "front-door.jpg", "kind": "photo", "sha256": sha256_of(door),
        "size": door.stat().st_size, "media_type": "image/jpeg", "visit": None,
        "taken_at": "2026-11-23T10:15:00+08:00", "lat": BUND_DEGREES[0],
        "lon": BUND_DEGREES[1], "note": "Shop shuttered since May",
    }  # fmt: skip
    # The name, the note and the place are personal: sealed, so a purge can withhold them.
    sealed = json.loads(added[0]["payload"])["seal"]["fields"]
    assert {tuple(path) for path in sealed} >= {
        ("data", "filename"), ("data", "note"), ("data", "lat"), ("data", "lon"),
    }  # fmt: skip
    assert all(door.read_bytes()[:64].hex() not in e["payload"] for e in added)


def test_show_lists_attachments_masked_for_those_who_may_not_see_them(
    office: Run, tmp_path: Path
) -> None:
    door = photo(tmp_path / "王芳-front-door.jpg")
    assert attach(office, str(door), "--note", "Neighbour says closed since May").exit_code == 0

    mine = office("show", "1", as_="li.na").output
    assert "\nAttachments\n" in mine
    line = next(line for line in mine.splitlines() if "image/jpeg" in line)
    for shown in ("photo", sha256_of(door)[:12], "2026-11-23 10:15 +0800", "31.230492,121.473700",
                  "王芳-front-door.jpg", "Neighbour says"):  # fmt: skip
        assert shown in line, shown

    theirs = office("show", "1", as_="zhang.min").output
    line = next(line for line in theirs.splitlines() if "image/jpeg" in line)
    assert "[masked]" in line and "王芳" not in line and "31.23" not in line
    assert sha256_of(door)[:12] in line and "2026-11-23 10:15 +0800" in line

    (seen,) = json.loads(office("show", "1", "--json", as_="li.na").output)["attachments"]
    assert (seen["filename"], seen["lat"], seen["lon"]) == ("王芳-front-door.jpg", *BUND_DEGREES)
    (masked,) = json.loads(office("show", "1", "--json", as_="zhang.min").output)["attachments"]
    assert (masked["filename"], masked["note"], masked["lat"], masked["lon"]) == (
        "[masked]", "[masked]", None, None,
    )  # fmt: skip
    assert masked["sha256"] == sha256_of(door) and masked["kind"] == "photo"
    listed = json.loads(office("attachment", "list", "1", "--json", as_="zhang.min").output)
    assert listed["masked"] is True and listed["attachments"] == [masked]
    history = office("history", "1", "--json", as_="zhang.min").output
    assert "王芳-front-door" not in history and "31.230492" not in history


def test_the_same_bytes_are_kept_once(office: Run, target: str, tmp_path: Path) -> None:
    door = photo(tmp_path / "door.jpg")
    created = office(*create_args("L-1002"), "--assign", "li.na", "--at", T0, as_="chen.wei")
    assert created.exit_code == 0, created.output
    assert attach(office, str(door)).exit_code == 0
    again = office("attach", "2", str(door), "--kind", "other", *AT, as_="li.na")
    assert again.exit_code == 0, again.output
    assert len(query(target, "SELECT id FROM attachments")) == 2
    assert list(blobs(target)) == [sha256_of(door)]


def test_a_photo_without_an_offset_was_taken_in_the_borrowers_time(
    office: Run, target: str, tmp_path: Path
) -> None:
    bare = photo(tmp_path / "bare.jpg", offset=None, place=None)
    plain = photo(tmp_path / "plain.png", taken=None, place=None, kind="PNG")
    done = attach(office, str(bare), str(plain))
    assert done.exit_code == 0, done.output
    rows = query(target, "SELECT media_type, taken_at, lat, lon FROM attachments ORDER BY id")
    # 10:15 in Asia/Shanghai, the borrower's zone, is 02:15 UTC.
    assert [tuple(r) for r in rows] == [
        ("image/jpeg", "2026-11-23T02:15:00Z", None, None),
        ("image/png", None, None, None),
    ]


def test_a_photo_whose_exif_time_cannot_be_a_utc_time_is_kept_without_one(
    office: Run, target: str, tmp_path: Path
) -> None:
    # Camera clocks left at year 1 or 9999: the photo is evidence still, its time unknown.
    early = photo(tmp_path / "early.jpg", taken="0001:01:01 00:00:00", offset="+12:00")
    bare = photo(tmp_path / "bare.jpg", taken="0001:01:01 00:00:00", offset=None, colour=(1, 2, 3))
    late = photo(
        tmp_path / "late.jpg", taken="9999:12:31 23:59:59", offset="-12:00", colour=(4, 5, 6)
    )
    done = attach(office, str(early), str(bare), str(late))
    assert done.exit_code == 0, done.output
    rows = query(target, "SELECT taken_at, lat FROM attachments ORDER BY id")
    assert [tuple(r) for r in rows] == [(None, "31.230492")] * 3


def test_a_pipe_or_a_device_is_refused_not_read_forever(
    office: Run, target: str, tmp_path: Path
) -> None:
    pipe = tmp_path / "photo.jpg"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer that never comes

    def hung(signum: int, frame: Any) -> None:
        raise TimeoutError("attach is still reading")

    before = snapshot(target)
    previous = signal.signal(signal.SIGALRM, hung)
    # After 20 s, and every second on: a hung read fails the test, never hangs it.
    signal.setitimer(signal.ITIMER_REAL, 20, 1)
    try:
        refused = [attach(office, str(pipe)), attach(office, "/dev/zero")]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    for result, name in zip(refused, (str(pipe), "/dev/zero"), strict=True):
        assert result.exit_code == 2, result.output
        assert f"{name} is not a regular file" in result.output
    assert snapshot(target) == before


def test_the_visit_is_one_of_the_cases(office: Run, target: str, tmp_path: Path) -> None:
    door = photo(tmp_path / "door.jpg")
    before = snapshot(target)
    none_yet = attach(office, str(door), "--visit", "1")
    assert (
        none_yet.exit_code == 2 and "case 1 has no visit 1 (none is planned yet)" in none_yet.output
    )
    assert snapshot(target) == before
    to_interview(office)
    on_it = attach(office, str(door), "--visit", "1", "--kind", "photo")
    assert on_it.exit_code == 0, on_it.output
    (row,) = query(target, "SELECT visit_number FROM attachments")
    assert row[0] == 1
    wrong = attach(office, str(door), "--visit", "2")
    assert wrong.exit_code == 2 and "(its visits: 1)" in wrong.output
    assert attach(office, str(door), "--kind", "selfie").exit_code == 2


# -- what may be attached: the institution's policy ------------------------------------------


def test_the_type_is_told_from_the_bytes_not_the_name(
    office: Run, target: str, tmp_path: Path
) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_text("#!/bin/sh\nrm -rf /\n")
    before = snapshot(target)
    refused = attach(office, str(fake))
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "Refused: photo.jpg: the file's bytes are of no type fieldcase recognises, not one of "
        "the types that may be attached (image/jpeg, image/png, image/heic, image/webp, "
        "application/pdf; policy attachment_types)"
    )
    assert "(rule default.attachments); nothing was attached" in refused.stderr
    # A refused file writes nothing but its refusal event.
    after = snapshot(target)
    assert {t: r for t, r in after.items() if t != "events"} == {
        t: r for t, r in before.items() if t != "events"
    }
    assert [e["type"] for e in events(target)][len(before["events"]) :] == ["refused"]
    assert blobs(target) == {}
    (refusal,) = refusals(target)
    assert refusal["action"] == "attach"
    assert refusal["attempted"]["sha256"] == sha256_of(fake)
    assert refusal["attempted"]["media_type"] == ""
    # The reasons name no file: its name is personal, and sealed in what was attempted.
    assert "photo.jpg" not in json.dumps(refusal["reasons"])

    # A PNG is a PNG whatever it is called.
    png = photo(tmp_path / "scan.pdf", place=None, kind="PNG")
    kept = attach(office, str(png))
    assert kept.exit_code == 0, kept.output
    assert "(photo, image/png," in kept.output


def test_a_refused_file_among_several_attaches_none(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "door.jpg")
    notes = tmp_path / "notes.txt"
    notes.write_text("plain text")
    meter = photo(tmp_path / "meter.jpg", colour=(10, 10, 200))
    before = snapshot(target)
    refused = attach(office, str(door), str(notes), str(meter))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Refused: notes.txt: ")
    assert "none of the 3 files was attached: attach the others again without it" in (
        refused.stderr
    )
    after = snapshot(target)
    assert after["attachments"] == before["attachments"] == []
    assert after["cases"] == before["cases"]
    assert [e["type"] for e in events(target)][len(before["events"]) :] == ["refused"]
    assert blobs(target) == {}


def test_size_and_types_are_the_institutions_policy(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "door.jpg")
    size = door.stat().st_size
    set_policy(office, "hx-consumer", f"attachment_max_bytes={size - 1}")
    big = attach(office, str(door))
    assert big.exit_code == 1
    assert f"door.jpg: the file is {size} bytes; at most {size - 1} bytes may be attached" in (
        big.stderr
    )
    assert "(policy attachment_max_bytes)" in big.stderr
    set_policy(
        office, "hx-consumer", "attachment_max_bytes=20MB", "attachment_types=image/png",
        at="2026-11-01T10:00+08:00",
    )  # fmt: skip
    jpeg = attach(office, str(door))
    assert jpeg.exit_code == 1
    assert "the file's bytes are image/jpeg, not one of the types that may be attached " in (
        jpeg.stderr
    )
    assert "(image/png; policy attachment_types)" in jpeg.stderr
    assert [r["reasons"][0]["rule"] for r in refusals(target)] == ["default.attachments"] * 2
    assert query(target, "SELECT id FROM attachments") == []

    keys = json.loads(office("institution", "show", "hx-consumer", "--json").output)["policy"]
    assert (keys["attachment_max_bytes"], keys["attachment_types"]) == (20_000_000, ["image/png"])
    for bad in (
        "attachment_types=image/jpg",
        "attachment_max_bytes=0",
        "attachment_max_bytes=201MB",
        "attachment_max_bytes=1.5B",
    ):
        wrong = office(
            "institution", "policy", "hx-consumer", "--set", bad,
            "--at", "2026-11-01T11:00+08:00", as_="chen.wei",
        )  # fmt: skip
        assert wrong.exit_code == 2, (bad, wrong.output)
    typo = office(
        "institution", "policy", "hx-consumer", "--set", "attachment_types=image/jpg",
        "--at", "2026-11-01T11:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert "did you mean image/jpeg?" in typo.output


# -- who may attach, and when --------------------------------------------------------------


def test_staff_working_the_case_attach_others_are_refused(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "door.jpg")
    not_hers = attach(office, str(door), as_="zhang.min")
    assert not_hers.exit_code == 1
    assert "case 1 is assigned to li.na, not to you (zhang.min)" in not_hers.stderr
    assert "(rule permission.assigned)" in not_hers.stderr
    assert blobs(target) == {}
    # Visiting staff work the case too; so do supervisors.
    assert office("confirm", "1", "--address", "x", *AT, as_="li.na").exit_code == 0
    planned = office(
        "plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00", "--with", "zhang.min",
        *AT, as_="li.na",
    )  # fmt: skip
    assert planned.exit_code == 0, planned.output
    assert attach(office, str(door), "--visit", "1", as_="zhang.min").exit_code == 0
    assert attach(office, str(door), "--kind", "agreement", as_="chen.wei").exit_code == 0
    # A closed case takes no more files until it is reopened.
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    closed = attach(office, str(door))
    assert closed.exit_code == 1 and "cannot attach files to case 1: it is in stage closed" in (
        closed.stderr
    )


def test_a_dry_run_of_attach_names_no_file(office: Run) -> None:
    checked = office("check", "1", "--action", "attach", *AT, as_="li.na")
    assert checked.exit_code == 0, checked.output


# -- getting a file back ---------------------------------------------------------------------


def test_a_file_goes_only_to_those_who_may_see_the_case(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "door.jpg")
    assert attach(office, str(door), "--kind", "id-document").exit_code == 0
    out = tmp_path / "copy.jpg"
    got = office("attachment", "get", "1", "-o", str(out), as_="li.na")
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == door.read_bytes()
    assert got.output == (
        f"Attachment 1 of case 1 (id-document, image/jpeg, {door.stat().st_size} bytes) "
        f"written to {out}; it matches its fingerprint\n"
    )

    theirs = tmp_path / "theirs.jpg"
    before = snapshot(target)
    refused = office("attachment", "get", "1", "-o", str(theirs), as_="zhang.min")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Refused: attachment 1 of case 1 is personal data: its file goes only to "
        "supervisors, the staff member assigned (li.na) and the case's visiting staff "
        "(rule privacy.attachments)\n"
    )
    assert not theirs.exists()
    assert snapshot(target) == before  # reading writes nothing, refused or not
    nobody = office("attachment", "get", "1", "-o", str(theirs))
    assert nobody.exit_code == 1 and "; pass --as" in nobody.stderr
    assert not theirs.exists()

    again = office("attachment", "get", "1", "-o", str(out), as_="chen.wei")
    assert again.exit_code == 2 and "exists; pass --replace to overwrite it" in again.output
    out.write_bytes(b"old")
    replaced = office(
        "attachment", "get", "1", "-o", str(out), "--replace", "--json", as_="chen.wei"
    )
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(replaced.output)["output"] == str(out)
    assert out.read_bytes() == door.read_bytes()
    missing = office("attachment", "get", "9", "-o", str(tmp_path / "x"), as_="chen.wei")
    assert missing.exit_code == 1 and "no attachment 9" in missing.stderr


def test_the_database_itself_withholds_files_from_field_staff_of_other_cases(
    office: Run, target: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if not is_server_url(target):
        pytest.skip("a SQLite file has no logins: the application withholds the file")
    door = photo(tmp_path / "door.jpg")
    assert attach(office, str(door), "--note", "Front door").exit_code == 0
    pg_office = request.getfixturevalue("pg_office")
    for staff, sees in (("li.na", True), ("zhang.min", False), ("chen.wei", True)):
        with pg_office.psql(staff) as conn:
            (content,) = conn.execute("SELECT content FROM attachment_blobs").fetchone()
            (note, lat) = conn.execute("SELECT note, lat FROM attachments").fetchone()
        assert (content is not None, note, lat) == (
            (True, "Front door", BUND_DEGREES[0]) if sees else (False, "[masked]", None)
        ), staff


# -- audit verify ----------------------------------------------------------------------------


def test_a_replaced_attachment_file_is_caught_by_audit_verify(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "door.jpg")
    slip = tmp_path / "slip.pdf"
    slip.write_bytes(PDF)
    assert attach(office, str(door), str(slip)).exit_code == 0
    sound = office("audit", "verify", "--replay", as_="chen.wei")
    assert sound.exit_code == 0, sound.output
    assert "OK: 2 attachment files match their fingerprints" in sound.output

    # Another photo in its place: the chains and the tables are untouched.
    other = photo(tmp_path / "other.jpg", colour=(0, 200, 0)).read_bytes()
    replace_blob(target, sha256_of(door), other)
    caught = office("audit", "verify", as_="chen.wei")
    assert caught.exit_code == 1
    assert caught.stderr == (
        f"FAILED: attachment 1 of case 1: the stored file does not match its fingerprint "
        f"sha256 {sha256_of(door)}: it was replaced or damaged; restore the database from a "
        "backup\n"
    )
    # Nor is it handed out.
    got = office("attachment", "get", "1", "-o", str(tmp_path / "x.jpg"), as_="li.na")
    assert got.exit_code == 1 and "does not match its fingerprint" in got.stderr
    assert not (tmp_path / "x.jpg").exists()
    replace_blob(target, sha256_of(door), door.read_bytes())
    assert office("audit", "verify", as_="chen.wei").exit_code == 0


# -- purge and void --------------------------------------------------------------------------


def test_purge_removes_the_files_only_purged_cases_hold(
    office: Run, target: str, tmp_path: Path
) -> None:
    door = photo(tmp_path / "door.jpg")
    mine = photo(tmp_path / "only-mine.jpg", colour=(1, 2, 3))
    created = office(*create_args("L-1002"), "--assign", "li.na", "--at", T0, as_="chen.wei")
    assert created.exit_code == 0, created.output
    assert attach(office, str(door), str(mine), "--note", "Her front door").exit_code == 0
    assert office("attach", "2", str(door), *AT, as_="li.na").exit_code == 0
    closed = office(
        "close", "1", "--resolution", "paid", "--at", "2026-11-30T12:00+08:00", as_="chen.wei"
    )
    assert closed.exit_code == 0, closed.output

    purged = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    # Case 2, still open, holds the door: it stays; the other file goes.
    assert list(blobs(target)) == [sha256_of(door)]
    rows = query(
        target,
        "SELECT case_id, sha256, filename, note, lat, purged_at FROM attachments ORDER BY id",
    )
    assert [tuple(r) for r in rows] == [
        (1, sha256_of(door), "", "", None, "2031-11-30T16:00:00Z"),
        (1, sha256_of(mine), "", "", None, "2031-11-30T16:00:00Z"),
        (2, sha256_of(door), "door.jpg", "", BUND_DEGREES[0], None),
    ]
    verified = office("audit", "verify", "--replay", as_="chen.wei")
    assert verified.exit_code == 0, verified.output
    assert "OK: 1 attachment file matches its fingerprint" in verified.output
    gone = office("attachment", "get", "2", "-o", str(tmp_path / "x.jpg"), as_="chen.wei")
    assert gone.exit_code == 1 and "was removed with case 1's personal data" in gone.stderr
    show = office("show", "1", as_="chen.wei").output
    assert "(purged 2031-11-30)" in show and "Her front door" not in show


@pytest.mark.sqlite_only  # reads the file's bytes
def test_no_trace_of_a_purged_file_is_left_in_the_database_file(
    office: Run, db_path: Path, tmp_path: Path
) -> None:
    secret = photo(tmp_path / "passport.jpg", colour=(9, 99, 199))
    assert attach(office, str(secret), "--kind", "id-document").exit_code == 0
    assert secret.read_bytes()[200:260] in db_path.read_bytes()
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    assert office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei").exit_code == 0
    data = db_path.read_bytes()
    assert secret.read_bytes()[200:260] not in data
    assert b"passport.jpg" not in data and BUND_DEGREES[0].encode() not in data


def test_a_voided_attachment_takes_its_file_along(office: Run, target: str, tmp_path: Path) -> None:
    door = photo(tmp_path / "door.jpg")
    assert attach(office, str(door)).exit_code == 0
    (added,) = [e for e in events(target, 1) if e["type"] == "attachment_added"]
    voided = office(
        "void", "1", str(added["id"]), "--reason", "Photo of the wrong house", *AT,
        as_="chen.wei",
    )  # fmt: skip
    assert voided.exit_code == 0, voided.output
    assert query(target, "SELECT id FROM attachments") == []
    assert blobs(target) == {}
    assert office("audit", "verify", "--replay", as_="chen.wei").exit_code == 0


# -- for plugins: the reader ----------------------------------------------------------------


def test_the_reader_gives_plugins_attachments_as_the_viewer_may_see_them(
    office: Run, target: str, tmp_path: Path
) -> None:
    from fieldcase.errors import NotPermitted

    door = photo(tmp_path / "door.jpg")
    assert attach(office, str(door), "--note", "Front door").exit_code == 0
    store = Store(target)
    try:
        services = Services(store, manager(), clock=None)
        seer = services.reader("li.na")
        case = seer.case(1)
        (seen,) = seer.attachments(case)
        assert (seen.filename, seen.note, str(seen.lat)) == ("door.jpg", "Front door", "31.230492")
        assert seer.attachment_content(seen) == door.read_bytes()
        other = services.reader("zhang.min")
        (masked,) = other.attachments(other.case(1))
        assert (masked.filename, masked.lat, masked.sha256) == ("[masked]", None, seen.sha256)
        with pytest.raises(NotPermitted, match="is personal data"):
            other.attachment_content(masked)
    finally:
        store.close()


@pytest.mark.sqlite_only  # moves a file's office to the server
def test_an_office_moves_to_postgresql_with_its_files(
    office: Run, db_path: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    door = photo(tmp_path / "door.jpg")
    assert attach(office, str(door)).exit_code == 0
    pg_office = request.getfixturevalue("pg_office")
    moved = office("migrate", "--to", pg_office.admin)
    assert moved.exit_code == 0, moved.output
    assert blobs(pg_office.admin) == {sha256_of(door): door.read_bytes()}
    out = tmp_path / "moved.jpg"
    got = pg_office.run("attachment", "get", "1", "-o", str(out), as_="chen.wei")
    if got.exit_code != 0:  # staff log in once given a password (see test_postgres)
        assert (
            pg_office.run(
                "staff", "password", "chen.wei", input="pw-chen.wei\npw-chen.wei\n"
            ).exit_code
            == 0
        )
        got = pg_office.run("attachment", "get", "1", "-o", str(out), as_="chen.wei")
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == door.read_bytes()
