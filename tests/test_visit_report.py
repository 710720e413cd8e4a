"""The visit report, through the command line: what it holds, for whom, and its record.

The PDF itself is fieldcase-documents' (plugins/fieldcase-documents/tests); here
a stand-in plugin draws the report as JSON, so that what fieldcase hands a
renderer, and what it records, is seen on both stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import AT, Run, events, query, snapshot, to_feedback, to_interview
from fieldcase import hookimpl
from fieldcase.testing import OnlyPlugins, RegisterPlugin
from fieldcase.visit_report import VisitReport

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

LATER = "2026-11-26T09:00+08:00"


class JsonRenderer:
    """Draws visit reports into ``.pdf`` paths as the report's JSON; keeps what it was given."""

    def __init__(self) -> None:
        self.drawn: list[VisitReport] = []

    @hookimpl
    def render_visit_report(self, report: VisitReport, path: Path) -> bool | None:
        if path.suffix != ".pdf":
            return None
        self.drawn.append(report)
        path.write_text(json.dumps(report.as_json(), default=str), encoding="utf-8")
        return True


@pytest.fixture
def renderer(only_plugins: OnlyPlugins, register_plugin: RegisterPlugin) -> JsonRenderer:
    """The built-in plugins and the stand-in renderer, whatever else is installed."""
    only_plugins()
    plugin = JsonRenderer()
    register_plugin(plugin, name="json-renderer")
    return plugin


def at(time: str) -> tuple[str, str]:
    return ("--at", f"2026-11-25T{time}+08:00")


