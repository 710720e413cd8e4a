"""How contacts are recorded: messaging apps, a third party's relationship, the contact
details a contact turns up, and the warning when a dispute is not sent for review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import AT, Row, Run, query, set_policy, to_interview, to_submitted
from fieldcase import hookimpl
from fieldcase.plugins import manager
from test_operations import raw

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

NEW_PHONE = "+8613912345678"
EMAIL = "wang.fang@example.cn"
NEW_ADDRESS = "杭州市西湖区文三路90号"


def rows(target: str, sql: str) -> list[Row]:
    return query(target, sql)


def contact(office: Run, *args: str, as_: str = "li.na") -> Any:
    return office("contact", "1", "--outcome", "reached", *args, *AT, as_=as_)


# -- messaging channels ------------------------------------------------------------------


def test_wechat_is_a_channel_and_an_institution_names_its_own_messaging_apps(
    office: Run, target: str
) -> None:
    assert contact(office, "--channel", "wechat").exit_code == 0

    unknown = contact(office, "--channel", "whatsapp")
    assert unknown.exit_code == 2
    assert "channel: 'whatsapp' is not one of phone" in unknown.stderr
    assert "--set messaging_channels=whatsapp" in unknown.stderr

    set_policy(office, "hx-consumer", 'messaging_channels=["whatsapp", "line"]')
    assert contact(office, "--channel", "whatsapp").exit_code == 0
    assert contact(office, "--channel", "line").exit_code == 0
    mistyped = contact(office, "--channel", "whatsap")
    assert mistyped.exit_code == 2 and "did you mean whatsapp?" in mistyped.stderr

    channels = [r["channel"] for r in rows(target, "SELECT channel FROM contacts ORDER BY id")]
    assert channels == ["wechat", "whatsapp", "line"]
    # A dry run takes the institution's apps too.
    assert office("check", "1", "--action", "contact", "--channel", "line", *AT).exit_code == 0
    assert office("check", "1", "--action", "contact", "--channel", "telex", *AT).exit_code == 2


def test_messaging_apps_in_a_policy_are_checked_when_set(office: Run) -> None:
    def policy(value: str) -> Any:
        return office(
            "institution", "policy", "hx-consumer", "--set", f"messaging_channels={value}",
            "--at", "2026-11-01T09:00+08:00", as_="chen.wei",
        )  # fmt: skip

    builtin = policy('["wechat"]')
    assert builtin.exit_code == 2 and "'wechat' is a built-in channel already" in builtin.stderr
    spaced = policy('["Whats App"]')
    assert spaced.exit_code == 2 and "is not a channel name" in spaced.stderr
    keys = office("institution", "keys").output
    assert "messaging_channels" in keys


def test_a_contact_through_a_messaging_app_is_not_a_call() -> None:
    from fieldcase.rules import messaging

    settings = {"messaging_channels": ["whatsapp"]}
    assert messaging("wechat", {}) and messaging("whatsapp", settings)
    assert not messaging("phone", settings) and not messaging("whatsapp", {})


# -- a third party's relationship ----------------------------------------------------------


def test_a_third_partys_relationship_is_required_stored_and_shown(office: Run, target: str) -> None:
    missing = contact(office, "--channel", "phone", "--target", "third-party")
    assert missing.exit_code == 2
    assert "a third-party contact needs --relationship" in missing.stderr
    for_borrower = contact(office, "--channel", "phone", "--relationship", "spouse")
    assert for_borrower.exit_code == 2
    assert "--relationship spouse is for a third party" in for_borrower.stderr
    wrong = contact(office, "--channel", "phone", "--target", "third-party", "--relationship", "x")
    assert wrong.exit_code == 2 and "'x' is not one of" in wrong.stderr

    done = contact(
        office, "--channel", "phone", "--target", "third-party", "--relationship", "sibling",
        "--purpose", "locate",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "contact with third-party (sibling): reached" in done.output
    assert contact(office, "--channel", "phone").exit_code == 0

    stored = rows(target, "SELECT target, relationship FROM contacts ORDER BY id")
    assert [tuple(r) for r in stored] == [("third-party", "sibling"), ("borrower", "")]
    shown = office("show", "1", as_="li.na").output
    assert "third-party (sibling)" in shown
    file = json.loads(office("show", "1", "--json", as_="li.na").output)
    assert [c["relationship"] for c in file["contacts"]] == ["sibling", ""]
    history = office("history", "1", as_="li.na").output
    assert "relationship=sibling" in history


def test_rules_see_the_relationship(office: Run) -> None:
    class NoWorkplace:
        @hookimpl
        def check_action(self, action: str, context: Any) -> Any:
            from fieldcase.model import Decision

            if action == "contact" and context.extra.get("relationship") == "colleague":
                return Decision.deny("test.workplace", "colleagues are not told of a debt")
            return None

    manager().register(NoWorkplace(), name="no-workplace")
    try:
        refused = contact(
            office, "--channel", "phone", "--target", "third-party", "--relationship", "colleague"
        )
        asked = office(
            "check", "1", "--action", "contact", "--target", "third-party",
            "--relationship", "colleague", *AT, as_="li.na",
        )  # fmt: skip
        friend = contact(
            office, "--channel", "phone", "--target", "third-party", "--relationship", "friend"
        )
    finally:
        manager().unregister(name="no-workplace")
    assert refused.exit_code == 1 and "(rule test.workplace)" in refused.stderr
    assert asked.exit_code == 1 and "test.workplace" in asked.output
    assert friend.exit_code == 0, friend.output


# -- contact details learned ---------------------------------------------------------------


def test_details_change_the_borrowers_current_ones_and_keep_the_old(
    office: Run, target: str
) -> None:
    learned = office(
        "details", "1", "--phone", "139 1234 5678", "--source", "wechat",
        "--note", "Sent by her on WeChat", *AT, as_="li.na",
    )  # fmt: skip
    assert learned.exit_code == 0, learned.output
    assert f"phone {NEW_PHONE} recorded (from wechat); it was +8613800138000" in learned.output
    again = office(
        "details", "1", "--phone", NEW_PHONE, "--verified", "--source", "phone",
        "--at", "2026-11-23T12:30+08:00", as_="li.na",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    both = office(
        "details", "1", "--email", "Wang.Fang@EXAMPLE.cn", "--address", NEW_ADDRESS,
        "--source", "visit", "--at", "2026-11-23T13:00+08:00", as_="li.na",
    )  # fmt: skip
    assert both.exit_code == 0, both.output

    (case,) = rows(target, "SELECT phone, phone_masked, email, address FROM cases")
    assert tuple(case) == (NEW_PHONE, "+86*******5678", "Wang.Fang@example.cn", NEW_ADDRESS)
    recorded = rows(target, "SELECT kind, value, previous, verified, source FROM contact_details")
    assert [tuple(r) for r in recorded] == [
        ("phone", NEW_PHONE, "+8613800138000", 0, "wechat"),
        ("phone", NEW_PHONE, NEW_PHONE, 1, "phone"),
        ("email", "Wang.Fang@example.cn", "", 0, "visit"),
        ("address", NEW_ADDRESS, "上海市浦东新区世纪大道100号", 0, "visit"),
    ]
    listed = json.loads(office("details", "1", "--json", as_="li.na").output)
    assert [d["kind"] for d in listed] == ["phone", "phone", "email", "address"]
    shown = office("show", "1", as_="li.na").output
    assert "Email:      Wang.Fang@example.cn" in shown and "Contact details recorded" in shown
    assert "verified=True" in office("history", "1", as_="li.na").output
    assert office("audit", "verify", "--replay").exit_code == 0


def test_details_bad_input_is_a_usage_error(office: Run) -> None:
    def details(*args: str) -> Any:
        return office("details", "1", *args, *AT, as_="li.na")

    same = details("--phone", "+8613800138000")
    assert same.exit_code == 2 and "pass --verified" in same.stderr
    assert "is not an email address" in details("--email", "wang.fang").stderr
    assert "is not a valid phone number" in details("--phone", "+86 12").stderr
    long_email = details("--email", "a" * 250 + "@example.cn")
    assert long_email.exit_code == 2 and "holds at most 254 characters" in long_email.stderr
    assert (
        "'telepathy' is not one of"
        in details("--phone", "139 1234 5678", "--source", "telepathy").stderr
    )
    alone = details("--verified")
    assert alone.exit_code == 2 and "need --phone, --email or --address" in alone.stderr
    hidden = details("--phone", "139 1234 5678", "--note", "x\x1b[2J")
    assert hidden.exit_code == 2 and "control character" in hidden.stderr


def test_only_the_staff_working_the_case_record_details(office: Run) -> None:
    refused = office("details", "1", "--phone", "139 1234 5678", *AT, as_="zhang.min")
    assert refused.exit_code == 1 and "(rule permission.assigned)" in refused.stderr
    closed = office("details", "1", "--phone", "139 1234 5678", *AT, as_="chen.wei")
    assert closed.exit_code == 0, closed.output


def test_details_are_masked_for_a_viewer_who_may_not_see_them(office: Run, store_kind: str) -> None:
    office(
        "details", "1", "--phone", NEW_PHONE, "--email", EMAIL, "--address", NEW_ADDRESS,
        "--note", "From her sister", *AT, as_="li.na",
    )  # fmt: skip
    for viewer in ("zhang.min", None):
        listed = office("details", "1", "--json", as_=viewer).output
        file = office("show", "1", "--json", as_=viewer).output
        history = office("history", "1", "--json", as_=viewer).output
        for text in (listed, file, history):
            for secret in (NEW_PHONE, EMAIL, NEW_ADDRESS, "From her sister"):
                assert secret not in text, (viewer, secret)
        # On PostgreSQL a field worker's login is given no part of it at all.
        tail = "+86*******5678" if viewer is None or store_kind == "sqlite" else '"[masked]"'
        assert tail in listed and "[masked]" in listed
        assert json.loads(file)["borrower"]["email"] == "[masked]"
    assert EMAIL in office("details", "1", "--json", as_="li.na").output


@pytest.mark.sqlite_only  # reads the file's bytes
def test_purge_wipes_the_details_and_the_log_still_verifies(office: Run, db_path: Path) -> None:
    office(
        "details", "1", "--phone", NEW_PHONE, "--email", EMAIL, "--address", NEW_ADDRESS,
        "--note", "From her sister", "--source", "wechat", *AT, as_="li.na",
    )  # fmt: skip
    to_submitted(office)
    closed = office(
        "close", "1", "--resolution", "paid", "--at", "2026-11-30T12:00+08:00", as_="chen.wei"
    )
    assert closed.exit_code == 0, closed.output
    assert EMAIL.encode() in raw(db_path)

    done = office("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert done.exit_code == 0, done.output

    data = raw(db_path)
    for secret in (NEW_PHONE, EMAIL, NEW_ADDRESS, "From her sister", "+8613800138000"):
        assert secret.encode() not in data, secret
    (case,) = rows(str(db_path), "SELECT phone, email, address FROM cases")
    assert tuple(case) == ("", "", "")
    kept = rows(str(db_path), "SELECT kind, value, previous, note, source FROM contact_details")
    assert [tuple(r) for r in kept] == [
        ("phone", "", "", "", "wechat"),
        ("email", "", "", "", "wechat"),
        ("address", "", "", "", "wechat"),
    ]
    seal = office("audit", "seal").output.strip()
    verified = office("audit", "verify", "--replay", "--seal", seal)
    assert verified.exit_code == 0, verified.output


# -- a dispute sent on as a debt -------------------------------------------------------------


def test_feedback_warns_when_a_dispute_is_not_sent_for_dispute_review(
    office: Run, target: str
) -> None:
    to_interview(office)
    office(
        "interview", "1", "--met", "borrower", "--reason", "dispute",
        "--at", "2026-11-25T10:30+08:00", as_="li.na",
    )  # fmt: skip
    quiet = office(
        "feedback", "1", "--recommend", "dispute-review", "--summary", "Says the autopay failed",
        "--at", "2026-11-25T18:00+08:00", as_="li.na",
    )  # fmt: skip
    assert quiet.exit_code == 0 and "Warning" not in quiet.stderr
    office(
        "review", "1", "--return", "--note", "Restructure instead?",
        "--at", "2026-11-26T09:00+08:00", as_="chen.wei",
    )  # fmt: skip

    warned = office(
        "feedback", "1", "--recommend", "restructure", "--summary", "ok",
        "--at", "2026-11-26T10:00+08:00", as_="li.na",
    )  # fmt: skip
    assert warned.exit_code == 0, warned.output
    assert "Case 1: feedback submitted for review" in warned.stdout
    assert warned.stderr.startswith("Warning: case 1: the overdue reason found at the interview")
    assert "recommendation is restructure, not dispute-review" in warned.stderr
    statuses = rows(target, "SELECT recommendation, review_status FROM feedback ORDER BY id")
    assert [tuple(r) for r in statuses] == [
        ("dispute-review", "returned"),
        ("restructure", "submitted"),
    ]


def test_plugins_read_the_details_as_their_viewer_may_see_them(office: Run, target: str) -> None:
    from fieldcase.services import Services
    from fieldcase.store import Store

    office("details", "1", "--phone", NEW_PHONE, "--email", EMAIL, *AT, as_="li.na")
    store = Store(target)
    try:
        services = Services(store, manager(), clock=None)
        for viewer, phone, email in (
            ("li.na", NEW_PHONE, EMAIL),
            ("zhang.min", "+86*******5678", "[masked]"),
        ):
            reader = services.reader(viewer)
            found = reader.contact_details(reader.case(1))
            assert [(d.kind, d.value) for d in found] == [("phone", phone), ("email", email)]
    finally:
        store.close()
