"""The ``fieldcase`` command line: thin click commands over the services."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import logging
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import (
    __version__,
    attachment_commands,
    checkin_commands,
    clock,
    correction_commands,
    inquiry_commands,
    lifecycle,
    message_commands,
    pack_commands,
    protection_commands,
    review_commands,
    visit_report_commands,
)
from .case_views import (
    balance_json,
    local_time,
    money,
    payment_status,
    print_balance,
    review_lines,
    show_reviews,
)
from .commands import (
    DAY,
    at_option,
    echo,
    emit,
    json_option,
    json_rows,
    parse_time,
    table,
)
from .commands import now as real_now
from .errors import (
    CaseNotFound,
    FieldcaseError,
    InstitutionNotFound,
    InvalidInput,
    Refused,
    StaffNotFound,
    StaleCase,
)
from .text import TextRefused, clean, visible, visible_json

if TYPE_CHECKING:
    from decimal import Decimal

    import pluggy

    from .arrangements import MoneyView
    from .casefiles import CaseFile
    from .model import Case, ContactDetail, Event, Payment, Visit
    from .services import Services
    from .store import Store

F = TypeVar("F", bound=Callable[..., Any])


# -- text in, errors and exit codes ----------------------------------------------------------


def clean_parameters(ctx: click.Context) -> None:
    """Every string a command is given goes through :func:`fieldcase.text.clean`, by its name.

    A ``--note`` is checked as a note, ``--reference`` as a reference, any other
    text as a plain value: nothing reaches a command, or the database, unchecked.
    """
    for param in ctx.command.params:
        name = param.name
        value = ctx.params.get(name) if name else None
        if name is None or not (
            isinstance(value, str)
            or (isinstance(value, tuple) and all(isinstance(v, str) for v in value))
        ):
            continue
        try:
            if isinstance(value, str):
                ctx.params[name] = clean(value, name)
            else:
                ctx.params[name] = tuple(clean(v, name) for v in value)
        except TextRefused as exc:
            raise click.BadParameter(f"{exc.shown} {exc.reason}", ctx=ctx, param=param) from None


def caseless_choices(params: Sequence[click.Parameter]) -> None:
    """Closed choices written in lower case (channels' targets, outcomes, roles...) are
    read in any case: 'Borrower' is borrower, and the lower-case form is what is stored."""
    for param in params:
        kind = param.type
        if isinstance(kind, click.Choice) and all(
            isinstance(c, str) and c == c.lower() for c in kind.choices
        ):
            kind.case_sensitive = False


def refuse_repeats(ctx: click.Context, given: Sequence[click.Parameter]) -> None:
    """An option that takes one value, given twice, is refused rather than the last kept;
    so are two flags that set the same thing (``--approve --return``)."""
    seen: dict[str, list[click.Option]] = {}
    for param in given:
        if isinstance(param, click.Option) and param.name and not (param.multiple or param.count):
            seen.setdefault(param.name, []).append(param)
    for options in seen.values():
        spellings = list(dict.fromkeys(o.opts[0] for o in options))
        if len(spellings) > 1:
            raise click.UsageError(
                f"{' and '.join(spellings)} exclude each other; give one of them", ctx
            )
        option = options[0]
        if len(options) > 1 and not (option.is_flag and not option.secondary_opts):
            times = "twice" if len(options) == 2 else f"{len(options)} times"
            form = "/".join([*option.opts, *option.secondary_opts])
            if not option.is_flag:
                form = f"{form} {option.make_metavar(ctx)}"
            raise click.UsageError(f"{option.opts[0]} is given {times}; give it once: {form}", ctx)


class CheckedParsing(click.Command):
    """What every fieldcase command and group does with its command line before the
    values are converted: choices read in any case, repeated options refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        caseless_choices(self.params)

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_once(args: list[str]) -> Any:
            opts, rest, order = parse(args)
            refuse_repeats(ctx, order)
            return opts, rest, order

        parser.parse_args = parse_once  # type: ignore[method-assign]
        return parser


class FieldcaseCommand(CheckedParsing):
    """Text checked on the way in; bad input found by the services is a usage error (exit 2)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        clean_parameters(ctx)
        return rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            raise click.UsageError(visible(str(exc)), ctx) from None


class FieldcaseGroup(CheckedParsing, click.Group):
    """Turns domain errors into exit codes: 1 refused or not found, 2 bad input."""

    command_class = FieldcaseCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Bytes that are not UTF-8 reach Python as lone surrogates, which no file holds.
        for arg in args:
            if re.search("[\ud800-\udfff]", arg):
                text = arg.encode("utf-8", "backslashreplace").decode()
                raise click.UsageError(
                    f"'{text}' is not UTF-8 text; set the terminal to UTF-8", ctx
                )
        rest = super().parse_args(ctx, args)
        clean_parameters(ctx)
        return rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Refused as exc:
            echo(f"Refused: {exc.explain()}", err=True)
            ctx.exit(1)
        except (CaseNotFound, StaffNotFound, StaleCase, InstitutionNotFound) as exc:
            echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except InvalidInput as exc:
            raise click.UsageError(visible(str(exc)), ctx) from None
        except FieldcaseError as exc:
            echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                self.disk_refused(ctx, exc)
                raise
            echo(
                "Error: the database stayed busy with other people's changes for 30 s; "
                "nothing was written, try again",
                err=True,
            )
            ctx.exit(1)
        except (OSError, sqlite3.Error) as exc:
            self.disk_refused(ctx, exc)
            raise
        except Exception as exc:
            if not type(exc).__module__.startswith("psycopg"):
                raise
            # The PostgreSQL server refused (a privilege, a trigger) or went away.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            echo(f"Error: the database refused it: {reason}; nothing was written", err=True)
            ctx.exit(1)

    @staticmethod
    def disk_refused(ctx: click.Context, exc: OSError | sqlite3.Error) -> None:
        """A write the disk refused that no action worded (the store and outputs do): an
        ``Error:`` line saying so and what to do, exit 1. Anything else is left to raise."""
        from .outputs import disk_refusal

        refusal = disk_refusal(exc)
        if refusal is None:
            return
        reason, remedy = refusal
        if isinstance(exc, OSError):
            where = f" writing {exc.filename}" if exc.filename else ""
        else:
            where = f" writing the database {ctx.obj.db_path}" if isinstance(ctx.obj, App) else ""
        echo(f"Error: {reason}{where}: {remedy} and run the command again", err=True)
        ctx.exit(1)


class DefaultedGroup(FieldcaseGroup):
    """A group whose first argument, when it names none of its commands, starts its
    default command's: ``payment 42 1500`` is ``payment record 42 1500``.

    Give it ``context_settings={"ignore_unknown_options": True}`` so that the default
    command's options, and negative amounts, pass through the group to it.
    """

    def __init__(self, *args: Any, default_command: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and self.get_command(ctx, args[0]) is None:
            args = [self.default_command, *args]
        return super().resolve_command(ctx, args)


class _WarningEcho(logging.Handler):
    """What the services log as a warning reaches the person at the terminal, on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        echo(f"Warning: {record.getMessage()}", err=True)


# -- shared options ----------------------------------------------------------------------


class App:
    """What every command needs: the store and services, opened on first use."""

    def __init__(self, db_path: str, actor: str | None) -> None:
        self.db_path = db_path
        self.actor = actor
        self._services: Services | None = None
        #: ``institution migrate`` is reading the old file: no need to warn about it.
        self.migrating_config = False

    def open(self, create: bool = False, *, read_only: bool = False) -> Services:
        """The services over the database; ``read_only`` for commands that only read.

        Read-only, a command changes nothing in or beside the file, not even its
        journal mode: a backup it checks stays readable from read-only media.
        """
        if self._services is None:
            from .offline import services_for
            from .plugins import manager
            from .store import Store
            from .store.dialect import is_server_url, redact_url

            server = is_server_url(self.db_path)
            if not create and not server and not Path(self.db_path).exists():
                raise click.ClickException(
                    f"no database at {self.db_path}; run 'fieldcase --db {self.db_path} init' "
                    "first (or set FIELDCASE_DB)"
                )
            if Path("fieldcase.toml").is_file() and not self.migrating_config:
                logging.getLogger("fieldcase").warning(
                    "./fieldcase.toml is not read: institution policy lives in the database. "
                    "Move it there once with 'fieldcase --as SUPERVISOR institution migrate "
                    "fieldcase.toml', then delete it"
                )
            store = Store(self.db_path, read_only=read_only)
            if server and not create and not store.initialised():
                store.close()
                raise click.ClickException(
                    f"no fieldcase database at {redact_url(self.db_path)}; run 'fieldcase --db "
                    f"{redact_url(self.db_path)} init' first (or set FIELDCASE_DB)"
                )
            if read_only and not store.up_to_date():
                # An older schema is brought up to date first, as every command does.
                store.close()
                store = Store(self.db_path)
            store.migrate()
            context = click.get_current_context(silent=True)
            if context is not None:  # a connection to a server is not left to the collector
                context.find_root().call_on_close(store.close)
            self.actor = self.logged_in(store)
            # The machine's clock, read here at the edge: every event records it. A
            # database server's clock, which no client sets, stands in for it there.
            # Without a real clock (a replay, the tests' stories) the claimed time stands.
            real = clock.real_clock and (store.clock() or clock.real_clock)
            self._services = services_for(store, manager(), clock=real)
        return self._services

    def logged_in(self, store: Store) -> str | None:
        """Who is acting: ``--as``, or on a database with logins, the login itself.

        There, a different ``--as`` is refused: the database knows who is at the keyboard.
        """
        login = store.login()
        if store.has_logins:
            if self.actor and self.actor != login:
                store.close()
                raise click.UsageError(
                    f"--as {self.actor} does not match your login "
                    f"({login or 'an administrator, not a staff member'}): on PostgreSQL "
                    "you act as the staff member you logged in as; leave --as out"
                )
            return login
        return self.actor

    @property
    def services(self) -> Services:
        return self.open()

    def need_actor(self) -> str:
        self.open()  # on a database with logins, the login is who is acting
        if not self.actor:
            raise click.UsageError("who is acting? pass --as STAFF or set FIELDCASE_STAFF")
        return self.actor


pass_app = click.make_pass_decorator(App)


# -- the group ---------------------------------------------------------------------------


@click.group(cls=FieldcaseGroup)
@click.version_option(__version__, prog_name="fieldcase")
@click.option(
    "--db",
    envvar="FIELDCASE_DB",
    default="fieldcase.db",
    show_default=True,
    metavar="PATH",
    help="The SQLite database (FIELDCASE_DB).",
)
@click.option(
    "actor",
    "--as",
    envvar="FIELDCASE_STAFF",
    metavar="STAFF",
    help="Who is acting (FIELDCASE_STAFF).",
)
@click.option("--config", envvar="FIELDCASE_CONFIG", hidden=True, expose_value=True)
@click.pass_context
def cli(ctx: click.Context, db: str, actor: str | None, config: str | None) -> None:
    """Field-verification case management.

    Take an overdue borrower's case through confirmation, visit preparation,
    the on-site interview and feedback, to closure.

    \b
    Example:
        fieldcase --db demo.db demo
        fieldcase --db demo.db --as li.na cases --staff li.na
    """
    if config is not None and ctx.invoked_subcommand != "institution":
        raise click.UsageError(
            "--config (FIELDCASE_CONFIG) is gone: institution policy lives in the database, "
            f"the same for everyone. Move {config} there once with 'fieldcase --as SUPERVISOR "
            f"institution migrate {config}' (docs/institutions.md), then unset FIELDCASE_CONFIG",
            ctx,
        )
    ctx.obj = App(db, actor)
    logger = logging.getLogger("fieldcase")
    if not any(isinstance(h, _WarningEcho) for h in logger.handlers):
        logger.addHandler(_WarningEcho(logging.WARNING))


@cli.command()
@pass_app
def init(app: App) -> None:
    """Create the database, or bring its schema up to date.

    \b
    Example:
        fieldcase --db office.db init
    """
    from .store import Store
    from .store.dialect import redact_url

    store = Store(app.db_path)
    applied = store.migrate()
    store.close()
    where = redact_url(app.db_path)
    if applied:
        echo(f"{where}: applied {', '.join(applied)}")
    else:
        echo(f"{where}: up to date")


# -- staff ---------------------------------------------------------------------------------


@cli.group(cls=FieldcaseGroup, invoke_without_command=True)
@json_option
@click.pass_context
def staff(ctx: click.Context, json_: bool) -> None:
    """List field staff and supervisors, with their open cases.

    \b
    Example:
        fieldcase staff
        fieldcase --as chen.wei staff add li.na --name "Li Na" --role field
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    services = app.services
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "role": s.role if s.active else f"{s.role} (deactivated)",
            "badge": s.badge,
            "open cases": count,
        }
        for s, count in services.staff_with_workload()
    ]
    emit(json_rows(rows), json_, lambda: table(rows))


@staff.command("badge")
@click.argument("staff_id")
@click.argument("badge")
@at_option
@pass_app
def staff_badge(app: App, staff_id: str, badge: str, at: dt.datetime) -> None:
    """Record a staff member's official identity number (supervisors).

    \b
    Example:
        fieldcase --as chen.wei staff badge li.na RA-1001
    """
    member = app.services.set_badge(staff_id, badge, actor=app.need_actor(), at=at)
    echo(f"{member.id}: identity number {member.badge}")


@staff.command("add")
@click.argument("staff_id")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", type=click.Choice(lifecycle.ROLES), default="field", show_default=True)
@click.option("--badge", default="", help="Official identity number (agent licence, badge).")
@click.option(
    "--certificate",
    is_flag=True,
    help="PostgreSQL: they log in with a client certificate, not a password.",
)
@at_option
@pass_app
def staff_add(
    app: App, staff_id: str, name: str, role: str, badge: str, certificate: bool, at: dt.datetime
) -> None:
    """Add a staff member. The first one needs no --as; after that, a supervisor adds staff.

    On PostgreSQL each staff member is a database login of the same name: you
    are asked for their first password (or give --certificate).

    \b
    Example:
        fieldcase staff add chen.wei --name "Chen Wei" --role supervisor
        fieldcase --as chen.wei staff add li.na --name "Li Na"
    """
    services = app.services
    member = services.add_staff(staff_id, name, role, actor=app.actor, at=at, badge=badge)
    echo(f"Added {member.role} {member.id} ({member.name})")
    if services.store.has_logins:
        set_login(services, member.id, certificate)


def set_login(services: Services, staff_id: str, certificate: bool) -> None:
    """Give ``staff_id``'s database login a password, asked for here (or none: certificate)."""
    password = None
    if not certificate:
        password = click.prompt(
            f"Password for {staff_id}'s login", hide_input=True, confirmation_prompt=True
        )
    services.set_login_password(staff_id, password)
    echo(f"{staff_id} logs in " + ("with a client certificate" if certificate else "with it"))


@staff.command("password")
@click.argument("staff_id")
@click.option("--certificate", is_flag=True, help="Certificate only: remove the password.")
@pass_app
def staff_password(app: App, staff_id: str, certificate: bool) -> None:
    """Set a staff member's database password (PostgreSQL): your own, or as a supervisor.

    \b
    Example:
        fieldcase --db postgresql://li.na@db.example/office staff password li.na
    """
    services = app.services
    if not services.store.has_logins:  # before asking for a password that goes nowhere
        raise click.UsageError("a SQLite file has no logins: --as names who is acting")
    set_login(services, staff_id, certificate)


@staff.command("deactivate")
@click.argument("staff_id")
@click.option("--note", default="", help="Why: left the company, on leave...")
@at_option
@pass_app
def staff_deactivate(app: App, staff_id: str, note: str, at: dt.datetime) -> None:
    """Stop a staff member from acting (supervisors). Their cases stay theirs until reassigned.

    \b
    Example:
        fieldcase --as chen.wei staff deactivate zhang.min --note "left on 2026-11-30"
        fieldcase --as chen.wei cases --staff zhang.min
    """
    member = app.services.change_staff(
        staff_id, actor=app.need_actor(), at=at, active=False, note=note
    )
    echo(f"{member.id}: deactivated")


@staff.command("activate")
@click.argument("staff_id")
@click.option("--note", default="")
@at_option
@pass_app
def staff_activate(app: App, staff_id: str, note: str, at: dt.datetime) -> None:
    """Let a deactivated staff member act again (supervisors).

    \b
    Example:
        fieldcase --as chen.wei staff activate zhang.min --note "back from leave"
    """
    member = app.services.change_staff(
        staff_id, actor=app.need_actor(), at=at, active=True, note=note
    )
    echo(f"{member.id}: active")


@staff.command("role")
@click.argument("staff_id")
@click.argument("role", type=click.Choice(lifecycle.ROLES))
@click.option("--note", default="")
@at_option
@pass_app
def staff_role(app: App, staff_id: str, role: str, note: str, at: dt.datetime) -> None:
    """Change a staff member's role (supervisors); the office keeps one supervisor at least.

    \b
    Example:
        fieldcase --as chen.wei staff role li.na supervisor --note "team lead from December"
    """
    member = app.services.change_staff(
        staff_id, actor=app.need_actor(), at=at, role=role, note=note
    )
    echo(f"{member.id}: {member.role}")


# -- institutions and their policy -------------------------------------------------------


@cli.group(cls=FieldcaseGroup)
def institution() -> None:
    """Institutions, and the policy that judges their cases (kept in the database)."""


def policy_options(func: F) -> F:
    """``--set``, ``--unset`` and ``--from``: how a policy is written."""
    func = click.option(
        "--from",
        "policy_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A TOML file with the whole policy: bare keys, or [institutions.ID] of an old "
        "fieldcase.toml.",
    )(func)
    func = click.option(
        "--unset", "unset", multiple=True, metavar="KEY", help="Back to the default (repeatable)."
    )(func)
    return click.option(
        "--set",
        "assignments",
        multiple=True,
        metavar="KEY=VALUE",
        help="Set a key, e.g. rule_packs=cn or offers.settlement_discount=0.2 (repeatable).",
    )(func)


def _policy_lines(policy: dict[str, Any]) -> list[str]:
    from .policy import flatten

    return [f"  {key} = {_shown(value)}" for key, value in sorted(flatten(policy).items())]


@institution.command("add")
@click.argument("institution_id", metavar="ID")
@click.option("--name", required=True, help="The institution's name.")
@click.option(
    "--jurisdiction", required=True, help="ISO 3166 code of its cases, e.g. CN, US-NY, IN."
)
@click.option("--timezone", required=True, help="IANA time zone of its cases, e.g. Asia/Shanghai.")
@click.option("--currency", required=True, help="ISO 4217 code of its cases, e.g. CNY.")
@policy_options
@at_option
@json_option
@pass_app
def institution_add(
    app: App,
    institution_id: str,
    name: str,
    jurisdiction: str,
    timezone: str,
    currency: str,
    assignments: tuple[str, ...],
    unset: tuple[str, ...],
    policy_file: Path | None,
    at: dt.datetime,
    json_: bool,
) -> None:
    """Register an institution, with its first policy (supervisors).

    Its jurisdiction, time zone and currency are those of its cases unless a
    case says otherwise. Cases can be created or imported only for a
    registered institution.

    \b
    Example:
        fieldcase --as chen.wei institution add hx-consumer --name "华夏消费金融" \\
          --jurisdiction CN --timezone Asia/Shanghai --currency CNY --set rule_packs=cn
    """
    if unset:
        raise click.UsageError("--unset has nothing to unset in a new policy")
    found = app.services.add_institution(
        institution_id,
        name=name,
        jurisdiction=jurisdiction,
        timezone=timezone,
        currency=currency,
        actor=app.need_actor(),
        at=at,
        assignments=assignments,
        policy_file=policy_file,
    )
    emit(
        institution_json(found),
        json_,
        lambda: echo(
            f"Registered {found.id} ({found.name}): {found.jurisdiction}, {found.timezone}, "
            f"{found.currency}; policy version 1" + ("" if found.policy else " (the defaults)")
        ),
    )


def institution_json(found: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(found)


@institution.command("list")
@json_option
@pass_app
def institution_list(app: App, json_: bool) -> None:
    """The registered institutions, with their policy versions and rule packs.

    \b
    Example:
        fieldcase institution list
    """
    found = app.services.institutions()
    rows = [
        {
            "id": i.id,
            "name": i.name,
            "jurisdiction": i.jurisdiction,
            "timezone": i.timezone,
            "currency": i.currency,
            "policy": f"v{i.policy_version}",
            "rule packs": ", ".join(i.policy.get("rule_packs", [])),
        }
        for i in found
    ]
    emit([institution_json(i) for i in found], json_, lambda: table(rows))


@institution.command("show")
@click.argument("institution_id", metavar="ID")
@at_option
@json_option
@pass_app
def institution_show(app: App, institution_id: str, at: dt.datetime, json_: bool) -> None:
    """The institution and the policy in force at --at (default: now), with its version.

    \b
    Example:
        fieldcase institution show hx-consumer
        fieldcase institution show hx-consumer --at 2026-11-20T09:00+08:00 --json
    """
    found, version = app.services.policy_in_force(institution_id, at)
    if json_:
        emit(
            {**institution_json(found), "in_force": institution_json(version)},
            True,
            lambda: None,
        )
        return
    zone = found.timezone
    latest = "" if version.version == found.policy_version else f" (now v{found.policy_version})"
    lines = [
        f"{found.id}  {found.name}",
        f"  Jurisdiction {found.jurisdiction}, time zone {found.timezone}, currency "
        f"{found.currency}",
        f"Policy version {version.version}{latest}, set {local_time(version.at, zone)} by "
        f"{version.actor or '-'}; in force at {local_time(at, zone)}:",
        *(_policy_lines(version.policy) or ["  (every key at its default)"]),
    ]
    echo("\n".join(lines))


@institution.command("policy")
@click.argument("institution_id", metavar="ID")
@policy_options
@click.option("--note", default="", help="Why: the circular, the board decision...")
@at_option
@json_option
@pass_app
def institution_policy(
    app: App,
    institution_id: str,
    assignments: tuple[str, ...],
    unset: tuple[str, ...],
    policy_file: Path | None,
    note: str,
    at: dt.datetime,
    json_: bool,
) -> None:
    """Change an institution's policy: a new version, recorded on its chain (supervisors).

    Every key, rule pack and rule parameter is checked when set; see
    'fieldcase institution keys' for them all. --from replaces the whole
    policy with a file's; --set and --unset then apply on top.

    \b
    Example:
        fieldcase --as chen.wei institution policy hx-consumer --set rule_packs=cn \\
          --set rules.cn.hours.start=09:00 --set offers.settlement_discount=0.15
        fieldcase --as chen.wei institution policy hx-consumer --unset rules.cn.hours.start
        fieldcase --as chen.wei institution policy hx-consumer --from hx-policy.toml
    """
    app.migrating_config = policy_file is not None and policy_file.name == "fieldcase.toml"
    found, changed = app.services.set_policy(
        institution_id,
        actor=app.need_actor(),
        at=at,
        assignments=assignments,
        unset=unset,
        policy_file=policy_file,
        note=note,
    )

    def human() -> None:
        if not changed:
            echo(f"{found.id}: policy unchanged (version {found.policy_version})")
            return
        echo(f"{found.id}: policy version {found.policy_version}")
        for key, (old, new) in changed.items():
            echo(f"  {key}: {_shown(old)} -> {_shown(new)}")

    emit(
        {"institution": found.id, "version": found.policy_version, "changes": changed},
        json_,
        human,
    )


@institution.command("keys")
@json_option
def institution_keys(json_: bool) -> None:
    """Every policy key: built in, from plugins, and the installed rule packs' parameters.

    \b
    Example:
        fieldcase institution keys
    """
    from .plugins import manager
    from .policy import describe_keys, schema

    rows = describe_keys(schema(manager()))
    shown = [{**row, "default": _shown(row["default"], width=24)} for row in rows]
    emit(json_rows(rows), json_, lambda: table(shown, ["key", "default", "must be", "from"]))


@institution.command("migrate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would be done; write nothing.")
@at_option
@json_option
@pass_app
def institution_migrate(app: App, file: Path, dry_run: bool, at: dt.datetime, json_: bool) -> None:
    """Move an old fieldcase.toml into the database, once (supervisors).

    Each [institutions.ID] section becomes that institution's policy (it is
    registered first if need be, its jurisdiction, time zone and currency
    taken from the section or from its cases); [privacy] retention_years
    becomes each one's retention_years. Institutions that only cases name
    are registered too. All of it, or nothing; then delete the file.

    \b
    Example:
        fieldcase --as chen.wei institution migrate fieldcase.toml --dry-run
        fieldcase --as chen.wei institution migrate fieldcase.toml
    """
    import attrs

    app.migrating_config = True
    steps = app.services.migrate_config(file, actor=app.need_actor(), at=at, dry_run=dry_run)

    def human() -> None:
        for step in steps:
            echo(f"{step.institution}: {step.action}: {step.detail}")
        verb = "Would migrate" if dry_run else "Migrated"
        echo(f"{verb} {file}: {len(steps)} institution{'' if len(steps) == 1 else 's'}")

    emit([attrs.asdict(step) for step in steps], json_, human)


# -- cases ---------------------------------------------------------------------------------


def case_json(case: Case, at: dt.datetime | None = None) -> dict[str, Any]:
    import attrs

    data = attrs.asdict(case, recurse=True)
    data["stage"] = str(case.stage)
    if at is not None:
        data["days_past_due"] = case.days_past_due(at)
        data["aging_bucket"] = case.aging_bucket(at)
    return data


@cli.command()
@click.option("--institution", required=True, help="Institution id (registered).")
@click.option("--reference", required=True, help="The institution's account reference.")
@click.option("--name", "borrower_name", required=True, help="Borrower's name.")
@click.option(
    "--timezone",
    default="",
    help="Borrower's IANA time zone, e.g. Asia/Shanghai [default: the institution's].",
)
@click.option(
    "--currency", default="", help="ISO 4217 code, e.g. CNY [default: the institution's]."
)
@click.option("--principal", required=True, help="Outstanding principal, e.g. 20000.00.")
@click.option(
    "--overdue", "overdue_amount", help="Amount overdue (a review: default 0, performing)."
)
@click.option(
    "--overdue-since",
    type=DAY,
    help="First missed due date, YYYY-MM-DD (not needed for a performing loan's review).",
)
@click.option(
    "--kind",
    type=click.Choice(lifecycle.CASE_KINDS),
    default="collection",
    show_default=True,
    help="collection: an overdue loan for a visit; review: a performing loan's review.",
)
@click.option(
    "--trigger",
    type=click.Choice(lifecycle.REVIEW_TRIGGERS),
    help="For a review: what set it off.",
)
@click.option(
    "--installment",
    help="The loan's regular installment (offers on a performing loan are built on it).",
)
@click.option("--note", default="", help="For a review: why it was opened.")
@click.option(
    "--jurisdiction",
    default="",
    help="ISO 3166 code, e.g. CN, US-NY, IN [default: the institution's].",
)
@click.option("--national-id", default="")
@click.option("--phone", default="")
@click.option("--address", default="", help="Address on file.")
@click.option("--assign", "assign_to", help="Assign to this staff member.")
@click.option(
    "--interest",
    "accrued_interest",
    default="0",
    show_default=True,
    help="Interest accrued and unpaid.",
)
@click.option("--fees", default="0", show_default=True, help="Fees owed.")
@click.option(
    "--penalty-rate",
    default="0",
    show_default=True,
    help="Annual penalty-interest rate on the overdue amount: 0.18 or 18%.",
)
@click.option(
    "attribute_pairs",
    "--attribute",
    multiple=True,
    metavar="NAME=VALUE",
    help="One of the institution's own attributes (declared in its policy); repeat.",
)
@at_option
@json_option
@pass_app
def create(
    app: App,
    overdue_amount: str | None,
    overdue_since: dt.datetime | None,
    at: dt.datetime,
    json_: bool,
    attribute_pairs: tuple[str, ...],
    **fields: Any,
) -> None:
    """Refer one case by hand (case files come in with 'import').

    The institution must be registered ('fieldcase institution add'); its time
    zone, currency and jurisdiction are the case's unless given.

    \b
    Example:
        fieldcase --as chen.wei create --institution hx-consumer --reference L-1001 \\
          --name "王芳" --principal 20000 --overdue 3150.40 --overdue-since 2026-09-15 \\
          --attribute branch=Harbor-East
        fieldcase --as chen.wei create --institution hx-consumer --reference L-2001 \
          --name "赵磊" --principal 50000 --kind review --trigger new-loan-elsewhere \
          --installment 2300 --note "Bureau shows a new loan at another bank"
    """
    from .attributes import parse_pairs

    if fields["kind"] == "collection" and (overdue_amount is None or overdue_since is None):
        raise click.UsageError(
            "--overdue and --overdue-since are required for a collection case "
            "(a performing loan's review is --kind review --trigger CODE)"
        )
    case = app.services.create_case(
        actor=app.need_actor(),
        at=at,
        overdue_amount=overdue_amount or "0",
        overdue_since=overdue_since.date() if overdue_since else None,
        attributes=parse_pairs(attribute_pairs),
        **fields,
    )
    data = case_json(case, at)
    note = "" if case.eligible else f" (not eligible: {case.eligibility_note})"
    kind = " for review" if case.kind == "review" else ""
    emit(data, json_, lambda: echo(f"Created case {case.id} {case.label}{kind}{note}"))


@cli.command()
@click.option("--stage", type=click.Choice([str(stage) for stage in lifecycle.Stage]))
@click.option("--staff", help="Cases assigned to this staff member.")
@click.option("--institution")
@click.option(
    "--bucket",
    type=click.Choice([bucket[0] for bucket in lifecycle.AGING_BUCKETS]),
    help="Aging bucket, days past due.",
)
@click.option("--mine", is_flag=True, help="Cases assigned to --as.")
@click.option(
    "--all",
    "include_all",
    is_flag=True,
    help="Include closed, ineligible and paused (hardship) cases.",
)
@click.option(
    "--search",
    metavar="TEXT",
    help="Find TEXT in the borrower's name, the reference, or an address you (--as) see in clear.",
)
@click.option(
    "--due-today",
    is_flag=True,
    help="Only cases with a visit planned, or a promise falling due, today.",
)
@click.option(
    "where_pairs",
    "--where",
    multiple=True,
    metavar="NAME=VALUE",
    help="Only cases whose attribute NAME (declared by the institution) is VALUE; repeat.",
)
@click.option(
    "--kind",
    type=click.Choice(lifecycle.CASE_KINDS),
    help="Only collection cases, or only performing loans' reviews.",
)
# SQLite and PostgreSQL count rows in 64 bits: a larger --limit is a usage error.
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 2**62))
@click.option(
    "--offset",
    default=0,
    show_default=True,
    type=click.IntRange(0, 2**62),
    help="Skip this many cases first: --offset 50 shows ranks 51 on.",
)
@at_option
@json_option
@pass_app
def cases(
    app: App,
    where_pairs: tuple[str, ...],
    kind: str | None,
    stage: str | None,
    staff: str | None,
    institution: str | None,
    bucket: str | None,
    mine: bool,
    include_all: bool,
    search: str | None,
    due_today: bool,
    limit: int,
    offset: int,
    at: dt.datetime,
    json_: bool,
) -> None:
    """The worklist: open cases, highest priority first, with what to do next.

    Visits planned for today come first, then cases with broken promises, then
    the oldest and largest arrears (or an institution plugin's own order).
    Each row says its rank, the next step (the command that moves the case
    on) and the next contact: when the rules allow a call to the borrower
    (now, not before HH:MM borrower local time, not today). A cut list says
    so; --offset pages on. --json keeps the score behind the rank
    (priority_score).

    \b
    Example:
        fieldcase cases --staff li.na --stage preparation
        fieldcase cases --institution hx-consumer --bucket 91-180 --json
        fieldcase --as li.na cases --mine --due-today
        fieldcase cases --search 浦东 --all
        fieldcase cases --institution hx-consumer --where branch=Harbor-East
        fieldcase cases --kind review --institution hx-consumer
    """
    from .attributes import where_filter
    from .store import WorklistFilter

    if mine:
        staff = app.need_actor()
    filters = WorklistFilter(
        stage=stage,
        staff=staff,
        institution=institution,
        bucket=bucket,
        include_closed=include_all or stage == "closed",
        include_ineligible=include_all,
        include_paused=include_all,
        search=search,
        due_today=due_today,
        where=where_filter(where_pairs),
        kind=kind,
    )
    from .case_views import print_worklist, worklist_rows

    page = app.services.worklist_page(filters, at, limit=limit, offset=offset, viewer=app.actor)
    # People read the order (rank 1 first); scripts also get the score behind it.
    rows = worklist_rows(app.services, page, at, app.actor)
    emit(rows, json_, lambda: print_worklist(rows, page))


