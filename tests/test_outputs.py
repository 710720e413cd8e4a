"""Every output path is guarded the same way (issue 13, item 2)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import AT, Run, snapshot, to_submitted


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_nothing_is_written_onto_the_databases_side_files(
    office: Run, db_path: Path, suffix: str
) -> None:
    side = Path(f"{db_path}{suffix}")
    before = snapshot(db_path)
    for args in (
        ["backup", str(side), "--replace", *AT],
        ["export", "visits", "-o", str(side), "--replace", *AT],
        ["report", "pipeline", "--chart", str(side), "--replace"],
    ):
        result = office(*args, as_="chen.wei")
        assert result.exit_code == 2, (args, result.output)
        assert "is the database" in result.output and "side files" in result.output
    assert snapshot(db_path) == before
    assert office("audit", "verify").exit_code == 0


def test_no_output_goes_through_a_symbolic_link(office: Run, db_path: Path, tmp_path: Path) -> None:
    link = tmp_path / "chart.png"
    link.symlink_to(db_path)
    before = digest(db_path)
    for args in (
        ["report", "pipeline", "--chart", str(link), "--replace"],
        ["export", "visits", "-o", str(link), "--replace", *AT],
        ["backup", str(link), "--replace", *AT],
    ):
        result = office(*args, as_="chen.wei")
        assert result.exit_code == 2 and "symbolic link" in result.output, args
    assert digest(db_path) == before


def test_an_existing_file_is_overwritten_only_with_replace(office: Run, tmp_path: Path) -> None:
    to_submitted(office)
    target = tmp_path / "visits.csv"
    target.write_text("yesterday's export, not to be lost\n")
    kept = office("export", "visits", "-o", str(target), *AT, as_="chen.wei")
    assert kept.exit_code == 2 and "pass --replace" in kept.stderr
    assert target.read_text() == "yesterday's export, not to be lost\n"
    done = office("export", "visits", "-o", str(target), "--replace", *AT, as_="chen.wei")
    assert done.exit_code == 0, done.output
    assert target.read_text().startswith("visit_id,")
    assert not list(tmp_path.glob("*.partial*"))


def test_rejects_never_go_onto_the_database(office: Run, db_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "cases.csv"
    source.write_text("reference,borrower_name,principal,overdue_amount\nR-1,,10,5\n")
    result = office(
        "import",
        str(source),
        "--institution",
        "hx-consumer",
        "--rejects",
        f"{db_path}-journal",
        *AT,
        as_="chen.wei",
    )
    assert result.exit_code == 2 and "side files" in result.output
    assert not Path(f"{db_path}-journal").exists()


@pytest.mark.parametrize("length", [250, 300])
def test_a_name_too_long_for_the_disk_is_refused_before_anything_is_written(
    office: Run, db_path: Path, tmp_path: Path, length: int
) -> None:
    """At 300 characters the name itself is too long; at 250, the file written beside it."""
    target = tmp_path / ("a" * length + ".png")
    before = snapshot(db_path)
    for args in (
        ("report", "compliance", "--chart", str(target)),
        ("export", "visits", "-o", str(target).removesuffix(".png") + ".csv", *AT),
        ("backup", str(target).removesuffix(".png") + ".db", *AT),
    ):
        result = office(*args, as_="chen.wei")
        assert result.exit_code == 2, (args, result.output)
        assert "name is too long" in result.output and "Traceback" not in result.output
    assert snapshot(db_path) == before
    assert list(tmp_path.glob("*aaaa*")) == []


def test_an_empty_output_name_is_a_usage_error(office: Run, db_path: Path) -> None:
    """``--chart ''`` named the current folder, and crashed working out its side file."""
    before = snapshot(db_path)
    for args in (
        ("report", "compliance", "--chart", ""),
        ("export", "visits", "-o", "", *AT),
        ("export", "corrections", "-o", "", *AT),
    ):
        result = office(*args, as_="chen.wei")
        assert result.exit_code == 2, (args, result.output)
        assert "give a file name" in result.output and "Traceback" not in result.output
    assert snapshot(db_path) == before
