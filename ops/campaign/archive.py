"""A finished campaign's results and report, copied to the environment's results bucket."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ops.campaign.backend import LOCUST_REPORT
from ops.inventory.environment import Environment

ARCHIVED_FILES = ("results.json", "report.html", "report.md", "report.json")


def archive(
    s3: Callable[[], Any],
    environment: Environment,
    folder: Path,
    campaign_id: str,
    warn: Callable[[str], None],
) -> str | None:
    """Results and report to s3://<bucket>/<campaign id>/; None without a bucket or when the
    upload fails (the verdict stands: the results are in the folder). `s3` makes the client,
    only when there is a bucket."""
    bucket = environment.spec.loadtest_settings.results_bucket
    if not bucket:
        return None
    name = environment.resource_name(bucket)
    client = s3()
    try:
        # Locust's own report too, when there is one: the report's relative link holds in S3.
        files = [*ARCHIVED_FILES, *([LOCUST_REPORT] if (folder / LOCUST_REPORT).exists() else [])]
        for file in files:
            client.put_object(Bucket=name, Key=f"{campaign_id}/{file}", Body=(folder / file).read_bytes())
    except ClientError as error:
        warn(f"warning: results not archived to s3://{name}: {error}")
        return None
    return f"s3://{name}/{campaign_id}/"