@cli.command()
@at_option
@json_option
@pass_app
def today(app: App, at: dt.datetime, json_: bool) -> None:
    """The day's plan for the staff member acting (--as): visits, promises, calls, fixes.

    Visits come in route order: by window, and where windows overlap, area
    by area (a postcode or district attribute, else the postcode or the
    district in the address), each with its address and the checklist items
    still to tick. Then the promises to pay falling due today; the cases to
    call (in confirmation, or in preparation with no visit planned), those
    the rules allow now first, then "not before HH:MM" (borrower local time),
    then "not today", with the rule that refuses; and feedback returned to fix.

    \b
    Example:
        fieldcase --as li.na today
        fieldcase --as li.na today --at 2026-11-25T07:30+08:00 --json
    """
    from .case_views import day_plan_json, print_day_plan

    plan = app.services.day_plan(app.need_actor(), at)
    emit(day_plan_json(plan), json_, lambda: print_day_plan(plan))


@cli.command()
@click.argument("case_ref", metavar="CASE")
@at_option
@json_option
@pass_app
def show(app: App, case_ref: str, at: dt.datetime, json_: bool) -> None:
    """Everything about one case: borrower, stage, flags, money, contacts, visits, feedback.

    The money is the balance by component (as 'balance' gives it), the
    arrangement, the promises to pay (open, kept, broken or excused), the
    offers presented and the payments recorded.

    CASE is a case id (42) or INSTITUTION/REFERENCE. Personal data (phone,
    national id, addresses, the borrower's finances, notes) is shown to
    supervisors, the staff member assigned and the staff on its visits; to
    anyone else, and without --as, it is masked.

    \b
    Example:
        fieldcase --as li.na show 42
        fieldcase --as chen.wei show hx-consumer/L-1001 --json
    """
    import attrs

    from .case_views import money_json, print_money

    file = app.services.case_file(case_ref, app.actor)
    case = file.case
    if json_:
        data = case_json(case, at)
        data["masked"] = file.masked
        data["contacts"] = [attrs.asdict(c) for c in file.contacts]
        data["visits"] = [
            attrs.asdict(v)
            | {"debt_to_income": v.debt_to_income, "repayments_to_income": v.repayments_to_income}
            for v in file.visits
        ]
        data["feedback"] = [attrs.asdict(f) for f in file.feedback]
        data["disputes"] = [attrs.asdict(d) for d in file.disputes]
        data["evidence"] = [attrs.asdict(e) for e in file.evidence]
        data["hardships"] = [attrs.asdict(h) for h in file.hardships]
        data["complaints"] = [attrs.asdict(c) for c in file.complaints]
        data["details"] = [attrs.asdict(d) for d in file.details]
        data["inquiries"] = [attrs.asdict(q) for q in file.inquiries]
        data["reviews"] = [attrs.asdict(r) for r in file.reviews]
        data["attachments"] = [attachment_commands.attachment_json(a) for a in file.attachments]
        data["checkins"] = [attrs.asdict(c) for c in file.checkins]
        data |= money_json(money_of(app, file, at), file)
        emit(data, True, lambda: None)
        return
    b = case.borrower
    lines = [
        f"Case {case.id}  {case.label}  [{case.stage}]"
        + (f"  closed: {case.resolution}" if case.resolution else ""),
        f"  Borrower:   {b.name}  ({', '.join(filter(None, [b.timezone, case.jurisdiction]))})",
        f"  Phone:      {b.phone or '-'}   National id: {b.national_id or '-'}",
        *([f"  Email:      {b.email}"] if b.email else []),
        f"  Address:    {b.address or '-'}",
        f"  Confirmed:  {case.confirmed_address or '-'}",
        *([f"  Location:   {b.latitude}, {b.longitude}"] if b.latitude is not None else []),
        f"  Overdue:    {money(case.overdue_amount, case.currency)} of principal "
        f"{money(case.principal, case.currency)}, since {case.overdue_since} "
        f"({case.days_past_due(at)} days, bucket {case.aging_bucket(at)})",
        f"  Assigned:   {case.assigned_to or '-'}",
    ]
    lines += review_lines(file)
    if case.attributes:
        lines.append("  Attributes: " + "  ".join(f"{k}={v}" for k, v in case.attributes.items()))
    lines.append(f"  Flags:      {', '.join(case.flags) or '-'}")
    if not case.eligible:
        lines.append(f"  Eligible:   no - {case.eligibility_note}")
    if case.failed_visits:
        lines.append(
            f"  Failed visits: {case.failed_visits}" + ("  (escalated)" if case.escalated else "")
        )
    if case.feedback_status:
        lines.append(f"  Feedback:   {case.feedback_status}")
    if case.dispute:
        lines.append(f"  Dispute:    {case.dispute}, open: collection on hold")
    if case.paused(at):
        lines.append(f"  Hardship:   paused until {case.paused_until}")
    if case.fewer_contacts_until and case.local_date(at) <= case.fewer_contacts_until:
        lines.append(f"  Complaint:  fewer contacts until {case.fewer_contacts_until}")
    echo("\n".join(lines))
    if file.masked:
        echo(
            "  (personal data masked: shown to supervisors and the staff working the case;"
            " pass --as)"
        )
    print_money(money_of(app, file, at), file)
    if file.contacts:
        echo("\nContact attempts")
        table(
            [
                {
                    "at": local_time(c.at, b.timezone),
                    "channel": c.channel,
                    "target": c.target + (f" ({c.relationship})" if c.relationship else ""),
                    "outcome": c.outcome,
                    "staff": c.staff,
                    "note": c.note,
                }
                for c in file.contacts
            ]
        )
    if file.details:
        echo("\nContact details recorded")
        table(detail_rows(file.details, b.timezone))
    for visit in file.visits:
        echo(
            f"\nVisit {visit.number}: {visit.date} {visit.window_start:%H:%M}-"
            f"{visit.window_end:%H:%M} {visit.timezone}  [{visit.status}]  "
            f"staff: {', '.join(visit.staff)}"
        )
        for item in visit.checklist:
            mark = "x" if item.ticked else " "
            opt = "" if item.required else " (optional)"
            echo(f"  [{mark}] {item.code}: {item.label}{opt}")
        if visit.met:
            echo(
                f"  Met: {visit.met}  reason: {visit.reason_code or '-'}  "
                f"employment: {visit.employment or '-'}  attitude: {visit.attitude or '-'}"
            )
        show_finances(visit, case.currency)
        if visit.notes:
            echo(f"  Notes: {visit.notes}")
        on_visit = [c for c in file.checkins if c.visit_number == visit.number]
        for line in checkin_commands.checkin_lines(on_visit, b.timezone):
            echo(line)
    unplanned = [c for c in file.checkins if c.visit_number is None]
    if unplanned:
        echo("\nCheck-ins with no visit planned")
        for line in checkin_commands.checkin_lines(unplanned, b.timezone):
            echo(line)
    show_protections(file, b.timezone)
    show_inquiries(file, b.timezone)
    message_commands.show_messages(file.contacts, b.timezone)
    show_reviews(file, b.timezone)
    attachment_commands.show_attachments(file.attachments, b.timezone)
    for fb in file.feedback:
        echo(
            f"\nFeedback ({fb.review_status}) by {fb.submitted_by} at "
            f"{local_time(fb.submitted_at, b.timezone)}: recommend {fb.recommendation}"
        )
        echo(f"  {fb.summary}")
        if fb.review_note:
            echo(f"  Review by {fb.reviewed_by}: {fb.review_note}")


