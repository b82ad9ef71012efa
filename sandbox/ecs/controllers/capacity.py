"""Auto Scaling group capacity providers (docs/ecs-facts.md §1.5).

AWS sources: asg-capacity-providers.html, cluster-auto-scaling.html,
managed-instance-draining.html, API CreateCapacityProvider / UpdateCapacityProvider /
DeleteCapacityProvider / PutClusterCapacityProviders / CapacityProviderStrategyItem.

What is here:

* the provider store and the API handlers (Create/Describe/Update/DeleteCapacityProvider) and
  the checks PutClusterCapacityProviders, CreateCluster, CreateService, UpdateService and
  RunTask make on provider names and strategies;
* strategy resolution (``resolve``): a ``capacityProviderStrategy``, else a ``launchType``,
  else the cluster's default strategy, else launch type EC2;
* the base/weight split (``provisioning.assign``): the ``base`` tasks go first to the
  provider that has one; every further task goes to the provider furthest below its target
  for the new total, where the targets split what is above the base by weight with the
  **largest remainder** method (floors first, then one each to the largest fractional parts;
  ties to the provider listed first). Providers of weight 0 only ever get base tasks;
* PROVISIONING tasks (created in ``provisioning.py``): a task of a managed-scaling provider
  that finds no room waits in PROVISIONING (no container instance) and is placed when an
  instance of its provider can take it ("If the Auto Scaling group can't scale out ... the
  tasks fail to transition beyond the PROVISIONING state", asg-capacity-providers.html);
* ``reconcile`` (run after the scheduler on every pass): stopped PROVISIONING tasks finish,
  PROVISIONING tasks are placed, then per provider managed draining, managed termination
  protection and managed scaling.

CapacityProviderReservation (cluster-auto-scaling.html; "Deep dive on Amazon ECS cluster auto
scaling"), kept simple: N = InService instances of the group; with PROVISIONING tasks,
M = N + the instances a first-fit-decreasing binpack of those tasks (CPU and memory only) needs
on fresh instances of the group's instance type (tasks larger than one instance are left out,
as the docs say); without them, M = the group's instances running a non-daemon task.
Reservation = M / N * 100 (100 when M = N = 0, 200 when only N = 0). Above targetCapacity for
``config.managed_scale_out_after_seconds`` the desired capacity grows by the needed count held
within [minimumScalingStepSize, maximumScalingStepSize] unless an instance of the group is
still inside instanceWarmupPeriod; below it for ``config.managed_scale_in_after_seconds`` (the
docs' 15 one-minute datapoints) it shrinks to ceil(M * 100 / targetCapacity). Both stay within
the group's MinSize/MaxSize.

Layer: controller (``sandbox/ecs/controllers``); imports the store and the shared task
mechanics (``lifecycle``, ``hosts``, ``provisioning``), never another controller.
"""

from __future__ import annotations

import copy
import math
import re
from typing import TYPE_CHECKING, Any, Optional

from .. import errors, lifecycle, resources
from ..errors import EcsError
from ..hosts import build_hosts
from ..models import Task
from ..paging import paginate
from ..placement import Failure, choose, occupy
from ..provisioning import pool
from ..state.records import CapacityProvider

if TYPE_CHECKING:
    from ..models import Cluster, ContainerInstance
    from ..state.store import EcsState

FARGATE = ("FARGATE", "FARGATE_SPOT")
# ECS Managed Instances (CreateCapacityProvider managedInstancesProvider, type
# MANAGED_INSTANCES): ECS launches the instances itself, spreads over AZs and consolidates
# without placement strategies. The sandbox does not emulate that provisioning, so it refuses
# the provider outright, as it refuses launch type MANAGED_INSTANCES (api._ec2_only), rather
# than accept one that would never run a task.
MANAGED_INSTANCES_REFUSED = (
    "The sandbox's ECS does not emulate ECS Managed Instances: capacity providers with a "
    "managedInstancesProvider (type MANAGED_INSTANCES) are refused; use an Auto Scaling "
    "group provider (autoScalingGroupProvider).")
DRAIN_HOOK = "ecs-managed-draining-termination-hook"
MANAGED_TAG = "AmazonECSManaged"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

# Messages as ECS returns them (public error reports, see the test docstrings).
BAD_NAME = ("The specified capacity provider name is invalid. Up to 255 characters are "
            "allowed, including letters (upper and lowercase), numbers, underscores, and "
            "hyphens. The name cannot be prefixed with \"aws\", \"ecs\", or \"fargate\". "
            "Specify a valid name and try again.")
