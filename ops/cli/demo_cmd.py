"""`ops demo`: the main job on the embedded local platform, end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ops.cli.context import ENV_OPTION, cli_context
from ops.cli.output import console
from ops.errors import ExitCode
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.demo.run import DemoOutcome


@traced_command
def demo(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    records: int = typer.Option(400, "--records", min=2, max=20000, help="Valid records to send."),
    seed: int = typer.Option(0, "--seed", help="Seed of the payload generator."),
    down: bool = typer.Option(False, "--down", help="Stop the local platform at the end."),
) -> None:
    """Run the main job: inventory check, local platform, real ingest traffic, a report."""
    # The web and database clients, the engines and the local platform load only for the demo.
    from ops.demo import database, run
    from ops.inventory import load_inventory
    from ops.local.platform import LocalPlatform
    from ops.observe.checks import check_inventory
    from ops.report import human
    from ops.util.ids import new_run_id

    context = cli_context(ctx)
    inventory = load_inventory(context.inventory)
    environment = inventory.environment(env)
    check_inventory(inventory)
    console.print(
        f"[green]1/10[/] inventory {inventory.source}: {len(inventory.environments)} environments valid"
    )
    platform = LocalPlatform(environment, context.state())
    with console.status("starting the local platform (emulator, PostgreSQL, Kafka, ingest, loader)..."):
        record, endpoint = run.start_platform(platform)
    console.print(
        f"[green]2/10[/] local platform up: ingest {record.ingest_url}, emulator {record.emulator_url}"
    )
    run_id = new_run_id()
    with console.status(f"sending {records} records to the ingest service..."):
        burst = run.run_traffic(record, run_id, records, seed)
    with console.status("waiting for the accepted records to reach PostgreSQL..."):
        stored, stored_invalid = run.wait_stored(endpoint, run_id, burst.accepted)
    outcome = run.DemoOutcome(run_id, burst, stored, stored_invalid, run.slo_checks(environment, burst))
    console.print(
        f"[green]3/10[/] traffic: {burst.sent} sent, {burst.accepted} accepted, {stored} stored, "
        f"{burst.rejected_as_expected} invalid rejected ({burst.throughput_rps:.0f} req/s)"
    )
    if record.kafka:
        with console.status("waiting for MirrorMaker 2 to copy them to the DR cluster..."):
            outcome.kafka = run.kafka_flow(platform, record)
        flow = outcome.kafka
        lag = sum(flow["replication_lag"].values())
        console.print(
            f"      through Kafka: {flow['produced']} produced, {flow['acknowledged']} acknowledged, "
            f"{'all' if lag == 0 else f'{lag} not yet'} replicated to DR, {flow['loaded']} loaded, "
            f"{flow['redelivered']} redelivered"
        )
    with console.status("planning and applying alarms, log groups, dashboards and ADOT..."):
        outcome.observability = run.apply_observability(environment, record)
    observed = outcome.observability
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(observed.by_kind.items()))
    console.print(
        f"[green]4/10[/] observability: planned {observed.planned['create']} to create, "
        f"{observed.planned['update']} to update; applied {observed.applied} ({kinds}; the ADOT "
        f"configurations checked by `ops adot validate`'s rules first); second plan: "
        f"{observed.second_plan_pending} changes"
    )
    with console.status("point-in-time recovery of the warehouse while traffic runs..."):
        outcome.pitr = run.pitr_under_traffic(environment, platform, record, seed)
    console.print(
        f"[green]5/10[/] PITR with cutover under traffic: RTO {human.seconds(outcome.pitr['RecoveryTime'])}, "
        f"RPO {human.seconds(outcome.pitr['RPOSeconds'])}, rows verified "
        f"{human.value(outcome.pitr['RowsVerified'])}"
    )
    with console.status("the warehouse's writer failed over to its reader while traffic runs..."):
        outcome.database_failover = database.failover_under_traffic(environment, platform, record, seed)
    moved_db = outcome.database_failover
    console.print(
        f"[green]6/10[/] database failover (aurora-failover, a streaming replica promoted) under traffic: "
        f"RTO {human.seconds(moved_db['RecoveryTime'])}, "
        f"measured RPO {human.seconds(moved_db['RPOSeconds'])} "
        f"({_lost_commits(moved_db)} commits lost), {moved_db['acknowledged']} acknowledged, "
        f"{moved_db['lost']} missing, clients' longest gap {moved_db['client_longest_gap_s']} s"
    )
    if platform.via_kafka(record):
        with console.status("MSK failover to DR and failback while traffic runs..."):
            outcome.failover = run.msk_failover_under_traffic(environment, platform, record, seed)
        moved = outcome.failover
        over, back = moved["msk-failover"], moved["msk-failback"]
        console.print(
            f"[green]7/10[/] MSK failover and failback under traffic: writes unavailable "
            f"{over['WriteUnavailableSeconds']} s and {back['WriteUnavailableSeconds']} s, "
            f"{moved['acknowledged']} acknowledged, {moved['lost']} lost, duplicates delivered "
            f"{over['DuplicatesDelivered']} + {back['DuplicatesDelivered']}, stored twice "
            f"{over['StoredTwice'] + back['StoredTwice']}"
        )
    else:
        console.print("[yellow]7/10[/] MSK failover skipped: the platform runs without Kafka")
    with console.status("load-test campaign smoke (Locust, 2 workers)..."):
        outcome.campaign = run.smoke_campaign(environment, platform, record)
    campaign = outcome.campaign
    console.print(
        f"[green]8/10[/] campaign smoke: {campaign['requests']} requests, "
        f"{campaign['throughput_rps']} req/s, SLO {'met' if campaign['slo_met'] else 'MISSED'}"
    )
    with console.status("assessing DR readiness of the local environment..."):
        outcome.readiness = database.readiness(environment, platform)
    verdicts = ", ".join(
        f"{name}: {verdict}" for name, verdict in sorted(outcome.readiness["verdicts"].items())
    )
    console.print(f"[green]9/10[/] DR readiness (`ops dr assess`): {verdicts}", markup=True)
    outcome.report = run.write_demo_report(context.state().reports_dir / f"demo-{run_id}", inventory, outcome)
    _summary(outcome)
    console.print(f"[green]10/10[/] report: {outcome.report.html} (also report.md, report.json)")
    if down:
        platform.down()
        console.print("local platform stopped")
    else:
        console.print("the local platform is still up: `ops local status`, `ops local down`")
    if not outcome.observability_ok:
        console.print("[red]observability check failed[/]: apply failed or the second plan is not clean")
        raise typer.Exit(ExitCode.FAILURE)
    if not outcome.data_ok:
        console.print(
            "[red]data check failed[/]: stored records do not match acknowledged ones (traffic or failover)"
        )
        raise typer.Exit(ExitCode.FAILURE)
    if not outcome.slo_met:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


def _lost_commits(moved: dict[str, object]) -> int:
    lost = moved.get("LostCommits")
    return sum(lost.values()) if isinstance(lost, dict) else 0


def _summary(outcome: DemoOutcome) -> None:
    table = Table("check", "objective", "measured", "result", title=f"demo {outcome.run_id}")
    table.add_row(
        "accepted records stored",
        f"{outcome.burst.accepted}",
        f"{outcome.stored}",
        "[green]ok[/]" if outcome.stored == outcome.burst.accepted else "[red]MISMATCH[/]",
    )
    table.add_row(
        "invalid records stored",
        "0",
        f"{outcome.stored_invalid}",
        "[green]ok[/]"
        if outcome.stored_invalid == 0 and not outcome.burst.wrongly_accepted
        else "[red]FAIL[/]",
    )
    if outcome.observability is not None:
        pending = outcome.observability.second_plan_pending
        table.add_row(
            "second observability plan",
            "0 changes",
            f"{pending} changes",
            "[green]clean[/]" if pending == 0 else "[red]NOT CLEAN[/]",
        )
    if outcome.database_failover is not None:
        moved = outcome.database_failover
        lost = _lost_commits(moved) + int(moved["lost"])
        table.add_row(
            "database failover: records lost",
            "0",
            str(lost),
            "[green]ok[/]" if lost == 0 else "[red]LOST[/]",
        )
    for measure, objective, measured, met in outcome.slo_checks:
        table.add_row(measure, objective, measured, "[green]met[/]" if met else "[red]missed[/]")
    console.print(table)
