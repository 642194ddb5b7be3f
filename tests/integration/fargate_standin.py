"""A stand-in for Fargate (a test double, listed in docs/testing.md): it runs the emulator's
load-test tasks as local processes, as Fargate would run their container. Each RUNNING task
of the cluster gets its container override (environment and command, `timeout N locust`)
started here, with the network rewritten to loopback (the master's made-up private address
and ports become 127.0.0.1 and free ports) and AWS pointed at the emulator (the master's
upload). A process that exits stops its task; a task stopped through the API loses its
process, as on Fargate."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ops.aws.clients import ClientFactory
from ops.campaign.local_backend import LOCUSTFILE


class FargateStandIn:
    def __init__(
        self,
        factory: ClientFactory,
        cluster: str,
        folder: Path,
        web_port: int,
        master_port: int,
        aws_env: dict[str, str],
    ) -> None:
        self.ecs = factory.client("ecs")
        self.cluster = cluster
        self.folder = folder
        self.web_port = web_port
        self.master_port = master_port
        self.aws_env = aws_env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FargateStandIn:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join(timeout=30)
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    def _run(self) -> None:
        while not self.done.wait(0.3):
            running = set(self.ecs.list_tasks(cluster=self.cluster, desiredStatus="RUNNING")["taskArns"])
            for arn in running - set(self.processes):
                self._start(arn)
            for arn, process in self.processes.items():
                if process.poll() is not None and arn in running:  # the essential container exited
                    self.ecs.stop_task(
                        cluster=self.cluster, task=arn, reason="Essential container in task exited"
                    )
                elif process.poll() is None and arn not in running:  # stopped through the API
                    process.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=10)

    def _start(self, arn: str) -> None:
        task = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]
        (override,) = task["overrides"]["containerOverrides"]
        variables = {item["name"]: item["value"] for item in override.get("environment", [])}
        self.started.append({"arn": arn, "command": override["command"], "environment": variables})
        workdir = self.folder / arn.rsplit("/", 1)[-1]
        workdir.mkdir(parents=True)
        loopback = {
            "LOCUST_MASTER_NODE_HOST": "127.0.0.1",
            "LOCUST_MASTER_NODE_PORT": str(self.master_port),
            "LOCUST_MASTER_BIND_HOST": "127.0.0.1",
            "LOCUST_MASTER_BIND_PORT": str(self.master_port),
            "LOCUST_WEB_HOST": "127.0.0.1",
            "LOCUST_WEB_PORT": str(self.web_port),
            "LOCUST_CSV": str(workdir / "locust"),
            "OPS_LOADTEST_RESULTS_DIR": str(workdir),
            "LOCUST_LOCUSTFILE": str(LOCUSTFILE),
            "PYTHONPATH": str(LOCUSTFILE.parent.parent),
        }
        if "LOCUST_MASTER_NODE_HOST" not in variables:  # the master binds; workers connect
            del loopback["LOCUST_MASTER_NODE_HOST"], loopback["LOCUST_MASTER_NODE_PORT"]
        env = {**os.environ, **variables, **loopback, **self.aws_env}
        if not env.get("LOCUST_HOST", "http://127.0.0.1").startswith(
            "http://127."
        ):  # workers get it from the master
            raise AssertionError(f"the stand-in loads loopback only, not {env['LOCUST_HOST']}")
        command = [*override["command"][:-1], str(Path(sys.executable).parent / "locust")]
        with open(workdir / "container.log", "wb") as log:
            self.processes[arn] = subprocess.Popen(
                command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