ASG_TAKEN = ("The specified Auto Scaling group ARN is already being used by another capacity "
             "provider. Specify a unique Auto Scaling group ARN and try again.")
NEEDS_PROTECTION = ("The managed termination protection setting for the capacity provider is "
                    "invalid. To enable managed termination protection for a capacity "
                    "provider, the Auto Scaling group must have instance protection from scale "
                    "in enabled.")
NOT_FOUND = ("The specified capacity provider was not found. Specify a valid capacity provider "
             "and try again.")
NOT_ASSOCIATED = ("The specified capacity provider strategy cannot contain a capacity provider "
                  "that is not associated with the cluster. Associate the capacity provider "
                  "with the cluster or specify a valid capacity provider and try again.")
IN_USE = "The specified capacity provider is in use and cannot be removed."
BOTH = ("Specifying both a launch type and capacity provider strategy is not supported. "
        "Remove one and try again.")
DELETE_ASSOCIATED = ("The capacity provider cannot be deleted because it is associated with "
                     "cluster: {}. Remove the capacity provider from the cluster and try again.")
# No public source for these two wordings [I].
ASG_MISSING = ("The specified Auto Scaling group ARN is invalid. Specify a valid Auto Scaling "
               "group ARN and try again.")
NEEDS_SCALING = ("The managed termination protection setting for the capacity provider is "
                 "invalid. To enable managed termination protection for a capacity provider, "
                 "managed scaling must also be enabled.")


# ----------------------------------------------------------------- auto scaling
def _group(plane: "EcsState", ref: str):
    """The Auto Scaling group by name or ARN, through the control plane's port."""
    return plane.ports.autoscaling.group(ref) if ref else None


def _in_service(group) -> list:
    return [s for s in group.instance_states if s.lifecycle_state == "InService"]


# -------------------------------------------------------------------- validation
def _enum(value: Any, name: str) -> str:
    if value not in ("ENABLED", "DISABLED"):
        raise errors.invalid(f"{name} must be ENABLED or DISABLED.")
    return value


def _scaling(raw: Optional[dict], current: Optional[dict], plane: "EcsState") -> dict:
    """managedScaling with ECS's defaults filled in (API ManagedScaling)."""
    out = dict(current or {"status": plane.config.managed_scaling_default_status,
                           "targetCapacity": 100, "minimumScalingStepSize": 1,
                           "maximumScalingStepSize": 10000, "instanceWarmupPeriod": 300})
    for key, value in (raw or {}).items():
        if value is not None:
            out[key] = value
    _enum(out["status"], "managedScaling.status")
    limits = {"targetCapacity": (1, 100), "minimumScalingStepSize": (1, 10000),
              "maximumScalingStepSize": (1, 10000), "instanceWarmupPeriod": (0, 10000)}
    for key, (lo, hi) in limits.items():
        if not isinstance(out[key], int) or not lo <= out[key] <= hi:
            raise errors.invalid(f"managedScaling.{key} must be between {lo} and {hi}.")
    if out["minimumScalingStepSize"] > out["maximumScalingStepSize"]:
        raise errors.invalid("managedScaling.minimumScalingStepSize cannot be greater than "
                             "maximumScalingStepSize.")
    return out


def _check_protection(cp: CapacityProvider, group) -> None:
    if cp.managed_termination_protection != "ENABLED":
        return
    if not cp.scaling:
        raise errors.client(NEEDS_SCALING)
    if not group.new_instances_protected_from_scale_in:
        raise errors.client(NEEDS_PROTECTION)


