"""Batches prepared in a second process: in order, a bounded few ahead, errors raised in turn."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fieldcase import import_pipeline
from fieldcase.errors import FieldcaseError, InvalidInput
from fieldcase.importing import SourceRow

pytestmark = pytest.mark.skipif(not import_pipeline.can_fork(), reason="needs fork and two cores")


def rows(count: int) -> Iterator[SourceRow]:
    return (SourceRow(line, {"n": line}) for line in range(2, count + 2))


def lines(batch: list[SourceRow]) -> tuple[int, list[int]]:
    return os.getpid(), [row.line for row in batch]


def test_batches_come_in_order_from_another_process() -> None:
    prepared = list(import_pipeline.prepared_batches(rows(10), 4, lines, parallel=True))
    assert [numbers for _, numbers in prepared] == [[2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]
    assert {pid for pid, _ in prepared} != {os.getpid()}
    # The same function, here, when not parallel.
    here = list(import_pipeline.prepared_batches(rows(10), 4, lines, parallel=False))
    assert [numbers for _, numbers in here] == [[2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]
    assert {pid for pid, _ in here} == {os.getpid()}


def test_the_child_runs_only_a_few_batches_ahead() -> None:
    made = multiprocessing.get_context("fork").Value("i", 0)

    def counted(batch: list[SourceRow]) -> list[int]:
        with made.get_lock():
            made.value += 1
        return [row.line for row in batch]

    prepared = import_pipeline.prepared_batches(rows(100), 1, counted, parallel=True)
    assert next(prepared) == [2]
    time.sleep(1.0)  # ample time for an unbounded child to prepare all 100
    # One taken, AHEAD queued, one more made and waiting for room.
    assert made.value <= 1 + import_pipeline.AHEAD + 1
    assert list(prepared)[-1] == [101]


def test_an_error_preparing_a_batch_is_raised_in_its_turn() -> None:
    def refusing(batch: list[SourceRow]) -> list[int]:
        if batch[0].line >= 4:
            raise InvalidInput("cases.csv: no column for reference")
        return [row.line for row in batch]

    prepared = import_pipeline.prepared_batches(rows(6), 2, refusing, parallel=True)
    assert next(prepared) == [2, 3]
    with pytest.raises(InvalidInput, match="no column for reference"):
        next(prepared)


def test_a_child_that_dies_is_reported_not_waited_for() -> None:
    def dying(batch: list[SourceRow]) -> Any:
        if batch[0].line >= 4:
            time.sleep(0.5)  # the first batch reaches the pipe before the crash
            os._exit(3)
        return [row.line for row in batch]

    prepared = import_pipeline.prepared_batches(rows(6), 2, dying, parallel=True)
    assert next(prepared) == [2, 3]
    with pytest.raises(FieldcaseError, match=r"stopped \(exit code 3\)"):
        next(prepared)


def test_a_closed_reader_stops_its_child() -> None:
    prepared = import_pipeline.prepared_batches(rows(1000), 1, lines, parallel=True)
    next(prepared)
    assert [p.name for p in multiprocessing.active_children()] == ["fieldcase-read"]
    prepared.close()  # as an import does when writing a batch fails
    assert multiprocessing.active_children() == []
