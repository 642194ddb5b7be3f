"""Load on the ingest path: financial transactions and insurance claims, FastHttpUser.

Run by `ops loadtest run` (a Locust master and worker processes). Settings come from the
environment the campaign engine sets:
  OPS_LOADTEST_SEED           payload seed (each worker adds its index)
  OPS_LOADTEST_CLAIM_SHARE    share of insurance claims, 0..1 (default 0.5)
  OPS_LOADTEST_WAIT_S         think time between requests of one user (default 0)
  OPS_LOADTEST_SAMPLES_DIR    where each process writes its raw samples (checks, benches)
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import WorkerRunner

from loadtest.payloads import PayloadGenerator

RUN = uuid.uuid4().hex[:8]  # this process's share of unique record ids
_generator = PayloadGenerator(f"lt{RUN}", seed=int(os.environ.get("OPS_LOADTEST_SEED", "0")))
_claims = float(os.environ.get("OPS_LOADTEST_CLAIM_SHARE", "0.5"))
_samples: list[str] = []


class IngestUser(FastHttpUser):
    wait_time = constant(float(os.environ.get("OPS_LOADTEST_WAIT_S", "0")))

    def on_start(self) -> None:
        self.rng = random.Random(f"{RUN}:{id(self)}")

    @task
    def ingest(self) -> None:
        if self.rng.random() < _claims:
            self.client.post("/ingest-insurance-claim/", json=_generator.insurance_claim(), name="claim")
        else:
            record = _generator.financial_transaction()
            self.client.post("/ingest-financial-transaction/", json=record, name="transaction")


@events.request.add_listener  # type: ignore[untyped-decorator]
def _record(request_type: str, name: str, response_time: float, exception: Any, **_: Any) -> None:
    if os.environ.get("OPS_LOADTEST_SAMPLES_DIR"):
        _samples.append(f"{name},{response_time:.3f},{0 if exception else 1}\n")


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write_samples(environment: Any, **_: Any) -> None:
    folder = os.environ.get("OPS_LOADTEST_SAMPLES_DIR")
    if folder and isinstance(environment.runner, WorkerRunner) and _samples:
        Path(folder, f"samples-{RUN}.csv").write_text("".join(_samples))
