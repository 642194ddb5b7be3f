"""`ops adot validate`: what the ADOT collector would refuse at start-up, or do wrong,
found before a deploy (ADOT itself has no validate command). One problem a line:
`FILE:LINE: path: message`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from adot.components import KINDS, Distribution

SSM_LIMITS = {"standard": 4096, "advanced": 8192}  # bytes of a parameter's value
Tier = Literal["standard", "advanced"]
PIPELINE_TYPES = ("traces", "metrics", "logs")
TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.path}: {self.message}"


def _line(node: Any, key: Any, default: int) -> int:
    if isinstance(node, CommentedMap) and key in node:
        return int(node.lc.key(key)[0]) + 1
    if isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
        return int(node.lc.item(key)[0]) + 1
    return default


class Checker:
    def __init__(self, doc: Any, distribution: Distribution) -> None:
        self.doc = doc
        self.distribution = distribution
        self.problems: list[Problem] = []

    def add(self, line: int, path: str, message: str) -> None:
        self.problems.append(Problem(line, path, message))

    def section(self, name: str) -> CommentedMap:
        value = self.doc.get(name)
        return value if isinstance(value, CommentedMap) else CommentedMap()

    def check_components(self) -> None:
        for kind in KINDS:
            for component_id in self.section(kind):
                type_ = str(component_id).split("/", 1)[0]
                if not self.distribution.ships(kind, type_):
                    self.add(
                        _line(self.section(kind), component_id, 1),
                        f"{kind}.{component_id}",
                        f"{type_!r} is not shipped by {self.distribution.name} "
                        f"(an opentelemetry-collector-contrib component?); use one it ships",
                    )

    def check_service(self) -> None:
        service = self.doc.get("service")
        if not isinstance(service, CommentedMap):
            self.add(1, "service", "missing: a configuration needs service.pipelines")
            return
        for index, extension in enumerate(service.get("extensions") or []):
            if extension not in self.section("extensions"):
                self.add(
                    _line(service["extensions"], index, _line(service, "extensions", 1)),
                    "service.extensions",
                    f"{extension!r} is not defined under extensions",
                )
        pipelines = service.get("pipelines")
        if not isinstance(pipelines, CommentedMap) or not pipelines:
            self.add(_line(service, "pipelines", 1), "service.pipelines", "no pipeline: nothing would flow")
            return
        for pipeline_id, pipeline in pipelines.items():
            self.check_pipeline(str(pipeline_id), pipeline, _line(pipelines, pipeline_id, 1))

    def check_pipeline(self, pipeline_id: str, pipeline: Any, line: int) -> None:
        path = f"service.pipelines.{pipeline_id}"
        if pipeline_id.split("/", 1)[0] not in PIPELINE_TYPES:
            self.add(
                line, path, f"a pipeline is traces, metrics or logs (optionally /name), not {pipeline_id!r}"
            )
        if not isinstance(pipeline, CommentedMap):
            self.add(line, path, "must be a mapping with receivers, processors and exporters")
            return
        for kind in ("receivers", "processors", "exporters"):
            names = pipeline.get(kind) or []
            if kind != "processors" and not names:
                self.add(
                    _line(pipeline, kind, line), f"{path}.{kind}", "empty: a pipeline needs at least one"
                )
            for index, name in enumerate(names):
                if name not in self.section(kind):
                    self.add(
                        _line(names, index, _line(pipeline, kind, line)),
                        f"{path}.{kind}",
                        f"{name!r} is not defined under {kind}",
                    )
        self.check_order(path, pipeline, line)

    def check_order(self, path: str, pipeline: CommentedMap, line: int) -> None:
        """memory_limiter first (refuse data before memory runs out), batch last."""
        processors = [str(p) for p in pipeline.get("processors") or []]
        if not processors:
            return
        where = _line(pipeline, "processors", line)
        if processors[0].split("/", 1)[0] != "memory_limiter":
            self.add(where, f"{path}.processors", f"memory_limiter must come first, not {processors[0]!r}")
        if processors[-1].split("/", 1)[0] != "batch":
            self.add(where, f"{path}.processors", f"batch must come last, not {processors[-1]!r}")

    def check_exporter_settings(self) -> None:
        exporters, extensions = self.section("exporters"), self.section("extensions")
        enabled = list((self.doc.get("service") or {}).get("extensions") or [])
        for exporter_id, settings in exporters.items():
            type_ = str(exporter_id).split("/", 1)[0]
            settings = settings if isinstance(settings, CommentedMap) else CommentedMap()
            line, path = _line(exporters, exporter_id, 1), f"exporters.{exporter_id}"
            if type_ in ("prometheusremotewrite", "otlp", "otlphttp") and not settings.get("endpoint"):
                self.add(line, f"{path}.endpoint", "required: where to send")
            if type_ == "prometheusremotewrite":
                authenticator = (settings.get("auth") or {}).get("authenticator")
                if not authenticator:
                    self.add(
                        line,
                        f"{path}.auth.authenticator",
                        "required: AMP takes SigV4-signed writes (sigv4auth)",
                    )
                elif authenticator not in extensions or authenticator not in enabled:
                    self.add(
                        line,
                        f"{path}.auth.authenticator",
                        f"{authenticator!r} must be under extensions and listed in service.extensions",
                    )
            if type_ == "awsemf" and not settings.get("log_group_name"):
                self.add(
                    line,
                    f"{path}.log_group_name",
                    "required here: without it metrics land in /metrics/default with no retention",
                )
            if type_ == "awsemf":
                self.check_metric_declarations(line, path, settings.get("metric_declarations") or [])

    def check_metric_declarations(self, line: int, path: str, declarations: list[Any]) -> None:
        """awsemf skips a declaration it cannot use, silently: its metrics never reach CloudWatch."""
        for index, declaration in enumerate(declarations):
            where = f"{path}.metric_declarations[{index}]"
            selectors = declaration.get("metric_name_selectors") if isinstance(declaration, dict) else None
            if not selectors:
                self.add(line, f"{where}.metric_name_selectors", "required: the metric names it applies to")
                continue
            for selector in selectors:
                try:
                    re.compile(str(selector))
                except re.error as error:
                    self.add(line, f"{where}.metric_name_selectors", f"{selector!r} is not a regex: {error}")
            dimensions = declaration.get("dimensions") or []
            if not all(isinstance(d, list) and d and all(isinstance(n, str) for n in d) for d in dimensions):
                self.add(
                    line, f"{where}.dimensions", "a list of dimension sets, each a list of attribute names"
                )


def validate_text(text: str, distribution: Distribution, tier: Tier | None = None) -> list[Problem]:
    """Every problem of a configuration; `tier` checks the size for that SSM tier
    (None: the largest, advanced)."""
    try:
        doc = YAML().load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return [
            Problem(mark.line + 1 if mark else 1, "(yaml)", f"not YAML: {getattr(error, 'problem', error)}")
        ]
    if not isinstance(doc, CommentedMap):
        return [Problem(1, "(top)", "a collector configuration is a mapping")]
    checker = Checker(doc, distribution)
    for key in doc:
        if key not in (*KINDS, "service"):
            checker.add(
                _line(doc, key, 1),
                str(key),
                "unknown section (receivers, processors, exporters, extensions, connectors, service)",
            )
    checker.check_components()
    checker.check_service()
    checker.check_exporter_settings()
    size, limit = len(text.encode()), SSM_LIMITS[tier or "advanced"]
    if size > limit:
        checker.add(
            1, "(size)", f"{size} bytes: over the SSM {tier or 'advanced'} tier's {limit}; split or trim it"
        )
    for number, line in enumerate(text.splitlines(), 1):
        if TEMPLATE.search(line):
            checker.add(
                number, "(value)", "'{{ }}' is SSM's parameter-reference syntax: not allowed in the value"
            )
    return sorted(checker.problems, key=lambda p: (p.line, p.path))
