"""Taking a field pack back into the office's log, and the conflicts kept on the way.

:func:`sync_pack` first checks the pack: the office's signature over its manifest
(a pack of another office, or one whose manifest was changed, is refused), then
its chains, each from the head the manifest says it started at (the first bad
event is named). It then replays each field action the pack wrote down
(:mod:`fieldcase.offline`), in order, through the same services as online, as
the pack's staff member at the time given: each is judged again under the
office's policy and worked out by the office, never copied.

An action is taken in only while its case is as the pack left it at the
office. One whose case changed there meanwhile (reassigned, closed, paid, or
touched by another pack), or that the office's rules refuse, is **kept**, with
every later action of the pack on that case, as one conflict holding both sides;
:func:`resolve_conflict` ends it. Each action taken in, refused or kept is
noted in ``synced_actions`` in the same transaction as its event: a second sync
takes in nothing, and a killed one goes on where it stopped.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from .errors import FieldcaseError, InvalidInput, InvalidTransition, NotPermitted, Refused
from .offline import FIELD_ACTIONS, arguments, arguments_of, decode, manifest_digest
from .rows import TableRow
from .services import Services
from .store import Change, PackManifest, Store, case_chain

#: Why a conflict was kept, in the order one is named when several hold.
KINDS = ("closed", "paid", "reassigned", "other-pack", "changed", "refused", "failed")
#: How a conflict may end.
RESOLUTIONS = ("keep-field", "keep-central", "merge")
PAID = ("payment_recorded", "payment_confirmed", "payment_reversed")


@attrs.frozen
class Call:
    """One field action a pack wrote down (see :func:`fieldcase.offline.call_of`)."""

    #: The id of the pack's event that wrote it down: its place in the pack.
    seq: int
    case_id: int
    action: str
    at: dt.datetime
    args: list[Any]
    kwargs: dict[str, Any]
    #: What the pack's own rules said, when they refused it there.
    refused: dict[str, Any] | None = None
    #: The version of the institution's policy that judged it on the pack.
    policy_version: int | None = None

    @property
    def command(self) -> str:
        return FIELD_ACTIONS.get(self.action, self.action)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "case": self.case_id,
            "action": self.action,
            "command": self.command,
            "at": self.at.isoformat(),
            "args": self.args,
            "kwargs": self.kwargs,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Call:
        return cls(
            value["seq"],
            value["case"],
            value["action"],
            dt.datetime.fromisoformat(value["at"]),
            list(value["args"]),
            dict(value["kwargs"]),
        )


@attrs.frozen
class OpenedPack:
    """A pack checked for syncing: its manifest and the actions it wrote down."""

    manifest: PackManifest
    calls: list[Call]
    store: Store

    @property
    def pack(self) -> str:
        return self.manifest.pack

    @property
    def staff(self) -> str:
        return self.manifest.staff

    def base(self, case_id: int) -> int:
        """The last event of the case the office had when the pack was made."""
        for case in self.manifest.manifest["cases"]:
            if case["id"] == case_id:
                return int(case["last_event"])
        raise InvalidInput(f"case {case_id} is not in pack {self.pack}")


@attrs.frozen
class SyncSummary:
    """What a sync did."""

    pack: str
    staff: str
    actions: int
    applied: int = 0
    refused: int = 0
    held: int = 0
    already: int = 0
    conflicts: tuple[int, ...] = ()


@attrs.frozen
class Conflict:
    """A conflict a sync kept: the pack's side, the office's, and how it ended."""

    id: int
    pack: str
    staff: str
    case_id: int
    kind: str
    detail: str
    field: list[Call]
    central: list[dict[str, Any]]
    status: str
    at: str
    resolved_by: str | None
    resolved_at: str | None
    note: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Conflict:
        return cls(
            row["id"],
            row["pack"],
            row["staff"] or "",
            row["case_id"],
            row["kind"],
            row["detail"] or "",
            [Call.from_json(c) for c in json.loads(row["field"] or "[]")],
            json.loads(row["central"] or "[]"),
            row["status"],
            row["at"] or "",
            row["resolved_by"],
            row["resolved_at"],
            row["note"] or "",
        )

    def row(self, **changes: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "pack": self.pack,
            "staff": self.staff,
            "case_id": self.case_id,
            "kind": self.kind,
            "detail": self.detail,
            "field": json.dumps([c.as_json() for c in self.field], ensure_ascii=False),
            "central": json.dumps(self.central, ensure_ascii=False),
            "status": self.status,
            "at": self.at,
            "resolved_by": self.resolved_by,
            "resolved_at": self.resolved_at,
            "note": self.note,
            **changes,
        }


# -- reading a pack -----------------------------------------------------------------------


def open_pack(services: Services, path: Path) -> OpenedPack:
    """The pack at ``path``, checked: signed by this office, its log unbroken since."""
    if not path.is_file():
        raise InvalidInput(f"no pack at {path}")
    try:
        store = Store(path, read_only=True)
        manifest = store.pack()
    except FieldcaseError:
        raise
    except Exception as exc:  # not a database, or not fieldcase's
        raise InvalidInput(f"{path} is not a field pack ({exc})") from None
    if manifest is None:
        store.close()
        raise InvalidInput(f"{path} is a fieldcase database, not a field pack")
    try:
        signed = isinstance(manifest.manifest, dict) and isinstance(manifest.signature, str)
        signature = (
            services.store.pack_signature(manifest_digest(manifest.manifest)) if signed else ""
        )
        if (
            not signed
            or manifest.manifest.get("pack") != manifest.pack
            or not hmac.compare_digest(signature, manifest.signature)
        ):
            raise NotPermitted(
                f"pack {manifest.pack[:12]} was not made by this office, or its manifest was "
                "changed since: nothing was synced",
                "pack.signature",
            )
        return OpenedPack(manifest, _calls(store, manifest), store)
    except BaseException:
        store.close()
        raise


def _readable(event_id: int, call: Any) -> dict[str, Any]:
    """A call as the pack wrote it down: its parts of the types it writes, else tampered."""
    try:
        readable = (
            isinstance(call, dict)
            and isinstance(call.get("args"), list)
            and isinstance(call.get("kwargs"), dict)
            and dt.datetime.fromisoformat(call["at"]).tzinfo is not None
        )
    except (TypeError, ValueError, KeyError):
        readable = False
    if not readable:
        raise _tampered(event_id, "its call is not one a pack writes")
    return dict(call)


def _tampered(event_id: int | None, why: str) -> InvalidInput:
    return InvalidInput(
        f"the pack was changed after it was made: event {event_id}: {why}; nothing was synced"
    )


def _calls(store: Store, manifest: PackManifest) -> list[Call]:
    _, problem = store.verify_chains()
    if problem is not None:
        raise _tampered(problem.event_id, f"{problem.chain}: {problem.problem}")
    cases = {int(c["id"]): c for c in manifest.manifest["cases"]}
    for case_id, case in cases.items():
        if not _holds_base(store, case):
            raise _tampered(
                case["last_event"], f"case {case_id}'s log does not start where the office's stood"
            )
    calls: list[Call] = []
    written_down = False
    for event in store.events_after(int(manifest.manifest["opened_event"])):
        if event.case_id not in cases:
            raise _tampered(event.id, "it is on no case of the pack")
        data = event.payload.get("data") or {}
        call = data.get("call")
        if call is None:
            if not written_down:
                raise _tampered(event.id, "no field action wrote it")
            continue
        assert event.id is not None
        call = _readable(event.id, call)
        if call.get("action") not in FIELD_ACTIONS or call.get("case") != event.case_id:
            raise _tampered(event.id, f"{call.get('action')!r} is not a field action of its case")
        positional, keywords = arguments_of(call["action"])
        unknown = set(call.get("kwargs") or {}) - keywords
        if len(call.get("args") or ()) != positional or unknown:
            raise _tampered(
                event.id,
                f"its {FIELD_ACTIONS[call['action']]} was called with arguments the command "
                f"never passes ({', '.join(sorted(unknown)) or 'positional ones'})",
            )
        written_down = True
        calls.append(
            Call(
                event.id,
                event.case_id,
                call["action"],
                dt.datetime.fromisoformat(call["at"]),
                list(call["args"]),
                dict(call["kwargs"]),
                dict(data) if event.type == "refused" else None,
                event.policy_version,
            )
        )
    return calls


# -- syncing ------------------------------------------------------------------------------


def sync_pack(
    services: Services,
    path: Path,
    *,
    actor: str,
    at: dt.datetime,
    progress: Callable[[int, int], object] | None = None,
) -> SyncSummary:
    """Take the pack's field actions into this office's log; keep what conflicts."""
    opened = open_pack(services, path)
    try:
        return _sync(services, opened, actor, at, progress)
    finally:
        opened.store.close()


def _sync(
    services: Services,
    opened: OpenedPack,
    actor: str,
    at: dt.datetime,
    progress: Callable[[int, int], object] | None,
) -> SyncSummary:
    store = services.store
    syncer = services.actor(actor, at)
    if not syncer.is_supervisor and syncer.id != opened.staff:
        services.refuse_unscoped(
            syncer.id,
            at,
            "sync_pack",
            NotPermitted(
                f"pack {opened.pack[:12]} is {opened.staff}'s: {opened.staff} or a supervisor "
                f"syncs it (you are {syncer.id}, {syncer.role})",
                "permission.pack",
            ),
            {"pack": opened.pack},
        )
    _check_base(store, opened)
    seen = store.synced_actions(opened.pack)
    before = set(seen)  # what an earlier sync of the pack noted; not what this one held
    counts = dict(applied=0, refused=0, held=0, already=0)
    calls = opened.calls
    for done, call in enumerate(calls, 1):
        if progress is not None:
            progress(done, len(calls))
        if call.seq in seen:
            counts["already"] += call.seq in before
            continue
        services.begin_action()
        if call.refused is not None:
            _record_refusal(services, opened, call)
            counts["refused"] += 1
            continue
        later = _later(calls, call)
        central = _central_side(store, call.case_id, opened.base(call.case_id), opened.pack)
        waiting = _open_conflict(store, opened.pack, call.case_id)
        if waiting is not None:
            # Done on the pack after an earlier sync kept some of its work on the case:
            # it waits behind that, in the same conflict.
            _extend(services, opened, waiting, later, central, at)
        elif central:
            _keep(services, opened, later, _kind(central), _told(central), central, at)
        else:
            failed = _take_in(services, opened, call, on_refusal=_holding(opened, later, at))
            if failed is None:
                counts["applied"] += 1
                continue
            if store.synced_action(opened.pack, call.seq) is None:
                # Refused before anything was written (bad input, a stale case): kept here.
                _keep(services, opened, later, "failed", _why(failed), [], at)
        counts["held"] += len(later)
        seen = store.synced_actions(opened.pack)
    kept = tuple(c["id"] for c in store.sync_conflicts() if c["pack"] == opened.pack)
    return SyncSummary(opened.pack, opened.staff, len(calls), conflicts=kept, **counts)


def _check_base(store: Store, opened: OpenedPack) -> None:
    """The office's log must still hold each case's chain as the pack started from it:
    after a restore from an older backup, its event ids are handed out again, and what
    the office did since could not be told from what it did before."""
    for case in opened.manifest.manifest["cases"]:
        if not _holds_base(store, case):
            raise InvalidInput(
                f"this database no longer holds case {case['id']}'s history as pack "
                f"{opened.pack[:12]} started from it (event {case['last_event']}); was it "
                "restored from an older backup? Nothing was synced: ask a supervisor"
            )


def _holds_base(store: Store, case: dict[str, Any]) -> bool:
    """Whether ``store`` holds the event a pack's case started from, as the manifest says."""
    base = store.event(int(case["last_event"]))
    return (
        base is not None and base.chain == case_chain(int(case["id"])) and base.hash == case["head"]
    )