# ------------------------------------------------------------------ API handlers
def create_capacity_provider(plane: "EcsState", p: dict) -> dict:
    name = p.get("name") or ""
    if not NAME_RE.match(name) or name.lower().startswith(("aws", "ecs", "fargate")):
        raise errors.client(BAD_NAME)
    store = plane.capacity.providers
    if name in store and store[name].status == "ACTIVE":
        raise errors.client("The specified capacity provider already exists. To change the "
                            "configuration of an existing capacity provider, update the "
                            "capacity provider.")  # [I]
    if p.get("managedInstancesProvider") is not None:
        raise errors.invalid(MANAGED_INSTANCES_REFUSED)
    asg = p.get("autoScalingGroupProvider") or {}
    group = _group(plane, asg.get("autoScalingGroupArn") or "")
    if group is None:
        raise errors.client(ASG_MISSING)
    if any(cp.asg_name == group.name and cp.status == "ACTIVE" for cp in store.values()):
        raise errors.client(ASG_TAKEN)
    cp = CapacityProvider(
        name=name, arn=plane.arn(f"capacity-provider/{name}"), asg_name=group.name,
        asg_arn=group.arn, managed_scaling=_scaling(asg.get("managedScaling"), None, plane),
        managed_termination_protection=_enum(asg.get("managedTerminationProtection")
                                             or "DISABLED", "managedTerminationProtection"),
        managed_draining=_enum(asg.get("managedDraining") or "ENABLED", "managedDraining"),
        tags=_tags(p))
    _check_protection(cp, group)
    _tag_group(plane, group)
    store[name] = cp
    return {"capacityProvider": cp.to_api({"TAGS"})}


def _tags(p: dict) -> list[dict]:
    return [{"key": t["key"], "value": t.get("value", "")} for t in p.get("tags") or []]


def _tag_group(plane: "EcsState", group) -> None:
    """ECS tags the group AmazonECSManaged (cluster-auto-scaling.html considerations)."""
    plane.ports.autoscaling.tag(group, MANAGED_TAG, "")


def _find(plane: "EcsState", ref: str) -> Optional[CapacityProvider]:
    name = ref.rsplit("capacity-provider/", 1)[-1] if ref.startswith("arn:") else ref
    return plane.capacity.providers.get(name)


def describe_capacity_providers(plane: "EcsState", p: dict) -> dict:
    include = {str(i).upper() for i in p.get("include") or []}
    refs = p.get("capacityProviders")
    if not refs:
        found = [cp.to_api(include) for cp in plane.capacity.providers.values()
                 if cp.status == "ACTIVE"]
        out = paginate(found, p, "capacityProviders", default=10, maximum=10)
        out["failures"] = []
        return out
    found, failures = [], []
    for ref in refs:
        cp = _find(plane, ref)
        if cp is None:
            failures.append({"arn": ref if ref.startswith("arn:") else
                             plane.arn(f"capacity-provider/{ref}"), "reason": "MISSING"})
        else:
            found.append(cp.to_api(include))
    return {"capacityProviders": found, "failures": failures}


def update_capacity_provider(plane: "EcsState", p: dict) -> dict:
    cp = _find(plane, p.get("name") or "")
    if cp is None or cp.status != "ACTIVE":
        raise errors.invalid(NOT_FOUND)
    raw = p.get("autoScalingGroupProvider") or {}
    group = _group(plane, cp.asg_name)
    updated = copy.deepcopy(cp)
    if raw.get("managedScaling") is not None:
        updated.managed_scaling = _scaling(raw["managedScaling"], cp.managed_scaling, plane)
    if raw.get("managedTerminationProtection") is not None:
        updated.managed_termination_protection = _enum(raw["managedTerminationProtection"],
                                                       "managedTerminationProtection")
    if raw.get("managedDraining") is not None:
        updated.managed_draining = _enum(raw["managedDraining"], "managedDraining")
    if group is not None:
        _check_protection(updated, group)
    cp.managed_scaling = updated.managed_scaling
    cp.managed_termination_protection = updated.managed_termination_protection
    cp.managed_draining = updated.managed_draining
    cp.update_status, cp.update_status_reason = "UPDATE_COMPLETE", None
    out = cp.to_api()
    out["updateStatus"] = "UPDATE_IN_PROGRESS"   # the response, as in the docs' example
    return {"capacityProvider": out}


def delete_capacity_provider(plane: "EcsState", p: dict) -> dict:
    """Associated with a cluster: ACTIVE with updateStatus DELETE_FAILED and ECS's reason (what
    DeleteCapacityProvider returns then); otherwise INACTIVE, its draining hook removed."""
    cp = _find(plane, p.get("capacityProvider") or "")
    if cp is None or cp.status != "ACTIVE":
        raise errors.invalid(NOT_FOUND)
    cluster = next((c for c in plane.clusters.values()
                    if c.status == "ACTIVE" and cp.name in c.capacity_providers), None)
    if cluster is not None:
        cp.update_status = "DELETE_FAILED"
        cp.update_status_reason = DELETE_ASSOCIATED.format(cluster.name)
        return {"capacityProvider": cp.to_api()}
    cp.status, cp.update_status, cp.update_status_reason = "INACTIVE", "DELETE_COMPLETE", None
    if cp.managed_draining == "ENABLED":
        plane.ports.autoscaling.delete_lifecycle_hook(cp.asg_name, DRAIN_HOOK)
    out = cp.to_api()
    out.update(status="ACTIVE", updateStatus="DELETE_IN_PROGRESS")
    return {"capacityProvider": out}


