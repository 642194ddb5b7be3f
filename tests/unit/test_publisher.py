"""The ingest service's Kafka publisher without a broker: nothing unacknowledged passes for
acknowledged, a fatal error starts a new producer, and the endpoint it follows is re-read."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, KafkaException

from ops.contracts import KafkaEndpoint
from ops.local.follow import Followed
from ops.local.ingest.publisher import (
    DEFAULT_TOPICS,
    TOPICS_ENV,
    ProducersPaused,
    Publisher,
    PublishFailed,
    topics_from_environment,
)
from ops.util.ports import free_port


@pytest.fixture
def nowhere() -> Iterator[Publisher]:
    """A publisher whose cluster is a loopback port nothing listens on."""
    endpoint = KafkaEndpoint("events", f"127.0.0.1:{free_port()}")
    publisher = Publisher(lambda: endpoint, DEFAULT_TOPICS, message_timeout_ms=300)
    try:
        yield publisher
    finally:
        publisher.close()


def test_a_record_no_broker_acknowledged_fails_within_the_message_timeout(nowhere: Publisher) -> None:
    started = time.monotonic()
    with pytest.raises(PublishFailed) as failed:
        nowhere.publish("financial_transaction", "TX-1", b"{}")
    assert failed.value.produced
    assert "\n" not in str(failed.value)
    assert time.monotonic() - started < 0.3 + 2.0


def test_health_fails_when_no_broker_answers(nowhere: Publisher) -> None:
    with pytest.raises(KafkaException):
        nowhere.ping()


def test_a_fatal_producer_error_starts_a_new_producer_with_a_new_id(nowhere: Publisher) -> None:
    with pytest.raises(PublishFailed):
        nowhere.publish("insurance_claim", "IC-1", b"{}")
    first = nowhere.producer_id
    nowhere._on_error(KafkaError(KafkaError._FATAL, "injected", fatal=True))  # librdkafka's error_cb
    with pytest.raises(PublishFailed):
        nowhere.publish("insurance_claim", "IC-2", b"{}")
    assert nowhere.producer_id != first


def test_every_record_type_needs_a_topic() -> None:
    endpoint = KafkaEndpoint("events", "127.0.0.1:9")
    with pytest.raises(ValueError, match="insurance_claim"):
        Publisher(lambda: endpoint, {"financial_transaction": "raw"})


def test_topics_come_from_the_environment_else_the_raw_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOPICS_ENV, raising=False)
    assert topics_from_environment() == DEFAULT_TOPICS
    monkeypatch.setenv(TOPICS_ENV, '{"financial_transaction": "tx", "insurance_claim": "claims"}')
    assert topics_from_environment() == {"financial_transaction": "tx", "insurance_claim": "claims"}


def test_a_followed_value_is_re_read_after_its_ttl_and_kept_when_a_re_read_fails() -> None:
    answers: list[str | Exception] = ["a", "b", RuntimeError("parameter store down"), "c"]
    reads = 0

    def read() -> str:
        nonlocal reads
        answer = answers[reads]
        reads += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    followed = Followed(read, ttl=60)
    assert followed.get() == "a"
    assert followed.get() == "a"  # within its ttl: not read again
    followed.invalidate()
    assert followed.get() == "b"
    followed.invalidate()
    assert followed.get() == "b"  # the re-read failed: the last value stays
    followed.invalidate()
    assert followed.get() == "c"
    assert reads == 4


def test_the_first_read_of_a_followed_value_fails_loudly() -> None:
    def read() -> str:
        raise RuntimeError("no such parameter")

    with pytest.raises(RuntimeError, match="no such parameter"):
        Followed(read).get()


def test_a_held_producer_refuses_at_once_produces_nothing_and_keeps_its_sequence() -> None:
    """A failover's hold: refused before anything is produced (no sequence number used),
    reported by state(); released, the next record takes the next sequence number."""
    endpoint = {"now": KafkaEndpoint("events", f"127.0.0.1:{free_port()}", producers_paused=True)}
    publisher = Publisher(lambda: endpoint["now"], DEFAULT_TOPICS, ttl=0, message_timeout_ms=300)
    try:
        with pytest.raises(ProducersPaused) as held:
            publisher.publish("financial_transaction", "TX-1", b"{}")
        assert not held.value.produced
        state = publisher.state()
        assert (state.paused, state.in_flight, state.endpoint.cluster) == (True, 0, "events")
        endpoint["now"] = KafkaEndpoint("events", endpoint["now"].bootstrap_servers)
        assert publisher.state().paused is False
        with pytest.raises(PublishFailed) as failed:  # no broker: produced, not acknowledged
            publisher.publish("financial_transaction", "TX-2", b"{}")
        assert failed.value.produced and not isinstance(failed.value, ProducersPaused)
        assert publisher.state().in_flight == 0  # its delivery report was served
    finally:
        publisher.close()


def test_the_endpoint_round_trips_with_its_holds_and_reads_older_documents() -> None:
    held = KafkaEndpoint("events_dr", "127.0.0.1:1", "", producers_paused=True, consumers_stopped=True)
    assert KafkaEndpoint.from_json(held.to_json()) == held
    older = KafkaEndpoint.from_json('{"cluster": "events", "bootstrap_servers": "127.0.0.1:1"}')
    assert (older.producers_paused, older.consumers_stopped) == (False, False)
    assert older.location == KafkaEndpoint("events", "127.0.0.1:1", producers_paused=True).location