def _later(calls: Sequence[Call], call: Call) -> list[Call]:
    """``call`` and the pack's later actions on its case (refusals aside): kept together."""
    return [
        c for c in calls if c.case_id == call.case_id and c.seq >= call.seq and c.refused is None
    ]


def _synced_row(opened: OpenedPack, call: Call, status: str, row_id: int | None = None) -> TableRow:
    return TableRow(
        "synced_actions",
        {
            "id": row_id,
            "pack": opened.pack,
            "seq": call.seq,
            "case_id": call.case_id,
            "action": call.action,
            "at": call.at.isoformat(),
            "status": status,
        },
    )


class _WouldDo(Exception):
    """The office was about to do what the pack's rules refused: it is not done."""


def _record_refusal(services: Services, opened: OpenedPack, call: Call) -> None:
    """A field action the pack's rules refused: judged again at the office, never done.

    The office's own refusal is recorded when its rules refuse it too; when they
    would allow it, the action is not done (the field worker was told no, and did
    without), and a refusal saying so is recorded instead. What the pack wrote of
    its refusal is never copied: it is the pack's to say, not the office's log's.
    """
    assert call.refused is not None
    mark = {"pack": opened.pack, "pack_action": call.seq}
    refused = [_synced_row(opened, call, "refused")]

    def only_refusals(change: Change) -> tuple[dict[str, Any], list[TableRow]]:
        if change.event_type != "refused":
            raise _WouldDo
        return mark, refused

    failed = _replay(services, opened, call, only_refusals, files=None)
    if isinstance(failed, Refused) and services.store.synced_action(opened.pack, call.seq):
        return  # the office's rules refused it too, and that is recorded
    why = (
        "the office's rules allow it now; not done"
        if failed is None or isinstance(failed, _Undone)
        else f"the office could not judge it ({_why(failed)}); not done"
    )
    with services.store.carrying(lambda change: (mark, refused)):
        services.store.record_refusal(
            case_id=call.case_id,
            actor=opened.staff,
            at=call.at,
            action=call.action,
            reasons=[("pack.refused", f"refused on the field pack; {why}")],
            recorded_at=services.recorded_at(),
        )


