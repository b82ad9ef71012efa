"""A small in-memory ECS for the evictor and executor unit tests: only the calls they make.

It keeps per service a desiredCount, tags and live tasks (with their instance), per task a
protection flag; raising desiredCount starts tasks at once on ``new_instance``, lowering it
stops unprotected tasks (newest first), as ECS's scale-in would when every other task is
protected. ``fail`` injects errors or per-task failures by operation name. Every call is
recorded in ``calls`` as (operation, params).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from botocore.exceptions import ClientError

from .factories import ACCOUNT, CLUSTER, arn


def client_error(operation: str, code: str = "InvalidParameterException",
                 message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeEcs:
    def __init__(self, services: dict[str, int], tasks: dict[str, list[tuple[str, str]]],
                 new_instance: str = "new"):
        """``services``: name -> desiredCount; ``tasks``: name -> [(task id, instance ref)]."""
        self.desired = dict(services)
        self.tags: dict[str, dict[str, str]] = defaultdict(dict)
        self.live = {name: [(self.task_arn(t), inst) for t, inst in ts]
                     for name, ts in tasks.items()}
        self.protected: set[str] = set()
        self.stopped: list[str] = []
        self.calls: list[tuple[str, dict]] = []
        self.fail: dict[str, Callable[[dict], Any]] = {}
        self.new_instance = new_instance
        self.on_sleep: list[Callable[[], None]] = []
        self._seq = 0

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def task_arn(task_id: str) -> str:
        return f"{ACCOUNT}:task/{CLUSTER}/{task_id}"

    @staticmethod
    def service_arn(name: str) -> str:
        return f"{ACCOUNT}:service/{CLUSTER}/{name}"

    def _name(self, ref: str) -> str:
        return ref.rsplit("/", 1)[-1]

    def _record(self, op: str, params: dict) -> None:
        self.calls.append((op, params))
        hook = self.fail.get(op)
        if hook is not None:
            hook(params)

    def count(self, op: str) -> int:
        return sum(1 for name, _ in self.calls if name == op)

    def _reconcile(self, name: str) -> None:
        live = self.live[name]
        while len(live) < self.desired[name]:
            self._seq += 1
            live.append((self.task_arn(f"{name}-new-{self._seq}"), self.new_instance))
        while len(live) > self.desired[name]:
            victim = next((t for t in reversed(live) if t[0] not in self.protected), None)
            if victim is None:
                break
            live.remove(victim)
            self.stopped.append(victim[0])

    # --------------------------------------------------------------------- API
    def describe_services(self, cluster: str, services: list[str], **_: Any) -> dict:
        self._record("describe_services", {"services": services})
        out = []
        for ref in services:
            name = self._name(ref)
            n = len(self.live[name])
            out.append({"serviceName": name, "serviceArn": self.service_arn(name),
                        "desiredCount": self.desired[name], "runningCount": n,
                        "pendingCount": 0, "loadBalancers": [],
                        "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]})
        return {"services": out}

    def update_service(self, cluster: str, service: str, desiredCount: int | None = None,
                       forceNewDeployment: bool = False) -> dict:
        self._record("update_service", {"service": service, "desiredCount": desiredCount,
                                        "forceNewDeployment": forceNewDeployment})
        if desiredCount is not None:
            self.desired[service] = desiredCount
            self._reconcile(service)
        return {"service": {}}

    def tag_resource(self, resourceArn: str, tags: list[dict]) -> dict:
        self._record("tag_resource", {"resourceArn": resourceArn, "tags": tags})
        self.tags[resourceArn].update({t["key"]: t["value"] for t in tags})
        return {}

    def untag_resource(self, resourceArn: str, tagKeys: list[str]) -> dict:
        self._record("untag_resource", {"resourceArn": resourceArn, "tagKeys": tagKeys})
        for key in tagKeys:
            self.tags[resourceArn].pop(key, None)
        return {}

    def list_tags_for_resource(self, resourceArn: str) -> dict:
        self._record("list_tags_for_resource", {"resourceArn": resourceArn})
        return {"tags": [{"key": k, "value": v} for k, v in self.tags[resourceArn].items()]}

    def get_task_protection(self, cluster: str, tasks: list[str]) -> dict:
        self._record("get_task_protection", {"tasks": tasks})
        assert len(tasks) <= 100, "GetTaskProtection takes at most 100 tasks"
        return {"protectedTasks": [{"taskArn": t, "protectionEnabled": t in self.protected}
                                   for t in tasks], "failures": []}

    def update_task_protection(self, cluster: str, tasks: list[str], protectionEnabled: bool,
                               expiresInMinutes: int | None = None) -> dict:
        self._record("update_task_protection", {"tasks": tasks, "enabled": protectionEnabled,
                                                "minutes": expiresInMinutes})
        assert len(tasks) <= 10, "UpdateTaskProtection takes at most 10 tasks"
        (self.protected.update if protectionEnabled else self.protected.difference_update)(tasks)
        return {"protectedTasks": [{"taskArn": t, "protectionEnabled": protectionEnabled}
                                   for t in tasks], "failures": []}

    def stop_task(self, cluster: str, task: str, reason: str = "") -> dict:
        self._record("stop_task", {"task": task, "reason": reason})
        for name, live in self.live.items():
            for entry in list(live):
                if entry[0] == task:
                    live.remove(entry)
                    self.stopped.append(task)
                    return {"task": {"taskArn": task, "lastStatus": "RUNNING",
                                     "desiredStatus": "STOPPED", "stoppedReason": reason}}
        # ECS answers for a task that stopped already with the task as it is
        return {"task": {"taskArn": task, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                         "stoppedReason": "Essential container in task exited"}}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict:
        self._record("describe_tasks", {"tasks": tasks})
        where = {t: inst for ts in self.live.values() for t, inst in ts}
        service_of = {t: name for name, ts in self.live.items() for t, _ in ts}
        return {"tasks": [{"taskArn": t, "lastStatus": "RUNNING" if t in where else "STOPPED",
                           "desiredStatus": "RUNNING" if t in where else "STOPPED",
                           "group": f"service:{service_of.get(t, '')}",
                           "containerInstanceArn": arn(where[t]) if t in where else "",
                           "availabilityZone": self.zone_of(where.get(t, ""))}
                          for t in tasks]}

    @staticmethod
    def zone_of(instance_ref: str) -> str:
        """Instance refs of the factories start with their AZ letter (a1, b1...)."""
        return f"us-east-1{instance_ref[0]}" if instance_ref[:1] in "abc" and instance_ref \
            else ""

    def get_paginator(self, operation: str):
        assert operation == "list_tasks"
        fake = self

        class Pages:
            def paginate(self, cluster: str, serviceName: str, desiredStatus: str):
                fake._record("list_tasks", {"serviceName": serviceName})
                return [{"taskArns": [t for t, _ in fake.live[serviceName]]}]

        return Pages()
