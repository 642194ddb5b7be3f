"""The real OpenTelemetry Collector (built from adot/builder.yaml; OPS_OTELCOL names another
build) against the toolkit: every generated configuration passes its `validate` once the
three components that cannot be built have stand-ins; `ops adot validate` and it agree on a
corpus, or the difference is in docs/observability.md's table; and the toolkit's telemetry
reaches a running collector over OTLP."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from adot.collector import (
    DEPLOY_TIME_EXAMPLE,
    UNBUILDABLE,
    CollectorVerdict,
    buildable,
    collector_binary,
    collector_components,
    validate_config,
)
from adot.components import DISTRIBUTIONS, SIGNALS
from adot.generate import PROCESSORS, collector_configs, render
from adot.validate import validate_text
from ops.inventory.loader import load_inventory
from ops.util import processes
from ops.util.ports import free_port
from ops.util.processes import wait_until
from tests.helpers import INVENTORY, REPO, run_cli
from tests.unit import test_adot

DOC = REPO / "docs" / "observability.md"
TABLE_HEADING = "### The real collector: where `ops adot validate` and it differ"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    distribution: str = "collector"  # what `ops adot validate --distribution` is given


def _generated() -> list[Case]:
    """Every collector of every environment, as `ops adot render` makes them."""
    inventory = load_inventory(INVENTORY)
    return [
        Case(
            f"generated {env}/{name}",
            generated.text,
            "lambda" if generated.collector.mode == "lambda" else "collector",
        )
        for env in sorted(inventory.environments)
        for name, generated in collector_configs(inventory.environment(env)).items()
    ]


def _test_adot() -> list[Case]:
    """tests/unit/test_adot.py's configurations for `ops adot validate`: GOOD and each
    one-edit breakage of it, read from its parametrize mark so that a new one joins here."""
    test = test_adot.test_a_broken_configuration_exits_2_with_one_line
    (mark,) = [m for m in vars(test)["pytestmark"] if m.name == "parametrize"]
    cases = [Case("test_adot GOOD", test_adot.GOOD)]
    for old, new, _line, says in mark.args[1]:
        cases.append(Case(f"test_adot {says.split(': ', 1)[0]}", test_adot.GOOD.replace(old, new, 1)))
    assert len(cases) >= 7, "test_adot's broken configurations are no longer where this reads them"
    return cases


# Variants of a configuration made of the build's components (so the collector judges all of it).
BASE = """\
extensions:
  health_check: {endpoint: 127.0.0.1:13133}
  sigv4auth: {region: us-east-1, service: aps}
receivers:
  otlp: {protocols: {http: {endpoint: 127.0.0.1:4318}}}
processors:
  memory_limiter: {check_interval: 1s, limit_percentage: 80, spike_limit_percentage: 25}
  batch: {timeout: 1s}
exporters:
  debug: {}
  prometheusremotewrite: {endpoint: "${env:AMP_REMOTE_WRITE_URL}", auth: {authenticator: sigv4auth}}
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [debug]}
    metrics: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [prometheusremotewrite]}
