"""Where fieldcase writes files: one guard for every output path.

Exports, backups, rejects files and charts are written to paths the person
names. None of them may land on the database or its side files (``-wal``,
``-shm``, ``-journal``: writing there loses committed work or corrupts the
file), through a symbolic link (which could point at the database, or at
anything), or over an existing file unless the person said ``--replace``.
Files are first written beside the target, created exclusively, and renamed
into place once whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidInput

#: The database's own file and the files SQLite keeps beside it.
SIDE_FILES = ("", "-wal", "-shm", "-journal")


def check_output(path: Path, database: str | Path, *, option: str, replace: bool) -> Path:
    """``path`` if fieldcase may write there, else :class:`InvalidInput` saying why."""
    if path.is_symlink():
        raise InvalidInput(f"{option} {path} is a symbolic link; name the file itself")
    if str(database) != ":memory:":
        protected = {Path(f"{database}{suffix}").resolve() for suffix in SIDE_FILES}
        if path.resolve() in protected:
            raise InvalidInput(
                f"{option} {path} is the database {database} or one of its side files "
                "(-wal, -shm, -journal); name another file"
            )
    if not path.parent.is_dir():
        raise InvalidInput(f"{option}: folder {path.parent} does not exist")
    if path.is_dir():
        raise InvalidInput(f"{option} {path} is a folder; name a file")
    if path.exists() and not replace:
        raise InvalidInput(f"{option} {path} exists; pass --replace to overwrite it")
    return path


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before it is whole: beside it, with its suffix kept."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def create_exclusive(path: Path) -> BinaryIO:
    """A new file opened for writing: never an existing one, never through a link.

    A leftover of an interrupted run (a plain file or a link) is removed first;
    removing a link removes the link, not what it points at.
    """
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")