def money_of(app: App, file: CaseFile, at: dt.datetime) -> MoneyView | None:
    """The case's balance and promises at ``at``; None where no institution judges it."""
    assert file.case.id is not None
    try:
        return app.services.money_view(file.case.id, at)
    except InstitutionNotFound:
        return None


def show_finances(visit: Visit, currency: str) -> None:
    """``show``'s lines on a visit's findings about the borrower's work and debts."""
    work = {
        "Industry": visit.industry,
        "employer": visit.employer,
        "suppliers": visit.suppliers,
        "buyers": visit.buyers,
    }
    if any(work.values()):
        echo("  " + "  ".join(f"{k}: {v or '-'}" for k, v in work.items()))
    amounts = (visit.monthly_income, visit.other_debts, visit.monthly_repayments)
    if any(a is not None for a in amounts):
        echo(
            f"  Monthly income: {money(visit.monthly_income, currency)}  "
            f"other debts: {money(visit.other_debts, currency)}"
            + (
                f"  monthly repayments: {money(visit.monthly_repayments, currency)}"
                if visit.monthly_repayments is not None
                else ""
            )
        )
    lenders = (
        f"{visit.lenders}"
        if visit.lenders is not None
        else {True: "several", False: "1", None: "-"}[visit.multi_lender]
    )
    ratios = (visit.debt_to_income, visit.repayments_to_income)
    answered = (visit.lenders, visit.multi_lender, *ratios)
    if any(value is not None for value in answered):
        echo(
            f"  Lenders: {lenders}  debt to income: {_ratio(visit.debt_to_income)}  "
            f"repayments to income: {_ratio(visit.repayments_to_income)}"
        )


