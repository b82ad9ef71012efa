"""Plain data read from one ECS cluster: the planner's only input.

Everything here is immutable (frozen, slotted dataclasses) and free of I/O. ``snapshot.py`` builds
these from the ECS API; tests build them with ``tests/unit/engine/factories.py``. Imports
nothing from the engine.

Conventions:
- ARNs identify instances, services and tasks; ``Service.name`` is the short name.
- CPU is in CPU units (1 vCPU = 1024), memory in MiB.
- Ports are ints; ``reserved_tcp_ports`` / ``reserved_udp_ports`` are the instance's
  ``remainingResources`` PORTS / PORTS_UDP sets (agent-reserved ports plus static host ports of
  running tasks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

AZ_ATTRIBUTE = "ecs.availability-zone"
SUBNET_ATTRIBUTE = "ecs.subnet-id"
MANAGED_INSTANCES = "MANAGED_INSTANCES"   # launch type and capacity provider type


# deploymentConfiguration.strategy values that deploy beside the running revision (docs/ecs-
# facts.md §1.8), and the ServiceDeployment statuses during which a service is not touched
# (§1.11). ROLLBACK_SUCCESSFUL is not one: the blue revision runs alone again, as before.
NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
ACTIVE_DEPLOYMENT_STATUSES = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED",
                              "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED")


@dataclass(frozen=True, slots=True)
class PlacementStrategy:
    """One ``placementStrategy`` rule: type ``spread|binpack|random``, field as given by ECS."""

    type: str
    field: str = ""


@dataclass(frozen=True, slots=True)
class PlacementConstraint:
    """One placement constraint: type ``distinctInstance|memberOf``, expression for memberOf."""

    type: str
    expression: str = ""


@dataclass(frozen=True, slots=True)
class TaskResources:
    """What one task of a task definition takes from an instance.

    ``cpu``: task-level cpu if set, else the sum of container cpu.
    ``memory``: task-level memory if set, else the sum over containers of memoryReservation,
    else memory. ``tcp_ports`` / ``udp_ports``: static host ports (bridge/host network mode).
    ``enis``: task ENIs, 1 for the awsvpc network mode (each such task gets an ENI of its
    own, attached to its instance), else 0.
    """

    cpu: int = 0
    memory: int = 0
    tcp_ports: frozenset[int] = frozenset()
    udp_ports: frozenset[int] = frozenset()
    enis: int = 0

    def to_dict(self) -> dict:
        return {"cpu": self.cpu, "memory": self.memory,
                "tcp_ports": sorted(self.tcp_ports), "udp_ports": sorted(self.udp_ports),
                "enis": self.enis}


@dataclass(frozen=True, slots=True)
class Instance:
    """One container instance.

    ``awsvpc_slots``: awsvpc tasks it can still take (its task ENI limit, see
    ``eni_limits``, minus the task ENIs in use); None when its instance type is in no table
    (then ENIs do not limit it in the plan). ``managed_instances``: its capacity provider is
    of type MANAGED_INSTANCES (ECS places and consolidates there; the engine never moves a
    task to or from it).
    """

    arn: str
    ec2_instance_id: str
    az: str
    status: str = "ACTIVE"
    agent_connected: bool = True
    attributes: Mapping[str, str] = field(default_factory=dict)
    registered_cpu: int = 0
    registered_memory: int = 0
    remaining_cpu: int = 0
    remaining_memory: int = 0
    reserved_tcp_ports: frozenset[int] = frozenset()
    reserved_udp_ports: frozenset[int] = frozenset()
    capacity_provider: str = ""
    awsvpc_slots: int | None = None
    managed_instances: bool = False

    @property
    def accepts_tasks(self) -> bool:
        """ACTIVE with a connected agent: the only instances ECS places onto."""
        return self.status == "ACTIVE" and self.agent_connected

    def to_dict(self) -> dict:
        return {"arn": self.arn, "ec2_instance_id": self.ec2_instance_id, "az": self.az,
                "status": self.status, "agent_connected": self.agent_connected,
                "remaining_cpu": self.remaining_cpu, "remaining_memory": self.remaining_memory,
                "capacity_provider": self.capacity_provider, "awsvpc_slots": self.awsvpc_slots,
                "managed_instances": self.managed_instances}


@dataclass(frozen=True, slots=True)
class CapacityProviderItem:
    """One entry of a capacity provider strategy: ``base`` tasks first, the rest by ``weight``."""

    provider: str
    base: int = 0
    weight: int = 0

    def to_dict(self) -> dict:
        return {"provider": self.provider, "base": self.base, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Service:
    """One ECS service as the planner needs it.

    ``placement_constraints`` holds the service's constraints followed by the task definition's.
    ``deployments`` is the number of entries in the deployments array; ``rollout_state`` is the
    PRIMARY deployment's rolloutState ("" when ECS does not report one).
    ``resources`` are those of the service's (primary) task definition.
    ``target_groups``: ARNs of the load balancer target groups the service registers tasks in.
    ``launch_type``: EC2, FARGATE, EXTERNAL, or "" when a capacity provider strategy is used.
    ``capacity_provider_strategy``: the *effective* strategy: the service's own, or (when the
    service has neither a strategy nor a launch type) the cluster's default strategy.
    ``az_rebalancing``: availabilityZoneRebalancing as ECS reports it (absent = DISABLED);
    ``az_rebalancing_in_progress``: ECS's own AZ rebalancing is running now (from the service's
    events, see ``snapshot.az_rebalancing_in_progress``).
    ``container_health_check``: an essential container of the task definition has a
    healthCheck, so ECS counts only HEALTHY tasks toward minimumHealthyPercent.
    ``deployment_strategy``: deploymentConfiguration.strategy (ROLLING, BLUE_GREEN, LINEAR,
    CANARY); ``lifecycle_hooks``: the number of lifecycle hooks it configures.
    ``current_revisions``: entries of DescribeServices' ``currentServiceRevisions`` (None when
    ECS did not report the field). ``service_deployment``: the current service deployment's
    ARN, and, when the snapshot read it (``snapshot.read_service_deployments``), its
    ``service_deployment_status``, ``lifecycle_stage`` and the ids of its lifecycle hooks
    awaiting action (``hooks_awaiting``); "" / () when not read.
    ``subnets``: an awsvpc service's ``networkConfiguration.awsvpcConfiguration.subnets``;
    ECS places its tasks only on instances in those subnets (attribute ``ecs.subnet-id``).
    ``managed_instances``: launch type MANAGED_INSTANCES, or a capacity provider of that type
    in its effective strategy: ECS spreads and consolidates it itself.
    """

    name: str
    arn: str
    desired: int
    running: int = 0
    pending: int = 0
    scheduling_strategy: str = "REPLICA"
    launch_type: str = "EC2"
    deployment_controller: str = "ECS"
    deployments: int = 1
    rollout_state: str = "COMPLETED"
    min_healthy_percent: int = 100
    max_percent: int = 200
    placement_strategy: tuple[PlacementStrategy, ...] = ()
    placement_constraints: tuple[PlacementConstraint, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    task_definition: str = ""
    resources: TaskResources = field(default_factory=TaskResources)
    target_groups: tuple[str, ...] = ()
    capacity_provider_strategy: tuple[CapacityProviderItem, ...] = ()
    az_rebalancing: str = "DISABLED"
    az_rebalancing_in_progress: bool = False
    container_health_check: bool = False
    deployment_strategy: str = "ROLLING"
    lifecycle_hooks: int = 0
    current_revisions: int | None = None
    service_deployment: str = ""
    service_deployment_status: str = ""
    lifecycle_stage: str = ""
    hooks_awaiting: tuple[str, ...] = ()
    subnets: tuple[str, ...] = ()
    managed_instances: bool = False

    @property
    def providers(self) -> tuple[str, ...]:
        """The capacity provider names of the effective strategy, in strategy order."""
        return tuple(item.provider for item in self.capacity_provider_strategy)

    @property
    def group(self) -> str:
        """The service's task group, as used by ``distinctInstance``."""
        return f"service:{self.name}"


