"""The docs show real output: run every console block of a walk-through and compare."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUNDLED_PLUGINS

DOCS = Path(__file__).parent.parent / "docs"
DATA = Path(__file__).parent / "data"
MARK = "<<<fieldcase-guide-step>>>"

#: Each walk-through: its file, the fewest steps it may have, and whether it starts
#: in a directory holding copies of the sample files of tests/data.
WALKS = [
    pytest.param("guide.md", 30, True, id="guide.md"),
    pytest.param("import-export.md", 30, True, id="import-export.md"),
    pytest.param("offers.md", 40, False, id="offers.md"),
    pytest.param("compliance.md", 40, False, id="compliance.md"),
    pytest.param("reports.md", 6, False, id="reports.md"),
    pytest.param("operations.md", 25, False, id="operations.md"),
    pytest.param("institutions.md", 20, False, id="institutions.md"),
    pytest.param("plugins.md", 20, False, id="plugins.md"),
]


BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)

#: ``fieldcase`` as the walk-throughs run it: each command's --at taken as the real
#: time, so that their output is the same whatever day the tests run (an office
#: runs the real command, which checks --at against the machine's clock), and
#: events' salts and field packs' ids drawn from a seed.
STORY_FIELDCASE = f"""#!{sys.executable}
import random
import sys
import types
import uuid

import fieldcase.clock
import fieldcase.commitments

fieldcase.clock.real_clock = None
# Salts from a seed, so that the seals the walk-throughs print stay the same.
fieldcase.commitments.new_salt = lambda rng=random.Random(7): f"{{rng.getrandbits(128):032x}}"
# A field pack's id from its command line, so that the ids the walk-throughs print stay
# the same, and two packs of one walk-through have two ids.
import fieldcase.offline

pack_ids = random.Random(" ".join(sys.argv[1:]))
fieldcase.offline.uuid = types.SimpleNamespace(
    uuid4=lambda: uuid.UUID(int=pack_ids.getrandbits(128), version=4)
)
from fieldcase.cli import cli

cli()
"""


def steps(text: str) -> list[tuple[str, str]]:
    """(command, expected output) for every ``$ `` line of every console block."""
    found: list[tuple[str, str]] = []
    for block in BLOCK.findall(text):
        found.extend(block_steps(block))
    return found


def block_steps(block: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    command: list[str] = []
    output: list[str] = []
    for line in block.splitlines():
        if line.startswith("$ ") and not (command and command[-1].endswith("\\")):
            if command:
                found.append(("\n".join(command), "\n".join(output)))
            command, output = [line[2:]], []
        elif command and command[-1].endswith("\\") and not output:
            command.append(line)
        else:
            output.append(line)
    if command:
        found.append(("\n".join(command), "\n".join(output)))
    return found


def normalise(text: str) -> str:
    # Tables are aligned to their content, and trailing spaces carry no meaning.
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def rewrite(text: str, outputs: list[str]) -> str:
    """The document with each step's output replaced by ``outputs``, in order."""
    remaining = iter(outputs)

    def block(match: re.Match[str]) -> str:
        parts = []
        for command, _ in block_steps(match.group(1)):
            parts.append(f"$ {command}")
            output = normalise(next(remaining))
            if output:
                parts.append(output)
        return "```console\n" + "\n".join(parts) + "\n```"

    return BLOCK.sub(block, text)


@pytest.mark.bundled_plugins
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("name", "min_steps", "with_data"), WALKS)
def test_doc_output_is_real(tmp_path: Path, name: str, min_steps: int, with_data: bool) -> None:
    """Set FIELDCASE_UPDATE_GUIDE=1 to rewrite the document with today's output instead."""
    doc = DOCS / name
    text = doc.read_text(encoding="utf-8")
    walk = steps(text)
    assert len(walk) > min_steps, f"{name} lost its walk-through"
    if with_data:
        for sample in DATA.iterdir():
            if sample.is_file():
                shutil.copy(sample, tmp_path / sample.name)
    # Each step keeps the previous step's exit status, so "echo $?" shows it.
    script = "status=0\n" + "\n".join(
        f"echo '{MARK}'\n(exit $status)\n{command} 2>&1\nstatus=$?" for command, _ in walk
    )
    story = tmp_path / ".story-bin"
    story.mkdir()
    (story / "fieldcase").write_text(STORY_FIELDCASE, encoding="utf-8")
    (story / "fieldcase").chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FIELDCASE_")},
        "PATH": os.pathsep.join([str(story), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "COLUMNS": "120",
        # The docs show the bundled plugins, whatever else is installed here.
        "FIELDCASE_LOAD_PLUGINS": ",".join(BUNDLED_PLUGINS),
    }
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    outputs = result.stdout.split(MARK + "\n")[1:]
    assert len(outputs) == len(walk), result.stderr
    if os.environ.get("FIELDCASE_UPDATE_GUIDE"):
        doc.write_text(rewrite(text, outputs), encoding="utf-8")
        pytest.skip(f"{name} rewritten; check the diff")
    for (command, expected), actual in zip(walk, outputs, strict=True):
        assert normalise(actual) == normalise(expected), f"{name}: $ {command}"
