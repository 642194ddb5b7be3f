"""The runbook engine: typed parameters and ordered steps, a plan, approvals, a journal
written before and after each step, resume, a lock per target, rollback, and a report."""
