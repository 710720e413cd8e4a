"""Offline field packs: one staff member's cases in a SQLite file of their own.

:func:`make_pack` copies the cases' whole chains (so the pack's log verifies and
its history reads as the office's), their attachments' files, the staff, the
institutions and the policy versions in force into a new file, and writes a
manifest the office signs: the pack's id, whose it is, and the head of every
case's chain it starts from. On the pack, :class:`PackServices` takes field
actions only (:data:`FIELD_ACTIONS`), as the pack's staff member, and each
writes down in its first event the call behind it: the action, the case, the
time and the arguments as typed. :mod:`fieldcase.sync` takes those calls back
into the office's log, judged again there; this module decides what a pack
holds and what may be done on one, not what the office accepts.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pluggy

from . import __version__, arrangements
from .attachments import HEAD, Upload, upload_of
from .commitments import canonical_json
from .errors import InvalidInput, NotPermitted
from .lifecycle import Stage
from .plugins import describe_plugins
from .rows import TableRow
from .services import Services
from .store import PackManifest, Store
from .text import clean

#: The services a pack takes, each with the command that calls it: what field
#: staff do on site. Sending a message is not among them: it is sent from the office.
FIELD_ACTIONS: Mapping[str, str] = {
    "record_contact": "contact",
    "record_details": "details",
    "confirm_address": "confirm",
    "plan_visit": "plan",
    "tick_checklist": "checklist",
    "record_interview": "interview",
    "check_in": "checkin",
    "attach": "attach",
    "present_offers": "offers",
    "accept_offer": "accept",
    "record_promise": "promise",
    "record_payment": "payment record",
    "submit_feedback": "feedback",
    "record_complaint": "complaint",
    "open_dispute": "dispute open",
    "add_evidence": "dispute evidence",
}

#: Arguments of a field action's service that its command never passes: a pack's
#: call carrying one was not written by the command (a payment file's ``source``).
NOT_FROM_COMMANDS: Mapping[str, frozenset[str]] = {"record_payment": frozenset({"source"})}


#: The façade's methods that pass ``**options`` on: where their arguments are declared.
DECLARED_IN: Mapping[str, Callable[..., Any]] = {
    "record_promise": arrangements.record_promise,
    "record_payment": arrangements.record_payment,
}


def arguments_of(action: str) -> tuple[int, frozenset[str]]:
    """How many positional arguments (after the case) a field action's command passes,
    and the names of the keyword arguments it may pass."""
    declared = DECLARED_IN.get(action) or getattr(Services, action)
    parameters = list(inspect.signature(declared).parameters.values())[2:]
    positional = [p for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    keywords = {
        p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in ("actor", "at")
    }
    return len(positional), frozenset(keywords - NOT_FROM_COMMANDS.get(action, frozenset()))


#: How far from today the day of a pack (``--date``) may be.
MAX_DAYS_AWAY = 31


@attrs.frozen
class PackMade:
    """What :func:`make_pack` wrote."""

    pack: str
    staff: str
    path: Path
    cases: list[int]
    events: int
    files: int
    size: int


def services_for(
    store: Store, pm: pluggy.PluginManager, *, clock: Callable[[], dt.datetime] | None
) -> Services:
    """The services over ``store``: a pack's take field actions only, written down."""
    pack = store.pack()
    if pack is None:
        return Services(store, pm, clock=clock)
    return PackServices(store, pm, clock=clock, pack=pack)


class PackServices(Services):
    """Services on a field pack: each field action, done as the pack's staff member,
    writes down in its first event the call behind it (see :func:`call_of`)."""

    def __init__(
        self,
        store: Store,
        pm: pluggy.PluginManager,
        *,
        clock: Callable[[], dt.datetime] | None,
        pack: PackManifest,
    ) -> None:
        super().__init__(store, pm, clock=clock)
        self.pack = pack


def _journaled(name: str) -> Callable[..., Any]:
    action = getattr(Services, name)

    @functools.wraps(action)
    def journaled(
        self: PackServices, ref: str | int, *args: Any, actor: str, at: dt.datetime, **kwargs: Any
    ) -> Any:
        staff = self.pack.staff
        if actor != staff:
            raise NotPermitted(
                f"this pack is {staff}'s: act on it as {staff} (--as {staff}); what is done "
                f"on it is taken into the office's log as {staff}'s",
                "pack.staff",
            )
        case = self.store.get_case(ref)
        assert case.id is not None
        call = call_of(name, case.id, at, args, kwargs)
        with self.store.carrying(lambda change: ({"call": call}, ())):
            return action(self, case.id, *args, actor=actor, at=at, **kwargs)

    return journaled