def _ratio(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def show_protections(file: CaseFile, zone: str) -> None:
    """``show``'s disputes (with their evidence), hardship pauses and complaints."""
    for dispute in file.disputes:
        echo(
            f"\nDispute {dispute.id} ({dispute.kind}, from {dispute.since}) [{dispute.status}] "
            f"opened by {dispute.opened_by} at {local_time(dispute.opened_at, zone)}"
        )
        if dispute.note:
            echo(f"  {dispute.note}")
        for item in file.evidence:
            if item.dispute_id == dispute.id:
                echo(f"  Evidence {item.id}: {item.description}  sha256 {item.sha256}")
        if dispute.decided_at is not None:
            echo(
                f"  Decided by {dispute.decided_by} at {local_time(dispute.decided_at, zone)}: "
                f"{dispute.decision_note}" + ("  (fees reversed)" if dispute.fees_reversed else "")
            )
    loose = [e for e in file.evidence if e.dispute_id is None]
    for item in loose:
        echo(f"\nEvidence {item.id}: {item.description}  sha256 {item.sha256}")
    if file.hardships:
        echo("\nHardship pauses")
        table(
            [
                {
                    "from": h.starts,
                    "until": h.until,
                    "ended": h.ended_on or "",
                    "reason": h.reason,
                    "penalty": "frozen" if not h.penalty_share else f"x{h.penalty_share}",
                    "granted by": h.granted_by,
                    "note": h.note,
                }
                for h in file.hardships
            ]
        )
    if file.complaints:
        echo("\nComplaints")
        table(
            [
                {
                    "at": local_time(c.at, zone),
                    "about": c.about,
                    "recorded by": c.recorded_by,
                    "fewer contacts until": c.fewer_contacts_until or "",
                    "note": c.note,
                }
                for c in file.complaints
            ]
        )


def show_inquiries(file: CaseFile, zone: str) -> None:
    """``show``'s credit-bureau inquiries."""
    if file.inquiries:
        echo("\nCredit-bureau inquiries")
        table(
            [
                {
                    "at": local_time(q.at, zone),
                    "purpose": q.purpose,
                    "kind": q.kind,
                    "bureau": q.bureau,
                    "by": q.staff,
                    "note": q.note,
                }
                for q in file.inquiries
            ]
        )


def corrections_of(events: Sequence[Event]) -> dict[int, str]:
    """What later events did to each event: " [voided by event 414]", " [amended by ...]"."""
    said: dict[int, list[str]] = {}
    for event in events:
        verb = {"event_voided": "voided", "event_amended": "amended"}.get(event.type)
        target = (event.payload.get("data") or {}).get("event")
        if verb and isinstance(target, int):
            said.setdefault(target, []).append(f"{verb} by event {event.id}")
    return {k: f" [{'; '.join(v)}]" for k, v in said.items()}


def describe_event(event: Event, institution: str | None = None) -> str:
    data = event.payload.get("data", {})
    if event.type == "refused":
        reasons = "; ".join(f"{r['reason']} ({r['rule']})" for r in data.get("reasons", []))
        under = (
            f" under {institution} policy v{event.policy_version}"
            if institution and event.policy_version is not None
            else ""
        )
        return f"refused {data.get('action')}{under}: {reasons}"
    if event.type == "policy_changed":
        changes = "; ".join(
            f"{key} {_shown(old)} -> {_shown(new)}" for key, (old, new) in data["changes"].items()
        )
        return f"version {data['version']}: {changes}" + (
            f" ({data['note']})" if data.get("note") else ""
        )
    if event.type == "institution_added":
        settings = ", ".join(f"{k}={_shown(v)}" for k, v in data.get("set", {}).items())
        return (
            f"{data['name']}: {data['jurisdiction']}, {data['timezone']}, {data['currency']}; "
            f"version 1: {settings or 'the defaults'}"
            + (f" ({data['note']})" if data.get("note") else "")
        )
    parts = [f"{k}={v}" for k, v in data.items() if v not in (None, "", [], {})]
    if event.type == "payment_recorded" and data.get("status") == "reported":
        parts.append("(reported, not yet counted)")
    return " ".join(parts)


def _shown(value: Any, width: int = 0) -> str:
    """A policy value as a person types it: 0.2, 3,6, cn,us-regf; unset as (default)."""
    if value is None:
        return "(default)" if not width else ""
    if value == []:
        return "(none)"
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    # A letter's template spans lines: shown on one, as --set takes it.
    text = text.replace("\n", "\\n")
    return text if not width or len(text) <= width else text[: width - 3] + "..."


def event_time(event: Event, zone: str) -> str:
    """The claimed time, and the real time it was written where they differ by over a minute."""
    shown = local_time(event.at, zone)
    if event.recorded_at is not None and abs(event.recorded_at - event.at) > dt.timedelta(
        minutes=1
    ):
        shown += f" (recorded {local_time(event.recorded_at, zone)})"
    return shown


@cli.command()
@click.argument("case_ref", metavar="[CASE]", required=False)
@click.option(
    "--system",
    is_flag=True,
    help="Events about no single case: staff, imports, exports, their refusals.",
)
@click.option(
    "--institution",
    "institution_id",
    metavar="ID",
    help="The institution's own events: its registration and every change of its policy.",
)
@click.option(
    "--last",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the last N events (the number of one to void or amend, say).",
)
@json_option
@pass_app
def history(
    app: App,
    case_ref: str | None,
    system: bool,
    institution_id: str | None,
    last: int | None,
    json_: bool,
) -> None:
    """The case's audit trail: every event, refusals included, oldest first.

    Each event shows when it happened (and, where that is over a minute
    from it, when it was recorded) and the version of the institution's
    policy that judged it. Personal data in the events (addresses, notes,
    finances) is masked unless you (--as) are a supervisor or work the case,
    as in ``show``.

    \b
    Example:
        fieldcase --as li.na history 42
        fieldcase --as li.na history 42 --last 5
        fieldcase history --system
        fieldcase history --institution hx-consumer
    """
    if sum([case_ref is not None, system, institution_id is not None]) != 1:
        raise click.UsageError("name a CASE, or pass --system or --institution ID (one of them)")
    institution: str | None = None
    if system:
        events, zone = app.services.system_history(), "UTC"
    elif institution_id is not None:
        found = app.services.institution(institution_id)
        events, zone = app.services.institution_history(found.id), found.timezone
        institution = found.id
    else:
        assert case_ref is not None
        case = app.services.get_case(case_ref)
        events, zone = app.services.history(case_ref, app.actor), case.borrower.timezone
        institution = case.institution
    corrected = corrections_of(events)
    if last is not None:
        events = events[-last:]
    rows = [
        {
            "event": e.id,
            "at": event_time(e, zone),
            "actor": e.actor or "",
            "type": e.type,
            "policy": "" if e.policy_version is None else f"v{e.policy_version}",
            "details": describe_event(e, institution) + corrected.get(e.id or 0, ""),
        }
        for e in events
    ]
    if json_:
        emit(
            [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "recorded_at": e.recorded_at.isoformat() if e.recorded_at else None,
                    "actor": e.actor,
                    "type": e.type,
                    "policy_version": e.policy_version,
                    "data": e.payload.get("data"),
                    # Masked events come without their hashes (see Services.history).
                    **({"hash": e.hash} if e.hash else {}),
                }
                for e in events
            ],
            True,
            lambda: None,
        )
    else:
        table(rows)


@cli.command()
@click.argument("case_refs", metavar="CASE...", nargs=-1, required=True)
@click.option("--to", "to", required=True, metavar="STAFF", help="The staff member.")
@at_option
@pass_app
def assign(app: App, case_refs: tuple[str, ...], to: str, at: dt.datetime) -> None:
    """Assign cases to a staff member (supervisors only).

    \b
    Example:
        fieldcase --as chen.wei assign 12 13 14 --to li.na
    """
    for ref in case_refs:
        case = app.services.assign(ref, to=to, actor=app.need_actor(), at=at)
        echo(f"Case {case.id} assigned to {to}")


# -- stage 1 ---------------------------------------------------------------------------------


