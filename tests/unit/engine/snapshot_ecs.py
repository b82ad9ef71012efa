"""A ClusterSnapshot served through the ECS API shapes the engine reads, in memory, with AWS's
page and batch sizes: ListContainerInstances and ListTasks 100 per page, ListServices 10 per
page unless the caller asks for up to 100 (``PaginationConfig.PageSize``),
DescribeContainerInstances and DescribeTasks up to 100, DescribeServices up to 10. Every request
counts one call in ``calls`` (by operation). The benchmarks' fake ECS and the scoped-read tests'.
Writes are counted and otherwise ignored.
"""

from __future__ import annotations

from collections import Counter

PAGE = {"list_container_instances": ("containerInstanceArns", 100),
        "list_tasks": ("taskArns", 100), "list_services": ("serviceArns", 10)}
MAX_PAGE = {"list_container_instances": 100, "list_tasks": 100, "list_services": 100}
BATCH = {"describe_container_instances": 100, "describe_tasks": 100, "describe_services": 10,
         "get_task_protection": 100}


class FakeEcs:
    """Serves one ClusterSnapshot through the ECS API shapes the engine reads; counts calls."""

    def __init__(self, snap):
        self.snap, self.calls = snap, Counter()
        self.by_arn = {i.arn: i for i in snap.instances}
        self.tasks = {t.arn: t for ts in snap.tasks.values() for t in ts}
        self.svc_by_key = {**{s.arn: s for s in snap.services.values()}, **snap.services}
        # Each task's DescribeTasks document, built once: the benchmarks time the engine's
        # read, not this fake's dict building.
        self.task_docs = {t.arn: {
            "taskArn": t.arn, "group": f"service:{t.service}", "desiredStatus": "RUNNING",
            "lastStatus": t.last_status, "containerInstanceArn": t.instance_arn,
            "availabilityZone": t.az, "startedBy": t.started_by, "healthStatus": t.health,
            "startedAt": t.started_at, "createdAt": t.created_at,
            "taskDefinitionArn": t.task_definition} for t in self.tasks.values()}

    def _count(self, op: str) -> None:
        self.calls[op] += 1

    # ---------------------------------------------------------------- pagination
    def get_paginator(self, op: str):
        fake = self

        class Paginator:
            def paginate(self, PaginationConfig=None, **params):
                key, size = PAGE[op]
                asked = (PaginationConfig or {}).get("PageSize")
                if asked:
                    assert asked <= MAX_PAGE[op], f"{op} PageSize {asked}"
                    size = asked
                items = fake._list(op, params)
                for start in range(0, max(len(items), 1), size):
                    fake._count(op)
                    yield {key: items[start:start + size]}
        return Paginator()

    def _list(self, op: str, params: dict) -> list[str]:
        if op == "list_container_instances":
            return [i.arn for i in self.snap.instances]
        if op == "list_services":
            return [s.arn for s in self.snap.services.values()]
        name = params.get("serviceName")
        return sorted(t.arn for n, ts in self.snap.tasks.items() if name in (None, n)
                      for t in ts)

    def _batch(self, op: str, items: list) -> None:
        assert len(items) <= BATCH[op], f"{op} with {len(items)} items"
        self._count(op)

    # ------------------------------------------------------------------- reads
    def describe_clusters(self, clusters):
        self._count("describe_clusters")
        return {"clusters": [{"clusterName": self.snap.cluster_name,
                              "clusterArn": self.snap.cluster_arn, "status": "ACTIVE",
                              "runningTasksCount": len(self.tasks), "pendingTasksCount": 0}]}

    def describe_container_instances(self, cluster, containerInstances):
        self._batch("describe_container_instances", containerInstances)
        out = []
        for arn in containerInstances:
            i = self.by_arn[arn]
            out.append({
                "containerInstanceArn": i.arn, "ec2InstanceId": i.ec2_instance_id,
                "status": i.status, "agentConnected": i.agent_connected,
                "attributes": [{"name": k, "value": v} for k, v in i.attributes.items()],
                "registeredResources": [{"name": "CPU", "integerValue": i.registered_cpu},
                                        {"name": "MEMORY", "integerValue": i.registered_memory}],
                "remainingResources": [
                    {"name": "CPU", "integerValue": i.remaining_cpu},
                    {"name": "MEMORY", "integerValue": i.remaining_memory},
                    {"name": "PORTS", "stringSetValue": [str(p) for p in i.reserved_tcp_ports]}]})
        return {"containerInstances": out}

    def describe_services(self, cluster, services, include=()):
        self._batch("describe_services", services)
        out = []
        for key in services:
            s = self.svc_by_key[key]
            out.append({
                "serviceName": s.name, "serviceArn": s.arn, "status": "ACTIVE",
                "desiredCount": s.desired, "runningCount": s.running, "pendingCount": 0,
                "schedulingStrategy": "REPLICA", "launchType": "EC2",
                "taskDefinition": s.task_definition,
                "deploymentConfiguration": {"minimumHealthyPercent": s.min_healthy_percent,
                                            "maximumPercent": s.max_percent},
                "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}],
                "placementStrategy": [], "placementConstraints": [], "tags": []})
        return {"services": out}

    def describe_task_definition(self, taskDefinition):
        self._count("describe_task_definition")
        s = next(s for s in self.snap.services.values() if s.task_definition == taskDefinition)
        return {"taskDefinition": {
            "taskDefinitionArn": taskDefinition, "family": s.name, "networkMode": "bridge",
            "cpu": str(s.resources.cpu), "memory": str(s.resources.memory),
            "containerDefinitions": [{"name": "app", "image": "httpd", "portMappings": []}]}}

    def describe_tasks(self, cluster, tasks, include=()):
        self._batch("describe_tasks", tasks)
        return {"tasks": [self.task_docs[arn] for arn in tasks]}

    # ------------------------------------------------------------------ writes
    def stop_task(self, **_):
        self._count("stop_task")
        return {}

    def update_service(self, **_):
        self._count("update_service")
        return {}

    def register_task_definition(self, **_):
        self._count("register_task_definition")
        return {"taskDefinition": {"taskDefinitionArn": "new"}}

    def get_task_protection(self, cluster, tasks):
        self._batch("get_task_protection", tasks)
        return {"protectedTasks": [{"taskArn": t, "protectionEnabled": False} for t in tasks],
                "failures": []}

    def tag_resource(self, **_):
        self._count("tag_resource")
        return {}
