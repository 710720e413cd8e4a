"""The command of letters and messages from templates: ``message``; and ``show``'s lines on them.

Thin over :mod:`fieldcase.messages`, written with the same command context
a plugin's commands use (:mod:`fieldcase.commands`); :func:`register` adds
it to the ``fieldcase`` group.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import click

from .case_views import local_time
from .commands import CommandContext, at_option, echo, json_option, pass_command_context, table
from .messages import Preview
from .model import ContactAttempt, OutgoingMessage


def register(cli: click.Group) -> None:
    """Add the command to ``cli`` (the ``fieldcase`` group)."""

    @cli.command()
    @click.argument("case_ref", metavar="CASE")
    @click.option(
        "--template",
        required=True,
        help="The template, by its name in the institution's policy (templates.<name>).",
    )
    @click.option(
        "--channel",
        required=True,
        help="sms, letter, email, wechat, or a messaging app: one the template goes by.",
    )
    @click.option(
        "--preview",
        is_flag=True,
        help="Show the text and every rule's verdict on sending it; write and send nothing.",
    )
    @at_option
    @json_option
    @pass_command_context
    def message(
        context: CommandContext,
        case_ref: str,
        template: str,
        channel: str,
        preview: bool,
        at: dt.datetime,
        json_: bool,
    ) -> None:
        """Send the borrower a letter or message from one of the institution's templates.

        The template is rendered in the borrower's language (the case's
        attribute language if the institution declares one, else the policy's
        message_language, else zh in CN and en elsewhere) and judged as a
        contact with the borrower on that channel, by the same rules as
        'fieldcase contact'. Allowed, it is recorded as a contact with the
        template, the language and the SHA-256 of its text; then a plugin
        sends it (fieldcase-documents writes letters as PDF and other
        messages as files in an outbox folder). If none can, the failure is
        recorded beside the contact, which stays, and the command exits 1.

        --preview prints the text and every rule's verdict, as 'fieldcase
        check' does, and writes nothing: exit 0 if it would be allowed, 1 if
        not.

        \b
        Example:
            fieldcase --as li.na message 42 --template reminder --channel sms --preview
            fieldcase --as li.na message 42 --template reminder --channel letter
        """
        if preview:
            found = context.services.preview_message(
                case_ref, actor=context.staff().id, at=at, template=template, channel=channel
            )
            context.emit(preview_json(found), json_, lambda: print_preview(found))
            if not found.allowed:
                sys.exit(1)
            return
        contact, sent = context.services.record_message(
            case_ref, actor=context.staff().id, at=at, template=template, channel=channel
        )
        context.emit(message_json(contact, sent), json_, lambda: print_message(contact, sent))
        if contact.delivery != "sent":
            echo(
                f"Error: not sent: {contact.delivery_error}. The contact stays recorded "
                f"(contact {contact.id}, delivery failed)",
                err=True,
            )
            sys.exit(1)


def message_json(contact: ContactAttempt, sent: OutgoingMessage) -> dict[str, Any]:
    """``message --json``: the message as the plugins got it, and what became of it."""
    return attrs.asdict(sent) | {
        "purpose": contact.purpose,
        "delivery": contact.delivery,
        "receipt": contact.receipt,
        "error": contact.delivery_error,
    }


def print_message(contact: ContactAttempt, sent: OutgoingMessage) -> None:
    echo(
        f"Case {sent.case_id}: {sent.channel} from template {sent.template} ({sent.language}) "
        f"recorded as contact {contact.id}, sha256 {sent.sha256}"
    )
    if contact.delivery == "sent":
        echo(f"Sent: {contact.receipt}")


def preview_json(found: Preview) -> dict[str, Any]:
    """``message --preview --json``: the draft, and the verdicts as ``check --json`` gives them."""
    draft, rendered = found.draft, found.draft.rendered
    return {
        "case_id": draft.case.id,
        "template": draft.template.name,
        "channel": draft.channel,
        "purpose": draft.template.purpose,
        "language": rendered.language if rendered else draft.wanted,
        "recipient": draft.recipient,
        "subject": rendered.subject if rendered else "",
        "text": rendered.text if rendered else None,
        "sha256": draft.sha256 or None,
        "allowed": found.allowed,
        "verdicts": verdict_rows(found),
    }


def verdict_rows(found: Preview) -> list[dict[str, str]]:
    return [
        {
            "plugin": plugin,
            "rule": d.rule,
            "verdict": "allow" if d.allowed else "DENY",
            "reason": d.reason,
        }
        for plugin, d in found.verdicts
    ]


def print_preview(found: Preview) -> None:
    draft, rendered = found.draft, found.draft.rendered
    language = rendered.language if rendered else draft.wanted
    echo(
        f"Template {draft.template.name} by {draft.channel} ({draft.template.purpose}), "
        f"in {language}, to {draft.recipient or '-'}"
    )
    if rendered is not None:
        if rendered.subject:
            echo(f"Subject: {rendered.subject}")
        echo("-" * 40)
        echo(rendered.text)
        echo("-" * 40)
        echo(f"sha256 {draft.sha256}")
    table(verdict_rows(found), ["verdict", "rule", "reason", "plugin"])
    echo("Would be sent." if found.allowed else "Would be refused.")


def show_messages(contacts: Sequence[ContactAttempt], zone: str) -> None:
    """``show``'s letters and messages: template, channel, when, delivery, fingerprint."""
    sent = [c for c in contacts if c.template]
    if not sent:
        return
    echo("\nLetters and messages")
    table(
        [
            {
                "contact": c.id,
                "at": local_time(c.at, zone),
                "channel": c.channel,
                "template": c.template,
                "language": c.language,
                "delivery": c.delivery,
                "sha256": c.message_sha256,
            }
            for c in sent
        ]
    )