for _name in FIELD_ACTIONS:
    setattr(PackServices, _name, _journaled(_name))


# -- calls: an action and its arguments, as JSON -------------------------------------


def call_of(
    action: str, case_id: int, at: dt.datetime, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """One field action as the pack writes it down and the office replays it."""
    return {
        "action": action,
        "case": case_id,
        "at": at.isoformat(),
        "args": [encode(a) for a in args],
        "kwargs": {k: encode(v) for k, v in kwargs.items()},
    }


def encode(value: Any) -> Any:
    """A service argument as JSON; :func:`decode` gives it back."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, Upload):
        # The bytes stay in the pack's files, named by their fingerprint.
        return {
            "$upload": {
                "filename": value.filename,
                "sha256": value.sha256,
                "size": value.size,
                "media_type": value.media_type,
                "taken": encode(value.taken),
                "lat": encode(value.lat),
                "lon": encode(value.lon),
            }
        }
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {"$map": {str(k): encode(v) for k, v in value.items()}}
    raise TypeError(f"a pack cannot write down an argument of type {type(value).__name__}")


def arguments(value: Any, name: str) -> Any:
    """A decoded argument as its command passes it: its text through :func:`clean` by
    its name (a note as a note), as the command line checks what it is given."""
    if isinstance(value, str):
        return clean(value, name)
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return tuple(clean(v, name) for v in value)
    return value


def decode(value: Any, files: Callable[[str], bytes | None]) -> Any:
    """What :func:`encode` wrote, as the service takes it; ``files`` gives an upload's bytes."""
    if isinstance(value, list):
        return tuple(decode(v, files) for v in value)
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise InvalidInput(f"not an argument a pack writes: {value!r}")
    tag, inner = next(iter(value.items()))
    if tag == "$decimal":
        return Decimal(inner)
    if tag == "$datetime":
        return dt.datetime.fromisoformat(inner)
    if tag == "$date":
        return dt.date.fromisoformat(inner)
    if tag == "$time":
        return dt.time.fromisoformat(inner)
    if tag == "$map":
        return {k: decode(v, files) for k, v in inner.items()}
    if tag == "$upload":
        content = files(str(inner["sha256"]))
        if content is None or hashlib.sha256(content).hexdigest() != inner["sha256"]:
            raise InvalidInput(
                f"the file {str(inner['sha256'])[:12]} an attach of the pack names is not in "
                "it (or is not what its fingerprint says)"
            )
        # What the file is, and its EXIF, from its bytes, as attach reads a file.
        name = clean(str(inner["filename"]), "filename")
        return upload_of(name, content, content[:HEAD], inner["sha256"], len(content))
    raise InvalidInput(f"not an argument a pack writes: {value!r}")


# -- making a pack ----------------------------------------------------------------------


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(manifest)).encode("utf-8")).hexdigest()


def office_id(store: Store) -> str:
    """A name for the office that signs packs, which tells nothing of its secret."""
    return store.pack_signature("00" * 32)[:16]


