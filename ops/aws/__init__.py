"""AWS access: one client factory for every command."""

from ops.aws.clients import AwsTarget, ClientFactory

__all__ = ["AwsTarget", "ClientFactory"]
