"""Letters and messages from the institution's templates, through the command line.

Templates are set in the policy and checked then; a message is rendered in the
borrower's language, judged as a contact on its channel by the rule packs,
recorded with its fingerprint, and handed to a plugin to send. Each story runs
on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import AT, Run, create_args, events, query, register, set_policy, snapshot
from fieldcase import hookimpl
from fieldcase.model import Case, OutgoingMessage
from fieldcase.testing import OnlyPlugins, RegisterPlugin
from test_institutions import fieldcase, tampered_copy

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

#: A reminder in Chinese and English, by SMS or letter (case 1 is hx-consumer's, in CN).
REMINDER = (
    'templates.reminder.channels=["sms", "letter"]',
    'templates.reminder.text.zh="$borrower_name您好：您在$institution的贷款$reference已逾期'
    '$days_past_due天，逾期金额$overdue_amount。请尽快还款。"',
    'templates.reminder.text.en="Dear $borrower_name, loan $reference is $days_past_due days '
    'overdue: $overdue_amount. Please call us."',
    'templates.reminder.subject.zh="关于贷款$reference的还款提醒"',
)
ZH_TEXT = "王芳您好：您在hx-consumer的贷款L-1001已逾期69天，逾期金额CNY 3,150.40。请尽快还款。"


class Sender:
    """A gateway for the tests: keeps what it was given, answers with a receipt."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    @hookimpl(tryfirst=True)
    def send_message(
        self, message: OutgoingMessage, case: Case, settings: Mapping[str, Any]
    ) -> str | None:
        self.sent.append(message)
        return f"gateway-{message.contact_id}"


class BrokenSender:
    @hookimpl(tryfirst=True)
    def send_message(self, message: OutgoingMessage) -> str | None:
        raise ConnectionError("SMS gateway unreachable")


@pytest.fixture(autouse=True)
def packs(only_plugins: OnlyPlugins) -> None:
    """The rule packs of the stories, and no installed plugin that sends."""
    only_plugins("fieldcase-us-regf", "fieldcase-cn")


@pytest.fixture
def sender(packs: None, register_plugin: RegisterPlugin) -> Sender:
    gateway = Sender()
    register_plugin(gateway, name="test-gateway")
    return gateway


@pytest.fixture
def reminders(office: Run) -> Run:
    """The office, with hx-consumer's reminder template (policy version 2)."""
    set_policy(office, "hx-consumer", *REMINDER)
    return office


def message(run: Run, case: str, *options: str, at: str = AT[1], as_: str = "li.na") -> Result:
    return run("message", case, *options, "--at", at, as_=as_)


def event_types(target: str, case_id: int = 1) -> list[str]:
    return [e["type"] for e in events(target, case_id)]


def refused_rules(target: str, case_id: int) -> list[str]:
    (last,) = [e for e in events(target, case_id)][-1:]
    assert last["type"] == "refused"
    return [reason["rule"] for reason in json.loads(last["payload"])["data"]["reasons"]]


# -- templates in the policy --------------------------------------------------------------


def test_a_template_is_set_and_shown_with_the_policy(reminders: Run) -> None:
    shown = reminders("institution", "show", "hx-consumer", *AT)
    assert shown.exit_code == 0, shown.output
    assert "templates.reminder.channels = sms,letter" in shown.output
    assert "templates.reminder.text.en = Dear $borrower_name" in shown.output
    keys = reminders("institution", "keys").output
    assert "templates.<name>.<field>" in keys and "message_language" in keys


