"""Odd input, self-review, closing shortcuts and batch writes: each once broke something."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import (
    AT,
    Run,
    create_args,
    query,
    snapshot,
    to_feedback,
    to_interview,
    to_preparation,
    to_submitted,
)
from fieldcase import hookimpl, plugins
from fieldcase.errors import StaleCase
from fieldcase.plugins import get_plugin_manager, manager
from fieldcase.services import Services
from fieldcase.store import Change

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

LATE = ("--at", "2026-11-26T09:00+08:00")

ODD_INPUTS = [
    (create_args("L-9", principal="1" + "0" * 30), "too large"),
    (create_args("L-9", principal="100000000000000000"), "too large"),
    (create_args("L-9", principal="1e17"), "exponent notation"),
    (create_args("L-9", overdue="12,34"), "ambiguous"),
    (create_args("L-9", timezone="Asia"), "time zone 'Asia' is not an IANA name"),
    (create_args("L-9", jurisdiction="China"), "did you mean CN (China)?"),
    (create_args("L-9", jurisdiction="chn"), "did you mean CN (China)?"),
    (create_args("L-9", jurisdiction="ZZ"), "'ZZ' is not an ISO 3166 code"),
    (create_args("L-9", institution="hx_consumer"), "did you mean hx-consumer?"),
    (create_args("L-1001 "), "already exists"),
    (["show", "²"], "no case"),
    (["show", "99999999999999999999999"], "no case"),
    (["plan", "1", "--date", "2026-11-25", "--window", "09:00+08:00-10:00"], "HH:MM-HH:MM"),
    (["plan", "1", "--date", "2026-11-25", "--window", "09:00:10-09:00:50"], "HH:MM-HH:MM"),
    (["plan", "1", "--date", "2026-11-25", "--window", "24:00-25:00"], "HH:MM-HH:MM"),
    (["plan", "1", "--date", "2026-11-25", "--window", "10:00-10:00"], "must end after"),
    (
        ["plan", "1", "--date", "2026-11-25", "--window", "10:00-11:00", "--with", "nobody"],
        "no staff member 'nobody'",
    ),
    (
        [
            "contact",
            "1",
            "--channel",
            "phone",
            "--outcome",
            "reached",
            "--at",
            "0001-01-01T00:00+08:00",
        ],
        "not a plausible time",
    ),
    (
        [
            "contact",
            "1",
            "--channel",
            "phone",
            "--outcome",
            "reached",
            "--at",
            "2026-11-23T08:00+08:00",
        ],
        "before case 1's last change",
    ),
    (["assign", "1", "--to", "ghost"], "no staff member 'ghost'"),
]


@pytest.mark.parametrize(
    ("command", "message"), ODD_INPUTS, ids=[" ".join(c[:4]) for c, _ in ODD_INPUTS]
)
def test_odd_input_is_a_usage_error_or_not_found(
    office: Run, target: str, command: list[str], message: str
) -> None:
    if command[0] == "plan":
        to_preparation(office)
    if command[0] in ("plan", "create", "assign", "contact") and "--at" not in command:
        command = [*command, *LATE]
    before = snapshot(target)
    actor = "chen.wei" if command[0] in ("create", "assign") else "li.na"
    result = office(*command, as_=actor)
    assert result.exit_code in (1, 2), result.output
    assert message in result.stderr
    assert snapshot(target) == before


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('max_failed_visits = "three"', "max_failed_visits = 'three' must be a whole number"),
        ('min_overdue_amount = "abc"', "min_overdue_amount = 'abc' must be an amount"),
        ("min_days_past_due = -1", "min_days_past_due = -1 must be a whole number of days"),
    ],
)
def test_bad_settings_are_refused_when_set(
    office: Run, target: str, settings: str, message: str
) -> None:
    before = snapshot(target)
    setting = settings.replace(" = ", "=")
    result = office("institution", "policy", "hx-consumer", "--set", setting, as_="chen.wei")
    assert result.exit_code == 2
    assert message in result.stderr
    assert snapshot(target) == before


def test_institution_must_be_a_table(office: Run, tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text("[institutions]\nhx-consumer = 5\n")
    result = office("institution", "policy", "hx-consumer", "--from", "policy.toml", as_="chen.wei")
    assert result.exit_code == 2
    assert "institutions.hx-consumer must be a table" in result.stderr


def test_nobody_met_means_no_findings(office: Run, target: str) -> None:
    to_interview(office)
    before = snapshot(target)
    result = office(
        "interview",
        "1",
        "--met",
        "nobody",
        "--income",
        "5",
        "--reason",
        "medical",
        "--at",
        "2026-11-25T10:30+08:00",
        as_="li.na",
    )
    assert result.exit_code == 2
    assert "drop --reason, --income" in result.stderr
    assert snapshot(target) == before


def test_a_supervisor_may_not_approve_their_own_feedback(office: Run) -> None:
    to_feedback(office)
    office("assign", "1", "--to", "chen.wei", "--at", "2026-11-25T12:00+08:00", as_="chen.wei")
    result = office(
        "feedback",
        "1",
        "--recommend",
        "close",
        "--summary",
        "s",
        "--at",
        "2026-11-25T18:00+08:00",
        as_="chen.wei",
    )
    assert result.exit_code == 0, result.output
    result = office("review", "1", "--approve", *LATE, as_="chen.wei")
    assert result.exit_code == 1
    assert "another supervisor must review it (rule review.four_eyes)" in result.stderr


def test_field_staff_cannot_close_as_paid_before_approval(office: Run) -> None:
    result = office("close", "1", "--resolution", "paid", *AT, as_="li.na")
    assert result.exit_code == 1
    assert "only a supervisor may close a case as paid before its feedback is approved" in (
        result.stderr
    )


def test_field_staff_cannot_close_as_paid_what_is_still_owed(office: Run) -> None:
    """Attack: feedback approved (a restructure), then 'paid' with nothing paid."""
    to_submitted(office)
    office("review", "1", "--approve", *LATE, as_="chen.wei")
    for resolution in ("paid", "settled"):
        result = office("close", "1", "--resolution", resolution, *LATE, as_="li.na")
        assert result.exit_code == 1, result.output
        assert f"only a supervisor may close a case as {resolution} while it still owes" in (
            result.stderr
        )
    # Closing it otherwise is still the worker's, once the feedback is approved.
    result = office("close", "1", "--resolution", "restructured", *LATE, as_="li.na")
    assert result.exit_code == 0, result.output


def test_unlocatable_from_feedback_only_after_failed_visits(office: Run) -> None:
    to_feedback(office)
    result = office("close", "1", "--resolution", "unlocatable", *LATE, as_="li.na")
    assert result.exit_code == 1
    assert "without approved feedback" in result.stderr


def test_field_staff_close_as_unlocatable_in_confirmation(office: Run) -> None:
    result = office("close", "1", "--resolution", "unlocatable", *AT, as_="li.na")
    assert result.exit_code == 0, result.output


def test_check_action_sees_what_was_attempted(office: Run) -> None:
    seen: list[dict[str, Any]] = []

    class Spy:
        @hookimpl
        def check_action(self, action: str, context: Any) -> None:
            if action == "close":
                seen.append(dict(context.extra))

    manager().register(Spy(), name="spy")
    try:
        office(
            "close", "1", "--resolution", "unlocatable", "--note", "moved away", *AT, as_="li.na"
        )
    finally:
        manager().unregister(name="spy")
    assert seen == [{"resolution": "unlocatable", "note": "moved away"}]


def test_two_changes_to_one_case_in_one_batch_see_each_other(
    office: Run, services: Services
) -> None:
    at = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    case = services.get_case(1)
    first = attrs.evolve(case, assigned_to="zhang.min", version=case.version + 1)
    second = attrs.evolve(case, confirmed_address="x", version=case.version + 1)
    with pytest.raises(StaleCase):
        services.store.commit_many(
            [
                Change("case_assigned", "chen.wei", at, (first,), {}, 1, case.version),
                Change("address_confirmed", "chen.wei", at, (second,), {}, 1, case.version),
            ]
        )
    # The whole batch was rolled back.
    assert services.get_case(1) == case


def test_misspelt_hook_in_a_plugin_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "typo_plugin.py").write_text(
        "from fieldcase import hookimpl\n\n@hookimpl\ndef check_acton(case):\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "DEFAULT_PLUGINS", (*plugins.DEFAULT_PLUGINS, "typo_plugin"))
    with pytest.raises(Exception, match="check_acton"):
        get_plugin_manager(load_entrypoints=False)
    sys.modules.pop("typo_plugin", None)


def test_case_event_observers_see_committed_data(office: Run, target: str) -> None:
    committed: list[int] = []

    class Observer:
        @hookimpl
        def case_event(self, event: Any) -> None:
            # A separate connection sees the event only once it is committed.
            committed.append(len(query(target, "SELECT id FROM events WHERE id = ?", [event.id])))

    manager().register(Observer(), name="committed-observer")
    try:
        office("contact", "1", "--channel", "sms", "--outcome", "left-message", *AT, as_="li.na")
    finally:
        manager().unregister(name="committed-observer")
    assert committed == [1]


def test_failing_observer_does_not_undo_the_action(office: Run) -> None:
    class Broken:
        @hookimpl
        def case_event(self) -> None:
            raise RuntimeError("notification service down")

    manager().register(Broken(), name="broken")
    try:
        result = office(
            "contact", "1", "--channel", "sms", "--outcome", "left-message", *AT, as_="li.na"
        )
    finally:
        manager().unregister(name="broken")
    assert result.exit_code == 0
    assert (
        "Warning: plugin 'broken' failed in its case_event hook (RuntimeError: notification"
        " service down); the contact_recorded itself was recorded" in result.stderr
    )
    contacts = json.loads(office("show", "1", "--json", as_="chen.wei").output)["contacts"]
    assert len(contacts) == 1


@pytest.mark.parametrize(
    ("hook", "command"),
    [
        ("check_action", ("contact", "1", "--channel", "sms", "--outcome", "left-message")),
        ("visit_checklist", ("plan", "1", "--date", "2026-11-25", "--window", "10:00-12:00")),
    ],
)
def test_a_failing_hook_names_its_plugin_and_writes_nothing(
    office: Run, target: str, hook: str, command: tuple[str, ...]
) -> None:
    if hook == "visit_checklist":
        assert office("confirm", "1", "--address", "x", *AT, as_="li.na").exit_code == 0

    class Faulty:
        pass

    def fail(**kwargs: Any) -> None:
        raise KeyError("limits")

    setattr(Faulty, hook, staticmethod(hookimpl(fail)))
    before = snapshot(target)
    manager().register(Faulty(), name="faulty-bank")
    try:
        result = office(*command, *AT, as_="li.na")
    finally:
        manager().unregister(name="faulty-bank")
    assert result.exit_code == 1
    assert f"plugin 'faulty-bank' failed in its {hook} hook (KeyError: 'limits')" in result.output
    assert "Traceback" not in result.output
    assert snapshot(target) == before


def test_show_masks_personal_data_for_anyone_not_working_the_case(office: Run) -> None:
    office(
        "contact",
        "1",
        "--channel",
        "employer",
        "--outcome",
        "reached",
        "--target",
        "third-party",
        "--relationship",
        "employer",
        "--note",
        "HR: works at Pudong",
        *AT,
        as_="li.na",
    )
    phone, national_id = "+8613800138000", "310101199001011234"
    viewer: str | None
    for viewer in ("li.na", "chen.wei"):  # assigned; supervisor
        whole = office("show", "1", "--json", as_=viewer).output
        data = json.loads(whole)
        assert data["masked"] is False
        assert data["borrower"]["phone"] == phone
        assert data["contacts"][0]["note"] == "HR: works at Pudong"
    for viewer in ("zhang.min", None):  # another field worker; nobody named
        result = office("show", "1", "--json", as_=viewer)
        data = json.loads(result.output)
        assert data["masked"] is True
        assert data["borrower"]["phone"] == "+86*******8000"
        assert data["borrower"]["national_id"] == "**************1234"
        assert data["borrower"]["address"] == "[masked]"
        assert data["contacts"][0]["note"] == "[masked]"
        text = office("show", "1", as_=viewer).output
        for secret in (phone, national_id, "世纪大道", "Pudong"):
            assert secret not in result.output and secret not in text
        assert "personal data masked" in text


def test_history_masks_personal_data_for_anyone_not_working_the_case(
    office: Run, store_kind: str
) -> None:
    office("confirm", "1", "--address", "杭州市西湖区文三路478号", *AT, as_="li.na")
    assert "文三路" in office("history", "1", as_="li.na").output
    for viewer in ("zhang.min", None):
        result = office("history", "1", "--json", as_=viewer)
        assert result.exit_code == 0
        assert "文三路" not in result.output
        confirmed = [e for e in json.loads(result.output) if e["type"] == "address_confirmed"]
        if store_kind == "postgresql" and viewer is not None:
            assert confirmed[0]["data"] == {}  # the database gives a field worker no payload
        else:
            assert confirmed[0]["data"]["address"] == "[masked]"