# ------------------------------------------------------- cluster association
def check_association(plane: "EcsState", cluster_name: str, names: list[str],
                      strategy: list[dict]) -> list[dict]:
    """PutClusterCapacityProviders / CreateCluster: every provider exists, a managed-scaling
    provider serves one cluster only (cluster-auto-scaling.html), the default strategy uses
    only associated providers, and no provider a service uses is removed. Returns the
    normalised default strategy."""
    for name in names:
        if name in FARGATE:
            continue
        cp = plane.capacity.providers.get(name)
        if cp is None or cp.status != "ACTIVE":
            raise errors.invalid(NOT_FOUND)
        other = next((c.name for c in plane.clusters.values() if c.status == "ACTIVE"
                      and c.name != cluster_name and name in c.capacity_providers), None)
        if other is not None and cp.scaling:
            raise errors.invalid(f"The capacity provider {name} uses managed scaling and is "
                                 f"already associated with cluster {other}.")  # [I]
    normalised = normalise(strategy)
    if any(item["capacityProvider"] not in names for item in normalised):
        raise errors.invalid(NOT_ASSOCIATED)
    cluster = plane.clusters.get(cluster_name)
    if cluster is not None:
        removed = set(cluster.capacity_providers) - set(names)
        for svc in plane.services_in(cluster_name):
            if svc.status != "INACTIVE" and removed & {i["capacityProvider"] for i in
                                                       svc.capacity_provider_strategy}:
                raise EcsError("ResourceInUseException", IN_USE)
    return normalised


# ------------------------------------------------------------------- strategies
def normalise(strategy: Optional[list]) -> list[dict]:
    """CapacityProviderStrategyItem list with base and weight filled in (both default 0)."""
    out = []
    for item in strategy or []:
        name = item.get("capacityProvider")
        if not name:
            raise errors.invalid("capacityProvider can not be blank.")
        weight = int(item.get("weight") or 0)
        base = int(item.get("base") or 0)
        if not 0 <= weight <= 1000:
            raise errors.invalid("The weight must be between 0 and 1000.")
        if not 0 <= base <= 100000:
            raise errors.invalid("The base must be between 0 and 100000.")
        out.append({"capacityProvider": name, "weight": weight, "base": base})
    if len(out) > 20:
        raise errors.invalid("A capacity provider strategy can contain at most 20 capacity "
                             "providers.")
    if sum(1 for i in out if i["base"] > 0) > 1:
        raise errors.invalid("Only one capacity provider in a capacity provider strategy can "
                             "have a base defined.")
    if len({i["capacityProvider"] for i in out}) != len(out):
        raise errors.invalid("A capacity provider strategy cannot contain the same capacity "
                             "provider more than once.")  # [I]
    return out


def resolve(plane: "EcsState", cluster: "Cluster", strategy: Optional[list],
            launch_type: Optional[str]) -> tuple[Optional[str], list[dict]]:
    """(launchType, capacityProviderStrategy) a service or RunTask ends up with: its own
    strategy, else its launch type, else the cluster's default strategy, else EC2."""
    if strategy and launch_type:
        raise errors.invalid(BOTH)
    if launch_type:
        return launch_type, []
    items = normalise(strategy) if strategy else copy.deepcopy(
        cluster.default_capacity_provider_strategy)
    if not items:
        return "EC2", []
    for item in items:
        name = item["capacityProvider"]
        if name in FARGATE:
            raise errors.invalid(f"The sandbox's ECS supports only the EC2 launch type, not "
                                 f"{name}.")
        if name not in cluster.capacity_providers:
            raise errors.invalid(NOT_ASSOCIATED)
    if not any(i["weight"] > 0 for i in items) and not any(i["base"] > 0 for i in items):
        raise errors.invalid("At least one capacity provider in a capacity provider strategy "
                             "must have a weight greater than zero.")  # [I]
    return None, items


