"""`ops loadtest run` with the local backend: a real Locust master and 2 workers against
the real ingest service."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from unittest.mock import ANY

import httpx
import psutil
import pytest

from ops.campaign.local_backend import LOCUSTFILE
from ops.util.processes import wait_until
from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform
from tests.otlp_receiver import OtlpReceiver


def _ingested(platform: RunningPlatform) -> float:
    text = httpx.get(f"{platform.ingest_url}/metrics/").text
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("ingest_records_total{")
    )


def _campaign(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "short.yaml"
    path.write_text(f"name: short\nusers: 6\nspawn_rate: 6\nduration: 5s\nworkers: 2\n{extra}")
    return path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, round(q / 100 * len(ordered) + 0.5)) - 1]


def test_a_campaign_counts_what_the_service_recorded_and_merges_histograms(
    platform: RunningPlatform, tmp_path: Path, otlp: OtlpReceiver
) -> None:
    before = _ingested(platform)
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint}
    args = ("loadtest", "run", str(_campaign(tmp_path)), "--keep-samples", "-o", "json")
    result = run_cli(*args, env={**platform.env, **telemetry})
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["requests"] > 200 and data["failures"] == 0
    assert data["requests"] == _ingested(platform) - before  # every request reached the service once
    assert data["archived"] == f"s3://dataplat-local-loadtest-results/{data['campaign_id']}/"
    archived = (
        platform.aws()
        .client("s3")
        .get_object(Bucket="dataplat-local-loadtest-results", Key=f"{data['campaign_id']}/results.json")
    )
    assert json.loads(archived["Body"].read())["requests"] == data["requests"]
    # The campaign's figures over OTLP too (the toolkit's metrics go to the gateway collector).
    (requests,) = otlp.points("ops.loadtest.requests")
    assert requests.value == data["requests"] and requests.attributes["ops.loadtest.backend"] == "local"
    (p95,) = otlp.points("ops.loadtest.latency_p95")
    assert p95.value == pytest.approx(data["latency_ms"]["p95"]) and p95.unit == "ms"
    samples = [
        float(line.split(",")[1])
        for csv in Path(data["folder"]).glob("samples-*.csv")
        for line in csv.read_text().splitlines()
    ]
    assert len(samples) == data["requests"] and len(list(Path(data["folder"]).glob("samples-*.csv"))) == 2
    for q in (95, 99):
        raw = _percentile(samples, q)
        merged = data["latency_ms"][f"p{q}"]
        # Locust buckets times to the millisecond below 100 ms: 2%, or that resolution.
        assert abs(merged - raw) <= max(0.02 * raw, 1.0), (q, merged, raw)
    assert _locust_processes(platform) == []


def test_a_bad_campaign_file_is_one_line_naming_the_field(platform: RunningPlatform, tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, "userz: 3\n")
    result = run_cli("loadtest", "run", str(campaign), env=platform.env)
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"error: {campaign}:6: userz: unknown field")


def test_an_abort_rule_stops_the_run_long_before_its_end(platform: RunningPlatform, tmp_path: Path) -> None:
    campaign = tmp_path / "abort.yaml"
    campaign.write_text(
        "name: abort\nusers: 4\nspawn_rate: 4\nduration: 60s\nworkers: 2\n"
        "abort: [{metric: p95_ms, above: 0.001, for: 2s}]\n"  # any real p95 breaches it
    )
    result = run_cli("loadtest", "run", str(campaign), "-o", "json", env=platform.env)
    assert result.code == 4
    data = json.loads(result.out)
    assert data["aborted"].startswith("p95_ms") and "for 2 s" in data["aborted"]
    assert data["load_seconds"] < 30  # stopped by the rule, not by its 60 s run time
    assert _locust_processes(platform) == []


def test_smoke_with_ui_serves_locusts_web_ui_then_leaves_its_report_the_cost_and_live_lines(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    """`ops loadtest run smoke --ui`, piped as in CI: the Locust web UI answers on loopback
    while the campaign runs and is gone after; Locust's own report lies beside ours and ours
    links it; the cost is in every form; the live lines are in the log."""
    import os
    import socket
    import sys
    import threading

    from tests.helpers import REPO

    command = [sys.executable, "-m", "ops", "loadtest", "run", "smoke", "--ui", "-o", "json"]
    err: list[str] = []
    seen: dict[str, object] = {}
    with open(tmp_path / "out.json", "w") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **platform.env},
            text=True,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        reader = threading.Thread(target=lambda: err.extend(process.stderr or []), daemon=True)
        reader.start()
        try:
            urls: list[str] = []

            def printed() -> bool:
                urls[:] = [
                    line.split(": ", 1)[1].strip() for line in err if line.startswith("Locust web UI: ")
                ]
                return bool(urls) or process.poll() is not None

            wait_until(printed, 60, "the web UI's URL")
            assert len(urls) == 1, "".join(err)
            url = urls[0]
            assert url.startswith("http://127.0.0.1:")

            def answers() -> bool:
                assert process.poll() is None, "the campaign ended before its web UI answered"
                try:
                    seen.update(httpx.get(f"{url}/stats/requests", timeout=2).json())
                except (httpx.HTTPError, ValueError):
                    return False
                return True

            wait_until(answers, 60, "the Locust web UI")
            process.wait(timeout=120)
        finally:
            if process.poll() is None:  # a failed check: stop it as a person would (no process left)
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
            reader.join(timeout=10)
    assert process.returncode == 0, "".join(err)
    assert "user_count" in seen and isinstance(seen["stats"], list)
    with pytest.raises(ConnectionRefusedError):  # nothing listens once the command has ended
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=2).close()
    data = json.loads((tmp_path / "out.json").read_text())
    folder = Path(data["folder"])
    assert data["locust_report"] == {"path": "locust-report.html", "absent": None}
    locust_report = (folder / "locust-report.html").read_text()
    assert "<html" in locust_report.lower() and len(locust_report) > 1000
    page, markdown = (folder / "report.html").read_text(), (folder / "report.md").read_text()
    assert re.search(r"<a href=['\"]locust-report\.html['\"]", page)  # relative: beside ours
    assert "](locust-report.html)" in markdown
    note = "nothing billed: Locust ran as processes on this machine"
    assert json.loads((folder / "report.json").read_text())["cost"]["note"] == note
    assert "## Cost" in markdown and "$0.00" in markdown and note in markdown
    assert "<h2>Cost</h2>" in page and "<td>$0.00</td>" in page and note in page
    live = [line for line in err if line.startswith("live ")]
    assert len(live) >= 2, "".join(err)  # a 12 s campaign: a line every 2 s
    assert all(
        " users " in line and " req/s " in line and " p95 " in line and " errors " in line for line in live
    )
    assert _locust_processes(platform) == []


def _locust_processes(platform: RunningPlatform, role: str = "") -> list[psutil.Process]:
    """This module's Locust processes (started with its state folder): other test modules may
    run campaigns at the same time."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        ours = (process.info["environ"] or {}).get("OPS_STATE_DIR") == str(platform.state_dir)
        if ours and str(LOCUSTFILE) in cmdline and role in cmdline:
            found.append(process)
    return found