@dataclass(slots=True, unsafe_hash=True)
class Task:
    """One task of a service whose desiredStatus is RUNNING (so PENDING or RUNNING).

    A value, like every model type, but not a frozen dataclass: a read builds one per task
    (100,000 at the largest benchmarked size), and a frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, about seven times the cost of a plain slotted one
    (1.35 against 0.19 us for these 13 fields). Never assign to a field: derive a new task
    with ``dataclasses.replace`` (``tests/unit/engine/test_model_values.py`` keeps the engine
    to that). Equal field by field, and hashable the same way.

    ``started_at`` / ``created_at`` are epoch seconds (0.0 when unknown); ``health`` is the
    task's healthStatus (HEALTHY, UNHEALTHY, UNKNOWN); ``protected`` is the scale-in protection
    flag when it was read, else None.
    """

    arn: str
    service: str
    instance_arn: str
    az: str = ""
    last_status: str = "RUNNING"
    desired_status: str = "RUNNING"
    started_by: str = ""
    health: str = "UNKNOWN"
    protected: bool | None = None
    started_at: float = 0.0
    created_at: float = 0.0
    task_definition: str = ""
    capacity_provider: str = ""


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """One consistent-enough read of a cluster.

    ``instances``: container instances (ACTIVE, DRAINING and whatever else ECS listed), sorted by
    ARN. ``services``: by service name. ``tasks``: by service name, each tuple sorted by ARN;
    every service in ``services`` has an entry (maybe empty). ``api_calls``: ECS API calls made
    to read it (pages count one each); ``api_retries``: retries botocore made for them.
    ``scoped``: only the named services were read (their tasks; other services' tasks are in
    the instances' remaining resources only); ``cluster_task_count``: the cluster's running
    and pending tasks from DescribeClusters, kept by a scoped read (None for a whole read,
    whose ``task_count()`` is the same figure counted task by task).
    """

    cluster_name: str
    cluster_arn: str
    instances: tuple[Instance, ...]
    services: Mapping[str, Service]
    tasks: Mapping[str, tuple[Task, ...]]
    api_calls: int = 0
    api_retries: int = 0
    scoped: bool = False
    cluster_task_count: int | None = None

    def instance_map(self) -> dict[str, Instance]:
        return {inst.arn: inst for inst in self.instances}

    def task_count(self) -> int:
        return sum(len(tasks) for tasks in self.tasks.values())

    def cluster_tasks(self) -> int:
        """The cluster's live tasks: counted from a whole read, from DescribeClusters for a
        scoped one (which read only some services' tasks)."""
        return self.task_count() if self.cluster_task_count is None else self.cluster_task_count

    def service_names(self, refs: Iterable[str]) -> tuple[str, ...]:
        """The snapshot's service names for ``refs`` given as names or ARNs (ECS accepts
        both), sorted, unknown ones dropped: callers match on names only."""
        by_arn = {svc.arn: name for name, svc in self.services.items()}
        out = {by_arn.get(r, r) for r in refs}
        return tuple(sorted(n for n in out if n in self.services))