@pytest.mark.parametrize(
    ("assignments", "says"),
    [
        (
            ("templates.t.channels=sms", 'templates.t.text.en="Dear $borower_name"'),
            "templates.t.text.en: unknown placeholder $borower_name; did you mean "
            "borrower_name? (placeholders: $balance, $borrower_name,",
        ),
        (
            ("templates.t.channels=sms,fax", 'templates.t.text.en="Hello"'),
            "template t: 'fax' is not one of the institution's channels for templates "
            "(sms, letter, email, wechat)",
        ),
        (
            ("templates.t.channels=sms", 'templates.t.text.en="Pay $5 now"'),
            "templates.t.text.en: the $ in 'Pay $5 now' starts no placeholder",
        ),
        (('templates.t.text.en="Hello"',), "template t goes through no channel"),
        (("templates.t.channels=sms",), "template t has no text"),
        (
            ("templates.t.channels=sms", 'templates.t.text.english="Hello"'),
            "'english' is not a language tag",
        ),
        (("templates.t.channels=sms", "templates.t.purpose=sell"), "must be one of collect"),
        (
            ("templates.t.channels=sms", 'templates.t.text.en="Hi"', 'templates.t.subject.zh="x"'),
            "template t has a subject in zh but no text in it",
        ),
        (("templates.t.body.en=Hello",), "a template has channels, purpose, text.<language>"),
    ],
    ids=[
        "unknown placeholder",
        "unknown channel",
        "stray dollar",
        "no channel",
        "no text",
        "bad language",
        "bad purpose",
        "subject without text",
        "unknown field",
    ],
)
def test_a_bad_template_is_refused_and_changes_nothing(
    office: Run, target: str, assignments: tuple[str, ...], says: str
) -> None:
    before = snapshot(target)
    args = [arg for text in assignments for arg in ("--set", text)]
    result = office("institution", "policy", "hx-consumer", *args, *AT, as_="chen.wei")
    assert result.exit_code == 2
    assert says in result.stderr
    assert snapshot(target) == before


def test_a_messaging_app_is_a_template_channel_once_the_institution_uses_it(
    office: Run,
) -> None:
    line = ("templates.t.channels=sms,line", 'templates.t.text.en="Hello $borrower_name"')
    args = [arg for text in line for arg in ("--set", text)]
    refused = office("institution", "policy", "hx-consumer", *args, *AT, as_="chen.wei")
    assert "--set messaging_channels=line" in refused.stderr
    set_policy(office, "hx-consumer", "messaging_channels=line", *line)
    # ...and the app cannot leave the channels while a template goes by it.
    dropped = office(
        "institution", "policy", "hx-consumer", "--unset", "messaging_channels", *AT, as_="chen.wei"
    )
    assert dropped.exit_code == 2 and "template t: 'line'" in dropped.stderr


def test_a_template_may_use_the_institutions_attributes(office: Run) -> None:
    use = ("templates.t.channels=letter", 'templates.t.text.en="Branch: $branch"')
    args = [arg for text in use for arg in ("--set", text)]
    refused = office("institution", "policy", "hx-consumer", *args, *AT, as_="chen.wei")
    assert "unknown placeholder $branch" in refused.stderr
    set_policy(office, "hx-consumer", 'attributes.branch="text"', *use)
    # An attribute a template uses stays declared.
    undeclared = office(
        "institution", "policy", "hx-consumer", "--unset", "attributes.branch", *AT, as_="chen.wei"
    )
    assert undeclared.exit_code == 2 and "unknown placeholder $branch" in undeclared.stderr


def test_templates_come_from_a_policy_file_and_go_with_unset(office: Run, tmp_path: Path) -> None:
    policy = tmp_path / "letters.toml"
    policy.write_text(
        '[templates.final-notice]\nchannels = ["letter"]\npurpose = "collect"\n'
        'subject.en = "Final notice: loan $reference"\n'
        'text.en = """\nDear $borrower_name,\n\nYour loan $reference is $days_past_due days '
        'overdue.\n\nYours sincerely,\n$staff_name\n"""\n',
        encoding="utf-8",
    )
    result = office(
        "institution", "policy", "hx-consumer", "--from", str(policy), *AT, as_="chen.wei"
    )
    assert result.exit_code == 0, result.output
    assert "templates.final-notice.text.en: (default) -> Dear $borrower_name," in result.output
    gone = office(
        "institution", "policy", "hx-consumer", "--unset", "templates.final-notice",
        "--at", "2026-11-23T12:01+08:00", as_="chen.wei",
    )  # fmt: skip
    assert gone.exit_code == 0, gone.output
    shown = office("institution", "show", "hx-consumer", "--json", "--at", "2026-11-23T12:02+08:00")
    assert "templates" not in json.loads(shown.output)["policy"]


# -- preview: the text and the verdicts, nothing written --------------------------------------


