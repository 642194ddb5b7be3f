"""Benchmark: a no-op `ops observe plan` over 1,000 alarms against a Terraform-style
refresh (one DescribeAlarms and one ListTagsForResource per alarm), in one run, against
the same emulator (moto as a server on loopback).

Run: .venv/bin/python bench/observe_plan.py [--databases 125] [--rounds 3]
125 RDS components x 8 alarms = 1,000 alarms. Writes bench/results/observe_plan.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ops.aws.clients import ClientFactory  # noqa: E402
from ops.inventory import load_environment  # noqa: E402
from ops.local.emulator import emulator_command, emulator_healthy, emulator_target  # noqa: E402
from ops.observe.planning import observe_plan  # noqa: E402
from ops.reconcile.engine import apply_plan  # noqa: E402
from ops.util.ports import free_port  # noqa: E402
from ops.util.processes import wait_until  # noqa: E402

INVENTORY = """version: 1
platform: bench
base:
  region: us-east-1
  notifications: {{critical: {{topic: critical}}, warning: {{topic: warning}}}}
  components:
{components}
environments:
  local: {{provider: local, account_id: "123456789012", alarm_settings: {{write_rate: 1000}}}}
"""


def inventory(folder: Path, databases: int) -> Path:
    components = "\n".join(
        f"    db{i:04d}: {{kind: rds, identifier: db{i:04d}, database: app}}" for i in range(databases)
    )
    path = folder / "platform.yaml"
    path.write_text(INVENTORY.format(components=components))
    return path


def ours(target_port: int, env_file: Path) -> tuple[int, float]:
    env = load_environment("local", env_file)
    factory = ClientFactory(emulator_target(target_port, env.region))
    started = time.perf_counter()
    plan = observe_plan(factory, env, only=["alarm"]).plan
    elapsed = time.perf_counter() - started
    assert not plan.pending, "the plan should be a no-op"
    return factory.stats.total, elapsed


def terraform_style(target_port: int, names: list[str]) -> tuple[int, float]:
    factory = ClientFactory(emulator_target(target_port, "us-east-1"))
    cloudwatch = factory.client("cloudwatch")
    started = time.perf_counter()
    for name in names:
        (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])
    return factory.stats.total, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", type=int, default=125)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as folder:
        port = free_port()
        log = open(Path(folder) / "emulator.log", "wb")  # noqa: SIM115 (closed below)
        emulator = subprocess.Popen(emulator_command(port), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: emulator_healthy(port), 30, "the emulator")
            env_file = inventory(Path(folder), args.databases)
            env = load_environment("local", env_file)
            factory = ClientFactory(emulator_target(port, env.region))
            first = observe_plan(factory, env, only=["alarm"])
            apply_plan(first.plan, first.providers, workers=8)
            names = [c.name for c in first.plan.changes]
            results = {"ours": [ours(port, env_file) for _ in range(args.rounds)]}
            results["terraform_style"] = [terraform_style(port, names) for _ in range(args.rounds)]
        finally:
            emulator.terminate()
            emulator.wait()
            log.close()
    figures = {
        "alarms": len(names),
        "rounds": args.rounds,
        **{
            name: {
                "read_calls": runs[0][0],
                "wall_seconds_median": round(statistics.median(r[1] for r in runs), 3),
            }
            for name, runs in results.items()
        },
    }
    out = REPO / "bench" / "results" / "observe_plan.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
