"""The institution actions: register one, change its policy, migrate an old fieldcase.toml.

Each institution has its own hash chain (``institution:<id>``). Registering
it and every change of its policy are events on that chain carrying the
whole new policy and its version number, so the ``institutions`` and
``policy_versions`` tables are rebuilt from the log like every other. What
a valid policy is, :mod:`fieldcase.policy` decides; who may change it
(supervisors) and when, this module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import InvalidInput, NotPermitted
from .model import Institution, PolicyVersion, Staff
from .money import exponent
from .policy import (
    changes_between,
    check_together,
    default,
    flatten,
    parse_assignments,
    read_policy_file,
    read_toml,
    set_path,
    split_assignment,
    unset_path,
)
from .store import Change, institution_chain
from .text import clean

if TYPE_CHECKING:
    from .policy import Schema
    from .services import Services

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@attrs.frozen
class MigrationStep:
    """What ``institution migrate`` did, or would do, for one institution."""

    institution: str
    action: str  # registered | policy-changed | unchanged
    detail: str


def _squashed(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _supervisor(
    services: Services, actor: str, at: dt.datetime, action: str, institution: str
) -> Staff:
    """The acting supervisor; anyone else is refused on the institution's chain."""
    staff = services.actor(actor)
    services.begin_action()
    known = institution in services.store.institution_ids()
    registered = services.institution(institution) if known else None
    attempted = {"institution": institution}
    policy = registered.policy if registered else {}
    services.check_time(staff, at, policy, action, attempted=attempted, institution=registered)
    if not staff.is_supervisor:
        error = NotPermitted(
            f"only a supervisor may {action.replace('_', ' ')} (you are {staff.id}, {staff.role})",
            "permission.supervisor",
        )
        services.refuse_unscoped(staff.id, at, action, error, attempted, registered)
    return staff


def check_fields(
    services: Services,
    institution_id: str,
    name: str,
    jurisdiction: str,
    timezone: str,
    currency: str,
    also: Sequence[str] = (),
) -> Institution:
    """A new institution's fields, checked and normalised (not yet saved).

    ``also``: ids about to be registered with it, which it must not look like either.
    """
    from .jurisdictions import check_timezone, normalise

    institution_id = institution_id.strip()
    # Ids cases already carry (from before ids were checked) may be registered as they are.
    if (
        not _ID.match(institution_id)
        and institution_id not in services.store.institutions_of_cases()
    ):
        raise InvalidInput(
            f"institution id {institution_id!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. hx-consumer)"
        )
    ids = [*services.store.institution_ids(), *also]
    if institution_id in ids:
        raise InvalidInput(f"institution {institution_id} is already registered")
    twins = [i for i in ids if _squashed(i) == _squashed(institution_id)]
    if twins:
        raise InvalidInput(
            f"institution id {institution_id!r} is too like {twins[0]!r}, already registered; "
            f"use {twins[0]} (or an id that cannot be mistaken for it)"
        )
    # A name may come from an old fieldcase.toml as well as from --name: checked alike.
    name = clean(name, "name")
    if not name:
        raise InvalidInput("--name: the institution's name must not be empty")
    currency = currency.strip().upper()
    exponent(currency)
    return Institution(
        id=institution_id,
        name=name,
        jurisdiction=normalise(jurisdiction, "--jurisdiction"),
        timezone=check_timezone(timezone.strip()),
        currency=currency,
    )


def add_institution(
    services: Services,
    institution_id: str,
    *,
    name: str,
    jurisdiction: str,
    timezone: str,
    currency: str,
    actor: str,
    at: dt.datetime,
    assignments: Sequence[str] = (),
    policy_file: Path | None = None,
) -> Institution:
    """Register an institution, with its first policy (version 1)."""
    staff = _supervisor(services, actor, at, "add_institution", institution_id.strip())
    draft = check_fields(services, institution_id, name, jurisdiction, timezone, currency)
    schema = services.policy_schema()
    policy = _new_policy(schema, {}, policy_file, draft.id, assignments, ())
    change = _registration(services, draft, policy, staff.id, at, "institution_added")
    _commit(services, [change])
    services.begin_action()
    return services.institution(draft.id)


def _registration(
    services: Services,
    draft: Institution,
    policy: dict[str, Any],
    actor: str,
    at: dt.datetime,
    event_type: str,
    note: str = "",
) -> Change:
    institution = attrs.evolve(draft, policy=policy, policy_version=1, created_at=at, updated_at=at)
    version = PolicyVersion(draft.id, 1, policy, at, actor)
    data = {
        "name": institution.name,
        "jurisdiction": institution.jurisdiction,
        "timezone": institution.timezone,
        "currency": institution.currency,
        "version": 1,
        "set": flatten(policy),
        **({"note": note} if note else {}),
    }
    return Change(
        event_type,
        actor,
        at,
        (institution, version),
        data,
        recorded_at=services.recorded_at(),
        policy_version=1,
        chain=institution_chain(draft.id),
    )


