"""Read YAML keeping where each key came from, so every error can name its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ops.errors import BadInput
from ops.util.safe_yaml import YamlRefused, load_text, read_text

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
                # A key a merge (`<<: *base`) brought has no position here: keep the
                # mapping's own line.
                line = _line(_position(node.lc.key, key), line)
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = _line(_position(node.lc.item, key), line)
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


def _position(lookup: Any, key: Any) -> Any:
    """ruamel's recorded (line, column) of a key or item; None for one a merge brought."""
    try:
        return lookup(key)
    except (KeyError, IndexError, TypeError):
        return None


def _line(position: Any, fallback: int) -> int:
    """The 1-based line of a ruamel (line, column) position, if it has one."""
    if isinstance(position, tuple | list) and position and isinstance(position[0], int):
        return position[0] + 1
    return fallback


_MISSING = object()


def child(node: Any, key: str | int) -> tuple[bool, Any]:
    """The value under `key` in a mapping or a list, and whether it was there."""
    if isinstance(node, dict) and key in node:
        return True, node[key]
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return True, node[key]
    return False, _MISSING


def read_yaml(file: FilePath) -> SourceDoc:
    """Parse a YAML file within the toolkit's limits (ops/util/safe_yaml.py); any problem
    is a BadInput naming the file and the line."""
    try:
        text = read_text(file)
    except FileNotFoundError:
        raise BadInput(f"{file}: no such file; pass --file with the inventory's path") from None
    except IsADirectoryError:
        raise BadInput(f"{file}: is a folder, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{file}: cannot be read: {' '.join(str(error).split())}") from None
    except YamlRefused as refused:
        raise BadInput(f"{file}:{refused.line}: yaml: {refused.reason}") from None
    try:
        data = load_text(text)
    except YamlRefused as refused:
        raise BadInput(f"{file}:{refused.line}: yaml: {refused.reason}") from None
    return SourceDoc(str(file), data)


def plain(value: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (pydantic wants plain)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
