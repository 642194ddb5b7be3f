"""aurora-failover's AWS provider in mode writer against the emulator as a server over HTTP
(moto serves FailoverDBCluster): an Aurora PostgreSQL cluster with a writer and a reader,
the writer moved to the reader and the endpoint parameter cut over through the real CLI, a
run killed after its cutover and aborted (the writer and the parameter back), a failed run
that fails back by itself with every call it made declared by its step, and the refusals,
each with nothing changed.

Every assertion reads the emulator back. The tests share one emulator and leave the cluster
with either instance as its writer: each starts from whichever writes now. The global modes
(SwitchoverGlobalCluster, FailoverGlobalCluster: not served by the emulator) are tested with
botocore's Stubber (tests/unit/test_aurora_failover_aws.py)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.aws.clients import ClientFactory
from ops.contracts import DatabaseEndpoint
from ops.errors import OpsError
from ops.inventory import load_inventory
from ops.runbook.controls import Control
from ops.runbook.engine import RunbookEngine
from ops.runbook.model import RunContext, Step
from ops.runbook.waits import WaitHistory
from ops.state import StateDir
from runbooks.aurora_failover.steps import AuroraFailover
from tests.helpers import INVENTORY, Result, run_cli, run_main
from tests.integration.conftest import emulator_server
from tests.runbook_controls import FailAt, kill_at_env

pytestmark = pytest.mark.integration

CLUSTER = "dataplat-staging-warehouse"
INSTANCES = (f"{CLUSTER}-1", f"{CLUSTER}-2")
SOLO = "dataplat-staging-solo"  # one instance: no reader
ASLEEP = "dataplat-staging-asleep"  # stopped
PARAMETER = "/dataplat/staging/warehouse/endpoint"


def _on_instance(instance: str | None) -> str:
    """The endpoint parameter's value naming an instance (not the cluster's endpoint)."""
    return DatabaseEndpoint(f"{instance}.example", 5432, "warehouse", "ingest").to_json()


@dataclass
class World:
    factory: ClientFactory
    env: dict[str, str]
    inventory: Path  # staging with the warehouse an Aurora cluster, and two more clusters

    @property
    def runs(self) -> Path:
        return Path(self.env["OPS_STATE_DIR"]) / "runs"


@pytest.fixture(scope="module")
def world(short_tmp: Path) -> Iterator[World]:
    with emulator_server(short_tmp) as (factory, env):
        _seed(factory)
        yield World(factory, env, _inventory(short_tmp))


def _cluster(factory: ClientFactory, name: str, instances: int) -> None:
    rds = factory.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        EngineVersion="16.4",
        MasterUsername="postgres",
        MasterUserPassword="not-a-real-secret",
    )
    for number in range(1, instances + 1):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{number}",
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    rds.describe_db_clusters(DBClusterIdentifier=name)  # the emulator's clusters say "creating" once


def _seed(factory: ClientFactory) -> None:
    _cluster(factory, CLUSTER, 2)
    _cluster(factory, SOLO, 1)
    _cluster(factory, ASLEEP, 2)
    factory.client("rds").stop_db_cluster(DBClusterIdentifier=ASLEEP)
    factory.client("ssm").put_parameter(Name=PARAMETER, Value=_on_instance(INSTANCES[0]), Type="String")
    for severity in ("critical", "warning", "info"):  # where runs are announced
        factory.client("sns").create_topic(Name=f"dataplat-staging-alerts-{severity}")


def _inventory(folder: Path) -> Path:
    text = INVENTORY.read_text()
    for old, new in (
        ("      engine: postgres\n", "      engine: aurora-postgresql\n      readers: 1\n"),
        (
            "    documents:\n",
            "    solo: {kind: rds, engine: aurora-postgresql, identifier: solo, database: warehouse}\n"
            "    asleep: {kind: rds, engine: aurora-postgresql, identifier: asleep, database: warehouse}\n"
            "    documents:\n",
        ),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    path = folder / "platform-aurora.yaml"
    path.write_text(text)
    return path


def _failover(
    world: World, *params: str, inventory: Path | None = None, env: dict[str, str] | None = None
) -> Result:
    """`ops --inventory F runbook run aurora-failover --env staging --execute -p P... -o json`."""
    return run_cli(
        "--inventory",
        str(inventory or world.inventory),
        "runbook",
        "run",
        "aurora-failover",
        "--env",
        "staging",
        "--execute",
        *(arg for param in params for arg in ("-p", param)),
        "-o",
        "json",
        env={**world.env, **(env or {})},
    )


def _writers(world: World) -> dict[str, str | None]:
    """Each cluster's writer instance."""
    clusters = world.factory.client("rds").describe_db_clusters()["DBClusters"]
    return {
        c["DBClusterIdentifier"]: next(
            (m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if m["IsClusterWriter"]), None
        )
        for c in clusters
    }


