"""What the Kafka tests of the local platform share: traffic posted to the ingest service
(what was acknowledged, what refused), the ids the warehouse holds, and the keys a cluster
holds, read from the start."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from loadtest.payloads import PayloadGenerator
from ops.contracts import PATHS
from ops.util.processes import wait_until
from tests.integration.conftest import RunningPlatform

TOPICS = {"financial_transaction": "raw_financial_transactions", "insurance_claim": "raw_insurance_claims"}
KEYS = {"financial_transaction": "transaction_id", "insurance_claim": "claim_id"}
TABLES = {"financial_transaction": "financial_transactions", "insurance_claim": "insurance_claims"}


class Traffic:
    """Records posted to the ingest service from a few threads: which were answered 2xx
    (acknowledged), and which were answered otherwise, by id."""

    def __init__(self, platform: RunningPlatform, name: str) -> None:
        self.url = platform.ingest_url
        self.generator = PayloadGenerator(name, seed=7)
        self.acknowledged: dict[str, str] = {}  # id -> record type
        self.refused: dict[str, int] = {}  # id -> status (0: no answer)
        self._lock = threading.Lock()

    def _one(self, client: httpx.Client, index: int) -> None:
        record_type = "financial_transaction" if index % 2 == 0 else "insurance_claim"
        payload = getattr(self.generator, record_type)()
        record_id = payload[KEYS[record_type]]
        try:
            status = client.post(PATHS[record_type], json=payload).status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            if 200 <= status < 300:
                self.acknowledged[record_id] = record_type
            else:
                self.refused[record_id] = status

    def send(self, count: int, threads: int = 4) -> None:
        with (
            httpx.Client(base_url=self.url, timeout=20) as client,
            ThreadPoolExecutor(max_workers=threads) as pool,
        ):
            list(pool.map(lambda i: self._one(client, i), range(count)))


def stored_ids(platform: RunningPlatform) -> set[str]:
    with psycopg.connect(platform.pg_conninfo) as conn:
        found: set[str] = set()
        for record_type, table in TABLES.items():
            rows = conn.execute(f"SELECT {KEYS[record_type]} FROM {table}").fetchall()
            found.update(str(row[0]) for row in rows)
        return found


def key_counts(bootstrap: str, topics: list[str], group: str) -> Counter[str]:
    """How many times each key is on the topics, read from the start by a fresh group."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        metadata = admin.list_topics(timeout=10)
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                ends[(topic, partition)] = high
        consumer.assign([TopicPartition(t, p, 0) for t, p in ends])
        keys: Counter[str] = Counter()
        positions = dict.fromkeys(ends, 0)

        def caught_up() -> bool:
            for message in consumer.consume(500, timeout=1):
                key, topic, partition, offset = (
                    message.key(),
                    message.topic(),
                    message.partition(),
                    message.offset(),
                )
                if message.error() is None and key and topic and partition is not None and offset is not None:
                    keys[key.decode()] += 1
                    positions[(topic, partition)] = offset + 1
            return all(positions[tp] >= end for tp, end in ends.items())

        wait_until(caught_up, 60, f"reading {', '.join(topics)} on {bootstrap}")
        return keys
    finally:
        consumer.close()


def keys_on(bootstrap: str, topics: list[str], group: str) -> set[str]:
    """Every key on the topics, read from the start by a fresh group."""
    return set(key_counts(bootstrap, topics, group))


class SteadyTraffic:
    """Records posted at about `rate` a second from a background thread until `stop()` or
    `limit` seconds (a bounded load), each answer kept with its moment: the longest
    stretch without an acknowledgement is the write unavailability a client saw."""

    def __init__(self, platform: RunningPlatform, name: str, rate: float = 50, limit: float = 180) -> None:
        self.traffic = Traffic(platform, name)
        self.rate = rate
        self.limit = limit
        self.acknowledged_at: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{name}", daemon=True)

    def __enter__(self) -> SteadyTraffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def acknowledged(self) -> dict[str, str]:
        return self.traffic.acknowledged

    @property
    def refused(self) -> dict[str, int]:
        return self.traffic.refused

    def longest_gap(self) -> float:
        """The longest time between two acknowledgements, in seconds."""
        moments = sorted(self.acknowledged_at)
        return max((b - a for a, b in itertools.pairwise(moments)), default=0.0)

    def _run(self) -> None:
        started = time.monotonic()
        index = 0
        with httpx.Client(base_url=self.traffic.url, timeout=20) as client:
            while not self._stop.is_set() and time.monotonic() - started < self.limit:
                before = len(self.traffic.acknowledged)
                self.traffic._one(client, index)
                if len(self.traffic.acknowledged) > before:
                    self.acknowledged_at.append(time.monotonic())
                index += 1
                # Paced from the start: a slow answer is not made up by a burst.
                self._stop.wait(max(0.0, started + index / self.rate - time.monotonic()))
