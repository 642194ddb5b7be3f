"""The toolkit's own telemetry: an OpenTelemetry span per command, JSON or text logs."""
