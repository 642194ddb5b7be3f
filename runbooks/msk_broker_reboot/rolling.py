"""The rolling reboot both providers run: one broker at a time, each waited for until it
is back in the cluster with every ISR whole, and the stop conditions checked before each
broker and while waiting (a provider only reads the cluster and reboots one broker).

When a stop condition holds, the step raises `Stopped`: the engine then rolls the step back
(`restart_stopped`: the broker it was rebooting is started again, from the step's note) and
the run fails with the condition's name and reason in one line."""

from __future__ import annotations

import statistics
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from ops.errors import BadInput, OpsError
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext, StopCondition
from ops.runbook.waits import WaitHistory, poll_delays
from runbooks.msk_broker_reboot.steps import RebootParams

UNDER_REPLICATED = "under-replicated partitions"
OFFLINE = "offline partitions"
NO_CONTROLLER = "no active controller"
INGEST_ERRORS = "ingest error rate"
CONDITIONS = (UNDER_REPLICATED, OFFLINE, NO_CONTROLLER, INGEST_ERRORS)
# These stop the drill as soon as they are seen; the others once they last the grace period
# (a partition catching up, a controller election).
AT_ONCE = frozenset({OFFLINE, INGEST_ERRORS})
SHOWN = 3  # partitions named in a reason


@dataclass(frozen=True)
class Health:
    """One look at the cluster. `under_replicated` holds only what the broker being
    rebooted does not explain (partition -> what its ISR lacks)."""

    back: bool  # the broker rebooting (if any) is back, every ISR whole, a controller active
    under_replicated: dict[str, str] = field(default_factory=dict)  # where -> what it lacks
    under_count: int = 0  # the partitions under-replicated, by those entries
    offline: tuple[str, ...] = ()  # the partitions with no leader, by name where known
    offline_count: int = 0
    controller: bool | None = True  # None: unknown (no data)
    ingest: tuple[int, int] | None = None  # (failed, all) records since the drill started
    waiting_for: str = ""  # what `back` still waits for


class Stopped(OpsError):
    """A stop condition ended the run."""

    def __init__(self, message: str, condition: str) -> None:
        super().__init__(message)
        self.condition = condition


