"""`ops drill run | history | due`: DR drills, their trend, and those the policy wants now;
`ops drill schedule | schedules | unschedule`: drills on an EventBridge Scheduler schedule."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ops.cli.confirm import confirm_protected
from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import BadInput, ExitCode, OpsError
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory
    from ops.cli.context import CliContext
    from ops.inventory.environment import Environment
    from ops.runbook.drill import DrillHost
    from ops.runbook.drill_load import DrillLoad
    from ops.runbook.model import Runbook
    from ops.runbook.schedule import SchedulePlan
    from ops.state import StateDir

app = typer.Typer(
    help="DR drills: prove RPO/RTO objectives without touching production traffic.", no_args_is_help=True
)


@app.command()
@traced_command
def run(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    component: str = typer.Option("warehouse", "--component", help="The component to drill."),
    load: str | None = typer.Option(
        None,
        "--load",
        metavar="CAMPAIGN",
        help="Run this campaign (loadtest/campaigns or a YAML file) on local Locust workers meanwhile.",
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Restore to a scratch name, validate, measure, tear down; exit 4 if an objective is missed.
    With --load, the campaign's verdict is reported; it does not change the exit code."""
    from ops.runbook.drill import close_dead_drills, run_drill
    from runbooks import get_runbook

    runbook = get_runbook(name)
    context = cli_context(ctx)
    environment = context.environment(env)
    if component not in environment.spec.components:
        raise BadInput(f"--component {component!r}: not a component of {environment.name}")
    campaign = _campaign_load(context, environment, load) if load is not None else None
    host = _host(context)
    close_dead_drills(host, environment.name)
    under = f" under load {campaign.campaign_id}" if campaign else ""
    with console.status(f"drilling {name} on {environment.prefix}-{component}{under}..."):
        result = run_drill(host, environment, runbook, component, campaign)
    if output is OutputFormat.json:
        print_json(result.as_dict())
    else:
        verdict = "[green]objectives met[/]" if result.objectives_met else "[red]objectives missed[/]"
        console.print(f"drill {result.drill_id}: {verdict if result.success else '[red]failed[/]'}")
        console.print(f"  RTO {result.rto_seconds} s (objective {result.rto_objective} s)")
        console.print(f"  RPO {result.rpo_seconds} s (objective {result.rpo_objective} s)")
        if result.load is not None:
            console.print(f"  load {_load_line(result.load)}", markup=False)
        if result.report:
            console.print(f"  report: {result.report}", markup=False)
    if not result.success:
        raise OpsError(f"drill {result.drill_id} failed: {result.error}")
    if not result.objectives_met:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


