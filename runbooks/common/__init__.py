"""Helpers that more than one runbook uses: the SQL data checks of a restore, how the AWS
provider reaches a database, the adaptive wait for an RDS instance."""
