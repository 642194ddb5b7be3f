"""Every kind of report, from real runs on the local platform, loaded in headless Chromium:
no console error, the verdict first, each chart drawn with its axes, a page that is not
blank. With OPS_SCREENSHOTS=<folder> (`make screenshots`) each page is saved there as PNG
(docs/img holds the ones the README shows).

The demo's report is checked the same way by the demo's own test (tests/integration/
test_local_platform.py), which runs the demo once for both."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.browser import Page, browser, chromium_binary, is_blank
from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform

pytestmark = pytest.mark.skipif(chromium_binary() is None, reason="no chromium (`make test` installs it)")

CHARTS = """Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
  kind: svg.dataset.chart,
  xticks: svg.querySelectorAll('g[id^="xtick"]').length,
  yticks: svg.querySelectorAll('g[id^="ytick"]').length,
  texts: svg.querySelectorAll('text').length,
  series: svg.querySelectorAll('[data-series],[data-step]').length,
}))"""
FIRST_AFTER_TITLE = "document.querySelector('h1').nextElementSibling.id"


def check_report(page: Page, path: Path, name: str, charts: int) -> list[dict[str, Any]]:
    """Load `path`: no error, the verdict right under the title, at least `charts` charts
    each with axes and something drawn, a page that is not blank. Returns the charts."""
    page.open(path)
    assert page.errors == [], page.errors
    assert page.evaluate(FIRST_AFTER_TITLE) == "verdict"
    outcome = page.evaluate("document.getElementById('verdict').dataset.outcome")
    assert outcome in ("met", "missed", "failed", "done", "planned")
    found: list[dict[str, Any]] = page.evaluate(CHARTS)
    assert len(found) >= charts, found
    for chart in found:
        assert chart["xticks"] > 0 and chart["yticks"] > 0 and chart["series"] > 0, chart
    png = page.screenshot()
    assert not is_blank(png)
    folder = os.environ.get("OPS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.png").write_bytes(png)
    return found


def _report_of(result: Any) -> Path:
    """The report path a command printed as its last line."""
    assert result.code in (0, 4), result.out + result.err
    last = result.out.strip().splitlines()[-1]
    assert last.startswith("report: "), result.out
    return Path(last.removeprefix("report: ").strip())


def test_a_runbook_runs_report_draws_its_steps_and_its_verdict(platform: RunningPlatform) -> None:
    run = run_cli("runbook", "run", "aurora-failover", "--execute", env=platform.env)
    report = _report_of(run)
    # Not a terminal: the wait's live line is a plain line, with what it last saw.
    assert "  wait until the new writer takes writes: " in run.out and "last seen reader-" in run.out
    with browser() as page:
        (gantt,) = [c for c in check_report(page, report, "runbook-report", charts=1) if c["kind"] == "gantt"]
        assert gantt["series"] == 11  # one bar per step of the writer failover
        assert page.evaluate("document.querySelectorAll('[data-mark=\"cutover\"]').length") == 1
        assert page.evaluate("document.getElementById('verdict').dataset.outcome") == "met"


def test_a_runs_report_is_made_again_from_its_journal_alone(platform: RunningPlatform) -> None:
    report = _report_of(run_cli("runbook", "run", "aurora-failover", "--execute", env=platform.env))
    before = report.read_text()
    for kind in ("report.html", "report.md", "report.json"):
        (report.parent / kind).unlink()
    again = run_cli("runbook", "report", report.parent.name, env=platform.env)
    assert again.code == 0, again.err
    assert _report_of(again) == report
    assert report.read_text() == before  # the same report, byte for byte
    assert json.loads((report.parent / "report.json").read_text())["verdict"]["outcome"] == "met"


def test_a_drill_and_the_drill_history_draw_rto_and_rpo_against_the_objectives(
    platform: RunningPlatform,
) -> None:
    drill = run_cli("drill", "run", "aurora-failover", "--env", "local", env=platform.env)
    assert drill.code == 0, drill.out + drill.err
    drill_report = Path(
        next(line for line in drill.out.splitlines() if "report:" in line).split("report:")[1].strip()
    )
    history = _report_of(run_cli("drill", "history", "--env", "local", "--html", env=platform.env))
    with browser() as page:
        check_report(page, drill_report, "drill-report", charts=1)
        charts = check_report(page, history, "drill-history", charts=2)
        assert {c["kind"] for c in charts} == {"history"}
        assert page.evaluate("document.querySelectorAll('[data-threshold=\"objective\"]').length") >= 2


def test_the_readiness_report_says_its_verdict_first(platform: RunningPlatform) -> None:
    assess = run_cli("dr", "assess", "--env", "local", env=platform.env)
    report = _report_of(assess)
    with browser() as page:
        check_report(page, report, "readiness-report", charts=0)
        rows = page.evaluate("document.querySelectorAll('#verdict table tr').length")
        assert rows >= 2  # a row per stateful component under the header


def test_a_campaigns_report_draws_users_on_their_own_axis_and_the_slo_lines(
    platform: RunningPlatform,
) -> None:
    campaign = run_cli("loadtest", "run", "smoke", "--env", "local", env=platform.env, timeout=300)
    assert campaign.code in (0, 4), campaign.out + campaign.err
    report = Path(
        next(line for line in campaign.out.splitlines() if line.startswith("report: ")).split(": ", 1)[1]
    )
    with browser() as page:
        charts = check_report(page, report, "campaign-report", charts=3)
        assert [c["kind"] for c in charts] == ["time", "time", "time"]
        users = "document.querySelectorAll('[data-series=\"users\"]').length"
        assert page.evaluate(users) == 1  # on the right-hand axis, not the requests' scale
        assert page.evaluate("document.querySelectorAll('[data-threshold^=\"SLO\"]').length") == 2
        locust = page.evaluate("Array.from(document.querySelectorAll('.links a')).map(a => a.href)")
    assert len(locust) == 1 and Path(unquote(locust[0].removeprefix("file://"))).stat().st_size > 0