class _Undone(FieldcaseError):
    """An action the office would have done, stopped (see :func:`_record_refusal`)."""


def _take_in(
    services: Services,
    opened: OpenedPack,
    call: Call,
    *,
    on_refusal: Callable[[Change], list[TableRow]],
    files: Callable[[str], bytes | None] | None = None,
    row_id: int | None = None,
) -> FieldcaseError | None:
    """Replay ``call`` through the services: None when done, else what stopped it.

    The event it writes (its own, or its refusal) carries the pack's id and the
    action's place in it, with the row of ``synced_actions`` (and, for a refusal,
    what ``on_refusal`` keeps) in the same transaction.
    """

    def carried(change: Change) -> tuple[dict[str, Any], list[TableRow]]:
        mark = {"pack": opened.pack, "pack_action": call.seq}
        if change.event_type == "refused":
            return mark, on_refusal(change)
        return mark, [_synced_row(opened, call, "applied", row_id)]

    return _replay(services, opened, call, carried, files=files)


def _replay(
    services: Services,
    opened: OpenedPack,
    call: Call,
    carried: Callable[[Change], tuple[dict[str, Any], list[TableRow]]],
    *,
    files: Callable[[str], bytes | None] | None,
) -> FieldcaseError | None:
    """Call the service of ``call`` as its command would, ``carried`` on its first write."""
    found = files or (lambda key: opened.store.attachment_file(key))
    action = getattr(Services, call.action)
    with services.store.carrying(carried):
        try:
            # The arguments as the command line would have given them: its text checks
            # (see fieldcase.text.clean) and an attached file's type and EXIF worked
            # out from its bytes, not taken from what the pack says of them.
            args = [arguments(decode(a, found), "offer_code") for a in call.args]
            kwargs = {k: arguments(decode(v, found), k) for k, v in call.kwargs.items()}
            action(services, call.case_id, *args, actor=opened.staff, at=call.at, **kwargs)
        except _WouldDo:
            return _Undone("not done")
        except FieldcaseError as exc:
            return exc
        except Exception as exc:
            # Arguments no command would pass (a pack written by hand) can fail in ways
            # no command's can: such an action is kept for a supervisor, never a crash.
            return InvalidInput(f"the office could not do it ({type(exc).__name__}: {exc})")
    return None