def _promote(plane: "EcsState", task: Task, ci: "ContainerInstance",
             dynamic_ports: list[int]) -> None:
    """PROVISIONING -> PENDING on ``ci``: the same task ARN, now with a host, through the one
    start path (``lifecycle.start_on``: ports, an awsvpc task's ENI, resources, timers)."""
    plane.capacity.requests.pop(task.arn, None)
    service = plane.services.get((task.cluster_name, task.service_name)) \
        if task.service_name else None
    lifecycle.start_on(plane, task, ci, dynamic_ports, service)


def _provisioning(plane: "EcsState") -> list[Task]:
    return sorted((t for t in plane.tasks.values() if t.last_status == "PROVISIONING"),
                  key=lambda t: (t.created_at, t.arn))


def _place_provisioning(plane: "EcsState") -> None:
    hosts_by_cluster: dict[str, list] = {}
    for task in _provisioning(plane):
        if not task.live:
            lifecycle._finalize(plane, task, graceful=False)
            plane.capacity.requests.pop(task.arn, None)
            continue
        request = plane.capacity.requests.get(task.arn)
        if request is None:
            continue
        hosts = hosts_by_cluster.setdefault(task.cluster_name,
                                            build_hosts(plane, task.cluster_name))
        result = choose(pool(hosts, task.capacity_provider_name), task.shape,
                        request.constraints, request.strategies, rng=plane.runtime.rng,
                        tie_break=plane.config.placement_tie_break,
                        missing_is_value=plane.config.spread_missing_attribute_is_value,
                        port_range=plane.config.dynamic_port_range)
        if isinstance(result, Failure):
            continue
        _promote(plane, task, plane.container_instances[result.host.arn], result.dynamic_ports)
        occupy(result.host, task.shape, result.dynamic_ports)


# ----------------------------------------------------------------- the loops
def _busy(plane: "EcsState", ci: "Optional[ContainerInstance]") -> bool:
    """Whether the instance runs a non-daemon task (one not yet STOPPED)."""
    if ci is None:
        return False
    for t in ci.tasks.values():
        svc = plane.services.get((t.cluster_name, t.service_name)) if t.service_name else None
        if svc is None or svc.scheduling_strategy != "DAEMON":
            return True
    return False


def _instances(plane: "EcsState", cp: CapacityProvider) -> dict[str, Any]:
    """EC2 instance id -> its container instance (not INACTIVE) of this provider."""
    return {ci.ec2_instance_id: ci for ci in plane.container_instances.values()
            if ci.capacity_provider_name == cp.name and ci.status != "INACTIVE"}


def _drain(plane: "EcsState", cp: CapacityProvider, group, cis: dict) -> None:
    """managed-instance-draining.html: an instance the group wants to terminate waits in
    Terminating:Wait on ECS's hook; ECS sets it DRAINING (the scheduler replaces its service
    tasks under min/max percent) and lets it go once no non-daemon task is left on it."""
    if cp.managed_draining != "ENABLED":
        return
    for state in list(group.instance_states):
        if state.lifecycle_state != "Terminating:Wait" or \
                getattr(state, "sandbox_hook", None) != DRAIN_HOOK:
            continue
        ci = cis.get(state.instance.id)
        if ci is not None and ci.status == "ACTIVE":
            ci.status = "DRAINING"
            plane.instance_changed(ci)
            for svc in plane.services_in(ci.cluster_name):
                svc.steady = False
            plane.runtime.call_later(0, lambda: None)   # let the scheduler see it
        if not _busy(plane, ci):
            plane.ports.autoscaling.complete_lifecycle_action(group, state.instance.id,
                                                              "CONTINUE")
        else:
            plane.ports.autoscaling.record_heartbeat(group, state.instance.id)


def _protect(plane: "EcsState", cp: CapacityProvider, group, cis: dict) -> None:
    """cluster-auto-scaling.html: with managed termination protection, instances running
    non-daemon tasks are protected from scale-in; empty ones are not."""
    if cp.managed_termination_protection != "ENABLED" or not cp.scaling:
        return
    for state in _in_service(group):
        ci = cis.get(state.instance.id)
        if ci is None:
            continue   # not registered yet: keeps the group's protection for new instances
        want = _busy(plane, ci)
        if bool(state.protected_from_scale_in) != want:
            plane.ports.autoscaling.set_protected(group, state.instance.id, want)


