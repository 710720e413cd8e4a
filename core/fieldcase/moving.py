"""Moving an office's whole database to another store: ``fieldcase migrate --to``.

The log is copied event by event as it was written (actors, times, hashes),
with the rows each event writes, in batches that are each one transaction of
the target; then the attachments' files, which the events name by fingerprint.
A run that stops half way leaves the target consistent up to its last batch;
the next run checks that what is there is this office's log and goes on from
there. Before, every chain of the source is verified; after, the
target's chains, its seal, every table's count and its replay must equal.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from .errors import FieldcaseError
from .store import Store


@attrs.frozen
class Moved:
    """What a move did: events copied now, after how many already there, and the seal."""

    events: int
    already: int
    total: int
    chains: int
    seal: str


def move(
    source: Store,
    target: Store,
    *,
    batch: int = 2000,
    progress: Callable[[int, int], object] | None = None,
) -> Moved:
    """Copy ``source``'s log and tables into ``target``; check both; resume where it stopped."""
    if batch < 1:
        raise FieldcaseError("--batch must be at least 1")
    _, problem = source.verify_chains()
    if problem is not None:
        raise FieldcaseError(
            f"the source's log is broken at event {problem.event_id} ({problem.chain}): "
            f"{problem.problem}; nothing was moved"
        )
    if target.has_logins and target.initialised() and target.login() is not None:
        raise FieldcaseError(
            "move as the target database's administrator (the owner of its schema), "
            f"not as staff member {target.login()}: nothing was moved"
        )
    target.migrate()
    last = target.last_event_id()
    before = 0
    if last:
        digest, _, before = source.seal(up_to=last)
        if target.seal()[0] != digest:
            raise FieldcaseError(
                f"the target already holds events (up to {last}) that are not the first of "
                "this office's log; move into an empty database: nothing was moved"
            )
    done, end = last, source.last_event_id()
    while rows := source.event_rows(done, batch):
        target.append_moved(rows)
        done = rows[-1][0]
        if progress is not None:
            progress(done, end)
    _copy_files(source, target, batch)
    differences = _differences(source, target)
    if differences:
        raise FieldcaseError("the copy does not equal the source: " + "; ".join(differences[:5]))
    digest, chains, total = target.seal()
    return Moved(events=total - before, already=before, total=total, chains=chains, seal=digest)


def _copy_files(source: Store, target: Store, batch: int) -> None:
    """Copy the attachments' files the target lacks: the events carry only their
    fingerprints. A few at a time, each few one transaction: files may be large."""
    missing = sorted(set(source.file_keys()) - set(target.file_keys()))
    step = max(1, min(batch, 20))
    for start in range(0, len(missing), step):
        files = []
        for sha256 in missing[start : start + step]:
            content = source.attachment_file(sha256)
            if content is not None:
                files.append((sha256, content))
        target.keep_files(files)


def _differences(source: Store, target: Store) -> list[str]:
    """Why the target is not the source's copy: its chains, seal, counts and replay."""
    _, problem = target.verify_chains()
    if problem is not None:
        return [f"event {problem.event_id} ({problem.chain}): {problem.problem}"]
    if target.seal() != source.seal():
        return ["the seals differ"]
    ours, theirs = source.table_counts(), target.table_counts()
    found = [
        f"{table}: {ours[table]} rows here, {theirs[table]} there"
        for table in ours
        if ours[table] != theirs[table]
    ]
    if source.file_keys() != target.file_keys():
        found.append("the attachments' files differ")
    return found + target.compare_replay()
