"""msk-broker-reboot: reboot the brokers of one msk cluster one at a time, each waited for
until it is back in the cluster with every ISR whole, under stop conditions (a drill: FIS
has no MSK action; runbooks/rds_pitr/__init__.py describes the package layout).

- `steps.py`: the parameters, the step table and the runbook;
- `rolling.py`: the reboot loop both providers run, and its stop conditions;
- `local.py`: the local provider (the platform's KRaft brokers); `aws.py`: MSK's
  RebootBroker and CloudWatch; `grants.py`: the IAM grants."""

from runbooks.msk_broker_reboot.steps import MskBrokerReboot

__all__ = ["MskBrokerReboot"]