"""
TRACES = "    traces: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [debug]}"


def _edit(*edits: tuple[str, str]) -> str:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _traces(old: str, new: str) -> tuple[str, str]:
    assert old in TRACES
    return TRACES, TRACES.replace(old, new, 1)


PROCESSORS_SECTION = BASE[BASE.index("processors:\n") : BASE.index("exporters:\n")]
PADDING = "".join(f"  batch/pad{i:03}: {{timeout: 1s, send_batch_size: 100}}\n" for i in range(200))

VARIANTS = [
    Case("base", BASE),
    Case("unknown component type", _edit(("  debug: {}", "  debug: {}\n  nosuchexporter: {}"))),
    Case("pipeline names an undefined exporter", _edit(_traces("[debug]", "[debug, otlphttp]"))),
    Case("pipeline names an undefined receiver", _edit(_traces("[otlp]", "[otlp, jaeger]"))),
    Case(
        "pipeline names an undefined processor",
        _edit(_traces("[memory_limiter, batch]", "[memory_limiter, attributes, batch]")),
    ),
    Case(
        "service names an undefined extension",
        _edit(("[health_check, sigv4auth]", "[health_check, sigv4auth, pprof]")),
    ),
    Case(
        "pipeline names an extension as exporter",
        _edit(_traces("exporters: [debug]", "exporters: [sigv4auth]")),
    ),
    Case(
        "receiver defined but unused",
        _edit(
            ("receivers:\n", "receivers:\n  otlp/unused: {protocols: {grpc: {endpoint: 127.0.0.1:4317}}}\n")
        ),
    ),
    Case("exporter defined but unused", _edit(("  debug: {}", "  debug: {}\n  debug/unused: {}"))),
    Case(
        "extension defined but not enabled",
        _edit(("  sigv4auth: {region", "  health_check/off: {}\n  sigv4auth: {region")),
    ),
    Case("pipeline without exporters", _edit(_traces(", exporters: [debug]}", "}"))),
    Case("pipeline with an empty exporter list", _edit(_traces("exporters: [debug]", "exporters: []"))),
    Case("pipeline without receivers", _edit(_traces("receivers: [otlp], ", ""))),
    Case("pipeline of an unknown signal", _edit(("    traces: {", "    spans: {"))),
    Case("pipeline that is null", _edit((TRACES, "    traces:"))),
    Case("pipeline that is a list", _edit((TRACES, "    traces: [otlp]"))),
    Case(
        "pipeline's list given as a string",
        _edit(_traces("processors: [memory_limiter, batch]", "processors: batch")),
    ),
    Case("no pipeline", BASE.split("  pipelines:")[0] + "  pipelines: {}\n"),
    Case("no service", BASE.split("\nservice:")[0] + "\n"),
    Case("a section that is a list", _edit((PROCESSORS_SECTION, "processors: [memory_limiter, batch]\n"))),
    Case("unknown top-level section", _edit(("exporters:\n", "exporter:\n  debug/x: {}\nexporters:\n"))),
    Case("YAML that is not a mapping", "- receivers\n- exporters\n"),
    Case("empty file", ""),
    Case("not YAML", "receivers: [otlp\n"),
    Case("duplicate key", _edit(("  debug: {}", "  debug: {}\n  debug: {verbosity: detailed}"))),
    Case("exporter listed twice in a pipeline", _edit(_traces("[debug]", "[debug, debug]"))),
    Case(
        "batch send_batch_size -1",
        _edit(("batch: {timeout: 1s}", "batch: {timeout: 1s, send_batch_size: -1}")),
    ),
    Case(
        "memory_limiter without limits",
        _edit(
            ("{check_interval: 1s, limit_percentage: 80, spike_limit_percentage: 25}", "{check_interval: 1s}")
        ),
    ),
    Case(
        "unknown key inside a component",
        _edit(("batch: {timeout: 1s}", "batch: {timeout: 1s, send_batch_sise: 10}")),
    ),
    Case(
        "otlp receiver without protocols",
        _edit(("otlp: {protocols: {http: {endpoint: 127.0.0.1:4318}}}", "otlp:")),
    ),
    Case(
        "service.telemetry with an unknown log level",
        _edit(
            ("  extensions: [health_check", "  telemetry: {logs: {level: loud}}\n  extensions: [health_check")
        ),
    ),
    Case(
        "prometheusremotewrite without endpoint",
        _edit(('{endpoint: "${env:AMP_REMOTE_WRITE_URL}", auth', "{auth")),
    ),
    Case("prometheusremotewrite without authenticator", _edit((", auth: {authenticator: sigv4auth}}", "}"))),
    Case(
        "authenticator not enabled in service.extensions",
        _edit(("  extensions: [health_check, sigv4auth]", "  extensions: [health_check]")),
    ),
    Case(
        "prometheus_remote_write, the exporter's new name",
        BASE.replace("prometheusremotewrite", "prometheus_remote_write"),
    ),
    Case("a deploy-time variable left unset", _edit(("AMP_REMOTE_WRITE_URL", "AMP_URL_NOBODY_SETS"))),
    Case(
        "over the SSM advanced tier's 8 KB",
        _edit(("  batch: {timeout: 1s}\n", "  batch: {timeout: 1s}\n" + PADDING)),
    ),
    Case(
        "awsemf without log_group_name",
        _edit(
            ("  debug: {}", "  debug: {}\n  awsemf: {region: us-east-1}"),
            ("exporters: [prometheusremotewrite]", "exporters: [prometheusremotewrite, awsemf]"),
        ),
    ),
    # Both accept, both wrongly: awsxray would refuse the setting, but it cannot be built
    # (its stand-in has no settings) and ours checks none of its settings (docs say so).
    Case(
        "awsxray with a setting it does not have",
        _edit(
            ("  debug: {}", "  debug: {}\n  awsxray: {region: us-east-1, no_such_setting: 1}"),
            _traces("[debug]", "[debug, awsxray]"),
        ),
    ),
    Case("a collector configuration on the Lambda layer", BASE, distribution="lambda"),
    # ADOT refuses these at start-up; `ops adot validate` once passed them.
    Case(
        "unknown key in a pipeline (procesors)",
        _edit(_traces("processors:", "procesors:")),
    ),
    Case(
        "unknown key in service (extension)",
        _edit(
            (
                "  extensions: [health_check, sigv4auth]",
                "  extensions: [health_check, sigv4auth]\n  extension: [health_check]",
            )
        ),
    ),
    Case(
        "processor listed twice in a pipeline",
        _edit(_traces("[memory_limiter, batch]", "[memory_limiter, batch, batch]")),
    ),
    Case(
        "exporter in a pipeline of a signal it does not take",
        _edit(_traces("[debug]", "[debug, prometheusremotewrite]")),
    ),
    Case(
        "receiver in a pipeline of a signal it does not take",
        _edit(
            ("receivers:\n", "receivers:\n  awsecscontainermetrics: {}\n"),
            _traces("[otlp]", "[otlp, awsecscontainermetrics]"),
        ),
    ),
    Case(
        "component id with an empty name (batch/)",
        _edit(("  batch: {timeout: 1s}\n", "  batch: {timeout: 1s}\n  batch/: {}\n")),
    ),
    Case("pipeline id with an empty name (traces/)", _edit(("    traces: {", "    traces/: {"))),
]

CASES = [*_generated(), *_test_adot(), *VARIANTS]
GENERATED = [case for case in CASES if case.name.startswith("generated ")]


class Verdicts(NamedTuple):
    ours: list[str]  # `ops adot validate`'s problems, one a line (none: exit 0)
    collector: CollectorVerdict
    replaced: list[str]  # what buildable() replaced before the collector saw it


def _judge(case: Case) -> Verdicts:
    ours = [f"{p.path}: {p.message}" for p in validate_text(case.text, DISTRIBUTIONS[case.distribution])]
    try:
        config = YAML(typ="safe").load(case.text)
    except YAMLError:
        config = None
    if not isinstance(config, dict):  # not a configuration: the collector gets the text as it is
        return Verdicts(ours, validate_config(case.text, DEPLOY_TIME_EXAMPLE), [])
    # Only the three ADOT components that cannot be built get stand-ins: a type neither ADOT
    # nor the build knows stays for the collector to refuse, as ADOT would.
    standing, replaced = buildable(config, only_unbuildable=True)
    return Verdicts(ours, validate_config(render(standing), DEPLOY_TIME_EXAMPLE), replaced)


@pytest.fixture(scope="module")
def verdicts() -> dict[str, Verdicts]:
    """Both verdicts of every case, computed once: a collector process per configuration,
    a few at a time."""
    collector_binary()  # fails with the one line saying how to build it
    buildable({})  # the build's accepted types, probed once before the threads need them
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((c.name for c in CASES), pool.map(_judge, CASES), strict=True))


class Row(NamedTuple):
    ours: str
    collector: str


def documented_differences() -> dict[str, Row]:
    """docs/observability.md's table: `case` | ours | the collector's | why."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(TABLE_HEADING)
    rows: dict[str, Row] = {}
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        found = re.match(r"\|\s*`([^`]+)`\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|", line)
        if found:
            rows[found.group(1)] = Row(found.group(2), found.group(3))
    return rows


