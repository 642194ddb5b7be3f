"""The Fargate backend: a Locust master task and worker tasks (ECS RunTask) in the cluster of
terraform/modules/loadtest, every task tagged with the campaign id.

Teardown in three layers: (1) this process stops every task of the campaign in a finally
block and on SIGINT/SIGTERM; (2) in the tasks, workers quit when the master has been gone
for 60 s (Locust's heartbeat) and every container runs under `timeout` with the campaign's
maximum lifetime; (3) `ops loadtest sweep` stops tasks past their expiry tag (`fargate_tasks`). What a
launch will start, and its price, is read beforehand (`fargate_launch`).

The master's web API (live statistics, stop) is reached at its private IP, from inside the
VPC, or through a port-forward named by OPS_LOADTEST_MASTER_URL. The master uploads its
final statistics and Locust's own HTML report to the results bucket, where `finish` reads
them."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import ClientError

from ops.campaign.backend import (
    ATTACH_FILE,
    AUTOQUIT_S,
    LOCUST_REPORT,
    STOP_TIMEOUT_S,
    FinalStats,
    LiveStats,
    read_live,
)
from ops.campaign.cost import CampaignCost, Cost, TaskSize, actual
from ops.campaign.fargate_launch import MASTER_URL_ENV, FargateLaunch, refuse_made_up_addresses
from ops.campaign.fargate_tasks import campaign_tags
from ops.campaign.spec import Campaign
from ops.errors import OpsError
from ops.inventory.spec import FargatePrices

WEB_PORT = 8089
RUN_TASK_MAX = 10  # RunTask starts at most 10 tasks a call
POLL_S = 1.0


class FargateBackend:
    name = "fargate"

    def __init__(
        self,
        aws: Any,
        spec: Campaign,
        launch: FargateLaunch,
        campaign_id: str,
        folder: Path,
        locust_env: dict[str, str],
        prices: FargatePrices,
        start_timeout: float = 300.0,
        estimate: Cost | None = None,
    ) -> None:
        refuse_made_up_addresses(aws)
        self.ecs = aws.client("ecs")
        self.s3 = aws.client("s3")
        self.spec = spec
        self.launch = launch
        self.campaign_id = campaign_id
        self.folder = folder
        self.locust_env = locust_env
        self.start_timeout = start_timeout
        self.master_arn = ""
        self.master_ip = ""
        self.worker_arns: list[str] = []
        self.started_at = time.monotonic()
        self.launched_at = datetime.now(UTC)
        self.expires_at = self.launched_at + timedelta(seconds=launch.lifetime_s)
        self.attached = False
        self.prices = prices
        self.estimate = estimate  # made before the launch; an attached run has none

    @classmethod
    def reattach(
        cls, aws: Any, spec: Campaign, folder: Path, locust_env: dict[str, str], prices: FargatePrices
    ) -> FargateBackend:
        saved = json.loads((folder / ATTACH_FILE).read_text())
        fields = saved["launch"]
        sizes = {key: TaskSize(**fields[key]) for key in ("master_size", "worker_size")}
        launch = FargateLaunch(**{**fields, **sizes})
        backend = cls(aws, spec, launch, saved["campaign_id"], folder, locust_env, prices)
        backend.master_arn, backend.master_ip = saved["master_arn"], saved["master_ip"]
        backend.worker_arns = saved["worker_arns"]
        backend.launched_at = datetime.fromisoformat(saved["launched_at"])
        backend.expires_at = datetime.fromisoformat(saved["expires_at"])
        backend.attached = True
        return backend

    @property
    def started_by(self) -> str:
        return f"ops:{self.campaign_id}"[:36]  # RunTask's startedBy holds 36 characters

    # --- start ----------------------------------------------------------------------
    def _run_task(
        self, task_definition: str, role: str, count: int, environment: dict[str, str], spot: bool
    ) -> list[str]:
        placement: dict[str, Any] = (
            {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
            if spot
            else {"launchType": "FARGATE"}
        )
        command = ["timeout", "--signal=TERM", str(int(self.launch.lifetime_s)), "locust"]
        response = self.ecs.run_task(
            cluster=self.launch.cluster,
            taskDefinition=task_definition,
            count=count,
            startedBy=self.started_by,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": self.launch.subnets,
                    "securityGroups": self.launch.security_groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            overrides={
                "containerOverrides": [
                    {
                        "name": self.launch.container,
                        "command": command,
                        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                    }
                ]
            },
            tags=campaign_tags(self.campaign_id, role, self.expires_at),
            propagateTags="TASK_DEFINITION",
            enableECSManagedTags=True,
            **placement,
        )
        if response.get("failures"):
            reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason')}" for f in response["failures"])
            raise OpsError(f"RunTask in {self.launch.cluster} failed: {reasons}")
        return [task["taskArn"] for task in response["tasks"]]

    def _master_environment(self) -> dict[str, str]:
        return {
            **self.locust_env,
            "LOCUST_MODE_MASTER": "true",
            "LOCUST_HOST": self.launch.target_url,
            "LOCUST_AUTOSTART": "true",
            "LOCUST_AUTOQUIT": str(AUTOQUIT_S),
            "LOCUST_EXPECT_WORKERS": str(self.launch.workers),
            "LOCUST_EXPECT_WORKERS_MAX_WAIT": "300",
            "LOCUST_WEB_PORT": str(WEB_PORT),
            "LOCUST_STOP_TIMEOUT": str(STOP_TIMEOUT_S),
            "LOCUST_CSV": "/tmp/locust",
            "LOCUST_CSV_FULL_HISTORY": "true",
            # --html; relative: in the task's working directory (the image's /tmp), and the
            # locustfile uploads it under its own name.
            "LOCUST_HTML": LOCUST_REPORT,
            "OPS_LOADTEST_RESULTS_DIR": "/tmp",
            "OPS_LOADTEST_RESULTS_S3": self.launch.results,
        }

    def start(self) -> None:
        if self.attached:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        (self.master_arn,) = self._run_task(
            self.launch.master_task, "master", 1, self._master_environment(), False
        )
        self._save()
        self.master_ip = self._wait_for_master_ip()
        self._save()
        self.scale(self.launch.workers)

    def _wait_for_master_ip(self) -> str:
        """Poll (growing interval) until the master runs with its private IP."""
        deadline, interval = time.monotonic() + self.start_timeout, 1.0
        while True:
            task = self._describe([self.master_arn])[0]
            if task["lastStatus"] == "STOPPED":
                raise OpsError(
                    f"the master task stopped before it ran: {task.get('stoppedReason', 'no reason')}"
                )
            ip = _private_ip(task)
            if task["lastStatus"] == "RUNNING" and ip:
                return ip
            if time.monotonic() >= deadline:
                raise OpsError(
                    f"the master task was not running after {self.start_timeout:g} s ({task['lastStatus']})"
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 10.0)

    def scale(self, workers: int) -> None:
        environment = {
            **self.locust_env,
            "LOCUST_MODE_WORKER": "true",
            "LOCUST_MASTER_NODE_HOST": self.master_ip,
        }
        while len(self.worker_arns) < workers:
            count = min(workers - len(self.worker_arns), RUN_TASK_MAX)
            self.worker_arns += self._run_task(
                self.launch.worker_task, "worker", count, environment, self.launch.spot
            )
            self._save()

    def _save(self) -> None:
        saved = {
            "backend": "fargate",
            "campaign_id": self.campaign_id,
            "launch": asdict(self.launch),
            "master_arn": self.master_arn,
            "master_ip": self.master_ip,
            "worker_arns": self.worker_arns,
            "launched_at": self.launched_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }
        (self.folder / ATTACH_FILE).write_text(json.dumps(saved, indent=2) + "\n")

    # --- run ------------------------------------------------------------------------
    @property
    def web(self) -> str:
        return os.environ.get(MASTER_URL_ENV) or f"http://{self.master_ip}:{WEB_PORT}"

    def _describe(self, arns: list[str]) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(arns), 100):  # DescribeTasks takes 100 tasks a call
            tasks += self.ecs.describe_tasks(cluster=self.launch.cluster, tasks=arns[start : start + 100])[
                "tasks"
            ]
        return tasks

    def _master_running(self) -> bool:
        return bool(self.master_arn) and self._describe([self.master_arn])[0]["lastStatus"] != "STOPPED"

    def stream(self) -> Iterator[LiveStats]:
        deadline = self.started_at + self.spec.total_duration + self.start_timeout
        answered_once = False
        checked = 0.0
        dropped = 0
        while time.monotonic() < deadline:
            time.sleep(POLL_S)
            live = read_live(self.web, time.monotonic() - self.started_at, dropped)
            # The task's state every 10 s, or at once when a master that answered falls silent.
            if time.monotonic() - checked >= 10 or (live is None and answered_once):
                checked = time.monotonic()
                if not self._master_running():
                    return
            if live is not None:
                answered_once, dropped = True, live.dropped
                yield live
            elif not answered_once and time.monotonic() - self.started_at > self.start_timeout:
                raise OpsError(
                    f"the master never answered at {self.web} within {self.start_timeout:g} s; run from "
                    f"inside the VPC or port-forward it and set {MASTER_URL_ENV}"
                )
        raise OpsError(
            f"campaign {self.campaign_id} ran past its duration and {self.start_timeout:g} s of grace"
        )

    def stop(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{self.web}/stop", timeout=5)
        self.cleanup()

    def finish(self) -> FinalStats:
        deadline = time.monotonic() + 120
        while self._master_running() and time.monotonic() < deadline:
            time.sleep(2)
        final = FinalStats(
            stats=json.loads(self._result("stats.json") or "[]"),
            history_csv=self._result("locust_stats_history.csv") or "",
            arrivals=json.loads(self._result("arrivals.json") or "{}"),
        )
        report = self._result(LOCUST_REPORT)
        if report:
            (self.folder / LOCUST_REPORT).write_text(report, encoding="utf-8")
            final.locust_report = LOCUST_REPORT
        else:
            final.locust_report_absent = (
                f"the master did not upload it to {self.launch.results}{LOCUST_REPORT}; see its log group"
            )
        return final

    def _result(self, name: str) -> str | None:
        bucket, _, prefix = self.launch.results.removeprefix("s3://").partition("/")
        try:
            return str(self.s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read().decode())
        except ClientError as error:
            if name == "stats.json":
                raise OpsError(
                    f"{self.launch.results}{name}: {error.response['Error']['Code']} "
                    f"(the master uploads it when it quits; see its log group)"
                ) from error
            return None

    def cleanup(self) -> None:
        """Layer 1: stop every task of this campaign that is not stopped, found by our own
        ARNs and by the startedBy mark (a RunTask whose answer was lost)."""
        arns = {a for a in (self.master_arn, *self.worker_arns) if a}
        with contextlib.suppress(ClientError):
            listed = self.ecs.list_tasks(
                cluster=self.launch.cluster, startedBy=self.started_by, desiredStatus="RUNNING"
            )
            arns |= set(listed["taskArns"])
        for arn in sorted(arns):
            with contextlib.suppress(ClientError):
                self.ecs.stop_task(
                    cluster=self.launch.cluster, task=arn, reason=f"campaign {self.campaign_id} ended"
                )

    def cost(self) -> CampaignCost:
        """The estimate and what the tasks actually ran for (unknown when ECS cannot say)."""
        try:
            spent = self._actual()
        except ClientError as error:
            return CampaignCost(self.estimate, None, unknown=str(error))
        return CampaignCost(self.estimate, spent)

    def _actual(self) -> Cost:
        sizes = {arn: self.launch.worker_size for arn in self.worker_arns}
        if self.master_arn:
            sizes[self.master_arn] = self.launch.master_size
        if not sizes:
            return Cost(0, 0, 0)
        return actual(self._describe(list(sizes)), self.prices, sizes, self.launched_at)


def _private_ip(task: dict[str, Any]) -> str:
    for attachment in task.get("attachments", []):
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address":
                return str(detail["value"])
    return ""
