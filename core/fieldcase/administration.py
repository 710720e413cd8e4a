"""The office: staff and their roles and badges, assigning cases, backups.

Each action runs through the shared steps of :class:`fieldcase.services.Services`
(``begin``, ``guard``, ``save`` with its event, ``notify``); ``Services``
offers it as a method of the same name.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from . import lifecycle
from .clock import aware
from .errors import (
    FieldcaseError,
    InvalidInput,
    NotPermitted,
)
from .model import (
    ActionContext,
    Case,
    Staff,
)
from .store import Store
from .suggest import choice

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


#: A staff id: a lower-case slug, so that li.na and "Li Na" are never two people.
_STAFF_ID = re.compile(r"[a-z][a-z0-9._-]{0,63}")


def check_staff_id(staff_id: str) -> None:
    """InvalidInput unless ``staff_id`` is a lower-case slug (letters, digits, '.', '-',
    '_', starting with a letter), suggesting the slug meant. Ids stored before this
    rule keep working: only new ones are checked."""
    if _STAFF_ID.fullmatch(staff_id):
        return
    slug = re.sub(r"[^a-z0-9._-]+", ".", staff_id.strip().lower()).strip(".-_")
    meant = f", e.g. {slug}" if _STAFF_ID.fullmatch(slug) else ", e.g. li.na"
    raise InvalidInput(
        f"staff id {staff_id!r} is not a lower-case slug: use lower-case letters, digits, "
        f"'.', '-' and '_', starting with a letter{meant}"
    )


def add_staff(
    services: Services,
    staff_id: str,
    name: str,
    role: str,
    *,
    actor: str | None,
    at: dt.datetime,
    badge: str = "",
) -> Staff:
    """Add a field worker or supervisor. The very first staff member needs no actor."""
    choice(role, lifecycle.ROLES, "role")
    aware(at)
    services.begin_action()
    if not staff_id.strip() or not name.strip():
        raise InvalidInput("staff id and name must not be empty")
    check_staff_id(staff_id)
    if services.store.list_staff():
        acting = services.actor(actor)
        services.check_time(acting, at, {}, "add_staff", attempted={"id": staff_id})
        if not acting.is_supervisor:
            services.refuse_unscoped(
                acting.id,
                at,
                "add_staff",
                NotPermitted("only a supervisor may add staff", "permission.supervisor"),
                {"id": staff_id},
            )
        if any(s.id == staff_id for s in services.store.list_staff()):
            raise InvalidInput(f"staff member {staff_id} already exists")
    else:
        # The first staff member is whoever sets the office up: only the clock binds them.
        services.check_time(Staff(staff_id, name, role), at, {}, "add_staff")
    staff = Staff(staff_id, name, role, badge=badge.strip())
    event, _ = services.store.commit(
        "staff_added",
        actor=actor,
        at=at,
        records=[staff],
        data={"id": staff_id, "role": role},
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)
    return staff


def change_staff(
    services: Services,
    staff_id: str,
    *,
    actor: str,
    at: dt.datetime,
    active: bool | None = None,
    role: str | None = None,
    note: str = "",
) -> Staff:
    """Deactivate or reactivate a staff member, or change their role (supervisors).

    An office always keeps one active supervisor: the last one cannot be
    deactivated or made field staff. Cases assigned to someone deactivated
    stay theirs until a supervisor reassigns them.
    """
    acting = services.actor(actor, aware(at))
    services.begin_action()
    member = services.store.get_staff(staff_id)
    if role is not None:
        choice(role, lifecycle.ROLES, "role")
    attempted = {"staff": staff_id, "active": active, "role": role, "note": note}
    services.check_time(acting, at, {}, "change_staff", attempted=attempted)
    if not acting.is_supervisor:
        services.refuse_unscoped(
            acting.id,
            at,
            "change_staff",
            NotPermitted(
                "only a supervisor may deactivate staff or change a role",
                "permission.supervisor",
            ),
            attempted,
        )
    updated = attrs.evolve(
        member,
        active=member.active if active is None else active,
        role=member.role if role is None else role,
    )
    if updated == member:
        return member
    others = [
        s for s in services.store.list_staff() if s.id != staff_id and s.active and s.is_supervisor
    ]
    still_supervises = updated.is_supervisor and updated.active
    if member.is_supervisor and member.active and not still_supervises and not others:
        raise InvalidInput(
            f"{staff_id} is the office's only active supervisor; add or promote another "
            "first (fieldcase staff add ... --role supervisor)"
        )
    changes = {
        key: [old, new]
        for key, old, new in (
            ("active", member.active, updated.active),
            ("role", member.role, updated.role),
        )
        if old != new
    }
    event, _ = services.store.commit(
        "staff_updated",
        actor=acting.id,
        at=at,
        records=[updated],
        data={"id": staff_id, "changes": changes, **({"note": note} if note else {})},
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)
    return updated


def staff_with_workload(services: Services) -> list[tuple[Staff, int]]:
    """Every staff member with their number of open cases."""
    workload = services.store.staff_workload()
    return [(s, workload.get(s.id, 0)) for s in services.store.list_staff()]


def backup(
    services: Services,
    target: Path,
    *,
    actor: str,
    at: dt.datetime,
    replace: bool = False,
    progress: Callable[[int, int], object] | None = None,
) -> int:
    """Copy the database to ``target``, checked; return how many events the copy holds.

    Supervisors only: a backup holds every borrower's personal data. The
    backup is recorded (``backup_made``, in the system chain) first, so the
    copy carries the record of its own making.
    """
    staff = services.actor(actor)
    services.begin_action()
    attempted = {"file": target.name}
    services.check_time(staff, aware(at), {}, "backup", attempted=attempted)
    if not staff.is_supervisor:
        services.refuse_unscoped(
            staff.id,
            at,
            "backup",
            NotPermitted("only a supervisor may back up the database", "permission.supervisor"),
            attempted,
        )
    from .outputs import check_output, written_whole

    check_output(target, services.store.path, option="backup file", replace=replace)
    services.store.commit(
        "backup_made",
        actor=staff.id,
        at=at,
        records=[],
        data=attempted,
        recorded_at=services.recorded_at(),
    )
    # Written beside the target and renamed into place only once it passes
    # SQLite's integrity check and the audit chains verify: a failed backup
    # (a full disk included) leaves the previous one as it was. The copy is
    # checked read-only, so it stays in rollback-journal mode: unlike a WAL
    # file, it opens from read-only media.
    with written_whole(target, again="run backup again") as partial:
        services.store.backup_to(partial, progress)
        copy = Store(partial, read_only=True)
        try:
            integrity, (checked, problem) = copy.integrity(), copy.verify_chains()
        finally:
            copy.close()
        if integrity != "ok":
            raise FieldcaseError(f"the copy failed SQLite's integrity check: {integrity}")
        if problem is not None:
            raise FieldcaseError(
                f"the copy's audit chain does not verify at event {problem.event_id}: "
                f"{problem.problem}; run 'fieldcase audit verify' on the database"
            )
    return checked


def assign(services: Services, ref: str | int, *, to: str, actor: str, at: dt.datetime) -> Case:
    staff, case = services.begin(ref, actor, at)
    target = services.member(to, "--to")
    context = ActionContext(at=at, actor=staff.id, staff=(target.id,))
    services.guard(
        case,
        staff,
        "assign",
        at,
        attempted={"to": to},
        supervisor_only=True,
        context=context,
    )
    saved, _ = services.save(
        "case_assigned",
        attrs.evolve(case, assigned_to=target.id),
        staff.id,
        at,
        data={"from": case.assigned_to, "to": target.id},
    )
    return saved


def set_login_password(services: Services, staff_id: str, password: str | None) -> None:
    """Give ``staff_id``'s database login a password (None: a client certificate only).

    Only a store with logins (PostgreSQL) has them; the database itself lets a
    staff member set their own and a supervisor anyone's.
    """
    if not services.store.has_logins:
        raise InvalidInput("a SQLite file has no logins: --as names who is acting")
    services.store.get_staff(staff_id)
    services.store.set_password(staff_id, password)


def set_badge(
    services: Services, staff_id: str, badge: str, *, actor: str, at: dt.datetime
) -> Staff:
    """Record a staff member's official identity number (agent licence, badge)."""
    acting = services.actor(actor)
    services.begin_action()
    member = services.store.get_staff(staff_id)
    if not badge.strip():
        raise InvalidInput("the identity number must not be empty")
    services.check_time(acting, aware(at), {}, "staff_badge", attempted={"staff": staff_id})
    if not acting.is_supervisor:
        services.refuse_unscoped(
            acting.id,
            at,
            "staff_badge",
            NotPermitted("only a supervisor may record identity numbers", "permission.supervisor"),
            {"staff": staff_id},
        )
    updated = attrs.evolve(member, badge=badge.strip())
    event, _ = services.store.commit(
        "staff_updated",
        actor=acting.id,
        at=aware(at),
        records=[updated],
        data={"id": staff_id, "badge": updated.badge},
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)
    return updated
