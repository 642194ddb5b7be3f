"""Read YAML keeping where each key came from, so every error can name its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ops.errors import BadInput

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SourceDoc:
    """A parsed YAML document and the file it came from."""

    file: str
    data: Any

    def line_of(self, path: Path) -> int:
        """The 1-based line of the deepest key on `path` that exists in the file."""
        node, line = self.data, 1
        for key in path:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        return line

    def has(self, path: Path) -> bool:
        node = self.data
        for key in path:
            found, node = child(node, key)
            if not found:
                return False
        return True


_MISSING = object()


def child(node: Any, key: str | int) -> tuple[bool, Any]:
    """The value under `key` in a mapping or a list, and whether it was there."""
    if isinstance(node, dict) and key in node:
        return True, node[key]
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return True, node[key]
    return False, _MISSING


def read_yaml(file: FilePath) -> SourceDoc:
    """Parse a YAML file; any problem is a BadInput naming the file and the line."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{file}: no such file; pass --file with the inventory's path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{file}: cannot be read: {error}") from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(str(error.problem or error.context or "invalid YAML").split())
        raise BadInput(f"{file}:{line}: yaml: {problem}") from None
    except YAMLError as error:
        raise BadInput(f"{file}:1: yaml: {' '.join(str(error).split())}") from None
    return SourceDoc(str(file), data)


def plain(value: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (pydantic wants plain)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
