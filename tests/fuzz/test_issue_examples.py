"""Issue 15's examples, and what trying each section and setting with a value of the wrong
shape found: in a collector configuration whose `service` section is otherwise valid (the
staging gateway's, as `ops adot render` writes it), a number, a list, a nested list or a
mapping where something else belongs is exit 2 with one line naming the file, the line and
the field. Six of them raised a traceback before (exit 1), marked `issue-15`."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from adot.generate import collector_configs
from ops.inventory.loader import load_inventory
from tests.fuzz.harness import run_bounded, yaml_file
from tests.helpers import INVENTORY

GATEWAY = collector_configs(load_inventory(INVENTORY).environment("staging"))["gateway"].text
EMF = ("exporters", "awsemf")
DECLARATION = (*EMF, "metric_declarations", 0)
PRW = ("exporters", "prometheusremotewrite")
METRICS = ("service", "pipelines", "metrics")


def _flow(value: Any) -> Any:
    """`value` as ruamel containers written in flow style: all of it on its key's line."""
    if isinstance(value, dict):
        mapping = CommentedMap((k, _flow(v)) for k, v in value.items())
        mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_flow(v) for v in value)
        sequence.fa.set_flow_style()
        return sequence
    return value


def _replaced(path: tuple[str | int, ...], value: Any) -> tuple[str, int]:
    """The gateway's configuration with the value at `path` replaced, and the line it is on."""
    yaml = YAML(typ="rt")
    doc = yaml.load(GATEWAY)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = _flow(value)
    out = io.StringIO()
    yaml.dump(doc, out)
    text = out.getvalue()
    parent = yaml.load(text)
    for key in path[:-1]:
        parent = parent[key]
    line = parent.lc.item(path[-1])[0] if isinstance(parent, CommentedSeq) else parent.lc.key(path[-1])[0]
    return text, line + 1


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


def _cases() -> list[Any]:
    cases: list[Any] = []

    def case(path: tuple[str | int, ...], value: Any, field: str | None = None, issue: bool = False) -> None:
        name = f"{_dotted(path)}={value!r}"
        cases.append(
            pytest.param(path, value, field or _dotted(path), id=("issue-15 " if issue else "") + name)
        )

    for section in ("receivers", "processors", "exporters", "extensions", "connectors"):
        for value in (5, [1], [[1]]):
            case((section,), value)
    for value in (5, [1], [[1]]):
        case(("service", "pipelines"), value)
        case(METRICS, value)
        case(("service", "telemetry"), value)
        case(("receivers", "otlp"), value)
        case(("processors", "batch/metrics"), value)
        case(EMF, value)
        case((*PRW, "auth"), value, issue=value == 5)
    for kind in ("receivers", "processors", "exporters"):
        case((*METRICS, kind), 5)
        case((*METRICS, kind), {"a": 1})
        case((*METRICS, kind), [["otlp"]])
    case(("service", "extensions"), 5)
    case(("service", "extensions"), {"health_check": {}})
    case(("service", "extensions"), [["health_check", "sigv4auth"]])
    case((*EMF, "metric_declarations"), 5, issue=True)
    case((*EMF, "metric_declarations"), {"dimensions": [["a"]]})
    case((*EMF, "metric_declarations"), [5], field=_dotted(DECLARATION))
    case((*EMF, "metric_declarations"), [[1]], field=_dotted(DECLARATION))
    case(DECLARATION, 5)
    case((*DECLARATION, "metric_name_selectors"), 5, issue=True)
    case((*DECLARATION, "metric_name_selectors"), {"a": 1})
    case((*DECLARATION, "metric_name_selectors"), [["^ops"]])
    case((*DECLARATION, "dimensions"), 5, issue=True)
    case((*DECLARATION, "dimensions"), [1])
    case((*DECLARATION, "dimensions"), {"a": 1})
    case((*DECLARATION, "dimensions"), [[["a"]]])
    wrong_strings: tuple[Any, ...] = (5, ["x"], [["x"]], {"a": 1})
    for wrong in wrong_strings:
        case((*EMF, "log_group_name"), wrong)
        case((*PRW, "endpoint"), wrong)
    case((*PRW, "auth", "authenticator"), 5)
    case((*PRW, "auth", "authenticator"), ["sigv4auth"], issue=True)
    case((*PRW, "auth", "authenticator"), {"sigv4auth": None}, issue=True)
    case((*PRW, "auth", "authenticator"), [["sigv4auth"]])
    return cases


@pytest.mark.parametrize(("path", "value", "field"), _cases())
def test_a_value_of_the_wrong_shape_is_one_line(path: tuple[str | int, ...], value: Any, field: str) -> None:
    text, line = _replaced(path, value)
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 2, result.err
    (problem,) = result.err.strip().splitlines()
    assert problem.startswith(f"error: {file}:{line}: {field}: "), problem


@pytest.mark.parametrize(
    ("selector", "says"),
    [
        pytest.param("(" * 2000 + ")" * 2000, "nested too deeply", id="RecursionError"),
        pytest.param("a{4294967296}", "too large", id="OverflowError"),
    ],
)
def test_a_selector_python_cannot_compile_is_one_line(selector: str, says: str) -> None:
    text, _ = _replaced((*DECLARATION, "metric_name_selectors"), [selector])
    line = next(n for n, written in enumerate(text.splitlines(), 1) if selector[:20] in written)
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 2, result.err
    (problem,) = result.err.strip().splitlines()
    assert problem.startswith(f"error: {file}:{line}: {_dotted(DECLARATION)}.metric_name_selectors: ")
    assert says in problem and len(problem) < 400, problem