def _why(error: FieldcaseError) -> str:
    return str(error) if isinstance(error, Refused) else f"{type(error).__name__}: {error}"


def _holding(
    opened: OpenedPack, later: Sequence[Call], at: dt.datetime
) -> Callable[[Change], list[TableRow]]:
    """What a refusal at sync keeps: a conflict holding the refused action and the
    pack's later ones on its case, with the office's reasons."""

    def rows(change: Change) -> list[TableRow]:
        reasons = change.data.get("reasons") or []
        detail = "; ".join(f"{r['reason']} (rule {r['rule']})" for r in reasons)
        return _conflict_rows(opened, later, "refused", detail, [], at)

    return rows


def _conflict_rows(
    opened: OpenedPack,
    held: Sequence[Call],
    kind: str,
    detail: str,
    central: list[dict[str, Any]],
    at: dt.datetime,
) -> list[TableRow]:
    conflict = Conflict(
        0,
        opened.pack,
        opened.staff,
        held[0].case_id,
        kind,
        detail,
        list(held),
        central,
        "open",
        at.isoformat(),
        None,
        None,
        "",
    )
    return [
        TableRow("sync_conflicts", conflict.row(id=None)),
        *(_synced_row(opened, c, "held") for c in held),
    ]


def _keep(
    services: Services,
    opened: OpenedPack,
    held: Sequence[Call],
    kind: str,
    detail: str,
    central: list[dict[str, Any]],
    at: dt.datetime,
) -> int:
    """Keep ``held`` (the pack's actions on one case, in order) as one conflict."""
    store = services.store
    event, saved = store.commit(
        "sync_conflict",
        actor=opened.staff,
        at=at,
        records=_conflict_rows(opened, held, kind, detail, central, at),
        data={"pack": opened.pack, "kind": kind, "actions": [c.seq for c in held]},
        case_id=held[0].case_id,
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)
    first = saved[0]
    assert isinstance(first, TableRow)
    return int(first.row["id"])


