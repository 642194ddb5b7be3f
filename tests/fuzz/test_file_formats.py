"""Structure-aware fuzzing of the three YAML formats the toolkit reads: valid files (the
shipped inventory, the shipped campaigns, the collector configurations rendered for
staging) mutated (types swapped, non-finite and huge values, deep nesting, anchors and
aliases, long names, unicode, keys deleted or added) and fed to the real CLI in this
process. Whatever the file holds, the command exits 0 or 2, says why in at most a few
`error: FILE:LINE: field: message` lines, never with a traceback, and within a time bound.

tests/unit/test_inventory_properties.py damages the inventory's structure (junk values,
deleted and unknown keys, arbitrary text, truncation): the inventory's test here mutates its
values only."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adot.generate import collector_configs
from ops.campaign.spec import CAMPAIGNS_DIR, load_campaign
from ops.inventory.loader import load_inventory
from tests.fuzz.harness import (
    ALL_MUTATIONS,
    VALUE_MUTATIONS,
    assert_problem_lines,
    load_plain,
    mutated_text,
    run_bounded,
    time_bound,
    yaml_file,
)
from tests.helpers import INVENTORY

INVENTORY_BASE: Any = load_plain(INVENTORY.read_text())
CAMPAIGN_BASES: list[Any] = [load_plain(p.read_text()) for p in sorted(CAMPAIGNS_DIR.glob("*.yaml"))]
# What `ops adot render --env staging` writes, with the distribution each is validated for.
COLLECTORS: dict[str, tuple[str, Any]] = {
    name: ("lambda" if generated.collector.mode == "lambda" else "collector", load_plain(generated.text))
    for name, generated in collector_configs(load_inventory(INVENTORY).environment("staging")).items()
}

# Every value mutation, the unreadable scalars, merges and huge integers included (they
# crashed the inventory's loader until the loader refused them with their line).
INVENTORY_MUTATIONS = VALUE_MUTATIONS

FUZZ = settings(
    deadline=None,  # the time bound is the harness's (tests/fuzz/harness.py), not a measure
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
# Examples per format: together about 40 s on the project's 2-core machine (docs/testing.md).
INVENTORY_EXAMPLES = 60
CAMPAIGN_EXAMPLES = 150
COLLECTOR_EXAMPLES = 150


def test_the_bases_are_valid() -> None:
    """The mutations start from files the commands accept (else they prove little)."""
    assert run_bounded("inventory", "validate", "--file", str(INVENTORY)).code == 0
    for path in sorted(CAMPAIGNS_DIR.glob("*.yaml")):
        load_campaign(str(path))
    assert len(CAMPAIGN_BASES) >= 3
    assert set(COLLECTORS) == {"gateway", "ecs-sidecar", "lambda-layer"}


@settings(FUZZ, max_examples=INVENTORY_EXAMPLES)
@given(mutated_text([INVENTORY_BASE], INVENTORY_MUTATIONS))
def test_an_inventory_with_mutated_values(text: str) -> None:
    with yaml_file("platform.yaml", text) as path:
        result = run_bounded("inventory", "validate", "--file", str(path))
        assert_problem_lines(result, path, text)


@settings(FUZZ, max_examples=CAMPAIGN_EXAMPLES)
@given(mutated_text(CAMPAIGN_BASES, ALL_MUTATIONS))
def test_a_mutated_campaign_is_refused_before_anything_starts(text: str) -> None:
    """A bad campaign exits 2 before anything is done; one the checks accept goes on to the
    first step that needs the local platform (not started here: exit 1 saying so), and the
    plan it would follow can be made."""
    with tempfile.TemporaryDirectory() as state, yaml_file("campaign.yaml", text) as path:
        result = run_bounded(
            "--inventory",
            str(INVENTORY),
            "loadtest",
            "run",
            str(path),
            "--env",
            "local",
            env={"OPS_STATE_DIR": state},
        )
        lines = result.err.strip().splitlines()
        if (
            result.code == 1
            and len(lines) == 1
            and lines[0].startswith("error: the local platform is not up")
        ):
            with time_bound():
                campaign = load_campaign(str(path))
                assert campaign.plan().duration == campaign.total_duration > 0
                assert campaign.peak_users >= 0
        else:
            assert_problem_lines(result, path, text)
        assert not (Path(state) / "loadtests").exists(), "a campaign was started"


@settings(FUZZ, max_examples=COLLECTOR_EXAMPLES)
@given(
    st.sampled_from(sorted(COLLECTORS)).flatmap(
        lambda name: st.tuples(
            st.sampled_from([COLLECTORS[name][0], "collector", "lambda"]),
            mutated_text([COLLECTORS[name][1]], ALL_MUTATIONS),
        )
    )
)
def test_a_mutated_collector_configuration(case: tuple[str, str]) -> None:
    distribution, text = case
    with yaml_file("collector.yaml", text) as path:
        result = run_bounded("adot", "validate", str(path), "--distribution", distribution)
        assert_problem_lines(result, path, text)
