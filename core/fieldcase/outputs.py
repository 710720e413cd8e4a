"""Where fieldcase writes files: one guard for every output path.

Exports, backups, rejects files and charts are written to paths the person
names. None of them may land on the database or its side files (``-wal``,
``-shm``, ``-journal``: writing there loses committed work or corrupts the
file), through a symbolic link (which could point at the database, or at
anything), or over an existing file unless the person said ``--replace``.
Files are first written beside the target, created exclusively, and renamed
into place once whole (:func:`written_whole`).

When the disk refuses a write (full, at a file size limit, read-only,
failing), :func:`disk_refusal` says so in words a person can act on, for the
database and for these files alike.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidInput, WriteRefused

#: The database's own file and the files SQLite keeps beside it.
SIDE_FILES = ("", "-wal", "-shm", "-journal")


def check_output(path: Path, database: str | Path, *, option: str, replace: bool) -> Path:
    """``path`` if fieldcase may write there, else :class:`InvalidInput` saying why."""
    if not path.name or path.name in (".", ".."):
        raise InvalidInput(f"{option}: give a file name, e.g. {option} report.csv")
    # The file and the one written beside it first must both be names the disk takes.
    size = len(os.fsencode(path.name))
    room = _name_max(path.parent) - (len(os.fsencode(partial_path(path).name)) - size)
    if size > room:
        raise InvalidInput(
            f"{option}: the name is too long for this disk ({size} bytes; at most {room}, "
            "as fieldcase writes a working copy beside it first); name a shorter file"
        )
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


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, the folder's file system takes (255 if unknown)."""
    try:
        return os.pathconf(folder if folder.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


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


def discard(partial: Path) -> None:
    """Remove a partial file and whatever SQLite left beside it (a hot ``-journal``...)."""
    for suffix in SIDE_FILES:
        Path(f"{partial}{suffix}").unlink(missing_ok=True)


@contextmanager
def written_whole(target: Path, *, again: str) -> Iterator[Path]:
    """The partial path to write ``target`` at; renamed onto ``target`` once the block ends.

    On any error the partial file is removed and ``target`` is left as it was.
    A disk that refuses the write becomes :class:`WriteRefused` naming
    ``target``, what to do, then ``again`` (``"run backup again"``).
    """
    partial = partial_path(target)
    try:
        create_exclusive(partial).close()  # ours, new, and not through a link
        yield partial
        partial.replace(target)
    except (OSError, WriteRefused) as exc:
        # The database's own refusals (raised by the store, naming it) pass as they are.
        ours = isinstance(exc, OSError) or exc.path == str(partial)
        refusal = disk_refusal(exc) if ours else None
        if refusal is None:
            raise
        reason, remedy = refusal
        raise WriteRefused(
            f"{reason} writing {target}: {remedy} and {again}; nothing was replaced",
            path=target,
            reason=reason,
            remedy=remedy,
        ) from None
    finally:
        discard(partial)


#: What the disk says, for each ``errno`` of a refused write: (reason, what to do).
_OS_REFUSALS = {
    errno.ENOSPC: ("the disk is full", "free space"),
    errno.EFBIG: (
        "the file reached the largest size allowed (File too large)",
        "free space or raise the limit",
    ),
    errno.EROFS: ("the disk is read-only", "write to a writable disk"),
}
if hasattr(errno, "EDQUOT"):  # not on every system
    _OS_REFUSALS[errno.EDQUOT] = ("the disk quota is used up", "free space")

#: The same for SQLite's primary result codes; an I/O error is most often a full disk.
_SQLITE_REFUSALS = {
    sqlite3.SQLITE_FULL: ("the disk is full", "free space"),
    sqlite3.SQLITE_IOERR: (
        "the disk refused the write (disk I/O error: it is full, the file is at its size "
        "limit, or the disk is failing)",
        "free space or check the disk",
    ),
}


def sqlite_result_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code of ``exc`` (``SQLITE_FULL``, ``SQLITE_READONLY``...)."""
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


def disk_refusal(exc: BaseException) -> tuple[str, str] | None:
    """(what the disk refused, what to do) if ``exc`` is a write the disk refused, else None."""
    if isinstance(exc, WriteRefused):
        return exc.reason, exc.remedy
    if isinstance(exc, OSError):
        return _OS_REFUSALS.get(exc.errno or 0)
    if isinstance(exc, sqlite3.Error):
        return _SQLITE_REFUSALS.get(sqlite_result_code(exc))
    return None