def _open_conflict(store: Store, pack: str, case_id: int) -> Conflict | None:
    for row in store.sync_conflicts(open_only=True):
        if row["pack"] == pack and row["case_id"] == case_id:
            return Conflict.from_row(row)
    return None


def _extend(
    services: Services,
    opened: OpenedPack,
    conflict: Conflict,
    held: Sequence[Call],
    central: Sequence[dict[str, Any]],
    at: dt.datetime,
) -> None:
    """Add ``held`` (later actions of the pack on the case) to its open ``conflict``."""
    shown = {e["event"] for e in conflict.central}
    grown = attrs.evolve(
        conflict,
        field=[*conflict.field, *held],
        central=[*conflict.central, *(e for e in central if e["event"] not in shown)],
    )
    event, _ = services.store.commit(
        "sync_conflict",
        actor=opened.staff,
        at=at,
        records=[
            TableRow("sync_conflicts", grown.row()),
            *(_synced_row(opened, c, "held") for c in held),
        ],
        data={
            "pack": opened.pack,
            "kind": conflict.kind,
            "conflict": conflict.id,
            "actions": [c.seq for c in held],
        },
        case_id=conflict.case_id,
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)


def _central_side(store: Store, case_id: int, after: int, pack: str) -> list[dict[str, Any]]:
    """What the office did to the case since the pack was made, this pack's sync aside.

    A refusal changed nothing (someone tried, and was told no): it is no conflict.
    """
    found = []
    for event in store.iter_events(case_id=case_id, after=after):
        if event.type == "refused":
            continue
        data = event.payload.get("data") or {}
        if data.get("pack") == pack:
            continue
        found.append(
            {
                "event": event.id,
                "type": event.type,
                "actor": event.actor,
                "at": event.at.isoformat(),
                "pack": data.get("pack"),
            }
        )
    return found


def _kind(central: Sequence[dict[str, Any]]) -> str:
    types = {e["type"] for e in central}
    if "case_closed" in types:
        return "closed"
    if types & set(PAID):
        return "paid"
    if "case_assigned" in types:
        return "reassigned"
    if any(e.get("pack") for e in central):
        return "other-pack"
    return "changed"


def _told(central: Sequence[dict[str, Any]]) -> str:
    shown = ", ".join(f"{e['type']} by {e['actor']}" for e in central[:5])
    more = f" and {len(central) - 5} more" if len(central) > 5 else ""
    return f"the case changed at the office since the pack was made: {shown}{more}"


# -- conflicts ----------------------------------------------------------------------------


