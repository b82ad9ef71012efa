"""Read one ECS cluster into a ``ClusterSnapshot``: the engine's only read path.

Every list is paginated with botocore paginators, every describe batched to its API maximum
(100 container instances or tasks, 10 services), each task definition described once. Retries
are the client's business: build it with ``aws_client.client_config()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .aws_client import CountingClient, ReadPacer, chunks
from .deadline import Deadline
from .eni_limits import TRUNK_ATTRIBUTE, task_limit
from .gc_pause import without_gc
from .errors import ClusterNotFound, ReadTooSlow, UnknownServices
from .model import (
    ACTIVE_DEPLOYMENT_STATUSES, AZ_ATTRIBUTE, MANAGED_INSTANCES, NATIVE_STRATEGIES,
    CapacityProviderItem, ClusterSnapshot, Instance, PlacementConstraint, PlacementStrategy,
    Service, Task, TaskResources,
)

AZ_REBALANCING_STARTED = "AZ Rebalancing in progress."
AZ_REBALANCING_ENDED = ("is AZ balanced", "AZ Rebalancing stopped", "AZ rebalancing stopped",
                        "AZ Rebalancing has stopped", "AZ rebalancing has stopped")

MAX_INSTANCES_PER_DESCRIBE = 100
MAX_TASKS_PER_DESCRIBE = 100
MAX_SERVICES_PER_DESCRIBE = 10
MAX_SERVICE_DEPLOYMENTS_PER_DESCRIBE = 20
LIST_SERVICES_PAGE = 100           # ListServices maxResults maximum (its default is 10)
LIST_TASKS_PAGE = 100              # ListTasks' default (and maximum) page
LIVE_STATUSES = ("ACTIVE", "DRAINING")
# DescribeCapacityProviders takes up to 100 names but answers at most 10 a page (maxResults
# 1-10, default 10) with a nextToken for the rest: ask for 10 names a call.
MAX_PROVIDERS_PER_DESCRIBE = 10
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")    # no DescribeCapacityProviders needed
ENI_ATTACHMENT = "ElasticNetworkInterface"


def check_services(services: Iterable[str] | None) -> tuple[str, ...] | None:
    """The one meaning of the ``services`` filter: None is every service of the cluster, a
    list names services, and an empty list is an error. (It once meant every service to the
    rebalance module and none to task_distribution_info; a template that renders an empty
    list by mistake must not rebalance a whole cluster.)"""
    if services is None:
        return None
    names = tuple(services)
    if not names:
        raise ValueError("services must name at least one service; omit it to mean every "
                         "service of the cluster")
    return names


@without_gc
def take_snapshot(ecs_client: Any, cluster: str,
                  services: Iterable[str] | None = None,
                  pacer: ReadPacer | None = None,
                  deadline: Deadline | None = None) -> ClusterSnapshot:
    """Read ``cluster``: instances, services (all, or the named ones), their live tasks.

    ``services`` may name services by name or by ARN (ECS accepts both); the snapshot keys
    them by name either way. Naming services makes it a *scoped* read: only those services'
    tasks are listed and described (ListTasks by ``serviceName``); every other service's tasks
    are seen only as the capacity they use, in each instance's ``remainingResources``, which
    is what the planner and the surge prediction take capacity from in either read. The
    scoped snapshot keeps the cluster's task count from DescribeClusters
    (``cluster_task_count``) for the default disruption budget.

    ``pacer`` paces every read (``aws_client.ReadPacer``). With a ``deadline`` too, the reads
    still to come once the services are known (their task definitions, ListTasks and
    DescribeTasks pages, from the services' running and pending counts) are priced at the
    pacing first: ``ReadTooSlow`` if they would outlast it. Raises ``ClusterNotFound`` and
    ``UnknownServices`` (the caller's spellings that do not exist or are INACTIVE), and
    ``ValueError`` for an empty list (see ``check_services``); botocore errors propagate
    unchanged.
    """
    services = check_services(services)
    api = CountingClient(ecs_client, pacer)
    cluster_name, cluster_arn, default_strategy, cluster_tasks = _describe_cluster(api, cluster)
    instances = _read_instances(api, cluster_arn)
    wanted = None if services is None else sorted(set(services))
    service_docs = _read_services(api, cluster_arn, cluster_name, wanted)
    if pacer is not None and deadline is not None:
        named = _provider_names(instances, [item.get("capacityProvider", "")
                                            for d in service_docs
                                            for item in d.get("capacityProviderStrategy") or []]
                                + [item.provider for item in default_strategy])
        _check_read_time(service_docs, wanted is not None, pacer, deadline,
                         providers=len(named))
    task_defs = _read_task_definitions(api, service_docs)
    no_td = (TaskResources(), (), False)
    svc_map = {doc["serviceName"]: _service(doc, *task_defs.get(doc.get("taskDefinition", ""), no_td),
                                            default_strategy=default_strategy)
               for doc in service_docs}
    svc_map = read_service_deployments(api, cluster_arn, svc_map)
    az_of = {inst.arn: inst.az for inst in instances}
    tasks, enis = _read_tasks(api, cluster_arn, sorted(svc_map), az_of,
                              per_service=wanted is not None)
    instances = [_with_eni_slots(inst, enis) for inst in instances]
    managed = _managed_instance_providers(api, instances, svc_map.values())
    if managed:
        instances = [replace(i, managed_instances=True) if i.capacity_provider in managed
                     else i for i in instances]
        svc_map = {n: replace(s, managed_instances=True)
                   if any(p in managed for p in s.providers) else s
                   for n, s in svc_map.items()}
    return ClusterSnapshot(cluster_name=cluster_name, cluster_arn=cluster_arn,
                           instances=tuple(sorted(instances, key=lambda i: i.arn)),
                           services=dict(sorted(svc_map.items())), tasks=tasks,
                           api_calls=api.calls, api_retries=api.retries,
                           scoped=wanted is not None,
                           cluster_task_count=cluster_tasks if wanted is not None else None)


def _check_read_time(docs: list[dict], per_service: bool, pacer: ReadPacer,
                     deadline: Deadline, providers: int = 0) -> None:
    """``ReadTooSlow`` unless the reads still to come fit in the deadline at the pacing: task
    definitions, ListTasks and DescribeTasks pages, service deployments, and the
    DescribeCapacityProviders calls for ``providers`` names (``_managed_instance_providers``)."""
    counts = [int(d.get("runningCount") or 0) + int(d.get("pendingCount") or 0) for d in docs]
    tasks = sum(counts)
    listing = (sum(max(1, math.ceil(n / LIST_TASKS_PAGE)) for n in counts) if per_service
               else max(1, math.ceil(tasks / LIST_TASKS_PAGE))) if docs else 0
    deployments = [d for d in docs if _needs_deployment_read(
        d.get("schedulingStrategy", "REPLICA"), d.get("deploymentConfiguration") or {})]
    calls = (len({d.get("taskDefinition") for d in docs}) + listing
             + math.ceil(tasks / MAX_TASKS_PER_DESCRIBE)
             + math.ceil(len(deployments) / MAX_SERVICE_DEPLOYMENTS_PER_DESCRIBE)
             + sum(1 for d in deployments if not d.get("currentServiceDeployment"))
             + math.ceil(providers / MAX_PROVIDERS_PER_DESCRIBE))
    seconds, left = pacer.seconds_for(calls), deadline.remaining()
    if seconds > left:
        raise ReadTooSlow(tasks, calls, seconds, left, pacer.rate)


def _describe_cluster(api: CountingClient, cluster: str
                      ) -> tuple[str, str, tuple[CapacityProviderItem, ...], int]:
    """Name, ARN, defaultCapacityProviderStrategy and running + pending task count of the
    (not INACTIVE) cluster."""
    resp = api.call("describe_clusters", clusters=[cluster])
    found = [c for c in resp.get("clusters", []) if c.get("status") != "INACTIVE"]
    if not found:
        raise ClusterNotFound(cluster)
    doc = found[0]
    return (doc["clusterName"], doc["clusterArn"],
            _strategy(doc.get("defaultCapacityProviderStrategy")),
            int(doc.get("runningTasksCount") or 0) + int(doc.get("pendingTasksCount") or 0))


def _strategy(items: list[dict] | None) -> tuple[CapacityProviderItem, ...]:
    return tuple(CapacityProviderItem(i.get("capacityProvider", ""), int(i.get("base") or 0),
                                      int(i.get("weight") or 0)) for i in items or [])


def _provider_names(instances: Iterable[Instance], strategies: Iterable[str]) -> set[str]:
    """The capacity providers the instances run on and the strategies name, FARGATE and
    FARGATE_SPOT left out (no instances of ours): the ones whose type may be asked."""
    names = {i.capacity_provider for i in instances} | set(strategies)
    return names - {""} - set(FARGATE_PROVIDERS)


def _managed_instance_providers(api: CountingClient, instances: list[Instance],
                                services: Iterable[Service]) -> frozenset[str]:
    """The capacity providers of type MANAGED_INSTANCES among those the instances and the
    services' strategies name. DescribeContainerInstances gives a provider's name only, so
    its type costs one DescribeCapacityProviders call per 10 names (a page's most; a
    nextToken is followed all the same), and none when no provider other than
    FARGATE/FARGATE_SPOT is named (a cluster without providers)."""
    names = _provider_names(instances, [p for service in services for p in service.providers])
    managed = set()
    for batch in chunks(sorted(names), MAX_PROVIDERS_PER_DESCRIBE):
        token = None
        while True:
            resp = api.call("describe_capacity_providers", capacityProviders=list(batch),
                            **({"nextToken": token} if token else {}))
            managed.update(cp.get("name", "") for cp in resp.get("capacityProviders", [])
                           if cp.get("type") == MANAGED_INSTANCES)
            token = resp.get("nextToken")
            if not token:
                break
    return frozenset(managed)


def _eni_limit(attrs: Mapping[str, str]) -> int | None:
    """awsvpc tasks the instance holds in all (``eni_limits``): with a trunk ENI (attribute
    ``ecs.awsvpc-trunk-id``) the trunking table's limit, else max ENIs - 1."""
    return task_limit(attrs.get("ecs.instance-type", ""), bool(attrs.get(TRUNK_ATTRIBUTE)))


def _with_eni_slots(inst: Instance, enis: dict[str, tuple[int, int]]) -> Instance:
    """The instance with its free awsvpc slots. ``awsvpc_slots`` was read as limit -
    (runningTasksCount + pendingTasksCount): every task on it counted as if it held an ENI.
    The tasks read on it that hold none give their slot back, and the ENIs counted on the
    tasks read bound it too (a task that started between the two reads): exact for a whole
    read whose instance runs no task being stopped, never more than the truth otherwise
    (a scoped read sees only its services' tasks, so other services' tasks count as ENIs)."""
    if inst.awsvpc_slots is None:
        return inst
    with_eni, without = enis.get(inst.arn, (0, 0))
    limit = _eni_limit(inst.attributes) or 0
    free = min(inst.awsvpc_slots + without, limit - with_eni)
    return replace(inst, awsvpc_slots=max(0, free))


def _read_instances(api: CountingClient, cluster_arn: str) -> list[Instance]:
    arns: list[str] = []
    for page in api.pages("list_container_instances", cluster=cluster_arn):
        arns.extend(page.get("containerInstanceArns", []))
    out = []
    for batch in chunks(arns, MAX_INSTANCES_PER_DESCRIBE):
        resp = api.call("describe_container_instances", cluster=cluster_arn,
                        containerInstances=list(batch))
        out.extend(_instance(doc) for doc in resp.get("containerInstances", [])
                   if doc.get("status") in LIVE_STATUSES)
    return out


def _resource_map(resources: list[dict]) -> dict[str, dict]:
    return {r.get("name"): r for r in resources or []}


def _ports(entry: dict | None) -> frozenset[int]:
    return frozenset(int(p) for p in (entry or {}).get("stringSetValue", []) if str(p).isdigit())


def _instance(doc: dict) -> Instance:
    attrs = {a["name"]: a.get("value", "") for a in doc.get("attributes", [])
             if a.get("targetType", "container-instance") == "container-instance"}
    registered = _resource_map(doc.get("registeredResources", []))
    remaining = _resource_map(doc.get("remainingResources", []))
    limit = _eni_limit(attrs)
    tasks_on = int(doc.get("runningTasksCount") or 0) + int(doc.get("pendingTasksCount") or 0)
    return Instance(
        arn=doc["containerInstanceArn"], ec2_instance_id=doc.get("ec2InstanceId", ""),
        az=attrs.get(AZ_ATTRIBUTE, ""), status=doc.get("status", ""),
        agent_connected=bool(doc.get("agentConnected", False)), attributes=attrs,
        registered_cpu=int(registered.get("CPU", {}).get("integerValue", 0)),
        registered_memory=int(registered.get("MEMORY", {}).get("integerValue", 0)),
        remaining_cpu=int(remaining.get("CPU", {}).get("integerValue", 0)),
        remaining_memory=int(remaining.get("MEMORY", {}).get("integerValue", 0)),
        reserved_tcp_ports=_ports(remaining.get("PORTS")),
        reserved_udp_ports=_ports(remaining.get("PORTS_UDP")),
        capacity_provider=doc.get("capacityProviderName", ""),
        awsvpc_slots=None if limit is None else limit - tasks_on)


def _read_services(api: CountingClient, cluster_arn: str, cluster_name: str,
                   wanted: list[str] | None) -> list[dict]:
    names = wanted
    if names is None:
        names = []
        for page in api.pages("list_services", cluster=cluster_arn,
                              PaginationConfig={"PageSize": LIST_SERVICES_PAGE}):
            names.extend(page.get("serviceArns", []))
    docs: list[dict] = []
    seen: set[str] = set()          # a name and its ARN both given: describe returns it twice
    for batch in chunks(names, MAX_SERVICES_PER_DESCRIBE):
        resp = api.call("describe_services", cluster=cluster_arn, services=list(batch),
                        include=["TAGS"])
        for doc in resp.get("services", []):
            if doc.get("status") != "INACTIVE" and doc["serviceArn"] not in seen:
                seen.add(doc["serviceArn"])
                docs.append(doc)
    if wanted is not None:
        found = {d["serviceName"] for d in docs} | {d["serviceArn"] for d in docs}
        missing = tuple(n for n in wanted if n not in found)
        if missing:
            raise UnknownServices(cluster_name, missing)
    return docs


TaskDefInfo = tuple[TaskResources, tuple[PlacementConstraint, ...], bool]


def _read_task_definitions(api: CountingClient, docs: list[dict]) -> dict[str, TaskDefInfo]:
    """Describe each distinct task definition once: resources, constraints, health check."""
    out: dict[str, TaskDefInfo] = {}
    for arn in sorted({d["taskDefinition"] for d in docs if d.get("taskDefinition")}):
        td = api.call("describe_task_definition", taskDefinition=arn)["taskDefinition"]
        out[arn] = (task_resources(td), _constraints(td), has_container_health_check(td))
    return out


def has_container_health_check(task_definition: dict) -> bool:
    """Whether an essential container (``essential`` defaults to true) defines a healthCheck:
    then ECS counts only HEALTHY tasks toward minimumHealthyPercent (DeploymentConfiguration)."""
    return any(c.get("healthCheck") and c.get("essential", True) is not False
               for c in task_definition.get("containerDefinitions", []))


def az_rebalancing_in_progress(events: list[dict]) -> bool:
    """Whether ECS's own AZ rebalancing runs now, from a service's DescribeServices events.

    ECS reports the start as "service (X) is not AZ balanced with ... AZ Rebalancing in
    progress." and the end as "service (X) is AZ balanced with ..." (track-service-
    rebalancing.html); a stop is matched by ``AZ_REBALANCING_ENDED`` too. In progress when the
    newest start message is newer than the newest end message. Events are compared by
    ``createdAt`` when present, else by list position (ECS lists newest first).
    """
    started = ended = None
    for pos, event in enumerate(events or []):
        message = event.get("message", "")
        when = (epoch_seconds(event["createdAt"]) if event.get("createdAt") else 0.0, -pos)
        if AZ_REBALANCING_STARTED in message:
            started = when if started is None else max(started, when)
        elif any(marker in message for marker in AZ_REBALANCING_ENDED):
            ended = when if ended is None else max(ended, when)
    return started is not None and (ended is None or started > ended)


def _constraints(doc: dict) -> tuple[PlacementConstraint, ...]:
    return tuple(PlacementConstraint(c.get("type", ""), c.get("expression", ""))
                 for c in doc.get("placementConstraints", []))


_UNITS = {"vcpu": 1024, "gb": 1024}


def parse_size(value: Any) -> int:
    """"256" -> 256, "1 vCPU" -> 1024, "2 GB" -> 2048, None -> 0."""
    if value is None or value == "":
        return 0
    text = str(value).strip().lower()
    for unit, factor in _UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)].strip()) * factor)
    return int(float(text))


