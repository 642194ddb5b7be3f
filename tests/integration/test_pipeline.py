"""The seed's pipeline through Kafka, every part real: records POSTed to the ingest service
(uvicorn) are produced to a KRaft broker and acknowledged only once it has them; the loader
(its own process) consumes them into PostgreSQL, at least once and each id stored once. Both
processes find the broker and the database through SSM parameters on the AWS emulator, and
follow them when a failover rewrites them."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client.parser import text_string_to_metric_families

from loadtest.payloads import PayloadGenerator
from ops.aws.clients import ClientFactory
from ops.contracts import (
    KAFKA_PARAMETER_ENV,
    PARAMETER_ENV,
    PATHS,
    PRODUCER_HEADER,
    RECORD_TYPE_HEADER,
    SEQUENCE_HEADER,
    DatabaseEndpoint,
    KafkaEndpoint,
)
from ops.local.emulator import EMULATOR_CREDENTIALS
from ops.local.ingest.publisher import TOPICS_ENV
from ops.local.kafka import BrokerSpec, LocalBroker, new_cluster_id
from ops.local.loader import GROUPS_ENV, PORT_ENV
from ops.local.postgres import SUPERUSER, LocalPostgres
from ops.util.ports import free_port
from ops.util.processes import child_environment, wait_until
from tests.integration.conftest import emulator_server

TOPICS = {"financial_transaction": "raw_financial_transactions", "insurance_claim": "raw_insurance_claims"}
GROUPS = {"glue-financial-etl": "raw_financial_transactions", "glue-claims-etl": "raw_insurance_claims"}
PARTITIONS = 3
KAFKA_PARAMETER = "/dataplat/test/events/endpoint"
DATABASE_PARAMETER = "/dataplat/test/warehouse/endpoint"
DATABASE = "warehouse"
DR_PREFIX = "primary."  # the second cluster holds the topics under a replicator's prefix
ID_COLUMNS = {"financial_transactions": "transaction_id", "insurance_claims": "claim_id"}


# --- the processes --------------------------------------------------------------------------
@dataclass
class Service:
    """A process this module started, with its log and HTTP address."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> int:
        """SIGTERM, then its exit code (SIGKILL after 30 s: a hang is a failure too)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -signal.SIGKILL

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            response = httpx.get(f"{self.url}/health", timeout=5)
        except httpx.HTTPError as error:
            return 0, {"error": type(error).__name__}
        return response.status_code, response.json()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples whose labels include `labels`."""
        text = httpx.get(f"{self.url}/metrics", timeout=5, follow_redirects=True).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )


def start_service(name: str, module_args: list[str], port: int, env: dict[str, str], folder: Path) -> Service:
    log = folder / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    service = Service(name, process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until(lambda: _up(service), 60, f"the {name}", log)
    except BaseException:
        service.stop()
        raise
    return service


def _up(service: Service) -> bool:
    if service.process.poll() is not None:
        raise AssertionError(
            f"the {service.name} exited with {service.process.returncode}; see {service.log}"
        )
    return service.health()[0] == 200


def start_broker(root: Path) -> LocalBroker:
    controller = free_port()
    broker = LocalBroker(root, BrokerSpec(1, free_port(), controller, f"1@127.0.0.1:{controller}"))
    broker.format(new_cluster_id())
    broker.start()
    return broker


def broker_answers(broker: LocalBroker) -> bool:
    try:
        AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=2)
    except KafkaException:
        return False
    return True


def ready_with_topics(broker: LocalBroker, prefix: str = "") -> None:
    wait_until(lambda: broker_answers(broker), 60, "the Kafka broker", broker.log_file)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    wanted = [
        NewTopic(f"{prefix}{t}", num_partitions=PARTITIONS, replication_factor=1) for t in TOPICS.values()
    ]
    for future in admin.create_topics(wanted).values():
        future.result(timeout=30)


def ready_with_topics_again(broker: LocalBroker) -> None:
    """A restarted broker keeps its topics: it only has to answer."""
    wait_until(lambda: broker_answers(broker), 60, "the Kafka broker again", broker.log_file)


