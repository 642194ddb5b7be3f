"""The Kafka clients msk-failover holds and moves on AWS, as the inventory names them: the
producers are the ingest Lambdas that produce to the primary cluster (held by a reserved
concurrency of 0, released by putting back what they had), the consumers the Glue jobs of
the cluster's consumer groups (`ConsumerGroup.job`; their runs stopped, then started again,
each run reading the clients' endpoint parameter as it starts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.errors import BadInput, OpsError
from ops.inventory.components import Glue, Msk
from ops.inventory.environment import Environment

ACTIVE_RUN = ("STARTING", "RUNNING", "WAITING")  # a run that consumes, or is about to
LIVE_RUN = (*ACTIVE_RUN, "STOPPING")  # a run not ended yet


# --- producers: the ingest functions' reserved concurrency -----------------------------
def concurrency(lambda_: Any, functions: list[str]) -> dict[str, int | None]:
    """Each function's reserved concurrency (None: it has none, the account's pool)."""
    found: dict[str, int | None] = {}
    for function in functions:
        answer = lambda_.get_function_concurrency(FunctionName=function)
        value = answer.get("ReservedConcurrentExecutions")
        found[function] = None if value is None else int(value)
    return found


def hold(lambda_: Any, functions: list[str]) -> None:
    """Reserved concurrency 0: the function is throttled, produces nothing."""
    for function in functions:
        lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)


def release(lambda_: Any, before: dict[str, int | None]) -> None:
    """What each function had before the hold: its reserved concurrency, or none."""
    for function, value in before.items():
        if value is None:
            lambda_.delete_function_concurrency(FunctionName=function)
        else:
            lambda_.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=value)


# --- consumers: the Glue jobs' runs ----------------------------------------------------
def runs(glue: Any, job: str, states: tuple[str, ...]) -> list[str]:
    """The ids of the job's runs in `states` (the newest page: live runs are recent)."""
    answer = glue.get_job_runs(JobName=job, MaxResults=50)
    return [run["Id"] for run in answer.get("JobRuns", []) if run.get("JobRunState") in states]


def stop(
    glue: Any,
    jobs: list[str],
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll: float,
) -> None:
    """Stop every live run of the jobs and wait until each has ended (a stopped streaming
    job has committed its offsets and left its group)."""
    for job in jobs:
        ids = runs(glue, job, ACTIVE_RUN)
        if not ids:
            continue
        answer = glue.batch_stop_job_run(JobName=job, JobRunIds=ids)
        errors = [
            f"{e.get('JobRunId')}: {(e.get('ErrorDetail') or {}).get('ErrorMessage', 'refused')}"
            for e in answer.get("Errors", [])
        ]
        if errors:
            raise OpsError(f"Glue refused to stop runs of {job}: {'; '.join(errors)}")
    deadline = clock() + timeout
    while True:
        live = {job: ids for job in jobs if (ids := runs(glue, job, LIVE_RUN))}
        if not live:
            return
        if clock() > deadline:
            named = ", ".join(f"{job} ({', '.join(ids)})" for job, ids in live.items())
            raise OpsError(
                f"Glue job runs still live after {timeout:.0f} s: {named}; see them in the Glue console"
            )
        sleep(poll)


def start(glue: Any, jobs: list[str]) -> dict[str, str]:
    """A run of each job with its own default arguments, unless one is live already (a
    resumed step starts nothing twice): job -> the run id (started, or found)."""
    started: dict[str, str] = {}
    for job in jobs:
        live = runs(glue, job, ACTIVE_RUN)
        if live:
            started[job] = live[0]
            continue
        started[job] = str(glue.start_job_run(JobName=job)["JobRunId"])
    return started


# --- which jobs: the inventory's consumer groups -----------------------------------------
def consumer_jobs(env: Environment, cluster: str) -> list[str]:
    """The Glue jobs (AWS names) that consume the msk component `cluster`'s consumer groups
    (`ConsumerGroup.job`). A group with no job, or a job no glue component has, is refused:
    its consumers could neither be stopped before the move nor started after it."""
    msk = env.components_of(Msk)[cluster]
    known = {job.name for glue in env.components_of(Glue).values() for job in glue.jobs}
    jobs: list[str] = []
    for group in msk.consumer_groups:
        if group.job is None:
            raise BadInput(
                f"components.{cluster}.consumer_groups: group {group.name} names no job; set its `job` "
                "to the Glue job that consumes it (msk-failover stops and starts it on AWS)"
            )
        if group.job not in known:
            raise BadInput(
                f"components.{cluster}.consumer_groups: group {group.name}'s job {group.job} is no glue "
                "component's job; name one of the inventory's Glue jobs"
            )
        name = env.resource_name(group.job)
        if name not in jobs:
            jobs.append(name)
    return jobs
