"""Benchmark: the local rds-pitr runbook's RTO split into its steps (restore and WAL
replay, validation, cutover...) and the engine's own overhead (journal, lock, spans).

Run: .venv/bin/python bench/pitr_local.py [--rounds 3] [--records 2000] [--profile]
Starts its own local platform in a temporary state directory (loopback only), loads
records through the ingest service, then runs rds-pitr with cutover `rounds` times.
Writes bench/results/pitr_local.json.

The engine's overhead is the run's span (its journal's run-started to run-completed)
minus its steps' spans (each step-started to step-completed): what the engine does
between the steps (stop conditions, approvals, journal entries, controls, spans).

`--profile` adds one more round, not counted in the figures, whose `ops runbook run`
process runs under cProfile (the dump: $TMPDIR/pitr_local.prof, for `python -m pstats`);
it splits RunbookEngine.run's time into the steps' own methods (inside their spans) and
the rest, with the callees of each piece of the rest, the suspects' totals and the
process's top functions by cumulative time (bench/results/pitr_local_profile.txt).
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import site
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtest.payloads import PayloadGenerator  # noqa: E402
from ops.demo.traffic import send_burst  # noqa: E402
from ops.util.processes import wait_until  # noqa: E402

RESULTS = REPO / "bench" / "results"
ENGINE_FILE = "ops/runbook/engine.py"
Func = tuple[str, int, str]  # pstats' key of a function: file, line, name


def ops(state: Path, *args: str, profile: Path | None = None) -> subprocess.CompletedProcess[str]:
    python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    command = [*python, "-m", "ops", "--state-dir", str(state), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)


def newest_backup_done(state: Path, record: dict[str, object]) -> datetime:
    """When the newest base backup of the server the endpoint names was complete (each
    round's cutover backs the new primary up): a restore replays from it."""
    moved: Any = record.get("warehouse_endpoint") or {}  # empty: the platform's own server
    root = state / "postgres"
    for marker in (state / "restores").glob("*/restored.json"):
        if moved and json.loads(marker.read_text())["restored_port"] == moved["port"]:
            root = marker.parent
    backups = sorted(p for p in (root / "base-backups").iterdir() if (p / "PG_VERSION").exists())
    return datetime.fromtimestamp(max(f.stat().st_mtime for f in backups[-1].iterdir()), UTC)


def wait_past_newest_backup(state: Path, record: dict[str, object]) -> None:
    """Until the clock is more than a second past the newest base backup (its label counts
    whole seconds): a target time before it has no backup to replay from."""
    ready = newest_backup_done(state, record) + timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) > ready, 10, "the clock past the newest base backup")


def one_round(state: Path, index: int, records: int, profile: Path | None = None) -> dict[str, Any]:
    """Load `records` more records, then one rds-pitr run with cutover to the moment after."""
    record = json.loads((state / "platform.json").read_text())
    send_burst(f"http://127.0.0.1:{record['ingest_port']}", PayloadGenerator(f"b{index}"), records)
    wait_past_newest_backup(state, record)
    target = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    out = ops(
        state,
        "runbook",
        "run",
        "rds-pitr",
        "--execute",
        "-p",
        f"target_time={target}",
        "-o",
        "json",
        profile=profile,
    )
    wall = time.perf_counter() - started
    run: dict[str, Any] = json.loads(out.stdout)
    return {"wall": wall, **run}


