"""`ops adot validate`: what the ADOT collector would refuse at start-up, or do wrong,
found before a deploy (ADOT itself has no validate command). One problem a line:
`FILE:LINE: path: message`.

Any YAML may arrive here (tests/fuzz feeds it mutated configurations): every value is
checked for its type before it is walked, so a number, a string or a list where a mapping
belongs is one problem naming its field, never an exception."""

from __future__ import annotations

import re
import warnings
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
TELEMETRY_KEYS = ("logs", "metrics", "traces", "resource")
# At most this many problems a configuration, then one line saying how many more (as the
# inventory does): a file of a thousand undefined ids is still a few lines on a terminal.
MAX_REPORTED = 20
_SHOWN = 80  # characters of a value quoted in a message
_PATH = 200  # characters of a field path


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.path}: {self.message}"


def _one_line(text: str, limit: int | None = None) -> str:
    """`text` with every character a terminal would not print as itself (a newline, a line
    separator, a right-to-left override, a zero-width space) escaped, and cut at `limit`:
    a problem stays one readable line whatever the file's keys and values hold."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _shown(value: Any) -> str:
    """A value quoted in a message: its repr, cut to a readable length."""
    return _one_line(repr(value if isinstance(value, str) else str(value)), _SHOWN)


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _empty_name(id_: str) -> bool:
    """`batch/`: the collector refuses an id whose name after the first '/' is empty."""
    return "/" in id_ and not id_.split("/", 1)[1]


def _not_a_list(value: Any) -> str | None:
    """What is wrong with a list of ids that is not one (None: it is one, or absent); the
    collector refuses it and ours would read a string's letters as ids."""
    if value is None or isinstance(value, list):
        return None
    if isinstance(value, str):
        return f"must be a list, not a string: write [{_one_line(value, _SHOWN)}]"
    return f"must be a list, not {_type_name(value)}"


def _not_an_id(value: Any) -> str | None:
    """What is wrong with an entry of a list of ids (None: it can be read as one)."""
    if isinstance(value, list | dict) or value is None:
        return f"an id is a string, not {_type_name(value)}: write each id as a string in one flat list"
    return None


def _is_blank(value: Any) -> bool:
    return value is None or value == ""


def _line(node: Any, key: Any, default: int) -> int:
    """The 1-based line of `key` in `node`, else `default` (a key a merge (`<<: *anchor`)
    brought in has no line of its own in this mapping)."""
    if isinstance(node, CommentedMap) and isinstance(node.lc.data, dict) and key in node.lc.data:
        return int(node.lc.key(key)[0]) + 1
    if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
        return int(node.lc.item(key)[0]) + 1
    return default


