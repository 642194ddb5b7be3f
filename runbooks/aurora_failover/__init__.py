"""aurora-failover: move the database's writer to a reader (Aurora's in-region failover), or
to the secondary cluster of an Aurora global database (a planned switchover, or a failover
that may lose what the secondary had not received), and move the ingest path with it.

Laid out as every runbook package (see runbooks/rds_pitr/__init__.py): `steps.py` the
parameters and the step table, `aws_plan.py` what each step calls on AWS, `local.py` the
local provider (a real PostgreSQL streaming replica promoted), `aws.py` the AWS provider."""

from runbooks.aurora_failover.steps import AuroraFailover

__all__ = ["AuroraFailover"]
