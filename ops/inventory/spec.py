"""The shape of platform.yaml: a base spec and environment overlays of it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ops.inventory.components import Component
from ops.inventory.types import STRICT, Every, Region, ResourceName, RetentionDays, Seconds, Severity


class NotificationTopic(BaseModel):
    model_config = STRICT
    topic: ResourceName


class Objective(BaseModel):
    """A DR objective for one stateful component."""

    model_config = STRICT
    rpo: Seconds
    rto: Seconds


class Slo(BaseModel):
    """Service level objectives for a request path, checked by load-test campaigns."""

    model_config = STRICT
    p95_ms: float = Field(gt=0, le=3_600_000)
    p99_ms: float = Field(gt=0, le=3_600_000)
    error_rate: float = Field(ge=0, le=1)
    min_throughput_rps: float = Field(default=0, ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _p99_not_below_p95(self) -> Slo:
        if self.p99_ms < self.p95_ms:
            raise ValueError("p99_ms must not be below p95_ms")
        return self


class LogsSpec(BaseModel):
    model_config = STRICT
    retention_days: RetentionDays = 30


class AlarmsSpec(BaseModel):
    """Settings of the alarm engine for an environment."""

    model_config = STRICT
    # PutMetricAlarm's default quota is 3 calls a second per region.
    write_rate: float = Field(default=3.0, gt=0, le=1000)


class RunbookSettings(BaseModel):
    """Where runbooks keep their locks and journals on AWS (the local world uses files)."""

    model_config = STRICT
    lock_table: ResourceName | None = None  # DynamoDB table, key `target` (string)
    journal_bucket: ResourceName | None = None  # S3 bucket: a copy of each run's journal
    approval_ttl: Seconds = 3600.0  # how long an approval token stays valid (`ops runbook approve`)


class FargatePrices(BaseModel):
    """What a Fargate load test costs (Linux/x86 on-demand, per hour); spot is cheaper by
    `spot_discount`. Taken from AWS's price list for the region; keep them current."""

    model_config = STRICT
    vcpu_hour: float = Field(default=0.04048, ge=0, le=1000)
    gb_hour: float = Field(default=0.004445, ge=0, le=1000)
    spot_discount: float = Field(default=0.70, ge=0, lt=1)


class LoadtestSettings(BaseModel):
    """Where campaigns run on AWS: terraform/modules/loadtest's cluster and task definitions
    (its network is read from the SSM parameter the module writes)."""

    model_config = STRICT
    results_bucket: ResourceName | None = None  # campaigns' results are archived here
    cluster: ResourceName = "loadtest"
    master_task: ResourceName = "loadtest-master"  # task definition families
    worker_task: ResourceName = "loadtest-worker"
    container: str = Field(default="locust", pattern=r"^[A-Za-z0-9_-]{1,255}$")
    prices: FargatePrices = FargatePrices()


class PlatformSpec(BaseModel):
    """What an environment is made of: the base, with an environment's overlay merged in."""

    model_config = STRICT
    region: Region
    notifications: dict[Severity, NotificationTopic] = Field(min_length=1)
    components: dict[str, Component] = Field(min_length=1)
    objectives: dict[str, Objective] = {}
    # component -> runbook -> how often a drill of it must pass (`ops drill due`)
    drill_policy: dict[str, dict[str, Every]] = {}
    slos: dict[str, Slo] = {}
    logs: LogsSpec = LogsSpec()
    alarm_settings: AlarmsSpec = AlarmsSpec()
    runbook_settings: RunbookSettings = RunbookSettings()
    loadtest_settings: LoadtestSettings = LoadtestSettings()


# Keys of an environment entry that describe the environment itself; every other key
# is an overlay merged into the base.
ENVIRONMENT_META_KEYS = ("provider", "protected", "account_id")


class EnvironmentMeta(BaseModel):
    model_config = STRICT
    provider: Literal["aws", "local"] = "aws"
    protected: bool = False
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")


class InventoryHeader(BaseModel):
    """The top level of platform.yaml, before the base and overlays are merged."""

    model_config = STRICT
    version: Literal[1]
    platform: ResourceName
    base: dict[str, object]
    environments: dict[str, dict[str, object]] = Field(min_length=1)
