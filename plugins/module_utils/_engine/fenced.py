"""ECS writes under a service's lease: every write to desiredCount or to task protection (and
StopTask, and forceNewDeployment) is preceded by the lease's fence check (``LeaseStore.check``,
a conditional write on the lease item that also renews it). A failed check raises ``LeaseLost``
before the ECS call: a run that lost its lease writes nothing more to the service.

Reads that a write depends on are taken immediately before it (``desired`` then ``set_desired``
with nothing in between but the fence check), so a desiredCount someone else wrote is seen, not
overwritten from an older read.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .aws_client import chunks
from .errors import EngineError
from .lease import Lease, LeaseStore

MAX_TASKS_PER_UPDATE_PROTECTION = 10


class FencedEcs:
    """One service's ECS writes, each behind the fence check of ``lease``."""

    def __init__(self, api: Any, cluster: str, service: str, store: LeaseStore, lease: Lease):
        self.api, self.cluster, self.service = api, cluster, service
        self.store, self.lease = store, lease

    def check(self) -> None:
        self.store.check(self.lease)

    # ------------------------------------------------------------------ reads
    def describe(self) -> dict:
        resp = self.api.call("describe_services", cluster=self.cluster, services=[self.service])
        if not resp.get("services"):
            raise EngineError(f"service {self.service} disappeared during the step")
        return resp["services"][0]

    def desired(self) -> int:
        return int(self.describe().get("desiredCount", 0))

    # ----------------------------------------------------------------- writes
    def set_desired(self, count: int) -> None:
        self.check()
        self.api.call("update_service", cluster=self.cluster, service=self.service,
                      desiredCount=int(count))

    def stop_task(self, task_arn: str, reason: str) -> None:
        self.check()
        self.api.call("stop_task", cluster=self.cluster, task=task_arn, reason=reason)

    def force_new_deployment(self) -> None:
        self.check()
        self.api.call("update_service", cluster=self.cluster, service=self.service,
                      forceNewDeployment=True)

    def protect(self, task_arns: Iterable[str], minutes: int) -> tuple[list[str], list[dict]]:
        """Protect tasks (10 a call, each call fenced); the ARNs ECS protected and the
        per-task failures it reported."""
        added: list[str] = []
        failures: list[dict] = []
        for batch in chunks(list(task_arns), MAX_TASKS_PER_UPDATE_PROTECTION):
            self.check()
            resp = self.api.call("update_task_protection", cluster=self.cluster,
                                 tasks=list(batch), protectionEnabled=True,
                                 expiresInMinutes=int(minutes))
            added.extend(p["taskArn"] for p in resp.get("protectedTasks", []))
            failures.extend(resp.get("failures") or [])
        return added, failures

    def unprotect(self, task_arns: Sequence[str]) -> None:
        for batch in chunks(list(task_arns), MAX_TASKS_PER_UPDATE_PROTECTION):
            self.check()
            self.api.call("update_task_protection", cluster=self.cluster, tasks=list(batch),
                          protectionEnabled=False)
