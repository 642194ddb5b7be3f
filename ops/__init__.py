"""platform-ops: observability as code, DR runbooks and load-test campaigns."""

__version__ = "0.1.0"
TOOL_NAME = "platform-ops"
