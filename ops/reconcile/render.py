"""Plans for people (Terraform-style lines) and for machines (JSON)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from ops.reconcile.model import Action, Change, Plan

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
    Action.SKIP: ("!", "magenta"),
    Action.NOOP: ("=", "dim"),
}


def print_plan(console: Console, plan: Plan, title: str, show_unchanged: bool = False) -> None:
    console.print(f"[bold]{escape(title)}[/]")
    for change in plan.changes:
        if change.action is Action.NOOP and not show_unchanged:
            continue
        print_change(console, change)
    for note in plan.notes:
        console.print(f"  [dim]note: {escape(note)}[/]")
    console.print(summary(plan))


def print_change(console: Console, change: Change) -> None:
    symbol, colour = SYMBOLS[change.action]
    reason = f" ({escape(change.reason)})" if change.reason else ""
    console.print(f"  [{colour}]{symbol} {change.kind} {escape(change.name)}[/]{reason}", soft_wrap=True)
    for field in change.fields:
        console.print(f"      {escape(str(field))}", soft_wrap=True)


def summary(plan: Plan) -> str:
    counts = plan.counts()
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete"
        f", {counts['no-op']} unchanged, {counts['skip']} left alone."
    )


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "environment": plan.environment,
        "counts": plan.counts(),
        "changes": [change_json(c) for c in plan.changes if c.action is not Action.NOOP],
        "notes": plan.notes,
    }


def change_json(change: Change) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "name": change.name,
        "action": change.action.value,
        "reason": change.reason,
        "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in change.fields],
    }