def _new_policy(
    schema: Schema,
    current: Mapping[str, Any],
    policy_file: Path | None,
    institution: str,
    assignments: Sequence[str],
    unset: Sequence[str],
) -> dict[str, Any]:
    """``current``, or the file's whole section, with ``--set`` and ``--unset`` applied."""
    policy: dict[str, Any] = (
        schema.check(read_policy_file(policy_file, institution))
        if policy_file is not None
        else json_copy(current)
    )
    for path, value in parse_assignments(schema, assignments):
        set_path(policy, path, value)
    for key in unset:
        path = _unset_path(key)
        if not unset_path(policy, path):
            set_keys = ", ".join(flatten(policy)) or "none"
            raise InvalidInput(f"--unset {key}: the policy does not set it (it sets: {set_keys})")
    check_together(policy)
    return policy


def _unset_path(key: str) -> tuple[str, ...]:
    key = key.strip()
    if key.startswith("rules."):
        rule_id, _, param = key.removeprefix("rules.").rpartition(".")
        return ("rules", rule_id, param)
    if key.startswith("offers."):
        return ("offers", key.removeprefix("offers."))
    if key.startswith("attributes."):
        return ("attributes", key.removeprefix("attributes."))
    if key.startswith("templates."):
        # A template's names and languages hold no dot: templates.reminder.text.en
        return tuple(key.split("."))
    return (key,)


def _check_in_order(services: Services, institution: Institution, at: dt.datetime) -> None:
    """A policy change takes effect when it is recorded: not before the last one, nor backdated.

    Events already recorded were judged by the version then in force; a change
    dated before now would make ``institution show --at`` name a version that
    judged none of them.
    """
    latest = services.store.policy_versions(institution.id)[-1]
    if at < latest.at:
        raise InvalidInput(
            f"--at {at.isoformat()} is before {institution.id}'s policy version "
            f"{latest.version} ({latest.at.isoformat()}); policy changes are recorded in the "
            "order they happen"
        )
    now = services.recorded_at()
    grace = dt.timedelta(
        minutes=int(institution.policy.get("future_minutes", default("future_minutes")))
    )
    if now is not None and at < now - grace:
        raise InvalidInput(
            f"--at {at.isoformat()} is in the past: a policy change takes effect when it is "
            "recorded; leave --at out"
        )


def json_copy(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: json_copy(v) if isinstance(v, Mapping) else v for k, v in value.items()}


def set_policy(
    services: Services,
    institution_id: str,
    *,
    actor: str,
    at: dt.datetime,
    assignments: Sequence[str] = (),
    unset: Sequence[str] = (),
    policy_file: Path | None = None,
    note: str = "",
) -> tuple[Institution, dict[str, Any]]:
    """Change the institution's policy: a new version, unless nothing changed.

    Returns the institution as it now stands and what changed (key -> [old, new]).
    """
    for text in assignments:
        split_assignment(text)
    if not assignments and not unset and policy_file is None:
        raise InvalidInput("say what to change: --set KEY=VALUE, --unset KEY or --from FILE.toml")
    current = services.store.get_institution(institution_id)
    staff = _supervisor(services, actor, at, "change_policy", current.id)
    _check_in_order(services, current, at)
    schema = services.policy_schema()
    policy = _new_policy(schema, current.policy, policy_file, current.id, assignments, unset)
    changed = changes_between(current.policy, policy)
    if not changed:
        return current, {}
    version = current.policy_version + 1
    updated = attrs.evolve(current, policy=policy, policy_version=version, updated_at=at)
    data: dict[str, Any] = {"version": version, "changes": changed}
    if note:
        data["note"] = note
    _commit(
        services,
        [
            Change(
                "policy_changed",
                staff.id,
                at,
                (updated, PolicyVersion(current.id, version, policy, at, staff.id)),
                data,
                recorded_at=services.recorded_at(),
                policy_version=version,
                chain=institution_chain(current.id),
            )
        ],
    )
    services.begin_action()
    return services.institution(current.id), changed


def _commit(services: Services, changes: Sequence[Change]) -> None:
    """Write the changes in one transaction, then tell ``case_event`` observers."""
    for event, _ in services.store.commit_many(changes):
        services.notify(None, event)


def policy_in_force(services: Services, institution_id: str, at: dt.datetime) -> PolicyVersion:
    """The version of the policy in force at ``at``: the newest set at or before it."""
    institution = services.store.get_institution(institution_id)
    found = services.store.policy_in_force(institution.id, at)
    if found is None:
        first = services.store.policy_versions(institution.id)[0]
        raise InvalidInput(
            f"{institution.id} was registered on {first.at:%Y-%m-%d %H:%M %z}; it had no "
            f"policy at {at:%Y-%m-%d %H:%M %z}"
        )
    return found


