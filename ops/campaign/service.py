"""The load-test service behind `ops loadtest`: launch a campaign on a backend (a Fargate
launch priced first), follow it to its verdict, archive its report, reconnect to one whose
command was lost, and read a finished one back. The command parses and prints; what only
the composition root knows (clients, the local platform, the terminal) it lends through
`CampaignHost`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.campaign.backend import ATTACH_FILE, Backend
from ops.campaign.compare import compare, load_results
from ops.campaign.engine import Check, run_campaign
from ops.campaign.spec import Campaign, load_campaign
from ops.errors import BadInput, OpsError
from ops.inventory.environment import Environment
from ops.inventory.spec import Slo
from ops.telemetry.metrics import record_campaign
from ops.telemetry.tracing import span
from ops.util.ids import new_run_id

if TYPE_CHECKING:  # the backends, sinks and archive bring botocore, psutil, Prometheus: loaded when used
    from ops.aws.clients import ClientFactory
    from ops.campaign.fargate_backend import FargateBackend
    from ops.campaign.live import LiveSink

SPEC_FILE = "campaign-spec.json"  # the campaign as it ran, for attach


@dataclass(frozen=True)
class CampaignHost:
    """What the composition root lends a campaign."""

    state_root: Path
    environment: Callable[[str], Environment]  # an environment of the inventory, by name
    aws_for: Callable[[Environment], ClientFactory]
    local_ingest_url: Callable[[], str]  # the running local platform's ingest service
    notice: Callable[[str], None]  # a plain line for the person (stderr)
    confirm: Callable[[Environment, str], None]  # a protected environment: ask, or refuse
    # While the load runs: a headline, and a function that shows the live line (redrawn on a
    # terminal, printed when piped; the engine calls it every 2 s at most).
    live_view: Callable[[str], AbstractContextManager[Callable[[str], None]]]


@dataclass(frozen=True)
class LiveOptions:
    metrics_port: int | None = None  # Prometheus on 127.0.0.1
    cloudwatch: bool = True


@dataclass(frozen=True)
class RunRequest:
    campaign: str  # a campaign's name or a YAML file
    env: str
    backend: str = "local"  # or "fargate"
    keep_samples: bool = False
    live: LiveOptions = field(default_factory=LiveOptions)
    dry_run: bool = False  # Fargate: price the launch, start nothing
    max_cost: float | None = None  # Fargate: USD
    start_timeout: float = 300.0  # Fargate: seconds for the master to run and answer
    auto_approve: bool = False
    ui: bool = False  # print the master's web UI (loopback, or the Fargate port forward)


@dataclass(frozen=True)
class DryRun:
    """A Fargate launch priced and not started."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class CampaignReport:
    """A campaign's verdict as results.json and its report hold it (cost included)."""

    data: dict[str, Any]
    checks: list[Check]
    met: bool

    @classmethod
    def of_results(cls, data: dict[str, Any]) -> CampaignReport:
        checks = [(c["measure"], c["objective"], c["measured"], c["met"]) for c in data.get("slo", [])]
        return cls(data, checks, bool(data.get("slo_met", False)))


@dataclass(frozen=True)
class SweepResult:
    cluster: str
    found: list[dict[str, str]]


@dataclass(frozen=True)
class Comparison:
    rows: list[tuple[str, float, float, bool]]  # (measure, baseline, run, ok)

    @property
    def regressed(self) -> list[str]:
        return [name for name, _, _, ok in self.rows if not ok]


def run(request: RunRequest, host: CampaignHost) -> CampaignReport | DryRun:
    """Run a campaign to its verdict, or price a Fargate launch (`dry_run`)."""
    spec = load_campaign(request.campaign)
    environment = host.environment(request.env)
    slo = campaign_slo(spec, environment)
    campaign_id = new_run_id(spec.name)
    folder = host.state_root / "loadtests" / campaign_id
    backend: Backend
    if request.backend == "fargate":
        launched = _fargate(host, environment, spec, campaign_id, folder, request)
        if isinstance(launched, DryRun):
            return launched
        backend, web = launched, launched.web
    else:
        if environment.provider != "local":
            raise BadInput(
                f"--env {request.env}: the local backend loads the local platform only; use --backend fargate"
            )
        from ops.campaign.local_backend import LocalBackend

        local = LocalBackend(spec, host.local_ingest_url(), folder, samples=request.keep_samples)
        backend, web = local, local.web
    if environment.protected and not request.auto_approve:
        host.confirm(environment, f"Start load test {spec.name}?")
    _remember(folder, spec, request.env)
    sinks = _sinks(host, environment, spec, campaign_id, request.live)
    ui = web if request.ui else None
    return _follow(host, environment, spec, backend, campaign_id, folder, slo, sinks, ui)