def lower_case(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Channels are lower-case names (built in, or messaging apps the policy names):
    'Phone' is phone."""
    return value.lower() if value else value


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--channel",
    required=True,
    metavar="CHANNEL",
    callback=lower_case,
    help=f"{', '.join(lifecycle.CHANNELS)}, or a messaging app the institution's policy names "
    "(messaging_channels).",
)
@click.option(
    "--target",
    default="borrower",
    show_default=True,
    type=click.Choice(lifecycle.TARGETS),
)
@click.option(
    "--relationship",
    type=click.Choice(lifecycle.RELATIONSHIPS),
    help="Who the third party is to the borrower; required with --target third-party.",
)
@click.option(
    "--outcome",
    required=True,
    type=click.Choice(lifecycle.OUTCOMES),
)
@click.option("--note", default="")
@click.option(
    "--purpose",
    type=click.Choice(lifecycle.PURPOSES),
    default="collect",
    show_default=True,
    help="collect: about the debt; locate: finding the borrower; message: pass one on.",
)
@at_option
@pass_app
def contact(
    app: App,
    case_ref: str,
    channel: str,
    target: str,
    outcome: str,
    note: str,
    purpose: str,
    relationship: str | None,
    at: dt.datetime,
) -> None:
    """Record a contact attempt: channel, who was targeted, outcome.

    A third party's relationship to the borrower is required (asked for at a
    terminal). Besides the built-in channels, an institution's policy may name
    the messaging apps its staff use (messaging_channels = ["whatsapp"]).

    \b
    Example:
        fieldcase --as li.na contact 42 --channel phone --outcome no-answer
        fieldcase --as li.na contact 42 --channel wechat --outcome reached
        fieldcase --as li.na contact 42 --channel employer --target third-party \\
          --relationship employer --outcome reached --note "HR confirmed she still works there"
    """
    if target == "third-party" and not relationship and sys.stdin.isatty():
        relationship = click.prompt(
            "Relationship to the borrower", type=click.Choice(lifecycle.RELATIONSHIPS)
        )
    attempt = app.services.record_contact(
        case_ref,
        actor=app.need_actor(),
        at=at,
        channel=channel,
        target=target,
        outcome=outcome,
        note=note,
        purpose=purpose,
        relationship=relationship or "",
    )
    whom = f"{target} ({attempt.relationship})" if attempt.relationship else target
    echo(f"Recorded {channel} contact with {whom}: {outcome} (case {attempt.case_id})")


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--address", required=True, help="The confirmed address.")
@click.option("--source", default="", callback=lower_case, help="The channel that confirmed it.")
@at_option
@pass_app
def confirm(app: App, case_ref: str, address: str, source: str, at: dt.datetime) -> None:
    """Confirm the borrower's address; the case moves to preparation.

    \b
    Example:
        fieldcase --as li.na confirm 42 --address "上海市浦东新区世纪大道100号" --source phone
    """
    case = app.services.confirm_address(
        case_ref, actor=app.need_actor(), at=at, address=address, source=source
    )
    echo(f"Case {case.id}: address confirmed; now in {case.stage}")


def detail_rows(details: Sequence[ContactDetail], zone: str) -> list[dict[str, Any]]:
    return [
        {
            "at": local_time(d.at, zone),
            "kind": d.kind,
            "value": d.value,
            "was": d.previous,
            "verified": "yes" if d.verified else "",
            "source": d.source,
            "staff": d.staff,
            "note": d.note,
        }
        for d in details
    ]


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--phone", default="", help="A phone number (E.164, or national in the case's country)."
)
@click.option("--email", default="", help="An email address.")
@click.option("--address", default="", help="An address.")
@click.option("--verified", is_flag=True, help="It was verified, not only heard of.")
@click.option(
    "--source",
    default="",
    metavar="CHANNEL",
    callback=lower_case,
    help="Where it came from: a contact channel (as contact --channel), visit or institution.",
)
@click.option("--note", default="", help="How it was learned or verified.")
@at_option
@json_option
@pass_app
def details(
    app: App,
    case_ref: str,
    phone: str,
    email: str,
    address: str,
    verified: bool,
    source: str,
    note: str,
    at: dt.datetime,
    json_: bool,
) -> None:
    """Record a phone, email or address learned or verified; without one, list them.

    Each becomes the borrower's current one; the one it replaces is kept in
    the record and the history (a correction is a new record). Personal
    data: listed in clear to supervisors and the staff working the case, as
    in show.

    \b
    Example:
        fieldcase --as li.na details 42 --phone "+86 139 1234 5678" --source wechat \\
          --note "Her new number, sent by her on WeChat"
        fieldcase --as li.na details 42 --email wang.fang@example.cn --verified --source email
        fieldcase --as li.na details 42
    """
    import attrs

    if not (phone or email or address):
        if verified or source or note:
            raise click.UsageError(
                "--verified, --source and --note need --phone, --email or --address"
            )
        file = app.services.case_file(case_ref, app.actor)
        rows = detail_rows(file.details, file.case.borrower.timezone)

        def human() -> None:
            table(rows)
            if file.masked:
                echo(
                    "  (personal data masked: shown to supervisors and the staff working the case;"
                    " pass --as)"
                )

        emit([attrs.asdict(d) for d in file.details], json_, human)
        return
    recorded = app.services.record_details(
        case_ref,
        actor=app.need_actor(),
        at=at,
        phone=phone,
        email=email,
        address=address,
        verified=verified,
        source=source,
        note=note,
    )

    def said() -> None:
        for d in recorded:
            how = "verified" if d.verified else "recorded"
            echo(
                f"Case {d.case_id}: {d.kind} {d.value} {how}"
                + (f" (from {d.source})" if d.source else "")
                + (f"; it was {d.previous}" if d.previous and d.previous != d.value else "")
            )

    emit([attrs.asdict(d) for d in recorded], json_, said)


# -- stage 2 ---------------------------------------------------------------------------------


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(value: str) -> tuple[dt.time, dt.time]:
    """``HH:MM-HH:MM``, local to the borrower: no seconds, no zone."""
    match = _WINDOW.match(value)
    try:
        if match is None:
            raise ValueError
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HH:MM-HH:MM, e.g. 14:00-16:00") from None


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--date",
    "date_",
    required=True,
    type=DAY,
    help="Visit date, YYYY-MM-DD, in the borrower's time zone.",
)
@click.option("--window", required=True, help="HH:MM-HH:MM in the borrower's local time.")
@click.option(
    "--with",
    "companions",
    multiple=True,
    metavar="STAFF",
    help="Another visiting staff member (repeatable).",
)
@at_option
@pass_app
def plan(
    app: App,
    case_ref: str,
    date_: dt.datetime,
    window: str,
    companions: tuple[str, ...],
    at: dt.datetime,
) -> None:
    """Plan the visit: date and time window in the borrower's local time.

    Planning again before the visit replaces the plan and keeps ticked items.

    \b
    Example:
        fieldcase --as li.na plan 42 --date 2026-11-25 --window 14:00-16:00 --with zhang.min
    """
    case, visit = app.services.plan_visit(
        case_ref,
        actor=app.need_actor(),
        at=at,
        date=date_.date(),
        window=parse_window(window),
        companions=companions,
    )
    echo(
        f"Case {case.id}: visit {visit.number} planned {visit.date} "
        f"{visit.window_start:%H:%M}-{visit.window_end:%H:%M} {visit.timezone} "
        f"with {', '.join(visit.staff)}"
    )
    todo = [item.code for item in visit.checklist if item.required and not item.ticked]
    if todo:
        echo(f"Checklist to tick: {', '.join(todo)}")
    else:
        echo(f"Checklist complete; case is in {case.stage}")


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--tick", "items", multiple=True, metavar="ITEM", help="Tick an item (repeatable).")
@click.option("--all", "tick_all", is_flag=True, help="Tick every item.")
@at_option
@json_option
@pass_app
def checklist(
    app: App, case_ref: str, items: tuple[str, ...], tick_all: bool, at: dt.datetime, json_: bool
) -> None:
    """Show or tick the visit checklist; when all required items are ticked, go to interview.

    \b
    Example:
        fieldcase --as li.na checklist 42
        fieldcase --as li.na checklist 42 --tick id-badge --tick contract
        fieldcase --as li.na checklist 42 --all
    """
    services = app.services
    if items or tick_all:
        case, visit = services.tick_checklist(
            case_ref, actor=app.need_actor(), at=at, items=items, tick_all=tick_all
        )
    else:
        file = services.case_file(case_ref)
        case = file.case
        if file.current_visit is None:
            raise click.ClickException(f"case {case.id} has no visit planned yet")
        visit = file.current_visit
    rows = [
        {
            "item": i.code,
            "label": i.label,
            "required": "yes" if i.required else "no",
            "ticked": "x" if i.ticked else "",
        }
        for i in visit.checklist
    ]

    def human() -> None:
        table(rows)
        echo(f"Case {case.id} is in {case.stage}")

    emit({"case": case.id, "stage": str(case.stage), "items": rows}, json_, human)


# -- stage 3 ---------------------------------------------------------------------------------


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--met", required=True, type=click.Choice(lifecycle.MET))
@click.option("--reason", metavar="CODE", help="Overdue reason code (see 'fieldcase reasons').")
@click.option(
    "--employment",
    type=click.Choice(lifecycle.EMPLOYMENT),
)
@click.option("--income", metavar="AMOUNT", help="Monthly income, in the case currency.")
@click.option("--other-debts", metavar="AMOUNT", help="Other debts, in the case currency.")
@click.option(
    "--monthly-repayments",
    metavar="AMOUNT",
    help="What the borrower repays all lenders a month, in the case currency.",
)
@click.option("--multi-lender/--single-lender", default=None, help="Borrows from several lenders.")
@click.option(
    "--lenders",
    type=int,
    metavar="N",
    help="How many lenders the borrower owes, this one included (more than 1: multi-lender).",
)
@click.option("--industry", metavar="TEXT", help="The trade: retail, construction...")
@click.option("--employer", metavar="TEXT", help="The employer, or the borrower's business.")
@click.option("--suppliers", metavar="TEXT", help="A business borrower's main suppliers.")
@click.option("--buyers", metavar="TEXT", help="A business borrower's main buyers.")
@click.option(
    "--attitude",
    type=click.Choice(lifecycle.ATTITUDES),
)
@click.option("--note", default="", help="What was seen and said.")
@checkin_commands.position_options(required=False)
@at_option
@pass_app
def interview(
    app: App,
    case_ref: str,
    met: str,
    reason: str | None,
    employment: str | None,
    income: str | None,
    other_debts: str | None,
    monthly_repayments: str | None,
    multi_lender: bool | None,
    lenders: int | None,
    industry: str | None,
    employer: str | None,
    suppliers: str | None,
    buyers: str | None,
    attitude: str | None,
    note: str,
    lat: str | None,
    lon: str | None,
    accuracy_m: int | None,
    at: dt.datetime,
) -> None:
    """Record the on-site interview, or a failed visit (--met nobody).

    Employer, suppliers and buyers name people and firms: they are personal
    data, masked and purged like the borrower's income. --lat and --lon (with
    --accuracy) check in on the visit as 'fieldcase checkin' does, with the
    interview.

    \b
    Example:
        fieldcase --as li.na interview 42 --met borrower --reason medical \\
          --employment employed --income 8500 --other-debts 12000 \\
          --attitude willing-unable --note "Hospital bills since August"
        fieldcase --as li.na interview 43 --met borrower --reason business-failure \\
          --employment self-employed --industry retail --employer "Wang's Grocery" \\
          --suppliers "Jinhui Wholesale" --buyers "walk-in customers" \\
          --income 6000 --other-debts 30000 --monthly-repayments 2500 --lenders 3
        fieldcase --as li.na interview 42 --met nobody --note "Neighbour says away" \\
          --lat 31.230416 --lon 121.473701 --accuracy 15
    """
    case, visit = app.services.record_interview(
        case_ref,
        actor=app.need_actor(),
        at=at,
        met=met,
        reason=reason,
        employment=employment,
        monthly_income=income,
        other_debts=other_debts,
        multi_lender=multi_lender,
        lenders=lenders,
        monthly_repayments=monthly_repayments,
        industry=industry,
        employer=employer,
        suppliers=suppliers,
        buyers=buyers,
        attitude=attitude,
        notes=note,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
    )
    if visit.status == "failed":
        what = (
            "escalated to feedback: failed-visit limit reached"
            if case.escalated
            else "back to preparation for a revisit"
        )
        echo(f"Case {case.id}: visit {visit.number} failed ({case.failed_visits} so far); {what}")
    else:
        echo(f"Case {case.id}: interview recorded; now in {case.stage}")
    if lat is not None:
        from .checkins import describe, where

        assert case.id is not None
        checkin = [
            c
            for c in app.services.case_file(case.id, app.actor).checkins
            if c.visit_number == visit.number and c.staff == visit.recorded_by
        ][-1]
        echo(f"  Checked in at {where(checkin)}; {describe(checkin)}")


@cli.command()
@json_option
def reasons(json_: bool) -> None:
    """The overdue-reason codes, defaults and plugins' own.

    \b
    Example:
        fieldcase reasons
    """
    from .plugins import manager, overdue_reasons

    rows = [{"code": r.code, "label": r.label} for r in overdue_reasons(manager()).values()]
    emit(rows, json_, lambda: table(rows))


# -- stage 4 ---------------------------------------------------------------------------------


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--recommend",
    required=True,
    type=click.Choice([*lifecycle.RECOMMENDATIONS, *lifecycle.REVIEW_RECOMMENDATIONS]),
    help="After a visit: restructure ... close. A review: no-action ... refer-to-collection.",
)
@click.option("--summary", required=True, help="What was found, for the institution.")
@at_option
@pass_app
def feedback(app: App, case_ref: str, recommend: str, summary: str, at: dt.datetime) -> None:
    """Submit the visit record and recommendation. Immutable once submitted.

    A review of a performing loan submits its findings the same way, from
    any open stage (its visit is optional), with a review recommendation.

    \b
    Example:
        fieldcase --as li.na feedback 42 --recommend restructure \\
          --summary "Medical costs; can pay 1,500 a month from January"
        fieldcase --as li.na feedback 57 --recommend watch-list \\
          --summary "New loan at another bank; income unchanged"
    """
    case, _ = app.services.submit_feedback(
        case_ref, actor=app.need_actor(), at=at, recommendation=recommend, summary=summary
    )
    what = "findings" if case.kind == "review" else "feedback"
    echo(f"Case {case.id}: {what} submitted for review")


@cli.command()
@click.argument("target", metavar="CASE | offer CASE OFFER", nargs=-1, required=True)
@click.option("--approve", "decision", flag_value="approve", help="Approve.")
@click.option(
    "--return", "decision", flag_value="return", help="Return feedback for changes (needs --note)."
)
@click.option("--decline", "decision", flag_value="decline", help="Decline an offer.")
@click.option("--note", default="")
@at_option
@pass_app
def review(
    app: App, target: tuple[str, ...], decision: str | None, note: str, at: dt.datetime
) -> None:
    """A supervisor reviews submitted feedback, or an offer that needs approval.

    \b
    Example:
        fieldcase --as chen.wei review 42 --approve
        fieldcase --as chen.wei review 42 --return --note "Add the employer's name"
        fieldcase --as ann.hughes review offer 42 settlement --approve
    """
    if target[0] == "offer":
        if len(target) != 3:
            raise click.UsageError("review offer CASE OFFER --approve | --decline")
        if decision not in ("approve", "decline"):
            raise click.UsageError("say --approve or --decline")
        offer = app.services.review_offer(
            target[1], target[2], actor=app.need_actor(), at=at, approve=decision == "approve"
        )
        echo(f"Case {offer.case_id}: offer {offer.code} {offer.status}")
        return
    if len(target) != 1:
        raise click.UsageError("review CASE --approve | --return --note TEXT")
    if decision not in ("approve", "return"):
        raise click.UsageError("say --approve or --return")
    case, fb = app.services.review_feedback(
        target[0], actor=app.need_actor(), at=at, approve=decision == "approve", note=note
    )
    outcome = ""
    if fb.review_status == "approved" and case.resolution == "reviewed":
        due = f", next review due {case.next_review}" if case.next_review else ""
        outcome = f"; review closed ({fb.recommendation}{due})"
    elif fb.review_status == "approved" and fb.recommendation == "refer-to-collection":
        outcome = f"; now a collection case, in stage {case.stage}"
    echo(f"Case {case.id}: feedback {fb.review_status}{outcome}")
    from .checkins import describe

    assert case.id is not None
    # What the reviewer was to look at ('show' lists them): check-ins far from the borrower.
    for checkin in app.services.case_file(case.id, app.actor).checkins:
        if checkin.far:
            visit = "" if checkin.visit_number is None else f"visit {checkin.visit_number}: "
            echo(f"  Note: {visit}{describe(checkin)} ({checkin.staff})")


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--resolution",
    required=True,
    type=click.Choice(lifecycle.RESOLUTIONS),
)
@click.option("--note", default="")
@at_option
@pass_app
def close(app: App, case_ref: str, resolution: str, note: str, at: dt.datetime) -> None:
    """Close a case with its resolution.

    After approved feedback any resolution; before it, only paid, withdrawn
    (supervisors) or unlocatable.

    \b
    Example:
        fieldcase --as li.na close 42 --resolution restructured
    """
    case = app.services.close(
        case_ref, actor=app.need_actor(), at=at, resolution=resolution, note=note
    )
    echo(f"Case {case.id}: closed as {case.resolution}")


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--reason", required=True, help="Why the case is reopened.")
@at_option
@pass_app
def reopen(app: App, case_ref: str, reason: str, at: dt.datetime) -> None:
    """Reopen a closed case (supervisors), back to preparation or confirmation.

    \b
    Example:
        fieldcase --as chen.wei reopen 42 --reason "Restructure agreement not signed"
    """
    case = app.services.reopen(case_ref, actor=app.need_actor(), at=at, reason=reason)
    echo(f"Case {case.id}: reopened; now in {case.stage}")


# -- money: offers, promises, payments, balance ----------------------------------------------


def offer_rows(offers: Sequence[Any], currency: str) -> list[dict[str, Any]]:
    rows = []
    for offer in offers:
        first = offer.schedule[0] if offer.schedule else None
        rows.append(
            {
                "offer": offer.code,
                "what": offer.label,
                "payments": len(offer.schedule),
                "first due": str(first.due) if first else "",
                "total to pay": money(offer.total_payable, currency),
                "for the borrower": (
                    f"saves {money(offer.saving, currency)}"
                    if offer.saving > 0
                    else f"costs {money(-offer.saving, currency)} more"
                    if offer.saving < 0
                    else "same as owed"
                ),
                "valid until": str(offer.expires or ""),
                "approval": "needed" if offer.status == "needs-approval" else "",
            }
        )
    return rows


def offer_json(offer: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(offer, recurse=True)


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--schedule", "show_schedule", is_flag=True, help="Also list every payment.")
@at_option
@json_option
@pass_app
def offers(app: App, case_ref: str, show_schedule: bool, at: dt.datetime, json_: bool) -> None:
    """Work out the repayment offers for a case now, side by side, and record them.

    Offers come from the institution's terms and plugins; each stands until
    its date. One whose saving is above the institution's threshold needs a
    supervisor's approval before it can be accepted.

    \b
    Example:
        fieldcase --as li.na offers 42
        fieldcase --as li.na offers 42 --schedule --json
    """
    balance, presented = app.services.present_offers(case_ref, actor=app.need_actor(), at=at)
    currency = balance.currency
    if json_:
        emit(
            {
                "balance": str(balance.total),
                "basis": balance.basis,
                "currency": currency,
                "offers": [offer_json(o) for o in presented],
            },
            True,
            lambda: None,
        )
        return
    owed = "Owed now" if balance.basis == "balance" else f"Due ({balance.basis})"
    echo(
        f"{owed}: {money(balance.total, currency)} (principal "
        f"{money(balance.principal, currency)}, interest {money(balance.interest, currency)}, "
        f"penalty {money(balance.penalty, currency)}, fees {money(balance.fees, currency)})"
    )
    table(offer_rows(presented, currency))
    if show_schedule:
        for offer in presented:
            echo(f"\n{offer.code}:")
            table(
                [
                    {"#": n, "due": str(p.due), "amount": money(p.amount, currency)}
                    for n, p in enumerate(offer.schedule, start=1)
                ]
            )


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.argument("offer_code", metavar="OFFER")
@at_option
@pass_app
def accept(app: App, case_ref: str, offer_code: str, at: dt.datetime) -> None:
    """The borrower accepts an offer: it becomes the arrangement and its promises to pay.

    \b
    Example:
        fieldcase --as li.na accept 42 installment-6
    """
    offer, promises = app.services.accept_offer(case_ref, offer_code, actor=app.need_actor(), at=at)
    echo(
        f"Case {offer.case_id}: offer {offer.code} accepted; "
        f"{len(promises)} promise{'' if len(promises) == 1 else 's'} to pay, "
        f"{money(offer.total_payable, offer.currency)} in all, first due "
        f"{promises[0].due if promises else '-'}"
    )


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--amount", required=True, help="Amount promised, in the case currency.")
@click.option(
    "--date",
    "due",
    required=True,
    type=DAY,
    help="By when, YYYY-MM-DD in the borrower's calendar.",
)
@at_option
@pass_app
def promise(app: App, case_ref: str, amount: str, due: dt.datetime, at: dt.datetime) -> None:
    """Record a promise to pay made by the borrower.

    \b
    Example:
        fieldcase --as li.na promise 42 --amount 1500 --date 2026-12-15
    """
    made = app.services.record_promise(
        case_ref, actor=app.need_actor(), at=at, amount=amount, due=due.date()
    )
    case = app.services.get_case(made.case_id)
    echo(
        f"Case {made.case_id}: promise of {money(made.amount, case.currency)} by "
        f"{made.due} recorded"
    )


# A negative AMOUNT must reach the amount check, not be taken for an option: unknown
# options pass through the group, and the record command takes them as arguments.
@cli.group(
    cls=DefaultedGroup,
    default_command="record",
    context_settings={"ignore_unknown_options": True},
)
def payment() -> None:
    """Record a payment received; confirm or reverse one (a supervisor).

    \b
      fieldcase payment CASE AMOUNT --reference R       record (payment record ...)
      fieldcase payment confirm CASE REFERENCE          count a reported payment
      fieldcase payment reverse CASE REFERENCE --reason TEXT   undo a wrong one

    A supervisor's payment counts at once. Field staff's is reported: shown,
    but counted toward the balance, promises and closing the case only once a
    supervisor confirms it, or the bank's payment file does (fieldcase import
    payments). A reversed payment stays on record and stops counting.

    \b
    Example:
        fieldcase --as li.na payment 42 1500.00 --reference BOC-20261215-0042 \\
          --at 2026-12-15T10:12+08:00
        fieldcase --as chen.wei payment confirm 42 BOC-20261215-0042
        fieldcase --as chen.wei payment reverse 42 BOC-20261215-0042 \\
          --reason "typed 1e5 for 1500"
    """


@payment.command("record", context_settings={"ignore_unknown_options": True})
@click.argument("case_ref", metavar="CASE")
@click.argument("amount", metavar="AMOUNT")
@click.option("--reference", required=True, help="The payment's reference; recorded once.")
@click.option("--currency", help="Check the amount's currency against the case's.")
@at_option
@json_option
@pass_app
def payment_record(
    app: App,
    case_ref: str,
    amount: str,
    reference: str,
    currency: str | None,
    at: dt.datetime,
    json_: bool,
) -> None:
    """Record a payment received. The same --reference twice records it once.

    AMOUNT may name its currency: 1500, "1500 CNY" or "CNY 1500". A
    supervisor's payment counts at once, and one that clears what is owed
    closes the case as paid (or settled). Field staff's is reported, not yet
    counted, until a supervisor confirms it. "payment record" may be left out.

    \b
    Example:
        fieldcase --as chen.wei payment 42 1500.00 --reference BOC-20261215-0042 \\
          --at 2026-12-15T10:12+08:00
    """
    paid, new, case = app.services.record_payment(
        case_ref,
        actor=app.need_actor(),
        at=at,
        amount=amount,
        reference=reference,
        currency=currency,
    )

    def human() -> None:
        confirm = f"fieldcase payment confirm {case.id} {paid.reference}"
        if not new:
            state = f" ({payment_status(paid)}: {confirm})" if paid.status == "reported" else ""
            echo(
                f"Case {case.id}: payment {paid.reference} was already recorded{state}; "
                "nothing changed"
            )
        elif paid.status == "reported":
            echo(
                f"Case {case.id}: payment of {money(paid.amount, case.currency)} reported "
                f"({paid.reference}); not yet counted: a supervisor confirms it ({confirm})"
            )
        else:
            echo(
                f"Case {case.id}: payment of {money(paid.amount, case.currency)} recorded "
                f"({paid.reference})"
            )
            closed_by(case, paid)

    emit(payment_json(case, paid, new=new), json_, human)


def payment_json(case: Case, paid: Payment, **extra: Any) -> dict[str, Any]:
    """A payment command's ``--json``: the payment as it now stands, and its case."""
    import attrs

    return {
        "case": case.id,
        "payment": attrs.asdict(paid),
        "stage": str(case.stage),
        "resolution": case.resolution,
        **extra,
    }