def migrate_config(
    services: Services, path: Path, *, actor: str, at: dt.datetime, dry_run: bool = False
) -> list[MigrationStep]:
    """Move an old ``fieldcase.toml`` into the database, all of it or nothing.

    Each ``[institutions.<id>]`` section becomes the policy of that institution
    (registered first if it is not, with ``name``, ``jurisdiction``,
    ``timezone`` and ``currency`` from the section or, failing that, the most
    common among its cases); ``[privacy] retention_years`` becomes each one's
    ``retention_years`` unless its section sets it. Institutions that only
    cases name are registered too, with an empty policy. A policy already set
    in the database is kept: the file never overwrites what was decided since,
    and running the migration again changes nothing.
    """
    data = read_toml(path)
    sections = data.get("institutions", {})
    if not isinstance(sections, dict) or not all(isinstance(v, dict) for v in sections.values()):
        raise InvalidInput(f"{path}: [institutions] must hold tables, [institutions.<id>]")
    if not sections:
        raise InvalidInput(
            f"{path} has no [institutions.<id>] sections, so it is not an old fieldcase.toml; "
            f"set one institution's policy from it with 'fieldcase institution policy ID "
            f"--from {path}'"
        )
    privacy = data.get("privacy", {})
    years = privacy.get("retention_years") if isinstance(privacy, dict) else None
    staff = _supervisor(services, actor, at, "migrate_config", "")
    schema = services.policy_schema()
    registered = set(services.store.institution_ids())
    named_by_cases = services.store.institutions_of_cases()
    changes: list[Change] = []
    steps: list[MigrationStep] = []
    new_ids: list[str] = []
    for institution_id in sorted(set(sections) | (set(named_by_cases) - registered)):
        section = dict(sections.get(institution_id, {}))
        if years is not None and "retention_years" not in section:
            section["retention_years"] = years
        try:
            policy = schema.check(section)
            check_together(policy)
        except InvalidInput as exc:
            raise InvalidInput(f"{path}: [institutions.{institution_id}] {exc}") from None
        if institution_id in registered:
            current = services.store.get_institution(institution_id)
            changed = changes_between(current.policy, policy)
            if not changed:
                steps.append(MigrationStep(institution_id, "unchanged", "policy already the same"))
                continue
            if current.policy or current.policy_version > 1:
                steps.append(
                    MigrationStep(
                        institution_id,
                        "kept",
                        f"its policy is already set in the database (version "
                        f"{current.policy_version}); to apply the file's section: fieldcase "
                        f"institution policy {institution_id} --from {path}",
                    )
                )
                continue
            _check_in_order(services, current, at)
            version = current.policy_version + 1
            changes.append(
                Change(
                    "policy_changed",
                    staff.id,
                    at,
                    (
                        attrs.evolve(current, policy=policy, policy_version=version, updated_at=at),
                        PolicyVersion(institution_id, version, policy, at, staff.id),
                    ),
                    {"version": version, "changes": changed, "note": f"migrated from {path.name}"},
                    recorded_at=services.recorded_at(),
                    policy_version=version,
                    chain=institution_chain(institution_id),
                )
            )
            steps.append(
                MigrationStep(
                    institution_id, "policy-changed", f"version {version}: {_keys(changed)}"
                )
            )
            continue
        guessed = services.store.case_defaults(institution_id)
        fields = {
            key: str(section.get(key) or guessed.get(key) or "")
            for key in ("jurisdiction", "timezone", "currency")
        }
        lacking = [key for key, value in fields.items() if not value]
        if lacking:
            raise InvalidInput(
                f"{path}: cannot register {institution_id}: no {', '.join(lacking)} in its "
                f"section nor on its cases; add them to [institutions.{institution_id}] "
                "(e.g. jurisdiction = \"CN\") or register it first with 'fieldcase institution add'"
            )
        try:
            draft = check_fields(
                services,
                institution_id,
                str(section.get("name") or institution_id),
                fields["jurisdiction"],
                fields["timezone"],
                fields["currency"],
                also=new_ids,
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{path}: cannot register {institution_id}: {exc}") from None
        new_ids.append(draft.id)
        changes.append(
            _registration(
                services,
                draft,
                policy,
                staff.id,
                at,
                "institution_added",
                f"migrated from {path.name}",
            )
        )
        source = "its section" if institution_id in sections else "its cases only"
        steps.append(
            MigrationStep(
                institution_id,
                "registered",
                f"{draft.jurisdiction}, {draft.timezone}, {draft.currency} (from {source}); "
                f"policy version 1: {_keys(flatten(policy)) or 'defaults'}",
            )
        )
    if not dry_run and changes:
        _commit(services, changes)
    return steps


def _keys(changed: Mapping[str, Any]) -> str:
    return ", ".join(changed)
