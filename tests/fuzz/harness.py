"""What the fuzz tests share: the promise every command keeps for bad input (exit 0 or 2,
one `error: FILE:LINE: field: message` line a problem, no traceback, no warning), a time
bound that fails a hung example instead of timing it, and mutations of valid YAML
documents written back as YAML text."""

from __future__ import annotations

import contextlib
import copy
import io
import re
import signal
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.helpers import Result, run_main

# A run longer than this is a hang: the guard fails the example (no duration is asserted).
TIME_BOUND_S = 10.0
# The inventory names at most 20 problems, then one line `... and N more`; `ops adot
# validate` keeps to the same per file.
MAX_LINES = 21
_MORE = re.compile(r"^error: (.+: )?\.\.\. and \d+ more( problems)?$")
# Warnings Python shows a user by default (DeprecationWarning and its kin it hides): one
# would be a stderr line that is not `error: `.
_HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class _Hang(BaseException):
    """Raised by the time bound's signal: a BaseException, so that no `except Exception` in
    the code under test swallows it."""


@contextlib.contextmanager
def time_bound(seconds: float = TIME_BOUND_S) -> Iterator[None]:
    """Fail the example when its body runs longer than `seconds` (SIGALRM through
    ITIMER_REAL; the previous handler and timer are restored afterwards)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, expire)
    earlier = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Hang:
        pytest.fail(f"did not finish within {seconds:g} s: a hang", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if earlier[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *earlier)


def run_bounded(*args: str, env: dict[str, str] | None = None) -> Result:
    """The real CLI in this process, under the time bound, with the warnings a user would see
    recorded: any is a failure. An exception escaping it (a crash: the CLI would print a
    traceback and exit 1) fails the example as it is."""
    with warnings.catch_warnings(record=True) as caught, time_bound():
        warnings.simplefilter("always")
        result = run_main(*args, env=env)
    shown = [w for w in caught if not issubclass(w.category, _HIDDEN_WARNINGS)]
    assert not shown, f"a warning reaches stderr: {shown[0].category.__name__}: {shown[0].message}"
    return result


def assert_problem_lines(result: Result, file: Path, text: str) -> None:
    """Exit 2 (or 0), no traceback, at most MAX_LINES lines, each naming the file and a line
    of it: `error: FILE:LINE: field: message`, or the inventory's `... and N more`."""
    assert "Traceback" not in result.err, result.err[-2000:]
    assert result.code in (0, 2), f"exit {result.code}: {result.err[-2000:]}"
    lines = result.err.strip().splitlines()
    if result.code == 0:
        assert not lines, result.err[:2000]
        return
    assert lines, "exit 2 must say why"
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines: {lines[:3]}"
    last_line = text.count("\n") + 1
    prefix = f"error: {file}:"
    for line in lines:
        if _MORE.match(line) and not line.startswith(prefix):
            continue
        assert line.startswith(prefix), line[:300]
        number, _, rest = line[len(prefix) :].partition(": ")
        assert number.isdigit() and 1 <= int(number) <= last_line, line[:300]
        assert ": " in rest or rest.startswith("yaml: "), line[:300]