def _other(writer: str | None) -> str:
    (reader,) = [name for name in INSTANCES if name != writer]
    return reader


def _parameter(world: World) -> tuple[str, int]:
    """The endpoint parameter's value and version (a write of the same value is seen)."""
    found = world.factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]
    return found["Value"], found["Version"]


def _clients_on_the_writer(world: World) -> str | None:
    """The clients read the writer's instance endpoint (as before any cutover), so that a
    cutover to the cluster's endpoint is seen whatever an earlier test left; the writer."""
    writer = _writers(world)[CLUSTER]
    world.factory.client("ssm").put_parameter(
        Name=PARAMETER, Value=_on_instance(writer), Type="String", Overwrite=True
    )
    return writer


def _world_state(world: World) -> dict[str, Any]:
    """Everything a run may change: every cluster's writer and status, the parameter."""
    clusters = world.factory.client("rds").describe_db_clusters()["DBClusters"]
    return {
        "writers": _writers(world),
        "statuses": {c["DBClusterIdentifier"]: c["Status"] for c in clusters},
        "parameter": _parameter(world),
    }


def _new_run(world: World, before: set[Path]) -> str:
    (folder,) = set(world.runs.iterdir()) - before
    return folder.name


def _one_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def test_the_writer_moves_to_the_reader_and_the_parameter_names_the_clusters_writer_endpoint(
    world: World,
) -> None:
    old = _clients_on_the_writer(world)
    before = DatabaseEndpoint.from_json(_parameter(world)[0])
    result = _failover(world, "mode=writer")
    assert result.code == 0, result.err
    outputs = json.loads(result.out)["outputs"]
    assert (outputs["OldWriter"], outputs["NewWriter"], outputs["Mode"]) == (old, _other(old), "writer")
    assert outputs["RPOSeconds"] == 0.0 and outputs["RPOMeasured"] is False  # shared storage: nothing lost
    assert _writers(world)[CLUSTER] == _other(old)
    (cluster,) = world.factory.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]
    after = DatabaseEndpoint.from_json(_parameter(world)[0])
    assert (after.host, after.port) == (cluster["Endpoint"], cluster["Port"])
    assert (after.dbname, after.user) == (before.dbname, before.user)  # kept from the old value
    # The wait learned how long the failover took: the next one polls by it.
    history = WaitHistory(Path(world.env["OPS_STATE_DIR"]) / "waits" / "history.jsonl")
    assert history.durations("aurora-cluster writer failover", "aurora-postgresql/db.r6g.large")


def test_a_run_killed_after_its_cutover_is_aborted_the_writer_and_the_parameter_back(world: World) -> None:
    old = _clients_on_the_writer(world)
    before = _parameter(world)
    runs = set(world.runs.iterdir()) if world.runs.exists() else set()
    killed = _failover(world, "mode=writer", env=kill_at_env("before:post-check"))
    assert killed.code == -9, killed.err  # SIGKILL: no rollback ran
    run_id = _new_run(world, runs)
    assert _writers(world)[CLUSTER] == _other(old)  # it moved and cut over, then died
    assert _parameter(world)[0] != before[0]
    aborted = run_cli("--inventory", str(world.inventory), "runbook", "abort", run_id, env=world.env)
    assert aborted.code == 0, aborted.err
    assert _writers(world)[CLUSTER] == old
    assert _parameter(world)[0] == before[0]
    status = run_main("runbook", "status", run_id, "-o", "json", env=world.env)
    assert json.loads(status.out)[0]["status"] == "aborted"