def _regex_problem(selector: str) -> str | None:
    """Why `selector` does not compile (None: it does). Python's compiler raises more than
    re.error on hostile patterns (RecursionError when nested deep, OverflowError for a huge
    repetition) and warns on some (FutureWarning): all of them are the pattern's problem."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(selector)
    except re.error as error:
        return str(error)
    except RecursionError:
        return "nested too deeply to compile"
    except (OverflowError, ValueError) as error:
        return str(error) or type(error).__name__
    return None


def _has_template(line: str) -> bool:
    """`{{` followed later on the line by `}}` (SSM's parameter reference), in linear time
    (a lazy regex search tried every `{{` of a long line to its end: quadratic)."""
    start = line.find("{{")
    return start >= 0 and line.find("}}", start + 2) >= 0


# What ruamel's constructors raise on a scalar that matches a type's pattern but is none
# (`2001-13-45`, `!!bool maybe`, `!!int 0x`, an integer of more than 4,300 digits): not a
# YAMLError, so ops.util.safe_yaml.load_text lets it through without a line.
class Checker:
    def __init__(self, doc: Any, distribution: Distribution) -> None:
        self.doc = doc
        self.distribution = distribution
        self.problems: list[Problem] = []
        # Sections, and components' settings, that are not mappings: reported once, and
        # references into them not reported again as undefined.
        self.broken: set[str] = set()
        self.bad_settings: set[tuple[str, str]] = set()

    def add(self, line: int, path: str, message: str) -> None:
        self.problems.append(Problem(line, _one_line(path, _PATH), _one_line(message)))

    def section(self, name: str) -> CommentedMap:
        value = self.doc.get(name)
        return value if isinstance(value, CommentedMap) else CommentedMap()

    def check_sections(self) -> None:
        """Each section a mapping of component ids to settings, each settings a mapping or
        empty (the collector refuses anything else while decoding)."""
        for kind in KINDS:
            value = self.doc.get(kind)
            if value is not None and not isinstance(value, CommentedMap):
                self.broken.add(kind)
                self.add(
                    _line(self.doc, kind, 1),
                    kind,
                    f"must be a mapping of component ids to their settings, not {_type_name(value)}",
                )
                continue
            for component_id, settings in self.section(kind).items():
                if settings is not None and not isinstance(settings, CommentedMap):
                    self.bad_settings.add((kind, str(component_id)))
                    self.add(
                        _line(self.section(kind), component_id, 1),
                        f"{kind}.{component_id}",
                        f"settings must be a mapping (or empty), not {_type_name(settings)}",
                    )

    def check_components(self) -> None:
        for kind in KINDS:
            for component_id in self.section(kind):
                type_ = str(component_id).split("/", 1)[0]
                if not self.distribution.ships(kind, type_):
                    self.add(
                        _line(self.section(kind), component_id, 1),
                        f"{kind}.{component_id}",
                        f"{_shown(type_)} is not shipped by {self.distribution.name} "
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
            if service is None:
                self.add(
                    _line(self.doc, "service", 1),
                    "service",
                    "missing: a configuration needs service.pipelines",
                )
            else:
                self.add(
                    _line(self.doc, "service", 1),
                    "service",
                    "must be a mapping with pipelines (and extensions, telemetry), "
                    f"not {_type_name(service)}",
                )
            return
        for key in service:
            if key not in SERVICE_KEYS:
                self.add(_line(service, key, 1), f"service.{key}", f"unknown key ({', '.join(SERVICE_KEYS)})")
        self.check_service_extensions(service)
        self.check_telemetry(service)
        pipelines = service.get("pipelines")
        where = _line(service, "pipelines", _line(self.doc, "service", 1))
        if pipelines is not None and not isinstance(pipelines, CommentedMap):
            self.add(
                where,
                "service.pipelines",
                f"must be a mapping of pipelines (traces, metrics, logs), not {_type_name(pipelines)}",
            )
            return
        if not pipelines:
            self.add(where, "service.pipelines", "no pipeline: nothing would flow")
            return
        for pipeline_id, pipeline in pipelines.items():
            self.check_pipeline(str(pipeline_id), pipeline, _line(pipelines, pipeline_id, 1))

    def check_telemetry(self, service: CommentedMap) -> None:
        """The collector's own telemetry: a mapping of its keys only (it refuses others)."""
        telemetry = service.get("telemetry")
        where = _line(service, "telemetry", 1)
        if telemetry is not None and not isinstance(telemetry, CommentedMap):
            self.add(
                where,
                "service.telemetry",
                f"must be a mapping ({', '.join(TELEMETRY_KEYS)}), not {_type_name(telemetry)}",
            )
            return
        for key in telemetry or {}:
            if key not in TELEMETRY_KEYS:
                self.add(
                    _line(telemetry, key, where),
                    f"service.telemetry.{key}",
                    f"unknown key ({', '.join(TELEMETRY_KEYS)})",
                )

    def check_service_extensions(self, service: CommentedMap) -> None:
        extensions = service.get("extensions")
        where = _line(service, "extensions", 1)
        wrong = _not_a_list(extensions)
        if wrong:
            self.add(where, "service.extensions", wrong)
            return
        defined = {str(e) for e in self.section("extensions")}
        for index, extension in enumerate(extensions or []):
            line = _line(extensions, index, where)
            not_an_id = _not_an_id(extension)
            if not_an_id:
                self.add(line, "service.extensions", not_an_id)
            elif str(extension) not in defined and "extensions" not in self.broken:
                self.add(line, "service.extensions", f"{_shown(extension)} is not defined under extensions")

    def check_pipeline(self, pipeline_id: str, pipeline: Any, line: int) -> None:
        path = f"service.pipelines.{pipeline_id}"
        signal = pipeline_id.split("/", 1)[0]
        if signal not in PIPELINE_TYPES:
            self.add(
                line,
                path,
                f"a pipeline is traces, metrics or logs (optionally /name), not {_shown(pipeline_id)}",
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
        ids_read = True
        for kind in PIPELINE_KEYS:
            where = _line(pipeline, kind, line)
            wrong = _not_a_list(pipeline.get(kind))
            if wrong:
                self.add(where, f"{path}.{kind}", wrong)
                ids_read = ids_read and kind != "processors"
                continue
            names: list[Any] = pipeline.get(kind) or []
            if kind != "processors" and not names:
                self.add(where, f"{path}.{kind}", "empty: a pipeline needs at least one")
            read = self.check_names(path, kind, signal, names, where)
            ids_read = ids_read and (read or kind != "processors")
        if ids_read:
            self.check_order(path, pipeline, line)

    def check_names(self, path: str, kind: Kind, signal: str, names: list[Any], line: int) -> bool:
        """Each id of a pipeline's list: defined, of a component that takes the pipeline's signal,
        and, for processors, listed once (the collector takes a receiver or exporter listed
        twice, but refuses a processor: "references processor ... multiple times").
        False when an entry is no id at all (a list, a mapping, null)."""
        defined = {str(c) for c in self.section(kind)}
        seen: set[str] = set()
        all_ids = True
        for index, entry in enumerate(names):
            where = _line(names, index, line)
            not_an_id = _not_an_id(entry)
            if not_an_id:
                self.add(where, f"{path}.{kind}", not_an_id)
                all_ids = False
                continue
            name = str(entry)
            if name not in defined:
                if kind not in self.broken:
                    self.add(where, f"{path}.{kind}", f"{_shown(name)} is not defined under {kind}")
                continue
            takes = SIGNALS.get(kind, {}).get(name.split("/", 1)[0])
            if signal in PIPELINE_TYPES and takes is not None and signal not in takes:
                only = " or ".join(s for s in PIPELINE_TYPES if s in takes)
                self.add(
                    where,
                    f"{path}.{kind}",
                    f"{_shown(name)} does not take {signal}, only {only}: use it in a {only} pipeline",
                )
            if kind == "processors" and name in seen:
                self.add(where, f"{path}.{kind}", f"{_shown(name)} is listed more than once: list it once")
            seen.add(name)
        return all_ids

    def check_order(self, path: str, pipeline: CommentedMap, line: int) -> None:
        """memory_limiter first (refuse data before memory runs out), batch last."""
        listed = pipeline.get("processors")
        processors = [str(p) for p in listed] if isinstance(listed, list) else []
        if not processors:
            return
        where = _line(pipeline, "processors", line)
        if processors[0].split("/", 1)[0] != "memory_limiter":
            self.add(
                where, f"{path}.processors", f"memory_limiter must come first, not {_shown(processors[0])}"
            )
        if processors[-1].split("/", 1)[0] != "batch":
            self.add(where, f"{path}.processors", f"batch must come last, not {_shown(processors[-1])}")

    def enabled_extensions(self) -> set[str] | None:
        """The ids service.extensions enables; None when it cannot be read as ids (reported
        by check_service: an authenticator is then not reported a second time)."""
        service = self.doc.get("service")
        if service is not None and not isinstance(service, CommentedMap):
            return None
        listed = service.get("extensions") if service is not None else None
        if isinstance(listed, str):
            # A single id given as a string is already reported (it must be a list): read it
            # as meant, so that its authenticator is not reported a second time.
            return {listed}
        if listed is None:
            return set()
        if not isinstance(listed, list) or any(_not_an_id(e) for e in listed):
            return None
        return {str(e) for e in listed}

    def check_exporter_settings(self) -> None:
        exporters = self.section("exporters")
        for exporter_id, settings in exporters.items():
            if ("exporters", str(exporter_id)) in self.bad_settings:
                continue
            type_ = str(exporter_id).split("/", 1)[0]
            settings = settings if isinstance(settings, CommentedMap) else CommentedMap()
            line, path = _line(exporters, exporter_id, 1), f"exporters.{exporter_id}"
            if type_ in ("prometheusremotewrite", "otlp", "otlphttp"):
                self.check_string(settings, "endpoint", line, path, "required: where to send", "a URL")
            if type_ == "prometheusremotewrite":
                self.check_authenticator(settings, line, path)
            if type_ == "awsemf":
                self.check_string(
                    settings,
                    "log_group_name",
                    line,
                    path,
                    "required here: without it metrics land in /metrics/default with no retention",
                    "a log group's name",
                )
                self.check_metric_declarations(settings, line, path)

    def check_string(
        self, settings: CommentedMap, key: str, line: int, path: str, required: str, what: str
    ) -> None:
        value = settings.get(key)
        if _is_blank(value):
            self.add(line, f"{path}.{key}", required)
        elif not isinstance(value, str):
            self.add(
                _line(settings, key, line),
                f"{path}.{key}",
                f"must be a string ({what}), not {_type_name(value)}",
            )

    def check_authenticator(self, settings: CommentedMap, line: int, path: str) -> None:
        auth = settings.get("auth")
        if auth is not None and not isinstance(auth, CommentedMap):
            self.add(
                _line(settings, "auth", line),
                f"{path}.auth",
                f"must be a mapping with an authenticator, not {_type_name(auth)}",
            )
            return
        authenticator = auth.get("authenticator") if auth is not None else None
        if _is_blank(authenticator):
            self.add(
                line, f"{path}.auth.authenticator", "required: AMP takes SigV4-signed writes (sigv4auth)"
            )
            return
        where = _line(auth, "authenticator", line)
        if not isinstance(authenticator, str):
            self.add(
                where,
                f"{path}.auth.authenticator",
                f"must be an extension's id (a string), not {_type_name(authenticator)}",
            )
            return
        enabled = self.enabled_extensions()
        if "extensions" in self.broken or enabled is None:
            return  # what is defined or enabled cannot be read: already reported
        if authenticator not in self.section("extensions") or authenticator not in enabled:
            self.add(
                line,
                f"{path}.auth.authenticator",
                f"{_shown(authenticator)} must be under extensions and listed in service.extensions",
            )

    def check_metric_declarations(self, settings: CommentedMap, line: int, path: str) -> None:
        """awsemf skips a declaration it cannot use, silently: its metrics never reach CloudWatch."""
        declarations = settings.get("metric_declarations")
        if declarations is None:
            return
        line = _line(settings, "metric_declarations", line)
        if not isinstance(declarations, list):
            self.add(
                line,
                f"{path}.metric_declarations",
                f"must be a list of declarations (metric_name_selectors, dimensions), "
                f"not {_type_name(declarations)}",
            )
            return
        for index, declaration in enumerate(declarations):
            where, at = f"{path}.metric_declarations[{index}]", _line(declarations, index, line)
            if not isinstance(declaration, CommentedMap):
                self.add(
                    at,
                    where,
                    "must be a mapping with metric_name_selectors and dimensions, "
                    f"not {_type_name(declaration)}",
                )
                continue
            self.check_selectors(declaration, at, where)
            dimensions = declaration.get("dimensions")
            if dimensions is None:
                continue
            if not isinstance(dimensions, list) or not all(
                isinstance(d, list) and d and all(isinstance(n, str) for n in d) for d in dimensions
            ):
                self.add(
                    _line(declaration, "dimensions", at),
                    f"{where}.dimensions",
                    "a list of dimension sets, each a list of attribute names",
                )

    def check_selectors(self, declaration: CommentedMap, line: int, where: str) -> None:
        selectors = declaration.get("metric_name_selectors")
        path = f"{where}.metric_name_selectors"
        if _is_blank(selectors) or selectors == []:
            self.add(line, path, "required: the metric names it applies to")
            return
        line = _line(declaration, "metric_name_selectors", line)
        if not isinstance(selectors, list):
            self.add(line, path, f"must be a list of regexes, not {_type_name(selectors)}")
            return
        for index, selector in enumerate(selectors):
            at = _line(selectors, index, line)
            if isinstance(selector, list | dict) or selector is None:
                self.add(at, path, f"a selector is a regex (a string), not {_type_name(selector)}")
                continue
            problem = _regex_problem(str(selector))
            if problem:
                self.add(at, path, f"{_shown(selector)} is not a regex: {problem}")


def validate_text(text: str, distribution: Distribution, tier: Tier | None = None) -> list[Problem]:
    """The problems of a configuration, by line, at most `MAX_REPORTED` and then one saying
    how many more; `tier` checks the size for that SSM tier (None: the largest, advanced)."""
    try:
        doc = load_text(text)
    except YamlRefused as refused:
        return [Problem(refused.line, "(yaml)", f"not YAML: {_one_line(refused.reason)}")]
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
    checker.check_sections()
    checker.check_components()
    checker.check_service()
    checker.check_exporter_settings()
    size, limit = len(text.encode(errors="replace")), SSM_LIMITS[tier or "advanced"]
    if size > limit:
        checker.add(
            1, "(size)", f"{size} bytes: over the SSM {tier or 'advanced'} tier's {limit}; split or trim it"
        )
    for number, line in enumerate(text.splitlines(), 1):
        if _has_template(line):
            checker.add(
                number, "(value)", "'{{ }}' is SSM's parameter-reference syntax: not allowed in the value"
            )
    problems = sorted(checker.problems, key=lambda p: (p.line, p.path))
    if len(problems) > MAX_REPORTED:
        more = len(problems) - MAX_REPORTED
        last = problems[MAX_REPORTED]
        problems = [*problems[:MAX_REPORTED], Problem(last.line, "(more)", f"... and {more} more problems")]
    return problems