def visited(office: Run, *, checked_in: bool = False) -> None:
    """Case 1's visit made and fed back: found, offered, accepted, submitted, approved."""
    to_interview(office)
    if checked_in:
        arrived = office(
            "checkin", "1", "--lat", "31.230416", "--lon", "121.473701", "--accuracy", "12",
            *at("10:20"), as_="li.na",
        )  # fmt: skip
        assert arrived.exit_code == 0, arrived.output
    result = office(
        "interview", "1", "--met", "borrower", "--reason", "medical",
        "--employment", "employed", "--income", "8500", "--other-debts", "12000",
        "--lenders", "3", "--attitude", "willing-unable", "--note", "Hospital bills since August",
        *at("10:30"), as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert office("offers", "1", *at("10:40"), as_="li.na").exit_code == 0
    accepted = office("accept", "1", "installment-3", *at("10:45"), as_="li.na")
    assert accepted.exit_code == 0, accepted.output
    result = office(
        "feedback", "1", "--recommend", "restructure", "--summary", "Can pay over 3 months",
        *at("18:00"), as_="li.na",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert office("review", "1", "--approve", *at("19:00"), as_="chen.wei").exit_code == 0


def report(office: Run, *options: str, as_: str = "li.na") -> Result:
    return office("report", "visit", "1", *options, "--at", LATER, as_=as_)


def report_json(office: Run, *options: str, as_: str = "li.na") -> dict[str, Any]:
    result = report(office, "--json", *options, as_=as_)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_the_report_holds_the_visit_its_offers_feedback_and_proof(office: Run, target: str) -> None:
    visited(office)

    shown = report_json(office)

    assert shown["masked"] is False and shown["viewer"] == "li.na"
    assert shown["prepared_at"] == "2026-11-26T09:00:00+08:00"
    case = shown["case"]
    assert (case["label"], case["currency"], case["jurisdiction"]) == (
        "hx-consumer/L-1001", "CNY", "CN",
    )  # fmt: skip
    assert (case["principal"], case["overdue_amount"]) == ("20000.00", "3150.40")
    # 2026-09-15 to the visit on 2026-11-25, the borrower's calendar.
    assert case["days_past_due"] == 71
    assert shown["borrower"]["name"] == "王芳"
    assert shown["borrower"]["national_id"] == "310101199001011234"
    visit = shown["visit"]
    assert visit["number"] == 1 and visit["status"] == "done" and visit["met"] == "borrower"
    assert (visit["date"], visit["window"]) == ("2026-11-25", "10:00-12:00")
    assert visit["visited_at"] == "2026-11-25T10:30:00+08:00"
    assert (visit["reason_code"], visit["reason_label"]) == ("medical", "Medical emergency")
    assert (visit["monthly_income"], visit["other_debts"], visit["lenders"]) == (
        "8500.00", "12000.00", 3,
    )  # fmt: skip
    assert visit["notes"] == "Hospital bills since August"
    assert visit["staff"] == [{"id": "li.na", "name": "李娜"}]
    offers = {o["code"]: o for o in shown["offers"]}
    assert offers["installment-3"]["status"] == "accepted"
    assert offers["installment-3"]["installments"] == 3
    assert {o["status"] for code, o in offers.items() if code != "installment-3"} == {"superseded"}
    (feedback,) = shown["feedback"]
    assert (feedback["recommendation"], feedback["review_status"], feedback["reviewed_by"]) == (
        "restructure", "approved", "chen.wei",
    )  # fmt: skip

    # The visit's events, each with the hash its chain holds; none of the case's others.
    stored = {e["id"]: e for e in events(target, 1)}
    proof = shown["events"]
    assert [e["type"] for e in proof] == [
        "visit_planned", "checklist_ticked", "interview_recorded", "offers_presented",
        "offer_accepted", "feedback_submitted", "feedback_approved",
    ]  # fmt: skip
    assert all(e["hash"] == stored[e["id"]]["hash"] and len(e["hash"]) == 64 for e in proof)


def test_the_check_ins_and_photos_of_the_visit(office: Run, tmp_path: Path) -> None:
    """Those of the visit reported, with the photo's bytes for those who may see them."""
    from PIL import Image

    visited(office, checked_in=True)
    door = tmp_path / "door.jpg"
    Image.new("RGB", (32, 24), (200, 30, 30)).save(door, "JPEG")
    attached = office(
        "attach", "1", str(door), "--visit", "1", "--note", "Front door", *at("19:30"),
        as_="li.na",
    )  # fmt: skip
    assert attached.exit_code == 0, attached.output

    mine = report_json(office)
    (checkin,) = mine["checkins"]
    assert (checkin["lat"], checkin["lon"], checkin["accuracy_m"]) == (
        "31.230416", "121.473701", 12,
    )  # fmt: skip
    (photo,) = mine["attachments"]
    assert (photo["kind"], photo["media_type"], photo["note"]) == (
        "photo",
        "image/jpeg",
        "Front door",
    )
    assert photo["content_included"] is True and "content" not in photo
    assert {"checked_in", "attachment_added"} <= {e["type"] for e in mine["events"]}

    theirs = report_json(office, as_="zhang.min")
    assert (theirs["checkins"][0]["lat"], theirs["checkins"][0]["lon"]) == (None, None)
    assert theirs["attachments"][0]["content_included"] is False
    assert theirs["attachments"][0]["note"] == "[masked]"
    assert theirs["attachments"][0]["sha256"] == photo["sha256"]


def test_masked_for_a_field_worker_not_on_the_case(office: Run) -> None:
    visited(office)

    shown = report_json(office, as_="zhang.min")

    assert shown["masked"] is True
    assert shown["borrower"]["national_id"] == "**************1234"
    assert shown["borrower"]["phone"] == "+86*******8000"
    assert shown["borrower"]["address"] == "[masked]"
    assert shown["visit"]["monthly_income"] is None and shown["visit"]["notes"] == "[masked]"
    # A hash over guessable data would give a masked value away: withheld, as in history.
    assert {e["hash"] for e in shown["events"]} == {""}
    # What is not personal stays: the name, amounts, offers, the review.
    assert shown["borrower"]["name"] == "王芳"
    assert shown["offers"] and shown["feedback"][0]["review_status"] == "approved"
    assert "310101199001011234" not in json.dumps(shown)


def test_the_latest_visit_made_unless_one_is_named(office: Run) -> None:
    to_interview(office)
    result = office("interview", "1", "--met", "nobody", *at("10:30"), as_="li.na")
    assert result.exit_code == 0, result.output
    replanned = office(
        "plan", "1", "--date", "2026-11-27", "--window", "10:00-12:00", *at("12:00"),
        as_="li.na",
    )  # fmt: skip
    assert replanned.exit_code == 0, replanned.output
    # Visit 2 is planned, not made: the report is of visit 1, nobody home.
    shown = report_json(office)
    assert (shown["visit"]["number"], shown["visit"]["status"]) == (1, "failed")
    assert [e["type"] for e in shown["events"]] == [
        "visit_planned", "checklist_ticked", "visit_failed",
    ]  # fmt: skip

    not_made = report(office, "--json", "--visit", "2")
    assert not_made.exit_code == 1
    assert "visit 2 of case 1 is planned, not made yet" in not_made.stderr
    unknown = report(office, "--json", "--visit", "7")
    assert unknown.exit_code == 1 and "case 1 has no visit 7 (visits made: 1)" in unknown.stderr

    assert office("checklist", "1", "--all", *at("12:10"), as_="li.na").exit_code == 0
    second = office(
        "interview", "1", "--met", "relative", "--reason", "income-loss",
        "--at", "2026-11-27T10:30+08:00", as_="li.na",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert report_json(office)["visit"]["number"] == 2
    first = report_json(office, "--visit", "1")
    assert first["visit"]["number"] == 1 and "interview_recorded" not in {
        e["type"] for e in first["events"]
    }


def test_a_case_without_a_visit_made_has_no_report(office: Run, target: str) -> None:
    to_interview(office)
    before = snapshot(target)

    result = report(office, "--json")

    assert result.exit_code == 1
    assert "case 1 has no visit made yet (visit 1 is planned)" in result.stderr
    assert "fieldcase interview" in result.stderr
    assert snapshot(target) == before


def test_drawn_by_a_plugin_and_recorded(
    office: Run, target: str, renderer: JsonRenderer, tmp_path: Path
) -> None:
    visited(office)
    out = tmp_path / "visit.pdf"

    result = report(office, "-o", str(out), as_="zhang.min")

    assert result.exit_code == 0, result.output
    (last,) = query(target, "SELECT * FROM events WHERE type = 'visit_report'")
    assert result.stdout == (
        f"Visit 1 of case 1: {out} (personal data masked), event {last['id']}\n"
    )
    assert json.loads(last["payload"])["data"] == {
        "case": 1, "visit": 1, "output": str(out), "masked": True,
    }  # fmt: skip
    assert last["case_id"] is None and last["actor"] == "zhang.min"
    (drawn,) = renderer.drawn
    assert drawn.masked and drawn.borrower.national_id == "**************1234"
    assert json.loads(out.read_text(encoding="utf-8"))["case"]["label"] == "hx-consumer/L-1001"


def test_an_existing_file_is_replaced_only_when_asked(
    office: Run, target: str, renderer: JsonRenderer, tmp_path: Path
) -> None:
    visited(office)
    out = tmp_path / "visit.pdf"
    out.write_text("keep me", encoding="utf-8")
    before = snapshot(target)

    refused = report(office, "-o", str(out))

    assert refused.exit_code == 2 and "exists; pass --replace to overwrite it" in refused.stderr
    assert out.read_text(encoding="utf-8") == "keep me" and snapshot(target) == before
    assert report(office, "-o", str(out), "--replace").exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["masked"] is False


def test_without_a_plugin_that_renders_nothing_is_written(
    office: Run, target: str, only_plugins: OnlyPlugins, tmp_path: Path
) -> None:
    only_plugins()  # the built-in plugins: none draws
    visited(office)
    before = snapshot(target)

    result = report(office, "-o", str(tmp_path / "visit.pdf"))

    assert result.exit_code == 1
    assert "no plugin renders visit reports as .pdf; install fieldcase-documents" in (result.stderr)
    assert not [p.name for p in tmp_path.iterdir() if "visit" in p.name]  # nor a partial file
    assert snapshot(target) == before


def test_a_format_no_plugin_draws_is_refused(
    office: Run, target: str, renderer: JsonRenderer, tmp_path: Path
) -> None:
    visited(office)
    result = report(office, "-o", str(tmp_path / "visit.png"))
    assert result.exit_code == 1 and "no plugin renders visit reports as .png" in result.stderr
    assert not (tmp_path / "visit.png").exists() and renderer.drawn == []


def test_usage(office: Run) -> None:
    visited(office)
    neither = report(office)
    assert neither.exit_code == 2 and "give -o FILE.pdf" in neither.stderr
    nobody = office("report", "visit", "1", "--json", *AT)
    assert nobody.exit_code == 2 and "pass --as STAFF" in nobody.stderr
    assert report(office, "--json", "--visit", "0").exit_code == 2
    missing = office("report", "visit", "99", "--json", *AT, as_="li.na")
    assert missing.exit_code == 1


def test_a_report_a_plugin_names_visit_does_not_take_the_command(
    office: Run, register_plugin: RegisterPlugin
) -> None:
    class Squatter:
        @hookimpl
        def register_reports(self, register: Any) -> None:
            register("visit", lambda services, filters: [], ["x"], "Not the visit report")

    register_plugin(Squatter(), name="squatter")
    to_feedback(office)
    assert report_json(office)["visit"]["number"] == 1
