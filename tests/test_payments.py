"""Payments as the money really arrives: reported by field staff, confirmed by a
supervisor (or the bank's file), and reversed when they were wrong."""

from __future__ import annotations

import json

import pytest
from conftest import Run

T = "2026-11-23T{}+08:00"


@pytest.fixture
def owing(office: Run) -> Run:
    """Case 1, li.na's, in confirmation; its balance is the principal, CNY 20,000.00."""
    shown = json.loads(office("balance", "1", "--json", "--at", T.format("10:00")).stdout)
    assert shown["balance"]["total"] == "20000.00", shown
    return office


def balance(run: Run, at: str = T.format("18:00")) -> dict:
    return json.loads(run("balance", "1", "--json", "--at", at).stdout)


def stage(run: Run) -> tuple[str, str | None]:
    shown = json.loads(run("show", "1", "--json", as_="chen.wei").stdout)
    return shown["stage"], shown["resolution"]


def test_a_field_workers_payment_is_reported_and_does_not_close_the_case(owing: Run) -> None:
    result = owing(
        "payment", "1", "20000", "--reference", "BOC-1", "--at", T.format("10:30"), as_="li.na"
    )
    assert result.exit_code == 0, result.output
    assert "closed" not in result.stdout
    assert stage(owing) == ("confirmation", None)
    assert balance(owing)["balance"]["total"] == "20000.00"
