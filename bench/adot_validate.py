"""Benchmark: `ops adot validate`'s Python validation against the real collector's `validate`,
per generated configuration.

Run: .venv/bin/python bench/adot_validate.py [--rounds 10]
Over every collector of every environment of platform.yaml (what `ops adot render` makes),
`rounds` times each after one warm-up: `adot.validate.validate_text` in this process (YAML
parse included), the real collector's `validate` as a whole process (adot/collector.py's
`validate_config`: a temporary folder, the process, its verdict; the three components that
cannot be built replaced by stand-ins first, outside the clock), and `ops adot validate` as a
whole process (what a person waits for). Median and p95 per configuration and over all; the
figures go to bench/results/adot_validate.json. The collector is OPS_OTELCOL, else the one
`make .tools/otelcol/.built` builds. No network is touched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ruamel.yaml import YAML  # noqa: E402

from adot.collector import DEPLOY_TIME_EXAMPLE, buildable, collector_binary, validate_config  # noqa: E402
from adot.components import DISTRIBUTIONS  # noqa: E402
from adot.generate import collector_configs, render  # noqa: E402
from adot.validate import validate_text  # noqa: E402
from ops.inventory.loader import load_inventory  # noqa: E402

METHODS = ("ours (in process)", "collector validate (process)", "ops adot validate (process)")


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    action()  # warm-up: caches, bytecode, the binary's pages
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def ops_script() -> str:
    script = Path(sys.executable).parent / "ops"
    return str(script) if script.exists() else "ops"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--label", default="", help="a note stored with the figures")
    args = parser.parse_args()
    binary = collector_binary()
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    inventory = load_inventory(REPO / "platform.yaml")
    per_config: dict[str, dict[str, dict[str, float]]] = {}
    everything: dict[str, list[float]] = {method: [] for method in METHODS}
    with tempfile.TemporaryDirectory(prefix="ops-bench-adot-") as folder:
        for env in sorted(inventory.environments):
            for name, generated in collector_configs(inventory.environment(env)).items():
                distribution = "lambda" if generated.collector.mode == "lambda" else "collector"
                standing, _ = buildable(YAML(typ="safe").load(generated.text))
                collector_text = render(standing)
                file = Path(folder) / f"{env}-{name}.yaml"
                file.write_text(generated.text)

                def ours(text: str = generated.text, dist: str = distribution) -> None:
                    assert validate_text(text, DISTRIBUTIONS[dist]) == []

                def collector(text: str = collector_text) -> None:
                    assert validate_config(text, DEPLOY_TIME_EXAMPLE).ok

                def cli(path: Path = file, dist: str = distribution) -> None:
                    command = [ops_script(), "adot", "validate", str(path), "--distribution", dist]
                    subprocess.run(command, check=True, capture_output=True, cwd=REPO)

                samples = dict(
                    zip(METHODS, (timed(f, args.rounds) for f in (ours, collector, cli)), strict=True)
                )
                key = f"{env}/{name}"
                per_config[key] = {
                    method: {
                        "median_ms": round(statistics.median(s) * 1000, 2),
                        "p95_ms": round(p95(s) * 1000, 2),
                    }
                    for method, s in samples.items()
                }
                for method, s in samples.items():
                    everything[method] += s
                print(
                    f"{key:22} "
                    + "  ".join(
                        f"{m.split(' (')[0]}: {v['median_ms']:8.2f} / {v['p95_ms']:8.2f} ms"
                        for m, v in per_config[key].items()
                    )
                )
    overall = {
        method: {"median_ms": round(statistics.median(s) * 1000, 2), "p95_ms": round(p95(s) * 1000, 2)}
        for method, s in everything.items()
    }
    print(f"\n{'all configurations':36} {'median':>10} {'p95':>10}")
    for method, figures in overall.items():
        print(f"{method:36} {figures['median_ms']:8.2f} ms {figures['p95_ms']:8.2f} ms")
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "rounds": args.rounds,
        "label": args.label,
        "collector": version.stdout.strip(),
        "configurations": len(per_config),
        "overall": overall,
        "per_configuration": per_config,
    }
    out = REPO / "bench" / "results" / "adot_validate.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
