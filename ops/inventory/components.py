"""One model per kind of platform component, keyed by `kind` in platform.yaml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from ops.inventory.types import STRICT, Region, ResourceName, RetentionDays, Severity


class AlarmOverride(BaseModel):
    """Changes to one of a component's default alarms (keys: `ops observe alarms`)."""

    model_config = STRICT
    enabled: bool = True
    threshold: float | None = Field(default=None, ge=0, le=1e15)
    evaluation_periods: int | None = Field(default=None, ge=1, le=1440)
    datapoints_to_alarm: int | None = Field(default=None, ge=1, le=1440)
    period: Literal[10, 30, 60, 300, 900, 3600] | None = None
    severity: Severity | None = None


class Monitored(BaseModel):
    """What every component may say about its own monitoring."""

    model_config = STRICT
    alarms: dict[str, AlarmOverride] = {}
    log_retention_days: RetentionDays | None = None


class ApiGateway(Monitored):
    """The public ingest API; routes name the Lambda components behind them."""

    model_config = STRICT
    kind: Literal["api_gateway"]
    api_name: ResourceName
    stage: str = "v1"
    api_type: Literal["http", "rest"] = "http"
    routes: dict[str, str] = Field(min_length=1)


class TopicRef(BaseModel):
    model_config = STRICT
    cluster: str
    topic: str


class Lambda(Monitored):
    model_config = STRICT
    kind: Literal["lambda"]
    function_name: ResourceName
    memory_mb: int = Field(default=512, ge=128, le=10240)
    timeout_seconds: int = Field(default=30, ge=1, le=900)
    reserved_concurrency: int | None = Field(default=None, ge=0, le=100_000)
    produces_to: TopicRef


class KafkaTopic(BaseModel):
    model_config = STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    partitions: int = Field(ge=1, le=10000)
    replication_factor: int = Field(ge=1, le=5)


class ConsumerGroup(BaseModel):
    model_config = STRICT
    name: str = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    # The Glue job (a `glue` component's job name) whose runs consume as this group:
    # msk-failover stops its runs before a move and starts them after, on AWS.
    job: str | None = Field(default=None, min_length=1)


class Msk(Monitored):
    model_config = STRICT
    kind: Literal["msk"]
    cluster_name: ResourceName
    role: Literal["primary", "secondary"] = "primary"
    region: Region | None = None  # defaults to the environment's region
    kafka_version: str = "3.6.0"
    # MSK allows 30 (ZooKeeper) or 60 (KRaft) per cluster by default, more on request: the
    # bound stops a typo (100,000,000 ran out of memory), not a quota.
    broker_count: int = Field(default=3, ge=1, le=1000)
    instance_type: str = Field(default="kafka.m5.large", pattern=r"^(kafka|express)\.")
    storage_gib: int = Field(default=1000, ge=1, le=16384)
    topics: list[KafkaTopic] = Field(min_length=1)
    consumer_groups: list[ConsumerGroup] = []


class MskReplicator(Monitored):
    model_config = STRICT
    kind: Literal["msk_replicator"]
    replicator_name: ResourceName
    source: str
    target: str
    topics: list[str] = Field(min_length=1)
    consumer_groups: list[str] = []
    # MSK Replicator's TopicNameConfiguration: the same names on the target (IDENTICAL), or
    # prefixed with the source cluster's alias (PREFIXED_WITH_SOURCE_CLUSTER_ALIAS).
    topic_names: Literal["identical", "prefixed"] = "identical"


class Bucket(BaseModel):
    model_config = STRICT
    bucket: ResourceName
    versioning: bool = True
    replicate_to_region: Region | None = None


class LakeZones(BaseModel):
    model_config = STRICT
    raw: Bucket
    processed: Bucket
    curated: Bucket


class S3Lake(Monitored):
    model_config = STRICT
    kind: Literal["s3"]
    zones: LakeZones


ZoneName = Literal["raw", "processed", "curated"]


