"""Load platform.yaml: validate the base and every environment overlay, with line numbers."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ops.errors import BadInput
from ops.inventory.environment import Environment
from ops.inventory.problems import (
    Problem,
    data_path,
    describe,
    problem_at,
    validation_errors,
)
from ops.inventory.references import reference_problems
from ops.inventory.spec import (
    ENVIRONMENT_META_KEYS,
    EnvironmentMeta,
    InventoryHeader,
    PlatformSpec,
)
from ops.inventory.yamlsource import Path, SourceDoc, plain, read_yaml

M = TypeVar("M", bound=BaseModel)

DEFAULT_INVENTORY = "platform.yaml"
MAX_REPORTED = 20


@dataclass(frozen=True)
class Inventory:
    platform: str
    source: str
    environments: dict[str, Environment]
    doc: SourceDoc

    def invalid(self, environment: str, problems: list[tuple[Path, str]]) -> InventoryInvalid:
        """Problems found in an environment's merged spec (by checks beyond the models),
        located in the overlay or the base like every other inventory error."""
        overlay: Path = ("environments", environment)
        return InventoryInvalid(
            [
                problem_at(self.doc, _locate(self.doc, path, (), overlay), message)
                for path, message in problems
            ]
        )

    def environment(self, name: str) -> Environment:
        if name not in self.environments:
            known = ", ".join(sorted(self.environments))
            raise BadInput(f"{self.source}: --env {name!r} is not an environment (known: {known})")
        return self.environments[name]


class InventoryInvalid(BadInput):
    """Every problem of an inventory, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        lines = [str(p) for p in self.problems[:MAX_REPORTED]]
        if len(self.problems) > MAX_REPORTED:
            lines.append(f"... and {len(self.problems) - MAX_REPORTED} more")
        super().__init__("\n".join(lines))


def default_inventory_path() -> FilePath:
    return FilePath(os.environ.get("OPS_INVENTORY", DEFAULT_INVENTORY))


def load_inventory(file: FilePath | None = None) -> Inventory:
    """Load and validate every environment; raise InventoryInvalid listing every problem."""
    doc = read_yaml(file or default_inventory_path())
    header = _validate_header(doc)
    problems: list[Problem] = []
    base_spec = _validate(doc, PlatformSpec, header.base, ("base",), problems)
    if base_spec is not None:
        problems += _references(doc, base_spec, header.base, ("base",))
    environments: dict[str, Environment] = {}
    for name, entry in header.environments.items():
        env = _environment(doc, header, name, entry, problems)
        if env is not None:
            environments[name] = env
    if problems:
        raise InventoryInvalid(problems)
    return Inventory(header.platform, doc.file, environments, doc)


def load_environment(name: str, file: FilePath | None = None) -> Environment:
    return load_inventory(file).environment(name)


def _validate_header(doc: SourceDoc) -> InventoryHeader:
    if not isinstance(doc.data, dict):
        raise InventoryInvalid(
            [problem_at(doc, (), "the file must be a mapping with version, platform, base, environments")]
        )
    problems: list[Problem] = []
    header = _validate(doc, InventoryHeader, plain(doc.data), (), problems)
    if header is None:
        raise InventoryInvalid(problems)
    for name in header.environments:
        if not name.replace("-", "").isalnum() or not name.islower():
            problems.append(
                problem_at(
                    doc,
                    ("environments", name),
                    "an environment name is lower-case letters, digits and hyphens",
                )
            )
    if problems:
        raise InventoryInvalid(problems)
    return header


def _environment(
    doc: SourceDoc,
    header: InventoryHeader,
    name: str,
    entry: dict[str, Any],
    problems: list[Problem],
) -> Environment | None:
    at: Path = ("environments", name)
    meta_raw = {k: v for k, v in entry.items() if k in ENVIRONMENT_META_KEYS}
    overlay = {k: v for k, v in entry.items() if k not in ENVIRONMENT_META_KEYS}
    meta = _validate(doc, EnvironmentMeta, meta_raw, at, problems)
    overlay = _without_unknown_components(doc, header.base, overlay, at, problems)
    merged = merge(header.base, overlay)
    found: list[Problem] = []
    spec = _validate(doc, PlatformSpec, merged, (), found, overlay_at=at)
    if spec is not None:
        found += _references(doc, spec, merged, (), overlay_at=at)
    problems += found
    if meta is None or spec is None or found:
        return None
    return Environment(header.platform, name, meta, spec, doc.file)


def _without_unknown_components(
    doc: SourceDoc, base: dict[str, Any], overlay: dict[str, Any], at: Path, problems: list[Problem]
) -> dict[str, Any]:
    """An overlay entry for a component the base lacks, with no `kind` of its own, is a
    typo of a component's name: say so (rather than "kind is missing") and drop it."""
    components = overlay.get("components")
    known = base.get("components")
    if not isinstance(components, dict) or not isinstance(known, dict):
        return overlay
    kept = {}
    for name, value in components.items():
        if name not in known and not (isinstance(value, dict) and "kind" in value) and value is not None:
            close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
            hint = f"did you mean {close[0]!r}?" if close else "add it to base.components with a kind"
            problems.append(problem_at(doc, (*at, "components", name), f"unknown component {name!r}; {hint}"))
        else:
            kept[name] = value
    return {**overlay, "components": kept}


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Overlay onto base: mappings merge key by key, anything else replaces; null removes."""
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _locate(doc: SourceDoc, path: Path, at: Path, overlay_at: Path | None) -> Path:
    """Where a path of the merged spec was written: the overlay or the base, whichever
    holds more of it (the overlay on a tie, since its value is the one that counts)."""
    if overlay_at is None:
        return (*at, *path)
    in_overlay = _depth(doc, overlay_at, path)
    if in_overlay and in_overlay >= _depth(doc, ("base",), path):
        return (*overlay_at, *path)
    return ("base", *path)


def _depth(doc: SourceDoc, root: Path, path: Path) -> int:
    """How many leading keys of `path` exist under `root` in the file."""
    depth = 0
    while depth < len(path) and doc.has((*root, *path[: depth + 1])):
        depth += 1
    return depth


def _validate(
    doc: SourceDoc,
    model: type[M],
    raw: Any,
    at: Path,
    problems: list[Problem],
    overlay_at: Path | None = None,
) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        for detail in validation_errors(error):
            path = data_path(raw, detail["loc"])
            if detail["type"] == "union_tag_invalid":
                path = (*path, "kind")  # point at the `kind:` line itself
            path = _locate(doc, path, at, overlay_at)
            problems.append(problem_at(doc, path, describe(detail, model)))
        return None


def _references(
    doc: SourceDoc, spec: PlatformSpec, raw: Any, at: Path, overlay_at: Path | None = None
) -> list[Problem]:
    return [
        problem_at(doc, _locate(doc, path, at, overlay_at), message)
        for path, message in reference_problems(spec)
    ]
