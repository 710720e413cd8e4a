"""Custom case attributes: declared by policy, imported, shown, filtered, carried in events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Run, events, set_policy, snapshot
from fieldcase import hookimpl
from fieldcase.plugins import manager

#: Each test runs on a SQLite file and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_stores

AT = ("--at", "2026-11-23T09:00+08:00")

FILE = """\
loan_no,name,principal,overdue,since,网点,score
HB-1,Dana Reyes,8000,900,2026-09-01,Harbor-East,640
HB-2,Sam Lee,5000,500,2026-09-02,Harbor-West,
HB-3,Ana Cruz,7000,300,2026-09-03,Harbor-East,not-a-number
"""

MAPPING = """\
[columns]
loan_no = "reference"
name = "borrower_name"
principal = "principal"
overdue = "overdue_amount"
since = "overdue_since"
"网点" = "attributes.branch"
score = "attributes.score"
"""


def files(tmp_path: Path, text: str = FILE) -> tuple[Path, Path]:
    (tmp_path / "cases.csv").write_text(text, encoding="utf-8")
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    return tmp_path / "cases.csv", tmp_path / "map.toml"


def do_import(office: Run, path: Path, mapping: Path) -> dict[str, object]:
    result = office(
        "import", str(path), "--institution", "hx-consumer", "--mapping", str(mapping),
        "--json", *AT, as_="chen.wei",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def declare(office: Run) -> None:
    set_policy(office, "hx-consumer", 'attributes.branch="text"', 'attributes.score="integer"')


def test_a_policy_declares_attributes_and_refuses_bad_declarations(office: Run) -> None:
    bad_kind = office(
        "institution", "policy", "hx-consumer", "--set", 'attributes.branch="colour"',
        as_="chen.wei",
    )  # fmt: skip
    assert bad_kind.exit_code != 0
    assert "must be one of text, integer, decimal, date" in bad_kind.output
    bad_name = office(
        "institution", "policy", "hx-consumer", "--set", 'attributes.Branch-1="text"',
        as_="chen.wei",
    )  # fmt: skip
    assert bad_name.exit_code != 0 and "lower-case letters" in bad_name.output
    declare(office)
    keys = office("institution", "keys").output
    assert "attributes.<name>" in keys


def test_imported_attributes_are_kept_shown_filtered_and_replayed(
    office: Run, tmp_path: Path, target: str
) -> None:
    declare(office)
    path, mapping = files(tmp_path)
    summary = do_import(office, path, mapping)
    # The third row's score is not a whole number: that row is rejected, with why.
    assert summary["imported"] == 2 and summary["rejected"] == 1
    rejects = (tmp_path / "cases.rejects.csv").read_text(encoding="utf-8")
    assert "attribute score = 'not-a-number' must be a whole number" in rejects

    shown = json.loads(office("show", "hx-consumer/HB-1", "--json", as_="chen.wei").output)
    assert shown["attributes"] == {"branch": "Harbor-East", "score": "640"}
    assert (
        "Attributes: branch=Harbor-East  score=640"
        in office("show", "hx-consumer/HB-1", as_="chen.wei").output
    )
    # An empty cell is no value.
    second = json.loads(office("show", "hx-consumer/HB-2", "--json", as_="chen.wei").output)
    assert second["attributes"] == {"branch": "Harbor-West"}

    found = json.loads(
        office("cases", "--where", "branch=Harbor-East", "--json", *AT, as_="chen.wei").output
    )
    assert [row["case"] for row in found] == ["hx-consumer/HB-1"]

    # The attributes travel whole in the events, and the tables replay from them.
    imported = next(e for e in events(target) if e["type"] == "case_imported")
    assert "Harbor-East" in imported["payload"]
    assert office("audit", "verify", "--replay").exit_code == 0


def test_a_changed_attribute_is_an_update_and_the_same_file_changes_nothing(
    office: Run, tmp_path: Path, target: str
) -> None:
    declare(office)
    path, mapping = files(tmp_path)
    do_import(office, path, mapping)
    before = snapshot(target)
    again = do_import(office, path, mapping)
    assert again["imported"] == 0 and again["updated"] == 0
    assert snapshot(target)["cases"] == before["cases"]

    moved = FILE.replace(
        "HB-1,Dana Reyes,8000,900,2026-09-01,Harbor-East,640",
        "HB-1,Dana Reyes,8000,900,2026-09-01,Harbor-North,640",
    )
    path, mapping = files(tmp_path, moved)
    changed = do_import(office, path, mapping)
    assert changed["updated"] == 1
    update = [e for e in events(target) if e["type"] == "case_updated"][-1]
    assert json.loads(update["payload"])["data"]["changes"] == {
        "attributes.branch": ["Harbor-East", "Harbor-North"]
    }


def test_a_file_mapping_an_undeclared_attribute_is_refused_whole(
    office: Run, tmp_path: Path, target: str
) -> None:
    set_policy(office, "hx-consumer", 'attributes.score="integer"')  # no branch
    path, mapping = files(tmp_path)
    before = snapshot(target)
    result = office(
        "import", str(path), "--institution", "hx-consumer", "--mapping", str(mapping), *AT,
        as_="chen.wei",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "attribute 'branch' is not declared by hx-consumer's policy" in result.output
    assert "--set attributes.branch=" in result.output
    assert snapshot(target)["cases"] == before["cases"]


def test_create_takes_attributes_and_checks_their_kind(office: Run) -> None:
    declare(office)
    base = (
        "create", "--institution", "hx-consumer", "--reference", "L-9", "--name", "王芳",
        "--principal", "20000", "--overdue", "100", "--overdue-since", "2026-09-15", *AT,
    )  # fmt: skip
    bad = office(*base, "--attribute", "score=high", as_="chen.wei")
    assert bad.exit_code != 0 and "attribute score = 'high' must be a whole number" in bad.output
    made = office(*base, "--attribute", "branch=Harbor-East", "--json", as_="chen.wei")
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["attributes"] == {"branch": "Harbor-East"}


class BranchFromCode:
    """A plugin mapping that reads the branch from the loan number, with the policy at hand."""

    @hookimpl
    def map_import_row(self, institution, row, settings):  # type: ignore[no-untyped-def]
        if "attributes" not in settings:
            return None
        return {
            "reference": row["loan_no"],
            "borrower_name": row["name"],
            "principal": row["principal"],
            "overdue_amount": row["overdue"],
            "overdue_since": row["since"],
            "attributes": {"branch": row["网点"].upper()},
        }


def test_map_import_row_gets_the_policy_and_may_return_attributes(
    office: Run, tmp_path: Path
) -> None:
    declare(office)
    path, mapping = files(tmp_path)
    plugin = BranchFromCode()
    manager().register(plugin, name="branch-from-code")
    try:
        summary = do_import(office, path, mapping)
    finally:
        manager().unregister(plugin)
    assert summary["imported"] == 3
    shown = json.loads(office("show", "hx-consumer/HB-3", "--json", as_="chen.wei").output)
    assert shown["attributes"] == {"branch": "HARBOR-EAST"}