class StepCalls(Control):
    """The AWS calls made inside each step (by its id), and after each (`after:<id>`: the
    stop condition before the next step, or the rollbacks once the run failed)."""

    def __init__(self, factory: ClientFactory) -> None:
        self.stats = factory.stats
        self.seen: Counter[str] = Counter()
        self.where = "start"
        self.calls: dict[str, Counter[str]] = defaultdict(Counter)

    def flush(self) -> None:
        now = Counter(self.stats.calls)
        self.calls[self.where] += now - self.seen
        self.seen = now

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self.flush()
        self.where = step.id

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self.flush()
        self.where = f"after:{step.id}"


def test_a_failed_run_fails_back_by_itself_and_every_call_is_declared_by_its_step(
    world: World, tmp_path: Path
) -> None:
    old = _clients_on_the_writer(world)
    before = _parameter(world)
    env = load_inventory(world.inventory).environment("staging")
    runbook = AuroraFailover()
    params = runbook.params_model.model_validate({"mode": "writer"})
    factory = ClientFactory(world.factory.target)  # its own call counts
    recorder = StepCalls(factory)
    engine = RunbookEngine(StateDir(tmp_path), aws=factory, controls=(FailAt("before:post-check"), recorder))
    with pytest.raises(OpsError, match="injected failure at before:post-check"):
        engine.run(runbook, env, params, execute=True, approve=lambda _step: "tester", run_id="run-1")
    recorder.flush()
    assert _writers(world)[CLUSTER] == old and _parameter(world)[0] == before[0]
    steps = {step.id: step for step in runbook.steps(env, params)}
    between = {call for stop in runbook.stop_conditions(env, params) for call in stop.calls}
    between |= {call for step in steps.values() for call in step.rollback_calls}
    for where, calls in recorder.calls.items():
        allowed = set(steps[where].calls) if where in steps else between
        assert set(calls) <= allowed, where
    assert recorder.calls["fail-over"]["rds:FailoverDBCluster"] == 1
    # The rollbacks: the parameter put back, then the writer failed back to the old one.
    assert recorder.calls["after:cutover"]["ssm:PutParameter"] == 1
    assert recorder.calls["after:cutover"]["rds:FailoverDBCluster"] == 1


def test_a_target_that_is_not_a_reader_is_refused_and_nothing_changes(world: World) -> None:
    before = _world_state(world)
    writer = before["writers"][CLUSTER]
    for target in (f"{CLUSTER}-9", writer):
        result = _failover(world, "mode=writer", f"target={target}")
        assert result.code == 2, result.err
        assert _one_line(result) == (
            f"error: --param target: {target} is not a reader of {CLUSTER} (readers: {_other(writer)})"
        )
    assert _world_state(world) == before


@pytest.mark.parametrize(
    ("params", "code", "says"),
    [
        (
            ("component=solo",),
            1,
            f"the cluster {SOLO} has no reader to fail over to (its one instance is {SOLO}-1)",
        ),
        (("component=asleep",), 1, f"the cluster {ASLEEP} is stopped; it must be available"),
        (
            ("mode=switchover",),
            2,
            "--param mode: switchover moves the writer to an Aurora global database's secondary, and "
            "components.warehouse.global_cluster is not set",
        ),
    ],
    ids=["no-reader", "not-available", "no-global-cluster"],
)
def test_a_refused_failover_changes_nothing(
    world: World, params: tuple[str, ...], code: int, says: str
) -> None:
    before = _world_state(world)
    result = _failover(world, *params)
    assert result.code == code, result.err
    assert says in _one_line(result)
    assert _world_state(world) == before


def test_rds_postgresql_is_refused_before_the_run_starts(world: World) -> None:
    before = _world_state(world)
    runs = set(world.runs.iterdir()) if world.runs.exists() else set()
    result = _failover(world, "mode=writer", inventory=INVENTORY)  # as shipped: engine postgres
    assert result.code == 2, result.err
    says = "--param component: warehouse is RDS PostgreSQL (engine postgres); aurora-failover needs an Aurora"
    assert says in _one_line(result)
    assert _world_state(world) == before
    assert (set(world.runs.iterdir()) if world.runs.exists() else set()) == runs  # no run started
