"""`ops adot validate`: what the ADOT collector would refuse at start-up, or do wrong,
found before a deploy (ADOT itself has no validate command). One problem a line:
`FILE:LINE: path: message`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from adot.components import KINDS, SIGNALS, Distribution, Kind
from ops.util.safe_yaml import YamlRefused, load_text

SSM_LIMITS = {"standard": 4096, "advanced": 8192}  # bytes of a parameter's value
Tier = Literal["standard", "advanced"]
PIPELINE_TYPES = ("traces", "metrics", "logs")
# The keys the collector decodes there; any other it refuses ("has invalid keys"), and a
# misspelt one would otherwise drop what it was meant to hold.
SERVICE_KEYS = ("extensions", "pipelines", "telemetry")
PIPELINE_KEYS: tuple[Kind, ...] = ("receivers", "processors", "exporters")
TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.path}: {self.message}"


def _empty_name(id_: str) -> bool:
    """`batch/`: the collector refuses an id whose name after the first '/' is empty."""
    return "/" in id_ and not id_.split("/", 1)[1]


def _not_a_list(value: Any) -> str | None:
    """What is wrong with a list of ids that is not one (None: it is one, or absent); the
    collector refuses it and ours would read a string's letters as ids."""
    if value is None or isinstance(value, list):
        return None
    if isinstance(value, str):
        return f"must be a list, not a string: write [{value}]"
    return f"must be a list, not a {'mapping' if isinstance(value, dict) else type(value).__name__}"


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
                elif _empty_name(str(component_id)):
                    self.add(
                        _line(self.section(kind), component_id, 1),
                        f"{kind}.{component_id}",
                        f"the name after '/' is empty: name it ({type_}/NAME) or drop the '/'",
                    )

    def check_service(self) -> None:
        service = self.doc.get("service")
        if not isinstance(service, CommentedMap):
            self.add(1, "service", "missing: a configuration needs service.pipelines")
            return
        for key in service:
            if key not in SERVICE_KEYS:
                self.add(_line(service, key, 1), f"service.{key}", f"unknown key ({', '.join(SERVICE_KEYS)})")
        extensions = service.get("extensions")
        wrong = _not_a_list(extensions)
        if wrong:
            self.add(_line(service, "extensions", 1), "service.extensions", wrong)
        defined = {str(e) for e in self.section("extensions")}
        for index, extension in enumerate(extensions if isinstance(extensions, list) else []):
            if str(extension) not in defined:
                self.add(
                    _line(extensions, index, _line(service, "extensions", 1)),
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
        signal = pipeline_id.split("/", 1)[0]
        if signal not in PIPELINE_TYPES:
            self.add(
                line, path, f"a pipeline is traces, metrics or logs (optionally /name), not {pipeline_id!r}"
            )
        elif _empty_name(pipeline_id):
            self.add(line, path, f"the name after '/' is empty: name it ({signal}/NAME) or drop the '/'")
        if not isinstance(pipeline, CommentedMap):
            self.add(line, path, "must be a mapping with receivers, processors and exporters")
            return
        for key in pipeline:
            if key not in PIPELINE_KEYS:
                self.add(
                    _line(pipeline, key, line), f"{path}.{key}", f"unknown key ({', '.join(PIPELINE_KEYS)})"
                )
        for kind in PIPELINE_KEYS:
            where = _line(pipeline, kind, line)
            wrong = _not_a_list(pipeline.get(kind))
            if wrong:
                self.add(where, f"{path}.{kind}", wrong)
                continue
            names: list[Any] = pipeline.get(kind) or []
            if kind != "processors" and not names:
                self.add(where, f"{path}.{kind}", "empty: a pipeline needs at least one")
            self.check_names(path, kind, signal, names, where)
        self.check_order(path, pipeline, line)

    def check_names(self, path: str, kind: Kind, signal: str, names: list[Any], line: int) -> None:
        """Each id of a pipeline's list: defined, of a component that takes the pipeline's signal,
        and, for processors, listed once (the collector takes a receiver or exporter listed
        twice, but refuses a processor: "references processor ... multiple times")."""
        defined = {str(c) for c in self.section(kind)}
        seen: set[str] = set()
        for index, name in enumerate(str(n) for n in names):
            where = _line(names, index, line)
            if name not in defined:
                self.add(where, f"{path}.{kind}", f"{name!r} is not defined under {kind}")
                continue
            takes = SIGNALS.get(kind, {}).get(name.split("/", 1)[0])
            if signal in PIPELINE_TYPES and takes is not None and signal not in takes:
                only = " or ".join(s for s in PIPELINE_TYPES if s in takes)
                self.add(
                    where,
                    f"{path}.{kind}",
                    f"{name!r} does not take {signal}, only {only}: use it in a {only} pipeline",
                )
            if kind == "processors" and name in seen:
                self.add(where, f"{path}.{kind}", f"{name!r} is listed more than once: list it once")
            seen.add(name)

    def check_order(self, path: str, pipeline: CommentedMap, line: int) -> None:
        """memory_limiter first (refuse data before memory runs out), batch last."""
        listed = pipeline.get("processors")
        processors = [str(p) for p in listed] if isinstance(listed, list) else []
        if not processors:
            return
        where = _line(pipeline, "processors", line)
        if processors[0].split("/", 1)[0] != "memory_limiter":
            self.add(where, f"{path}.processors", f"memory_limiter must come first, not {processors[0]!r}")
        if processors[-1].split("/", 1)[0] != "batch":
            self.add(where, f"{path}.processors", f"batch must come last, not {processors[-1]!r}")

    def check_exporter_settings(self) -> None:
        exporters, extensions = self.section("exporters"), self.section("extensions")
        service = self.doc.get("service")
        listed = service.get("extensions") if isinstance(service, dict) else None
        # A single id given as a string is already reported (it must be a list): read it as
        # meant, so that its authenticator is not reported a second time.
        enabled = [str(e) for e in listed] if isinstance(listed, list) else [str(listed or "")]
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
        doc = load_text(text)
    except YamlRefused as refused:
        return [Problem(refused.line, "(yaml)", f"not YAML: {refused.reason}")]
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