def _word(ok: bool) -> str:
    return "accepts" if ok else "refuses"


def _say(verdict: Verdicts) -> str:
    collector = list(verdict.collector.errors) or "valid"
    return f"ours: {verdict.ours or 'valid'}; the collector's: {collector} (stand-ins: {verdict.replaced})"


def test_the_build_has_the_components_it_was_built_with() -> None:
    components = collector_components()
    assert components["receivers"] == {"otlp", "prometheus", "awsecscontainermetrics"}
    assert components["processors"] == {"batch", "memory_limiter"}
    assert components["exporters"] == {"debug", "prometheus_remote_write"}
    assert components["extensions"] == {"health_check", "sigv4auth"}


def test_our_signal_table_says_what_the_build_says_of_each_of_its_components() -> None:
    """adot/components.py's SIGNALS (which pipelines a component may sit in) against the
    build's own `components` listing, where a signal of stability "Undefined" is one the
    component does not take. The exporter's new name is our list's old one."""
    listing = YAML(typ="safe").load(processes_output([str(collector_binary()), "components"]))
    aliases = {"prometheus_remote_write": "prometheusremotewrite"}
    for kind in ("receivers", "processors", "exporters"):
        for component in listing[kind]:
            taken = {signal for signal, level in component["stability"].items() if level != "Undefined"}
            ours = SIGNALS[kind][aliases.get(component["name"], component["name"])]
            assert set(ours) == taken, (kind, component["name"])


