"""The ECS resources as plain dataclasses, each with ``to_api()`` in the AWS response shape.

Timestamps are epoch floats from ``sandbox.now()``. ``to_api(ts=...)`` takes the timestamp
formatter so the same code renders DescribeX output (epoch numbers) and EventBridge event
details (ISO strings).

Layer: data, the bottom of ``sandbox/ecs``; imports only the standard library.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

Ts = Callable[[float], Any]


def _epoch(t: float) -> float:
    return round(t, 3)


def _put_ts(out: dict, key: str, value: Optional[float], ts: Ts) -> None:
    if value is not None:
        out[key] = ts(value)


def resource_list(cpu: int, memory: int, tcp: list[str], udp: list[str]) -> list[dict]:
    def integer(name: str, value: int) -> dict:
        return {"name": name, "type": "INTEGER", "doubleValue": 0.0, "longValue": 0,
                "integerValue": int(value)}

    def strings(name: str, values: list[str]) -> dict:
        return {"name": name, "type": "STRINGSET", "doubleValue": 0.0, "longValue": 0,
                "integerValue": 0, "stringSetValue": list(values)}

    return [integer("CPU", cpu), integer("MEMORY", memory), strings("PORTS", tcp),
            strings("PORTS_UDP", udp)]


# --------------------------------------------------------------------------- cluster
@dataclass
class Cluster:
    name: str
    arn: str
    created_at: float
    status: str = "ACTIVE"
    tags: list[dict] = field(default_factory=list)
    settings: list[dict] = field(default_factory=lambda: [
        {"name": "containerInsights", "value": "disabled"}])
    configuration: Optional[dict] = None
    capacity_providers: list[str] = field(default_factory=list)
    default_capacity_provider_strategy: list[dict] = field(default_factory=list)
    service_connect_defaults: Optional[dict] = None

    def to_api(self, stats: dict, include: set[str] = frozenset()) -> dict:
        out = {
            "clusterArn": self.arn,
            "clusterName": self.name,
            "status": self.status,
            "registeredContainerInstancesCount": stats.get("instances", 0),
            "runningTasksCount": stats.get("running", 0),
            "pendingTasksCount": stats.get("pending", 0),
            "activeServicesCount": stats.get("services", 0),
            "statistics": [],
            "settings": copy.deepcopy(self.settings),
            "capacityProviders": list(self.capacity_providers),
            "defaultCapacityProviderStrategy": copy.deepcopy(
                self.default_capacity_provider_strategy),
        }
        if "TAGS" in include:
            out["tags"] = copy.deepcopy(self.tags)
        if "STATISTICS" in include:
            out["statistics"] = cluster_statistics(stats)
        if "ATTACHMENTS" in include:
            out["attachments"] = []
        if self.configuration is not None and "CONFIGURATIONS" in include:
            out["configuration"] = copy.deepcopy(self.configuration)
        if self.service_connect_defaults:
            out["serviceConnectDefaults"] = copy.deepcopy(self.service_connect_defaults)
        return out


# DescribeClusters include=STATISTICS: the keys and order of real responses (the API reference
# lists the EC2 and Fargate ones; responses add the EXTERNAL ones). Every sandbox task and
# service runs on EC2 (capacity providers here are Auto Scaling groups), so Fargate and
# EXTERNAL are always 0.
STATISTICS = (
    ("runningEC2TasksCount", "running"), ("runningFargateTasksCount", None),
    ("pendingEC2TasksCount", "pending"), ("pendingFargateTasksCount", None),
    ("runningExternalTasksCount", None), ("pendingExternalTasksCount", None),
    ("activeEC2ServiceCount", "services"), ("activeFargateServiceCount", None),
    ("drainingEC2ServiceCount", "draining_services"), ("drainingFargateServiceCount", None),
    ("activeExternalServiceCount", None), ("drainingExternalServiceCount", None),
)


def cluster_statistics(stats: dict) -> list[dict]:
    return [{"name": name, "value": str(stats.get(source, 0) if source else 0)}
            for name, source in STATISTICS]


# ------------------------------------------------------------------- task definition
def parse_cpu(value: Any) -> int:
    """Task-level cpu: "256", 256 or "0.25 vCPU" -> CPU units."""
    if value is None or value == "":
        return 0
    text = str(value).strip().lower()
    if text.endswith("vcpu"):
        return int(round(float(text[:-4].strip()) * 1024))
    return int(float(text))


def parse_memory(value: Any) -> int:
    """Task-level memory: "512", 512 or "1 GB" -> MiB."""
    if value is None or value == "":
        return 0
    text = str(value).strip().lower()
    if text.endswith("gb"):
        return int(round(float(text[:-2].strip()) * 1024))
    if text.endswith("mb"):
        return int(float(text[:-2].strip()))
    return int(float(text))


@dataclass
class TaskDefinition:
    family: str
    revision: int
    arn: str
    body: dict                  # the registration request, normalised (no family, no tags)
    registered_at: float
    registered_by: str
    status: str = "ACTIVE"
    tags: list[dict] = field(default_factory=list)
    deregistered_at: Optional[float] = None
    delete_requested_at: Optional[float] = None

    @property
    def network_mode(self) -> str:
        return self.body.get("networkMode") or "bridge"

    @property
    def containers(self) -> list[dict]:
        return self.body.get("containerDefinitions") or []

    def cpu_units(self) -> int:
        if self.body.get("cpu"):
            return parse_cpu(self.body["cpu"])
        return sum(int(c.get("cpu") or 0) for c in self.containers)

    def memory_mib(self) -> int:
        if self.body.get("memory"):
            return parse_memory(self.body["memory"])
        return sum(int(c.get("memoryReservation") or c.get("memory") or 0)
                   for c in self.containers)

    def port_mappings(self) -> list[tuple[dict, dict]]:
        """(container, mapping) for every port mapping, in definition order."""
        return [(c, m) for c in self.containers for m in (c.get("portMappings") or [])]

    def to_api(self, ts: Ts = _epoch) -> dict:
        out = {"taskDefinitionArn": self.arn}
        out.update(copy.deepcopy(self.body))
        out["family"] = self.family
        out["revision"] = self.revision
        out["status"] = self.status
        out.setdefault("volumes", [])
        out.setdefault("placementConstraints", [])
        out["requiresAttributes"] = copy.deepcopy(self.body.get("requiresAttributes") or [])
        compat = ["EC2"]
        if "FARGATE" in (self.body.get("requiresCompatibilities") or []) or (
                self.network_mode == "awsvpc" and self.body.get("cpu")
                and self.body.get("memory")):
            compat.append("FARGATE")
        out["compatibilities"] = compat
        out["registeredAt"] = ts(self.registered_at)
        out["registeredBy"] = self.registered_by
        _put_ts(out, "deregisteredAt", self.deregistered_at, ts)
        _put_ts(out, "deleteRequestedAt", self.delete_requested_at, ts)
        return out


# -------------------------------------------------------------------- container instance
@dataclass
class ContainerInstance:
    arn: str
    id: str
    cluster_name: str
    cluster_arn: str
    ec2_instance_id: str
    registered_at: float
    registered_cpu: int
    registered_memory: int
    reserved_tcp: list[str]
    reserved_udp: list[str]
    attributes: dict[str, Optional[str]]
    version_info: dict
    status: str = "ACTIVE"
    agent_connected: bool = True
    availability_zone: Optional[str] = None
    ec2_backed: bool = False   # the agent module watches its EC2 instance
    version: int = 1
    updated_at: float = 0.0
    status_reason: Optional[str] = None
    tags: list[dict] = field(default_factory=list)
    # accounting of the tasks placed here until they are STOPPED
    used_cpu: int = 0
    used_memory: int = 0
    static_tcp: Counter = field(default_factory=Counter)
    static_udp: Counter = field(default_factory=Counter)
    dynamic_ports: set[int] = field(default_factory=set)
    tasks: dict[str, "Task"] = field(default_factory=dict)  # not yet STOPPED
    deregistered_at: Optional[float] = None
    capacity_provider_name: Optional[str] = None  # its Auto Scaling group's provider

    @property
    def remaining_cpu(self) -> int:
        return self.registered_cpu - self.used_cpu

    @property
    def remaining_memory(self) -> int:
        return self.registered_memory - self.used_memory

    def remaining_tcp(self) -> list[str]:
        used = [p for p in self.static_tcp if self.static_tcp[p] > 0 and p not in
                self.reserved_tcp]
        return list(self.reserved_tcp) + sorted(used, key=lambda p: int(p))

    def remaining_udp(self) -> list[str]:
        used = [p for p in self.static_udp if self.static_udp[p] > 0 and p not in
                self.reserved_udp]
        return list(self.reserved_udp) + sorted(used, key=lambda p: int(p))

    def attribute_list(self) -> list[dict]:
        return [{"name": k} if v is None else {"name": k, "value": v}
                for k, v in self.attributes.items()]

    def to_api(self, ts: Ts = _epoch, include: set[str] = frozenset()) -> dict:
        running = sum(1 for t in self.tasks.values() if t.desired_status == "RUNNING")
        pending = sum(1 for t in self.tasks.values() if t.last_status == "PENDING")
        out = {
            "containerInstanceArn": self.arn,
            "ec2InstanceId": self.ec2_instance_id,
            "version": self.version,
            "versionInfo": dict(self.version_info),
            "remainingResources": resource_list(self.remaining_cpu, self.remaining_memory,
                                                self.remaining_tcp(), self.remaining_udp()),
            "registeredResources": resource_list(self.registered_cpu, self.registered_memory,
                                                 list(self.reserved_tcp),
                                                 list(self.reserved_udp)),
            "status": self.status,
            "agentConnected": self.agent_connected,
            "runningTasksCount": running,
            "pendingTasksCount": pending,
            "attributes": self.attribute_list(),
            "registeredAt": ts(self.registered_at),
            "attachments": [],
        }
        if self.status_reason:
            out["statusReason"] = self.status_reason
        if self.capacity_provider_name:
            out["capacityProviderName"] = self.capacity_provider_name
        if "TAGS" in include:
            out["tags"] = copy.deepcopy(self.tags)
        if "CONTAINER_INSTANCE_HEALTH" in include:
            out["healthStatus"] = {"overallStatus": "OK" if self.agent_connected else
                                   "IMPAIRED", "details": []}
        return out


# ----------------------------------------------------------------------------- task
@dataclass
class Container:
    name: str
    arn: str
    image: str
    cpu: int = 0
    memory: Optional[int] = None
    memory_reservation: Optional[int] = None
    last_status: str = "PENDING"
    exit_code: Optional[int] = None
    reason: Optional[str] = None
    network_bindings: list[dict] = field(default_factory=list)
    runtime_id: Optional[str] = None
    health_status: str = "UNKNOWN"

    def to_api(self, task_arn: str) -> dict:
        out = {"containerArn": self.arn, "taskArn": task_arn, "name": self.name,
               "image": self.image, "lastStatus": self.last_status,
               "networkBindings": copy.deepcopy(self.network_bindings),
               "networkInterfaces": [], "healthStatus": self.health_status,
               "cpu": str(self.cpu)}
        if self.runtime_id:
            out["runtimeId"] = self.runtime_id
        if self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.reason:
            out["reason"] = self.reason
        if self.memory is not None:
            out["memory"] = str(self.memory)
        if self.memory_reservation is not None:
            out["memoryReservation"] = str(self.memory_reservation)
        return out


@dataclass
class Task:
    arn: str
    id: str
    cluster_name: str
    cluster_arn: str
    task_definition: TaskDefinition
    container_instance_arn: str
    ec2_instance_id: str
    availability_zone: Optional[str]
    group: str
    started_by: Optional[str]
    created_at: float
    cpu: int
    memory: int
    shape: Any                                  # placement.TaskShape
    containers: list[Container]
    overrides: dict
    service_name: Optional[str] = None
    deployment_id: Optional[str] = None
    tags: list[dict] = field(default_factory=list)
    last_status: str = "PENDING"
    desired_status: str = "RUNNING"
    version: int = 1
    updated_at: float = 0.0
    pull_started_at: Optional[float] = None
    pull_stopped_at: Optional[float] = None
    started_at: Optional[float] = None
    connectivity_at: Optional[float] = None
    stopping_at: Optional[float] = None
    execution_stopped_at: Optional[float] = None
    stopped_at: Optional[float] = None
    stop_code: Optional[str] = None
    stopped_reason: Optional[str] = None
    health_status: str = "UNKNOWN"
    dynamic_ports: list[int] = field(default_factory=list)
    load_balancers: list[dict] = field(default_factory=list)   # the deployment's, at start
    targets: list[tuple[str, str, int]] = field(default_factory=list)  # registered
    targets_deregistered: bool = False
    protected_until: Optional[float] = None
    enable_execute_command: bool = False
    eni: Any = None                  # network.TaskEni of an awsvpc task
    # scheduler bookkeeping
    resources_released: bool = False
    scheduler_stop: bool = False     # stopped by the service scheduler (service events)
    unhealthy_reason: Optional[str] = None
    # test control: the container health checks fail until this emulated time (see
    # lifecycle.fail_container_health_checks)
    health_checks_fail_until: Optional[float] = None
    stop_epoch: int = 0              # guards stale lifecycle timers
    capacity_provider_name: Optional[str] = None  # from a capacity provider strategy

    @property
    def live(self) -> bool:
        return self.desired_status == "RUNNING"

    def protected(self, now: float) -> bool:
        return self.protected_until is not None and self.protected_until > now

    def to_api(self, ts: Ts = _epoch, include: set[str] = frozenset()) -> dict:
        out: dict = {
            "attachments": [],
            "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
            "availabilityZone": self.availability_zone,
            "clusterArn": self.cluster_arn,
            "containers": [c.to_api(self.arn) for c in self.containers],
            "cpu": str(self.cpu),
            "memory": str(self.memory),
            "desiredStatus": self.desired_status,
            "lastStatus": self.last_status,
            "enableExecuteCommand": self.enable_execute_command,
            "group": self.group,
            "healthStatus": self.health_status,
            "launchType": "EC2",
            "overrides": copy.deepcopy(self.overrides),
            "taskArn": self.arn,
            "taskDefinitionArn": self.task_definition.arn,
            "version": self.version,
        }
        if self.eni is not None:   # awsvpc (sandbox/ecs/network.py)
            out["attachments"] = [self.eni.attachment(self.last_status)]
            for container in out["containers"]:
                container["networkInterfaces"] = [self.eni.interface()]
        if self.started_by:
            out["startedBy"] = self.started_by
        if self.container_instance_arn:   # none while PROVISIONING
            out["containerInstanceArn"] = self.container_instance_arn
        if self.capacity_provider_name:
            out["capacityProviderName"] = self.capacity_provider_name
        _put_ts(out, "createdAt", self.created_at, ts)
        if self.connectivity_at is not None:
            out["connectivity"] = "CONNECTED"
            out["connectivityAt"] = ts(self.connectivity_at)
        _put_ts(out, "pullStartedAt", self.pull_started_at, ts)
        _put_ts(out, "pullStoppedAt", self.pull_stopped_at, ts)
        _put_ts(out, "startedAt", self.started_at, ts)
        _put_ts(out, "stoppingAt", self.stopping_at, ts)
        _put_ts(out, "executionStoppedAt", self.execution_stopped_at, ts)
        _put_ts(out, "stoppedAt", self.stopped_at, ts)
        if self.stop_code:
            out["stopCode"] = self.stop_code
        if self.stopped_reason:
            out["stoppedReason"] = self.stopped_reason
        if "TAGS" in include:
            out["tags"] = copy.deepcopy(self.tags)
        return out


# --------------------------------------------------------------------------- service
@dataclass
class Deployment:
    id: str
    task_definition: TaskDefinition
    created_at: float
    updated_at: float
    desired_count: int
    load_balancers: list[dict]
    network_configuration: Optional[dict] = None
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    launch_type: Optional[str] = "EC2"
    capacity_provider_strategy: Optional[list] = None
    # Native strategies (BLUE_GREEN, LINEAR, CANARY: docs/ecs-facts.md §1.11); "" and ROLLING
    # deploy rolling. The lifecycle is the scheduler's (controllers/scheduler.py).
    strategy: str = "ROLLING"
    config: dict = field(default_factory=dict)    # deploymentConfiguration at its start
    lifecycle_stage: str = ""                     # ServiceDeployment.lifecycleStage
    stage_until: Optional[float] = None           # end of a bake (traffic step or BAKE_TIME)
    step: int = 0                                 # production traffic steps taken
    production_weight: float = 0.0                # percent of production traffic it takes
    test_weight: float = 0.0
    hooks: list = field(default_factory=list)     # hook executions (lifecycleHookDetails)
    sd_status: str = ""       # ServiceDeployment status when set (ROLLBACK_*, STOPPED)
    sd_reason: str = ""
    finished_at: Optional[float] = None
    rollback: Optional[dict] = None               # {"reason", "startedAt", "to"}

    def to_api(self, counts: dict, ts: Ts = _epoch) -> dict:
        out = {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition.arn,
            "desiredCount": self.desired_count,
            "pendingCount": counts.get("pending", 0),
            "runningCount": counts.get("running", 0),
            "failedTasks": self.failed_tasks,
            "createdAt": ts(self.created_at),
            "updatedAt": ts(self.updated_at),
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
        }
        if self.launch_type:
            out["launchType"] = self.launch_type
        if self.capacity_provider_strategy:
            out["capacityProviderStrategy"] = copy.deepcopy(self.capacity_provider_strategy)
        if self.network_configuration:
            out["networkConfiguration"] = copy.deepcopy(self.network_configuration)
        return out


@dataclass
class Service:
    name: str
    arn: str
    cluster_name: str
    cluster_arn: str
    created_at: float
    created_by: str
    desired_count: int
    scheduling_strategy: str = "REPLICA"
    status: str = "ACTIVE"
    load_balancers: list[dict] = field(default_factory=list)
    service_registries: list[dict] = field(default_factory=list)
    launch_type: Optional[str] = "EC2"
    capacity_provider_strategy: list[dict] = field(default_factory=list)
    platform_version: Optional[str] = None
    deployment_configuration: dict = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    # every deployment ever started, newest first (service deployments: revisions.py)
    history: list[Deployment] = field(default_factory=list)
    role_arn: Optional[str] = None
    events: list[dict] = field(default_factory=list)     # newest first
    placement_constraints: list[dict] = field(default_factory=list)
    placement_strategy: list[dict] = field(default_factory=list)
    network_configuration: Optional[dict] = None
    health_check_grace_period_seconds: Optional[int] = None
    deployment_controller: dict = field(default_factory=lambda: {"type": "ECS"})
    tags: list[dict] = field(default_factory=list)
    enable_ecs_managed_tags: bool = False
    propagate_tags: str = "NONE"
    enable_execute_command: bool = False
    availability_zone_rebalancing: str = "DISABLED"
    # scheduler state
    tasks: dict[str, Task] = field(default_factory=dict)   # every task still describable
    steady: bool = False
    last_messages: dict[str, tuple[str, float]] = field(default_factory=dict)
    deleted_at: Optional[float] = None

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]

    @property
    def group(self) -> str:
        return f"service:{self.name}"

    def max_percent(self) -> int:
        default = 100 if self.scheduling_strategy == "DAEMON" else 200
        value = self.deployment_configuration.get("maximumPercent")
        return default if value is None else int(value)

    def min_healthy_percent(self) -> int:
        default = 0 if self.scheduling_strategy == "DAEMON" else 100
        value = self.deployment_configuration.get("minimumHealthyPercent")
        return default if value is None else int(value)

    def to_api(self, counts: dict, ts: Ts = _epoch, include: set[str] = frozenset(),
               max_events: int = 100) -> dict:
        """``counts``: {"running", "pending", "deployments": {id: {...}}}"""
        out = {
            "serviceArn": self.arn,
            "serviceName": self.name,
            "clusterArn": self.cluster_arn,
            "loadBalancers": copy.deepcopy(self.load_balancers),
            "serviceRegistries": copy.deepcopy(self.service_registries),
            "status": self.status,
            "desiredCount": self.desired_count,
            "runningCount": counts.get("running", 0),
            "pendingCount": counts.get("pending", 0),
            "taskDefinition": self.primary.task_definition.arn if self.deployments else None,
            "deploymentConfiguration": self._deployment_configuration(),
            "deployments": [d.to_api(counts.get("deployments", {}).get(d.id, {}), ts)
                            for d in self.deployments],
            "events": [{"id": e["id"], "createdAt": ts(e["createdAt"]),
                        "message": e["message"]} for e in self.events[:max_events]],
            "createdAt": ts(self.created_at),
            "placementConstraints": copy.deepcopy(self.placement_constraints),
            "placementStrategy": copy.deepcopy(self.placement_strategy),
            "schedulingStrategy": self.scheduling_strategy,
            "deploymentController": copy.deepcopy(self.deployment_controller),
            "createdBy": self.created_by,
            "enableECSManagedTags": self.enable_ecs_managed_tags,
            "propagateTags": self.propagate_tags,
            "enableExecuteCommand": self.enable_execute_command,
            "availabilityZoneRebalancing": self.availability_zone_rebalancing,
        }
        if self.launch_type:
            out["launchType"] = self.launch_type
        if self.capacity_provider_strategy:
            out["capacityProviderStrategy"] = copy.deepcopy(self.capacity_provider_strategy)
        if self.platform_version:
            out["platformVersion"] = self.platform_version
        if self.role_arn:
            out["roleArn"] = self.role_arn
        if self.network_configuration:
            out["networkConfiguration"] = copy.deepcopy(self.network_configuration)
        # Reported as 0 when never set, as DescribeServices does.
        out["healthCheckGracePeriodSeconds"] = self.health_check_grace_period_seconds or 0
        if "TAGS" in include:
            out["tags"] = copy.deepcopy(self.tags)
        return out

    def deployment_configuration_view(self) -> dict:
        """deploymentConfiguration as DescribeServices reports it."""
        return self._deployment_configuration()

    def _deployment_configuration(self) -> dict:
        cfg = copy.deepcopy(self.deployment_configuration)
        cfg.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
        # API DeploymentAlarms: the block is there, off, when no alarms were given.
        cfg.setdefault("alarms", {"alarmNames": [], "rollback": False, "enable": False})
        cfg["maximumPercent"] = self.max_percent()
        cfg["minimumHealthyPercent"] = self.min_healthy_percent()
        return cfg