def conflicts(
    services: Services, viewer: str, *, all_: bool = False, conflict_id: int | None = None
) -> list[Conflict]:
    """The conflicts kept (open ones unless ``all_``): a supervisor sees every one, a
    field worker those of their own packs."""
    staff = services.actor(viewer)
    found = [
        Conflict.from_row(row)
        for row in services.store.sync_conflicts(open_only=not all_, conflict_id=conflict_id)
    ]
    return [c for c in found if staff.is_supervisor or c.staff == staff.id]


@attrs.frozen
class Resolution:
    """How a conflict ended: which of its actions were taken in, which were not."""

    conflict: Conflict
    how: str
    applied: tuple[int, ...]
    dropped: tuple[int, ...]


def resolve_conflict(
    services: Services,
    conflict_id: int,
    how: str,
    *,
    actor: str,
    at: dt.datetime,
    note: str = "",
    pack: Path | None = None,
) -> Resolution:
    """End a conflict: keep the office's side, or take the pack's actions in now.

    ``keep-field`` replays every held action as its staff member, judged by the
    office's rules against the case as it is now (the supervisor's word stands for
    the assignment); the first one refused stops it and the conflict stays open.
    ``merge`` takes in those the rules allow and drops the rest. ``keep-central``
    takes in none. Nothing is deleted: the conflict keeps both sides.
    """
    if how not in RESOLUTIONS:
        raise InvalidInput(f"resolve with one of {', '.join(RESOLUTIONS)}, not {how!r}")
    store = services.store
    services.begin_action()
    supervisor = services.actor(actor, at)
    found = [
        Conflict.from_row(r) for r in store.sync_conflicts(open_only=False, conflict_id=conflict_id)
    ]
    if not found:
        raise InvalidInput(f"no conflict {conflict_id}; see 'fieldcase sync --conflicts'")
    conflict = found[0]
    case = store.get_case(conflict.case_id)
    if not supervisor.is_supervisor:
        services.refuse(
            case,
            supervisor.id,
            at,
            "resolve_conflict",
            NotPermitted(
                f"only a supervisor may resolve a conflict (you are {supervisor.id}, "
                f"{supervisor.role})",
                "permission.supervisor",
            ),
            {"conflict": conflict_id, "how": how},
        )
    if conflict.status != "open":
        services.refuse(
            case,
            supervisor.id,
            at,
            "resolve_conflict",
            InvalidTransition(
                f"conflict {conflict_id} is already resolved ({conflict.status} by "
                f"{conflict.resolved_by} at {conflict.resolved_at}); see it with "
                "'fieldcase sync --conflicts --all'",
                "sync.resolved",
            ),
            {"conflict": conflict_id, "how": how},
        )
    opened = _Held(conflict, store, pack)
    held_pack = opened.as_pack()
    seen = store.synced_actions(conflict.pack)
    applied: list[int] = []
    dropped: list[int] = []
    try:
        if how != "keep-central":
            with _vouching(services, conflict):
                for call in conflict.field:
                    row = seen.get(call.seq)
                    if row is not None and row["status"] != "held":
                        (applied if row["status"] == "applied" else dropped).append(call.seq)
                        continue
                    row_id = None if row is None else row["id"]
                    services.begin_action()

                    def refused(
                        change: Change, call: Call = call, row_id: int | None = row_id
                    ) -> list[TableRow]:
                        if how == "merge":
                            return [_synced_row(held_pack, call, "dropped", row_id)]
                        return []

                    failed = _take_in(
                        services,
                        held_pack,
                        call,
                        on_refusal=refused,
                        files=opened.file,
                        row_id=row_id,
                    )
                    if failed is None:
                        applied.append(call.seq)
                    elif how == "merge":
                        dropped.append(call.seq)
                        if store.synced_action(conflict.pack, call.seq)["status"] == "held":  # type: ignore[index]
                            _mark(
                                services,
                                held_pack,
                                call,
                                "dropped",
                                row_id,
                                at,
                                supervisor.id,
                            )
                    else:
                        told = (
                            f"conflict {conflict_id}: {call.command} at "
                            f"{call.at:%Y-%m-%d %H:%M %z} is refused at the office: "
                            f"{_why(failed)}. {len(applied)} of "
                            f"{len(conflict.field)} actions are taken in; resolve again with "
                            "--merge to drop what is refused, or --keep-central"
                        )
                        # The action's own refusal is in the log (as the field worker's).
                        if isinstance(failed, Refused):
                            raise InvalidTransition(told, failed.rule)
                        raise InvalidInput(told)
    finally:
        opened.close()
    services.begin_action()
    seen = store.synced_actions(conflict.pack)
    # Still held: not done, or done but writing nothing (the office had it already, as a
    # payment it recorded under the same reference): the latter counts as taken in.
    still = [c.seq for c in conflict.field if c.seq in seen and seen[c.seq]["status"] == "held"]
    rows = [
        TableRow(
            "synced_actions",
            {**seen[seq], "status": "applied" if seq in applied else "dropped"},
        )
        for seq in still
    ]
    dropped.extend(seq for seq in still if seq not in applied)
    status = {"keep-field": "kept-field", "keep-central": "kept-central", "merge": "merged"}[how]
    ended = attrs.evolve(
        conflict, status=status, resolved_by=supervisor.id, resolved_at=at.isoformat(), note=note
    )
    event, _ = store.commit(
        "sync_conflict_resolved",
        actor=supervisor.id,
        at=at,
        records=[TableRow("sync_conflicts", ended.row()), *rows],
        data={
            "pack": conflict.pack,
            "conflict": conflict.id,
            "how": how,
            "applied": applied,
            "dropped": sorted(set(dropped)),
        },
        case_id=conflict.case_id,
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)
    return Resolution(ended, how, tuple(applied), tuple(sorted(set(dropped))))


