"""The demo portfolio, and optimistic concurrency on cases."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from conftest import Run
from fieldcase.cli import cli
from fieldcase.errors import StaleCase
from fieldcase.services import Services


def build(path: Path) -> str:
    result = CliRunner().invoke(cli, ["--db", str(path), "demo", "--cases", "50"])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_is_deterministic_and_complete(tmp_path: Path) -> None:
    output = build(tmp_path / "a.db")
    build(tmp_path / "b.db")
    a, b = sqlite3.connect(tmp_path / "a.db"), sqlite3.connect(tmp_path / "b.db")
    for table in ("cases", "visits", "events"):
        assert (
            a.execute(f"SELECT * FROM {table}").fetchall()
            == b.execute(f"SELECT * FROM {table}").fetchall()
        )
    institutions = {r[0] for r in a.execute("SELECT institution FROM cases")}
    assert len(institutions) == 5
    zones = {r[0] for r in a.execute("SELECT timezone FROM cases")}
    assert {"Asia/Shanghai", "America/New_York", "Asia/Kolkata"} <= zones
    closed = a.execute("SELECT count(*) FROM cases WHERE resolution = 'restructured'").fetchone()
    assert closed[0] == 6
    names = [r[0] for r in a.execute("SELECT borrower_name FROM cases")]
    assert any("\u4e00" <= ch <= "\u9fff" for n in names for ch in n)  # Chinese names
    assert any(n.isascii() for n in names)
    # A plugin refusal is part of the story, and the log verifies.
    assert a.execute("SELECT count(*) FROM events WHERE type = 'refused'").fetchone()[0] >= 1
    assert "Worklist of li.na" in output and "case_closed" in output
    verify = CliRunner().invoke(cli, ["--db", str(tmp_path / "a.db"), "audit", "verify"])
    assert verify.exit_code == 0


def test_demo_refuses_to_overwrite_without_replace(tmp_path: Path) -> None:
    build(tmp_path / "a.db")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "a.db"), "demo"])
    assert result.exit_code == 1
    assert "pass --replace" in result.output
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "a.db"), "demo", "--replace", "--cases", "20"]
    )
    assert result.exit_code == 0
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 20


def test_stale_write_is_refused_not_merged(office: Run, services: Services) -> None:
    at = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    stale = services.get_case(1)
    services.record_contact(
        1, actor="li.na", at=at, channel="sms", target="borrower", outcome="left-message"
    )
    with pytest.raises(StaleCase, match="changed by someone else"):
        services.store.commit(
            "address_confirmed",
            actor="li.na",
            at=at,
            records=[attrs.evolve(stale, version=stale.version + 1, confirmed_address="x")],
            case_id=stale.id,
            expected_version=stale.version,
        )
    fresh = services.get_case(1)
    assert fresh.confirmed_address is None
    assert fresh.version == stale.version + 1
