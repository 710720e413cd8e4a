"""Registries of file formats: importers and exporters, filled by plugins.

Installed plugins are asked before the built-in formats, and the first to
register a name (or claim a suffix) wins: an institution's plugin may replace
``csv`` with its own dialect.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import pluggy

from .errors import InvalidInput

Reader = Callable[[Path, str], Iterator[Any]]
Writer = Callable[[Iterable[Sequence[Any]], Sequence[str], BinaryIO], None]


@attrs.frozen
class Importer:
    name: str
    read: Reader
    suffixes: tuple[str, ...] = ()
    text: bool = True


@attrs.frozen
class Exporter:
    name: str
    write: Writer
    suffix: str = ""
    description: str = ""
    binary: bool = False


def importers(pm: pluggy.PluginManager) -> dict[str, Importer]:
    found: dict[str, Importer] = {}

    def register(name: str, read: Reader, suffixes: Sequence[str] = (), text: bool = True) -> None:
        found.setdefault(name, Importer(name, read, tuple(s.lower() for s in suffixes), text))

    pm.hook.register_importers(register=register)
    return found


def exporters(pm: pluggy.PluginManager) -> dict[str, Exporter]:
    found: dict[str, Exporter] = {}

    def register(
        name: str, write: Writer, suffix: str = "", description: str = "", binary: bool = False
    ) -> None:
        found.setdefault(name, Exporter(name, write, suffix.lower(), description, binary))

    pm.hook.register_exporters(register=register)
    return found


def importer_for(pm: pluggy.PluginManager, path: Path, name: str | None) -> Importer:
    """The importer named, or the one whose suffix the file has."""
    known = importers(pm)
    if name is not None:
        if name not in known:
            raise InvalidInput(f"unknown format {name!r}; formats are {', '.join(sorted(known))}")
        return known[name]
    suffix = path.suffix.lower()
    for importer in known.values():
        if suffix in importer.suffixes:
            return importer
    raise InvalidInput(
        f"cannot tell the format of {path.name} from its suffix; pass --format "
        f"({', '.join(sorted(known))})"
    )


def exporter_for(pm: pluggy.PluginManager, name: str | None, output: Path | None) -> Exporter:
    """The exporter named; else the one whose suffix ends the output file's name; else csv.

    Suffixes may have several parts (``.harbor.json``): the longest that ends
    the file's name wins, so ``visits.harbor.json`` goes to the exporter that
    registered ``.harbor.json`` rather than to one registered for ``.json``.
    Standard output is csv unless ``--format`` names another. A file whose
    name ends in no registered suffix is refused: writing csv into
    ``visits.json`` would mislead whoever opens it.
    """
    known = exporters(pm)
    if name is None and output is not None:
        file_name = output.name.lower()
        matches = sorted(
            (e for e in known.values() if e.suffix and file_name.endswith(e.suffix.lower())),
            key=lambda e: len(e.suffix),
            reverse=True,
        )
        if not matches:
            offered = ", ".join(f"{e.name} ({e.suffix})" for e in known.values())
            raise InvalidInput(
                f"no export format writes {output.name!r}: name the file with one of the "
                f"formats' suffixes, or pass --format ({offered})"
            )
        name = matches[0].name
    name = name or "csv"
    if name not in known:
        raise InvalidInput(f"unknown format {name!r}; formats are {', '.join(sorted(known))}")
    return known[name]


#: What makes a spreadsheet read a cell as a formula (OWASP's "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Numbers, and phone numbers in E.164 form, masked or not: nothing in them can run.
_INERT = re.compile(r"^-?\d+(\.\d+)?$|^\+\d+\**\d*$")


def inert(value: Any) -> Any:
    """``value`` for a spreadsheet cell: text a spreadsheet would run gets a leading ``'``.

    As OWASP recommends for CSV: a cell starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return is prefixed with a single quote, which
    spreadsheets show as text and do not evaluate. Numbers (``-5.00``) and
    phone numbers (``+8613800138000``, ``+86*******8000``) are left as they
    are. Every exporter whose files open in a spreadsheet should pass its
    text through this.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _INERT.match(value):
        return "'" + value
    return value
