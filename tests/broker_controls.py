"""A runbook control for the broker-reboot failure test: at `during:<step>` (where the step
calls `ctx.checkpoint`, the start of its wait for a rebooted broker), SIGKILL another broker
of the cluster, once, as a second failure in the middle of a drill would. The cluster and
the point come from OPS_TEST_KILL_BROKER (`<cluster>@<point>`); the broker killed is the
next one after the broker being rebooted (which the step noted before stopping it).

A subprocess gets it with `kill_broker_env(cluster, point)`, through OPS_RUNBOOK_CONTROLS
(ops/runbook/controls.py), as tests/runbook_controls.py's controls are loaded."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ops.local.platform import require_running
from ops.local.state import LocalState
from ops.local.streaming import LocalKafka
from ops.runbook.controls import CONTROLS_ENV, Control
from ops.runbook.model import RunContext, Step
from ops.util.processes import wait_until

KILL_BROKER_ENV = "OPS_TEST_KILL_BROKER"
KILLED_FILE = "killed-broker"  # in the state folder: which broker the control killed


def broker_pid_file(state: Path, cluster: str, node: int) -> Path:
    return state / "kafka" / cluster / f"broker-{node}" / "broker.pid"


class KillOtherBroker(Control):
    def __init__(self, cluster: str, point: str) -> None:
        self.cluster = cluster
        self.point = point
        self.done = False

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        if self.done or self.point != f"during:{step.id}":
            return
        rebooting = int(ctx.noted("stopping"))
        nodes = sorted(int(p.parent.name.removeprefix("broker-")) for p in self._pid_files(ctx.state.root))
        victim = nodes[(nodes.index(rebooting) + 1) % len(nodes)]
        pid = int(broker_pid_file(ctx.state.root, self.cluster, victim).read_text().split()[0])
        (ctx.state.root / KILLED_FILE).write_text(f"{victim} {pid}\n")
        os.kill(pid, signal.SIGKILL)
        self.done = True
        # Until the cluster has fenced it: the rebooted broker cannot look back before the
        # second failure shows (a race the test would otherwise lose now and then).
        cluster = LocalKafka(ctx.env, LocalState.of(ctx.state)).cluster(
            require_running(ctx.state), self.cluster
        )
        wait_until(lambda: victim not in cluster.live_nodes(), 60, f"broker {victim} out of the cluster")

    def _pid_files(self, state: Path) -> list[Path]:
        return list((state / "kafka" / self.cluster).glob("broker-*/broker.pid"))


def kill_other_broker() -> KillOtherBroker:
    """The control OPS_RUNBOOK_CONTROLS names."""
    cluster, _, point = os.environ.get(KILL_BROKER_ENV, "").partition("@")
    return KillOtherBroker(cluster, point)


def kill_broker_env(cluster: str, point: str) -> dict[str, str]:
    """The variables that make an `ops drill` process kill a second broker at `point`."""
    return {CONTROLS_ENV: f"{__name__}:kill_other_broker", KILL_BROKER_ENV: f"{cluster}@{point}"}