def attach(run_id: str, live: LiveOptions, host: CampaignHost) -> CampaignReport:
    """Reconnect to a running campaign whose command is gone: follow it to the end, then
    judge it as `run` would have."""
    from ops.campaign.fargate_backend import FargateBackend
    from ops.campaign.local_backend import LocalBackend, locust_environment

    folder = host.state_root / "loadtests" / run_id
    if not (folder / SPEC_FILE).exists() or not (folder / ATTACH_FILE).exists():
        raise BadInput(
            f"{run_id}: no campaign started under {folder.parent} (ops loadtest run prints the id)"
        )
    saved = json.loads((folder / SPEC_FILE).read_text())
    spec = Campaign.model_validate(saved["campaign"])
    environment = host.environment(saved["env"])
    started = json.loads((folder / ATTACH_FILE).read_text())
    backend: Backend
    if started["backend"] == "fargate":
        env_vars = locust_environment(spec, folder, samples=False)
        prices = environment.spec.loadtest_settings.prices
        backend = FargateBackend.reattach(host.aws_for(environment), spec, folder, env_vars, prices)
    else:
        backend = LocalBackend.reattach(spec, folder)
    host.notice(f"attached to {run_id}")
    slo = campaign_slo(spec, environment)
    sinks = _sinks(host, environment, spec, run_id, live)
    return _follow(host, environment, spec, backend, run_id, folder, slo, sinks)


def report(run_id: str, state_root: Path) -> CampaignReport:
    """A finished campaign's verdict, from its results.json."""
    return CampaignReport.of_results(load_results(state_root, run_id))


def compare_runs(run_id: str, baseline: str, tolerance: float, state_root: Path) -> Comparison:
    return Comparison(
        compare(load_results(state_root, run_id), load_results(state_root, baseline), tolerance)
    )


def sweep(env: str, campaign_id: str | None, dry_run: bool, host: CampaignHost) -> SweepResult:
    """Stop (or list) orphaned Fargate campaign tasks: past their expiry, or one campaign's."""
    from botocore.exceptions import ClientError

    from ops.campaign.fargate_tasks import sweep as sweep_tasks

    environment = host.environment(env)
    cluster = environment.resource_name(environment.spec.loadtest_settings.cluster)
    aws = host.aws_for(environment)
    try:
        found = sweep_tasks(aws, cluster, datetime.now(UTC), campaign_id, stop=not dry_run)
    except ClientError as error:
        raise OpsError(f"sweep of {cluster}: {error.response['Error']['Code']}: {error}") from error
    return SweepResult(cluster, found)


def campaign_slo(spec: Campaign, environment: Environment) -> Slo:
    slo = spec.slo or environment.spec.slos.get("ingest")
    if slo is None:
        raise BadInput(
            f"campaign {spec.name} has no slo and environment {environment.name} has no slos.ingest"
        )
    return slo


