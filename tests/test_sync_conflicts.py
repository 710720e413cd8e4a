"""Conflicts a sync keeps: each kind is kept, both sides in it, and resolvable; a sync
run twice, or killed half way and run again, takes each field action in once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import (
    AT,
    Run,
    create_args,
    events,
    query,
    set_policy,
    snapshot,
    to_interview,
)
from fieldcase import hookimpl
from fieldcase.testing import RegisterPlugin, invoke

#: The pack is made at AT (12:00 on 23 November); the office acts at 13:00 that day.
OFFICE = ("--at", "2026-11-23T13:00+08:00")
SYNC = ("--at", "2026-11-25T18:00+08:00")
RESOLVE = ("--at", "2026-11-25T19:00+08:00")

#: What li.na does on case 1 on her pack: a call, then the interview on site.
CONTACT = ("contact", "1", "--channel", "phone", "--target", "borrower", "--outcome", "reached",
           "--note", "home Wednesday morning", "--at", "2026-11-24T09:10+08:00")  # fmt: skip
INTERVIEW = ("interview", "1", "--met", "borrower", "--reason", "medical",
             "--note", "hospital bills", "--at", "2026-11-25T10:30+08:00")  # fmt: skip


def make_pack(run: Run, out: Path, *cases: str, at: tuple[str, str] = AT) -> Path:
    picked = [arg for case in cases for arg in ("--case", case)]
    made = run("pack", "--staff", "li.na", *picked, "-o", str(out), *at, as_="li.na")
    assert made.exit_code == 0, made.output
    return out


def on_pack(path: Path, *args: str) -> Result:
    done = invoke("--db", path, "--as", "li.na", *args)
    assert done.exit_code == 0, (args, done.output)
    return done


def field_day(path: Path) -> None:
    """li.na's contact and interview on case 1, on her pack."""
    on_pack(path, *CONTACT)
    on_pack(path, *INTERVIEW)


def sync(run: Run, path: Path, as_: str = "li.na") -> Result:
    synced = run("sync", str(path), *SYNC, as_=as_)
    assert synced.exit_code == 0, synced.output
    return synced


def listed(run: Run, *options: str, as_: str = "chen.wei") -> list[dict[str, Any]]:
    shown = run("sync", "--conflicts", "--json", *options, as_=as_)
    assert shown.exit_code == 0, shown.output
    found: list[dict[str, Any]] = json.loads(shown.stdout)
    return found


def conflict_rows(target: str) -> list[Any]:
    return query(target, "SELECT * FROM sync_conflicts ORDER BY id")


def synced(target: str) -> dict[int, str]:
    """Each pack action the office noted, by its place in the pack: its status."""
    return {
        row["seq"]: row["status"]
        for row in query(target, "SELECT seq, status FROM synced_actions ORDER BY seq")
    }


def field_work(target: str) -> tuple[int, int]:
    """(contacts recorded, visits whose interview is recorded) on case 1."""
    contacts = query(target, "SELECT count(*) FROM contacts WHERE case_id = 1")[0][0]
    met = query(target, "SELECT count(*) FROM visits WHERE case_id = 1 AND met IS NOT NULL")[0][0]
    return contacts, met


def from_pack(target: str) -> list[Any]:
    """The events of case 1 a sync (or a resolution) took in from a pack's actions."""
    return [e for e in events(target, 1) if '"pack_action"' in e["payload"]]


# -- 1. reassigned ----------------------------------------------------------------------------