class Guard:
    """Which condition stops the drill, over successive looks at the cluster."""

    def __init__(self, grace: float, error_rate_slo: float | None) -> None:
        self.grace = grace
        self.slo = error_rate_slo
        self.since: dict[str, float] = {}  # condition -> when it was first seen holding

    def holding(self, health: Health) -> dict[str, str]:
        """Each condition that holds in this look, with its reason."""
        found: dict[str, str] = {}
        if health.under_replicated:
            listed = ", ".join(f"{p} {m}" for p, m in list(health.under_replicated.items())[:SHOWN])
            more = len(health.under_replicated) - SHOWN
            found[UNDER_REPLICATED] = (
                f"{health.under_count} partition(s) under-replicated for {self.grace:.0f} s or more "
                f"({listed}{f', {more} more' if more > 0 else ''})"
            )
        if health.offline_count:
            named = f" ({', '.join(health.offline[:SHOWN])})" if health.offline else ""
            found[OFFLINE] = f"{health.offline_count} partition(s) with no leader{named}"
        if health.controller is False:
            found[NO_CONTROLLER] = f"none for {self.grace:.0f} s or more"
        if health.ingest is not None and self.slo is not None:
            failed, total = health.ingest
            if total and failed / total > self.slo:
                found[INGEST_ERRORS] = (
                    f"{failed / total:.1%} of ingest records failed since the drill started "
                    f"({failed} of {total}), over the SLO's {self.slo:.1%}"
                )
        return found

    def observe(self, health: Health, now: float) -> tuple[str, str] | None:
        """The condition that stops the drill now, with its reason (None: none yet)."""
        holding = self.holding(health)
        for name in list(self.since):
            if name not in holding:
                del self.since[name]
        for name, reason in holding.items():
            first = self.since.setdefault(name, now)
            if name in AT_ONCE or now - first >= self.grace:
                return name, reason
        return None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class RollingReboot(ABC):
    """The steps of msk-broker-reboot; a provider reads the cluster and reboots a broker."""

    poll_seconds = 1.0

    def __init__(self, env: Environment, params: RebootParams, component: Msk) -> None:
        self.env = env
        self.params = params
        self.component = component
        slo = env.spec.slos.get("ingest")
        self.error_rate_slo = slo.error_rate if slo else None
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], float] = time.monotonic

    # --- what a provider does ---------------------------------------------------------
    @abstractmethod
    def preflight(self, ctx: RunContext) -> dict[str, Any]:
        """Before anything: what later looks need (the ingest counters now, the cluster's ARN)."""

    @abstractmethod
    def cluster_brokers(self, ctx: RunContext) -> list[int]:
        """Every broker id of the cluster."""

    @abstractmethod
    def health(self, ctx: RunContext, rebooting: int | None, reboot: dict[str, Any]) -> Health:
        """One look at the cluster while `rebooting` (None: no broker) is rebooted."""

    @abstractmethod
    def start_reboot(self, ctx: RunContext, broker: int, reboot: dict[str, Any], resumed: bool) -> None:
        """Reboot one broker (or, resumed, take up the reboot an earlier attempt started);
        what a rollback or a resume needs goes into `reboot` and is noted."""

    @abstractmethod
    def restart(self, ctx: RunContext, broker: int, reboot: dict[str, Any]) -> dict[str, Any]:
        """Undo: the broker the run stopped is running again."""

    @property
    def wait_kind(self) -> str:
        """The kind of wait in the wait history: a broker back, on this provider."""
        return f"msk-broker reboot ({self.env.provider})"

    @property
    def cluster(self) -> str:
        return self.params.cluster

    # --- the stop conditions ------------------------------------------------------------
    def stop_conditions(self) -> list[StopCondition]:
        def check(name: str) -> Callable[[RunContext], str | None]:
            def reason(ctx: RunContext) -> str | None:
                stop, _health = self._settle(ctx, only=name)
                return stop[1] if stop else None

            return reason

        return [StopCondition(name, check(name)) for name in CONDITIONS]

    def _settle(self, ctx: RunContext, only: str | None = None) -> tuple[tuple[str, str] | None, Health]:
        """With no broker rebooting: a condition that holds past its grace (looking again
        until it clears or the grace is over), or None; and the last look."""
        guard = Guard(self.params.grace_seconds, self.error_rate_slo)
        while True:
            health = self.health(ctx, None, {})
            stop = guard.observe(health, self.clock())
            if stop is not None and (only is None or stop[0] == only):
                return stop, health
            if not guard.since or (only is not None and only not in guard.since):
                return None, health
            self.sleep(self.poll_seconds)

    # --- the steps ----------------------------------------------------------------------
    def check_cluster(self, ctx: RunContext) -> dict[str, Any]:
        found = self.preflight(ctx)
        every = self.cluster_brokers(ctx)
        chosen = self.params.brokers or every
        unknown = sorted(set(chosen) - set(every))
        if unknown:
            raise BadInput(
                f"--param brokers: {', '.join(map(str, unknown))} not a broker of {self.cluster} "
                f"(brokers: {', '.join(map(str, every))})"
            )
        stop, health = self._settle(ctx)
        if stop is not None or not health.back:
            why = f"{stop[0]}: {stop[1]}" if stop else health.waiting_for
            raise OpsError(f"Kafka cluster {self.cluster} is not healthy ({why}); the drill does not start")
        return {**found, "brokers": chosen, "all_brokers": every, "checked_at": _now_iso()}

    def reboot_brokers(self, ctx: RunContext) -> dict[str, Any]:
        rebooted: dict[str, dict[str, Any]] = dict(ctx.noted("rebooted") or {})
        for broker in ctx.output("check-cluster", "brokers"):
            if str(broker) in rebooted:
                continue  # done by an earlier attempt
            noted = ctx.noted("reboot") if ctx.noted("stopping") == broker else None
            reboot: dict[str, Any] = dict(noted or {})
            if noted is None:
                stop, _health = self._settle(ctx)
                if stop is not None:
                    self._stopped(ctx, f"stopped before broker {broker} of {self.cluster}", stop)
                # Noted before the broker goes down: a rollback or a resume knows which it is.
                reboot = {"started": time.time()}
                ctx.note(stopping=broker, reboot=reboot)
            self.start_reboot(ctx, broker, reboot, resumed=noted is not None)
            ctx.note(reboot=reboot)
            ctx.checkpoint("waiting")
            self._wait_back(ctx, broker, reboot)
            rebooted[str(broker)] = {
                "seconds": round(time.time() - reboot["started"], 3),
                **{key: value for key, value in reboot.items() if key != "started"},
            }
            ctx.note(stopping=None, reboot=None, rebooted=rebooted)
        longest = max((done["seconds"] for done in rebooted.values()), default=0.0)
        return {"rebooted": rebooted, "longest_seconds": longest}

    def _wait_back(self, ctx: RunContext, broker: int, reboot: dict[str, Any]) -> None:
        guard = Guard(self.params.grace_seconds, self.error_rate_slo)
        started = self.clock()
        deadline = started + self.params.timeout_seconds
        # Polled as earlier reboots of this broker size say (ops/runbook/waits.py), never
        # more often than the provider's own cadence (on AWS a metric point is a minute).
        history, kind, size = WaitHistory.of(ctx.state), self.wait_kind, self.component.instance_type
        seen = history.durations(kind, size)
        expected = statistics.median(seen) if seen else None
        delays = poll_delays(seen)
        while True:
            health = self.health(ctx, broker, reboot)
            ctx.watch(f"broker {broker}: {health.waiting_for or 'back'}", expected)
            stop = guard.observe(health, self.clock())
            if stop is not None:
                self._stopped(ctx, f"stopped at broker {broker} of {self.cluster}", stop)
            if health.back:
                history.record(kind, size, self.clock() - started)
                return
            if self.clock() > deadline:
                raise OpsError(
                    f"broker {broker} of {self.cluster} is not back with every ISR whole within "
                    f"{self.params.timeout_seconds:.0f} s ({health.waiting_for}); "
                    "the timeout_seconds parameter waits longer"
                )
            self.sleep(max(self.poll_seconds, min(next(delays), deadline - self.clock())))

    @staticmethod
    def _stopped(ctx: RunContext, where: str, stop: tuple[str, str]) -> NoReturn:
        """Journal which condition stopped the run (the report shows it), then stop it."""
        ctx.note(stopped_by={"condition": stop[0], "reason": stop[1]})
        raise Stopped(f"{where}: {stop[0]}: {stop[1]}", stop[0])

    def restart_stopped(self, ctx: RunContext) -> dict[str, Any] | None:
        """Undo: the broker the run was rebooting when it stopped is started again (a
        broker it finished, or one it never touched, is left as it is)."""
        done = ctx.outputs.get("reboot-brokers", {})
        broker = done.get("stopping")
        if broker is None:
            return None
        return {"broker": broker, **self.restart(ctx, int(broker), dict(done.get("reboot") or {}))}

    def verify_cluster(self, ctx: RunContext) -> dict[str, Any]:
        stop, health = self._settle(ctx)
        if stop is not None or not health.back:
            why = f"{stop[0]}: {stop[1]}" if stop else health.waiting_for
            raise OpsError(f"Kafka cluster {self.cluster} is not healthy after the reboots ({why})")
        return {"verified_at": _now_iso(), "brokers": ctx.output("check-cluster", "all_brokers")}
