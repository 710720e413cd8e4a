"""An import's rows read, mapped and validated a few batches ahead, in a second process.

Validating a row needs no database: a large import hands that work to a
child process, which sends each batch, prepared, through a bounded queue
while this process writes the batch before it. Memory stays a few batches,
whatever the file's size. The child is forked, so it has the plugins, the
mapping and the validator as they are here, and it never touches the
database connection it inherits. Where processes cannot be forked (or the
machine has one core), the batches are prepared here, one after another,
with the same function.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from .errors import FieldcaseError
from .importing import SourceRow

Prepared = TypeVar("Prepared")

#: Batches prepared ahead of the one being written: the queue's bound.
AHEAD = 2

#: From how many rows (estimated) an import prepares its batches in a second process.
PARALLEL_ROWS = 20_000

#: How often (seconds) a wait for the child checks that it is still alive.
POLL = 1.0


def can_fork() -> bool:
    """Whether a second process can be forked, and a second core run it."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def batches(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def prepared_batches(
    rows: Iterator[SourceRow],
    size: int,
    prepare: Callable[[list[SourceRow]], Prepared],
    *,
    parallel: bool,
) -> Generator[Prepared, None, None]:
    """``prepare(batch)`` of each batch of ``size`` rows, in order; in a second
    process when ``parallel`` (and one can be forked). An error preparing a
    batch is raised here, when that batch's turn comes."""
    if not (parallel and can_fork()):
        for batch in batches(rows, size):
            yield prepare(batch)
        return
    context = multiprocessing.get_context("fork")
    ready: Any = context.Queue(maxsize=AHEAD)
    child = context.Process(
        target=_prepare_all, args=(rows, size, prepare, ready), daemon=True, name="fieldcase-read"
    )
    child.start()
    try:
        while True:
            kind, item = _next(ready, child)
            if kind == "done":
                return
            if kind == "failed":
                raise item
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        ready.close()


def _next(ready: Any, child: Any) -> tuple[str, Any]:
    while True:
        try:
            kind, item = ready.get(timeout=POLL)
            return kind, item
        except queue.Empty:
            if not child.is_alive():
                raise FieldcaseError(
                    f"the process reading the file stopped (exit code {child.exitcode}); "
                    "the batches before are in: importing the file again goes on from there"
                ) from None


def _prepare_all(
    rows: Iterator[SourceRow],
    size: int,
    prepare: Callable[[list[SourceRow]], Any],
    ready: Any,
) -> None:
    """The child's work: every batch prepared and queued, then ``done`` (or the error)."""
    try:
        for batch in batches(rows, size):
            ready.put(("batch", prepare(batch)))
        ready.put(("done", None))
    except BaseException as exc:  # the parent raises it in its turn
        ready.put(("failed", _sendable(exc)))
    finally:
        ready.close()
        ready.join_thread()


def _sendable(exc: BaseException) -> BaseException:
    """``exc``, or a plain error saying the same, if it would not cross to the parent."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return FieldcaseError(str(exc) or type(exc).__name__)
    return exc