def _following(health: tuple[int, dict[str, Any]], endpoint: KafkaEndpoint) -> bool:
    """The ingest service healthy and producing to `endpoint` (its producers not held)."""
    status, body = health
    producers = body.get("producers", {})
    return (status, body.get("kafka"), producers.get("paused")) == (200, str(endpoint), False)


@dataclass
class Pipeline:
    folder: Path
    aws: ClientFactory
    env: dict[str, str]  # the ingest service's and the loader's
    broker: LocalBroker
    endpoint: KafkaEndpoint
    postgres: LocalPostgres
    ingest: Service
    loader_port: int
    loader: Service = field(init=False)

    def start_loader(self) -> None:
        self.loader = start_service("loader", ["ops.local.loader"], self.loader_port, self.env, self.folder)

    def point_kafka_at(self, endpoint: KafkaEndpoint) -> None:
        ssm = self.aws.client("ssm")
        ssm.put_parameter(Name=KAFKA_PARAMETER, Value=endpoint.to_json(), Type="String", Overwrite=True)

    def wait_following(self, endpoint: KafkaEndpoint) -> None:
        """Until the ingest service produces to `endpoint` and every loader group reads it."""
        wait_until(
            lambda: _following(self.ingest.health(), endpoint),
            30,
            f"the ingest service following {endpoint}",
            self.ingest.log,
        )
        wait_until(
            lambda: (
                {g["kafka"] for g in self.loader.health()[1].get("groups", {}).values()} == {str(endpoint)}
            ),
            30,
            f"the loader following {endpoint}",
            self.loader.log,
        )


@pytest.fixture(scope="module")
def pipeline(short_tmp: Path) -> Iterator[Pipeline]:
    folder = Path(tempfile.mkdtemp(prefix="pipe-", dir=short_tmp))
    with contextlib.ExitStack() as stack:
        broker = start_broker(folder / "broker-a")  # the JVM starts while the rest does
        stack.callback(broker.stop)
        aws, emulator_env = stack.enter_context(emulator_server(folder))
        postgres = LocalPostgres(folder / "pg", free_port())
        postgres.init()
        stack.callback(postgres.stop)
        postgres.start()
        postgres.ensure_database(DATABASE)
        ready_with_topics(broker)
        endpoint = KafkaEndpoint("events", broker.bootstrap)
        database = DatabaseEndpoint("127.0.0.1", postgres.port, DATABASE, SUPERUSER)
        ssm = aws.client("ssm")
        ssm.put_parameter(Name=KAFKA_PARAMETER, Value=endpoint.to_json(), Type="String")
        ssm.put_parameter(Name=DATABASE_PARAMETER, Value=database.to_json(), Type="String")
        ingest_port, loader_port = free_port(), free_port()
        env = child_environment(
            {
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "OPS_AWS_ENDPOINT_URL": emulator_env["OPS_AWS_ENDPOINT_URL"],
                KAFKA_PARAMETER_ENV: KAFKA_PARAMETER,
                PARAMETER_ENV: DATABASE_PARAMETER,
                TOPICS_ENV: json.dumps(TOPICS),
                GROUPS_ENV: json.dumps([{"group": g, "topics": [t]} for g, t in GROUPS.items()]),
                PORT_ENV: str(loader_port),
            }
        )
        uvicorn = ["uvicorn", "ops.local.ingest.app:create_app", "--factory", "--host", "127.0.0.1"]
        uvicorn += ["--port", str(ingest_port), "--no-access-log", "--log-level", "warning"]
        ingest = start_service("ingest", uvicorn, ingest_port, env, folder)
        stack.callback(ingest.stop)
        running = Pipeline(folder, aws, env, broker, endpoint, postgres, ingest, loader_port)
        running.start_loader()
        stack.callback(lambda: running.loader.stop())
        yield running


@pytest.fixture(scope="module")
def second_broker(short_tmp: Path) -> Iterator[LocalBroker]:
    broker = start_broker(Path(tempfile.mkdtemp(prefix="pipe-dr-", dir=short_tmp)) / "broker-b")
    try:
        ready_with_topics(broker, DR_PREFIX)
        yield broker
    finally:
        broker.stop()


