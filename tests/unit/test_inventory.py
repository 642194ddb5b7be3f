"""The inventory: overlays, defaults, names, and the checks across components."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.errors import BadInput, ExitCode
from ops.inventory import load_environment, load_inventory
from ops.inventory.components import Msk, Rds
from ops.inventory.types import parse_duration
from tests.helpers import INVENTORY


def test_the_shipped_inventory_has_the_three_environments() -> None:
    inventory = load_inventory(INVENTORY)
    assert sorted(inventory.environments) == ["local", "prod", "staging"]
    assert inventory.environment("prod").protected
    assert not inventory.environment("staging").protected
    assert inventory.environment("local").provider == "local"


def test_the_inventory_describes_the_seed_platform() -> None:
    env = load_environment("prod", INVENTORY)
    kinds = {c.kind for c in env.spec.components.values()}
    assert kinds == {
        "api_gateway",
        "lambda",
        "msk",
        "msk_replicator",
        "s3",
        "glue",
        "emr",
        "rds",
        "documentdb",
        "mwaa",
        "adot",
        "grafana",
        "ecs_cluster",
    }
    primary = env.component("events")
    assert isinstance(primary, Msk)
    assert {t.name for t in primary.topics} == {"raw_financial_transactions", "raw_insurance_claims"}
    assert {g.name for g in primary.consumer_groups} == {"glue-financial-etl", "glue-insurance-etl"}
    assert set(env.spec.notifications) == {"critical", "warning", "info"}
    assert set(env.spec.objectives) == {"warehouse", "documents", "events", "lake"}
    assert env.spec.slos["ingest"].p99_ms >= env.spec.slos["ingest"].p95_ms


def test_an_overlay_changes_only_what_it_names() -> None:
    base = load_environment("staging", INVENTORY).component("warehouse")
    prod = load_environment("prod", INVENTORY).component("warehouse")
    assert isinstance(base, Rds) and isinstance(prod, Rds)
    assert prod.instance_class == "db.r6g.2xlarge"
    assert prod.backup_retention_days == 14
    assert prod.engine == base.engine == "postgres"  # from the base, untouched


def test_null_in_an_overlay_removes_a_component(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = INVENTORY.read_text().replace(
        "  staging:\n    provider: aws\n", "  staging:\n    provider: aws\n    spark_off: null\n", 1
    )
    text = text.replace("      airflow: {environment_class: mw1.small}", "      airflow: null")
    path = write_inventory(text.replace("    spark_off: null\n", ""))
    staging = load_environment("staging", path)
    assert "airflow" not in staging.spec.components
    assert "airflow" in load_environment("prod", path).spec.components


def test_names_tags_and_parameters_derive_from_platform_and_environment() -> None:
    env = load_environment("local", INVENTORY)
    assert env.resource_name("warehouse") == "dataplat-local-warehouse"
    assert env.parameter_name("warehouse", "endpoint") == "/dataplat/local/warehouse/endpoint"
    assert env.ownership_tags() == {
        "platform-ops:platform": "dataplat",
        "platform-ops:environment": "local",
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h", 3600), ("1d", 86400), ("250ms", 0.25), (45, 45), ("2.5m", 150)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-4h", "soon", "5 minutes", "", True])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_an_unknown_environment_names_the_known_ones() -> None:
    with pytest.raises(BadInput) as caught:
        load_environment("qa", INVENTORY)
    assert "known: local, prod, staging" in str(caught.value)
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_a_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file; pass --file"):
        load_inventory(tmp_path / "nowhere.yaml")
