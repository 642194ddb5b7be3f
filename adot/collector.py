"""The real OpenTelemetry Collector as a tool: built by the Collector Builder from
adot/builder.yaml (`make .tools/otelcol/.built`) with the ADOT components our configurations
use that build here, and run for its own `validate` command.

Three of those components cannot be built (the Go module proxy refuses modules they import):
the awsemf and awsxray exporters and the resourcedetection processor. `buildable()` puts a
stand-in of the build in their place, one that keeps every pipeline's shape, and says what
it replaced: the collector then judges everything else, and those three are judged by
`ops adot validate`'s rules only (docs/observability.md, "The real collector")."""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ops.errors import OpsError
from ops.util.processes import child_environment

OTELCOL_ENV = "OPS_OTELCOL"
BINARY_NAME = "otelcol-platform-ops"
VALIDATE_TIMEOUT = 30.0  # seconds; it takes well under one, but the machine may be busy
KINDS = ("receivers", "processors", "exporters", "extensions", "connectors")

# ADOT components our configurations use that the build lacks (see the module's docstring).
UNBUILDABLE: dict[str, frozenset[str]] = {
    "exporters": frozenset({"awsemf", "awsxray"}),
    "processors": frozenset({"resourcedetection"}),
}

# What `validate` needs from its environment and must not take from ours. sigv4auth resolves
# AWS credentials while it is validated: without any it goes to the EC2 instance metadata
# service (a network call, and a refusal off EC2). Placeholders that sign nothing keep it
# local; the metadata service is switched off so that it is never asked.
VALIDATE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "placeholder-for-validate",
    "AWS_SECRET_ACCESS_KEY": "placeholder-for-validate",
    "AWS_EC2_METADATA_DISABLED": "true",
}

# What a generated configuration's `${env:NAME}` references take at deploy time, with example
# values: the task definition gives the first two (adot/generate.py), the ECS agent the third
# (the sidecar's awsecscontainermetrics receiver reads it). Validating a generated
# configuration without them fails on empty endpoints, as the collector would without them.
DEPLOY_TIME_EXAMPLE = {
    "AMP_REMOTE_WRITE_URL": "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-example/api/v1/remote_write",
    "INGEST_METRICS_TARGET": "ingest.internal:8000",
    "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/example-task",
}

