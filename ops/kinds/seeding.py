"""What the kinds' emulator seeding shares: ownership tags in the two shapes AWS APIs take,
an existence probe, and the service roles the emulator wants for jobs and functions.

Every create is idempotent (existing resources are found, not duplicated) and every
resource carries the ownership tags of the environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ops.inventory.environment import Environment

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory


def tags_kv(env: Environment) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in env.ownership_tags().items()]


def exists(describe: Callable[[], Any]) -> bool:
    from botocore.exceptions import ClientError

    try:
        describe()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "NotFound" in code or code in ("EntityNotFoundException", "ResourceNotFoundException"):
            return False
        raise
    return True


def service_role(factory: ClientFactory, env: Environment, name: str, service: str) -> str:
    iam = factory.client("iam")
    role = env.resource_name(name)
    try:
        return str(iam.get_role(RoleName=role)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        created = iam.create_role(
            RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), Tags=tags_kv(env)
        )
        return str(created["Role"]["Arn"])
