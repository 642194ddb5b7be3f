"""Turn pydantic's validation errors into one-line messages naming file, line and field."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ops.inventory.yamlsource import Path, SourceDoc, child

_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_/-]+$")


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


def dotted(path: Path) -> str:
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif not _SIMPLE_KEY.match(key):
            text += f"[{json.dumps(key)}]"  # a key with spaces or dots stays readable
        else:
            text += f".{key}" if text else key
    return text or "top-level"


def problem_at(doc: SourceDoc, path: Path, message: str) -> Problem:
    return Problem(doc.file, doc.line_of(path), dotted(path), message)


def data_path(raw: Any, loc: tuple[int | str, ...]) -> Path:
    """pydantic's location with union tags (not keys of the data) left out."""
    path: list[str | int] = []
    node = raw
    for key in loc:
        found, value = child(node, key)
        if not found and isinstance(node, dict) and node.get("kind") == key:
            continue  # the discriminator's tag: pydantic adds it, the file does not have it
        node = value if found else None
        path.append(key)
    return tuple(path)


def describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    """A message for one pydantic error that says what to write instead."""
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = fields_at(model, error["loc"][:-1])
        name = str(error["loc"][-1])
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            return f"unknown field {name!r}; did you mean {close[0]!r}?"
        return f"unknown field {name!r}; allowed: {', '.join(allowed) or 'none'}"
    if kind == "missing":
        return "required field is missing"
    context = error.get("ctx", {})
    if kind == "union_tag_invalid":
        return f"unknown kind {context.get('tag')!r}; kinds: {context.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "required field 'kind' is missing"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "value_error" and "input" in error:
        shown = repr(error["input"])
        message += f" (got {shown[:60]}{'...' if len(shown) > 60 else ''})"
    return message


def fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names allowed at a location of a model, following dicts, lists and tags."""
    annotation: Any = model
    for key in loc:
        annotation = _step(annotation, key)
        if annotation is None:
            return []
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sorted(annotation.model_fields)
    return []


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _step(annotation: Any, key: int | str) -> Any:
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(key))
        return field.annotation if field else None
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            kind = getattr(member, "model_fields", {}).get("kind")
            if kind is not None and typing.get_args(kind.annotation) == (key,):
                return member
    return None


def validation_errors(error: ValidationError) -> list[ErrorDetails]:
    return error.errors(include_url=False)
