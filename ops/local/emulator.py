"""The AWS emulator: moto as a real server on a loopback port, reached over HTTP by boto3."""

from __future__ import annotations

import sys

import httpx

from ops.aws.clients import AwsTarget
from ops.local.gaps import UNEMULATED

# The emulator accepts any credentials; fixed dummy ones make sure a user's real AWS
# credentials are never sent to it.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "platform-ops-local", "aws_secret_access_key": "local"}


def emulator_command(port: int) -> list[str]:
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def emulator_target(port: int, region: str) -> AwsTarget:
    return AwsTarget(
        region=region,
        endpoint_url=f"http://127.0.0.1:{port}",
        credentials=EMULATOR_CREDENTIALS,
        lacks=UNEMULATED,
        name="the emulator",
    )


def emulator_healthy(port: int) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200
