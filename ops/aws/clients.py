"""One client factory: profiles, regions, the standard AWS_* variables, an endpoint
override for the local world, adaptive retries and a user agent naming the tool."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ops import TOOL_NAME, __version__
from ops.aws.stats import CallStats

# Adaptive mode adds client-side rate limiting on top of standard retries: the right mode
# for bursts of writes such as PutMetricAlarm (3 TPS by default).
DEFAULT_MAX_ATTEMPTS = 8
ENDPOINT_ENV = "OPS_AWS_ENDPOINT_URL"


@dataclass(frozen=True)
class AwsTarget:
    """Where to reach AWS: None everywhere means boto3's own resolution (AWS_* variables,
    ~/.aws/config); `endpoint_url` points every service at one endpoint (the emulator)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    # API operations ("service:Operation") the endpoint does not serve: the emulator's gaps.
    lacks: frozenset[str] = frozenset()
    name: str = "AWS"  # how messages name the target

    def with_defaults(self, region: str | None, endpoint_url: str | None = None) -> AwsTarget:
        """Fill what the user did not give from the inventory or the local platform."""
        return AwsTarget(
            profile=self.profile,
            region=self.region or region,
            endpoint_url=self.endpoint_url or os.environ.get(ENDPOINT_ENV) or endpoint_url,
            credentials=self.credentials,
            lacks=self.lacks,
            name=self.name,
        )


class ClientFactory:
    """Creates (and caches) boto3 clients that share one session and one configuration."""

    def __init__(
        self, target: AwsTarget, max_attempts: int = DEFAULT_MAX_ATTEMPTS, stats: CallStats | None = None
    ) -> None:
        # boto3 loads here, not with this module: commands that make no AWS call (help,
        # inventory validate) should not pay a fifth of a second for it.
        import boto3
        from botocore.config import Config

        self.target = target
        self.stats = stats or CallStats()
        self.session = boto3.Session(
            profile_name=target.profile,
            region_name=target.region,
            aws_access_key_id=target.credentials.get("aws_access_key_id"),
            aws_secret_access_key=target.credentials.get("aws_secret_access_key"),
        )
        self.config = Config(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            user_agent_extra=f"{TOOL_NAME}/{__version__}",
            connect_timeout=5,
            read_timeout=30,
            # An endpoint override (the emulator) serves every API at one host: no
            # per-operation host prefixes such as MWAA's `api.`.
            inject_host_prefix=target.endpoint_url is None,
        )
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.target.region)
        if key not in self._clients:
            client = self.session.client(
                service,
                region_name=region or self.target.region,
                endpoint_url=self.target.endpoint_url,
                config=self.config,
            )
            self.stats.attach(client)
            self._clients[key] = client
        return self._clients[key]

    @property
    def region(self) -> str | None:
        return self.target.region or self.session.region_name