# `'exporters' unknown type: "x" for id: "x" (valid values: [debug prometheus_remote_write ...])`:
# the types the build accepts, deprecated aliases included (`components` lists no alias).
_VALID_VALUES = re.compile(r"'(\w+)' unknown type: .*\(valid values: \[([^\]]*)\]\)")
_PROBE_TYPE = "zz_platform_ops_probe"
# Noise the collector's libraries print before its error: the AWS SDK's warnings.
_NOISE = re.compile(r"^SDK \d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


def collector_binary() -> Path:
    """The collector: OPS_OTELCOL, else what `make` builds in .tools/otelcol of this checkout."""
    named = os.environ.get(OTELCOL_ENV)
    binary = (
        Path(named)
        if named
        else Path(__file__).resolve().parents[1] / ".tools" / "otelcol" / "build" / BINARY_NAME
    )
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise OpsError(
            f"no OpenTelemetry Collector at {binary}: run `make .tools/otelcol/.built` (Go 1.26), "
            f"or set {OTELCOL_ENV}"
        )
    return binary


def _run(
    binary: Path,
    *arguments: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = VALIDATE_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(binary), *arguments],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=child_environment({**VALIDATE_ENVIRONMENT, **(env or {})}),
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise OpsError(f"`{binary.name} {arguments[0]}` did not finish within {timeout:.0f} s") from error
    except OSError as error:
        raise OpsError(f"cannot run {binary}: {error.strerror or error}") from error


@functools.cache
def _components(binary: Path) -> dict[str, frozenset[str]]:
    result = _run(binary, "components")
    if result.returncode != 0:
        said = "; ".join(_clean(result.stderr, "")) or f"exit {result.returncode}"
        raise OpsError(f"`{binary.name} components` failed: {said}")
    try:
        listing = YAML(typ="safe").load(result.stdout)
    except YAMLError as error:
        raise OpsError(f"`{binary.name} components` printed no YAML: {error}") from error
    return {
        kind: frozenset(str(entry["name"]) for entry in listing.get(kind) or [] if isinstance(entry, dict))
        for kind in KINDS
    }


def collector_components() -> dict[str, set[str]]:
    """The component types of the build by kind (receivers, processors, exporters,
    extensions, connectors), from its `components` command."""
    return {kind: set(types) for kind, types in _components(collector_binary()).items()}


@functools.cache
def _accepted_types(binary: Path) -> dict[str, frozenset[str]]:
    """The types the build accepts in a configuration: its components and their deprecated
    aliases (`prometheusremotewrite` for `prometheus_remote_write`), which only the
    collector's own refusal of an unknown type lists. One probe; the components if the
    refusal's wording ever changes."""
    probe = "".join(f"{kind}: {{{_PROBE_TYPE}: {{}}}}\n" for kind in KINDS) + "service: {pipelines: {}}\n"
    verdict = _validate(binary, probe, {})
    accepted = {kind: set(types) for kind, types in _components(binary).items()}
    for line in verdict.errors:
        found = _VALID_VALUES.search(line)
        if found and found.group(1) in accepted:
            accepted[found.group(1)] |= set(found.group(2).split())
    return {kind: frozenset(types) for kind, types in accepted.items()}


@dataclass(frozen=True)
class CollectorVerdict:
    ok: bool
    errors: tuple[str, ...]  # the collector's own error lines, cleaned; empty when ok


def _clean(output: str, config_file: str) -> list[str]:
    """The collector's error lines without its `Error: ` prefix, blank lines, the AWS SDK's
    warnings, or the temporary file's path (which says nothing to a reader)."""
    lines = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line or _NOISE.match(line):
            continue
        line = line.removeprefix("Error: ")
        lines.append(line.replace(config_file, "<config>") if config_file else line)
    return lines


def _validate(binary: Path, text: str, environment: Mapping[str, str]) -> CollectorVerdict:
    with tempfile.TemporaryDirectory(prefix="ops-otelcol-") as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(text, encoding="utf-8")
        result = _run(binary, "validate", f"--config={config}", cwd=Path(folder), env=environment)
    if result.returncode == 0:
        return CollectorVerdict(True, ())
    errors = _clean(result.stderr + result.stdout, str(config))
    return CollectorVerdict(False, tuple(errors) or (f"exit {result.returncode}",))


def validate_config(text: str, environment: Mapping[str, str] | None = None) -> CollectorVerdict:
    """The real collector's `validate` of a configuration's text, in a temporary folder.
    `environment`: the values its `${env:NAME}` references take (a task definition's); the
    collector gets those and a child's environment, never the caller's whole one."""
    return _validate(collector_binary(), text, environment or {})


def _stand_in(kind: str, component_id: str) -> tuple[str, Any] | None:
    """The build's component that takes the place of one it lacks, and its settings.

    The stand-in keeps the original's name after its type (`awsemf/app` ->
    `debug/awsemf/app`: a name may hold a `/`), so ids stay unique and say what they stand for.
    - exporter -> debug: accepts traces, metrics and logs and needs no setting;
    - processor -> batch: the one processor of the build that takes every signal and needs no
      setting (memory_limiter needs limits); it changes when data leaves, never what it is, so
      the pipeline keeps its length and order;
    - receiver -> otlp, HTTP only, on an ephemeral loopback port (never one another uses);
    - extension -> health_check, on an ephemeral loopback port;
    - connector: none (the build has no connector): it is left for the collector to refuse."""
    stand_ins: dict[str, tuple[str, Any]] = {
        "exporters": ("debug", {}),
        "processors": ("batch", {}),
        "receivers": ("otlp", {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}),
        "extensions": ("health_check", {"endpoint": "127.0.0.1:0"}),
    }
    if kind not in stand_ins:
        return None
    type_, settings = stand_ins[kind]
    return f"{type_}/{component_id}", copy.deepcopy(settings)


def buildable(config: dict[str, Any], *, only_unbuildable: bool = False) -> tuple[dict[str, Any], list[str]]:
    """`config` with each component the build lacks (awsemf, awsxray, resourcedetection, any
    type the build does not accept) replaced by a stand-in of the build, under the same
    pipelines at the same places; and what was replaced, as `kind.id -> stand-in id`, in the
    configuration's order. Their settings are dropped: the collector cannot judge them.
    `config` itself is left as it was. `only_unbuildable`: replace the three ADOT components
    that cannot be built and nothing else, leaving a type neither ADOT nor the build knows for
    the collector to refuse, as ADOT would."""
    accepted = _accepted_types(collector_binary())

    def lacking(kind: str, type_: str) -> bool:
        if only_unbuildable:
            return type_ in UNBUILDABLE.get(kind, frozenset())
        return type_ not in accepted.get(kind, frozenset())

    result = copy.deepcopy(config)
    replaced: list[str] = []
    renames: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        section = result.get(kind)
        if not isinstance(section, dict):
            continue
        renamed: dict[str, Any] = {}
        for component_id, settings in section.items():
            type_ = str(component_id).split("/", 1)[0]
            stand_in = _stand_in(kind, str(component_id)) if lacking(kind, type_) else None
            if stand_in is None or stand_in[0] in section:
                renamed[component_id] = settings
                continue
            renamed[stand_in[0]] = stand_in[1]
            renames.setdefault(kind, {})[str(component_id)] = stand_in[0]
            replaced.append(f"{kind}.{component_id} -> {stand_in[0]}")
        result[kind] = renamed
    service = result.get("service")
    if isinstance(service, dict):
        _rename_references(service, renames)
    return result, replaced


def _rename_references(service: dict[str, Any], renames: dict[str, dict[str, str]]) -> None:
    """Point service.extensions and the pipelines' lists at the stand-ins."""

    def renamed(kind: str, names: Any) -> Any:
        if not isinstance(names, list):
            return names
        return [renames.get(kind, {}).get(str(name), name) for name in names]

    if "extensions" in service:
        service["extensions"] = renamed("extensions", service["extensions"])
    pipelines = service.get("pipelines")
    if isinstance(pipelines, dict):
        for pipeline in pipelines.values():
            if isinstance(pipeline, dict):
                for kind in ("receivers", "processors", "exporters"):
                    if kind in pipeline:
                        pipeline[kind] = renamed(kind, pipeline[kind])
