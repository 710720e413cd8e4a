"""Tests that keep the documentation honest."""

from __future__ import annotations

import inspect
import re

import click
import pytest
from click.testing import CliRunner
from conftest import BUNDLED_PLUGINS, ROOT
from fieldcase import hookspecs
from fieldcase.cli import command_line
from fieldcase.testing import plugin_scope

# The commands of fieldcase and of its bundled plugins: those the docs describe,
# whatever else is installed here.
with plugin_scope() as scope:
    BUNDLED_CLI = command_line(scope.only(*BUNDLED_PLUGINS))
HOOKS = sorted(
    name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "fieldcase_spec")
)


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


def test_hookspecs_are_found() -> None:
    assert "check_action" in HOOKS and "case_event" in HOOKS and len(HOOKS) >= 11


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### (\w+)", text, re.MULTILINE))
    assert hook in headings, f"docs/plugins.md has no '### {hook}' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspecs_have_docstrings(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip()


@pytest.mark.parametrize("path", all_commands(BUNDLED_CLI), ids=" ".join)
def test_commands_have_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(BUNDLED_CLI, [*path, "--help"])
    assert result.exit_code == 0
    command: click.Command = BUNDLED_CLI
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    if isinstance(command, click.Group) and path != ("staff",):
        return  # groups list their commands; each command carries the example
    assert "Example" in result.output, f"fieldcase {' '.join(path)} --help shows no example"


@pytest.mark.parametrize("path", all_commands(BUNDLED_CLI), ids=" ".join)
def test_commands_are_in_the_docs(path: tuple[str, ...]) -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    text = "\n".join(p.read_text(encoding="utf-8") for p in docs)
    # "fieldcase [global options] staff add", as a user would type it.
    pattern = r"fieldcase (?:--?[\w-]+(?: (?!-)\S+)? )*" + r" ".join(map(re.escape, path))
    assert re.search(pattern, text), f"no example of 'fieldcase {' '.join(path)}' in the docs"


def test_readme_gives_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _public_names(cls: type) -> set[str]:
    """The fields, properties and public methods a plugin may use."""
    import attrs

    names = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property | staticmethod) or callable(value):
            names.add(name)
    if not attrs.has(cls):  # a plain class: its instance attributes set in __init__
        names |= {n for n in re.findall(r"self\.(\w+) =", inspect.getsource(vars(cls)["__init__"]))}
    return {n for n in names if not n.startswith("_")}


def _documented(section: str) -> set[str]:
    """The names in the first column of a reference table (`a`, `b` or `m(args)`)."""
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names |= set(re.findall(r"`(\w+)", first))
    return names


@pytest.mark.parametrize(
    "path",
    [
        "fieldcase.model.Case",
        "fieldcase.model.Borrower",
        "fieldcase.model.Visit",
        "fieldcase.model.ContactAttempt",
        "fieldcase.model.OutgoingMessage",
        "fieldcase.model.ContactDetail",
        "fieldcase.model.Feedback",
        "fieldcase.model.Offer",
        "fieldcase.model.ScheduledPayment",
        "fieldcase.model.Promise",
        "fieldcase.repayment.PromiseStatus",
        "fieldcase.model.Payment",
        "fieldcase.model.Dispute",
        "fieldcase.model.Evidence",
        "fieldcase.model.Hardship",
        "fieldcase.model.Complaint",
        "fieldcase.model.CreditCorrection",
        "fieldcase.model.Inquiry",
        "fieldcase.model.Attachment",
        "fieldcase.model.CheckIn",
        "fieldcase.model.Review",
        "fieldcase.model.EventCorrection",
        "fieldcase.repayment.Balance",
        "fieldcase.model.Event",
        "fieldcase.model.Staff",
        "fieldcase.model.Institution",
        "fieldcase.model.ActionContext",
        "fieldcase.reports.ReportFilter",
        "fieldcase.reader.Reader",
        "fieldcase.commands.CommandContext",
        "fieldcase.visit_report.VisitReport",
        "fieldcase.visit_report.ReportCase",
        "fieldcase.visit_report.ReportBorrower",
        "fieldcase.visit_report.ReportVisit",
        "fieldcase.visit_report.ReportCheckIn",
        "fieldcase.visit_report.ReportAttachment",
        "fieldcase.visit_report.ReportOffer",
        "fieldcase.visit_report.ReportFeedback",
        "fieldcase.visit_report.ReportEvent",
    ],
)
def test_the_data_reference_matches_the_code(path: str) -> None:
    """docs/plugins.md's Data reference documents every public field, and no other."""
    import importlib

    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    reference = text.split("## Data reference", 1)[1]
    match = re.search(rf"^#### {name}\n(.*?)(?=^#### |\Z)", reference, re.MULTILINE | re.DOTALL)
    assert match, f"docs/plugins.md's Data reference has no '#### {name}' section"
    documented = _documented(match.group(1))
    public = _public_names(cls)
    assert not public - documented, f"{name}: undocumented {sorted(public - documented)}"
    assert not documented - public, f"{name}: documented but gone {sorted(documented - public)}"


def test_the_examples_of_testing_a_plugin_are_tests_that_run() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("### Testing a plugin\n")[1].split("\n## ")[0]
    examples = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    tests = [*ROOT.glob("tests/test_*.py"), *ROOT.glob("plugins/*/tests/test_*.py")]
    files = {path.read_text(encoding="utf-8"): path for path in tests}
    assert len(examples) >= 3
    for example in examples:
        assert example in files, f"no test file is, in full, the example:\n{example[:300]}"