def figures_of(result: dict[str, Any]) -> dict[str, float]:
    steps = {
        step: (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()
        for step, (begin, end) in result["timings"].items()
    }
    span = (
        datetime.fromisoformat(result["ended_at"]) - datetime.fromisoformat(result["started_at"])
    ).total_seconds()
    overhead = span - sum(steps.values())
    return {
        "command_wall_s": result["wall"],
        "run_s": span,
        "rto_s": result["outputs"]["RecoveryTime"],
        "engine_overhead_s": overhead,
        "engine_overhead_share_pct": 100 * overhead / span,
        **{f"step_{k}_s": v for k, v in steps.items()},
    }


# --- the profile ----------------------------------------------------------------------------


def _short(func: Func) -> str:
    file, line, name = func
    if file == "~":  # a built-in
        return name
    path = Path(file)
    try:
        path = path.resolve().relative_to(REPO)
    except ValueError:
        parts = path.parts
        path = Path(*parts[parts.index("site-packages") + 1 :]) if "site-packages" in parts else path
    return f"{path}:{line}({name})"


class Profile:
    """A cProfile dump read through pstats: per function, its callers with the calls and the
    cumulative time of each (cc, nc, tt, ct)."""

    def __init__(self, path: Path) -> None:
        self.stats = pstats.Stats(str(path))
        self.raw: dict[Func, Any] = self.stats.stats  # type: ignore[attr-defined]
        self.total: float = self.stats.total_tt  # type: ignore[attr-defined]

    def find(self, file_end: str, name: str) -> Func:
        for func in self.raw:
            if func[0].endswith(file_end) and func[2] == name:
                return func
        raise SystemExit(f"profile: no {name} in {file_end}")

    def callees(self, caller: Func) -> Iterator[tuple[Func, int, float]]:
        """What `caller` called: each callee with its calls and cumulative time from there."""
        for func, (_cc, _nc, _tt, _ct, callers) in self.raw.items():
            if caller in callers:
                _ccc, ncalls, _ttc, cumulative = callers[caller]
                yield func, ncalls, cumulative

    def top(self, count: int) -> str:
        buffer = io.StringIO()
        self.stats.stream = buffer  # type: ignore[attr-defined]
        self.stats.sort_stats("cumulative").print_stats(count)
        return buffer.getvalue()

    def totals(self, file_end: str, name: str) -> tuple[int, float]:
        """Calls and cumulative seconds of the functions `name` in files ending `file_end`."""
        found = [v for f, v in self.raw.items() if f[0].endswith(file_end) and f[2] == name]
        return sum(v[1] for v in found), sum(v[3] for v in found)

    def own(self, func: Func, cumulative: float) -> bool:
        """Whether a caller that spent `cumulative` in `func` made nearly all of its time."""
        total: float = self.raw[func][3]
        return cumulative >= 0.9 * total

    def tree(self, func: Func, depth: int, floor: float, indent: str) -> list[str]:
        """`func`'s callees above `floor` seconds, `depth` levels down; a callee's own
        callees only when `func` made nearly all of its calls (pstats keeps callers, not
        call paths: under a shared function such as an import, the times would be all
        callers')."""
        lines = []
        for callee, calls, cumulative in sorted(self.callees(func), key=lambda c: -c[2]):
            if cumulative < floor:
                continue
            lines.append(f"{indent}{cumulative:7.3f} s {calls:5d}x  {_short(callee)}")
            if depth > 1 and self.own(callee, cumulative):
                lines += self.tree(callee, depth - 1, floor, indent + "    ")
        return lines


# What was suspected of the engine's cost: (label, file, function) in the profile.
SUSPECTS = (
    ("boto3 clients made (Session.client)", "boto3/session.py", "client"),
    ("ClientFactory made (a boto3 session each)", "ops/aws/clients.py", "__init__"),
    ("stop conditions checked", ENGINE_FILE, "_check_stops"),
    ("  DescribeAlarms (stops.firing; the check-alarms step too)", "ops/runbook/stops.py", "firing"),
    ("journal entries (Journal.append)", "ops/runbook/journal.py", "append"),
    ("  fsync (journal, lock)", "~", "<built-in method posix.fsync>"),
    ("spans (tracing.span)", "ops/telemetry/tracing.py", "span"),
    ("platform.json read (require_running)", "ops/local/platform.py", "require_running"),
    ("the runbook's steps built (steps)", "runbooks/rds_pitr/steps.py", "steps"),
    ("the provider made (provider_for, its import)", "runbooks/rds_pitr/steps.py", "provider_for"),
)


def profile_summary(path: Path, steps: list[str], top: int = 30) -> str:
    """The engine's time in the profiled process split into the steps' own methods (inside
    their spans) and everything else the engine did, with its callees."""
    profile = Profile(path)
    step_methods = {step.replace("-", "_") for step in steps} | {"_nothing"}  # _nothing: an approval
    run = profile.find(ENGINE_FILE, "run")
    loop = profile.find(ENGINE_FILE, "_steps")
    run_time = profile.raw[run][3]
    inside = sum(t for f, _, t in profile.callees(loop) if f[2] in step_methods and "runbooks/" in f[0])
    outside = run_time - inside
    lines = [
        f"profiled process: {profile.total:.3f} s under cProfile (its overhead included)",
        f"RunbookEngine.run: {run_time:.3f} s = the steps' own methods {inside:.3f} s + the rest "
        f"{outside:.3f} s ({100 * outside / run_time:.1f}%; the rest includes what comes before "
        "the journal's run-started, which the measured overhead does not)",
        "",
        "the rest, called by RunbookEngine.run (the lock, the first and last entries, the plan "
        "when it is made there), in seconds from there, with calls:",
    ]
    for callee, calls, cumulative in sorted(profile.callees(run), key=lambda c: -c[2]):
        if callee != loop and cumulative >= 0.001:
            lines.append(f"    {cumulative:7.3f} s {calls:5d}x  {_short(callee)}")
            lines += profile.tree(callee, 3, 0.005, "        ") if profile.own(callee, cumulative) else []
    lines.append("the rest, called by RunbookEngine._steps (between the steps, in the run's span):")
    for callee, calls, cumulative in sorted(profile.callees(loop), key=lambda c: -c[2]):
        if cumulative >= 0.001 and not (callee[2] in step_methods and "runbooks/" in callee[0]):
            lines.append(f"    {cumulative:7.3f} s {calls:5d}x  {_short(callee)}")
            lines += profile.tree(callee, 4, 0.005, "        ") if profile.own(callee, cumulative) else []
    lines += ["", "the suspects, in the whole process (calls, cumulative seconds):"]
    for label, file_end, name in SUSPECTS:
        calls, seconds = profile.totals(file_end, name)
        lines.append(f"    {seconds:7.3f} s {calls:5d}x  {label}")
    lines += ["", f"top {top} of the whole process by cumulative time:", profile.top(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument(
        "--profile", action="store_true", help="one more round under cProfile, not counted in the figures"
    )
    args = parser.parse_args()
    rounds: list[dict[str, float]] = []
    summary = ""
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as folder:
        state = Path(folder) / "state"
        ops(state, "local", "up")
        try:
            for index in range(args.rounds):
                rounds.append(figures_of(one_round(state, index, args.records)))
            if args.profile:
                dump = Path(tempfile.gettempdir()) / "pitr_local.prof"  # binary: not in the repository
                profiled = one_round(state, args.rounds, args.records, profile=dump)
                measured = figures_of(profiled)
                summary = (
                    f"cProfile dump: {dump}\n"
                    f"profiled round (not in the figures): run {measured['run_s']:.3f} s, engine overhead "
                    f"{measured['engine_overhead_s']:.3f} s ({measured['engine_overhead_share_pct']:.1f}%)\n"
                    + profile_summary(dump, list(profiled["timings"]))
                )
        finally:
            ops(state, "local", "down")
    median = {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
    figures = {"rounds": args.rounds, "records_per_round": args.records, "median": median}
    (RESULTS / "pitr_local.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(
        f"engine overhead (median): {median['engine_overhead_s']:.3f} s of a {median['run_s']:.3f} s run "
        f"= {median['engine_overhead_share_pct']:.1f}% (target: under 5%)"
    )
    if summary:
        (RESULTS / "pitr_local_profile.txt").write_text(without_machine_paths(summary) + "\n")
        print("\n" + summary)


def without_machine_paths(text: str) -> str:
    """The profile as a reader of the repository sees it: paths from the checkout, the
    packages and Python's own library, not this machine's folders."""
    roots = sorted(
        {str(Path(p)) for p in [*site.getsitepackages(), sysconfig.get_paths()["stdlib"], str(REPO)]},
        key=len,
        reverse=True,
    )
    for root in roots:
        text = text.replace(root + "/", "")
    return text


if __name__ == "__main__":
    main()
