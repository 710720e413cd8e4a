"""A throwaway PostgreSQL server for the tests: started once, in a temporary folder.

It uses the server programs of Debian's ``postgresql`` package (``.ci/run``
installs it when missing): ``initdb`` and ``pg_ctl`` from ``PATH`` or
``/usr/lib/postgresql/<version>/bin``. As root, the server runs as the
``postgres`` user, which the package creates (PostgreSQL refuses to run as root).

The administrator (``fc_admin``, a superuser) logs in over the server's Unix
socket without a password; staff log in over TCP on 127.0.0.1 with their
passwords (scram-sha-256), as they would on a team's server.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from click.testing import Result
from fieldcase.testing import invoke

ADMIN = "fc_admin"


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL's server programs are not installed: apt-get install postgresql "
            "(bash .ci/run does it)"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="fieldcase-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)

    def _run(self, *args: str | Path) -> None:
        command = [str(a) for a in args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            ADMIN,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        self._run(
            self.bin / "pg_ctl",
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            self.root / "log",
            "-w",
            "start",
        )
        import psycopg

        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            conn.execute(f"ALTER ROLE {ADMIN} PASSWORD '{password_of(ADMIN)}'")

    def stop(self) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def admin_tcp_url(self, database: str) -> str:
        """The administrator over TCP, as a client on another machine connects."""
        return f"postgresql://{ADMIN}:{password_of(ADMIN)}@127.0.0.1:{self.port}/{database}"

    def admin_url(self, database: str) -> str:
        return f"postgresql://{ADMIN}@/{database}?host={self.socket_dir}&port={self.port}"

    def staff_url(self, database: str, staff: str, password: str) -> str:
        return f"postgresql://{staff}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")


def password_of(staff: str) -> str:
    """The password the tests give each staff member's login."""
    return f"pw-{staff}"


_numbers = itertools.count(1)


class PgOffice:
    """One database on the server: the administrator's URL and each staff login's."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.name = f"office_{os.getpid()}_{next(_numbers)}"
        server.create_database(self.name)
        self.admin = server.admin_url(self.name)
        #: Set by a test that forged an event on purpose: the log is then not checked.
        self.tampered = False

    def url(self, staff: str | None) -> str:
        if staff is None:
            return self.admin
        return self.server.staff_url(self.name, staff, password_of(staff))

    def run(self, *args: str, as_: str | None = None, input: str | None = None) -> Result:
        """``fieldcase ARGS`` logged in as ``as_`` (the administrator when None).

        ``staff add`` is answered with the new member's password (see ``password_of``).
        """
        if args[:2] == ("staff", "add") and input is None:
            password = password_of(args[2])
            input = f"{password}\n{password}\n"
        return invoke("--db", self.url(as_), *args, input=input)

    def psql(self, staff: str | None) -> Any:
        """A connection as ``staff`` with their own password, as ``psql`` would make."""
        import psycopg

        return psycopg.connect(self.url(staff), autocommit=True)
