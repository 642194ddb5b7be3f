"""The one way the toolkit parses YAML (the inventory and its overlays, campaigns, collector
configurations): ruamel's round-trip loader, which keeps each key's line, held to limits
that are enforced while the file is read and composed, before any of it is walked.

- size: at most `MAX_BYTES`; a larger file is refused unread (a 50 MB file took minutes);
- depth: at most `MAX_DEPTH` nested mappings and lists (ruamel's composer recurses: a few
  thousand levels raised RecursionError);
- aliases: the document, with every alias counted as the whole node it names, has at most
  `MAX_NODES` nodes ("billion laughs": nine lines expand to a billion), and an alias may not
  name a node that contains it (a loop no walk ends);
- characters: a control character is refused with its line (ruamel names a position);
- values: a scalar its type cannot be made of (`2001-13-45`, `!!bool maybe`, an integer of
  thousands of digits) is refused with its line (ruamel raises these without one).

An anchor defined twice is valid YAML (an alias names the latest): ruamel's eight-line
warning about it is not printed.

Every refusal is a `YamlRefused` with the 1-based line and a one-line reason."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
# What ruamel raises, without a line, for a scalar its tag cannot be made of.
UNREADABLE_SCALAR = (ValueError, KeyError, IndexError, OverflowError, TypeError)
SHOWN = 80  # characters of a value quoted in a message


class YamlRefused(Exception):
    """A YAML text the toolkit will not read: where (1-based line) and why, in one line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"{line}: {reason}")
        self.line = line
        self.reason = reason


class _BoundedComposer(Composer):
    """ruamel's composer, counting the nodes the document would have with its aliases
    expanded, and refusing an alias to a node still being composed (one that contains it)."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.nodes = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.parser.check_event(AliasEvent):
            self._count(1, None)
        return super().compose_node(parent, index)

    def return_alias(self, a: Any) -> Any:
        if isinstance(a, MappingNode | SequenceNode) and a.end_mark is None:
            raise YamlRefused(a.start_mark.line + 1, "an alias inside the node it names makes a loop")
        self._count(self._expanded(a), a)
        return a

    def _count(self, nodes: int, alias: Node | None) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            mark = alias.start_mark if alias is not None else self.parser.peek_event().start_mark
            raise YamlRefused(
                mark.line + 1,
                f"more than {MAX_NODES:,} values once its aliases are expanded; "
                "write the values out, or use fewer aliases",
            )

    def _expanded(self, node: Node) -> int:
        """Nodes under `node`, an alias counted as what it names (each size computed once)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._expanded(item) for item in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._expanded(key) + self._expanded(value) for key, value in node.value)
        self._sizes[id(node)] = size
        return size


def load_text(text: str) -> Any:
    """Parse YAML text with its lines kept (ruamel's round-trip containers); duplicate keys
    are refused. Raises YamlRefused."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise YamlRefused(
            1, f"{size:,} bytes: over the {MAX_BYTES // (1024 * 1024)} MiB a YAML file may have"
        )
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = _BoundedComposer
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            return yaml.load(text)
    except YamlRefused:
        raise
    except ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        character = error.character if isinstance(error.character, int) else ord(error.character)
        raise YamlRefused(
            line, f"control character U+{character:04X} is not allowed in YAML; remove it"
        ) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = str(error.problem or error.context or "invalid YAML")
        if "maximum depth" in problem:
            problem = f"nested more than {MAX_DEPTH} levels deep; flatten it"
        raise YamlRefused(line, " ".join(problem.split())) from None
    except YAMLError as error:
        raise YamlRefused(1, " ".join(str(error).split())) from None
    except RecursionError:  # a guard: the depth limit should have refused it first
        raise YamlRefused(1, f"nested more than {MAX_DEPTH} levels deep; flatten it") from None
    except UNREADABLE_SCALAR:
        raise YamlRefused(*unreadable_scalar(text)) from None


def unreadable_scalar(text: str) -> tuple[int, str]:
    """The line of the first scalar of `text` that its type cannot be made of, and why.
    Called once a load failed that way: the text composed within the limits already, and
    composing again expands no alias (each node is visited once)."""
    yaml = YAML(typ="rt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            root = yaml.compose(text)
    except Exception:  # any failure here leaves the first line as the answer
        root = None
    stack: list[Node] = [root] if isinstance(root, Node) else []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            try:
                yaml.constructor.construct_object(node, deep=True)
            except UNREADABLE_SCALAR as error:
                tag = str(node.tag).rsplit(":", 1)[-1]
                why = _one_line(str(error) or type(error).__name__)
                return node.start_mark.line + 1, f"{_one_line(repr(node.value))} is not a valid {tag}: {why}"
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack += [value, key]
    return 1, "a value its type cannot be made of"


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN else flat[: SHOWN - 3] + "..."


def read_text(file: Path) -> str:
    """A YAML file's text, refused unread when it is over the size limit. OSError and
    UnicodeDecodeError are the caller's to name (with its own hint)."""
    with file.open("rb") as stream:
        data = stream.read(MAX_BYTES + 1)  # a FIFO or a device has no size to ask first
    if len(data) > MAX_BYTES:
        raise YamlRefused(1, f"over the {MAX_BYTES // (1024 * 1024)} MiB a YAML file may have")
    return data.decode("utf-8")
