"""Check-ins on site, through the command line: measured, flagged when far, masked, purged."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import AT, Run, events, query, set_policy, snapshot, to_interview
from fieldcase.services import Services

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

#: Where the borrower of the imported case lives, as the institution's file says.
HOME = ("31.230416", "121.473701")
#: 71 m from home.
NEAR = ("31.231000", "121.474000")
#: 1,066 m north of home.
FAR = ("31.240000", "121.473701")
VISIT_DAY = "2026-11-25T10:05+08:00"

REFERRALS = (
    "reference,borrower_name,principal,overdue_amount,overdue_since,address,latitude,longitude\n"
    f"L-2001,赵磊,15000,2400,2026-09-20,上海市黄浦区人民大道200号,{HOME[0]},{HOME[1]}\n"
)


def imported_case(office: Run, tmp_path: Path, rows: str = REFERRALS) -> Result:
    """Case 2, imported with the borrower's coordinates and assigned to li.na."""
    path = tmp_path / "referrals.csv"
    path.write_text(rows, encoding="utf-8")
    done = office("import", str(path), "--institution", "hx-consumer", *AT, as_="chen.wei")
    assert done.exit_code == 0, done.output
    assigned = office("assign", "2", "--to", "li.na", *AT, as_="chen.wei")
    assert assigned.exit_code == 0, assigned.output
    return done


def to_visit(office: Run, case: str = "2") -> None:
    """The case in interview, visit 1 planned for 25 November with li.na and zhang.min."""
    steps = [
        ("confirm", case, "--address", "人民大道200号5楼", *AT),
        ("plan", case, "--date", "2026-11-25", "--window", "10:00-12:00", "--with", "zhang.min",
         *AT),
        ("checklist", case, "--all", *AT),
    ]  # fmt: skip
    for step in steps:
        done = office(*step, as_="li.na")
        assert done.exit_code == 0, done.output


def checkin(
    office: Run,
    case: str,
    where: tuple[str, str],
    *options: str,
    at: str = VISIT_DAY,
    as_: str = "li.na",
) -> Result:
    return office("checkin", case, "--lat", where[0], "--lon", where[1], *options, "--at", at,
                  as_=as_)  # fmt: skip


def checkin_rows(target: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in query(
            target,
            "SELECT case_id, visit_number, staff, lat, lon, accuracy_m, distance_m, reference,"
            " limit_m, far FROM checkins ORDER BY id",
        )
    ]


