"""What the Kafka tests of the local platform share: traffic posted to the ingest service
(what was acknowledged, what refused), the ids the warehouse holds, and the keys a cluster
holds, read from the start."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from loadtest.payloads import PayloadGenerator
from ops.demo.traffic import PacedTraffic
from ops.util.processes import wait_until
from tests.integration.conftest import RunningPlatform

TOPICS = {"financial_transaction": "raw_financial_transactions", "insurance_claim": "raw_insurance_claims"}
KEYS = {"financial_transaction": "transaction_id", "insurance_claim": "claim_id"}
TABLES = {"financial_transaction": "financial_transactions", "insurance_claim": "insurance_claims"}


class Traffic(PacedTraffic):
    """Bursts of records posted to the ingest service from a few threads (`send`): which
    were answered 2xx (acknowledged), and which otherwise (refused, by status), by id."""

    def __init__(self, platform: RunningPlatform, name: str) -> None:
        super().__init__(platform.ingest_url, PayloadGenerator(name, seed=7), rate=1.0)

    def send(self, count: int, threads: int = 4) -> None:
        with (
            httpx.Client(base_url=self.base_url, timeout=20) as client,
            ThreadPoolExecutor(max_workers=threads) as pool,
        ):
            list(pool.map(lambda i: self.send_one(client, i), range(count)))


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


class SteadyTraffic(PacedTraffic):
    """The product's paced traffic (ops/demo/traffic.py) against a test's platform: records
    at about `rate` a second until `stop()` or `limit` seconds."""

    def __init__(self, platform: RunningPlatform, name: str, rate: float = 50, limit: float = 180) -> None:
        super().__init__(platform.ingest_url, PayloadGenerator(name, seed=7), rate, limit=limit)