def task_resources(task_definition: dict) -> TaskResources:
    """Resources one task of ``task_definition`` (a describe_task_definition doc) takes."""
    containers = task_definition.get("containerDefinitions", [])
    cpu = parse_size(task_definition.get("cpu")) or sum(int(c.get("cpu") or 0) for c in containers)
    memory = parse_size(task_definition.get("memory")) or sum(
        int(c.get("memoryReservation") or c.get("memory") or 0) for c in containers)
    mode = task_definition.get("networkMode") or "bridge"
    tcp, udp = _static_ports(mode, containers)
    return TaskResources(cpu=cpu, memory=memory, tcp_ports=tcp, udp_ports=udp,
                         enis=1 if mode == "awsvpc" else 0)


def _static_ports(mode: str, containers: list[dict]) -> tuple[frozenset[int], frozenset[int]]:
    if mode not in ("bridge", "host"):
        return frozenset(), frozenset()
    tcp: set[int] = set()
    udp: set[int] = set()
    for container in containers:
        for mapping in container.get("portMappings", []):
            port = mapping.get("hostPort")
            if mode == "host" and not port:
                port = mapping.get("containerPort")
            if port and int(port) > 0:
                (udp if mapping.get("protocol") == "udp" else tcp).add(int(port))
    return frozenset(tcp), frozenset(udp)


