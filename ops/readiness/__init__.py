"""DR readiness: per stateful component, its recovery mechanisms as configured, its last
drill as measured, and a verdict (`ops dr assess`)."""
