"""Walking a large SQLite log's hash chains in several processes at once.

The store decides what a check of an event is and when the walk is shared
(:meth:`Store.verify_chains`); this module cuts the chains into ranges of
names, has worker processes walk the ranges (:meth:`Store.walk_chains`), and
merges what they find into what one walk finds: the problem of the lowest
event id, and every event counted.

Each worker opens the file read-only and reads it in one transaction of its
own, which may see a later state than the caller's: so each walks only the
events up to the newest one the caller saw (events are only ever appended,
their ids in the order they were written), and takes what purges withheld
from its own state, in which every payload it reads was withheld by a purge
it sees. PostgreSQL keeps one walk.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import AuditProblem, Store

#: Fewer events than this are walked by one process: starting others costs more.
PARALLEL_FROM = 100_000
#: Ranges of chains per worker: small enough to share the work out evenly and to
#: report progress as each is done, large enough that handing one out is cheap.
RANGES_PER_WORKER = 16

#: A range of chain names, from the first up to, not including, the second (None: no bound).
Chains = tuple[str | None, str | None]


def workers_for(store: Store, events: int) -> int:
    """How many processes should walk ``events`` events of ``store``'s log (1: this one)."""
    if store.dialect.name != "sqlite" or store.path == ":memory:" or events < PARALLEL_FROM:
        return 1
    if multiprocessing.current_process().daemon:  # a pool's worker may not start its own
        return 1
    return available_cores()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def walk_in_parallel(
    store: Store,
    after: int,
    last: int,
    workers: int,
    progress: Callable[[int, int], object] | None,
    total: int,
) -> tuple[int, AuditProblem | None] | None:
    """:meth:`Store.walk_chains` of the events after ``after`` up to ``last``, shared out
    among ``workers`` processes: (events walked, the problem of the lowest event id).

    None when the workers could not start: a program that starts processes must
    not do so again when its main module is imported (see :mod:`multiprocessing`).
    """
    ranges = chain_ranges(store, after, last, workers * RANGES_PER_WORKER)
    walked, first = 0, None
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # no copy of this process's files
        initializer=_start_worker,
        initargs=(type(store), store.path, after),
    )
    try:
        walks = [pool.submit(_walk_range, last, chains) for chains in ranges]
        for walk in as_completed(walks):
            count, problem = walk.result()
            walked += count
            if problem is not None and (first is None or problem.event_id < first.event_id):
                first = problem
            if progress is not None:
                progress(walked, total)
    except BrokenProcessPool:
        return None
    finally:  # interrupted: the ranges not begun are dropped, not walked to the end
        pool.shutdown(cancel_futures=True)
    return walked, first


def chain_ranges(store: Store, after: int, last: int, wanted: int) -> list[Chains]:
    """About ``wanted`` ranges of chain names, each with about as many events after
    ``after`` up to ``last``; a chain is never cut."""
    step = max((last - after) // wanted, 1)
    cuts: list[str] = []
    while True:
        below = "" if not cuts else " AND chain > ?"
        row = store.db.execute(  # "+id": read by the index on (chain, id), not by id
            f"SELECT chain FROM events WHERE id > ? AND +id <= ?{below}"
            " ORDER BY chain LIMIT 1 OFFSET ?",
            [after, last, *cuts[-1:], step],
        ).fetchone()
        if row is None:
            break
        cuts.append(row[0])
    bounds: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


# -- in each worker process -------------------------------------------------------------

#: The worker's store, held in one read transaction, and what purges withheld in it.
_reading: tuple[Store, int, set[int], dict[int, str]] | None = None
#: The worker's read transaction: it lasts as long as the worker (its end closes the file).
_open = contextlib.ExitStack()


def _start_worker(opener: type[Store], path: str, after: int) -> None:
    global _reading
    store = opener(path, read_only=True)
    _open.enter_context(store.dialect.read_transaction())
    _reading = (store, after, *store.redactions(after))


def _walk_range(last: int, chains: Chains) -> tuple[int, AuditProblem | None]:
    assert _reading is not None, "a worker is started by _start_worker"
    store, after, redacted, pinned = _reading
    return store.walk_chains(after, redacted, pinned, up_to=last, chains=chains)
