"""The local platform's Kafka: the inventory's msk components as real KRaft clusters on
loopback, its msk_replicator as MirrorMaker 2, and the parameters their clients read.

Each cluster is sized from its component (`broker_count`), holds the component's topics
(replicas capped at the cluster's size) and keeps its data across `down` and `up`. The
clients of a primary cluster (the ingest service, the loader) read one parameter,
`kafka_endpoint_parameter`, that names the cluster they use: the primary itself, or the DR
cluster a failover chose (`PlatformRecord.kafka_active`)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ops.contracts import PATHS, KafkaEndpoint, bootstrap_brokers_parameter, kafka_endpoint_parameter
from ops.errors import BadInput, OpsError
from ops.inventory.components import ApiGateway, Lambda, Msk, MskReplicator
from ops.inventory.environment import Environment
from ops.local.kafka import LocalCluster, TopicSpec, new_cluster_id
from ops.local.mirror import LocalMirror, MirrorSpec, replication_lag
from ops.local.parts import PartStatus
from ops.local.state import ClusterRecord, LocalState, PlatformRecord
from ops.util import processes
from ops.util.ports import free_port, port_is_free

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestRoute:
    """Where the ingest path puts one record type: the cluster and topic of its function."""

    record_type: str
    cluster: str
    topic: str


class LocalKafka:
    """The msk clusters and replicators of one local environment."""

    def __init__(self, env: Environment, state: LocalState) -> None:
        self.env = env
        self.state = state
        self.clusters = env.components_of(Msk)
        self.replicators = env.components_of(MskReplicator)

    # --- plan --------------------------------------------------------------------------
    def ensure_record(self, record: PlatformRecord) -> None:
        """A cluster id and ports for every msk component the record lacks."""
        for name, msk in sorted(self.clusters.items()):
            known = record.kafka_clusters.get(name)
            if known is None:
                ports = [free_port() for _ in range(2 * msk.broker_count)]
                record.kafka_clusters[name] = ClusterRecord(new_cluster_id(), ports)
            elif len(known.ports) != 2 * msk.broker_count:
                raise BadInput(
                    f"{self.env.source}: components.{name}.broker_count is {msk.broker_count}, but the "
                    f"local cluster was made with {len(known.ports) // 2}; run `ops local down --purge` "
                    "to make it again (its data is deleted)"
                )

    def cluster(self, record: PlatformRecord, name: str) -> LocalCluster:
        return LocalCluster.plan(
            self.state.kafka_dir / name, self.clusters[name].broker_count, self._ports(record, name)
        )

    def _ports(self, record: PlatformRecord, name: str) -> list[int]:
        cluster = record.kafka_clusters.get(name)
        if cluster is None:
            raise OpsError(f"{self.state.record_file}: no Kafka cluster {name}; run `ops local up`")
        return cluster.ports

    def mirror(self, record: PlatformRecord, name: str) -> LocalMirror:
        replicator = self.replicators[name]
        source, target = self.cluster(record, replicator.source), self.cluster(record, replicator.target)
        spec = MirrorSpec(
            name=replicator.replicator_name,
            source=replicator.source,
            source_bootstrap=source.bootstrap,
            target=replicator.target,
            target_bootstrap=target.bootstrap,
            topics=list(replicator.topics),
            groups=list(replicator.consumer_groups),
            topic_names=replicator.topic_names,
            source_size=len(source.brokers),
            target_size=len(target.brokers),
        )
        return LocalMirror(self.state.kafka_dir / f"mirror-{name}", spec)

    def reverse_mirror(self, record: PlatformRecord, name: str) -> LocalMirror:
        """The reverse replicator a failover created for inventory replicator `name`."""
        created = record.kafka_reverse.get(name)
        if created is None:
            raise OpsError(f"{self.state.record_file}: no reverse replicator of {name}")
        forward = self.mirror(record, name)
        return LocalMirror(
            self.state.kafka_dir / f"mirror-{name}-reverse", forward.spec.reversed(created["name"])
        )

    # --- up ----------------------------------------------------------------------------
    def up(self, record: PlatformRecord) -> None:
        """Start every cluster and replicator not running; create missing topics."""
        self.ensure_record(record)
        # Every cluster's JVMs start together (each takes seconds on its own), then each is
        # waited for and given its topics.
        starting = [name for name in sorted(self.clusters) if self._start_cluster(record, name)]
        for name in sorted(self.clusters):
            self._ready_cluster(record, name, waited=name in starting)
        for name in sorted(self.replicators):
            mirror = self.mirror(record, name)
            if name in record.kafka_detached:
                log.info(
                    "replicator %s: detached by run %s (a failback re-attaches it)",
                    name,
                    record.kafka_detached[name],
                )
                continue
            if mirror.running():
                log.info("replicator %s: already running", name)
                continue
            log.info("replicator %s: starting MirrorMaker 2", name)
            mirror.start()
        for name in sorted(record.kafka_reverse):  # a failover's, until its failback
            mirror = self.reverse_mirror(record, name)
            if not mirror.running():
                log.info("reverse replicator %s: starting MirrorMaker 2", mirror.spec.name)
                mirror.start()

    def _start_cluster(self, record: PlatformRecord, name: str) -> bool:
        """Start the brokers of `name` that do not run; False when all ran and answered."""
        cluster = self.cluster(record, name)
        running = [broker for broker in cluster.brokers if broker.running()]
        if not running:
            taken = [port for port in record.kafka_clusters[name].ports if not port_is_free(port)]
            if taken:  # stopped cluster whose ports were taken meanwhile: new ports, same data
                record.kafka_clusters[name].ports = [free_port() for _ in record.kafka_clusters[name].ports]
                cluster = self.cluster(record, name)
        if len(running) == len(cluster.brokers) and cluster.live_nodes() >= self._node_ids(cluster):
            log.info("kafka %s: already running on %s", name, cluster.bootstrap)
            return False
        log.info("kafka %s: starting %d broker(s) on %s", name, len(cluster.brokers), cluster.bootstrap)
        cluster.start(record.kafka_clusters[name].cluster_id)
        return True

    def _ready_cluster(self, record: PlatformRecord, name: str, waited: bool) -> None:
        cluster = self.cluster(record, name)
        if waited:
            cluster.wait_ready()
        msk = self.clusters[name]
        topics = [
            TopicSpec.capped(t.name, t.partitions, t.replication_factor, len(cluster.brokers))
            for t in msk.topics
        ]
        created = cluster.ensure_topics(topics)
        if created:
            log.info("kafka %s: created topics %s", name, ", ".join(created))

    @staticmethod
    def _node_ids(cluster: LocalCluster) -> set[int]:
        return {broker.spec.node_id for broker in cluster.brokers}

    def parameters(self, record: PlatformRecord) -> dict[str, str]:
        """The SSM parameters clients read: each cluster's own brokers, and for each primary
        cluster the endpoint its producers and consumers use now."""
        values = {
            bootstrap_brokers_parameter(self.env, name): self.cluster(record, name).bootstrap
            for name in sorted(self.clusters)
        }
        for name, msk in sorted(self.clusters.items()):
            if msk.role == "primary":
                values[kafka_endpoint_parameter(self.env, name)] = self.endpoint(record, name).to_json()
        return values

    def endpoint(self, record: PlatformRecord, primary: str) -> KafkaEndpoint:
        """The cluster a primary's clients use: the primary, unless a failover moved them."""
        active = record.kafka_active.get(primary, primary)
        prefix = ""
        if active != primary:
            for replicator in self.replicators.values():
                if (replicator.source, replicator.target) == (primary, active):
                    prefix = f"{primary}." if replicator.topic_names == "prefixed" else ""
        holds = record.kafka_holds.get(primary, [])
        return KafkaEndpoint(
            active,
            self.cluster(record, active).bootstrap,
            prefix,
            producers_paused="producers" in holds,
            consumers_stopped="consumers" in holds,
        )

    # --- the ingest path ----------------------------------------------------------------
    def ingest_routes(self) -> list[IngestRoute]:
        """Each record type's cluster and topic, from the API's routes to its functions."""
        gateways = self.env.components_of(ApiGateway)
        functions = self.env.components_of(Lambda)
        routes: list[IngestRoute] = []
        for record_type, path in sorted(PATHS.items()):
            for gateway in gateways.values():
                function = functions.get(gateway.routes.get(path.rstrip("/"), ""))
                if function is not None:
                    target = function.produces_to
                    routes.append(IngestRoute(record_type, target.cluster, target.topic))
                    break
        return routes

    def ingest_cluster(self) -> str | None:
        """The one cluster the ingest service produces to (None: the inventory routes no
        record type to Kafka)."""
        clusters = {route.cluster for route in self.ingest_routes()}
        if len(clusters) > 1:
            raise BadInput(
                f"{self.env.source}: the ingest functions produce to {len(clusters)} clusters "
                f"({', '.join(sorted(clusters))}); the local ingest service produces to one"
            )
        return next(iter(clusters), None)

    # --- down and status ---------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop every replicator, then every broker, under the state folder, planned or not
        (a replicator stopped first does not log its brokers going away)."""
        stopped = []
        for pid_file in sorted(self.state.kafka_dir.glob("mirror-*/*.pid")):
            if processes.stop(pid_file):
                stopped.append(f"replicator {pid_file.parent.name.removeprefix('mirror-')}")
        brokers = sorted(self.state.kafka_dir.glob("*/broker-*/broker.pid"))
        # All at once: each waits for its controlled shutdown, sequentially ~7 s a broker.
        with ThreadPoolExecutor(max_workers=max(1, len(brokers))) as pool:
            results = list(pool.map(processes.stop, brokers))
        for pid_file, was_running in zip(brokers, results, strict=True):
            if was_running:
                stopped.append(f"kafka {pid_file.parent.parent.name} {pid_file.parent.name}")
        return stopped

    def status(self, record: PlatformRecord) -> list[PartStatus]:
        parts: list[PartStatus] = []
        for name in sorted(self.clusters):
            if name not in record.kafka_clusters:
                parts.append(PartStatus(f"kafka {name}", False, False, "-", None, "never started"))
                continue
            cluster = self.cluster(record, name)
            live = cluster.live_nodes()
            role = self.clusters[name].role
            for broker in cluster.brokers:
                pid = broker.running()
                healthy = pid is not None and broker.spec.node_id in live
                detail = f"{role} cluster, node {broker.spec.node_id} of {len(cluster.brokers)}"
                if pid is not None and not healthy:
                    detail += ", not in the cluster's metadata"
                parts.append(
                    PartStatus(
                        f"kafka {name} broker {broker.spec.node_id}",
                        pid is not None,
                        healthy,
                        broker.bootstrap,
                        pid,
                        detail if pid is not None else "stopped",
                    )
                )
        for name in sorted(self.replicators):
            parts.append(self._mirror_status(record, name))
        for name in sorted(record.kafka_reverse):
            parts.append(self._mirror_status(record, name, reverse=True))
        return parts

    def _mirror_status(self, record: PlatformRecord, name: str, reverse: bool = False) -> PartStatus:
        replicator = self.replicators[name]
        title = f"replicator {replicator.replicator_name}"
        if not {replicator.source, replicator.target} <= set(record.kafka_clusters):
            return PartStatus(title, False, False, "-", None, "never started")
        mirror = self.reverse_mirror(record, name) if reverse else self.mirror(record, name)
        if reverse:
            title = f"reverse replicator {mirror.spec.name}"
        pid = mirror.running()
        address = f"{mirror.spec.source} -> {mirror.spec.target}"
        if pid is None and not reverse and name in record.kafka_detached:
            detail = f"detached by run {record.kafka_detached[name]} (unplanned failover)"
            return PartStatus(title, False, True, address, None, detail)
        if pid is None:
            return PartStatus(title, False, False, address, None, "stopped")
        try:
            lag = replication_lag(mirror.spec)
        except OpsError as error:
            return PartStatus(title, True, False, address, pid, f"lag unknown: {error}")
        behind = sum(lag.values())
        detail = f"MirrorMaker 2, {mirror.spec.topic_names} topic names, lag {behind} record(s)"
        return PartStatus(title, True, True, address, pid, detail)