def closed_by(case: Case, paid: Payment) -> None:
    """Say so when ``paid`` just closed the case."""
    if case.stage == lifecycle.Stage.CLOSED and case.closed_at == paid.at:
        echo(f"Case {case.id}: closed as {case.resolution}")


@payment.command("confirm")
@click.argument("case_ref", metavar="CASE")
@click.argument("reference", metavar="REFERENCE")
@at_option
@json_option
@pass_app
def payment_confirm(app: App, case_ref: str, reference: str, at: dt.datetime, json_: bool) -> None:
    """Confirm a reported payment: it counts from when it was paid (a supervisor).

    If the confirmed payments now clear what is owed, the case closes as paid
    (or settled), as when a supervisor records the payment.

    \b
    Example:
        fieldcase --as chen.wei payment confirm 42 BOC-20261215-0042
    """
    paid, case = app.services.confirm_payment(case_ref, reference, actor=app.need_actor(), at=at)

    def human() -> None:
        echo(
            f"Case {case.id}: payment of {money(paid.amount, case.currency)} ({paid.reference}, "
            f"paid {local_time(paid.at, case.borrower.timezone)}) confirmed; it counts"
        )
        closed_by(case, paid)

    emit(payment_json(case, paid), json_, human)


@payment.command("reverse")
@click.argument("case_ref", metavar="CASE")
@click.argument("reference", metavar="REFERENCE")
@click.option("--reason", required=True, help="Why: a typo, a returned transfer...")
@at_option
@json_option
@pass_app
def payment_reverse(
    app: App, case_ref: str, reference: str, reason: str, at: dt.datetime, json_: bool
) -> None:
    """Reverse a payment recorded in error: it stops counting (a supervisor).

    The payment stays on record, marked reversed. A case closed as paid or
    settled on that money is reopened to the stage it was closed from, unless
    the other payments still clear it. Its reference stays taken: money
    received after all comes under the bank's correction reference (a report
    reversed before it ever counted gives way to the bank's payment file).

    \b
    Example:
        fieldcase --as chen.wei payment reverse 42 BOC-20261215-0042 \\
          --reason "typed 1e5 for 1500"
    """
    was = app.services.get_case(case_ref)
    paid, case = app.services.reverse_payment(
        case_ref, reference, actor=app.need_actor(), at=at, reason=reason
    )
    reopened = was.stage == lifecycle.Stage.CLOSED and case.stage != lifecycle.Stage.CLOSED

    def human() -> None:
        echo(
            f"Case {case.id}: payment of {money(paid.amount, case.currency)} "
            f"({paid.reference}) reversed; it no longer counts"
        )
        if reopened:
            echo(f"Case {case.id}: reopened to {case.stage} (it was closed as {was.resolution})")
        elif case.stage == lifecycle.Stage.CLOSED:
            echo(f"Case {case.id}: stays closed as {case.resolution}")

    emit(payment_json(case, paid, reopened=reopened), json_, human)


@cli.command()
@click.argument("case_ref", metavar="CASE")
@at_option
@json_option
@pass_app
def balance(app: App, case_ref: str, at: dt.datetime, json_: bool) -> None:
    """What the case owes now, by component, with its promises and arrangement.

    \b
    Example:
        fieldcase balance 42
        fieldcase balance 42 --at 2027-01-31T18:00+08:00 --json
    """

    view = app.services.money_view(case_ref, at)
    if json_:
        emit({"case": view.case.id, **balance_json(view)}, True, lambda: None)
        return
    echo(
        f"Case {view.case.id}  {view.case.label}  at {local_time(at, view.case.borrower.timezone)}"
        f"  ({view.balance.days_past_due} days past due)"
    )
    print_balance(view)


# -- case files in, visit records out ----------------------------------------------------------


# Its options pass through the group to the default command: "import FILE --institution X"
# is "import cases FILE --institution X", as it was before payment files came in.
@cli.group(
    "import",
    cls=DefaultedGroup,
    default_command="cases",
    context_settings={"ignore_unknown_options": True},
)
def import_group() -> None:
    """Import an institution's case file, or a bank's payment file.

    \b
      fieldcase import FILE --institution ID            case files (import cases ...)
      fieldcase import payments FILE --institution ID   payments received

    \b
    Example:
        fieldcase --as chen.wei import cases.csv --institution hx-consumer
        fieldcase --as chen.wei import payments boc-20261215.csv --institution hx-consumer
    """


def file_options(fields: str, rejects: str) -> Callable[[F], F]:
    """The options every imported file shares: its format, encoding, mapping, rejects."""

    def decorate(func: F) -> F:
        for option in reversed(
            (
                click.option("--format", "fmt", help="File format (default: from the suffix)."),
                click.option(
                    "--encoding",
                    default="utf-8",
                    show_default=True,
                    help="Text encoding: utf-8 (with or without BOM), gb18030, gbk...",
                ),
                click.option(
                    "--mapping",
                    type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    help=f"TOML file mapping the file's columns to fieldcase's {fields}.",
                ),
                click.option(
                    "--rejects",
                    type=click.Path(dir_okay=False, path_type=Path),
                    help=f"Where {rejects} go (default: FILE.rejects.csv beside the input).",
                ),
            )
        ):
            func = option(func)
        return func

    return decorate


@import_group.command("cases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--institution", required=True, help="The institution the file comes from.")
@file_options("fields", "invalid rows")
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows per transaction.",
)
@click.option(
    "--indexes",
    type=click.Choice(["auto", "keep", "rebuild"]),
    default="auto",
    show_default=True,
    help="Keep the cases' indexes up row by row, or set them aside and rebuild them "
    "at the end (auto: rebuild when the file is large against the table).",
)
@at_option
@json_option
@pass_app
def import_cases(
    app: App,
    file: Path,
    institution: str,
    fmt: str | None,
    encoding: str,
    mapping: Path | None,
    rejects: Path | None,
    batch_size: int,
    indexes: str,
    at: dt.datetime,
    json_: bool,
) -> None:
    """Import an institution's case file (CSV, JSON Lines, or XLSX with its plugin).

    Valid rows become cases (or update them); invalid rows go to the rejects
    file with their line number, field and reason. Importing the same file
    again changes nothing; a run that was stopped can simply be run again.
    "import cases" may be left out: fieldcase import FILE is the same.

    \b
    Example:
        fieldcase --as chen.wei import cases.csv --institution hx-consumer
        fieldcase --as chen.wei import 逾期名单.csv --institution hx-consumer \\
          --encoding gb18030 --mapping hx-columns.toml
        fieldcase --as chen.wei import full-book.csv --institution hx-consumer --indexes rebuild
    """
    from .importing import ColumnMapping

    services = app.services
    column_mapping = ColumnMapping.load(mapping) if mapping else None
    size = file.stat().st_size
    options: dict[str, Any] = dict(
        institution=institution,
        actor=app.need_actor(),
        at=at,
        fmt=fmt,
        encoding=encoding,
        mapping=column_mapping,
        rejects_path=rejects,
        batch_size=batch_size,
        indexes=indexes,
    )
    if sys.stderr.isatty() and size:
        with click.progressbar(
            length=size, label=f"Importing {file.name}", file=sys.stderr, show_pos=False
        ) as bar:
            done = 0

            def advance(row: Any) -> None:
                nonlocal done
                if row.offset is not None and row.offset > done:
                    bar.update(row.offset - done)
                    done = row.offset

            summary = services.import_cases(file, progress=advance, **options)
    else:
        summary = services.import_cases(file, **options)
    import attrs

    def human() -> None:
        echo(
            f"{summary.file}: {summary.rows} rows: {summary.imported} imported, "
            f"{summary.updated} updated, {summary.unchanged} unchanged, "
            f"{summary.rejected} rejected"
            + (f" ({summary.ineligible} not eligible for a visit)" if summary.ineligible else "")
        )
        if summary.rejects_file:
            echo(f"Rejected rows, with line, field and reason: {summary.rejects_file}")
        if summary.warnings_file:
            rows = "1 row" if summary.warned == 1 else f"{summary.warned} rows"
            echo(f"Warnings about {rows}, with line, field and reason: {summary.warnings_file}")

    emit(attrs.asdict(summary), json_, human)


@import_group.command("payments")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--institution", required=True, help="The institution whose payments these are.")
@file_options("payment fields", "rows not taken")
@at_option
@json_option
@pass_app
def import_payments(
    app: App,
    file: Path,
    institution: str,
    fmt: str | None,
    encoding: str,
    mapping: Path | None,
    rejects: Path | None,
    at: dt.datetime,
    json_: bool,
) -> None:
    """Import a bank's payment file: confirm reported payments, record the others.

    Columns: reference (the bank's), case (fieldcase's id) or loan_reference
    (the institution's), amount, currency (optional, checked), paid_at (ISO
    8601; without a zone, in the institution's). A row whose reference a field
    worker reported confirms it (the amounts must agree); one nobody reported
    is recorded, confirmed. Either may close its case as paid. Rows already
    confirmed are unchanged, so importing the file again changes nothing;
    reversed references, unknown cases and bad amounts go to the rejects file.

    \b
    Example:
        fieldcase --as chen.wei import payments boc-20261215.csv --institution hx-consumer
    """
    from .importing import ColumnMapping
    from .payment_files import PAYMENT_FIELDS

    summary = app.services.import_payments(
        file,
        institution=institution,
        actor=app.need_actor(),
        at=at,
        fmt=fmt,
        encoding=encoding,
        mapping=ColumnMapping.load(mapping, PAYMENT_FIELDS) if mapping else None,
        rejects_path=rejects,
    )
    import attrs

    def human() -> None:
        echo(
            f"{summary.file}: {summary.rows} rows: {summary.confirmed} confirmed, "
            f"{summary.recorded} recorded, {summary.unchanged} unchanged, "
            f"{summary.rejected} rejected"
            + (
                f" ({summary.closed} {'case' if summary.closed == 1 else 'cases'} closed)"
                if summary.closed
                else ""
            )
        )
        if summary.rejects_file:
            echo(f"Rejected rows, with line, field and reason: {summary.rejects_file}")

    emit(attrs.asdict(summary), json_, human)


