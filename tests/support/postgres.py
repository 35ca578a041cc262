"""A throwaway PostgreSQL cluster for the tests, started from Debian's binaries.

No running service is assumed: :class:`PostgresCluster` runs ``initdb`` into a temporary directory,
starts ``postgres`` listening on a unix socket in that directory alone (no TCP port: one chosen
free beforehand could be taken by another process before the cluster binds it), hands out fresh
databases, and removes everything on :meth:`stop`. PostgreSQL refuses to run as root, so as root
the binaries run as the ``postgres`` system user (``runuser``). A killed test run cannot stop its
cluster: the directory's name carries the pid of the run that made it, and the next run stops and
removes the clusters whose run is gone (:func:`remove_abandoned_clusters`).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

SKIP_ENV = "INTERSTACK_SKIP_POSTGRES"
SYSTEM_USER = "postgres"
#: a cluster's directory in the temporary directory: ``interstack-pg-<test run's pid>-<random>``
PREFIX = "interstack-pg-"
#: the port in the name of the cluster's socket (``.s.PGSQL.<port>`` in its own directory): no
#: TCP port is listened on, so every cluster may have the same
SOCKET_PORT = 5432
OWNED_NAME = re.compile(rf"{PREFIX}(\d+)-[^/]+")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries (or the system user to run them) are not there."""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl."""
    candidates = [
        Path(p).parent
        for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if Path(p).with_name("pg_ctl").exists()
    ]
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin/initdb): "
            "run 'make deps' (installs Debian's postgresql), "
            f"or set {SKIP_ENV}=1 to skip the PostgreSQL tests on this machine"
        )
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


class PostgresCluster:
    """One cluster in a temporary directory, listening on a unix socket there."""

    def __init__(self, root: Path | None = None) -> None:
        """A new cluster in a new directory; or, given its ``root``, one a dead run left."""
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                account = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"no '{SYSTEM_USER}' system user to run PostgreSQL as (PostgreSQL refuses "
                    "to run as root): run 'make deps'"
                ) from None
            self.uid, self.gid = account.pw_uid, account.pw_gid
        self.root = root or Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        self.datadir = self.root / "data"
        self.socket_dir = self.root
        self.log_file = self.root / "postgres.log"
        self.port = SOCKET_PORT
        self.user = SYSTEM_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self._names = itertools.count(1)
        self._started = root is not None and (self.datadir / "postmaster.pid").exists()
        if root is None and self.as_root:
            os.chown(self.root, self.uid, self.gid)

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log}"
            )

    def start(self) -> PostgresCluster:
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses='' -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.datadir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
        )
        self._started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return (
            f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"
        )

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if self._started:
                self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", "-w")
                self._started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_abandoned_clusters() -> list[Path]:
    """Stop and remove the clusters of test runs that died without stopping them (a killed
    pytest); only directories named as :class:`PostgresCluster` names them, and only when the
    run whose pid the name carries is gone. Returns the directories removed."""
    removed = []
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = OWNED_NAME.fullmatch(root.name)
        if owner is None or not root.is_dir() or _alive(int(owner.group(1))):
            continue
        try:
            PostgresCluster(root).stop()
        except RuntimeError:  # pg_ctl could not stop it (already gone): remove what is left
            shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed
