"""rds-pitr: restore the warehouse database to a point in time, check the data, and move
the ingest path to it.

The layout every runbook package follows (runbooks/<name>/):
- `steps.py`: the parameters, the runbook class and its step table (each step once: what
  it says and the calls it makes on each provider, the provider method that runs it and
  the one that undoes it). Light to import: `ops runbook list` reads it.
- `local.py`: the local provider, on the embedded platform; the only module of the
  package that may import `ops.local`.
- `aws.py`: the AWS provider (boto3); here with `cutover.py`, its cutover strategies.
- Helpers that several runbooks share live in `runbooks/common/`.
The provider module is imported when a run needs it (`steps.provider_for`).
"""

from runbooks.rds_pitr.steps import RdsPitr

__all__ = ["RdsPitr"]