@cli.group(cls=FieldcaseGroup)
def export() -> None:
    """Export records for institutions and back offices."""


@export.command("visits")
@click.option(
    "--format",
    "fmt",
    help="csv, jsonl, or a plugin's format such as xlsx (default: from --output's suffix, "
    "else csv).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
@click.option("--institution")
@click.option("--stage", type=click.Choice([str(stage) for stage in lifecycle.Stage]))
@click.option("--staff", help="Visits made or planned with this staff member.")
@click.option("--since", metavar="TIME", help="Only cases with events from TIME on.")
@click.option(
    "--after-event",
    type=click.IntRange(0, 2**62),
    metavar="N",
    help="Only cases with events after event N (the cursor of the last export).",
)
@click.option(
    "--unmasked",
    is_flag=True,
    help="Include national ids, phones and third-party notes (supervisors).",
)
@click.option("--replace", is_flag=True, help="Overwrite --output if it exists.")
@at_option
@pass_app
def export_visits(
    app: App,
    fmt: str | None,
    output: Path | None,
    institution: str | None,
    stage: str | None,
    staff: str | None,
    since: str | None,
    after_event: int | None,
    unmasked: bool,
    replace: bool,
    at: dt.datetime,
) -> None:
    """One row per visit: case, interview findings, feedback and review.

    Personal data is masked unless --unmasked. Every export is recorded as an
    event. The summary on stderr gives the cursor for the next --after-event.

    \b
    Example:
        fieldcase --as chen.wei export visits --institution hx-consumer -o visits.csv
        fieldcase --as chen.wei export visits --format jsonl --after-event 1200
    """
    from .store import ExportFilter

    try:
        since_time = parse_time(since) if since else None
    except click.BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint="'--since'") from None
    filters = ExportFilter(
        institution=institution,
        stage=stage,
        staff=staff,
        since=since_time,
        after_event=after_event,
    )
    services = app.services
    if output is not None:  # never the database, a link or a file not to replace: first
        from .outputs import check_output

        check_output(output, app.db_path, option="--output", replace=replace)
    exporter = services.exporter_for(fmt, output)
    if output is None and exporter.binary:
        raise click.UsageError(f"{exporter.name} writes a binary file: give --output FILE")
    options: dict[str, Any] = dict(
        fmt=exporter.name,
        actor=app.need_actor(),
        at=at,
        filters=filters,
        unmasked=unmasked,
        output_name=str(output or "-"),
    )
    if output is None:
        summary = services.export_visits(sys.stdout.buffer, **options)
    else:
        if sys.stderr.isatty():
            # A running count on the terminal; nothing when piped or logged.
            options["progress"] = lambda n: click.echo(f"\r{n:,} visits...", nl=False, err=True)
        from .outputs import create_exclusive, written_whole

        with (
            written_whole(output, again="export again") as partial,
            create_exclusive(partial) as out,
        ):
            summary = services.export_visits(out, **options)
    click.echo(
        ("\r" if "progress" in options else "")
        + f"Exported {summary.rows} visit{'' if summary.rows == 1 else 's'} "
        f"({'masked' if summary.masked else 'UNMASKED'}), "
        f"event {summary.event_id}; next time: --after-event {summary.cursor}",
        err=True,
    )


# -- compliance: flags, dry runs, reports --------------------------------------------------------


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option(
    "--set",
    "add",
    multiple=True,
    type=click.Choice(lifecycle.FLAGS),
    help="Set a flag (repeatable).",
)
@click.option(
    "--clear",
    "remove",
    multiple=True,
    type=click.Choice(lifecycle.FLAGS),
    help="Clear a flag (repeatable).",
)
@click.option("--note", default="", help="Why, e.g. the letter's date.")
@at_option
@pass_app
def flags(
    app: App,
    case_ref: str,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    note: str,
    at: dt.datetime,
) -> None:
    """Show or change a case's compliance flags.

    cease-communication: the borrower asked in writing for no more contact;
    attorney: the borrower is represented by an attorney;
    no-credit-relationship: the institution no longer holds an open credit
    relationship with the borrower.

    \b
    Example:
        fieldcase --as chen.wei flags 42 --set cease-communication --note "letter of 2026-11-20"
    """
    services = app.services
    if add or remove:
        case = services.set_flags(
            case_ref, actor=app.need_actor(), at=at, add=add, remove=remove, note=note
        )
    else:
        case = services.get_case(case_ref)
    echo(f"Case {case.id}: {', '.join(case.flags) or 'no flags'}")


@cli.command()
@click.argument("case_ref", metavar="CASE")
@click.option("--action", required=True, type=click.Choice(lifecycle.ACTIONS))
@click.option("--channel", metavar="CHANNEL", callback=lower_case, help="As contact --channel.")
@click.option("--target", type=click.Choice(lifecycle.TARGETS))
@click.option("--purpose", type=click.Choice(lifecycle.PURPOSES))
@click.option("--relationship", type=click.Choice(lifecycle.RELATIONSHIPS))
@click.option(
    "--date",
    "date_",
    type=DAY,
    help="Visit date for plan_visit (with --window).",
)
@click.option("--window", help="HH:MM-HH:MM in the borrower's local time.")
@click.option(
    "--with",
    "companions",
    multiple=True,
    metavar="STAFF",
    help="Another visiting staff member, as plan --with (repeatable).",
)
@at_option
@json_option
@pass_app
def check(
    app: App,
    case_ref: str,
    action: str,
    channel: str | None,
    target: str | None,
    purpose: str | None,
    relationship: str | None,
    date_: dt.datetime | None,
    window: str | None,
    companions: tuple[str, ...],
    at: dt.datetime,
    json_: bool,
) -> None:
    """Dry run: every rule consulted for an action now, and its verdict. Writes nothing.

    Exits 0 when the action would be allowed, 1 when a rule would refuse it.
    Only the rules are asked: the stage and permission checks of the action
    itself are not part of the dry run. Without --as, as the staff member
    assigned; --at may be any time, past or future.

    \b
    Example:
        fieldcase --as li.na check 42 --action contact --channel phone \\
          --at 2026-11-23T20:59-05:00
        fieldcase --as li.na check 42 --action plan_visit --date 2026-11-25 --window 19:00-21:30
    """
    span = None
    if window is not None:
        if date_ is None:
            raise click.UsageError("--window needs --date")
        from zoneinfo import ZoneInfo

        start, end = parse_window(window)
        zone = ZoneInfo(app.services.get_case(case_ref).borrower.timezone)
        span = (
            dt.datetime.combine(date_.date(), start, tzinfo=zone),
            dt.datetime.combine(date_.date(), end, tzinfo=zone),
        )
    verdicts = app.services.dry_run(
        case_ref,
        action,
        actor=app.actor,
        at=at,
        channel=channel,
        target=target,
        purpose=purpose,
        window=span,
        companions=companions,
        relationship=relationship,
    )
    rows = [
        {
            "plugin": plugin,
            "rule": d.rule,
            "verdict": "allow" if d.allowed else "DENY",
            "reason": d.reason,
        }
        for plugin, d in verdicts
    ]
    emit(rows, json_, lambda: table(rows, ["verdict", "rule", "reason", "plugin"]))
    if any(not d.allowed for _, d in verdicts):
        sys.exit(1)


@cli.group(cls=FieldcaseGroup)
def report() -> None:
    """Reports, built in and from plugins: fieldcase report NAME --help."""


def report_command(found: Any) -> click.Command:
    """A ``fieldcase report NAME`` command for one registered report."""

    example = f"\n\n\b\nExample:\n    fieldcase report {found.name} --format csv > {found.name}.csv"

    if found.where:
        example += f"\n    fieldcase report {found.name} --where branch=Harbor-East"

    @click.command(
        name=found.name, help=(found.description or found.name) + example, cls=FieldcaseCommand
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "json"]),
        default="table",
        show_default=True,
    )
    @click.option("--institution")
    @click.option("--from", "start", metavar="TIME", help="Events from this time on.")
    @click.option("--to", "end", metavar="TIME", help="Events before this time.")
    @click.option(
        "--chart",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also draw the report into FILE.png or FILE.svg (fieldcase-charts).",
    )
    @click.option("--replace", is_flag=True, help="Overwrite the --chart file if it exists.")
    @click.option(
        "where_pairs",
        "--where",
        multiple=True,
        metavar="NAME=VALUE",
        help="Only cases whose attribute NAME is VALUE (reports that read cases); repeat.",
    )
    @pass_app
    def run(
        app: App,
        fmt: str,
        institution: str | None,
        start: str | None,
        end: str | None,
        chart: Path | None,
        replace: bool,
        where_pairs: tuple[str, ...],
    ) -> None:
        import csv as csv_module

        from .attributes import where_filter
        from .reports import ReportFilter

        end_time = parse_time(end) if end else None
        if where_pairs and not found.where:
            raise click.UsageError(
                f"report {found.name} does not filter on attributes (--where); reports that "
                "do say so in their help"
            )
        if institution:
            app.services.institution(institution)  # an unknown one is refused, with a hint
        filters = ReportFilter(
            institution=institution,
            start=parse_time(start) if start else None,
            end=end_time,
            # The clock is read here, at the edge, and handed in.
            at=end_time or real_now(),
            where=where_filter(where_pairs),
            viewer=app.actor,
        )
        rows = found.run(app.services, filters)
        if fmt == "json":
            shown = found.json_rows(rows)
            click.echo(visible_json(json.dumps(shown, indent=2, ensure_ascii=False, default=str)))
        elif fmt == "csv":
            writer = csv_module.writer(sys.stdout)
            writer.writerow(found.columns)
            writer.writerows([row.get(c) for c in found.columns] for row in rows)
        else:
            table(rows, found.columns)
        if chart is not None:
            from .outputs import check_output, written_whole

            check_output(chart, app.db_path, option="--chart", replace=replace)
            with written_whole(chart, again="draw the chart again") as partial:
                app.services.draw_chart(
                    f"fieldcase report {found.name}", found.columns, rows, partial
                )
            echo(f"Chart: {chart}", err=True)

    return run


# -- plugins and audit ------------------------------------------------------------------------


@cli.command()
@click.option("--all", "all_", is_flag=True, help="Include the built-in default plugins.")
@json_option
def plugins(all_: bool, json_: bool) -> None:
    """Installed plugins, with their versions and hooks.

    \b
    Example:
        fieldcase plugins --json
    """
    from .plugins import describe_plugins, manager

    rows = describe_plugins(manager(), all_plugins=all_)
    emit(
        rows,
        json_,
        lambda: table(
            [{**r, "hooks": ", ".join(r["hooks"])} for r in rows], ["name", "version", "hooks"]
        ),
    )


@cli.group(cls=FieldcaseGroup)
def audit() -> None:
    """Check the event log: hash chains, seals, and replay."""


#: A seal as 'audit seal' prints it: the digest, "@", and the last event it seals.
SEAL_TEXT = re.compile(r"([0-9a-f]{64})@(\d+)")


class SealType(click.ParamType):
    """A seal as 'audit seal' prints it (DIGEST@EVENT), given as (digest, event)."""

    name = "seal"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        found = SEAL_TEXT.fullmatch(text.lower())
        if found is not None:
            return found[1], int(found[2])
        if re.fullmatch(r"[0-9a-f]{64}", text.lower()):
            self.fail(
                "this seal is a digest alone, without the event it was taken at (as "
                "'audit seal' printed it before): add '@' and the id of the log's last event "
                "then; 'audit seal' on a backup taken at the time prints both",
                param,
                ctx,
            )
        self.fail(
            f"{text!r} is not a seal as 'audit seal' prints it: DIGEST@EVENT "
            "(64 hexadecimal digits, '@', an event id)",
            param,
            ctx,
        )


@contextmanager
def progress_bars(labels: dict[str, str]) -> Iterator[Callable[[str, int, int], None] | None]:
    """``advance(stage, done, total)``: a bar on stderr for each stage in turn, with its
    label; on a terminal only (None when stderr is piped or logged)."""
    if not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as shown:
        current: list[Any] = []  # [stage, its bar] once one is shown

        def advance(stage: str, done: int, total: int) -> None:
            if not current or current[0] != stage:
                shown.close()  # the previous stage's bar ends
                bar = click.progressbar(length=max(total, 1), label=labels[stage], file=sys.stderr)
                current[:] = [stage, shown.enter_context(bar)]
            bar = current[1]
            bar.update(done - bar.pos)

        yield advance