class GlueJob(BaseModel):
    model_config = STRICT
    name: ResourceName
    source_zone: ZoneName
    target_zone: ZoneName
    worker_type: Literal["G.025X", "G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(default=2, ge=2, le=1000)
    glue_version: str = "5.0"


class Glue(Monitored):
    model_config = STRICT
    kind: Literal["glue"]
    jobs: list[GlueJob] = Field(min_length=1)


class Emr(Monitored):
    model_config = STRICT
    kind: Literal["emr"]
    cluster_name: ResourceName
    release_label: str = Field(default="emr-7.5.0", pattern=r"^emr-\d+\.\d+\.\d+$")
    instance_type: str = "m5.xlarge"
    core_instance_count: int = Field(default=2, ge=1, le=1000)


class DataCheck(BaseModel):
    """A table a restore is checked on: its rows committed up to the target time (count,
    and an md5 of their keys in order) must be exactly the restored table's."""

    model_config = STRICT
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    key: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class DnsName(BaseModel):
    """A CNAME clients use for the database; a cutover can repoint it."""

    model_config = STRICT
    zone: str = Field(pattern=r"^[a-z0-9.-]+$")
    record: str = Field(pattern=r"^[a-z0-9.-]+$")


class GlobalDatabase(BaseModel):
    """An Aurora global database the cluster is the primary of: its secondary cluster in
    another region (aurora-failover's switchover and failover move the writer there)."""

    model_config = STRICT
    identifier: ResourceName  # the global cluster (named <platform>-<env>-<identifier>)
    secondary_region: Region
    secondary_identifier: ResourceName  # the secondary DB cluster, in secondary_region


class Rds(Monitored):
    """The warehouse database: RDS PostgreSQL, or Aurora PostgreSQL as an option."""

    model_config = STRICT
    kind: Literal["rds"]
    engine: Literal["postgres", "aurora-postgresql"] = "postgres"
    engine_version: str = "16.4"
    identifier: ResourceName
    database: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.")
    allocated_storage_gib: int = Field(default=100, ge=20, le=65536)
    multi_az: bool = True
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    deletion_protection: bool = True
    checks: list[DataCheck] = []  # what a point-in-time restore is validated on
    # The Secrets Manager secret (under <platform>/<env>/) with the username and password the
    # data checks log in with on AWS; default: the instance's RDS-managed master secret.
    check_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9/_+=.@-]{1,200}$")
    dns: DnsName | None = None  # for a Route 53 cutover
    # Reader instances of an Aurora cluster; locally, streaming replicas of the embedded
    # PostgreSQL beside the primary (aurora-failover promotes one). RDS PostgreSQL: 0.
    readers: int = Field(default=0, ge=0, le=15)
    global_cluster: GlobalDatabase | None = None  # Aurora only

    @model_validator(mode="after")
    def _aurora_only(self) -> Rds:
        if self.global_cluster is not None and self.engine != "aurora-postgresql":
            raise ValueError("global_cluster needs engine: aurora-postgresql (an Aurora global database)")
        return self


class DocumentDb(Monitored):
    model_config = STRICT
    kind: Literal["documentdb"]
    cluster_identifier: ResourceName
    instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.")
    instance_count: int = Field(default=2, ge=1, le=16)
    backup_retention_days: int = Field(default=7, ge=1, le=35)


class Mwaa(Monitored):
    model_config = STRICT
    kind: Literal["mwaa"]
    environment_name: ResourceName
    airflow_version: str = "2.10.3"
    environment_class: Literal["mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge"]


class Collector(BaseModel):
    model_config = STRICT
    name: ResourceName
    mode: Literal["gateway", "sidecar", "lambda"]


class Adot(Monitored):
    model_config = STRICT
    kind: Literal["adot"]
    ecs_cluster: str
    collectors: list[Collector] = Field(min_length=1)


class Grafana(Monitored):
    model_config = STRICT
    kind: Literal["grafana"]
    workspace_name: ResourceName
    authentication: Literal["AWS_SSO", "SAML"] = "AWS_SSO"


class EcsCluster(Monitored):
    model_config = STRICT
    kind: Literal["ecs_cluster"]
    cluster_name: ResourceName
    container_insights: bool = True


Component = Annotated[
    ApiGateway
    | Lambda
    | Msk
    | MskReplicator
    | S3Lake
    | Glue
    | Emr
    | Rds
    | DocumentDb
    | Mwaa
    | Adot
    | Grafana
    | EcsCluster,
    Field(discriminator="kind"),
]

# Kinds that hold data, and so carry DR objectives.
STATEFUL_KINDS = frozenset({"msk", "s3", "rds", "documentdb"})
