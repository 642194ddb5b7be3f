"""msk-broker-reboot's parameters and its step table: check the cluster is healthy, reboot
its brokers one at a time (each back in the cluster with every ISR whole before the next,
the stop conditions checked before each broker and while waiting), verify the end state."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ops.errors import BadInput
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant, Runbook, RunContext, Step, StepKind, StopCondition
from ops.runbook.table import Says, StepRow, steps_of

if TYPE_CHECKING:
    from runbooks.msk_broker_reboot.aws import AwsReboot
    from runbooks.msk_broker_reboot.local import LocalReboot


class RebootParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    cluster: str = Field(default="events", description="the msk component of the inventory")
    brokers: list[int] | None = Field(
        default=None, description="the broker ids to reboot, in order (e.g. 1,3); default every broker"
    )
    grace_seconds: float = Field(
        default=30,
        ge=0,
        le=900,
        description="how long under-replicated partitions (beyond the broker rebooting) or no "
        "active controller are tolerated before the drill stops",
    )
    timeout_seconds: float = Field(
        default=600, gt=0, le=3600, description="how long one broker may take to be back with every ISR whole"
    )

    @field_validator("brokers", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """`-p brokers=1,3` on the command line."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("brokers")
    @classmethod
    def _distinct(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("name each broker id once, e.g. 1,3")
        return value


CHECK, ACTION, VERIFY = StepKind.CHECK, StepKind.ACTION, StepKind.VERIFY
LOCAL_HEALTH = ("broker:Metadata", "broker:DescribeQuorum", "http:GET ingest /metrics")
AWS_HEALTH = ("cloudwatch:GetMetricData",)

# Each step runs the provider's method of its name (reboot-brokers: reboot_brokers).
STEPS = (
    StepRow(
        "check-cluster",
        CHECK,
        local=Says(
            "every broker is in the cluster; no partition under-replicated or offline; a controller "
            "is active; the ingest counters read",
            LOCAL_HEALTH,
        ),
        aws=Says(
            "the cluster is ACTIVE with its brokers; no partition under-replicated or offline; a "
            "controller is active",
            ("kafka:ListClustersV2", "kafka:ListNodes", *AWS_HEALTH),
        ),
    ),
    StepRow(
        "reboot-brokers",
        ACTION,
        undo="restart_stopped",
        local=Says(
            "reboot each broker in turn (controlled shutdown, start) and wait until it is back with "
            "every ISR whole; stop conditions before each broker and while waiting",
            ("process:stop broker", "process:start broker", *LOCAL_HEALTH),
            undo_calls=("process:start broker",),
        ),
        aws=Says(
            "reboot each broker in turn (RebootBroker) and wait until its operation ends and every "
            "ISR is whole; stop conditions before each broker and while waiting",
            (
                "kafka:DescribeClusterV2",
                "kafka:RebootBroker",
                "kafka:DescribeClusterOperationV2",
                *AWS_HEALTH,
            ),
            undo_calls=("kafka:DescribeClusterOperationV2",),
        ),
    ),
    StepRow(
        "verify-cluster",
        VERIFY,
        local=Says(
            "every broker is back in the cluster; every ISR whole; a controller is active", LOCAL_HEALTH
        ),
        aws=Says(
            "every broker is back in the cluster; every ISR whole; a controller is active",
            ("kafka:ListNodes", *AWS_HEALTH),
        ),
    ),
)


class MskBrokerReboot(Runbook):
    name = "msk-broker-reboot"
    drills: ClassVar[frozenset[str]] = frozenset({"msk"})
    summary = "Reboot an MSK cluster's brokers one at a time, each back with every ISR whole first"
    params_model = RebootParams

    def objective_component(self, env: Environment, params: Any) -> str | None:
        return str(params.cluster)

    def target(self, env: Environment, params: Any) -> str:
        # The msk-failover runbooks lock their primary under the same key: a reboot drill
        # and a failover of that cluster never run at once.
        msk_component(env, params.cluster)
        return f"{env.prefix}-{params.cluster}"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        return steps_of(STEPS, env.provider, provider_for(env, params), params)

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        """Checked by the engine before the reboot step; the step checks them again before
        each broker and while it waits for one."""
        return provider_for(env, params).stop_conditions()

    def grants(self, env: Environment, params: Any) -> list[IamGrant]:
        from runbooks.msk_broker_reboot.grants import reboot_grants  # only the IAM command needs it

        return reboot_grants(env, params)

    def drill_params(self, env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
        if not isinstance(env.spec.components.get(component), Msk):
            known = ", ".join(env.components_of(Msk)) or "none"
            raise BadInput(f"--component {component!r}: msk-broker-reboot drills an msk component ({known})")
        return {"cluster": component}

    def outputs(self, ctx: RunContext) -> dict[str, Any]:
        rebooted: dict[str, dict[str, Any]] = ctx.outputs.get("reboot-brokers", {}).get("rebooted", {})
        seconds = {broker: done["seconds"] for broker, done in rebooted.items()}
        return {
            # The longest a broker took from its reboot to being back with every ISR whole.
            "RecoveryTime": max(seconds.values(), default=0.0),
            "RPOSeconds": 0.0,  # a rolling reboot of a replicated cluster loses no acknowledged record
            "SecondsPerBroker": seconds,
            "BrokersRebooted": [int(broker) for broker in rebooted],
        }


def msk_component(env: Environment, name: str) -> Msk:
    component = env.spec.components.get(name)
    if not isinstance(component, Msk):
        known = ", ".join(env.components_of(Msk)) or "none"
        raise BadInput(f"--param cluster: {name!r} is not an msk component (known: {known})")
    return component


def provider_for(env: Environment, params: Any) -> LocalReboot | AwsReboot:
    """The provider of the environment, imported when a run needs it."""
    component = msk_component(env, params.cluster)
    if env.provider == "aws":
        from runbooks.msk_broker_reboot.aws import AwsReboot

        return AwsReboot(env, params, component)
    from runbooks.msk_broker_reboot.local import LocalReboot

    return LocalReboot(env, params, component)
