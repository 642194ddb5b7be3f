"""What each cluster holds of what was produced where, read from the records themselves:
the platform's producers mark each record with the cluster it was produced to (its origin
header) and their own id and sequence number (ops.contracts).

- `last_replicated`: per partition of a cluster, its last record that came from another.
- `origin_lag`: how many records produced on one cluster the other does not hold yet, per
  topic. Exact where counting records is not: a replicator restarted uncleanly copies some
  records twice, and a cluster holds records of both origins after a failover.
- `keys_since`, `keys_at`: the keys on a cluster after given offsets, or at given positions.

With the ingest service's acknowledgement log (ops/local/ingest/acks.py) they give an
unplanned failover's stranded records: acknowledged on the primary, never replicated."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from ops.contracts import PRODUCER_HEADER, SEQUENCE_HEADER, origin_header
from ops.errors import OpsError
from ops.local.kafka import admin_settings

READ_TIMEOUT = 10.0
WINDOW = 500  # records read at a time, backwards from a partition's end

Position = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class LastReplicated:
    producer: str
    sequence: int
    offset: int  # on the DR cluster


def _consumer(bootstrap: str) -> Consumer:
    settings = admin_settings(bootstrap, READ_TIMEOUT)
    # No group (offsets are never committed); a fetch answers at once, not after the
    # broker's default 500 ms wait for more data: partitions are read one after another.
    settings.update({"group.id": "ops-provenance", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    return Consumer(settings)


def _read(consumer: Consumer, position: Position, start: int, end: int) -> list[Message]:
    """The records of one partition in [start, end)."""
    consumer.assign([TopicPartition(position[0], position[1], start)])
    found: list[Message] = []
    misses = 0
    while start + len(found) < end and misses < 3:
        batch = consumer.consume(num_messages=min(WINDOW, end - start), timeout=READ_TIMEOUT / 3)
        good = [m for m in batch if m.error() is None]
        misses = 0 if good else misses + 1
        found.extend(good)
    if start + len(found) < end:
        raise OpsError(f"reading {position[0]}[{position[1]}] from offset {start} timed out")
    return found


def _headers(message: Message) -> list[tuple[str, Any]]:
    """A record's headers as (key, value) pairs (the stubs type them loosely)."""
    return list(cast(list[tuple[str, Any]], message.headers() or []))


def _header(message: Message, name: str) -> str | None:
    for key, value in _headers(message):
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _watermarks(consumer: Consumer, position: Position) -> tuple[int, int]:
    low, high = consumer.get_watermark_offsets(TopicPartition(*position), timeout=READ_TIMEOUT)
    return int(low), int(high)


def partitions_of(bootstrap: str, topics: Iterable[str]) -> list[Position]:
    consumer = _consumer(bootstrap)
    try:
        metadata = consumer.list_topics(timeout=READ_TIMEOUT).topics
        return [(t, p) for t in topics if t in metadata for p in sorted(metadata[t].partitions)]
    except KafkaException as error:
        raise OpsError(f"reading the topics on {bootstrap} failed: {error}") from error
    finally:
        consumer.close()


def last_replicated(
    bootstrap: str, topics: Iterable[str], source: str
) -> dict[Position, LastReplicated | None]:
    """Per partition of the cluster at `bootstrap`: its last record produced on `source`
    (marked with its origin header), or None when it has none."""
    mark = origin_header(source)
    consumer = _consumer(bootstrap)
    found: dict[Position, LastReplicated | None] = {}
    try:
        for position in partitions_of(bootstrap, topics):
            low, end = _watermarks(consumer, position)
            found[position] = None
            while end > low and found[position] is None:
                start = max(low, end - WINDOW)
                for message in reversed(_read(consumer, position, start, end)):
                    if any(key == mark for key, _ in _headers(message)):
                        producer, sequence = (
                            _header(message, PRODUCER_HEADER),
                            _header(message, SEQUENCE_HEADER),
                        )
                        if producer and sequence:
                            found[position] = LastReplicated(
                                producer, int(sequence), int(message.offset() or 0)
                            )
                            break
                end = start
        return found
    finally:
        consumer.close()


def _is(message: Message, producer: str, sequence: int) -> bool:
    return _header(message, PRODUCER_HEADER) == producer and _header(message, SEQUENCE_HEADER) == str(
        sequence
    )


def origin_lag(
    source_bootstrap: str, target_bootstrap: str, topics: Iterable[str], source: str
) -> dict[str, int]:
    """Per topic: the records produced on `source` (the cluster at `source_bootstrap`)
    that come after, in their partition, the last one the target holds: what the
    replicator source -> target has still to copy (identical topic names)."""
    topics = list(topics)
    copied = last_replicated(target_bootstrap, topics, source)
    mark = origin_header(source)
    lag = dict.fromkeys(topics, 0)
    consumer = _consumer(source_bootstrap)
    try:
        for position in partitions_of(source_bootstrap, topics):
            last = copied.get(position)
            low, end = _watermarks(consumer, position)
            behind, found = 0, False
            while end > low and not found:
                start = max(low, end - WINDOW)
                for message in reversed(_read(consumer, position, start, end)):
                    if last is not None and _is(message, last.producer, last.sequence):
                        found = True
                        break
                    if any(key == mark for key, _ in _headers(message)):
                        behind += 1
                end = start
            lag[position[0]] += behind
        return lag
    finally:
        consumer.close()


def end_offsets_of(bootstrap: str, topics: Iterable[str]) -> dict[Position, int]:
    consumer = _consumer(bootstrap)
    try:
        return {position: _watermarks(consumer, position)[1] for position in partitions_of(bootstrap, topics)}
    finally:
        consumer.close()


def keys_since(bootstrap: str, starts: dict[Position, int]) -> set[str]:
    """Every key on the cluster after the given offsets (to each partition's end now)."""
    consumer = _consumer(bootstrap)
    keys: set[str] = set()
    try:
        for position, start in starts.items():
            _, end = _watermarks(consumer, position)
            if end > start:
                keys.update((m.key() or b"").decode() for m in _read(consumer, position, start, end))
        return keys
    finally:
        consumer.close()


def keys_at(bootstrap: str, positions: dict[Position, list[int]]) -> dict[tuple[str, int, int], str]:
    """The key of the record at each (topic, partition, offset) given, where there is one."""
    consumer = _consumer(bootstrap)
    found: dict[tuple[str, int, int], str] = {}
    try:
        for position, offsets in positions.items():
            if not offsets:
                continue
            low, end = _watermarks(consumer, position)
            start, stop = max(low, min(offsets)), min(end, max(offsets) + 1)
            if stop <= start:
                continue
            for message in _read(consumer, position, start, stop):
                offset = int(message.offset() or 0)
                found[(position[0], position[1], offset)] = (message.key() or b"").decode()
        return found
    finally:
        consumer.close()