def _fargate(
    host: CampaignHost,
    environment: Environment,
    spec: Campaign,
    campaign_id: str,
    folder: Path,
    request: RunRequest,
) -> FargateBackend | DryRun:
    """Price the launch before anything starts; a dry run stops there."""
    from ops.campaign.fargate_backend import WEB_PORT, FargateBackend
    from ops.campaign.fargate_launch import MASTER_URL_ENV, prepare_launch
    from ops.campaign.local_backend import locust_environment
    from ops.campaign.target import ingest_url

    if request.ui and not request.dry_run and not os.environ.get(MASTER_URL_ENV):
        raise BadInput(
            f"--ui: the Fargate master's web UI is in the VPC, reachable here only through a port "
            f"forward; forward its port {WEB_PORT} to 127.0.0.1 and set {MASTER_URL_ENV}"
        )
    aws = host.aws_for(environment)
    launch = prepare_launch(
        aws, environment, spec, ingest_url(environment, aws, host.local_ingest_url), campaign_id
    )
    estimate = launch.cost(spec.total_duration, environment)
    host.notice(
        f"{campaign_id}: 1 master + {launch.workers} workers{' (spot)' if launch.spot else ''} in "
        f"{launch.cluster}, about ${estimate.usd:.2f} ({estimate.vcpu_hours:.2f} vCPU-h, "
        f"{estimate.gb_hours:.2f} GB-h)"
    )
    if request.max_cost is not None and estimate.usd > request.max_cost:
        raise BadInput(
            f"--max-cost {request.max_cost:g}: the estimate is ${estimate.usd:.2f}; "
            f"raise it or shrink the campaign"
        )
    if request.dry_run:
        return DryRun({"campaign_id": campaign_id, "launch": asdict(launch), "estimate": estimate.payload()})
    env_vars = locust_environment(spec, folder, samples=False)
    for name in ("PYTHONPATH", "OPS_LOADTEST_RESULTS_DIR"):  # paths of this machine, not the task's
        env_vars.pop(name)
    prices = environment.spec.loadtest_settings.prices
    return FargateBackend(
        aws, spec, launch, campaign_id, folder, env_vars, prices, request.start_timeout, estimate
    )


def _sinks(
    host: CampaignHost, environment: Environment, spec: Campaign, campaign_id: str, live: LiveOptions
) -> list[LiveSink]:
    from ops.campaign.live import CloudWatchSink, PrometheusSink

    sinks: list[LiveSink] = []
    if live.metrics_port is not None:
        try:
            prometheus = PrometheusSink(campaign_id, live.metrics_port)
        except OSError as error:  # the port is taken: the campaign matters more than its live view
            reason = error.strerror or str(error)
            host.notice(
                f"warning: live metrics off: 127.0.0.1:{live.metrics_port}: {reason}; "
                "pick a free --metrics-port next time (the campaign runs)"
            )
        else:
            sinks.append(prometheus)
            host.notice(f"live metrics: http://127.0.0.1:{prometheus.port}/metrics")
    if live.cloudwatch:
        client = host.aws_for(environment).client("cloudwatch")
        sinks.append(CloudWatchSink(client, environment.name, spec.name, host.notice))
    return sinks


def _remember(folder: Path, spec: Campaign, env: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    saved = {"env": env, "campaign": spec.model_dump(mode="json", by_alias=True)}
    (folder / SPEC_FILE).write_text(json.dumps(saved, indent=2) + "\n")


def _follow(
    host: CampaignHost,
    environment: Environment,
    spec: Campaign,
    backend: Backend,
    campaign_id: str,
    folder: Path,
    slo: Slo,
    sinks: list[LiveSink],
    ui: str | None = None,
) -> CampaignReport:
    """Drive the run to its verdict (the engine writes the report, cost included), then
    archive it and record the campaign's metrics. `ui`: the master's web UI, printed once
    the master is started."""
    from ops.campaign.archive import archive
    from ops.campaign.live import LineSink

    load = f"{spec.peak_users} users" if spec.model == "closed" else f"open model, {spec.max_users} users"
    headline = f"campaign {campaign_id}: {load}, {spec.workers} workers, {spec.total_duration:g} s"

    def show_ui() -> None:
        host.notice(f"Locust web UI: {ui}")

    on_start = show_ui if ui else None
    with span("loadtest.run", campaign=spec.name), host.live_view(headline) as show:
        sinks = [LineSink(show), *sinks]
        outcome = run_campaign(spec, backend, campaign_id, folder, slo, sinks, on_start=on_start)
    if outcome.cost is not None and outcome.cost.unknown:
        host.notice(f"warning: actual cost unknown: {outcome.cost.unknown}")
    data = outcome.data

    def s3() -> Any:
        return host.aws_for(environment).client("s3")

    data["archived"] = archive(s3, environment, folder, campaign_id, host.notice)
    record_campaign(spec.name, environment.name, backend.name, data)
    return CampaignReport(data, outcome.checks, outcome.met)