def effective_strategy(doc: dict, default: tuple[CapacityProviderItem, ...]
                       ) -> tuple[CapacityProviderItem, ...]:
    """The service's own capacity provider strategy, else (no strategy and no launch type)
    the cluster's defaultCapacityProviderStrategy (CreateService: "If no
    capacityProviderStrategy or launchType is specified, the defaultCapacityProviderStrategy
    for the cluster is used")."""
    own = _strategy(doc.get("capacityProviderStrategy"))
    if own or doc.get("launchType"):
        return own
    return default


def _service(doc: dict, resources: TaskResources,
             td_constraints: tuple[PlacementConstraint, ...], health_check: bool = False,
             default_strategy: tuple[CapacityProviderItem, ...] = ()) -> Service:
    """The service, with the task definition's constraints appended to its own."""
    deployments = doc.get("deployments", [])
    strategy = effective_strategy(doc, default_strategy)
    launch_type = doc.get("launchType") or ("" if strategy else "EC2")
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    config = doc.get("deploymentConfiguration", {})
    vpc = (doc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return Service(
        name=doc["serviceName"], arn=doc["serviceArn"], desired=doc.get("desiredCount", 0),
        subnets=tuple(vpc.get("subnets") or ()) if resources.enis else (),
        managed_instances=launch_type == MANAGED_INSTANCES,
        running=doc.get("runningCount", 0), pending=doc.get("pendingCount", 0),
        scheduling_strategy=doc.get("schedulingStrategy", "REPLICA"),
        launch_type=launch_type, capacity_provider_strategy=strategy,
        az_rebalancing=doc.get("availabilityZoneRebalancing") or "DISABLED",
        az_rebalancing_in_progress=az_rebalancing_in_progress(doc.get("events", [])),
        container_health_check=health_check,
        deployment_strategy=config.get("strategy") or "ROLLING",
        lifecycle_hooks=len(config.get("lifecycleHooks") or []),
        current_revisions=(None if "currentServiceRevisions" not in doc
                           else len(doc["currentServiceRevisions"] or [])),
        service_deployment=doc.get("currentServiceDeployment") or "",
        deployment_controller=doc.get("deploymentController", {}).get("type", "ECS"),
        deployments=len(deployments), rollout_state=primary.get("rolloutState", ""),
        min_healthy_percent=config.get("minimumHealthyPercent", 100),
        max_percent=config.get("maximumPercent", 200),
        placement_strategy=tuple(PlacementStrategy(s.get("type", ""), s.get("field", ""))
                                 for s in doc.get("placementStrategy", [])),
        placement_constraints=_constraints(doc) + td_constraints,
        tags={t["key"]: t.get("value", "") for t in doc.get("tags", [])},
        task_definition=doc.get("taskDefinition", ""), resources=resources,
        target_groups=tuple(lb["targetGroupArn"] for lb in doc.get("loadBalancers", [])
                            if lb.get("targetGroupArn")))


def needs_service_deployment(service: Service) -> bool:
    """Whether DescribeServices cannot tell the service's deployment state by itself: a
    BLUE_GREEN, LINEAR or CANARY service (its bake and its PAUSE hooks are not in the
    ``deployments`` array) or any service with lifecycle hooks. DAEMON services are skipped
    anyway and cost nothing."""
    return _needs_deployment_read(service.scheduling_strategy, {
        "strategy": service.deployment_strategy, "lifecycleHooks": service.lifecycle_hooks})


def _needs_deployment_read(scheduling_strategy: str, config: dict) -> bool:
    """``needs_service_deployment`` from a DescribeServices document (the read's price)."""
    return scheduling_strategy == "REPLICA" and (
        (config.get("strategy") or "ROLLING") in NATIVE_STRATEGIES
        or bool(config.get("lifecycleHooks")))


def read_service_deployments(api: CountingClient, cluster_arn: str,
                             services: dict[str, Service]) -> dict[str, Service]:
    """The current service deployment of each service that needs it
    (``needs_service_deployment``): status, lifecycle stage and the PAUSE hooks awaiting
    action. DescribeServices names the deployment (``currentServiceDeployment``), so one
    DescribeServiceDeployments call covers 20 services; only a service whose DescribeServices
    has no such ARN costs a ListServiceDeployments call of its own. Each call counts in the
    run's reads."""
    wanted = {name: svc for name, svc in services.items() if needs_service_deployment(svc)}
    if not wanted:
        return services
    arn_of: dict[str, str] = {}
    for name, svc in sorted(wanted.items()):
        arn = svc.service_deployment
        if not arn:
            resp = api.call("list_service_deployments", cluster=cluster_arn, service=svc.arn,
                            status=list(ACTIVE_DEPLOYMENT_STATUSES), maxResults=1)
            briefs = resp.get("serviceDeployments", [])
            arn = briefs[0]["serviceDeploymentArn"] if briefs else ""
        if arn:
            arn_of[name] = arn
    docs: dict[str, dict] = {}
    for batch in chunks(sorted(set(arn_of.values())), MAX_SERVICE_DEPLOYMENTS_PER_DESCRIBE):
        resp = api.call("describe_service_deployments", serviceDeploymentArns=list(batch))
        docs.update({d["serviceDeploymentArn"]: d for d in resp.get("serviceDeployments", [])})
    out = dict(services)
    for name, arn in arn_of.items():
        doc = docs.get(arn)
        if doc is None:
            continue
        out[name] = replace(
            services[name], service_deployment=arn,
            service_deployment_status=doc.get("status") or "",
            lifecycle_stage=doc.get("lifecycleStage") or "",
            hooks_awaiting=tuple(h.get("hookId", "") for h in doc.get("lifecycleHookDetails", [])
                                 if h.get("status") == "AWAITING_ACTION"))
    return out


def _read_tasks(api: CountingClient, cluster_arn: str, names: list[str],
                az_of: dict[str, str], per_service: bool
                ) -> tuple[dict[str, tuple[Task, ...]], dict[str, tuple[int, int]]]:
    """The services' live tasks, and per container instance the tasks read on it (every
    task described, standalone ones too) with and without a task ENI attachment."""
    arns: list[str] = []
    listings = ([{"serviceName": n} for n in names] if per_service else [{}]) if names else []
    for extra in listings:
        for page in api.pages("list_tasks", cluster=cluster_arn, desiredStatus="RUNNING", **extra):
            arns.extend(page.get("taskArns", []))
    by_service: dict[str, list[Task]] = {n: [] for n in names}
    enis: dict[str, list[int]] = {}
    for batch in chunks(sorted(set(arns)), MAX_TASKS_PER_DESCRIBE):
        # No include=["TAGS"]: nothing reads a task's tags (the lease and the no-progress
        # record live in the lease table), and leaving them out keeps the answers small.
        resp = api.call("describe_tasks", cluster=cluster_arn, tasks=list(batch))
        for doc in resp.get("tasks", []):
            if doc.get("containerInstanceArn"):
                counts = enis.setdefault(doc["containerInstanceArn"], [0, 0])
                counts[0 if has_task_eni(doc) else 1] += 1
            task = task_from_doc(doc, az_of)
            if task is not None and task.service in by_service:
                by_service[task.service].append(task)
    return ({n: tuple(sorted(ts, key=_arn)) for n, ts in by_service.items()},
            {arn: (c[0], c[1]) for arn, c in enis.items()})


def _arn(task: Task) -> str:
    return task.arn


def has_task_eni(doc: dict) -> bool:
    """A DescribeTasks document holds an ENI: an ElasticNetworkInterface attachment not yet
    DELETED (task-networking-awsvpc.html: detached and deleted when the task stops)."""
    attachments = doc.get("attachments")
    return bool(attachments) and any(
        a.get("type") == ENI_ATTACHMENT and a.get("status") != "DELETED" for a in attachments)


def epoch_seconds(value: Any) -> float:
    """A timestamp botocore parsed (datetime) or a number, as epoch seconds (0 if none)."""
    return value.timestamp() if hasattr(value, "timestamp") else float(value or 0.0)


def task_from_doc(doc: dict, az_of: dict[str, str]) -> Task | None:
    """A DescribeTasks document as a ``Task``; None unless it is a live service task."""
    get = doc.get                   # read once per task at 100,000 tasks: kept lean
    group = get("group", "")
    if not group.startswith("service:") or get("desiredStatus") != "RUNNING":
        return None
    instance = get("containerInstanceArn", "")
    protection = get("protectionEnabled")   # not in DescribeTasks today; kept if present
    # Positional, in Task's field order (a keyword call costs more, 100,000 times).
    return Task(
        doc["taskArn"], group[8:], instance, get("availabilityZone") or az_of.get(instance, ""),
        get("lastStatus", ""), "RUNNING", get("startedBy", ""), get("healthStatus", "UNKNOWN"),
        None if protection is None else bool(protection),
        epoch_seconds(get("startedAt")), epoch_seconds(get("createdAt")),
        get("taskDefinitionArn", ""), get("capacityProviderName", ""))