def processes_output(command: list[str]) -> str:
    import subprocess

    env = processes.child_environment()
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60, env=env).stdout


def test_every_generated_configuration_passes_the_real_collector(verdicts: dict[str, Verdicts]) -> None:
    """Once awsemf, awsxray and resourcedetection have stand-ins, and with what a task's
    environment holds at deploy time. Those three and nothing else are replaced: a component
    we start using that the build lacks fails here, loudly."""
    assert len(GENERATED) >= 9  # three collectors in each of local, staging and prod
    replaced_types: dict[str, set[str]] = {}
    for case in GENERATED:
        config = YAML(typ="safe").load(case.text)
        standing, replaced = buildable(config)
        assert (standing, replaced) == buildable(config, only_unbuildable=True), case.name
        verdict = verdicts[case.name]
        assert verdict.collector.ok, f"{case.name}: {verdict.collector.errors}"
        for entry in replaced:
            kind, component_id = entry.split(" -> ")[0].split(".", 1)
            replaced_types.setdefault(kind, set()).add(component_id.split("/", 1)[0])
    assert replaced_types == {kind: set(types) for kind, types in UNBUILDABLE.items()}


def test_a_stand_in_keeps_the_pipeline_and_says_what_it_replaced() -> None:
    gateway = next(c for c in GENERATED if c.name.endswith("/gateway"))
    config = YAML(typ="safe").load(gateway.text)
    standing, replaced = buildable(config)
    assert replaced == [
        "processors.resourcedetection -> batch/resourcedetection",
        "exporters.awsxray -> debug/awsxray",
        "exporters.awsemf -> debug/awsemf",
    ]
    assert standing["service"]["pipelines"]["metrics"] == {
        "receivers": ["prometheus", "otlp"],
        "processors": ["memory_limiter", "batch/resourcedetection", "batch/metrics"],
        "exporters": ["debug/awsemf", "prometheusremotewrite"],  # the alias stays: the build takes it
    }
    assert "awsemf" in config["exporters"]  # the caller's configuration is left as it was