def make_pack(
    services: Services,
    staff_id: str,
    out: Path,
    *,
    actor: str,
    at: dt.datetime,
    day: dt.date | None = None,
    cases: Sequence[str] = (),
    replace: bool = False,
    pack_id: str | None = None,
) -> PackMade:
    """Write the pack of ``staff_id``'s cases (those named, else their day's) to ``out``.

    ``pack_id``: a new random one unless given (the demo gives its own, to stay the same).
    """
    store = services.store
    services.begin_action()
    if store.pack() is not None:
        raise InvalidInput(f"{store.path} is itself a field pack: make packs at the office")
    maker = services.actor(actor, at)
    staff = services.member(staff_id, "--staff")
    if not maker.is_supervisor and maker.id != staff.id:
        services.refuse_unscoped(
            maker.id,
            at,
            "make_pack",
            NotPermitted(
                f"only {staff.id} or a supervisor may make {staff.id}'s pack (you are "
                f"{maker.id}, {maker.role})",
                "permission.pack",
            ),
            {"staff": staff.id},
        )
    if not out.name:
        raise InvalidInput("-o needs a file to write the pack to, e.g. li.na.fcpack")
    if day is not None and abs((day - at.date()).days) > MAX_DAYS_AWAY:
        raise InvalidInput(
            f"--date {day} is more than {MAX_DAYS_AWAY} days from today ({at:%Y-%m-%d}): "
            "a pack holds a day's work"
        )
    chosen = _cases_of(services, staff.id, at, day, cases)
    _check_output(store, out, replace)
    partial = out.with_name(out.name + ".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    rows = store.case_event_rows(chosen)
    pack_id = pack_id or uuid.uuid4().hex
    target = Store(partial)
    try:
        target.migrate()
        for start in range(0, len(rows), 2000):
            target.append_moved(rows[start : start + 2000])
        keys = sorted({a.sha256 for case_id in chosen for a in store.attachments(case_id)})
        files = [(key, content) for key in keys if (content := store.attachment_file(key))]
        target.keep_files(files)
        institutions = sorted({store.get_case(case_id).institution for case_id in chosen})
        opened, _ = target.commit(
            "pack_opened",
            actor=maker.id,
            at=at,
            records=[TableRow(t, row) for t, row in store.reference_rows(institutions)],
            data={"pack": pack_id, "staff": staff.id},
            recorded_at=services.recorded_at(),
        )
        heads: dict[int, tuple[int, str]] = {}
        for row in rows:  # oldest first: the last of each case is its head
            heads[row[1]] = (row[0], row[8])
        manifest = {
            "pack": pack_id,
            "office": office_id(store),
            "staff": staff.id,
            "made_by": maker.id,
            "made_at": at.isoformat(),
            "day": None if day is None else day.isoformat(),
            "cases": [
                {
                    "id": case_id,
                    "version": target.get_case(case_id).version,
                    "head": heads[case_id][1],
                    "last_event": heads[case_id][0],
                }
                for case_id in chosen
            ],
            "policies": {i: store.get_institution(i).policy_version for i in institutions},
            "plugins": [
                [p["name"], p.get("version", "")]
                for p in describe_plugins(services.pm, all_plugins=True)
            ],
            "fieldcase": __version__,
            "actions": sorted(set(FIELD_ACTIONS.values())),
            "opened_event": opened.id,
        }
        signature = store.pack_signature(manifest_digest(manifest))
        target.make_pack(PackManifest(pack_id, manifest, signature))
        target.close()
    except BaseException:
        target.close()
        partial.unlink(missing_ok=True)
        raise
    os.chmod(partial, 0o600)  # it holds the borrowers' personal data
    os.replace(partial, out)
    services.record_system_event(
        "pack_made",
        maker.id,
        at,
        {"pack": pack_id, "staff": staff.id, "cases": chosen},
    )
    return PackMade(pack_id, staff.id, out, chosen, len(rows), len(files), out.stat().st_size)


def _check_output(store: Store, out: Path, replace: bool) -> None:
    """``out`` may be written: a new file, or with ``replace`` an older pack, never this
    database or any other file (a mistyped -o must not cost an office its data)."""
    if not out.exists():
        return
    if not replace:
        raise InvalidInput(f"{out} exists; pass --replace to write over it")
    if not store.has_logins and Path(store.path).exists() and out.samefile(store.path):
        raise InvalidInput(f"{out} is the database the pack is made from: write it elsewhere")
    try:
        existing = Store(out, read_only=True)
        try:
            is_pack = existing.pack() is not None
        finally:
            existing.close()
    except Exception:  # not a database at all, or not fieldcase's
        is_pack = False
    if not is_pack:
        raise InvalidInput(
            f"{out} is not a field pack: --replace writes over an older pack only; "
            "choose another file"
        )


def _cases_of(
    services: Services,
    staff_id: str,
    at: dt.datetime,
    day: dt.date | None,
    refs: Sequence[str],
) -> list[int]:
    """The cases a pack holds: those named (each the staff member's, open), else the day's."""
    from .dayplan import day_plan

    store = services.store
    if refs:
        chosen: list[int] = []
        for ref in refs:
            case = store.get_case(ref)
            assert case.id is not None
            visit = services.pending_visit(case)
            visiting = visit is not None and staff_id in visit.staff
            if case.assigned_to != staff_id and not visiting:
                raise InvalidInput(
                    f"case {case.id} is assigned to {case.assigned_to or 'nobody'}, not to "
                    f"{staff_id}, who is not on its planned visit either: assign it first "
                    f"(fieldcase assign {case.id} --to {staff_id})"
                )
            if case.stage == Stage.CLOSED:
                raise InvalidInput(f"case {case.id} is closed: there is nothing to do on it")
            if case.id not in chosen:
                chosen.append(case.id)
        return sorted(chosen)
    when = at if day is None else dt.datetime.combine(day, dt.time(12), tzinfo=at.tzinfo)
    plan = day_plan(services, staff_id, when)
    found = {
        case.id
        for case in (
            *(v.case for v in plan.visits),
            *(c for c, _ in plan.promises),
            *(c.case for c in plan.contacts),
            *(f.case for f in plan.feedback),
        )
        if case.id is not None
    }
    if not found:
        raise InvalidInput(f"{staff_id} has nothing on {when:%Y-%m-%d}: name the cases with --case")
    return sorted(found)