def _needed(plane: "EcsState", group, tasks: list[Task]) -> int:
    """Fresh instances a first-fit-decreasing binpack (CPU, memory) of ``tasks`` needs."""
    cpu, memory = resources.registered_resources(group.instance_type or "m5.large",
                                                 plane.config)
    bins: list[list[int]] = []
    for t in sorted(tasks, key=lambda t: (t.cpu, t.memory), reverse=True):
        if t.cpu > cpu or t.memory > memory:
            continue   # never fits this group's instances: not counted (docs)
        for b in bins:
            if b[0] >= t.cpu and b[1] >= t.memory:
                b[0] -= t.cpu
                b[1] -= t.memory
                break
        else:
            bins.append([cpu - t.cpu, memory - t.memory])
    return len(bins)


def reservation(plane: "EcsState", cp: CapacityProvider, group,
                cis: dict) -> tuple[float, int, int, int]:
    """(CapacityProviderReservation, M, N, instances needed for PROVISIONING tasks)."""
    in_service = _in_service(group)
    n = len(in_service)
    waiting = [t for t in _provisioning(plane)
               if t.live and t.capacity_provider_name == cp.name]
    needed = _needed(plane, group, waiting) if waiting else 0
    if needed:
        m = n + needed
    else:
        m = sum(1 for s in in_service if _busy(plane, cis.get(s.instance.id)))
    if n == 0:
        return (100.0 if m == 0 else 200.0), m, n, needed
    return m / n * 100, m, n, needed


def _warming(plane: "EcsState", cp: CapacityProvider, group) -> bool:
    now = plane.now()
    period = cp.managed_scaling["instanceWarmupPeriod"]
    return any(now - getattr(s.instance, "sandbox_launched_at", -1e18) < period
               for s in group.instance_states)


def _scale(plane: "EcsState", cp: CapacityProvider, group, cis: dict) -> None:
    if not cp.scaling:
        return
    now = plane.now()
    value, m, n, needed = reservation(plane, cp, group, cis)
    cp.reservation = value
    target = cp.managed_scaling["targetCapacity"]
    want = math.ceil(m * 100 / target)
    if value > target:
        cp.below_since = None
        cp.above_since = cp.above_since if cp.above_since is not None else now
        due = cp.above_since + plane.config.managed_scale_out_after_seconds
        if now < due:
            plane.runtime.call_at(due, lambda: None)
            return
        if _warming(plane, cp, group):
            plane.runtime.call_later(plane.config.managed_scale_out_after_seconds,
                                     lambda: None)
            return
        step = max(want - n, needed, 1)
        step = min(max(step, cp.managed_scaling["minimumScalingStepSize"]),
                   cp.managed_scaling["maximumScalingStepSize"])
        _set_desired(plane, group, min(n + step, group.max_size))
        cp.above_since = None
    elif value < target and want < n:
        cp.above_since = None
        cp.below_since = cp.below_since if cp.below_since is not None else now
        due = cp.below_since + plane.config.managed_scale_in_after_seconds
        if now < due:
            plane.runtime.call_at(due, lambda: None)
            return
        _set_desired(plane, group, max(want, group.min_size))
        cp.below_since = None
    else:
        cp.above_since = cp.below_since = None


def _set_desired(plane: "EcsState", group, desired: int) -> None:
    if desired != group.desired_capacity:
        plane.ports.autoscaling.set_desired_capacity(group, desired)


def _ensure_hook(plane: "EcsState", cp: CapacityProvider, group) -> None:
    """ECS puts its termination lifecycle hook on the group of a managed-draining provider
    (heartbeat 3600 s, default result CONTINUE, as seen on AWS)."""
    if cp.managed_draining != "ENABLED":
        return
    plane.ports.autoscaling.ensure_lifecycle_hook(group, DRAIN_HOOK, TERMINATING, 3600,
                                                  "CONTINUE")


def reconcile(plane: "EcsState") -> None:
    """After the scheduler: PROVISIONING tasks, then each associated provider's loops."""
    if not plane.capacity.providers:
        return
    _place_provisioning(plane)
    associated = {n for c in plane.clusters.values() if c.status == "ACTIVE"
                  for n in c.capacity_providers}
    for cp in list(plane.capacity.providers.values()):
        if cp.status != "ACTIVE" or cp.name not in associated:
            continue
        group = _group(plane, cp.asg_name)
        if group is None:
            continue
        _ensure_hook(plane, cp, group)
        cis = _instances(plane, cp)
        _drain(plane, cp, group, cis)
        _protect(plane, cp, group, cis)
        _scale(plane, cp, group, cis)