def _mark(
    services: Services,
    opened: OpenedPack,
    call: Call,
    status: str,
    row_id: int | None,
    at: dt.datetime,
    actor: str,
) -> None:
    """Note what became of a held action that wrote nothing of its own."""
    event, _ = services.store.commit(
        "sync_action_dropped",
        actor=actor,
        at=at,
        records=[_synced_row(opened, call, status, row_id)],
        data={"pack": opened.pack, "pack_action": call.seq},
        case_id=call.case_id,
        recorded_at=services.recorded_at(),
    )
    services.notify(None, event)


@contextmanager
def _vouching(services: Services, conflict: Conflict) -> Iterator[None]:
    """While a supervisor keeps a pack's actions, they pass as the field worker's though
    the case was reassigned, and though the office changed it after they were done."""
    pair = (conflict.case_id, conflict.staff)
    services.vouched.add(pair)
    services.late_actions = True
    try:
        yield
    finally:
        services.vouched.discard(pair)
        services.late_actions = False


class _Held:
    """A conflict's pack, for replaying: its id and staff, and the files its attaches
    name, read from the pack file given (``--pack``), never from the office's own files:
    a pack cannot name its way into a file of another case."""

    def __init__(self, conflict: Conflict, store: Store, pack: Path | None) -> None:
        self.conflict = conflict
        self.store = store
        self.pack_path = pack
        self._pack_store: Store | None = None

    def file(self, key: str) -> bytes | None:
        if self.pack_path is None:
            raise InvalidInput(
                f"conflict {self.conflict.id} attaches a file: pass the pack it came from "
                "with --pack"
            )
        if self._pack_store is None:
            try:
                opened = Store(self.pack_path, read_only=True)
                manifest = opened.pack()
            except FieldcaseError:
                raise
            except Exception as exc:
                raise InvalidInput(f"{self.pack_path} is not a field pack ({exc})") from None
            if manifest is None or manifest.pack != self.conflict.pack:
                opened.close()
                raise InvalidInput(
                    f"{self.pack_path} is not pack {self.conflict.pack[:12]}, whose conflict "
                    f"{self.conflict.id} is: pass that pack with --pack"
                )
            self._pack_store = opened
        return self._pack_store.attachment_file(key)

    def close(self) -> None:
        if self._pack_store is not None:
            self._pack_store.close()

    def as_pack(self) -> OpenedPack:
        manifest = PackManifest(self.conflict.pack, {"staff": self.conflict.staff, "cases": []}, "")
        return OpenedPack(manifest, [], self.store)
