"""Letters and messages from the institution's templates: rendered, judged, recorded, sent.

``fieldcase message`` renders a template of the case's institution
(:mod:`fieldcase.templates`) in the borrower's language, for the recipient
the case holds for the channel (its phone, email, or confirmed address), and
judges it as a contact with the borrower on that channel, through the very
checks of ``fieldcase contact`` (:func:`fieldcase.confirmation.guard_contact`):
an SMS at 22:30 the borrower's time is refused as a call would be. Allowed,
it is recorded as a contact (outcome ``left-message``, as the office records
letters and texts by hand) with the template, the language, the text and its
SHA-256, in one transaction with its event ``message_recorded``.

Only then, the contact committed, is a plugin asked to send it (hook
``send_message``). What it answers is a second event on the contact:
``message_sent`` with its receipt, or ``message_failed`` with why (a plugin
raised, or none sends that channel). The contact stays recorded either way:
it was made, and the rules count it.

:func:`preview_message` renders and asks the rules as ``fieldcase check``
does, and writes nothing. ``Services`` offers both as methods.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

import attrs

from .confirmation import guard_contact
from .errors import FieldcaseError, InvalidInput, NotPermitted, PluginFailed, PolicyDenied
from .model import Case, ContactAttempt, Decision, OutgoingMessage, Staff
from .suggest import hint
from .templates import Rendered, Template, field_values, language_of, render, templates_of

if TYPE_CHECKING:
    from .services import Services

#: The outcome a letter or message is recorded with: left for the borrower to read.
OUTCOME = "left-message"

#: Which of the case's details each channel sends to (any other, a messaging app: the phone).
RECIPIENT_KINDS = {"letter": "address", "email": "email"}
#: The channels whose messages carry a subject line; a short message has none.
WITH_SUBJECT = ("letter", "email")


@attrs.frozen
class Draft:
    """A template made out for one case: to whom, in which language, and what stops it."""

    case: Case
    staff: Staff
    template: Template
    channel: str
    #: The language the borrower reads, and where that comes from.
    wanted: str
    wanted_from: str
    recipient: str
    #: None when it cannot be rendered (the template has no text in the language).
    rendered: Rendered | None
    #: What refuses it before any rule is asked: no text in the language, nobody to send to.
    problems: tuple[Decision, ...] = ()

    @property
    def sha256(self) -> str:
        return "" if self.rendered is None else text_sha256(self.rendered.text)

    @property
    def attempted(self) -> dict[str, Any]:
        """What the contact's event (or refusal) records of it."""
        found = {
            "channel": self.channel,
            "target": "borrower",
            "outcome": OUTCOME,
            "purpose": self.template.purpose,
            "template": self.template.name,
            "language": self.rendered.language if self.rendered else self.wanted,
        }
        return found | ({"message_sha256": self.sha256} if self.rendered else {})


@attrs.frozen
class Preview:
    """What ``message --preview`` shows: the draft and every rule's verdict on it."""

    draft: Draft
    #: (plugin, decision) for every rule consulted, as ``fieldcase check`` lists them.
    verdicts: tuple[tuple[str, Decision], ...]

    @property
    def allowed(self) -> bool:
        return all(d.allowed for _, d in self.verdicts)