@contextlib.contextmanager
def yaml_file(name: str, text: str) -> Iterator[Path]:
    """`text` in a file of its own, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        yield path


# --- documents and mutations --------------------------------------------------------------

Key = str | int
DocPath = tuple[Key, ...]
_SAFE = YAML(typ="safe")


def load_plain(text: str) -> Any:
    return _SAFE.load(text)


def paths(node: Any, prefix: DocPath = (), seen: set[int] | None = None) -> list[DocPath]:
    """Every value's place in a document, the document itself first, in document order; a
    value met again (shared, or containing itself) is one place, not walked twice."""
    seen = set() if seen is None else seen
    found = [prefix]
    if isinstance(node, dict | list):
        if id(node) in seen:
            return found
        seen.add(id(node))
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key), seen)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index), seen)
    return found


@dataclass
class Doc:
    """A document being mutated: plain data, plus raw YAML texts that the data holds as
    placeholders (a number YAML reads as infinite, a nesting, an alias bomb) and that replace
    them once dumped."""

    data: Any
    raw: list[str] = field(default_factory=list)

    def placeholder(self, yaml_text: str) -> str:
        self.raw.append(yaml_text)
        return f"zzfuzzraw{len(self.raw) - 1}zz"

    def get(self, path: DocPath) -> Any:
        node = self.data
        for key in path:
            node = node[key]
        return node

    def put(self, path: DocPath, value: Any) -> None:
        if not path:
            self.data = value
        else:
            self.get(path[:-1])[path[-1]] = value

    def dump(self) -> str:
        out = io.StringIO()
        dumper = YAML(typ="safe")
        dumper.width = 4096
        dumper.dump(self.data, out)
        return re.sub(
            r"""(['"]?)zzfuzzraw(\d+)zz\1""", lambda m: self.raw[int(m.group(2))], out.getvalue()
        ).replace("zzfuzzmerge", "<<")


_PIECES = [
    "é",  # an accent
    "e\u0301",  # a combining accent
    "\u202e",  # right-to-left override
    "\u05d0\u05d1",  # Hebrew letters
    "\U0001f680",  # emoji
    "\U0001f468\u200d\U0001f469",  # emoji joined by a zero-width joiner
    "\u200b",  # zero-width space
    "\ufeff",  # byte order mark
    "\x01",  # a control character
    "\x00",
    "\t",
    "\n",
    "\u2028",  # line separator
    "\x85",  # next line
    "İ",  # changes length when lowercased
    "ﬃ",  # a ligature
]
_NON_FINITE = [".inf", "-.inf", "+.inf", ".nan", ".NaN", "1e400", "-1e400", "[.inf]", "{value: .nan}"]
_HUGE: list[Any] = [
    10**20,
    -(10**20),
    2**63,
    2**64 + 1,
    10**400,  # 401 digits: below Python's 4,300-digit conversion limit (see the report)
    1e308,
    -1e308,
    "x" * 100_000,
    "é" * 20_000,
    list(range(1000)),
]
_scalars = (
    st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
    | st.none()
    | st.booleans()
)
# A value of some type, most often not the one that belongs there.
other_values: st.SearchStrategy[Any] = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.lists(st.lists(_scalars, min_size=1, max_size=2), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=8), _scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), st.lists(_scalars, max_size=2), min_size=1, max_size=2),
)


def _nested(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=65, max_value=400))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("[{a: ", "}]")]))
    return opener * depth + "1" + closer * depth


def _bomb(draw: st.DrawFn, name: str) -> str:
    """Nine lines that expand to a billion values ("billion laughs"), in one flow line; its
    anchors named after `name` (two bombs in a document must not reuse anchors: ruamel warns
    on stderr, which tests/fuzz/test_issue_examples.py checks on its own)."""
    width = draw(st.integers(min_value=5, max_value=10))
    levels = draw(st.integers(min_value=5, max_value=9))
    parts = [f"&{name}0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        parts.append(f"&{name}{level} [" + ", ".join([f"*{name}{level - 1}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


Mutation = Callable[[st.DrawFn, Doc, DocPath], None]


def swap_type(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    doc.put(path, draw(other_values))


def non_finite(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    doc.put(path, doc.placeholder(draw(st.sampled_from(_NON_FINITE))))


def huge(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    doc.put(path, copy.copy(draw(st.sampled_from(_HUGE))))


def huge_within_float(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    """As `huge`, without the integer no float holds (10**400)."""
    doc.put(path, copy.copy(draw(st.sampled_from([h for h in _HUGE if h != 10**400]))))


def nested(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    doc.put(path, doc.placeholder(_nested(draw)))


def aliased(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    """Another place's value, the same object (dumped as an anchor and its alias); a value
    that contains itself (an alias loop); an alias bomb."""
    how = draw(st.sampled_from(["share", "loop", "bomb"]))
    if how == "bomb":
        doc.put(path, doc.placeholder(_bomb(draw, f"bomb{len(doc.raw)}x")))
    elif how == "loop":
        loop: list[Any] = ["x"]
        loop.append(loop)
        doc.put(path, loop)
    else:
        others = _others(doc, path)
        if others:
            doc.put(path, doc.get(draw(st.sampled_from(others))))


def merged(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    """A mapping merged into a mapping (`<<: *anchor`): another of the document's, or one of
    unknown keys (then a problem is at a key that has no line of its own there)."""
    target = doc.get(path)
    if not isinstance(target, dict):
        return
    mappings: list[DocPath] = [p for p in _others(doc, path) if isinstance(doc.get(p), dict)]
    own: bool = draw(st.booleans())
    if mappings and own:
        target["zzfuzzmerge"] = doc.get(draw(st.sampled_from(mappings)))
    else:
        target["zzfuzzmerge"] = draw(
            st.dictionaries(st.sampled_from(["extra", "x", "Name"]), _scalars, min_size=1)
        )


def _others(doc: Doc, path: DocPath) -> list[DocPath]:
    """Places neither inside `path` nor around it."""
    return [p for p in paths(doc.data) if p and p[: len(path)] != path and path[: len(p)] != p]


_UNREADABLE = [
    "2001-13-45",
    "2001-02-30",
    "2001-01-01 00:00:00 +99:99",
    "!!bool maybe",
    "!!int 0x",
    "9" * 5000,
]


def unreadable(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    """A scalar that matches a type's pattern but is none: ruamel raises a ValueError, a
    KeyError or an IndexError while constructing it, not a YAML error with a line."""
    doc.put(path, doc.placeholder(draw(st.sampled_from(_UNREADABLE))))


def lengthen_name(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    """A mapping's key made long (a component, a field, a pipeline's name)."""
    if not path or not isinstance(path[-1], str):
        return
    parent = doc.get(path[:-1])
    key = path[-1]
    longer = key + draw(st.sampled_from(["x" * 64, "-" + "a" * 300, "x" * 10_000, key * 20]))
    if longer not in parent:
        parent[longer] = parent.pop(key)


def unicode(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    """A piece of unicode in a string value or in the key that names it."""
    piece = draw(st.sampled_from(_PIECES))
    value = doc.get(path)
    if isinstance(value, str) and draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(value)))
        doc.put(path, value[:at] + piece + value[at:])
    elif path and isinstance(path[-1], str):
        parent, key = doc.get(path[:-1]), path[-1]
        at = draw(st.integers(min_value=0, max_value=len(key)))
        renamed = key[:at] + piece + key[at:]
        if renamed not in parent:
            parent[renamed] = parent.pop(key)
    else:
        doc.put(path, piece)


def delete_key(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    if path and isinstance(doc.get(path[:-1]), dict):
        del doc.get(path[:-1])[path[-1]]


def unknown_key(draw: st.DrawFn, doc: Doc, path: DocPath) -> None:
    target = doc.get(path)
    if isinstance(target, dict):
        name = draw(st.sampled_from(["extra", "Name", "x" * 200, "é\u200b", "1"]))
        target.setdefault(name, draw(other_values))


VALUE_MUTATIONS: dict[str, Mutation] = {
    "swap_type": swap_type,
    "non_finite": non_finite,
    "huge": huge,
    "nested": nested,
    "aliased": aliased,
    "merged": merged,
    "lengthen_name": lengthen_name,
    "unicode": unicode,
    "unreadable": unreadable,
}
ALL_MUTATIONS: dict[str, Mutation] = {**VALUE_MUTATIONS, "delete_key": delete_key, "unknown_key": unknown_key}


@st.composite
def mutated_text(draw: st.DrawFn, bases: list[Any], mutations: dict[str, Mutation]) -> str:
    """One of `bases` with one to three mutations, dumped as YAML; sometimes a unicode piece
    (a control character among them) written raw into the text at some offset."""
    doc = Doc(copy.deepcopy(draw(st.sampled_from(bases))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = paths(doc.data)
        # The document itself is one place among many: replaced rarely.
        path = draw(st.sampled_from(places[1:] or places))
        mutation = mutations[draw(st.sampled_from(sorted(mutations)))]
        try:
            mutation(draw, doc, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation moved this place (a shared value changed under it)
    text = doc.dump()
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.sampled_from(_PIECES)) + text[at:]
    return text