@pytest.mark.both_stores
def test_a_case_reassigned_meanwhile_is_kept_with_both_sides_and_kept_field_on_resolve(
    office: Run, target: str, tmp_path: Path, store_kind: str
) -> None:
    to_interview(office)
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    moved = office("assign", "1", "--to", "zhang.min", *OFFICE, as_="chen.wei")
    assert moved.exit_code == 0, moved.output
    field_day(path)

    told = sync(office, path)
    assert "2 actions; 0 taken in, 0 refused on the pack" in told.output
    assert "2 held in conflicts, 0 taken in before" in told.output
    assert "Conflicts kept: 1" in told.output
    # Nothing of the field's work is in the office's tables yet: it is held.
    assert field_work(target) == (0, 0)
    assert synced(target) == dict.fromkeys(synced(target), "held") and len(synced(target)) == 2

    shown = office("sync", "--conflicts", as_="chen.wei")
    assert shown.exit_code == 0, shown.output
    assert "Conflict 1: case 1, li.na's pack" in shown.output
    assert "(reassigned)" in shown.output
    assert "2026-11-24 09:10 +0800  contact  channel=phone" in shown.output
    assert "2026-11-25 10:30 +0800  interview  met=borrower notes=hospital bills" in shown.output
    assert "2026-11-23 13:00 +0800  case_assigned by chen.wei" in shown.output
    [kept] = listed(office)
    assert kept["kind"] == "reassigned" and kept["status"] == "open"
    assert [c["command"] for c in kept["field"]] == ["contact", "interview"]
    assert kept["field"][0]["kwargs"]["note"] == "home Wednesday morning"
    assert [(e["type"], e["actor"]) for e in kept["central"]] == [("case_assigned", "chen.wei")]
    # li.na sees the conflict of her own pack too; zhang.min does not.
    assert [c["id"] for c in listed(office, as_="li.na")] == [1]
    assert listed(office, as_="zhang.min") == []

    resolved = office(
        "conflict", "resolve", "1", "--keep-field", "--note", "she was there", *RESOLVE,
        as_="chen.wei",
    )  # fmt: skip
    assert resolved.exit_code == 0, resolved.output
    assert "Conflict 1 resolved (kept-field): 2 actions taken in, 0 dropped" in resolved.output
    assert field_work(target) == (1, 1)
    # Her actions are hers, at her times. On PostgreSQL the database stamps each event with
    # who wrote it (the supervisor who took them in); the rows name li.na there too.
    came = from_pack(target)
    writer = "li.na" if store_kind == "sqlite" else "chen.wei"
    assert [(e["type"], e["actor"], e["at"]) for e in came] == [
        ("contact_recorded", writer, "2026-11-24T01:10:00Z"),
        ("interview_recorded", writer, "2026-11-25T02:30:00Z"),
    ]
    contact = query(target, "SELECT staff, at, note FROM contacts WHERE case_id = 1")
    assert [tuple(c) for c in contact] == [
        ("li.na", "2026-11-24T01:10:00Z", "home Wednesday morning")
    ]
    visit = query(target, "SELECT recorded_by, visited_at FROM visits WHERE met IS NOT NULL")
    assert [tuple(v) for v in visit] == [("li.na", "2026-11-25T02:30:00Z")]
    assert set(synced(target).values()) == {"applied"}
    [row] = conflict_rows(target)
    assert (row["status"], row["resolved_by"], row["note"]) == (
        "kept-field",
        "chen.wei",
        "she was there",
    )
    ended = events(target, 1)[-1]
    assert ended["type"] == "sync_conflict_resolved" and ended["actor"] == "chen.wei"
    assert office("sync", "--conflicts", as_="chen.wei").output == "No conflicts.\n"
    assert listed(office) == []
    every = office("sync", "--conflicts", "--all", as_="chen.wei")
    assert "(reassigned) [kept-field: chen.wei]" in every.output
    assert "note: she was there" in every.output
    # The case stays zhang.min's: keeping li.na's work did not give it back.
    shown_case = json.loads(office("show", "1", "--json", as_="chen.wei").stdout)
    assert shown_case["assigned_to"] == "zhang.min"
    assert shown_case["stage"] == "feedback"


# -- 2. closed -----------------------------------------------------------------------------------


def test_a_case_closed_meanwhile_refuses_keep_field_and_keep_central_drops_the_field_side(
    office: Run, target: str, tmp_path: Path
) -> None:
    to_interview(office)
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    closed = office("close", "1", "--resolution", "paid", *OFFICE, as_="chen.wei")
    assert closed.exit_code == 0, closed.output
    field_day(path)
    sync(office, path)
    [kept] = listed(office)
    assert kept["kind"] == "closed"
    assert [e["type"] for e in kept["central"]] == ["case_closed"]
    before = len(events(target, 1))

    refused = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="chen.wei")
    assert refused.exit_code == 1, refused.output
    assert "Refused: conflict 1: contact at 2026-11-24 09:10" in refused.output
    assert "stage closed" in refused.output
    assert "0 of 2 actions are taken in" in refused.output
    # The office's log says the contact was refused, as li.na's; the conflict stays open.
    new = events(target, 1)[before:]
    assert [(e["type"], e["actor"]) for e in new] == [("refused", "li.na")]
    assert "stage.contact" in new[0]["payload"]
    assert [c["status"] for c in listed(office)] == ["open"]
    assert field_work(target) == (0, 0)

    central = office(
        "conflict", "resolve", "1", "--keep-central", "--note", "paid in full", *RESOLVE,
        as_="chen.wei",
    )  # fmt: skip
    assert central.exit_code == 0, central.output
    assert "(kept-central): 0 actions taken in, 2 dropped" in central.output
    assert field_work(target) == (0, 0)
    assert [e["type"] for e in from_pack(target)] == ["refused"]
    assert events(target, 1)[-1]["type"] == "sync_conflict_resolved"
    assert set(synced(target).values()) == {"dropped"}
    [row] = conflict_rows(target)
    assert row["status"] == "kept-central"
    held = json.loads(row["field"])
    assert [c["action"] for c in held] == ["record_contact", "record_interview"]
    assert held[1]["kwargs"]["notes"] == "hospital bills"
    shown = office("show", "1", "--json", as_="chen.wei")
    assert json.loads(shown.stdout)["stage"] == "closed"