@app.command()
@traced_command
def history(
    ctx: typer.Context,
    env: str | None = typer.Option(None, "--env", "-e"),
    html: bool = typer.Option(False, "--html", help="Also a report: RTO and RPO over time per component."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Every drill, oldest first, with its objectives' compliance."""
    from rich.table import Table

    from ops.runbook.drill import close_dead_drills, read_history

    context = cli_context(ctx)
    close_dead_drills(_host(context), env)  # a drill whose process died is closed first
    entries = read_history(context.state(), env)
    report = _history_report(context.state(), entries, env) if html else None
    if output is OutputFormat.json:
        print_json({"drills": entries, "report": str(report)} if report else entries)
        return
    table = Table("drill", "env", "component", "RTO s", "RPO s", "objectives", title=f"{len(entries)} drills")
    for entry in entries:
        met = (
            "[green]met[/]"
            if entry["objectives_met"]
            else ("[red]missed[/]" if entry["success"] else _unmet(entry))
        )
        table.add_row(
            entry["drill_id"],
            entry["environment"],
            entry["component"],
            f"{entry['rto_seconds']}",
            f"{entry['rpo_seconds']}",
            met,
        )
    console.print(table)
    rtos = [e["rto_seconds"] for e in entries if e["rto_seconds"] is not None]
    if len(rtos) >= 2:
        trend = "faster" if rtos[-1] < rtos[0] else "slower"
        console.print(f"RTO trend: {rtos[0]} s -> {rtos[-1]} s ({trend}); last {len(rtos)} drills")
    if report is not None:
        console.print(f"report: {report}", markup=False)


def _history_report(state: StateDir, entries: list[dict[str, Any]], env: str | None) -> Path:
    from datetime import UTC, datetime

    from ops.runbook.history_report import write_history_report

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = state.reports_dir / f"drill-history-{env or 'all'}-{stamp}"
    return write_history_report(folder, entries, env).html


@app.command()
@traced_command
def due(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """The drills the inventory's drill_policy wants, each with the last one that met its
    objectives; exit 4 when any is overdue (never passed, or not within its period)."""
    from datetime import UTC, datetime

    from rich.table import Table

    from ops.runbook.drill import close_dead_drills, read_history
    from ops.runbook.due import drills_due
    from runbooks.policy import drill_policy_problems

    context = cli_context(ctx)
    environment = context.environment(env)
    problems = drill_policy_problems(environment)
    if problems:
        from ops.inventory import load_inventory

        raise load_inventory(context.inventory).invalid(environment.name, problems)
    host = _host(context)
    close_dead_drills(host, environment.name)
    now = datetime.now(UTC)
    history = read_history(context.state(), environment.name)
    cloud = None
    # Only on AWS: the local platform's drills all run here, its history is whole.
    if environment.provider == "aws" and environment.spec.drill_policy:
        from ops.cli.output import err_console
        from ops.runbook.drill_metrics import cloud_drills, merge_history
        from runbooks import REGISTRY

        # Scheduled drills run in ECS tasks whose state folder is gone: their metrics remain.
        cloud = cloud_drills(
            lambda: host.aws_for(environment).client("cloudwatch"), environment, REGISTRY.values(), now
        )
        if cloud.warning:
            err_console.print(cloud.warning, markup=False, highlight=False, soft_wrap=True)
        history = merge_history(history, cloud.entries)
    found = drills_due(environment, history, now)
    overdue = [d for d in found if d.overdue]
    if output is OutputFormat.json:
        print_json(
            {
                "environment": environment.name,
                "drills": [d.as_dict() for d in found],
                "cloudwatch": cloud.summary() if cloud else None,
            }
        )
    elif not found:
        console.print(f"{environment.name}: no drill_policy in the inventory; nothing is due")
    else:
        table = Table(
            "component", "runbook", "every", "last passed", "due", "last drill", title=environment.name
        )
        for item in found:
            due_text = "[red]overdue[/]" if item.overdue else (item.due_at or "")[:16]
            table.add_row(
                item.component,
                item.runbook,
                f"{item.every_seconds / 86400:g} d",
                (item.last_passed or "never")[:16],
                due_text,
                item.last_outcome,
            )
        console.print(table)
        console.print(f"{len(overdue)} of {len(found)} overdue")
        if cloud is not None and cloud.warning is None:
            console.print(
                f"history: this machine's and {len(cloud.entries)} CloudWatch points "
                f"({cloud.period_seconds} s periods, last {cloud.lookback_seconds / 86400:g} d)",
                markup=False,
            )
    if overdue:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


CRON_OPTION = typer.Option(
    ...,
    "--cron",
    help="When: Scheduler's 'cron(min hour day-of-month month day-of-week year)' (one day field '?'), "
    "or a five-field Unix cron, converted to it (days of the week 0-7 become 1-7, Sunday 1).",
)
COMPONENT_OPTION = typer.Option(
    None,
    "--component",
    help="The component to drill; default: the environment's only one the runbook drills.",
)
AUTO_APPROVE_OPTION = typer.Option(False, "--auto-approve", help="Skip the confirmation (CI).")


@app.command()
@traced_command
def schedule(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    cron: str = CRON_OPTION,
    component: str | None = COMPONENT_OPTION,
    timezone: str = typer.Option("UTC", "--timezone", help="The cron's IANA time zone, e.g. Europe/Paris."),
    auto_approve: bool = AUTO_APPROVE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Create or update the EventBridge Scheduler schedule that runs `ops drill run NAME` as an
    ECS task of terraform/modules/drills; the same command again changes nothing."""
    from ops.runbook.cron import validate_cron, validate_timezone
    from ops.runbook.schedule import DrillSchedule, apply_schedule, plan_schedule

    context = cli_context(ctx)
    environment, drilled = _drilled(context, env, name, component)
    drill = DrillSchedule(name, drilled, validate_cron(cron), validate_timezone(timezone))
    aws = context.aws_for(environment)
    plan = plan_schedule(aws, environment, drill)
    if output is OutputFormat.text:
        _print_plan(plan)
    if plan.pending and environment.protected and not auto_approve:
        confirm_protected(environment, f"{plan.action.capitalize()} the schedule {plan.name}?", "scheduled")
    apply_schedule(aws, environment, plan)
    if output is OutputFormat.json:
        print_json(
            {
                "environment": environment.name,
                "action": plan.action,
                "changed": plan.changed,
                "group_created": plan.group_missing,
                "schedule": plan.request,
            }
        )
    elif plan.pending:
        done = {"create": "created", "update": "updated", "unchanged": "unchanged"}[plan.action]
        console.print(f"schedule {plan.name} {done} in group {plan.group}", markup=False)
    else:
        console.print(f"schedule {plan.name} unchanged: nothing to do", markup=False)


@app.command()
@traced_command
def schedules(ctx: typer.Context, env: str = ENV_OPTION, output: OutputFormat = OUTPUT_OPTION) -> None:
    """The environment's drill schedules (those in its group): cron, runbook, component, state."""
    from rich.table import Table

    from ops.runbook.schedule import drill_names, list_schedules

    context = cli_context(ctx)
    environment = context.environment(env)
    found = list_schedules(context.aws_for(environment), environment)
    if output is OutputFormat.json:
        print_json({"environment": environment.name, "schedules": [s.as_dict() for s in found]})
        return
    group = drill_names(environment).group
    table = Table(
        "schedule",
        "cron",
        "time zone",
        "runbook",
        "component",
        "state",
        "next run",
        title=f"{group}: {len(found)}",
    )
    for item in found:
        table.add_row(
            item.name,
            item.cron,
            item.timezone,
            item.runbook,
            item.component,
            item.state,
            item.next_run or "-",
        )
    console.print(table)
    if found:
        console.print("next run: EventBridge Scheduler does not report it", markup=False)


@app.command()
@traced_command
def unschedule(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    component: str | None = COMPONENT_OPTION,
    auto_approve: bool = AUTO_APPROVE_OPTION,
) -> None:
    """Delete the schedule of a drill (exit 2 when there is none)."""
    from ops.runbook.schedule import drill_names, find_schedule, remove_schedule

    context = cli_context(ctx)
    environment, drilled = _drilled(context, env, name, component)
    aws = context.aws_for(environment)
    found = find_schedule(aws, environment, name, drilled)
    group = drill_names(environment).group
    if found is None:
        raise BadInput(
            f"no schedule of {name} for {drilled} in group {group}; "
            f"`ops drill schedules --env {environment.name}` lists them"
        )
    if environment.protected and not auto_approve:
        confirm_protected(environment, f"Delete the schedule {found}?", "removed")
    remove_schedule(aws, environment, found)
    console.print(f"schedule {found} removed from group {group}", markup=False)


def _drilled(context: CliContext, env: str, name: str, component: str | None) -> tuple[Environment, str]:
    """The environment and the component a schedule drills, checked before any AWS call."""
    from ops.runbook.schedule import drill_component, schedule_name
    from runbooks import REGISTRY, get_runbook

    runbook = get_runbook(name)
    environment = context.environment(env)
    drillable = ", ".join(sorted(n for n, r in REGISTRY.items() if r.drills))
    drilled = drill_component(environment, runbook, component, drillable)
    schedule_name(environment, name, drilled)  # Scheduler's naming rule, before any call
    return environment, drilled


def _print_plan(plan: SchedulePlan) -> None:
    if plan.group_missing:
        console.print(f"+ schedule group {plan.group} (ownership tags)", markup=False)
    elif plan.group_tags:
        console.print(f"~ schedule group {plan.group}: tags {', '.join(plan.group_tags)}", markup=False)
    target = plan.request["Target"]
    what = f"{plan.request['ScheduleExpression']} {plan.request['ScheduleExpressionTimezone']}"
    if plan.action == "create":
        console.print(f"+ schedule {plan.name}: {what} -> {target['Arn']}", markup=False)
    elif plan.action == "update":
        console.print(f"~ schedule {plan.name}: {', '.join(plan.changed)}", markup=False)


def _campaign_load(context: CliContext, environment: Environment, name: str) -> DrillLoad:
    """The campaign a drill runs under, checked before anything starts: a bad campaign is
    one line (exit 2), a local platform that is not up one line (exit 1)."""
    from ops.cli.drill_load import CampaignLoad, check_load
    from ops.local.platform import require_running

    spec = check_load(name, environment)
    target = require_running(context.state()).ingest_url
    return CampaignLoad(spec, environment, target, context.state().root)


def _load_line(load: dict[str, Any]) -> str:
    """The load's verdict in one line (its SLO is reported, the exit code is the drill's)."""
    if "requests" not in load:
        return f"{load['campaign_id']}: {load.get('error', 'no verdict')}"
    slo = "SLO met" if load["slo_met"] else "SLO missed"
    end = "stopped at the drill's end" if load["stopped_by_drill"] else "ended before the drill"
    return f"{load['campaign_id']}: {load['requests']} requests, {load['failures']} failed; {slo}; {end}"


def _unmet(entry: dict[str, Any]) -> str:
    return "running" if entry.get("status") == "running" else "[red]failed[/]"


def _host(context: CliContext) -> DrillHost:
    """The drill service's host: the environment's AWS (the emulator for the local one),
    one session per environment, and the toolkit's own metrics for every drill's end."""
    from ops.runbook.controls import controls_from_environment
    from ops.runbook.drill import DrillHost, DrillResult
    from ops.telemetry.metrics import record_drill

    sessions: dict[str, ClientFactory] = {}

    def aws_for(environment: Environment) -> ClientFactory:
        if environment.name not in sessions:
            sessions[environment.name] = context.aws_for(environment)
        return sessions[environment.name]

    def runbook_of(name: str) -> Runbook:
        from runbooks import get_runbook  # only to close a dead drill: history stays light

        return get_runbook(name)

    def telemetry(result: DrillResult) -> None:
        record_drill(
            result.environment,
            result.component,
            result.runbook,
            result.rto_seconds,
            result.rpo_seconds,
            result.objectives_met,
        )

    return DrillHost(
        context.state(),
        aws_for=aws_for,
        runbook_of=runbook_of,
        env_of=context.environment,
        controls=controls_from_environment(),
        telemetry=telemetry,
    )