def text_sha256(text: str) -> str:
    """The fingerprint of a rendered text: SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recipient_of(case: Case, channel: str) -> str:
    """Where a message on ``channel`` goes: a letter to the confirmed address (else the
    borrower's address), an email to the email, anything else to the phone."""
    kind = RECIPIENT_KINDS.get(channel, "phone")
    if kind == "address":
        return case.confirmed_address or case.borrower.address
    return str(getattr(case.borrower, kind))


def draft_message(
    services: Services, case: Case, staff: Staff, at: dt.datetime, template: str, channel: str
) -> Draft:
    """The template made out for ``case``; InvalidInput for a template or channel that
    does not exist, problems for what refuses it."""
    institution = services.institution_of(case)
    policy = institution.policy
    services.check_channel(case, channel)
    found = templates_of(policy)
    if template not in found:
        names = ", ".join(sorted(found)) or "none"
        raise InvalidInput(
            f"{case.institution} has no template {template!r} (templates: {names})"
            f"{hint(template, found)}; a supervisor adds one with 'fieldcase institution "
            f"policy {case.institution} --set templates.{template}.channels={channel} --set "
            f"templates.{template}.text.en=...'"
        )
    chosen = found[template]
    if channel not in chosen.channels:
        raise InvalidInput(
            f"template {template} goes by {', '.join(chosen.channels)}, not {channel}: "
            f"pass --channel {chosen.channels[0]}"
        )
    judged = services.judged(case)
    wanted, wanted_from = language_of(judged, policy)
    language = chosen.language(wanted)
    problems: list[Decision] = []
    rendered = None
    if language is None:
        problems.append(
            Decision.deny(
                "message.language",
                f"template {template} has no text in {wanted} (the language of {wanted_from}); "
                f"it has {', '.join(sorted(chosen.texts))}: a supervisor adds one with "
                f"'fieldcase institution policy {case.institution} --set "
                f"templates.{template}.text.{wanted}=...'",
            )
        )
    else:
        assert case.id is not None
        values = field_values(
            judged,
            policy,
            institution=institution.name,
            staff_name=staff.name,
            at=at,
            balance=services.money_view(case.id, at).balance.total,
        )
        rendered = render(chosen, language, values, subject=channel in WITH_SUBJECT)
    recipient = recipient_of(case, channel)
    if not recipient:
        kind = RECIPIENT_KINDS.get(channel, "phone")
        problems.append(
            Decision.deny(
                "message.recipient",
                f"case {case.id} has no {kind} to send to by {channel}; record one first: "
                f"fieldcase details {case.id} --{kind} ...",
            )
        )
    return Draft(
        case=case,
        staff=staff,
        template=chosen,
        channel=channel,
        wanted=wanted,
        wanted_from=wanted_from,
        recipient=recipient,
        rendered=rendered,
        problems=tuple(problems),
    )


def preview_message(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    template: str,
    channel: str,
) -> Preview:
    """The message as ``message`` would send it at ``at``, and every rule's verdict on it.

    Writes nothing. The rules are asked as ``fieldcase check --action contact``
    asks them (the stage and permission checks of the action itself are not);
    the text names the borrower, so only someone who may see the case's
    personal data may preview it. ``actor``: who previews, and would send it:
    the one who reads the text, so never anyone else in their stead.
    """
    services.begin_action()
    case = services.store.get_case(ref)
    assert case.id is not None
    staff = services.actor(actor)
    visits = services.store.visits(case.id, case.currency)
    if not services.may_see_personal_data(case, visits, staff.id):
        raise NotPermitted(
            f"a message names the borrower, and case {case.id}'s personal data is for its "
            f"supervisors, assignee and visiting staff (you are {staff.id}); ask one of them",
            "permission.personal_data",
        )
    draft = draft_message(services, case, staff, at, template, channel)
    verdicts = services.dry_run(
        case.id,
        "contact",
        actor=staff.id,
        at=at,
        channel=channel,
        target="borrower",
        purpose=draft.template.purpose,
    )
    return Preview(draft, (*(("fieldcase", d) for d in draft.problems), *verdicts))


def record_message(
    services: Services,
    ref: str | int,
    *,
    actor: str,
    at: dt.datetime,
    template: str,
    channel: str,
) -> tuple[ContactAttempt, OutgoingMessage]:
    """Render ``template`` for the case, record it as a contact if the rules allow, then
    have a plugin send it; returns the contact (its ``delivery`` ``sent`` or
    ``failed``) and the message the plugins were given."""
    staff, case = services.begin(ref, actor, at)
    assert case.id is not None
    draft = draft_message(services, case, staff, at, template, channel)
    attempted = draft.attempted
    # A bad --at is refused before anything, a refusal included, is written.
    services.check_time(
        staff, at, services.settings(case), "contact", case=case, attempted=attempted
    )
    if draft.problems:
        services.refuse(case, staff.id, at, "contact", PolicyDenied(draft.problems), attempted)
    guard_contact(services, case, staff, at, attempted)
    assert draft.rendered is not None
    contact = ContactAttempt(
        case_id=case.id,
        channel=channel,
        target="borrower",
        outcome=OUTCOME,
        at=at,
        staff=staff.id,
        purpose=draft.template.purpose,
        template=draft.template.name,
        language=draft.rendered.language,
        message_sha256=draft.sha256,
        recipient=draft.recipient,
        message_subject=draft.rendered.subject,
        message_text=draft.rendered.text,
        delivery="pending",
    )
    saved_case, contact = services.save_one(
        "message_recorded", case, staff.id, at, contact, attempted
    )
    assert contact.id is not None
    message = OutgoingMessage(
        case_id=case.id,
        contact_id=contact.id,
        template=contact.template,
        channel=channel,
        language=contact.language,
        recipient=contact.recipient,
        text=contact.message_text,
        sha256=contact.message_sha256,
        at=at,
        staff=staff.id,
        subject=contact.message_subject,
    )
    receipt, error = _send(services, message, saved_case)
    # Read again: an observer of the first event may have acted on the case meanwhile.
    current = services.store.get_case(case.id)
    if error is None:
        delivered = attrs.evolve(contact, delivery="sent", receipt=receipt)
        data = {"contact": contact.id, "receipt": receipt}
        _, contact = services.save_one("message_sent", current, staff.id, at, delivered, data)
    else:
        failed = attrs.evolve(contact, delivery="failed", delivery_error=error)
        data = {"contact": contact.id, "error": error}
        _, contact = services.save_one("message_failed", current, staff.id, at, failed, data)
    return contact, message


def _send(services: Services, message: OutgoingMessage, case: Case) -> tuple[str, str | None]:
    """(receipt, None) from the plugin that sent it, or ("", why none did)."""
    try:
        receipt = services.pm.hook.send_message(
            message=message, case=case, settings=services.settings(case)
        )
    except PluginFailed as exc:
        return (
            "",
            f"plugin {exc.plugin} could not send it ({type(exc.error).__name__}: {exc.error})",
        )
    except FieldcaseError as exc:
        return "", str(exc)
    except Exception as exc:  # a plugin registered on a manager that does not name it
        return "", f"{type(exc).__name__}: {exc}"
    if receipt is None:
        return "", (
            f"no plugin sends {message.channel} messages; install fieldcase-documents "
            "(letters as PDF, other messages as files in an outbox folder)"
        )
    return str(receipt), None
