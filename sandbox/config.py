"""Every emulated delay and policy choice in one place (docs/ecs-facts.md marks them [I]).

Times are emulated seconds. Defaults follow AWS where AWS documents a value and are modest
where it does not, so a scenario run at ``--speed 50`` finishes in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SandboxConfig:
    account_id: str = "123456789012"
    region: str = "us-east-1"

    # Agent (docs/ecs-facts.md §5.1): a running instance with ECS_CLUSTER in its UserData
    # registers after this boot delay.
    agent_boot_seconds: float = 30.0
    # Images of the ECS-optimised family and any AMI register; set to a tuple of AMI ids to
    # restrict registration to those.
    agent_ami_ids: tuple[str, ...] = ()
    agent_version: str = "1.89.0"
    # An agent whose cluster does not exist yet retries this often.
    agent_retry_seconds: float = 20.0
    # Registered MEMORY for instance types without a measured value: this share of the
    # nominal MiB (sandbox/ecs/resources.py); per-type overrides in instance_memory_mib.
    agent_memory_factor: float = 0.95
    instance_memory_mib: dict = field(default_factory=dict)
    # awsvpc: maximum network interfaces per instance type, overriding the documented table
    # in sandbox/ecs/resources.py (an instance holds that minus one awsvpc tasks).
    instance_max_enis: dict = field(default_factory=dict)
    # awsvpc task ENIs take the lowest free private IP of their subnet (AWS picks any free
    # one: an [I] choice, so tests can predict it); "highest" counts down from the top.
    awsvpc_ip_order: str = "lowest"

    # Task lifecycle (§4.1): PENDING for image pull and start, RUNNING, then on stop
    # DEACTIVATING for the target group's deregistration delay, STOPPING up to stop timeout.
    task_pending_seconds: float = 5.0
    task_stopping_seconds: float = 2.0
    # A task without load balancer or health check counts as healthy after 40 s (§3.2).
    task_healthy_after_seconds: float = 40.0
    # How often a load-balanced task that is not yet healthy is looked at again.
    lb_health_poll_seconds: float = 5.0
    # STOPPED tasks stay describable this long; INACTIVE container instances and services too.
    stopped_task_retention_seconds: float = 3600.0
    inactive_retention_seconds: float = 3600.0

    # Placement ties (§1.3): "stable" (lowest ec2InstanceId) or "random" (seeded).
    placement_tie_break: str = "stable"
    # Instances missing a spread attribute form a value of their own.
    spread_missing_attribute_is_value: bool = True

    # Dynamic host ports (§1.2): the lowest free port of this range is assigned.
    dynamic_port_range: tuple[int, int] = (32768, 60999)
    reserved_ports: tuple[str, ...] = ("22", "2375", "2376", "51678", "51679")

    # Circuit breaker minimum threshold (§3.6).
    circuit_breaker_min_threshold: int = 3

    # availabilityZoneRebalancing for CreateService without a value (§1.4): "ENABLED" means
    # AWS's documented default (ENABLED for eligible services, DISABLED for the others);
    # "DISABLED" gives every such service DISABLED (the pre-2025-09-05 world).
    az_rebalancing_default: str = "ENABLED"
    # Undocumented pacing of ECS's AZ rebalancing (sandbox/ecs/azrebalance.py): seconds at
    # steady state before a service is looked at, and tasks moved per batch.
    az_rebalancing_check_seconds: float = 60.0
    az_rebalancing_batch_size: int = 2

    # Capacity providers (§1.5, sandbox/ecs/capacity.py). managedScaling.status when
    # CreateCapacityProvider does not give one (AWS documents no default).
    managed_scaling_default_status: str = "DISABLED"
    # CapacityProviderReservation must stay above targetCapacity this long before ECS raises
    # the group's desired capacity (one 1-minute datapoint), below it this long before it
    # lowers it (cluster-auto-scaling.html: "15 data points (15 minutes)").
    managed_scale_out_after_seconds: float = 60.0
    managed_scale_in_after_seconds: float = 900.0
    # A Terminating:Wait instance whose hook gets heartbeats waits at most this long
    # (Auto Scaling's global timeout; managed draining: "up to 48 hours").
    lifecycle_hook_global_timeout_seconds: float = 172800.0

    # Seconds between repeated steady-state events (None: only on transitions).
    steady_state_repeat_seconds: float | None = None
    # Service events: DescribeServices returns this many, newest first; a repeated
    # placement-failure or deployment-blocked message is dropped for this long (console: 6 h).
    max_service_events: int = 100
    service_event_repeat_seconds: float = 21600.0

    # Real HTTP on loopback for tasks and load balancers (sandbox/traffic). Off for in-process
    # tests and benchmarks that do not need it; `python -m sandbox serve` and `demo` turn it on.
    data_plane: bool = False
    extra: dict = field(default_factory=dict)
