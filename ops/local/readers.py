"""The warehouse's readers on the local platform: as many streaming replicas of the primary
as the inventory's `readers` says, kept streaming from whichever server is the primary.

`ops local up` calls `ensure`: a reader stopped is started; one cloned from a server that
is no longer the primary (a point-in-time restore was cut over to) is cloned again from the
new one, since a copy of another database cannot stream from it. A reader is a copy: making
it again loses nothing. aurora-failover promotes one (it leaves the list then: `forget`) and
adds a new one of the new writer (`add`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ops.local.parts import PartStatus
from ops.local.postgres import LocalPostgres
from ops.local.replica import create_reader, start_reader, streaming, wait_streaming
from ops.local.state import LocalState, PlatformRecord, ReaderRecord
from ops.util.ports import free_port, port_is_free

log = logging.getLogger(__name__)


def reader_server(reader: ReaderRecord) -> LocalPostgres:
    return LocalPostgres(Path(reader.root), reader.port)


def next_reader(state: LocalState, record: PlatformRecord, port: int | None = None) -> LocalPostgres:
    """A free folder and port for a new reader (reader-1, reader-2...; never one reused:
    an old writer's folder may still hold what a failover lost). `port`: a dropped
    reader's, kept when still free (ports are not churned on a busy machine)."""
    state.readers_dir.mkdir(parents=True, exist_ok=True)
    taken = {path.name for path in state.readers_dir.iterdir()} | {r.name for r in record.readers}
    number = 1
    while f"reader-{number}" in taken:
        number += 1
    chosen = port if port is not None and port_is_free(port) else free_port()
    return LocalPostgres(state.readers_dir / f"reader-{number}", chosen)


def ensure(state: LocalState, record: PlatformRecord, primary: LocalPostgres, wanted: int) -> None:
    """`wanted` readers of `primary`, each running and streaming (changes `record`)."""
    kept: list[ReaderRecord] = []
    spare: list[int] = []  # the ports of readers dropped, for their replacements
    for reader in record.readers:
        server = reader_server(reader)
        if Path(reader.upstream) != primary.paths.root or not server.initialised() or len(kept) >= wanted:
            log.info("postgres: dropping reader %s (its primary is not the primary now)", reader.name)
            server.stop()
            shutil.rmtree(server.paths.root, ignore_errors=True)
            spare.append(reader.port)
            continue
        if not server.is_running():
            if not port_is_free(server.port):
                reader.port = free_port()
                server = reader_server(reader)
            log.info("postgres: starting reader %s on 127.0.0.1:%d", reader.name, reader.port)
            start_reader(server, primary)
        kept.append(reader)
    record.readers = kept
    while len(record.readers) < wanted:
        server = next_reader(state, record, spare.pop() if spare else None)
        log.info(
            "postgres: reader %s of %s on 127.0.0.1:%d",
            server.paths.root.name,
            primary.paths.root.name,
            server.port,
        )
        create_reader(primary, server)
        record.readers.append(ReaderRecord(str(server.paths.root), server.port, str(primary.paths.root)))
    for reader in record.readers:
        wait_streaming(primary, reader.name, timeout=60)


def stop_all(state: LocalState) -> list[str]:
    stopped = []
    if state.readers_dir.exists():
        for data in sorted(state.readers_dir.glob("*/data")):
            server = LocalPostgres(data.parent, 0)
            if server.is_running():
                server.stop()
                stopped.append(f"reader {data.parent.name}")
    return stopped


def status(record: PlatformRecord, primary: LocalPostgres) -> list[PartStatus]:
    """Each reader: running, and streaming from the primary with its lag."""
    try:
        seen = streaming(primary) if primary.is_running() else {}
    except Exception:
        seen = {}
    parts = []
    for reader in record.readers:
        server = reader_server(reader)
        running = server.is_running()
        found = seen.get(reader.name)
        if found is not None:
            detail = f"{found.state} from {primary.paths.root.name}, {found.lag_bytes} bytes behind"
        else:
            detail = "not streaming" + ("" if running else " (stopped: `ops local up` starts it)")
        healthy = running and found is not None and found.state == "streaming"
        address = f"127.0.0.1:{reader.port}"
        parts.append(
            PartStatus(
                f"postgres (reader: {reader.name})",
                running,
                healthy,
                address,
                server.server_pid() if running else None,
                detail,
            )
        )
    return parts