# -- 3. paid ---------------------------------------------------------------------------------------


def test_a_case_paid_meanwhile_is_kept_and_merged(office: Run, target: str, tmp_path: Path) -> None:
    to_interview(office)
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    for amount, reference in (("100", "BOC-6"), ("500", "BOC-7")):
        paid = office("payment", "1", amount, "--reference", reference, *OFFICE, as_="chen.wei")
        assert paid.exit_code == 0, paid.output
    field_day(path)
    # The borrower shows li.na his transfers: one the office has (the same), one it has for
    # another amount (her mistake), and a new one.
    for amount, reference, time in (("100", "BOC-6", "10:40"), ("300", "BOC-7", "10:45"),
                                    ("200", "BOC-8", "10:50")):  # fmt: skip
        at = f"2026-11-25T{time}+08:00"
        on_pack(path, "payment", "1", amount, "--reference", reference, "--at", at)
    sync(office, path)
    [kept] = listed(office)
    assert kept["kind"] == "paid"
    assert [c["command"] for c in kept["field"]] == [
        "contact",
        "interview",
        *["payment record"] * 3,
    ]
    assert [e["type"] for e in kept["central"]] == ["payment_recorded"] * 2
    seqs = [c["seq"] for c in kept["field"]]

    merged = office("conflict", "resolve", "1", "--merge", *RESOLVE, as_="chen.wei")
    assert merged.exit_code == 0, merged.output
    assert "Conflict 1 resolved (merged): 4 actions taken in, 1 dropped" in merged.output
    assert field_work(target) == (1, 1)
    payments = query(target, "SELECT reference, amount_minor, status FROM payments ORDER BY id")
    assert [tuple(p) for p in payments] == [
        ("BOC-6", 10000, "confirmed"),
        ("BOC-7", 50000, "confirmed"),
        ("BOC-8", 20000, "reported"),
    ]
    [row] = conflict_rows(target)
    assert row["status"] == "merged"
    mistaken = seqs[3]
    assert synced(target) == {**dict.fromkeys(seqs, "applied"), mistaken: "dropped"}
    data = json.loads(events(target, 1)[-1]["payload"])["data"]
    assert (data["how"], data["dropped"]) == ("merge", [mistaken])
    assert sorted(data["applied"]) == sorted(set(seqs) - {mistaken})
    # The mistaken payment is named in the log as dropped; it is still in the conflict.
    assert any(e["type"] == "sync_action_dropped" for e in events(target, 1))
    assert len(json.loads(row["field"])) == 5


# -- 4. refused under the office's policy ------------------------------------------------------


@pytest.mark.bundled_plugins
def test_an_action_the_tightened_policy_refuses_is_kept_and_taken_in_once_loosened(
    office: Run, target: str, tmp_path: Path
) -> None:
    # When the pack is made, the CN rules allow calls until 23:00; the office then
    # narrows that to 21:00 while li.na is out.
    set_policy(office, "hx-consumer", "rule_packs=cn", "rules.cn.hours.end=23:00")
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    set_policy(office, "hx-consumer", "rules.cn.hours.end=21:00", at="2026-11-23T13:00+08:00")
    late = ("contact", "1", "--channel", "phone", "--target", "borrower", "--outcome",
            "reached", "--at", "2026-11-23T22:00+08:00")  # fmt: skip
    on_pack(path, *late)
    on_pack(path, *CONTACT)

    told = sync(office, path)
    assert "0 taken in" in told.output and "2 held in conflicts" in told.output
    [kept] = listed(office)
    assert kept["kind"] == "refused" and kept["central"] == []
    assert "cn.hours" in kept["detail"] and "22:00" in kept["detail"]
    assert [c["at"] for c in kept["field"]] == [
        "2026-11-23T22:00:00+08:00",
        "2026-11-24T09:10:00+08:00",
    ]
    refusal = events(target, 1)[-1]
    assert (refusal["type"], refusal["actor"]) == ("refused", "li.na")
    assert "cn.hours" in refusal["payload"] and '"pack_action"' in refusal["payload"]
    assert field_work(target) == (0, 0)

    still = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="chen.wei")
    assert still.exit_code == 1, still.output
    assert "is refused at the office" in still.output and "cn.hours" in still.output
    assert [c["status"] for c in listed(office)] == ["open"]

    set_policy(office, "hx-consumer", "rules.cn.hours.end=23:00", at="2026-11-25T18:30+08:00")
    kept_field = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="chen.wei")
    assert kept_field.exit_code == 0, kept_field.output
    assert "2 actions taken in, 0 dropped" in kept_field.output
    assert field_work(target) == (2, 0)
    assert set(synced(target).values()) == {"applied"}


# -- 5. another pack -----------------------------------------------------------------------------


def test_a_case_another_pack_synced_meanwhile_is_kept_as_other_pack(
    office: Run, target: str, tmp_path: Path
) -> None:
    first = make_pack(office, tmp_path / "a.fcpack", "1")
    second = make_pack(office, tmp_path / "b.fcpack", "1", at=("--at", "2026-11-23T12:05+08:00"))
    on_pack(first, *CONTACT)
    on_pack(second, "contact", "1", "--channel", "sms", "--target", "borrower", "--outcome",
            "reached", "--at", "2026-11-24T11:00+08:00")  # fmt: skip
    on_pack(second, "confirm", "1", "--address", "上海市浦东新区世纪大道100号3楼", "--at",
            "2026-11-24T11:05+08:00")  # fmt: skip
    pack_a = query(str(first), "SELECT pack FROM pack_manifest")[0][0]

    assert "1 action; 1 taken in" in sync(office, first).output
    told = sync(office, second)
    assert "2 actions; 0 taken in" in told.output and "2 held in conflicts" in told.output
    [kept] = listed(office)
    assert kept["kind"] == "other-pack"
    assert [(e["type"], e["actor"], e["pack"]) for e in kept["central"]] == [
        ("contact_recorded", "li.na", pack_a)
    ]
    assert field_work(target) == (1, 0)

    merged = office("conflict", "resolve", "1", "--merge", *RESOLVE, as_="chen.wei")
    assert merged.exit_code == 0, merged.output
    assert "2 actions taken in, 0 dropped" in merged.output
    assert field_work(target) == (2, 0)
    shown = json.loads(office("show", "1", "--json", as_="chen.wei").stdout)
    assert shown["stage"] == "preparation"


# -- 6. and 7. a second sync, a killed one ---------------------------------------------------------


def two_cases_worked(run: Run, tmp_path: Path) -> Path:
    """li.na's pack of cases 1 and 2; case 2 is given to zhang.min meanwhile. On the pack:
    two calls and a confirmation on case 1, a plan the pack refuses (the address was not
    confirmed yet), and a call on case 2."""
    made = run(*create_args("L-1002", phone="+86 139 0000 1111"), "--assign", "li.na", *AT,
               as_="chen.wei")  # fmt: skip
    assert made.exit_code == 0, made.output
    path = make_pack(run, tmp_path / "li.na.fcpack", "1", "2")
    assert run("assign", "2", "--to", "zhang.min", *OFFICE, as_="chen.wei").exit_code == 0
    early = invoke("--db", path, "--as", "li.na", "plan", "1", "--date", "2026-11-26",
                   "--window", "10:00-12:00", "--at", "2026-11-24T08:30+08:00")  # fmt: skip
    assert early.exit_code == 1, early.output
    on_pack(path, *CONTACT)
    on_pack(path, "contact", "2", "--channel", "phone", "--target", "borrower", "--outcome",
            "no-answer", "--at", "2026-11-24T09:20+08:00")  # fmt: skip
    on_pack(path, "confirm", "1", "--address", "上海市浦东新区世纪大道100号3楼", "--at",
            "2026-11-24T09:45+08:00")  # fmt: skip
    on_pack(path, "contact", "1", "--channel", "sms", "--target", "borrower", "--outcome",
            "reached", "--at", "2026-11-24T10:00+08:00")  # fmt: skip
    return path