def staff_report(office: Run) -> dict[str, dict[str, Any]]:
    result = office(
        "report", "staff", "--format", "json", "--to", "2026-12-01T00:00+08:00", as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    return {row["staff"]: row for row in json.loads(result.output)}


# -- measured against the imported location --------------------------------------------------


def test_a_checkin_near_the_imported_location_is_not_far(
    office: Run, target: str, tmp_path: Path
) -> None:
    imported_case(office, tmp_path)
    stored = query(target, "SELECT latitude, longitude FROM cases WHERE id = 2")
    assert [tuple(row) for row in stored] == [HOME]
    to_visit(office)

    near = checkin(office, "2", NEAR, "--accuracy", "10")
    assert near.exit_code == 0, near.output
    assert near.output == (
        "Case 2: checked in for visit 1 at 31.231000, 121.474000 ±10 m; "
        "check-in 71 m from imported location (limit 500 m)\n"
    )
    assert checkin_rows(target) == [
        (2, 1, "li.na", *NEAR, 10, 71, "imported", 500, 0),
    ]
    last = events(target, 2)[-1]
    assert last["type"] == "checked_in"
    data = json.loads(last["payload"])["data"]
    assert {k: data[k] for k in ("visit", "distance_m", "reference", "limit_m", "far")} == {
        "visit": 1, "distance_m": 71, "reference": "imported", "limit_m": 500, "far": False,
    }  # fmt: skip
    assert staff_report(office)["li.na"]["far_check_ins"] == 0

    scripted = checkin(office, "2", HOME, "--json", at="2026-11-25T10:06+08:00")
    assert json.loads(scripted.output) == {
        "case_id": 2, "visit_number": 1, "at": "2026-11-25T10:06:00+08:00", "staff": "li.na",
        "lat": HOME[0], "lon": HOME[1], "accuracy_m": None, "distance_m": 0,
        "reference": "imported", "limit_m": 500, "far": False, "id": 2,
    }  # fmt: skip


def test_a_far_checkin_is_flagged_for_the_supervisor_not_refused(
    office: Run, target: str, tmp_path: Path
) -> None:
    imported_case(office, tmp_path)
    to_visit(office)

    far = checkin(office, "2", FAR, "--accuracy", "20", as_="zhang.min")
    assert far.exit_code == 0, far.output  # recorded: the record may be what is wrong
    assert far.output.endswith("; check-in 1,066 m from imported location (limit 500 m): FAR\n")
    assert checkin_rows(target) == [
        (2, 1, "zhang.min", *FAR, 20, 1066, "imported", 500, 1),
    ]

    # The supervisor sees it on the visit in 'show', and counted in 'report staff'.
    shown = office("show", "2", "--at", VISIT_DAY, as_="chen.wei")
    assert shown.exit_code == 0, shown.output
    assert (
        "  check-in 1,066 m from imported location (limit 500 m): FAR  "
        "(zhang.min, 2026-11-25 10:05 +0800 at 31.240000, 121.473701 ±20 m)"
    ) in shown.output
    assert "  Location:   31.230416, 121.473701" in shown.output
    report = staff_report(office)
    assert report["zhang.min"]["far_check_ins"] == 1
    assert report["li.na"]["far_check_ins"] == 0

    # The review of the visit's feedback names it too.
    interviewed = office(
        "interview", "2", "--met", "borrower", "--reason", "medical",
        "--at", "2026-11-25T10:30+08:00", as_="li.na",
    )  # fmt: skip
    assert interviewed.exit_code == 0, interviewed.output
    submitted = office(
        "feedback", "2", "--recommend", "restructure", "--summary", "ok",
        "--at", "2026-11-25T18:00+08:00", as_="li.na",
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.output
    reviewed = office("review", "2", "--approve", "--at", "2026-11-26T09:00+08:00", as_="chen.wei")
    assert reviewed.exit_code == 0, reviewed.output
    assert reviewed.output == (
        "Case 2: feedback approved\n"
        "  Note: visit 1: check-in 1,066 m from imported location (limit 500 m): FAR "
        "(zhang.min)\n"
    )


def test_the_accuracy_gives_the_benefit_of_the_doubt(
    office: Run, target: str, tmp_path: Path
) -> None:
    imported_case(office, tmp_path)
    to_visit(office)
    # 1,066 m, give or take 600 m: it may have been 466 m, within the limit.
    doubtful = checkin(office, "2", FAR, "--accuracy", "600")
    assert doubtful.exit_code == 0, doubtful.output
    assert doubtful.output.endswith("check-in 1,066 m from imported location (limit 500 m)\n")
    # Just past the limit with its accuracy: 1,066 - 565 = 501 m.
    past = checkin(office, "2", FAR, "--accuracy", "565", at="2026-11-25T10:06+08:00")
    assert past.output.endswith(": FAR\n")
    assert [row[-1] for row in checkin_rows(target)] == [0, 1]


def test_the_limit_is_the_institutions_policy(office: Run, target: str, tmp_path: Path) -> None:
    imported_case(office, tmp_path)
    to_visit(office)
    set_policy(office, "hx-consumer", "checkin_max_distance_m=2000", at="2026-11-25T09:00+08:00")
    wide = checkin(office, "2", FAR)
    assert wide.output.endswith("check-in 1,066 m from imported location (limit 2,000 m)\n")
    set_policy(office, "hx-consumer", "checkin_max_distance_m=0", at="2026-11-25T10:10+08:00")
    none = checkin(office, "2", FAR, at="2026-11-25T10:15+08:00")
    assert none.output.endswith("check-in 1,066 m from imported location (no limit)\n")
    assert [(row[-2], row[-1]) for row in checkin_rows(target)] == [(2000, 0), (None, 0)]
    bad = office(
        "institution", "policy", "hx-consumer", "--set", "checkin_max_distance_m=-1",
        "--at", "2026-11-25T10:20+08:00", as_="chen.wei",
    )  # fmt: skip
    assert bad.exit_code == 2 and "checkin_max_distance_m" in bad.output


# -- measured against the first visit that met someone ----------------------------------------


def test_without_coordinates_the_first_confirmed_visit_is_the_reference(
    office: Run, target: str
) -> None:
    to_interview(office)  # case 1, created by hand: no coordinates
    first = checkin(office, "1", HOME, "--accuracy", "8")
    assert first.output == (
        "Case 1: checked in for visit 1 at 31.230416, 121.473701 ±8 m; "
        "check-in: no known location to compare with\n"
    )
    # Nobody home: a failed visit tells nothing of where the borrower lives.
    failed = office(
        "interview", "1", "--met", "nobody", "--lat", NEAR[0], "--lon", NEAR[1],
        "--at", "2026-11-25T10:20+08:00", as_="li.na",
    )  # fmt: skip
    assert failed.exit_code == 0, failed.output
    assert failed.output.endswith("check-in: no known location to compare with\n")
    for step in (
        ("plan", "1", "--date", "2026-11-27", "--window", "10:00-12:00"),
        ("checklist", "1", "--all"),
    ):
        done = office(*step, "--at", "2026-11-25T15:00+08:00", as_="li.na")
        assert done.exit_code == 0, done.output
    # Visit 2 meets her: its first check-in (on arrival, at FAR) becomes the reference.
    arrived = checkin(office, "1", FAR, at="2026-11-27T10:00+08:00")
    assert arrived.output.endswith("check-in: no known location to compare with\n")
    met = office(
        "interview", "1", "--met", "borrower", "--reason", "medical", "--lat", NEAR[0],
        "--lon", NEAR[1], "--accuracy", "5", "--at", "2026-11-27T10:30+08:00", as_="li.na",
    )  # fmt: skip
    assert met.exit_code == 0, met.output
    # Back two days later, with no visit planned: measured against visit 2's arrival.
    later = checkin(office, "1", HOME, at="2026-11-29T09:00+08:00")
    assert later.output == (
        "Case 1: checked in at 31.230416, 121.473701; "
        "check-in 1,066 m from first-visit location (limit 500 m): FAR\n"
    )
    assert [row[1:3] + row[6:] for row in checkin_rows(target)] == [
        (1, "li.na", None, "", 500, 0),
        (1, "li.na", None, "", 500, 0),
        (2, "li.na", None, "", 500, 0),
        (2, "li.na", None, "", 500, 0),
        (None, "li.na", 1066, "first-visit", 500, 1),
    ]
    shown = office("show", "1", "--at", "2026-11-29T09:05+08:00", as_="chen.wei").output
    assert "Check-ins with no visit planned" in shown
    assert "  check-in 1,066 m from first-visit location (limit 500 m): FAR  (li.na" in shown


def test_an_interview_with_a_position_checks_in_in_its_own_event(
    office: Run, target: str, tmp_path: Path
) -> None:
    imported_case(office, tmp_path)
    to_visit(office)
    before = len(events(target, 2))
    met = office(
        "interview", "2", "--met", "borrower", "--reason", "medical",
        "--lat", NEAR[0], "--lon", NEAR[1], "--accuracy", "12",
        "--at", "2026-11-25T10:30+08:00", as_="li.na",
    )  # fmt: skip
    assert met.exit_code == 0, met.output
    assert met.output == (
        "Case 2: interview recorded; now in feedback\n"
        "  Checked in at 31.231000, 121.474000 ±12 m; "
        "check-in 71 m from imported location (limit 500 m)\n"
    )
    (event,) = events(target, 2)[before:]
    assert event["type"] == "interview_recorded"
    written = [entry["table"] for entry in json.loads(event["payload"])["rows"]]
    assert written == ["cases", "visits", "checkins"]
    assert checkin_rows(target) == [(2, 1, "li.na", *NEAR, 12, 71, "imported", 500, 0)]


# -- refused, or not understood -------------------------------------------------------------------


def test_a_position_that_is_none_is_a_usage_error_naming_the_option(
    office: Run, target: str
) -> None:
    to_interview(office)
    before = snapshot(target)
    cases = [
        (("--lat", "95", "--lon", "121.4"), "--lat: '95' is not a latitude"),
        (("--lat", "31.2", "--lon", "-181"), "--lon: '-181' is not a longitude"),
        (("--lat", "north", "--lon", "121.4"), "--lat: 'north' is not a latitude"),
        (("--lat", "1e400", "--lon", "121.4"), "--lat: '1e400' is not a latitude"),
        (("--lat", "31.2", "--lon", "9e999999999"), "--lon: '9e999999999' is not a longitude"),
        (("--lat", "31.2"), "Missing option '--lon'"),
        (("--lat", "31.2", "--lon", "121.4", "--accuracy", "-5"), "--accuracy"),
    ]
    for options, said in cases:
        refused = office("checkin", "1", *options, *AT, as_="li.na")
        assert refused.exit_code == 2, (options, refused.output)
        assert said in refused.output, refused.output
    interview = ("interview", "1", "--met", "borrower", "--reason", "medical", *AT)
    alone = office(*interview, "--lat", "31.2", as_="li.na")
    assert alone.exit_code == 2 and "--lat needs --lon too" in alone.output
    accuracy = office(*interview, "--accuracy", "10", as_="li.na")
    assert accuracy.exit_code == 2 and "--accuracy" in accuracy.output
    assert snapshot(target) == before


def test_only_those_on_the_case_check_in_and_not_once_it_is_closed(
    office: Run, target: str
) -> None:
    not_hers = checkin(office, "1", HOME, at=AT[1], as_="zhang.min")
    assert not_hers.exit_code == 1 and "assigned to li.na" in not_hers.output
    assert office("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    closed = checkin(office, "1", HOME, at="2026-11-24T10:00+08:00")
    assert closed.exit_code == 1 and "cannot check in on case 1" in closed.output
    refusals = [e for e in events(target, 1) if e["type"] == "refused"]
    rules = [json.loads(e["payload"])["data"]["reasons"][0]["rule"] for e in refusals]
    assert rules == ["permission.assigned", "stage.checkin"]
    assert checkin_rows(target) == []


# -- personal data ----------------------------------------------------------------------------


def test_positions_are_masked_for_staff_not_on_the_case(
    office: Run, target: str, tmp_path: Path, services: Services
) -> None:
    imported_case(office, tmp_path)
    assert office("assign", "2", "--to", "li.na", *AT, as_="chen.wei").exit_code == 0
    assert checkin(office, "2", FAR, at=AT[1]).exit_code == 0

    # zhang.min neither works case 2 nor visits it: how far, not where.
    other = json.loads(office("show", "2", "--json", as_="zhang.min").output)
    assert other["masked"] is True
    assert (other["borrower"]["latitude"], other["borrower"]["longitude"]) == (None, None)
    (seen,) = other["checkins"]
    assert (seen["lat"], seen["lon"], seen["distance_m"], seen["far"]) == (None, None, 1066, True)
    text = office("show", "2", as_="zhang.min").output
    assert "check-in 1,066 m from imported location (limit 500 m): FAR  (li.na, " in text
    assert FAR[0] not in text and HOME[0] not in text
    history = office("history", "2", "--json", as_="zhang.min").output
    assert FAR[0] not in history and HOME[0] not in history

    mine = json.loads(office("show", "2", "--json", as_="li.na").output)
    assert mine["checkins"][0]["lat"] == FAR[0]
    assert mine["borrower"]["latitude"] == HOME[0]

    # A plugin reads them the same way.
    case = services.reader("zhang.min").case(2)
    assert [(c.lat, c.distance_m) for c in services.reader("zhang.min").checkins(case)] == [
        (None, 1066)
    ]
    (clear,) = services.reader("chen.wei").checkins(services.reader("chen.wei").case(2))
    assert (str(clear.lat), str(clear.lon)) == FAR


def test_purge_removes_the_positions_and_keeps_the_distances(
    office: Run, target: str, tmp_path: Path, db_path: Path, store_kind: str
) -> None:
    imported_case(office, tmp_path)
    assert checkin(office, "2", FAR, "--accuracy", "20", at=AT[1]).exit_code == 0
    assert office("close", "2", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    purged = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    assert checkin_rows(target) == [(2, None, "li.na", None, None, 20, 1066, "imported", 500, 1)]
    assert [tuple(r) for r in query(target, "SELECT latitude, longitude FROM cases")] == [
        (None, None),
        (None, None),
    ]
    for degrees in (*FAR, *HOME):
        assert degrees not in repr(snapshot(target))  # no table, no event
    if store_kind == "sqlite":  # nor the file's bytes (a server keeps its own pages)
        files = [db_path, Path(f"{db_path}-wal")]
        data = b"".join(f.read_bytes() for f in files if f.exists())
        assert not any(d.encode() in data for d in (*FAR, *HOME))
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output


# -- imported coordinates ---------------------------------------------------------------------


def test_an_import_checks_the_coordinates_and_updates_them(
    office: Run, target: str, tmp_path: Path
) -> None:
    rows = (
        REFERRALS
        + "L-2002,钱敏,9000,900,2026-09-20,x,91,121.4\n"
        + "L-2003,孙丽,9000,900,2026-09-20,x,31.2,\n"
        + "L-2004,周杰,9000,900,2026-09-20,x,,east\n"
        + "L-2005,吴刚,9000,900,2026-09-20,x,,\n"
        + "L-2006,郑伟,9000,900,2026-09-20,x,1e400,121.4\n"
    )
    imported_case(office, tmp_path, rows)
    with (tmp_path / "referrals.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert rejects[1:] == [
        ["3", "latitude", "91", "is not a latitude: give degrees from -90 to 90 as a decimal "
         "number, e.g. 31.230416"],
        ["4", "longitude", "", "is required with latitude: a position is both"],
        ["5", "latitude", "", "is required with longitude: a position is both"],
        ["5", "longitude", "east", "is not a longitude: give degrees from -180 to 180 as a "
         "decimal number, e.g. 121.473701"],
        ["7", "latitude", "1e400", "is not a latitude: give degrees from -90 to 90 as a "
         "decimal number, e.g. 31.230416"],
    ]  # fmt: skip
    stored = query(target, "SELECT reference, latitude, longitude FROM cases ORDER BY id")
    assert [tuple(r) for r in stored] == [
        ("L-1001", None, None),
        ("L-2001", *HOME),
        ("L-2005", None, None),
    ]

    # The institution's next file moves the borrower: the case is updated, the change
    # in its history masked for staff who do not work it.
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "reference,borrower_name,principal,overdue_amount,overdue_since,latitude,longitude\n"
        "L-2001,赵磊,15000,2400,2026-09-20,31.2,121.5\n",
        encoding="utf-8",
    )
    updated = office(
        "import", str(moved), "--institution", "hx-consumer", "--json",
        "--at", "2026-11-24T09:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert json.loads(updated.output)["updated"] == 1
    stored = query(target, "SELECT latitude, longitude FROM cases WHERE reference = 'L-2001'")
    assert [tuple(r) for r in stored] == [("31.200000", "121.500000")]
    history = office("history", "2", "--json", as_="zhang.min").output
    assert "31.2" not in history and "121.5" not in history


def test_a_checkin_is_voided_like_any_record_beside_the_path(
    office: Run, target: str, tmp_path: Path
) -> None:
    imported_case(office, tmp_path)
    to_visit(office)
    assert checkin(office, "2", FAR).exit_code == 0
    event_id = events(target, 2)[-1]["id"]
    assert checkin(office, "2", NEAR, at="2026-11-25T10:10+08:00").exit_code == 0
    voided = office(
        "void", "2", str(event_id), "--reason", "Checked in on the wrong case",
        "--at", "2026-11-25T11:00+08:00", as_="chen.wei",
    )  # fmt: skip
    assert voided.exit_code == 0, voided.output
    assert [row[3] for row in checkin_rows(target)] == [NEAR[0]]
    assert staff_report(office)["li.na"]["far_check_ins"] == 0
