"""Terminal output: rich on a terminal, plain when piped, JSON on request."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def print_json(data: Any) -> None:
    """JSON on stdout, unstyled, so it can be piped to jq."""
    print(json.dumps(data, indent=2, default=str))


def print_error(message: str) -> None:
    """Each line of an error on stderr, prefixed, never wrapped or styled as markup."""
    for line in message.splitlines() or [""]:
        err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
