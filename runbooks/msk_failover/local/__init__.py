"""msk-failover and msk-failback on the local platform: the two Kafka clusters, MirrorMaker 2
as the replicators, the ingest service as the producers and the loader as the consumers,
moved through the Kafka endpoint parameter (ops.local.kafka_clients). The only module of the
package that imports ops.local. Every step and every undo is safe to run again."""

from runbooks.msk_failover.local.failback import LocalFailback
from runbooks.msk_failover.local.failover import LocalFailover

__all__ = ["LocalFailback", "LocalFailover"]