@pytest.mark.both_stores
def test_syncing_a_pack_twice_changes_nothing(office: Run, target: str, tmp_path: Path) -> None:
    path = two_cases_worked(office, tmp_path)
    first = sync(office, path)
    assert "5 actions; 3 taken in, 1 refused on the pack and recorded so, 1 held" in first.output
    assert "0 taken in before" in first.output
    before = snapshot(target)
    assert len(before["synced_actions"]) == 5 and len(before["sync_conflicts"]) == 1

    again = sync(office, path, as_="chen.wei")
    assert "5 actions; 0 taken in, 0 refused on the pack and recorded so, 0 held" in again.output
    assert "5 taken in before" in again.output
    assert snapshot(target) == before


class Killer:
    """Ends the process (as Ctrl-C does) after the ``n``th event a sync commits."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    @hookimpl
    def case_event(self, case: Any, event: Any) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


#: Events the sync of :func:`two_cases_worked` tells plugins of: three actions, a conflict.
NOTIFIED = 4


def comparable(target: Path) -> dict[str, list[Any]]:
    """Every table; the events as what they say (each seals its personal data with a salt
    of its own, so two logs of the same story differ in their hashes)."""
    tables: dict[str, list[Any]] = dict(snapshot(target))
    tables["events"] = [
        (e["id"], e["case_id"], e["chain"], e["type"], e["actor"], e["at"], e["policy_version"],
         {k: v for k, v in json.loads(e["payload"]).items() if k != "seal"})
        for e in events(target)
    ]  # fmt: skip
    return tables


@pytest.mark.parametrize("n", range(1, NOTIFIED + 1))
def test_a_sync_killed_half_way_goes_on_where_it_stopped(
    office: Run, db_path: Path, tmp_path: Path, register_plugin: RegisterPlugin, n: int
) -> None:
    path = two_cases_worked(office, tmp_path)
    twin = tmp_path / "twin.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{db_path}{suffix}").exists():
            shutil.copyfile(f"{db_path}{suffix}", f"{twin}{suffix}")
    killer = Killer(n)
    register_plugin(killer, name="killer")

    killed = office("sync", str(path), *SYNC, as_="li.na")
    assert killed.exit_code != 0 and killer.seen == n
    assert "Pack" not in killed.output  # it never got to say what it did
    noted = len(snapshot(db_path)["synced_actions"])
    assert 1 <= noted <= 5 and (noted < 5 or n == NOTIFIED)

    resumed = sync(office, path)
    assert f"{noted} taken in before" in resumed.output
    whole = invoke("--db", twin, "--as", "li.na", "sync", str(path), *SYNC)
    assert whole.exit_code == 0, whole.output
    assert comparable(db_path) == comparable(twin)
    verified = office("audit", "verify", "--replay")
    assert verified.exit_code == 0, verified.output
    assert len(snapshot(db_path)["synced_actions"]) == 5


# -- 8. who resolves, and once ----------------------------------------------------------------


def test_a_conflict_is_resolved_once_by_a_supervisor_who_says_how(
    office: Run, target: str, tmp_path: Path
) -> None:
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    assert office("assign", "1", "--to", "zhang.min", *OFFICE, as_="chen.wei").exit_code == 0
    on_pack(path, *CONTACT)
    sync(office, path)

    how = office("conflict", "resolve", "1", *RESOLVE, as_="chen.wei")
    assert how.exit_code == 2
    assert "say how: --keep-field, --keep-central or --merge" in how.output

    before = len(events(target))
    hers = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="li.na")
    assert hers.exit_code == 1
    assert "only a supervisor may resolve a conflict (you are li.na, field)" in hers.output
    new = events(target)[before:]
    assert [(e["type"], e["actor"]) for e in new] == [("refused", "li.na")]
    assert "permission.supervisor" in new[0]["payload"]
    assert [c["status"] for c in listed(office)] == ["open"]
    assert field_work(target) == (0, 0)

    done = office("conflict", "resolve", "1", "--keep-central", *RESOLVE, as_="chen.wei")
    assert done.exit_code == 0, done.output
    before = len(events(target))
    again = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="chen.wei")
    assert again.exit_code == 1
    assert "conflict 1 is already resolved (kept-central by chen.wei" in again.output
    new = events(target)[before:]
    assert [(e["type"], e["actor"]) for e in new] == [("refused", "chen.wei")]
    assert "sync.resolved" in new[0]["payload"]
    assert field_work(target) == (0, 0)
    assert conflict_rows(target)[0]["status"] == "kept-central"

    missing = office("conflict", "resolve", "9", "--merge", *RESOLVE, as_="chen.wei")
    assert missing.exit_code == 2 and "no conflict 9" in missing.output


def test_a_refusal_at_the_office_meanwhile_is_no_change_to_the_case(
    office: Run, target: str, tmp_path: Path
) -> None:
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    # zhang.min tries to call li.na's borrower at the office: refused, and only that noted.
    tried = office("contact", "1", "--channel", "phone", "--target", "borrower", "--outcome",
                   "reached", *OFFICE, as_="zhang.min")  # fmt: skip
    assert tried.exit_code == 1, tried.output
    assert events(target, 1)[-1]["type"] == "refused"
    on_pack(path, *CONTACT)
    told = sync(office, path)
    assert "1 action; 1 taken in" in told.output
    assert listed(office) == []
    assert field_work(target) == (1, 0)


@pytest.mark.bundled_plugins
def test_work_done_on_the_pack_after_a_sync_waits_behind_the_conflict_it_kept(
    office: Run, target: str, tmp_path: Path
) -> None:
    set_policy(office, "hx-consumer", "rule_packs=cn", "rules.cn.hours.end=23:00")
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    set_policy(office, "hx-consumer", "rules.cn.hours.end=21:00", at="2026-11-23T13:00+08:00")
    on_pack(path, "contact", "1", "--channel", "phone", "--target", "borrower", "--outcome",
            "reached", "--at", "2026-11-23T22:00+08:00")  # fmt: skip
    sync(office, path)
    [kept] = listed(office)
    # Out again, li.na goes on with the same pack: her later work on the case waits with
    # what was kept, in the same conflict, not taken in before it.
    on_pack(path, *CONTACT)
    on_pack(path, "confirm", "1", "--address", "上海市浦东新区世纪大道100号3楼", "--at",
            "2026-11-24T09:45+08:00")  # fmt: skip
    told = sync(office, path)
    assert "3 actions; 0 taken in, 0 refused on the pack and recorded so, 2 held" in told.output
    assert field_work(target) == (0, 0)
    [again] = listed(office)
    assert again["id"] == kept["id"] and again["kind"] == "refused"
    assert [c["command"] for c in again["field"]] == ["contact", "contact", "confirm"]

    merged = office("conflict", "resolve", str(kept["id"]), "--merge", *RESOLVE, as_="chen.wei")
    assert merged.exit_code == 0, merged.output
    assert "2 actions taken in, 1 dropped" in merged.output
    assert field_work(target) == (1, 0)
    shown = json.loads(office("show", "1", "--json", as_="chen.wei").stdout)
    assert shown["stage"] == "preparation"


def test_a_resolution_killed_half_way_is_finished_by_resolving_again(
    office: Run, db_path: Path, tmp_path: Path, register_plugin: RegisterPlugin
) -> None:
    to_interview(office)
    path = make_pack(office, tmp_path / "li.na.fcpack", "1")
    assert office("assign", "1", "--to", "zhang.min", *OFFICE, as_="chen.wei").exit_code == 0
    field_day(path)
    sync(office, path)
    twin = tmp_path / "twin.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{db_path}{suffix}").exists():
            shutil.copyfile(f"{db_path}{suffix}", f"{twin}{suffix}")
    killer = Killer(1)
    register_plugin(killer, name="killer")

    killed = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="chen.wei")
    assert killed.exit_code != 0 and killer.seen == 1
    assert sorted(synced(str(db_path)).values()) == ["applied", "held"]
    assert [c["status"] for c in listed(office)] == ["open"]

    again = office("conflict", "resolve", "1", "--keep-field", *RESOLVE, as_="chen.wei")
    assert again.exit_code == 0, again.output
    assert "2 actions taken in, 0 dropped" in again.output
    whole = invoke("--db", twin, "--as", "chen.wei", "conflict", "resolve", "1", "--keep-field",
                   *RESOLVE)  # fmt: skip
    assert whole.exit_code == 0, whole.output
    assert comparable(db_path) == comparable(twin)
    assert field_work(str(db_path)) == (1, 1)