def test_a_preview_shows_the_text_and_the_verdicts_and_writes_nothing(
    reminders: Run, target: str, sender: Sender
) -> None:
    before = snapshot(target)
    shown = message(reminders, "1", "--template", "reminder", "--channel", "letter", "--preview")
    assert shown.exit_code == 0, shown.output
    assert ZH_TEXT in shown.output
    assert "Subject: 关于贷款L-1001的还款提醒" in shown.output
    assert "to 上海市浦东新区世纪大道100号" in shown.output
    assert f"sha256 {hashlib.sha256(ZH_TEXT.encode()).hexdigest()}" in shown.output
    assert "Would be sent." in shown.output

    data = json.loads(
        message(
            reminders, "1", "--template", "reminder", "--channel", "sms", "--preview", "--json"
        ).output
    )
    assert data["text"] == ZH_TEXT and data["language"] == "zh" and data["subject"] == ""
    assert data["recipient"] == "+8613800138000" and data["allowed"] is True
    assert data["sha256"] == hashlib.sha256(ZH_TEXT.encode("utf-8")).hexdigest()
    assert snapshot(target) == before
    assert sender.sent == []


def test_a_preview_without_as_shows_nobody_the_borrower_s_data(
    reminders: Run, target: str, sender: Sender
) -> None:
    # Whoever previews reads the text: an anonymous caller is not the assignee.
    before = snapshot(target)
    for channel in ("sms", "letter"):
        shown = reminders(
            "message", "1", "--template", "reminder", "--channel", channel, "--preview",
            "--at", AT[1],
        )  # fmt: skip
        assert shown.exit_code == 2, shown.output
        assert "pass --as STAFF" in shown.output
        for personal in ("+8613800138000", "上海市浦东新区世纪大道100号", ZH_TEXT[:6]):
            assert personal not in shown.output
    assert snapshot(target) == before
    assert sender.sent == []


# -- a message, recorded and sent ---------------------------------------------------------------


def test_a_message_is_recorded_with_the_fingerprint_of_what_the_sender_received(
    reminders: Run, target: str, sender: Sender
) -> None:
    result = message(reminders, "1", "--template", "reminder", "--channel", "sms")
    assert result.exit_code == 0, result.output
    (sent,) = sender.sent
    assert sent.text == ZH_TEXT and sent.channel == "sms" and sent.language == "zh"
    assert sent.recipient == "+8613800138000" and sent.staff == "li.na" and sent.subject == ""
    fingerprint = hashlib.sha256(sent.text.encode("utf-8")).hexdigest()
    assert sent.sha256 == fingerprint
    assert result.output == (
        f"Case 1: sms from template reminder (zh) recorded as contact {sent.contact_id}, "
        f"sha256 {fingerprint}\nSent: gateway-{sent.contact_id}\n"
    )

    (row,) = query(
        target,
        "SELECT id, channel, target, outcome, purpose, template, language, message_sha256, "
        "recipient, message_text, delivery, receipt FROM contacts",
    )
    assert tuple(row) == (
        sent.contact_id, "sms", "borrower", "left-message", "collect", "reminder", "zh",
        fingerprint, "+8613800138000", ZH_TEXT, "sent", f"gateway-{sent.contact_id}",
    )  # fmt: skip
    assert event_types(target)[-2:] == ["message_recorded", "message_sent"]
    recorded = json.loads(events(target, 1)[-2]["payload"])
    assert recorded["data"]["template"] == "reminder"
    assert recorded["data"]["message_sha256"] == fingerprint

    shown = reminders("show", "1", as_="li.na")
    assert "Letters and messages" in shown.output
    assert fingerprint in shown.output and "reminder" in shown.output
    (contact,) = json.loads(reminders("show", "1", "--json", as_="li.na").output)["contacts"]
    assert contact["message_text"] == ZH_TEXT and contact["delivery"] == "sent"


