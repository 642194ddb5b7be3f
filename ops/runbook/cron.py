"""Scheduler's cron and time zones, checked before any call: its six fields
`cron(min hour day-of-month month day-of-week year)` (ranges, names, `L`/`W`/`#`, exactly one
day field `?`), or a Unix five-field expression converted to it; a time zone zoneinfo knows."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ops.errors import BadInput

# -----------------------------------------------------------------------------
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Scheduler: 1-7 = SUN-SAT
# Scheduler's fields: (name, lowest, highest, names, the special characters it allows)
_FIELDS = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)
CRON_HELP = "cron(min hour day-of-month month day-of-week year) with one day '?', or five Unix fields"


class _Bad(ValueError):
    pass


def _value(text: str, low: int, high: int, names: tuple[str, ...], what: str) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + low
    if not text.isdigit():
        raise _Bad(f"{what}: {text!r} is not a number{' or a name' if names else ''}")
    number = int(text)
    if not low <= number <= high:
        raise _Bad(f"{what}: {number} is outside {low}-{high}")
    return number


def _check_field(text: str, low: int, high: int, names: tuple[str, ...], special: str, what: str) -> None:
    """One of Scheduler's fields: `*`, `?`, lists of values, ranges and increments, and the
    field's own L, W, # forms."""
    if text == "?":
        if "?" not in special:
            raise _Bad(f"{what}: '?' is only for day-of-month or day-of-week")
        return
    for part in text.split(","):
        if not part:
            raise _Bad(f"{what}: an empty item in {text!r}")
        if "L" in special and part.upper() == "L":
            continue
        if "W" in special and part.upper().endswith("W"):  # 15W: the weekday nearest the 15th; LW
            if part.upper() != "LW":
                _value(part[:-1], low, high, names, what)
            continue
        if "#" in special and "#" in part:
            day, _, nth = part.partition("#")
            _value(day, low, high, names, what)
            if not (nth.isdigit() and 1 <= int(nth) <= 5):
                raise _Bad(f"{what}: {part!r}: the nth weekday is 1-5")
            continue
        if "L" in special and part.upper().endswith("L") and len(part) > 1:  # 6L: the last Friday
            _value(part[:-1], low, high, names, what)
            continue
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            raise _Bad(f"{what}: {part!r}: an increment is a positive number")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _value(start, low, high, names, what)
        if dash and _value(end, low, high, names, what) < first and what != "day-of-week":
            raise _Bad(f"{what}: {base!r} runs backwards")


def _scheduler_cron(fields: list[str]) -> None:
    for text, (what, low, high, names, special) in zip(fields, _FIELDS, strict=True):
        _check_field(text, low, high, names, special, what)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _Bad("exactly one of day-of-month and day-of-week must be '?'")


def _unix_values(text: str, low: int, high: int, names: tuple[str, ...], what: str) -> set[int]:
    """A Unix cron field as the set of values it names (names allowed for months and days)."""
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) >= 1):
            raise _Bad(f"{what}: {part!r}: an increment is a positive number")
        step = int(step_text) if slash else 1
        if base == "*":
            first, last = low, high
        else:
            start, dash, end = base.partition("-")
            first = _value(start, low, high, names, what)
            last = _value(end, low, high, names, what) if dash else (high if slash else first)
            if last < first:
                raise _Bad(f"{what}: {base!r} runs backwards")
        values.update(range(first, last + 1, step))
    return values


def _compact(values: set[int]) -> str:
    """Sorted values as a Scheduler list, runs written as ranges (2,3,4,5,6 -> 2-6)."""
    ordered = sorted(values)
    runs: list[list[int]] = []
    for value in ordered:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _from_unix(fields: list[str]) -> str:
    """Unix `min hour dom month dow` as Scheduler's six fields. Unix runs a job when either
    restricted day field matches; Scheduler needs one of them '?', so both restricted is refused.
    Days of the week: Unix 0-7 (0 and 7 Sunday) become Scheduler's 1-7 (1 Sunday)."""
    minute, hour, dom, month, dow = fields
    out = []
    for text, (what, low, high, names) in (
        (minute, ("minutes", 0, 59, ())),
        (hour, ("hours", 0, 23, ())),
        (dom, ("day-of-month", 1, 31, ())),
        (month, ("month", 1, 12, _MONTHS)),
    ):
        values = _unix_values(text, low, high, names, what)
        out.append("*" if values == set(range(low, high + 1)) and text.startswith("*") else _compact(values))
    unix_days = _unix_values(dow, 0, 7, (*_DAYS, "SUN"), "day-of-week")  # SUN is 0; 7 also Sunday
    days = {(d % 7) + 1 for d in unix_days}
    restricted_dom, restricted_dow = dom != "*", dow != "*"
    if restricted_dom and restricted_dow:
        raise _Bad(
            "both day-of-month and day-of-week are restricted (Unix runs on either; Scheduler "
            "needs one of them '?')"
        )
    if restricted_dow:
        out[2] = "?"
        out.append(_compact(days))
    else:
        out.append("?")
    out.append("*")
    return f"cron({' '.join(out)})"


def validate_cron(expression: str) -> str:
    """Scheduler's expression for `--cron`: `cron(...)` checked as Scheduler reads its six
    fields, or five Unix fields converted. Bad input is one line naming --cron and the form."""
    text = " ".join(expression.split())
    try:
        if text.startswith("cron(") and text.endswith(")"):
            fields = text[5:-1].split()
            if len(fields) != 6:
                raise _Bad(f"cron(...) has six fields, this has {len(fields)}")
            _scheduler_cron(fields)
            return f"cron({' '.join(fields)})"
        if text.startswith(("rate(", "at(")):
            raise _Bad("a drill schedule is a cron expression, not rate() or at()")
        fields = text.split()
        if len(fields) != 5:
            raise _Bad(f"{len(fields)} fields: Unix cron has five")
        if any(c in text for c in "?LW#"):
            raise _Bad("'?', L, W and # are Scheduler's: write them in cron(...)")
        return _from_unix(fields)
    except _Bad as error:
        raise BadInput(f"--cron {expression!r}: {error}; write {CRON_HELP}, e.g. '0 3 * * 0'") from None


def validate_timezone(name: str) -> str:
    """An IANA time zone (zoneinfo), as Scheduler's ScheduleExpressionTimezone takes it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            f"--timezone {name!r}: not an IANA time zone; "
            "write one such as UTC, Europe/Paris, America/New_York"
        ) from None
    return name


# --- the request ---------------------------------------------------------------------------------
