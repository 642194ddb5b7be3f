"""A primary msk component's clients on the local platform, as a failover moves them: its
producers (the ingest service) and consumers (the loader) follow the Kafka endpoint
parameter, which says which cluster they use and what a failover holds of them
(ops.contracts.KafkaEndpoint). Each change is written to platform.json first (so `ops local
up` publishes the same), then to the parameter; the `wait_*` methods read the services'
health until they did it, as a run confirms that a Lambda's concurrency or a job's state
took effect."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ops.contracts import KafkaEndpoint, kafka_endpoint_parameter
from ops.errors import OpsError
from ops.local.health import read_health
from ops.local.platform import INGEST, LOADER, LocalPlatform, require_running
from ops.local.state import PlatformRecord
from ops.util import processes

MOVE_TIMEOUT = 30.0  # a client re-reads the parameter every 0.5 s; a consumer joins its group


class KafkaClients:
    def __init__(self, platform: LocalPlatform, primary: str) -> None:
        self.platform = platform
        self.primary = primary
        self.parameter = kafka_endpoint_parameter(platform.env, primary)
        self._ssm: tuple[int, Any] | None = None  # (emulator port, client): made once

    def _ssm_client(self, record: PlatformRecord) -> Any:
        """The emulator's SSM client, kept: a boto3 session and client take ~0.1 s to make,
        and every move is a read and a write inside the producers' unavailability."""
        if self._ssm is None or self._ssm[0] != record.emulator_port:
            self._ssm = (record.emulator_port, self.platform.aws(record).client("ssm"))
        return self._ssm[1]

    def record(self) -> PlatformRecord:
        return require_running(self.platform.state)

    def endpoint(self) -> KafkaEndpoint:
        """What platform.json says the clients use."""
        return self.platform.kafka.endpoint(self.record(), self.primary)

    def published(self) -> KafkaEndpoint:
        """What the endpoint parameter says now (what the clients follow)."""
        ssm = self._ssm_client(self.record())
        return KafkaEndpoint.from_json(ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"])

    def change(
        self,
        *,
        active: str | None = None,
        producers_paused: bool | None = None,
        consumers_stopped: bool | None = None,
    ) -> KafkaEndpoint:
        """Point the clients at cluster `active` and/or hold or release them (None: as is).
        Idempotent: a resumed or rolled back step writes the same again."""

        def change(record: PlatformRecord) -> None:
            if active is not None:
                if active == self.primary:
                    record.kafka_active.pop(self.primary, None)
                else:
                    record.kafka_active[self.primary] = active
            holds = set(record.kafka_holds.get(self.primary, []))
            for hold, wanted in (("producers", producers_paused), ("consumers", consumers_stopped)):
                if wanted is True:
                    holds.add(hold)
                elif wanted is False:
                    holds.discard(hold)
            if holds:
                record.kafka_holds[self.primary] = sorted(holds)
            else:
                record.kafka_holds.pop(self.primary, None)

        record = self.platform.change_record(change)
        endpoint = self.platform.kafka.endpoint(record, self.primary)
        self._ssm_client(record).put_parameter(
            Name=self.parameter, Value=endpoint.to_json(), Type="String", Overwrite=True
        )
        return endpoint

    # --- confirmations -----------------------------------------------------------------
    def producers(self) -> dict[str, Any]:
        """The ingest service's report of its producers (cluster, paused, in flight)."""
        healthy, body = read_health(self.record().ingest_url)
        if not isinstance(body, dict) or not isinstance(body.get("producers"), dict):
            return {"healthy": healthy, "detail": body if isinstance(body, str) else "no producer report"}
        return {"healthy": healthy, **body["producers"]}  # type: ignore[dict-item]

    def consumers(self) -> dict[str, dict[str, Any]]:
        """The loader's report of each consumer group (cluster, consuming, partitions)."""
        _, body = read_health(self.record().loader_url)
        groups = body.get("groups") if isinstance(body, dict) else None
        return dict(groups) if isinstance(groups, dict) else {}

    def wait_producers(self, endpoint: KafkaEndpoint, timeout: float = MOVE_TIMEOUT) -> dict[str, Any]:
        """Until the ingest service produces to `endpoint`'s cluster, or holds its producers
        with nothing left in flight when the endpoint pauses them."""
        if processes.running_pid(self.platform.state.pid_file(INGEST)) is None:
            raise OpsError("the ingest service is not running; `ops local up` starts it")
        seen: dict[str, Any] = {}

        def done() -> bool:
            seen.clear()
            seen.update(self.producers())
            if seen.get("cluster") != endpoint.cluster or seen.get("paused") != endpoint.producers_paused:
                return False
            return not endpoint.producers_paused or seen.get("in_flight") == 0

        what = "paused" if endpoint.producers_paused else f"producing to {endpoint.cluster}"
        processes.wait_until(
            done, timeout, f"the ingest service's producers {what}", self.platform.state.log_file(INGEST)
        )
        return dict(seen)

    def wait_consumers(
        self, endpoint: KafkaEndpoint, timeout: float = MOVE_TIMEOUT, assigned: bool = True
    ) -> dict[str, Any]:
        """Until every consumer group of the loader is stopped (its offsets committed, the
        group left) or consumes `endpoint`'s cluster: subscribed, and with `assigned` its
        partitions assigned too (a group joins in a second or more)."""
        if processes.running_pid(self.platform.state.pid_file(LOADER)) is None:
            raise OpsError("the loader is not running; `ops local up` starts it")
        seen: dict[str, dict[str, Any]] = {}

        def done() -> bool:
            seen.clear()
            seen.update(self.consumers())
            if not seen:
                return False
            for group in seen.values():
                if group.get("cluster") != endpoint.cluster:
                    return False
                if endpoint.consumers_stopped and group.get("consuming"):
                    return False
                if not endpoint.consumers_stopped and not (
                    group.get("consuming") and (group.get("partitions") or not assigned)
                ):
                    return False
            return True

        what = "stopped" if endpoint.consumers_stopped else f"consuming {endpoint.cluster}"
        processes.wait_until(
            done, timeout, f"the loader's groups {what}", self.platform.state.log_file(LOADER)
        )
        return {name: dict(group) for name, group in seen.items()}

    def redelivered(self) -> int:
        """Records the loader read that the warehouse had already (a consumer re-reading
        after a move): its `loader_redelivered` counter, summed over groups and topics."""
        try:
            text = httpx.get(f"{self.record().loader_url}/metrics", timeout=3).text
        except httpx.HTTPError as error:
            raise OpsError(f"reading the loader's metrics failed: {type(error).__name__}") from error
        total = 0.0
        for family in text_string_to_metric_families(text):
            if family.name == "loader_redelivered":
                total += sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
        return int(total)