def test_a_letter_goes_to_the_confirmed_address_with_its_subject(
    reminders: Run, sender: Sender
) -> None:
    confirmed = reminders(
        "confirm", "1", "--address", "上海市黄浦区南京东路1号", "--at", "2026-11-23T11:00+08:00",
        as_="li.na",
    )  # fmt: skip
    assert confirmed.exit_code == 0, confirmed.output
    result = message(reminders, "1", "--template", "reminder", "--channel", "letter", "--json")
    assert result.exit_code == 0, result.output
    (sent,) = sender.sent
    assert sent.recipient == "上海市黄浦区南京东路1号"
    assert sent.subject == "关于贷款L-1001的还款提醒"
    data = json.loads(result.output)
    assert data["delivery"] == "sent" and data["receipt"] == f"gateway-{sent.contact_id}"
    assert data["sha256"] == hashlib.sha256(data["text"].encode()).hexdigest()


def test_the_borrowers_language_the_case_or_the_policy_says_wins(
    reminders: Run, sender: Sender
) -> None:
    # The case says English...
    set_policy(reminders, "hx-consumer", 'attributes.language="text"', at=AT[1])
    created = reminders(
        *create_args("L-2002", name="Wang Fang"), "--attribute", "language=en",
        "--assign", "li.na", *AT, as_="chen.wei",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert message(reminders, "2", "--template", "reminder", "--channel", "sms").exit_code == 0
    assert sender.sent[-1].language == "en"
    assert sender.sent[-1].text.startswith("Dear Wang Fang, loan L-2002 is 69 days overdue")
    # ...case 1 says none: the policy's language, else the jurisdiction's (zh in CN).
    set_policy(reminders, "hx-consumer", "message_language=en", at="2026-11-23T12:01+08:00")
    sent = message(
        reminders, "1", "--template", "reminder", "--channel", "sms",
        at="2026-11-23T12:02+08:00",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    assert sender.sent[-1].language == "en"


def test_no_text_in_the_borrowers_language_is_refused_by_name(
    office: Run, target: str, sender: Sender
) -> None:
    set_policy(office, "hx-consumer", "templates.t.channels=sms", 'templates.t.text.en="Hi"')
    before = event_types(target)
    result = message(office, "1", "--template", "t", "--channel", "sms")
    assert result.exit_code == 1
    assert (
        "Refused: template t has no text in zh (the language of jurisdiction CN); it has en"
        in result.stderr
    )
    assert event_types(target) == [*before, "refused"]
    assert refused_rules(target, 1) == ["message.language"]
    assert sender.sent == []


def test_no_phone_to_send_to_is_refused_before_anything_is_recorded(
    reminders: Run, target: str, sender: Sender
) -> None:
    args = create_args("L-3003")
    phone = args.index("--phone")
    del args[phone : phone + 2]
    created = reminders(*args, "--assign", "li.na", *AT, as_="chen.wei")
    assert created.exit_code == 0, created.output
    before = query(target, "SELECT count(*) FROM contacts")
    result = message(reminders, "2", "--template", "reminder", "--channel", "sms")
    assert result.exit_code == 1
    assert "case 2 has no phone to send to by sms" in result.stderr
    assert "fieldcase details 2 --phone" in result.stderr
    assert refused_rules(target, 2) == ["message.recipient"]
    assert query(target, "SELECT count(*) FROM contacts") == before
    assert sender.sent == []


def test_an_unknown_template_or_a_channel_it_does_not_go_by_is_a_usage_error(
    reminders: Run, target: str, sender: Sender
) -> None:
    before = snapshot(target)
    unknown = message(reminders, "1", "--template", "remindr", "--channel", "sms")
    assert unknown.exit_code == 2
    assert (
        "hx-consumer has no template 'remindr' (templates: reminder); did you mean reminder?"
        in (unknown.stderr)
    )
    by_email = message(reminders, "1", "--template", "reminder", "--channel", "email")
    assert by_email.exit_code == 2
    assert "template reminder goes by sms, letter, not email" in by_email.stderr
    assert message(reminders, "1", "--template", "reminder", "--channel", "fax").exit_code == 2
    assert snapshot(target) == before and sender.sent == []


# -- the rule packs judge it as a contact on its channel ---------------------------------------


@pytest.fixture
def midwest(office: Run) -> Run:
    """The office, with Midwest Credit (US-IL, bound by us-regf) and its case 2 for li.na."""
    register(
        office, "midwest", "--set", "rule_packs=us-regf",
        "--set", "templates.reminder.channels=sms",
        "--set", 'templates.reminder.text.en="Hi $borrower_name, $overdue_amount is overdue."',
        jurisdiction="US-IL", timezone="America/Chicago", currency="USD",
    )  # fmt: skip
    created = office(
        *create_args(
            "MW-7", institution="midwest", name="Dana Reyes", timezone="America/Chicago",
            currency="USD", jurisdiction="US-IL", phone="+1 312 555 0100",
            address="1 Main St, Springfield, IL",
        ),
        "--assign", "li.na", "--at", "2026-11-23T08:00-06:00", as_="chen.wei",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return office


def test_an_sms_at_2230_local_is_refused_by_the_us_pack_like_a_call(
    midwest: Run, target: str, sender: Sender
) -> None:
    late = "2026-11-23T22:30-06:00"
    before = event_types(target, 2)
    contacts = query(target, "SELECT count(*) FROM contacts")
    result = message(midwest, "2", "--template", "reminder", "--channel", "sms", at=late)
    assert result.exit_code == 1
    assert "(rule us.regf.hours)" in result.stderr
    assert event_types(target, 2) == [*before, "refused"]
    assert refused_rules(target, 2) == ["us.regf.hours"]
    assert query(target, "SELECT count(*) FROM contacts") == contacts
    assert sender.sent == []
    # The same rule, word for word, as a call at that time.
    call = midwest(
        "contact", "2", "--channel", "phone", "--outcome", "no-answer", "--at", late, as_="li.na"
    )
    assert call.exit_code == 1
    assert call.stderr.replace("phone", "sms") == result.stderr.replace("phone", "sms")
    # Asked first, the preview says so, and writes nothing.
    seen = snapshot(target)
    preview = message(
        midwest, "2", "--template", "reminder", "--channel", "sms", "--preview", at=late
    )
    assert preview.exit_code == 1
    assert "DENY" in preview.output and "us.regf.hours" in preview.output
    assert "Would be refused." in preview.output
    assert snapshot(target) == seen


def test_the_same_sms_at_10_local_is_sent(midwest: Run, target: str, sender: Sender) -> None:
    result = message(
        midwest, "2", "--template", "reminder", "--channel", "sms", at="2026-11-24T10:00-06:00"
    )
    assert result.exit_code == 0, result.output
    (sent,) = sender.sent
    assert sent.text == "Hi Dana Reyes, USD 3,150.40 is overdue." and sent.language == "en"
    assert sent.recipient == "+13125550100"
    assert event_types(target, 2)[-2:] == ["message_recorded", "message_sent"]


# -- sending fails: the contact stays, the failure is recorded ---------------------------------


def test_a_send_failure_is_recorded_beside_the_contact_and_exits_1(
    reminders: Run, target: str, register_plugin: RegisterPlugin
) -> None:
    register_plugin(BrokenSender(), name="broken-gateway")
    result = message(reminders, "1", "--template", "reminder", "--channel", "sms")
    assert result.exit_code == 1
    assert "recorded as contact" in result.stdout
    assert (
        "Error: not sent: plugin broken-gateway could not send it (ConnectionError: SMS "
        "gateway unreachable)" in result.stderr
    )
    assert event_types(target)[-2:] == ["message_recorded", "message_failed"]
    (row,) = query(target, "SELECT outcome, delivery, receipt, delivery_error FROM contacts")
    assert tuple(row) == (
        "left-message", "failed", "",
        "plugin broken-gateway could not send it (ConnectionError: SMS gateway unreachable)",
    )  # fmt: skip


def test_without_a_plugin_that_sends_the_failure_says_what_to_install(
    reminders: Run, target: str
) -> None:
    result = message(reminders, "1", "--template", "reminder", "--channel", "letter", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["delivery"] == "failed"
    assert data["error"].startswith("no plugin sends letter messages; install fieldcase-documents")
    assert event_types(target)[-1] == "message_failed"
    assert query(target, "SELECT delivery FROM contacts") == [("failed",)]


# -- the record: replayed, masked, purged -------------------------------------------------------


def test_replay_rebuilds_the_messages_and_notices_an_edited_text(
    reminders: Run, target: str, sender: Sender, request: pytest.FixtureRequest
) -> None:
    assert message(reminders, "1", "--template", "reminder", "--channel", "sms").exit_code == 0
    verified = reminders("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output
    tampered = tampered_copy(
        target, request, "UPDATE contacts SET message_text = 'You owe nothing.'"
    )
    result = fieldcase(tampered, "audit", "verify", "--replay")
    assert result.exit_code == 1
    assert "contacts row 1" in result.stderr


def test_a_message_is_masked_for_others_and_purged_with_the_case(
    reminders: Run, target: str, db_path: Path, store_kind: str, sender: Sender
) -> None:
    assert message(reminders, "1", "--template", "reminder", "--channel", "sms").exit_code == 0
    other = json.loads(reminders("show", "1", "--json", as_="zhang.min").output)
    (contact,) = other["contacts"]
    assert contact["message_text"] == "[masked]" and contact["recipient"] == "[masked]"
    assert contact["message_sha256"] == "[masked]"
    assert contact["template"] == "reminder" and contact["delivery"] == "sent"
    history = reminders("history", "1", "--json", as_="zhang.min")
    assert sender.sent[0].sha256 not in history.output
    preview = message(
        reminders, "1", "--template", "reminder", "--channel", "sms", "--preview", as_="zhang.min"
    )
    assert preview.exit_code == 1 and "(rule permission.personal_data)" in preview.stderr

    assert reminders("close", "1", "--resolution", "paid", *AT, as_="chen.wei").exit_code == 0
    purged = reminders("purge", "--at", "2031-12-01T00:00+08:00", as_="chen.wei")
    assert purged.exit_code == 0, purged.output
    dump = repr(snapshot(target))
    assert ZH_TEXT not in dump and sender.sent[0].sha256 not in dump
    if store_kind == "sqlite":  # nor the file's bytes (a server keeps its own pages)
        files = [db_path, Path(f"{db_path}-wal")]
        assert ZH_TEXT.encode() not in b"".join(f.read_bytes() for f in files if f.exists())
    kept = query(
        target, "SELECT template, language, delivery, message_text, recipient FROM contacts"
    )
    assert kept == [("reminder", "zh", "sent", "", "")]
    verified = reminders("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output


def test_a_message_is_not_voided_and_blocks_no_void_before_it(
    reminders: Run, target: str, sender: Sender
) -> None:
    confirmed = reminders(
        "confirm", "1", "--address", "上海市黄浦区南京东路1号", "--at", "2026-11-23T11:00+08:00",
        as_="li.na",
    )  # fmt: skip
    assert confirmed.exit_code == 0, confirmed.output
    assert message(reminders, "1", "--template", "reminder", "--channel", "letter").exit_code == 0
    ids = {e["type"]: e["id"] for e in events(target, 1)}
    sent = reminders(
        "void", "1", str(ids["message_recorded"]), "--reason", "Wrong template", "--at",
        "2026-11-23T12:05+08:00", as_="chen.wei",
    )  # fmt: skip
    assert sent.exit_code == 1
    assert "a letter or message that went out is not taken back" in sent.stderr
    # A letter is no step of the visit's path: the address confirmed before it may go.
    address = reminders(
        "void", "1", str(ids["address_confirmed"]), "--reason", "Wrong case", "--at",
        "2026-11-23T12:06+08:00", as_="chen.wei",
    )  # fmt: skip
    assert address.exit_code == 0, address.output


def test_a_contact_recorded_by_hand_carries_no_message_fields(office: Run, target: str) -> None:
    called = office(
        "contact", "1", "--channel", "phone", "--outcome", "no-answer", *AT, as_="li.na"
    )
    assert called.exit_code == 0, called.output
    (row,) = json.loads(events(target, 1)[-1]["payload"])["rows"][1:]
    assert row["table"] == "contacts" and "template" not in row["row"]
    assert query(target, "SELECT template, delivery FROM contacts") == [(None, None)]
    (contact,) = json.loads(office("show", "1", "--json", as_="li.na").output)["contacts"]
    assert contact["template"] == "" and contact["delivery"] == ""
    assert "Letters and messages" not in office("show", "1", as_="li.na").output
