"""ECS writes under a service's lease: every write to desiredCount or to task protection (and
StopTask, and forceNewDeployment) is preceded by the lease's fence check (``LeaseStore.check``,
a conditional write on the lease item that also renews it). A failed check raises ``LeaseLost``
before the ECS call: a run that lost its lease writes nothing more to the service.

Reads that a write depends on are taken immediately before it: ``set_desired_if`` runs the fence
check, then reads desiredCount, then writes it only if it is still the count expected, so nothing
but that read lies between the read and the UpdateService. ECS has no conditional UpdateService,
so one window stays open: a desiredCount someone else writes during that one round trip (a few
milliseconds) is overwritten. No protocol on ECS's API can close it; the README says so.
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

    def set_desired_if(self, expected: int, count: int) -> int:
        """Fence check, desiredCount read, and ``count`` written only if the count read is
        still ``expected``; returns the count read (the caller compares it with ``expected``)."""
        self.check()
        current = self.desired()
        if current == expected:
            self.api.call("update_service", cluster=self.cluster, service=self.service,
                          desiredCount=int(count))
        return current

    def stop_task(self, task_arn: str, reason: str) -> dict:
        """StopTask; the task as ECS returned it."""
        self.check()
        return self.api.call("stop_task", cluster=self.cluster, task=task_arn,
                             reason=reason).get("task") or {}

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