# --- helpers --------------------------------------------------------------------------------
def records(count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` valid records, both types, with ids no other test uses."""
    generator = PayloadGenerator(run_id=uuid.uuid4().hex[:10])
    return [
        ("financial_transaction", generator.financial_transaction())
        if n % 2 == 0
        else ("insurance_claim", generator.insurance_claim())
        for n in range(count)
    ]


def record_id(payload: dict[str, Any]) -> str:
    return str(payload.get("transaction_id") or payload["claim_id"])


def post_all(service: Service, batch: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    with httpx.Client(base_url=service.url, timeout=20) as client, ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda item: client.post(PATHS[item[0]], json=item[1]), batch))


def stored(postgres: LocalPostgres, ids: list[str]) -> list[str]:
    """The ids among `ids` the warehouse holds, one entry per row."""
    with psycopg.connect(postgres.conninfo(DATABASE)) as conn:
        return [
            row[0]
            for table, column in ID_COLUMNS.items()
            for row in conn.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", (ids,))
        ]


def row_count(postgres: LocalPostgres) -> int:
    total = 0
    with psycopg.connect(postgres.conninfo(DATABASE)) as conn:
        for table in ID_COLUMNS:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            total += int(row[0]) if row else 0
    return total


def read_topics(bootstrap: str, topics: list[str]) -> list[Message]:
    """Every record now on `topics`, read from the start without a consumer group's commits."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}"})
    try:
        ends: dict[tuple[str, int], int] = {}
        start: list[TopicPartition] = []
        for topic in topics:
            for partition in range(PARTITIONS):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high > low:
                    ends[(topic, partition)] = high
                    start.append(TopicPartition(topic, partition, low))
        consumer.assign(start)
        read: list[Message] = []
        reached: set[tuple[str, int]] = set()

        def read_some() -> bool:
            for message in consumer.consume(num_messages=500, timeout=1):
                if message.error() is None:
                    read.append(message)
                    position = (str(message.topic()), int(message.partition() or 0))
                    if (message.offset() or 0) + 1 >= ends[position]:
                        reached.add(position)
            return reached == set(ends)

        wait_until(read_some, 30, f"reading {', '.join(topics)} to their ends")
        return read
    finally:
        consumer.close()


def headers_of(message: Message) -> dict[str, str]:
    pairs = message.headers() or []
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return {name: value.decode() if isinstance(value, bytes) else str(value) for name, value in items}


def key_of(message: Message) -> str:
    key = message.key()
    return key.decode() if isinstance(key, bytes) else ""


def group_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [ConsumerGroupTopicPartitions(group)]
    answer = admin.list_consumer_group_offsets(request)[group].result(timeout=10)
    return {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions or []}


def high_watermarks(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"watermarks-{uuid.uuid4().hex}"})
    try:
        return {
            (topic, p): consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for topic in topics
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()


def wait_committed_to_the_end(bootstrap: str) -> int:
    """Wait until each loader group has committed every record on its topics; their number."""
    ends = high_watermarks(bootstrap, list(GROUPS.values()))

    def committed_to_the_end() -> bool:
        committed = {k: v for group in GROUPS for k, v in group_offsets(bootstrap, group).items()}
        return all(committed.get(k, 0) == end for k, end in ends.items())

    wait_until(committed_to_the_end, 30, "the loader committing every record")
    return sum(ends.values())


# --- the tests --------------------------------------------------------------------------------
def test_each_acknowledged_record_is_on_kafka_and_stored_once(pipeline: Pipeline) -> None:
    ingest, loader = pipeline.ingest, pipeline.loader
    acknowledged_before = ingest.metric("ingest_acknowledged_total")
    stored_before = loader.metric("loader_stored_total")
    batch = records(200)
    ids = [record_id(payload) for _, payload in batch]
    answers = post_all(ingest, batch)

    assert [a.status_code for a in answers] == [200] * 200, {a.text for a in answers if a.status_code != 200}
    where = {a.json()["id"]: (a.json()["partition"], a.json()["offset"]) for a in answers}
    assert sorted(where) == sorted(ids)
    assert {a.json()["outcome"] for a in answers} == {"accepted"}
    wait_until(lambda: len(stored(pipeline.postgres, ids)) == len(ids), 30, "the records in PostgreSQL")
    assert sorted(stored(pipeline.postgres, ids)) == sorted(ids)  # each exactly once

    on_kafka = [
        m for m in read_topics(pipeline.broker.bootstrap, list(TOPICS.values())) if key_of(m) in where
    ]
    assert sorted(key_of(m) for m in on_kafka) == sorted(ids)  # each once, keyed by its id
    headers = {key_of(m): headers_of(m) for m in on_kafka}
    for message in on_kafka:
        key = key_of(message)
        assert where[key] == (message.partition(), message.offset())  # where the answer said
        assert TOPICS[headers[key][RECORD_TYPE_HEADER]] == message.topic()
        assert record_id(json.loads(message.value() or b"{}")) == key  # the record as JSON
    assert len({h[PRODUCER_HEADER] for h in headers.values()}) == 1
    sequences = sorted(int(h[SEQUENCE_HEADER]) for h in headers.values())
    assert sequences == list(range(sequences[0], sequences[0] + 200))  # no gap, none twice

    assert ingest.metric("ingest_acknowledged_total") - acknowledged_before == 200
    assert ingest.metric("ingest_produced_total", record_type="insurance_claim") >= 100
    wait_until(
        lambda: loader.metric("loader_stored_total") - stored_before == 200,
        10,
        "the loader counting 200 stored",
    )
    wait_until(lambda: loader.metric("loader_consumer_lag") == 0, 10, "the loader's lag back to 0")


def test_records_read_again_are_counted_redelivered_and_not_stored_twice(pipeline: Pipeline) -> None:
    batch = records(50)
    ids = [record_id(payload) for _, payload in batch]
    assert {a.status_code for a in post_all(pipeline.ingest, batch)} == {200}
    wait_until(lambda: len(stored(pipeline.postgres, ids)) == 50, 30, "the records in PostgreSQL")
    bootstrap = pipeline.broker.bootstrap
    total = wait_committed_to_the_end(bootstrap)
    rows = row_count(pipeline.postgres)
    assert pipeline.loader.stop() == 0  # SIGTERM: commit, leave the group, exit 0
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for group, topic in GROUPS.items():
            rewind = [TopicPartition(topic, p, 0) for p in range(PARTITIONS)]
            request = [ConsumerGroupTopicPartitions(group, rewind)]
            admin.alter_consumer_group_offsets(request)[group].result(timeout=10)
    finally:
        pipeline.start_loader()
    loader = pipeline.loader
    wait_until(
        lambda: loader.metric("loader_consumed_total") == total,
        60,
        f"the loader reading all {total} records again",
        loader.log,
    )
    assert loader.metric("loader_stored_total") == 0
    # Every record again: stored before, or one no loader can read (another test's).
    assert loader.metric("loader_redelivered_total") + loader.metric("loader_rejected_total") == total
    assert loader.metric("loader_redelivered_total") >= 50
    assert row_count(pipeline.postgres) == rows


def test_a_record_the_loader_cannot_read_is_rejected_and_skipped(pipeline: Pipeline) -> None:
    group, topic = "glue-financial-etl", TOPICS["financial_transaction"]
    rejected_before = pipeline.loader.metric("loader_rejected_total", group=group, topic=topic)
    producer = Producer({"bootstrap.servers": pipeline.broker.bootstrap})
    producer.produce(topic, key="no-type", value=b"{}")
    producer.produce(
        topic, key="not-json", value=b"[", headers=[(RECORD_TYPE_HEADER, "financial_transaction")]
    )
    assert producer.flush(10) == 0
    batch = records(4)
    ids = [record_id(payload) for _, payload in batch]
    assert {a.status_code for a in post_all(pipeline.ingest, batch)} == {200}
    wait_until(lambda: len(stored(pipeline.postgres, ids)) == 4, 30, "the records after them in PostgreSQL")
    wait_until(
        lambda: (
            pipeline.loader.metric("loader_rejected_total", group=group, topic=topic) - rejected_before == 2
        ),
        10,
        "the loader counting 2 rejected",
    )
    wait_committed_to_the_end(pipeline.broker.bootstrap)  # skipped: committed, not read forever


def test_with_the_warehouse_down_records_wait_on_kafka_and_are_stored_once_it_is_back(
    pipeline: Pipeline,
) -> None:
    loader, postgres = pipeline.loader, pipeline.postgres
    failures_before = loader.metric("loader_write_failures_total")
    batch = records(10)
    ids = [record_id(payload) for _, payload in batch]
    postgres.stop()
    try:
        answers = post_all(pipeline.ingest, batch)  # the ingest path needs no warehouse
        assert [a.status_code for a in answers] == [200] * 10
        wait_until(
            lambda: loader.metric("loader_write_failures_total") > failures_before,
            30,
            "the loader failing to write",
            loader.log,
        )
    finally:
        postgres.start()
    wait_until(lambda: len(stored(postgres, ids)) == 10, 60, "the records stored once it is back", loader.log)
    assert sorted(stored(postgres, ids)) == sorted(ids)
    wait_committed_to_the_end(pipeline.broker.bootstrap)


def test_with_the_broker_down_nothing_is_acknowledged_and_afterwards_the_records_flow(
    pipeline: Pipeline,
) -> None:
    ingest, broker = pipeline.ingest, pipeline.broker
    failed_before = ingest.metric("ingest_records_total", outcome="failed")
    assert broker.stop()
    try:
        refused = records(4)
        answers = post_all(ingest, refused)
        assert [a.status_code for a in answers] == [503] * 4
        assert all("\n" not in a.json()["detail"] for a in answers), [a.text for a in answers]
        assert ingest.metric("ingest_records_total", outcome="failed") - failed_before == 4
        wait_until(lambda: ingest.health()[0] == 503, 15, "the ingest service's health failing")
        wait_until(lambda: pipeline.loader.health()[0] == 503, 15, "the loader's health failing")
    finally:
        broker.start()
        ready_with_topics_again(broker)
    wait_until(lambda: ingest.health()[0] == 200, 30, "the ingest service's health back", ingest.log)
    batch = records(20)
    ids = [record_id(payload) for _, payload in batch]
    answers = post_all(ingest, batch)
    assert [a.status_code for a in answers] == [200] * 20, {a.text for a in answers if a.status_code != 200}
    # The loader's group rejoins the restarted broker's coordinator first: a bounded wait.
    wait_until(
        lambda: len(stored(pipeline.postgres, ids)) == 20,
        90,
        "the records in PostgreSQL",
        pipeline.loader.log,
    )
    wait_until(
        lambda: pipeline.loader.health()[0] == 200, 15, "the loader's health back", pipeline.loader.log
    )


def test_a_rewritten_kafka_endpoint_moves_the_producer_and_the_loader(
    pipeline: Pipeline, second_broker: LocalBroker
) -> None:
    first = records(1)
    assert post_all(pipeline.ingest, first)[0].status_code == 200
    before = [
        m
        for m in read_topics(pipeline.broker.bootstrap, list(TOPICS.values()))
        if key_of(m) == record_id(first[0][1])
    ]
    second = KafkaEndpoint("events-dr", second_broker.bootstrap, topic_prefix=DR_PREFIX)
    pipeline.point_kafka_at(second)
    try:
        pipeline.wait_following(second)
        batch = records(20)
        ids = [record_id(payload) for _, payload in batch]
        answers = post_all(pipeline.ingest, batch)
        assert [a.status_code for a in answers] == [200] * 20, {
            a.text for a in answers if a.status_code != 200
        }
        dr_topics = [second.topic(t) for t in TOPICS.values()]
        moved = [m for m in read_topics(second_broker.bootstrap, dr_topics) if key_of(m) in ids]
        assert sorted(key_of(m) for m in moved) == sorted(ids)
        on_first = read_topics(pipeline.broker.bootstrap, list(TOPICS.values()))
        assert not {key_of(m) for m in on_first} & set(ids)
        # The same producer on the new cluster: its sequence runs on from the old one's.
        producer, last = headers_of(before[0])[PRODUCER_HEADER], int(headers_of(before[0])[SEQUENCE_HEADER])
        assert {headers_of(m)[PRODUCER_HEADER] for m in moved} == {producer}
        assert sorted(int(headers_of(m)[SEQUENCE_HEADER]) for m in moved) == list(range(last + 1, last + 21))
        wait_until(
            lambda: len(stored(pipeline.postgres, ids)) == 20, 30, "the second cluster's records stored"
        )
    finally:
        pipeline.point_kafka_at(pipeline.endpoint)
        pipeline.wait_following(pipeline.endpoint)