def test_any_component_the_build_lacks_gets_a_stand_in_the_collector_takes() -> None:
    """Components ADOT ships and the build lacks, of each kind, named or not: replaced, said,
    and the result is a configuration the collector accepts."""
    config = YAML(typ="safe").load(
        """\
extensions: {pprof: {}, health_check: {}}
receivers: {zipkin: {}, otlp: {protocols: {http: {endpoint: 127.0.0.1:4318}}}}
processors: {memory_limiter: {check_interval: 1s, limit_mib: 100}, attributes/x: {actions: []}, batch: {}}
exporters: {otlphttp: {endpoint: "http://127.0.0.1:4318"}, awsemf/app: {log_group_name: /x}}
service:
  extensions: [pprof, health_check]
  pipelines:
    traces:
      receivers: [zipkin, otlp]
      processors: [memory_limiter, attributes/x, batch]
      exporters: [otlphttp]
    logs: {receivers: [otlp], exporters: [awsemf/app, otlphttp]}
"""
    )
    standing, replaced = buildable(config)
    assert replaced == [
        "receivers.zipkin -> otlp/zipkin",
        "processors.attributes/x -> batch/attributes/x",
        "exporters.otlphttp -> debug/otlphttp",
        "exporters.awsemf/app -> debug/awsemf/app",
        "extensions.pprof -> health_check/pprof",
    ]
    pipelines = standing["service"]["pipelines"]
    assert pipelines["traces"]["processors"] == ["memory_limiter", "batch/attributes/x", "batch"]
    assert pipelines["logs"]["exporters"] == ["debug/awsemf/app", "debug/otlphttp"]
    assert standing["service"]["extensions"] == ["health_check/pprof", "health_check"]
    verdict = validate_config(render(standing))
    assert verdict.ok, verdict.errors


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_ours_and_the_collector_agree_or_the_difference_is_documented(
    case: Case, verdicts: dict[str, Verdicts]
) -> None:
    verdict = verdicts[case.name]
    ours_ok, collector_ok = not verdict.ours, verdict.collector.ok
    row = documented_differences().get(case.name)
    if row is None:
        assert ours_ok == collector_ok, (
            f"they differ and docs/observability.md does not say why: {_say(verdict)}"
        )
    else:
        assert ours_ok != collector_ok, (
            f"listed in docs/observability.md, but they agree now: {_say(verdict)}"
        )
        assert row == Row(_word(ours_ok), _word(collector_ok)), _say(verdict)


def test_every_documented_difference_is_a_case_here() -> None:
    names = {case.name for case in CASES}
    assert set(documented_differences()) <= names


# --- end to end: the toolkit's telemetry to a running collector ----------------------------


@pytest.fixture
def running_collector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A collector with an OTLP/HTTP receiver and the generated processors, printing what it
    gets (debug, detailed) to its log; its OTLP endpoint and log. Stopped, whatever happens."""
    otlp_port, health_port = free_port(), free_port()
    pipeline = {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["debug"]}
    config = {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{otlp_port}"}}}},
        "processors": {"memory_limiter": PROCESSORS["memory_limiter"], "batch": PROCESSORS["batch/traces"]},
        "exporters": {"debug": {"verbosity": "detailed"}},
        "service": {"extensions": ["health_check"], "pipelines": {"traces": pipeline, "metrics": pipeline}},
    }
    config_file, log_file, pid_file = (
        tmp_path / "otelcol.yaml",
        tmp_path / "otelcol.log",
        tmp_path / "otelcol.pid",
    )
    config_file.write_text(render(config))
    pid = processes.start_detached([str(collector_binary()), f"--config={config_file}"], pid_file, log_file)
    try:
        wait_until(lambda: _healthy(health_port), 30, "the collector's health_check", log_file)
        yield f"http://127.0.0.1:{otlp_port}", log_file
    finally:
        processes.stop(pid_file)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _printed(log_file: Path) -> tuple[list[str], list[str]]:
    """The span names and metric names the debug exporter printed (its detailed format)."""
    text = log_file.read_text(encoding="utf-8", errors="replace")
    spans = re.findall(r"^\s+Name\s+: (.+)$", text, re.MULTILINE)
    metrics = re.findall(r"^Descriptor:\n\s+-> Name: (.+)$", text, re.MULTILINE)
    return spans, metrics


def test_a_command_s_span_and_metric_reach_the_real_collector(running_collector: tuple[str, Path]) -> None:
    endpoint, log_file = running_collector
    result = run_cli(
        "adot", "render", "--env", "local", env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, timeout=60
    )
    assert result.code == 0, result.err
    wait_until(
        lambda: all(_printed(log_file)),
        30,
        "the command's span and metric in the collector's debug output",
        log_file,
    )
    spans, metrics = _printed(log_file)
    assert spans == ["ops adot render"]
    assert metrics == ["ops.command.duration"]
    text = log_file.read_text(encoding="utf-8")
    assert "-> service.name: Str(platform-ops)" in text  # the toolkit's resource
    assert "-> ops.command: Str(ops adot render)" in text and "-> ops.exit_code: Int(0)" in text