def _start(platform: RunningPlatform, campaign: Path) -> subprocess.Popen[str]:
    return _start_args(platform, campaign)


def _start_args(platform: RunningPlatform, campaign: Path, *extra: str) -> subprocess.Popen[str]:
    import os
    import sys

    from tests.helpers import REPO

    command = [sys.executable, "-m", "ops", "loadtest", "run", str(campaign), "-o", "json", *extra]
    env = {**os.environ, **platform.env}
    return subprocess.Popen(
        command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait_for_workers(platform: RunningPlatform, count: int, seconds: float = 30) -> list[psutil.Process]:
    workers: list[psutil.Process] = []

    def started() -> bool:
        workers[:] = _locust_processes(platform, "--worker")
        return len(workers) >= count

    wait_until(started, seconds, "the workers")
    return workers


def _wait_for_load(platform: RunningPlatform, before: float, requests: int = 1) -> None:
    """Until the service has recorded `requests` more: the campaign's load is flowing."""
    wait_until(lambda: _ingested(platform) >= before + requests, 30, "the load")


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_campaign_leaves_no_process(
    platform: RunningPlatform, tmp_path: Path, signal_number: int
) -> None:
    before = _ingested(platform)
    process = _start(platform, _campaign(tmp_path))
    _wait_for_workers(platform, 2)
    _wait_for_load(platform, before)  # mid-run, not while it starts
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted"
    assert _locust_processes(platform) == []


def test_a_killed_worker_leaves_no_process(platform: RunningPlatform, tmp_path: Path) -> None:
    before = _ingested(platform)
    process = _start(platform, _campaign(tmp_path))
    workers = _wait_for_workers(platform, 2)
    _wait_for_load(platform, before, 200)  # from both workers
    workers[0].kill()
    out, err = process.communicate(timeout=120)
    assert process.returncode in (0, 4), err
    assert json.loads(out)["requests"] > 0  # the other worker carried on
    assert _locust_processes(platform) == []


def test_an_open_model_holds_its_arrival_rate_over_a_one_minute_stage(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    campaign = tmp_path / "arrival.yaml"
    campaign.write_text(
        "name: arrival\nmodel: open\nstart_rate: 10\nmax_users: 40\nworkers: 2\n"
        "stages: [{duration: 2s, target: 50}, {duration: 60s, target: 50}]\n"
    )
    before = _ingested(platform)
    result = run_cli("loadtest", "run", str(campaign), "-o", "json", env=platform.env)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    ramp, hold = data["arrivals"]["stages"]
    assert data["arrivals"]["workers_reporting"] == 2
    assert ramp["expected"] == 60 and hold["expected"] == 3000
    assert hold["dropped"] == 0 and abs(hold["started"] / 60 - 50) <= 0.02 * 50, hold
    # Every started iteration is one request, and the service recorded each of them.
    assert data["requests"] == ramp["started"] + hold["started"] == _ingested(platform) - before


def test_an_open_model_that_cannot_keep_up_reports_dropped_iterations(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    campaign = tmp_path / "overload.yaml"
    # One user per worker cannot start 2,000 iterations a second: most are dropped. And no
    # p95 is below 0.01 ms: a breached SLO exits 4 too.
    campaign.write_text(
        "name: overload\nmodel: open\nrate: 2000\nmax_users: 2\nworkers: 2\nduration: 3s\n"
        "slo: {p95_ms: 0.01, p99_ms: 0.02, error_rate: 0}\n"
    )
    result = run_cli("loadtest", "run", str(campaign), "-o", "json", env=platform.env)
    assert result.code == 4
    data = json.loads(result.out)
    (stage,) = data["arrivals"]["stages"]
    assert stage["dropped"] > 0 and stage["started"] + stage["dropped"] == 6000
    assert data["requests"] == stage["started"] and data["slo_met"] is False
    assert {"measure": "p95 latency", "objective": "<= 0.01 ms", "measured": ANY, "met": False} in data["slo"]
    assert {
        "measure": "dropped iterations",
        "objective": "0",
        "measured": str(stage["dropped"]),
        "met": False,
    } in data["slo"]


def test_live_metrics_reach_prometheus_and_cloudwatch_while_it_runs(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    from ops.util.ports import free_port

    campaign = tmp_path / "ramp.yaml"
    campaign.write_text(
        "name: ramp\nworkers: 1\nstages: [{duration: 2s, target: 4}, {duration: 6s, target: 4}]\n"
    )
    port = free_port()
    process = _start_args(platform, campaign, "--metrics-port", str(port))
    scraped: list[str] = []

    def live_metrics() -> bool:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            text = ""
        users = [line for line in text.splitlines() if line.startswith('ops_loadtest_users{campaign="ramp-')]
        # The gauge exists from the start at 0: wait until the users it counts are running.
        if users and float(users[0].split()[-1]) >= 1 and "ops_loadtest_requests{" in text:
            scraped.append(text)
            return True
        return process.poll() is not None  # the run ended first: the assertions below say so

    wait_until(live_metrics, 40, "live metrics")
    out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    users = [line for text in scraped for line in text.splitlines() if line.startswith("ops_loadtest_users{")]
    assert users and float(users[0].split()[-1]) >= 1
    data = json.loads(out)
    metrics = platform.aws().client("cloudwatch").list_metrics(Namespace="PlatformOps/LoadTests")["Metrics"]
    names = {m["MetricName"] for m in metrics if {"Name": "Campaign", "Value": "ramp"} in m["Dimensions"]}
    assert {"Users", "RequestsPerSecond", "P95Latency"} <= names
    history = (Path(data["folder"]) / "locust_stats_history.csv").read_text()
    assert ",4,,Aggregated," in history  # the stages' 4 users were reached
    assert "Throughput over time" in (Path(data["folder"]) / "report.html").read_text()


def test_a_taken_metrics_port_warns_once_and_the_campaign_runs(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    import socket

    campaign = tmp_path / "taken.yaml"
    campaign.write_text("name: taken\nusers: 2\nspawn_rate: 2\nduration: 3s\nworkers: 1\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "loadtest", "run", str(campaign), "-o", "json", "--metrics-port", str(port), env=platform.env
        )
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "live metrics off" in line]
    assert len(warnings) == 1 and f"127.0.0.1:{port}" in warnings[0], result.err
    assert "Traceback" not in result.err
    assert json.loads(result.out)["requests"] > 0


def test_attach_reconnects_to_a_campaign_whose_run_was_killed(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    campaign = tmp_path / "long.yaml"
    campaign.write_text("name: long\nusers: 4\nspawn_rate: 4\nduration: 9s\nworkers: 2\n")
    before = _ingested(platform)
    process = _start(platform, campaign)
    _wait_for_workers(platform, 2)
    _wait_for_load(platform, before)
    process.kill()  # the terminal is lost: Locust carries on without its `ops loadtest run`
    process.communicate()
    (folder,) = [f for f in (platform.state_dir / "loadtests").iterdir() if f.name.startswith("long-")]
    result = run_cli("loadtest", "attach", folder.name, "-o", "json", env=platform.env)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["campaign_id"] == folder.name and data["slo_met"] is True
    assert data["requests"] == _ingested(platform) - before  # the whole run, not only after attach
    assert json.loads((folder / "results.json").read_text())["requests"] == data["requests"]
    assert _locust_processes(platform) == []
    again = run_cli("loadtest", "attach", folder.name, env=platform.env)
    assert again.code == 1 and "has ended: its master is gone" in again.err


def test_a_fargate_campaign_runs_end_to_end_on_a_fargate_stand_in(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    """The whole Fargate path: RunTask, the master found, live statistics through the forward,
    the master's upload read back from S3, the verdict, the cost, every task stopped."""
    from ops.util.ports import free_port
    from tests.integration.fargate_standin import FargateStandIn

    campaign = tmp_path / "fargate.yaml"
    campaign.write_text("name: on-fargate\nmodel: open\nrate: 40\nduration: 8s\nmax_users: 10\nworkers: 2\n")
    web, master = free_port(), free_port()
    aws_env = platform.aws_env
    before = _ingested(platform)
    cluster = "dataplat-local-loadtest"
    with FargateStandIn(platform.aws(), cluster, tmp_path / "tasks", web, master, aws_env) as fargate:
        forward = {"OPS_LOADTEST_MASTER_URL": f"http://127.0.0.1:{web}"}
        args = ("loadtest", "run", str(campaign), "--backend", "fargate", "-o", "json")
        result = run_cli(*args, env={**platform.env, **forward})
    assert result.code == 0, result.err
    data = json.loads(result.out)
    (stage,) = data["arrivals"]["stages"]
    assert stage["expected"] == 320 and stage["started"] == 320 and stage["dropped"] == 0
    assert data["requests"] == 320 == _ingested(platform) - before
    assert data["cost"]["estimate"]["usd"] > 0 and data["cost"]["actual"]["usd"] > 0
    folder = Path(data["folder"])  # the report, written once, carries it too
    assert json.loads((folder / "report.json").read_text())["cost"] == data["cost"]
    assert "## Cost" in (folder / "report.md").read_text()
    assert "<h2>Cost</h2>" in (folder / "report.html").read_text()
    # Locust's own report: written by the master's --html, uploaded with its statistics, fetched.
    assert data["locust_report"]["path"] == "locust-report.html"
    assert (folder / "locust-report.html").stat().st_size > 0
    roles = sorted(
        "master" if t["environment"].get("LOCUST_MODE_MASTER") else "worker" for t in fargate.started
    )
    assert roles == ["master", "worker", "worker"]
    assert platform.aws().client("ecs").list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"] == []
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [] and _locust_processes(platform) == []


def test_attach_reconnects_to_a_fargate_campaign_whose_run_was_killed(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    """The ops process dies mid-run (SIGKILL: no teardown); the tasks run on; attach finds
    them by the campaign's file, follows the run to its end and judges it."""
    import os
    import sys

    from ops.util.ports import free_port
    from tests.helpers import REPO
    from tests.integration.fargate_standin import FargateStandIn

    campaign = tmp_path / "fargate.yaml"
    campaign.write_text("name: reattach\nusers: 3\nspawn_rate: 3\nduration: 9s\nworkers: 1\n")
    before = _ingested(platform)
    web, master = free_port(), free_port()
    aws_env = platform.aws_env
    env = {**platform.env, "OPS_LOADTEST_MASTER_URL": f"http://127.0.0.1:{web}"}
    cluster = "dataplat-local-loadtest"
    ecs = platform.aws().client("ecs")
    with FargateStandIn(platform.aws(), cluster, tmp_path / "tasks", web, master, aws_env):
        options = ["--backend", "fargate", "--no-cloudwatch", "-o", "json"]
        command = [sys.executable, "-m", "ops", "loadtest", "run", str(campaign), *options]
        process = subprocess.Popen(
            command, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

        def started() -> bool:
            assert process.poll() is None, "the run ended before its tasks started"
            return len(ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]) >= 2

        wait_until(started, 60, "the master and worker tasks")
        _wait_for_load(platform, before)  # the worker found its master
        process.kill()  # no finally-block runs: the tasks are left running
        process.communicate()
        assert len(ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]) == 2
        (folder,) = [
            f for f in (platform.state_dir / "loadtests").iterdir() if f.name.startswith("reattach-")
        ]
        result = run_cli("loadtest", "attach", folder.name, "--no-cloudwatch", "-o", "json", env=env)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["campaign_id"] == folder.name and data["requests"] > 0 and data["cost"]["actual"]["usd"] > 0
    assert ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"] == []