@audit.command("verify")
@click.option(
    "--seal",
    "expected_seal",
    metavar="SEAL",
    help="A seal from 'audit seal' kept elsewhere: the whole log must still match it "
    "(exposes removed tail events).",
)
@click.option(
    "--since-seal",
    "since",
    metavar="SEAL",
    type=SealType(),
    help="A seal from 'audit seal' (DIGEST@EVENT): the log up to EVENT must still match "
    "it; then only the events after EVENT are verified.",
)
@click.option(
    "--replay", is_flag=True, help="Also rebuild every table from the events and compare."
)
@pass_app
def audit_verify(
    app: App, expected_seal: str | None, since: tuple[str, int] | None, replay: bool
) -> None:
    """Prove no event was edited or removed from the middle of its case's chain.

    Exits 1 naming the first bad event, or an attachment whose stored file
    no longer matches its fingerprint. With --since-seal, the events up to
    the seal's are not checked again: they are as sound as the full verify
    that came before the seal was kept (docs/operations.md). On a terminal,
    progress is shown on stderr.

    \b
    Example:
        fieldcase audit verify
        fieldcase audit verify --seal 3f1c...e9@8812 --replay
        fieldcase audit verify --since-seal "$(cat seal-2026-11-23.txt)"
    """
    services = app.open(read_only=True)
    after = 0
    if since is not None:
        expected, after = since
        digest, chains, events, last = services.seal(up_to=after)
        if last < after:
            echo(
                f"FAILED: seal mismatch: the seal was taken at event {after} but the log "
                f"ends at event {last}; events were removed after it was taken",
                err=True,
            )
            sys.exit(1)
        if digest != expected:
            echo(
                f"FAILED: seal mismatch: up to event {after}, the log has {events} events in "
                f"{chains} chains and does not match the seal; events up to it were removed, "
                "added or altered after it was taken",
                err=True,
            )
            sys.exit(1)
        echo(f"OK: the log up to event {after} matches the seal")
    with progress_bars({"verify": "Verifying events"}) as advance:
        checked, problem = services.verify_audit(
            after=after, progress=None if advance is None else functools.partial(advance, "verify")
        )
    if problem is not None:
        echo(f"FAILED: event {problem.event_id} ({problem.chain}): {problem.problem}", err=True)
        sys.exit(1)
    if since is None:
        echo(f"OK: {checked} events in valid hash chains")
    else:
        noun = "event" if checked == 1 else "events"
        echo(f"OK: {checked} {noun} after event {after} in valid hash chains")
    failures = services.verify_file()
    files, wrong_files = services.verify_attachments()
    if failures or wrong_files:
        for failure in [*failures, *wrong_files]:
            echo(f"FAILED: {failure}", err=True)
        sys.exit(1)
    sound = "the database is sound" if services.store.has_logins else "the file is sound"
    echo(f"OK: the log's guards are in place and {sound}")
    if files:
        noun = "file matches its" if files == 1 else "files match their"
        echo(f"OK: {files} attachment {noun} fingerprint{'' if files == 1 else 's'}")
    if expected_seal:
        digest, chains, events, _ = services.seal()
        # A seal is DIGEST@EVENT; one printed before it named its event is the digest alone.
        if digest != expected_seal.strip().split("@")[0]:
            echo(
                f"FAILED: seal mismatch: the log now has {events} events in {chains} "
                "chains and does not match the seal; events were removed or added "
                "after it was taken",
                err=True,
            )
            sys.exit(1)
        echo("OK: matches the seal")
    if replay:
        stages = {"replay": "Replaying events", "compare": "Comparing tables"}
        with progress_bars(stages) as advance:
            differences = services.replay_differences(limit=20, progress=advance)
        if differences:
            for line in differences:
                echo(f"FAILED: {line}", err=True)
            sys.exit(1)
        echo("OK: every table equals the replay of the events")


@audit.command("seal")
@json_option
@pass_app
def audit_seal(app: App, json_: bool) -> None:
    """Print one digest over every chain's head, and the last event; keep it elsewhere.

    It reads DIGEST@EVENT. 'audit verify --seal' checks that the whole log
    still matches it; 'audit verify --since-seal' checks the log up to EVENT
    against it and verifies only the events after.

    \b
    Example:
        fieldcase audit seal > seal-2026-11-23.txt
        fieldcase audit verify --seal "$(cat seal-2026-11-23.txt)"
        fieldcase audit verify --since-seal "$(cat seal-2026-11-23.txt)"
    """
    digest, chains, events, last = app.open(read_only=True).seal()
    emit(
        {"seal": digest, "chains": chains, "events": events, "last_event": last},
        json_,
        lambda: echo(f"{digest}@{last}"),
    )


@cli.command("migrate")
@click.option(
    "--to", "url", required=True, metavar="URL", help="The PostgreSQL database to move into."
)
@click.option(
    "--batch",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events moved per transaction: a stopped run resumes after the last one.",
)
@json_option
@pass_app
def migrate_to(app: App, url: str, batch: int, json_: bool) -> None:
    """Move this office's database into a PostgreSQL database a team shares.

    Every event is copied as it was written, with the rows it writes; the
    source's chains are verified first, and after, the target's chains, seal,
    table counts and replay must equal the source's. Run it as the target's
    administrator. Stopped half way, run it again: it goes on from there.
    Staff logins are created without passwords: set them with 'staff password'.

    \b
    Example:
        fieldcase --db office.db migrate --to postgresql://fc_admin@db.example/office
    """
    from .moving import move
    from .store import Store
    from .store.dialect import is_server_url, redact_url

    if not is_server_url(url):
        raise click.UsageError(f"--to {redact_url(url)!r} is not a postgresql:// URL")
    source = app.open(read_only=True).store
    target = Store(url)
    try:
        moved = move(
            source,
            target,
            batch=batch,
            progress=lambda done, end: echo(f"moved events up to {done} of {end}", err=True),
        )
    finally:
        target.close()
    import attrs

    result = {**attrs.asdict(moved), "to": redact_url(url)}
    emit(
        result,
        json_,
        lambda: echo(
            f"Moved {moved.events} events ({moved.already} were there already) to "
            f"{redact_url(url)}: {moved.total} events in {moved.chains} chains, verified; "
            f"seal {moved.seal}"
        ),
    )


# -- operations: backup, retention ---------------------------------------------------------------


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite FILE if it exists.")
@at_option
@json_option
@pass_app
def backup(app: App, file: Path, replace: bool, at: dt.datetime, json_: bool) -> None:
    """Copy the database to FILE while staff go on working (supervisors only).

    Uses SQLite's online backup: the copy is one consistent state of the
    database, checked (integrity, audit chains) before it replaces FILE. To
    restore, see docs/operations.md.

    \b
    Example:
        fieldcase --as chen.wei backup /backups/fieldcase-2026-11-23.db
        fieldcase --as chen.wei backup nightly.db --replace --json
    """
    services = app.services
    if sys.stderr.isatty():
        with click.progressbar(length=1, label="Backing up", file=sys.stderr) as bar:

            def advance(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            checked = services.backup(
                file, actor=app.need_actor(), at=at, replace=replace, progress=advance
            )
    else:
        checked = services.backup(file, actor=app.need_actor(), at=at, replace=replace)
    emit(
        {"file": str(file), "integrity": "ok", "events": checked},
        json_,
        lambda: echo(f"Backed up to {file}: integrity ok, {checked} events in valid hash chains"),
    )


@cli.command()
@click.option(
    "--years",
    type=click.IntRange(1, 100),
    help="Keep personal data at least this many years after closure [default: each "
    "institution's retention_years, 5 unless its policy says].",
)
@click.option(
    "--dry-run", is_flag=True, help="List the cases that would be purged; change nothing."
)
@at_option
@json_option
@pass_app
def purge(app: App, years: int | None, dry_run: bool, at: dt.datetime, json_: bool) -> None:
    """Remove the personal data of cases closed longer ago than their institution keeps it.

    Each institution's policy says how long (retention_years, default 5);
    --years can only lengthen it.

    Kept: what statistics and reports need (stage, resolution, amounts, dates,
    overdue reasons, promises and payments) and every event of the audit
    trail, whose chains still verify. Withheld, in the tables and in the
    events: the borrower's name, phone, national id, addresses, finances and
    all free-text notes. Supervisors only; it cannot be undone.

    \b
    Example:
        fieldcase --as chen.wei purge --dry-run
        fieldcase --as chen.wei purge --years 5 --at 2031-12-31T23:00+08:00
    """
    from .purge import purge as run_purge

    result = run_purge(app.services, actor=app.need_actor(), at=at, years=years, dry_run=dry_run)
    summary = {
        "closed_before": {i: cutoff.isoformat() for i, cutoff in result.cutoffs.items()},
        "cases": result.purged,
        "events_redacted": result.events_redacted,
        "skipped": [{"case": c, "why": why} for c, why in result.skipped],
        "dry_run": dry_run,
    }

    def text() -> None:
        verb = "Would purge" if dry_run else "Purged"
        by_day: dict[str, list[str]] = {}
        for institution_id, cutoff in sorted(result.cutoffs.items()):
            by_day.setdefault(f"{cutoff:%Y-%m-%d}", []).append(institution_id)
        days = [
            day if len(by_day) == 1 else f"{day} ({', '.join(ids)})"
            for day, ids in sorted(by_day.items())
        ]
        echo(
            f"{verb} the personal data of {len(result.purged)} cases closed before "
            f"{' or '.join(days) or '(no institution registered)'}"
            + ("" if dry_run else f" ({result.events_redacted} events redacted)")
        )
        if dry_run and result.purged:
            echo("Cases: " + ", ".join(str(c) for c in result.purged))
        for case_id, why in result.skipped:
            echo(f"Skipped case {case_id}: {why}", err=True)

    emit(summary, json_, text)


# -- demo ----------------------------------------------------------------------------------------


@cli.command()
@click.option("--replace", is_flag=True, help="Delete the database first if it exists.")
@click.option("--cases", "count", default=300, show_default=True, type=click.IntRange(10))
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="The demo's now: its month of work ends here, its visits fall on this day "
    "and the next (default: now, to the minute).",
)
@pass_app
def demo(app: App, replace: bool, count: int, at_text: str | None) -> None:
    """Build a demo database: a sample portfolio in mid-flight, every stage in use.

    The cases were referred a month before --at (default: now) and worked
    since: at --at each field worker has calls to make, visits today and
    tomorrow, promises falling due, and feedback awaiting review or returned.
    The same --at builds the same database.

    \b
    Example:
        fieldcase --db demo.db demo --replace
        fieldcase --db demo.db --as li.na today
        fieldcase --db demo.db demo --replace --at 2026-11-24T07:30+08:00
    """
    from zoneinfo import ZoneInfo

    from .demo import build_demo, is_demo_database
    from .store.dialect import is_server_url, redact_url

    if is_server_url(app.db_path):
        # Nothing on a server is a file to check and replace, and its events name the
        # login that wrote them, not the demo's people: the demo is built as a file.
        raise click.BadParameter(
            f"{redact_url(app.db_path)} is a database server; the demo builds a file "
            "(--db demo.db), which 'fieldcase migrate --to URL' moves to a new database",
            param_hint="'--db'",
        )
    path = Path(app.db_path)
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder; name a database file", param_hint="'--db'")
    if path.exists():
        if not replace:
            raise click.ClickException(
                f"{path} already exists; pass --replace to rebuild it, or --db another file"
            )
        if not is_demo_database(path):
            raise click.BadParameter(
                f"{path} was not built by 'fieldcase demo'; --replace deletes only demo "
                "databases (delete it yourself if you mean to)",
                param_hint="'--db'",
            )
    # Parsed before anything is deleted or created: a bad --at changes nothing.
    now = parse_time(at_text) if at_text else clock.current().replace(second=0, microsecond=0)
    if path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    services = app.open(create=True)
    with click.progressbar(length=count, label="Referring cases", file=sys.stderr) as bar:
        result = build_demo(services, now, count=count, progress=bar.update)
    stages = ", ".join(f"{n} {stage}" for stage, n in result.stages)
    echo(
        f"Demo database {path}: {count} cases from {len(result.institutions)} "
        f"institutions, {result.walked} worked on since they were referred a month ago.\n"
        f"At {result.now:%Y-%m-%d %H:%M %z}: {stages}.\n"
    )
    echo("Worklist of li.na:")
    app.actor = "li.na"
    ctx = click.get_current_context()
    ctx.invoke(
        cases,
        staff="li.na",
        stage=None,
        institution=None,
        bucket=None,
        mine=False,
        include_all=False,
        limit=10,
        at=result.now,
        json_=False,
    )
    echo(f"\nHistory of case {result.showcase}:")
    ctx.invoke(history, case_ref=str(result.showcase), json_=False)
    echo("\nTry:")
    echo(f"  fieldcase --db {path} --as li.na today")
    echo(f"  fieldcase --db {path} --as chen.wei cases --stage feedback")
    echo(f"  fieldcase --db {path} --as chen.wei show {result.showcase}")
    echo(f"  fieldcase --db {path} audit verify --replay")
    # Yesterday evening: a time that has passed, judged as if it were now.
    late = (result.now.astimezone(ZoneInfo("Asia/Shanghai")) - dt.timedelta(days=1)).date()
    echo(
        f"  fieldcase --db {path} check {result.showcase} --action contact --channel phone "
        f"--at {late}T22:30+08:00"
    )
    echo(f"  fieldcase --db {path} institution list")


# The borrower's protections: disputes, hardship pauses, complaints.
protection_commands.register(cli)
inquiry_commands.register(cli)
message_commands.register(cli)
checkin_commands.register(cli)
attachment_commands.register(cli)
review_commands.register(cli)
correction_commands.register(cli)
visit_report_commands.register(cli)
pack_commands.register(cli)


def main() -> None:  # pragma: no cover - console entry point
    cli()


# -- the commands plugins add -------------------------------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths = set()
    for name, command in group.commands.items():
        paths.add((*prefix, name))
        if isinstance(command, click.Group):
            paths |= _command_paths(command, (*prefix, name))
    return paths


#: fieldcase's own commands, by path, taken before any plugin adds one. Of ``report``
#: only ``report visit``: every other report, the built-in ones too, a plugin registers.
_OWN_COMMANDS = frozenset(_command_paths(cli))


def _own_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> click.Group:
    """A copy of ``group`` with fieldcase's own commands only: groups copied, commands shared."""
    copied = copy.copy(group)
    copied.commands = {}
    for name, command in group.commands.items():
        path = (*prefix, name)
        if path in _OWN_COMMANDS:
            if isinstance(command, click.Group):
                command = _own_commands(command, path)
            copied.commands[name] = command
    return copied


def add_plugin_commands(group: click.Group, pm: pluggy.PluginManager) -> None:
    """Add ``pm``'s reports, as ``report NAME``, and its plugins' commands to ``group``."""
    from .reports import reports

    report_group = group.commands["report"]
    assert isinstance(report_group, click.Group)
    for found in reports(pm).values():
        if ("report", found.name) not in _OWN_COMMANDS:  # `report visit` keeps its name
            report_group.add_command(report_command(found))
    pm.hook.register_commands(cli=group)


def command_line(pm: pluggy.PluginManager) -> click.Group:
    """The command line of a process whose plugins are ``pm``'s.

    ``cli`` gets its plugins' reports and commands once, when this module is
    first imported. A test that registers a plugin later, or loads fewer, asks
    for a command line of its own: a copy of ``cli`` with fieldcase's own
    commands and those of ``pm`` (see :mod:`fieldcase.testing`); ``cli`` is
    left as it was.
    """
    group = _own_commands(cli)
    add_plugin_commands(group, pm)
    return group


@functools.cache
def _load_plugin_commands() -> None:
    from .plugins import manager

    add_plugin_commands(cli, manager())


_load_plugin_commands()