def test_a_selector_python_warns_about_prints_no_warning() -> None:
    """`[[a]` compiles with a FutureWarning ("possible nested set"): a stderr line that was
    not `error: ` (run_bounded fails on any warning a user would see)."""
    text, _ = _replaced((*DECLARATION, "metric_name_selectors"), ["[[a]"])
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 0 and result.err == "", result.err


def test_a_long_line_of_template_openers_is_checked_in_linear_time() -> None:
    """`{{` 40,000 times on a line: the lazy regex took 30 s here (quadratic); the time
    bound of the harness fails it if it comes back."""
    text = GATEWAY + "# " + "{{" * 40_000 + "\n"
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 2
    (problem,) = result.err.strip().splitlines()
    assert ": (size): " in problem


def test_a_key_a_merge_brought_in_has_a_line() -> None:
    """`<<: *anchor` in a pipeline: its keys have no line of their own there (KeyError)."""
    text = GATEWAY.replace(
        "    metrics:\n      receivers:",
        "    metrics:\n      <<: &m {exporters: [nope]}\n      receivers:",
        1,
    )
    text = text.replace(
        "  pipelines:\n", "  pipelines:\n    traces/merged:\n      <<: *m\n      receivers: [otlp]\n", 1
    )
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 2, result.err
    assert all(line.startswith(f"error: {file}:") for line in result.err.strip().splitlines()), result.err


def test_a_thousand_undefined_ids_are_twenty_lines_and_a_count() -> None:
    text, _ = _replaced((*METRICS, "receivers"), [f"nope{i}" for i in range(1000)])
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 21, lines[:3]
    assert re.search(r":\d+: \(more\): \.\.\. and 9\d\d more problems$", lines[-1]), lines[-1]


def test_a_key_with_a_newline_stays_one_line() -> None:
    text = GATEWAY.replace("  otlp:\n", '  "otlp\\nerror: forged\\u2028x":\n', 1)
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 2
    assert all(line.startswith(f"error: {file}:") for line in result.err.strip().splitlines()), result.err
    assert "otlp\\nerror: forged\\u2028x" in result.err


# Scalars that match a type's pattern but are none: ruamel raises ValueError, KeyError or
# IndexError without a line (ops.util.safe_yaml lets them through: see docs/testing.md).
UNREADABLE = [
    pytest.param("2001-13-45", "month must be in 1..12", id="a date with month 13"),
    pytest.param("2001-01-01 00:00:00 +99:99", "timedelta", id="a time zone offset of 99 hours"),
    pytest.param("!!bool maybe", "not a valid bool", id="a bool tag on another word"),
    pytest.param("!!int 0x", "not a valid int", id="an int tag on a bare 0x"),
    pytest.param("9" * 5000, "4300 digits", id="an integer of 5,000 digits"),
]


@pytest.mark.parametrize(("scalar", "says"), UNREADABLE)
def test_an_unreadable_scalar_in_a_collector_configuration(scalar: str, says: str) -> None:
    text = GATEWAY.replace("    timeout: 1s\n", f"    timeout: {scalar}\n", 1)
    line = text.splitlines().index(f"    timeout: {scalar}") + 1
    with yaml_file("collector.yaml", text) as file:
        result = run_bounded("adot", "validate", str(file))
    assert result.code == 2, result.err
    (problem,) = result.err.strip().splitlines()
    assert problem.startswith(f"error: {file}:{line}: (yaml): not YAML: ") and says in problem, problem


@pytest.mark.parametrize(("scalar", "says"), UNREADABLE)
def test_an_unreadable_scalar_in_a_campaign_is_refused_before_anything(scalar: str, says: str) -> None:
    text = f"name: smoke\nusers: 10\nduration: 12s\nseed: {scalar}\n"
    with tempfile.TemporaryDirectory() as state, yaml_file("campaign.yaml", text) as file:
        result = run_bounded(
            "--inventory",
            str(INVENTORY),
            "loadtest",
            "run",
            str(file),
            "--env",
            "local",
            env={"OPS_STATE_DIR": state},
        )
        assert not (Path(state) / "loadtests").exists()
    assert result.code == 2, result.err
    (problem,) = result.err.strip().splitlines()
    assert problem.startswith(f"error: {file}:4: yaml: ") and says in problem, problem


def test_an_anchor_defined_twice_prints_no_warning() -> None:
    """YAML lets an anchor be defined again (an alias names the latest); ruamel warns about
    it on stderr (eight lines, not `error: `)."""
    text = GATEWAY.replace("  otlp:\n", "  otlp: &x\n", 1).replace("  prometheus:\n", "  prometheus: &x\n", 1)
    with yaml_file("collector.yaml", text) as file:
        collector = run_bounded("adot", "validate", str(file))
    assert collector.code == 0 and collector.err == "", collector.err
    campaign = "name: smoke\nusers: &x 10\nduration: 12s\nseed: &x 1\nabort: [nope]\n"
    with tempfile.TemporaryDirectory() as state, yaml_file("campaign.yaml", campaign) as file:
        result = run_bounded(
            "--inventory",
            str(INVENTORY),
            "loadtest",
            "run",
            str(file),
            "--env",
            "local",
            env={"OPS_STATE_DIR": state},
        )
    assert result.code == 2
    (problem,) = result.err.strip().splitlines()
    assert problem.startswith(f"error: {file}:5: abort[0]: "), problem
