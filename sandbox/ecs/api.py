"""The ECS JSON API: one small handler per operation and a table from action to handler.

``dispatch(plane, action, params)`` returns the response dict or raises ``EcsError``; an
action that is not in the table is a 400 ``InvalidAction``, never a 500. Handlers run under
the world lock; the server runs a reconcile pass after each request.

Layer: the top of ``sandbox/ecs``; imports the plane, the controllers (their API handlers
and checks) and everything below.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any, Callable, Optional

from . import errors, launch, lifecycle, network, placement, revisions
from .controllers import agent, azrebalance, capacity, scheduler
from .hosts import build_hosts
from .state import events
from .errors import EcsError
from .models import Cluster, Deployment, Service, TaskDefinition
from .paging import paginate
from .plane import EcsControlPlane
from .query import QueryError, parse

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
Params = dict


# ---------------------------------------------------------------------- helpers
def _req(p: Params, name: str) -> Any:
    value = p.get(name)
    if value is None or value == "" or value == []:
        raise errors.invalid(f"{name} can not be blank.")
    return value


def _include(p: Params) -> set[str]:
    return {str(i).upper() for i in (p.get("include") or [])}


def _int(p: Params, name: str, default: Optional[int] = None) -> Optional[int]:
    value = p.get(name, default)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.invalid(f"{name} must be an integer.") from None


def _tags(p: Params, key: str = "tags") -> list[dict]:
    tags = p.get(key) or []
    if len(tags) > 50:
        raise errors.invalid("Too many tags: at most 50 tags per resource.")
    for t in tags:
        if not t.get("key"):
            raise errors.invalid("Tag key can not be blank.")
        if str(t["key"]).lower().startswith("aws:"):
            raise errors.invalid("Tag keys prefixed with 'aws:' are reserved.")
    return [{"key": t["key"], "value": t.get("value", "")} for t in tags]


def _merge_tags(current: list[dict], new: list[dict]) -> list[dict]:
    merged = {t["key"]: t for t in current}
    for t in new:
        merged[t["key"]] = t
    return list(merged.values())


def _limit(p: Params, name: str, maximum: int) -> list:
    values = p.get(name) or []
    if len(values) > maximum:
        raise errors.invalid(f"{name} cannot contain more than {maximum} elements.")
    return values


def _constraints(raw: Optional[list], td: Optional[TaskDefinition] = None
                 ) -> placement.Constraints:
    raw = list(raw or [])
    total = raw + [c for c in ((td.body.get("placementConstraints") or []) if td else [])]
    if len(total) > 10:
        raise errors.invalid("Placement constraints can have at most 10 entries.")
    try:
        return launch.constraints_for(td, raw) if td else placement.Constraints(raw)
    except QueryError as exc:
        raise errors.invalid(f"Invalid placement constraint expression: {exc}") from None


def _strategies(raw: Optional[list]) -> list[dict]:
    out = []
    for s in raw or []:
        kind = s.get("type")
        fld = s.get("field")
        if kind not in ("spread", "binpack", "random"):
            raise errors.invalid(f"Invalid placement strategy type: {kind}")
        if kind == "binpack" and (fld or "").lower() not in ("cpu", "memory"):
            raise errors.invalid("binpack placement strategy field must be cpu or memory.")
        if kind == "spread" and not fld:
            raise errors.invalid("spread placement strategy requires a field.")
        item = {"type": kind}
        if fld:
            item["field"] = fld
        out.append(item)
    if len(out) > 5:
        raise errors.invalid("Placement strategies can have at most 5 entries.")
    return out


def _ec2_only(launch_type: Optional[str]) -> None:
    if launch_type and launch_type != "EC2":
        raise errors.invalid(f"The sandbox's ECS supports only the EC2 launch type, "
                             f"not {launch_type}.")


def _td_for_use(plane: EcsControlPlane, ref: Optional[str]) -> TaskDefinition:
    if not ref:
        raise errors.invalid("TaskDefinition can not be blank.")
    td = plane.resolve_task_definition(ref)
    if td is None:
        raise errors.invalid("TaskDefinition not found.")
    if td.status != "ACTIVE":
        raise errors.client("TaskDefinition is inactive")
    return td


def _missing(arn: str) -> dict:
    return {"arn": arn, "reason": "MISSING"}


# --------------------------------------------------------------------- clusters
def create_cluster(plane: EcsControlPlane, p: Params) -> dict:
    name = p.get("clusterName") or "default"
    if not NAME_RE.match(name):
        raise errors.invalid("Cluster name can contain only letters, numbers, hyphens and "
                             "underscores, up to 255 characters.")
    existing = plane.clusters.get(name)
    if existing is not None and existing.status == "ACTIVE":
        return {"cluster": existing.to_api(plane.cluster_stats(existing), {"TAGS"})}
    fields: dict = {"tags": _tags(p)}
    if p.get("settings"):
        fields["settings"] = copy.deepcopy(p["settings"])
    if p.get("configuration"):
        fields["configuration"] = copy.deepcopy(p["configuration"])
    fields["capacity_providers"] = list(p.get("capacityProviders") or [])
    fields["default_capacity_provider_strategy"] = capacity.check_association(
        plane, name, fields["capacity_providers"], p.get("defaultCapacityProviderStrategy"))
    if p.get("serviceConnectDefaults"):
        fields["service_connect_defaults"] = copy.deepcopy(p["serviceConnectDefaults"])
    cluster = plane.add_cluster(name, **fields)
    return {"cluster": cluster.to_api(plane.cluster_stats(cluster), {"TAGS"})}


def describe_clusters(plane: EcsControlPlane, p: Params) -> dict:
    include = _include(p)
    out, failures = [], []
    for ref in p.get("clusters") or ["default"]:
        name = plane.cluster_name(ref)
        cluster = plane.clusters.get(name)
        if cluster is None:
            failures.append(_missing(plane.arn(f"cluster/{name}")))
        else:
            described = cluster.to_api(plane.cluster_stats(cluster), include)
            attachments = _scaling_attachments(plane, cluster)
            if attachments or cluster.capacity_providers:
                described["attachmentsStatus"] = "UPDATE_COMPLETE"
            if "ATTACHMENTS" in include:
                described["attachments"] = attachments
            out.append(described)
    return {"clusters": out, "failures": failures}


def _scaling_attachments(plane: EcsControlPlane, cluster: Cluster) -> list[dict]:
    """API Cluster "attachments": "When using a capacity provider with a cluster, the capacity
    provider and associated resources are returned as cluster attachments": with managed
    scaling, the target-tracking policy ECS puts on the provider's group (type ``as_policy``;
    status and detail names as real responses show them [O]). Ids are stable per pair."""
    out = []
    for name in cluster.capacity_providers:
        cp = plane.capacity.providers.get(name)
        if cp is None or (cp.managed_scaling or {}).get("status") != "ENABLED":
            continue
        ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.arn}/{cp.arn}"))
        out.append({"id": ident, "type": "as_policy", "status": "CREATED", "details": [
            {"name": "capacityProviderName", "value": name},
            {"name": "scalingPolicyName", "value": f"ECSManagedAutoScalingPolicy-{ident}"}]})
    return out


def list_clusters(plane: EcsControlPlane, p: Params) -> dict:
    arns = [c.arn for c in plane.clusters.values() if c.status == "ACTIVE"]
    return paginate(arns, p, "clusterArns")


def delete_cluster(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(_req(p, "cluster"))
    if any(s.status in ("ACTIVE", "DRAINING") for s in plane.services_in(cluster.name)):
        raise EcsError("ClusterContainsServicesException",
                       "The Cluster cannot be deleted while Services are active.")
    if any(ci.status in ("ACTIVE", "DRAINING") for ci in plane.instances_in(cluster.name)):
        raise EcsError("ClusterContainsContainerInstancesException",
                       "The Cluster cannot be deleted while Container Instances are active "
                       "or draining.")
    if any(t.last_status != "STOPPED" for t in plane.cluster_tasks.get(cluster.name, {})
           .values()):
        raise EcsError("ClusterContainsTasksException",
                       "The Cluster cannot be deleted while Tasks are active.")
    cluster.status = "INACTIVE"
    return {"cluster": cluster.to_api(plane.cluster_stats(cluster), {"TAGS"})}


def put_cluster_capacity_providers(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(_req(p, "cluster"))
    if p.get("capacityProviders") is None or p.get("defaultCapacityProviderStrategy") is None:
        raise errors.invalid("capacityProviders and defaultCapacityProviderStrategy are "
                             "required.")
    strategy = capacity.check_association(plane, cluster.name, list(p["capacityProviders"]),
                                          p["defaultCapacityProviderStrategy"])
    cluster.capacity_providers = list(p["capacityProviders"])
    cluster.default_capacity_provider_strategy = strategy
    return {"cluster": cluster.to_api(plane.cluster_stats(cluster), {"TAGS"})}


def _merge_settings(current: list[dict], new: list[dict]) -> list[dict]:
    merged = {s["name"]: s for s in current}
    for s in new or []:
        merged[s["name"]] = {"name": s["name"], "value": s.get("value")}
    return list(merged.values())


def update_cluster(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(_req(p, "cluster"))
    if p.get("settings") is not None:
        cluster.settings = _merge_settings(cluster.settings, p["settings"])
    if p.get("configuration") is not None:
        cluster.configuration = copy.deepcopy(p["configuration"])
    if p.get("serviceConnectDefaults") is not None:
        cluster.service_connect_defaults = copy.deepcopy(p["serviceConnectDefaults"])
    return {"cluster": cluster.to_api(plane.cluster_stats(cluster),
                                      {"TAGS", "CONFIGURATIONS"})}


def update_cluster_settings(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(_req(p, "cluster"))
    cluster.settings = _merge_settings(cluster.settings, _req(p, "settings"))
    return {"cluster": cluster.to_api(plane.cluster_stats(cluster), {"TAGS"})}


# ------------------------------------------------------------- task definitions
def _normalise_container(c: dict, network_mode: str) -> dict:
    c = copy.deepcopy(c)
    c.setdefault("cpu", 0)
    c.setdefault("essential", True)
    c.setdefault("portMappings", [])
    c.setdefault("environment", [])
    c.setdefault("mountPoints", [])
    c.setdefault("volumesFrom", [])
    for m in c["portMappings"]:
        m.setdefault("protocol", "tcp")
        if m.get("hostPort") is None and m.get("containerPort") is not None:
            m["hostPort"] = m["containerPort"] if network_mode in ("host", "awsvpc") else 0
    return c


def register_task_definition(plane: EcsControlPlane, p: Params) -> dict:
    family = p.get("family") or ""
    if not NAME_RE.match(family):
        raise errors.client("Family contains invalid characters or is too long: up to 255 "
                            "letters, numbers, hyphens and underscores.")
    containers = p.get("containerDefinitions") or []
    if not containers:
        raise errors.client("Container list cannot be empty.")
    mode = p.get("networkMode") or "bridge"
    names = set()
    for c in containers:
        if not c.get("name"):
            raise errors.client("Container.name should not be null or empty.")
        if c["name"] in names:
            raise errors.client(f"Duplicate container name found: {c['name']}")
        names.add(c["name"])
        if not c.get("image"):
            raise errors.client("Container.image should not be null or empty.")
        if not p.get("memory") and c.get("memory") is None and \
                c.get("memoryReservation") is None:
            raise errors.client(f"Invalid setting for container '{c['name']}'. At least one "
                                "of 'memory' or 'memoryReservation' must be specified.")
    body = {k: copy.deepcopy(v) for k, v in p.items()
            if k not in ("family", "tags") and v is not None}
    for key in ("taskRoleArn", "executionRoleArn"):
        if not body.get(key):
            body.pop(key, None)
    body["containerDefinitions"] = [_normalise_container(c, mode) for c in containers]
    for c in body.get("placementConstraints") or []:
        if c.get("type") != "memberOf":
            raise errors.client("Task definition placement constraints must be memberOf.")
    try:
        placement.Constraints(body.get("placementConstraints") or [])
    except QueryError as exc:
        raise errors.client(f"Invalid placement constraint expression: {exc}") from None
    revisions = plane.task_definitions.setdefault(family, [])
    td = TaskDefinition(family=family, revision=len(revisions) + 1,
                        arn=plane.arn(f"task-definition/{family}:{len(revisions) + 1}"),
                        body=body, registered_at=plane.now(), registered_by=plane.principal,
                        tags=_tags(p))
    revisions.append(td)
    out = {"taskDefinition": td.to_api()}
    if td.tags:
        out["tags"] = copy.deepcopy(td.tags)
    return out


def describe_task_definition(plane: EcsControlPlane, p: Params) -> dict:
    td = plane.resolve_task_definition(_req(p, "taskDefinition"))
    if td is None:
        raise errors.client("Unable to describe task definition.")
    out = {"taskDefinition": td.to_api()}
    if "TAGS" in _include(p):
        out["tags"] = copy.deepcopy(td.tags)
    return out


def list_task_definitions(plane: EcsControlPlane, p: Params) -> dict:
    status = p.get("status") or "ACTIVE"
    family = p.get("familyPrefix")
    tds = [td for fam, revs in sorted(plane.task_definitions.items())
           if family is None or fam == family for td in revs if td.status == status]
    return paginate([td.arn for td in tds], p, "taskDefinitionArns", order=_family_revision,
                    descending=(p.get("sort") or "ASC") == "DESC")


def _family_revision(arn: str) -> list:
    """ListTaskDefinitions' documented order: by family, then revision."""
    family, _, revision = arn.split(":task-definition/", 1)[-1].rpartition(":")
    return [family, int(revision)]


def list_task_definition_families(plane: EcsControlPlane, p: Params) -> dict:
    status = p.get("status") or "ALL"
    prefix = p.get("familyPrefix") or ""
    out = []
    for fam, revs in sorted(plane.task_definitions.items()):
        if not fam.startswith(prefix):
            continue
        has_active = any(td.status == "ACTIVE" for td in revs)
        if status == "ACTIVE" and not has_active:
            continue
        if status == "INACTIVE" and has_active:
            continue
        if all(td.status == "DELETE_IN_PROGRESS" for td in revs):
            continue
        out.append(fam)
    return paginate(out, p, "families")


def deregister_task_definition(plane: EcsControlPlane, p: Params) -> dict:
    ref = _req(p, "taskDefinition")
    if ":" not in ref.split("/")[-1]:
        raise errors.client("A revision is required to deregister a task definition.")
    td = plane.resolve_task_definition(ref)
    if td is None:
        raise errors.client("The specified task definition does not exist.")
    if td.status == "ACTIVE":
        td.status = "INACTIVE"
        td.deregistered_at = plane.now()
    return {"taskDefinition": td.to_api()}


def delete_task_definitions(plane: EcsControlPlane, p: Params) -> dict:
    refs = _limit(p, "taskDefinitions", 10)
    out, failures = [], []
    for ref in refs:
        td = plane.resolve_task_definition(ref)
        if td is None:
            failures.append({"arn": ref, "reason": "The specified task definition does not "
                                                   "exist."})
        elif td.status == "ACTIVE":
            failures.append({"arn": td.arn, "reason": "The specified task definition is "
                                                      "still in ACTIVE status."})
        else:
            td.status = "DELETE_IN_PROGRESS"
            td.delete_requested_at = plane.now()
            out.append(td.to_api())
    return {"taskDefinitions": out, "failures": failures}


# --------------------------------------------------------------------- services
def _validate_load_balancers(td: TaskDefinition, lbs: list[dict]) -> list[dict]:
    out = []
    for lb in lbs or []:
        name, port = lb.get("containerName"), lb.get("containerPort")
        if not lb.get("targetGroupArn") and not lb.get("loadBalancerName"):
            raise errors.invalid("A load balancer needs targetGroupArn or loadBalancerName.")
        if name is None or port is None:
            raise errors.invalid("containerName and containerPort are required for a load "
                                 "balancer.")
        container = next((c for c in td.containers if c.get("name") == name), None)
        if container is None:
            raise errors.invalid(f"The container {name} does not exist in the task "
                                 "definition.")
        if not any(int(m.get("containerPort") or -1) == int(port)
                   for m in container.get("portMappings") or []):
            raise errors.invalid(f"The container {name} did not have a container port "
                                 f"{port} defined.")
        out.append(copy.deepcopy(lb))
    return out


def _deployment_configuration(raw: Optional[dict], current: Optional[dict] = None) -> dict:
    cfg = copy.deepcopy(current or {})
    for k, v in (raw or {}).items():
        if v is not None:
            cfg[k] = copy.deepcopy(v)
    mx, mn = cfg.get("maximumPercent"), cfg.get("minimumHealthyPercent")
    if mx is not None and int(mx) < 0 or mn is not None and int(mn) < 0:
        raise errors.invalid("Deployment configuration percentages cannot be negative.")
    if mn is not None and int(mn) > 100:
        raise errors.invalid("minimumHealthyPercent cannot be greater than 100.")
    _check_strategy(cfg)
    return cfg


def _minutes(value: Any, name: str, low: int, high: int) -> None:
    if value is not None and not low <= int(value) <= high:
        raise errors.invalid(f"{name} must be between {low} and {high}.")


def _check_strategy(cfg: dict) -> None:
    """deploymentConfiguration's strategy, bake times and lifecycle hooks (docs/ecs-facts.md
    §1.8, §1.11). AWS_LAMBDA hooks are refused: the sandbox does not invoke Lambda functions
    from a deployment (README, sandbox table)."""
    strategy = cfg.get("strategy") or "ROLLING"
    if strategy not in revisions.STRATEGIES:
        raise errors.invalid(f"Invalid deployment strategy: {strategy}")
    _minutes(cfg.get("bakeTimeInMinutes"), "bakeTimeInMinutes", 0, revisions.BAKE_MAX_MINUTES)
    linear = cfg.get("linearConfiguration") or {}
    if linear.get("stepPercent") is not None and not 3.0 <= float(linear["stepPercent"]) <= 100:
        raise errors.invalid("linearConfiguration.stepPercent must be between 3.0 and 100.0.")
    _minutes(linear.get("stepBakeTimeInMinutes"), "stepBakeTimeInMinutes", 0, 1440)
    canary = cfg.get("canaryConfiguration") or {}
    if canary.get("canaryPercent") is not None and not 0.1 <= float(canary["canaryPercent"]) <= 100:
        raise errors.invalid("canaryConfiguration.canaryPercent must be between 0.1 and 100.0.")
    _minutes(canary.get("canaryBakeTimeInMinutes"), "canaryBakeTimeInMinutes", 0, 1440)
    for hook in cfg.get("lifecycleHooks") or []:
        kind = hook.get("targetType") or ("AWS_LAMBDA" if hook.get("hookTargetArn") else None)
        if kind == "AWS_LAMBDA":
            raise errors.invalid("The sandbox's ECS does not invoke AWS_LAMBDA lifecycle hooks; "
                                 "use PAUSE hooks (targetType PAUSE).")
        if kind != "PAUSE":
            raise errors.invalid(f"Invalid lifecycle hook targetType: {kind}")
        stages = hook.get("lifecycleStages") or []
        if not stages:
            raise errors.invalid("A lifecycle hook needs at least one lifecycleStages value.")
        for stage in stages:
            if stage not in revisions.HOOK_STAGES:
                raise errors.invalid(f"Invalid lifecycle stage: {stage}")
            if stage in revisions.NOT_FOR_PAUSE:
                raise errors.invalid(f"PAUSE hooks cannot be configured at the {stage} stage.")
        low, high, _ = revisions.PAUSE_TIMEOUT_MINUTES
        timeout = hook.get("timeoutConfiguration") or {}
        _minutes(timeout.get("timeoutInMinutes"), "timeoutInMinutes", low, high)
        if timeout.get("action") not in (None, "CONTINUE", "ROLLBACK"):
            raise errors.invalid(f"Invalid timeout action: {timeout['action']}")


def _new_deployment(plane: EcsControlPlane, svc: Service, td: TaskDefinition) -> Deployment:
    now = plane.now()
    dep_id = plane.new_deployment_id()
    return Deployment(id=dep_id, task_definition=td, created_at=now, updated_at=now,
                      desired_count=svc.desired_count,
                      load_balancers=copy.deepcopy(svc.load_balancers),
                      network_configuration=copy.deepcopy(svc.network_configuration),
                      rollout_state="IN_PROGRESS",
                      rollout_state_reason=f"ECS deployment {dep_id} in progress.",
                      launch_type=svc.launch_type,
                      capacity_provider_strategy=copy.deepcopy(svc.capacity_provider_strategy)
                      or None,
                      strategy=svc.deployment_configuration.get("strategy") or "ROLLING",
                      config=copy.deepcopy(svc.deployment_configuration))


def _start_deployment(plane: EcsControlPlane, svc: Service, td: TaskDefinition) -> None:
    dep = _new_deployment(plane, svc, td)
    # A native strategy walks its lifecycle when it replaces a revision with tasks; the first
    # deployment of a service starts its tasks as a rolling one does [I] (docs/ecs-facts.md §1.11)
    if dep.strategy in revisions.NATIVE and svc.scheduling_strategy == "REPLICA" and any(
            t.live for t in svc.tasks.values()):
        dep.lifecycle_stage = "RECONCILE_SERVICE"
    for old in svc.deployments:
        old.status = "ACTIVE"
        old.updated_at = dep.created_at
        if old.strategy in revisions.NATIVE and old.rollout_state == "IN_PROGRESS" \
                and not old.sd_status:
            old.sd_status = "STOPPED"
            old.sd_reason = "Superseded by a newer service deployment."
            old.finished_at = dep.created_at
    svc.deployments.insert(0, dep)
    svc.history.insert(0, dep)
    svc.steady = False
    plane.emit(events.deployment_state_change(plane, svc, dep, "SERVICE_DEPLOYMENT_IN_PROGRESS",
                                              dep.rollout_state_reason))


def create_service(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    name = _req(p, "serviceName")
    if not NAME_RE.match(name):
        raise errors.invalid("Service name can contain only letters, numbers, hyphens and "
                             "underscores, up to 255 characters.")
    existing = plane.services.get((cluster.name, name))
    if existing is not None and existing.status != "INACTIVE":
        raise errors.invalid("Creation of service was not idempotent.")
    controller = p.get("deploymentController") or {"type": "ECS"}
    if controller.get("type", "ECS") != "ECS":
        raise errors.invalid("The sandbox's ECS supports only the ECS deployment controller.")
    _ec2_only(p.get("launchType"))
    launch_type, cps = capacity.resolve(plane, cluster, p.get("capacityProviderStrategy"),
                                        p.get("launchType"))
    strategy = p.get("schedulingStrategy") or "REPLICA"
    if strategy not in ("REPLICA", "DAEMON"):
        raise errors.invalid(f"Invalid schedulingStrategy: {strategy}")
    desired = _int(p, "desiredCount")
    if strategy == "REPLICA":
        if desired is None:
            raise errors.invalid("desiredCount is required for a service with the REPLICA "
                                 "scheduling strategy.")
        if desired < 0:
            raise errors.invalid("desiredCount cannot be negative.")
    else:
        if p.get("placementStrategy"):
            raise errors.invalid("Placement strategies are not supported with the DAEMON "
                                 "scheduling strategy.")
        desired = 0
    td = _td_for_use(plane, p.get("taskDefinition"))
    lbs = _validate_load_balancers(td, p.get("loadBalancers") or [])
    net = network.validate(plane, td, p.get("networkConfiguration"))
    network.check_target_groups(plane, td, lbs)
    _constraints(p.get("placementConstraints"), td)
    role = p.get("role") or ""
    role_arn = role if role.startswith("arn:") else (
        f"arn:aws:iam::{plane.account}:role/{role}" if role else None)
    if lbs and not role_arn:
        role_arn = (f"arn:aws:iam::{plane.account}:role/aws-service-role/ecs.amazonaws.com/"
                    "AWSServiceRoleForECS")
    now = plane.now()
    svc = Service(
        name=name, arn=plane.arn(f"service/{cluster.name}/{name}"), cluster_name=cluster.name,
        cluster_arn=cluster.arn, created_at=now, created_by=plane.principal,
        desired_count=desired, scheduling_strategy=strategy, load_balancers=lbs,
        service_registries=copy.deepcopy(p.get("serviceRegistries") or []),
        launch_type=launch_type, capacity_provider_strategy=cps,
        platform_version=p.get("platformVersion"),
        deployment_configuration=_deployment_configuration(p.get("deploymentConfiguration")),
        role_arn=role_arn,
        placement_constraints=copy.deepcopy(p.get("placementConstraints") or []),
        placement_strategy=_strategies(p.get("placementStrategy")),
        network_configuration=net,
        health_check_grace_period_seconds=_int(p, "healthCheckGracePeriodSeconds"),
        deployment_controller={"type": "ECS"}, tags=_tags(p),
        enable_ecs_managed_tags=bool(p.get("enableECSManagedTags")),
        propagate_tags=p.get("propagateTags") or "NONE",
        enable_execute_command=bool(p.get("enableExecuteCommand")),
    )
    _az_rebalancing_on_create(plane, svc, td, p.get("availabilityZoneRebalancing"))
    plane.services.pop((cluster.name, name), None)
    plane.services[(cluster.name, name)] = svc
    _start_deployment(plane, svc, td)
    return {"service": plane.describe_service(svc, {"TAGS"})}


def _az_rebalancing_on_create(plane: EcsControlPlane, svc: Service, td: TaskDefinition,
                              value: Optional[str]) -> None:
    """The documented default: ENABLED for eligible services, DISABLED for the others."""
    azrebalance.check_requested(svc, value, td)
    svc.availability_zone_rebalancing = value or azrebalance.default_for(
        svc, td, plane.config.az_rebalancing_default)


def update_service(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    svc = plane.get_service(cluster, _req(p, "service"))
    if svc.status != "ACTIVE":
        raise errors.service_not_active()
    _ec2_only(p.get("launchType"))
    if (p.get("deploymentController") or {}).get("type", "ECS") != "ECS":
        raise errors.invalid("The sandbox's ECS supports only the ECS deployment controller.")
    td = svc.primary.task_definition
    new_deployment = bool(p.get("forceNewDeployment"))
    if p.get("taskDefinition"):
        wanted = _td_for_use(plane, p["taskDefinition"])
        if wanted.arn != td.arn:
            td, new_deployment = wanted, True
    given_net = p.get("networkConfiguration")
    net = network.validate(plane, td, given_net if given_net is not None else (
        svc.network_configuration if network.is_awsvpc(td) else None))
    network.check_target_groups(plane, td, p["loadBalancers"] if p.get("loadBalancers")
                                is not None else svc.load_balancers)
    desired = _int(p, "desiredCount")
    if desired is not None:
        if desired < 0:
            raise errors.invalid("desiredCount cannot be negative.")
        if svc.scheduling_strategy == "REPLICA":
            svc.desired_count = desired
    if p.get("loadBalancers") is not None:
        lbs = _validate_load_balancers(td, p["loadBalancers"])
        if lbs != svc.load_balancers:
            svc.load_balancers = lbs
            new_deployment = True
    elif new_deployment and svc.load_balancers:
        _validate_load_balancers(td, svc.load_balancers)
    if net != svc.network_configuration:
        svc.network_configuration = net
        new_deployment = True
    if p.get("placementConstraints") is not None:
        _constraints(p["placementConstraints"], td)
        svc.placement_constraints = copy.deepcopy(p["placementConstraints"])
    if p.get("placementStrategy") is not None:
        if svc.scheduling_strategy == "DAEMON" and p["placementStrategy"]:
            raise errors.invalid("Placement strategies are not supported with the DAEMON "
                                 "scheduling strategy.")
        svc.placement_strategy = _strategies(p["placementStrategy"])
    if p.get("deploymentConfiguration") is not None:
        svc.deployment_configuration = _deployment_configuration(
            p["deploymentConfiguration"], svc.deployment_configuration)
    if p.get("healthCheckGracePeriodSeconds") is not None:
        svc.health_check_grace_period_seconds = _int(p, "healthCheckGracePeriodSeconds")
    for key, attr in (("enableExecuteCommand", "enable_execute_command"),
                      ("enableECSManagedTags", "enable_ecs_managed_tags")):
        if p.get(key) is not None:
            setattr(svc, attr, bool(p[key]))
    if p.get("propagateTags") is not None:
        svc.propagate_tags = p["propagateTags"]
    if p.get("availabilityZoneRebalancing") is not None:   # no value keeps the current one
        azrebalance.check_requested(svc, p["availabilityZoneRebalancing"], td)
        svc.availability_zone_rebalancing = p["availabilityZoneRebalancing"]
    if p.get("capacityProviderStrategy") is not None or p.get("launchType"):
        launch_type, cps = capacity.resolve(plane, cluster, p.get("capacityProviderStrategy"),
                                            p.get("launchType"))
        if (launch_type, cps) != (svc.launch_type, svc.capacity_provider_strategy):
            svc.launch_type, svc.capacity_provider_strategy = launch_type, cps
            new_deployment = True   # the deployment carries where its tasks run
    if p.get("serviceRegistries") is not None:
        svc.service_registries = copy.deepcopy(p["serviceRegistries"])
    if new_deployment:
        _start_deployment(plane, svc, td)
    else:
        svc.primary.desired_count = svc.desired_count
    return {"service": plane.describe_service(svc, {"TAGS"})}


def describe_services(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    refs = _req(p, "services")
    if len(refs) > 10:
        raise errors.invalid("services can have at most 10 items.")
    include = _include(p)
    out, failures = [], []
    for ref in refs:
        svc = plane.find_service(cluster, ref)
        if svc is None:
            name = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
            failures.append(_missing(plane.arn(f"service/{cluster.name}/{name}")))
        else:
            out.append(plane.describe_service(svc, include))
    return {"services": out, "failures": failures}


def list_services(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    strategy = p.get("schedulingStrategy")
    launch = p.get("launchType")
    arns = [s.arn for s in plane.services_in(cluster.name)
            if s.status in ("ACTIVE", "DRAINING")
            and (strategy is None or s.scheduling_strategy == strategy)
            and (launch is None or (s.launch_type or "EC2") == launch)]
    return paginate(arns, p, "serviceArns", default=10, maximum=100)


def delete_service(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    svc = plane.get_service(cluster, _req(p, "service"))
    if svc.status == "INACTIVE":
        raise errors.service_not_active()
    if svc.status == "ACTIVE":
        if not p.get("force") and svc.scheduling_strategy == "REPLICA" and svc.desired_count > 0:
            raise errors.invalid("The service cannot be stopped while it is scaled above 0.")
        svc.desired_count = 0
        svc.primary.desired_count = 0
        svc.status = "DRAINING"
        svc.steady = False
    return {"service": plane.describe_service(svc, {"TAGS"})}


# ------------------------------------------------------------------------ tasks
def _task_tags(p: Params, td: TaskDefinition, cluster: Cluster) -> list[dict]:
    tags = _tags(p)
    if p.get("propagateTags") == "TASK_DEFINITION":
        tags = _merge_tags(copy.deepcopy(td.tags), tags)
    if p.get("enableECSManagedTags"):
        tags = tags + [{"key": "aws:ecs:clusterName", "value": cluster.name}]
    return tags


def _started_by(p: Params) -> Optional[str]:
    value = p.get("startedBy")
    if value and len(value) > 128:
        raise errors.invalid("startedBy can be at most 128 characters.")
    return value or None


def run_task(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    td = _td_for_use(plane, p.get("taskDefinition"))
    _ec2_only(p.get("launchType"))
    count = _int(p, "count", 1)
    if not 1 <= count <= 10:
        raise errors.invalid("count must be between 1 and 10.")
    started_by = _started_by(p)
    group = p.get("group") or f"family:{td.family}"
    cons = _constraints(p.get("placementConstraints"), td)
    strategies = _strategies(p.get("placementStrategy")) or list(placement.DEFAULT_STRATEGY)
    net = network.validate(plane, td, p.get("networkConfiguration"))
    _, cps = capacity.resolve(plane, cluster, p.get("capacityProviderStrategy"),
                              p.get("launchType"))
    if not cps and not any(ci.status == "ACTIVE" for ci in plane.instances_in(cluster.name)):
        raise errors.invalid("No Container Instances were found in your cluster.")
    placed, failure = launch.place_tasks(
        plane, cluster.name, td, count, group=group, constraints=cons,
        strategies=strategies, started_by=started_by, overrides=p.get("overrides"),
        tags=_task_tags(p, td, cluster),
        enable_execute_command=bool(p.get("enableExecuteCommand")), network_configuration=net,
        capacity_strategy=cps)
    failures = []
    if failure is not None:
        failures = [{"arn": arn, "reason": reason}
                    for arn, reason in sorted(failure.per_host.items())]
    return {"tasks": [t.to_api(include={"TAGS"}) for t in placed], "failures": failures}


def start_task(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    td = _td_for_use(plane, p.get("taskDefinition"))
    refs = _req(p, "containerInstances")
    if len(refs) > 10:
        raise errors.invalid("containerInstances can have at most 10 items.")
    group = p.get("group") or f"family:{td.family}"
    cons = _constraints([], td)
    net = network.validate(plane, td, p.get("networkConfiguration"))
    shape = lifecycle.task_shape(td, group)
    tasks, failures = [], []
    for ref in refs:
        ci = plane.find_container_instance(cluster, ref)
        if ci is None or ci.status == "INACTIVE":
            failures.append(_missing(ref if ref.startswith("arn:") else plane.arn(
                f"container-instance/{cluster.name}/{ref}")))
            continue
        host = next(h for h in build_hosts(plane, cluster.name) if h.arn == ci.arn)
        result = launch.place_on(plane, host, td, group, cons, net)
        if isinstance(result, str):
            failures.append({"arn": ci.arn, "reason": result})
            continue
        task = lifecycle.start_task(plane, td=td, ci=ci, shape=shape,
                                    dynamic_ports=result.dynamic_ports, group=group,
                                    started_by=_started_by(p), overrides=p.get("overrides"),
                                    tags=_task_tags(p, td, cluster),
                                    enable_execute_command=bool(p.get("enableExecuteCommand")))
        tasks.append(task.to_api(include={"TAGS"}))
    return {"tasks": tasks, "failures": failures}


def stop_task(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    task = plane.find_task(cluster, _req(p, "task"))
    if task is None:
        raise errors.invalid("The referenced task was not found.")
    reason = p.get("reason") or lifecycle.USER
    if len(reason) > 1024:
        raise errors.invalid("reason can be at most 1024 characters.")
    lifecycle.stop(plane, task, reason, "UserInitiated")
    return {"task": task.to_api(include={"TAGS"})}


def _describe_each(plane: EcsControlPlane, p: Params, field: str, kind: str,
                   find: Callable[[Any, str], Any]) -> dict:
    """ECS's Describe* of a cluster's tasks or container instances: at most 100 references,
    each described or reported MISSING (a short id as the ARN ECS would have given it)."""
    cluster = plane.get_cluster(p.get("cluster"))
    refs = _req(p, field)
    if len(refs) > 100:
        raise errors.invalid(f"{field} can have at most 100 items.")
    include = _include(p)
    out, failures = [], []
    for ref in refs:
        found = find(cluster, ref)
        if found is None:
            failures.append(_missing(ref if ref.startswith("arn:") else plane.arn(
                f"{kind}/{cluster.name}/{ref}")))
        else:
            out.append(found.to_api(include=include))
    return {field: out, "failures": failures}


def describe_tasks(plane: EcsControlPlane, p: Params) -> dict:
    return _describe_each(plane, p, "tasks", "task", plane.find_task)


def list_tasks(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    tasks = list(plane.cluster_tasks.get(cluster.name, {}).values())
    if p.get("serviceName"):
        svc = plane.get_service(cluster, p["serviceName"])
        tasks = [t for t in tasks if t.service_name == svc.name
                 and t.group == svc.group]
    if p.get("containerInstance"):
        ci = plane.find_container_instance(cluster, p["containerInstance"])
        if ci is None:
            raise errors.invalid("The referenced container instance was not found.")
        tasks = [t for t in tasks if t.container_instance_arn == ci.arn]
    if p.get("family"):
        tasks = [t for t in tasks if t.task_definition.family == p["family"]]
    if p.get("startedBy"):
        tasks = [t for t in tasks if t.started_by == p["startedBy"]]
    if p.get("launchType") and p["launchType"] != "EC2":
        tasks = []
    desired = p.get("desiredStatus") or "RUNNING"
    tasks = [t for t in tasks if t.desired_status == desired]
    return paginate([t.arn for t in tasks], p, "taskArns")


# ---------------------------------------------------------- container instances
def register_container_instance(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    try:
        document = json.loads(p.get("instanceIdentityDocument") or "{}")
    except ValueError:
        raise errors.invalid("instanceIdentityDocument is not valid JSON.") from None
    iid = document.get("instanceId") if isinstance(document, dict) else None
    if not iid:
        raise errors.invalid("instanceIdentityDocument must contain an instanceId.")
    if p.get("containerInstanceArn"):
        ci = plane.find_container_instance(cluster, p["containerInstanceArn"])
        if ci is not None and ci.status != "INACTIVE":
            if not ci.agent_connected:
                ci.agent_connected = True
                plane.instance_changed(ci)
            return {"containerInstance": ci.to_api(include={"TAGS"})}
    existing = next((ci for ci in plane.instances_in(cluster.name)
                     if ci.ec2_instance_id == iid and ci.status != "INACTIVE"), None)
    if existing is not None:
        return {"containerInstance": existing.to_api(include={"TAGS"})}
    instance = agent.ec2_instances(plane).get(iid)
    conf = agent.agent_config(instance) if instance is not None else None
    try:
        ci = agent.register(plane, cluster, instance, conf,
                            total_resources=p.get("totalResources"),
                            attributes=p.get("attributes"), version_info=p.get("versionInfo"),
                            tags=_tags(p), document=document)
    except ValueError as exc:
        raise errors.client(str(exc)) from None
    return {"containerInstance": ci.to_api(include={"TAGS"})}


def deregister_container_instance(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    ci = plane.find_container_instance(cluster, _req(p, "containerInstance"))
    if ci is None or ci.status == "INACTIVE":
        raise errors.invalid("The referenced container instance was not found.")
    running = [t for t in ci.tasks.values() if t.last_status != "STOPPED"]
    if running and not p.get("force"):
        raise errors.invalid("The container instance has tasks running. Use force option to "
                             "deregister.")
    for t in running:
        lifecycle.stop(plane, t, "Container instance deregistration forced by user",
                       "UserInitiated", immediate=True)
    ci.status = "INACTIVE"
    ci.agent_connected = False
    ci.deregistered_at = plane.now()
    plane.instance_changed(ci)
    agent.forget_later(plane, ci)
    return {"containerInstance": ci.to_api(include={"TAGS"})}


def describe_container_instances(plane: EcsControlPlane, p: Params) -> dict:
    return _describe_each(plane, p, "containerInstances", "container-instance",
                          plane.find_container_instance)


def list_container_instances(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    status = p.get("status")
    if status and status not in ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING",
                                 "REGISTRATION_FAILED"):
        raise errors.invalid(f"Invalid status: {status}")
    cis = [ci for ci in plane.instances_in(cluster.name)
           if (ci.status == status if status else ci.status != "INACTIVE")]
    if p.get("filter"):
        try:
            pred = parse(p["filter"])
        except QueryError as exc:
            raise errors.invalid(f"Invalid filter expression: {exc}") from None
        hosts = {h.arn: h for h in build_hosts(plane, cluster.name)}
        cis = [ci for ci in cis if ci.arn in hosts and pred(hosts[ci.arn].resolve)]
    return paginate([ci.arn for ci in cis], p, "containerInstanceArns")


def update_container_instances_state(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    refs = _req(p, "containerInstances")
    if len(refs) > 10:
        raise errors.invalid("containerInstances can have at most 10 items.")
    status = _req(p, "status")
    if status not in ("ACTIVE", "DRAINING"):
        raise errors.invalid("Container instance status can only be set to ACTIVE or "
                             "DRAINING.")
    out, failures = [], []
    for ref in refs:
        ci = plane.find_container_instance(cluster, ref)
        if ci is None:
            failures.append(_missing(ref if ref.startswith("arn:") else plane.arn(
                f"container-instance/{cluster.name}/{ref}")))
            continue
        if ci.status == "INACTIVE":
            failures.append({"arn": ci.arn, "reason": "INACTIVE"})
            continue
        if ci.status != status:
            ci.status = status
            plane.instance_changed(ci)
            for svc in plane.services_in(cluster.name):
                svc.steady = svc.steady and status == "ACTIVE"
        out.append(ci.to_api())
    return {"containerInstances": out, "failures": failures}


def discover_poll_endpoint(plane: EcsControlPlane, p: Params) -> dict:
    endpoint = plane.endpoint()
    return {"endpoint": endpoint, "telemetryEndpoint": endpoint,
            "serviceConnectEndpoint": endpoint}


# ------------------------------------------------------------------- attributes
ATTR_NAME = re.compile(r"^[A-Za-z0-9_.\-/@]{1,128}$")


def _attribute_target(plane: EcsControlPlane, cluster: Cluster, a: dict):
    if (a.get("targetType") or "container-instance") != "container-instance":
        raise errors.invalid("targetType must be container-instance.")
    if not a.get("targetId"):
        # An attribute belongs to one resource (API PutAttributes: "the attributes to apply to
        # your resource"), named by targetId; ECS has no cluster-wide attributes.
        raise errors.invalid(f"Attribute {a.get('name')!r} has no targetId: name the container "
                             "instance (ID or ARN) it belongs to.")
    ci = plane.find_container_instance(cluster, a.get("targetId") or "")
    if ci is None or ci.status == "INACTIVE":
        raise EcsError("TargetNotFoundException",
                       f"Could not find {a.get('targetId')}. Check the target and try again.")
    return ci


def put_attributes(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    attrs = _limit(p, "attributes", 10)
    out = []
    for a in attrs:
        if not ATTR_NAME.match(a.get("name") or ""):
            raise errors.invalid(f"Invalid attribute name: {a.get('name')}")
        value = a.get("value")
        if value is not None and not 1 <= len(value) <= 128:
            raise errors.invalid("Attribute values must be 1-128 characters.")
        ci = _attribute_target(plane, cluster, a)
        if ci.attributes.get(a["name"], "\0") != value:
            ci.attributes[a["name"]] = value
            plane.instance_changed(ci)
        item = {"name": a["name"], "targetType": "container-instance", "targetId": ci.arn}
        if value is not None:
            item["value"] = value
        out.append(item)
    return {"attributes": out}


def delete_attributes(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    out = []
    for a in _limit(p, "attributes", 10):
        ci = _attribute_target(plane, cluster, a)
        if a.get("name") in ci.attributes:
            del ci.attributes[a["name"]]
            plane.instance_changed(ci)
        out.append({"name": a.get("name"), "targetType": "container-instance",
                    "targetId": ci.arn})
    return {"attributes": out}


def list_attributes(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    if _req(p, "targetType") != "container-instance":
        raise errors.invalid("targetType must be container-instance.")
    name, value = p.get("attributeName"), p.get("attributeValue")
    if value is not None and name is None:
        raise errors.invalid("attributeValue requires attributeName.")
    out = []
    for ci in plane.instances_in(cluster.name):
        if ci.status == "INACTIVE":
            continue
        for k, v in ci.attributes.items():
            if name is not None and k != name or value is not None and v != value:
                continue
            item = {"name": k, "targetType": "container-instance", "targetId": ci.arn}
            if v is not None:
                item["value"] = v
            out.append(item)
    return paginate(out, p, "attributes", order=lambda a: [a["targetId"], a["name"]])


# ------------------------------------------------------------------------- tags
def _tagged(plane: EcsControlPlane, arn: str):
    m = re.match(r"^arn:aws[a-z-]*:ecs:[^:]*:[^:]*:([a-z-]+)/(.+)$", arn or "")
    if not m:
        raise errors.invalid("The ARN is not a valid ECS resource ARN.")
    kind, rest = m.group(1), m.group(2)
    if kind == "task-definition":
        td = plane.resolve_task_definition(rest)
        if td is None:
            raise errors.resource_not_found()
        return td
    parts = rest.split("/")
    if kind == "capacity-provider":     # arn:...:capacity-provider/<name>, no cluster in it
        cp = plane.capacity.providers.get(parts[-1])
        if cp is None or cp.status != "ACTIVE":
            raise errors.resource_not_found()
        return cp
    if kind == "cluster":
        cluster = plane.clusters.get(parts[0])
        if cluster is None or cluster.status != "ACTIVE":
            raise errors.cluster_not_found()
        return cluster
    cluster_name = parts[0] if len(parts) > 1 else "default"
    cluster = plane.get_cluster(cluster_name)
    found = None
    if kind == "service":
        found = plane.find_service(cluster, parts[-1])
    elif kind == "task":
        found = plane.find_task(cluster, parts[-1])
    elif kind == "container-instance":
        found = plane.find_container_instance(cluster, parts[-1])
    if found is None:
        raise errors.resource_not_found()
    return found


def tag_resource(plane: EcsControlPlane, p: Params) -> dict:
    obj = _tagged(plane, _req(p, "resourceArn"))
    obj.tags = _merge_tags(obj.tags, _tags(p))
    if len(obj.tags) > 50:
        raise errors.invalid("Too many tags: at most 50 tags per resource.")
    return {}


def untag_resource(plane: EcsControlPlane, p: Params) -> dict:
    obj = _tagged(plane, _req(p, "resourceArn"))
    keys = set(p.get("tagKeys") or [])
    obj.tags = [t for t in obj.tags if t["key"] not in keys]
    return {}


def list_tags_for_resource(plane: EcsControlPlane, p: Params) -> dict:
    obj = _tagged(plane, _req(p, "resourceArn"))
    return {"tags": copy.deepcopy(obj.tags)}


# -------------------------------------------------------------- task protection
def update_task_protection(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(_req(p, "cluster"))
    refs = _req(p, "tasks")
    if len(refs) > 10:
        raise errors.invalid("tasks can have at most 10 items.")
    if p.get("protectionEnabled") is None:
        raise errors.invalid("protectionEnabled can not be blank.")
    enabled = bool(p["protectionEnabled"])
    minutes = _int(p, "expiresInMinutes")
    if minutes is not None and not 1 <= minutes <= 2880:
        raise errors.invalid("expiresInMinutes must be between 1 and 2880 minutes.")
    minutes = 120 if minutes is None else minutes
    now = plane.now()
    protected, failures = [], []
    for ref in refs:
        task = plane.find_task(cluster, ref)
        arn = ref if ref.startswith("arn:") else plane.arn(f"task/{cluster.name}/{ref}")
        if task is None:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        if not task.service_name or task.last_status == "STOPPED":
            failures.append({"arn": task.arn, "reason": "TASK_NOT_VALID",
                             "detail": "Task scale-in protection is only available for tasks "
                                       "that belong to a service."})
            continue
        if enabled:
            if not task.protected(now) and _protection_blocked(plane, cluster, task, now):
                # task-scale-in-protection.html: DEPLOYMENT_BLOCKED "means the service has
                # more protected tasks than the desired count of tasks for the service".
                failures.append({"arn": task.arn, "reason": "DEPLOYMENT_BLOCKED"})
                continue
            task.protected_until = now + minutes * 60
            plane.runtime.call_at(task.protected_until, lambda: None)  # re-evaluate then
        else:
            task.protected_until = None
        protected.append(_protection(task, now))
    return {"protectedTasks": protected, "failures": failures}


def _protection_blocked(plane: EcsControlPlane, cluster, task, now: float) -> bool:
    """Whether protecting one more task would leave its service with more protected tasks
    than its desiredCount (docs/ecs-facts.md §1.6b). Checked task by task in the call's order,
    so a call protects as many as fit and fails the rest [I: AWS does not say whether a call
    that would overshoot fails whole or in part]."""
    svc = plane.find_service(cluster, task.service_name)
    if svc is None:
        return False
    protected = sum(1 for t in svc.tasks.values() if t.live and t.protected(now))
    return protected + 1 > svc.desired_count


def _protection(task, now: float) -> dict:
    if task.protected(now):
        return {"taskArn": task.arn, "protectionEnabled": True,
                "expirationDate": round(task.protected_until, 3)}
    return {"taskArn": task.arn, "protectionEnabled": False}


def get_task_protection(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(_req(p, "cluster"))
    refs = p.get("tasks")
    if refs and len(refs) > 100:
        raise errors.invalid("tasks can have at most 100 items.")
    now = plane.now()
    protected, failures = [], []
    if not refs:
        refs = [t.arn for t in plane.cluster_tasks.get(cluster.name, {}).values()
                if t.service_name and t.live]
    for ref in refs:
        task = plane.find_task(cluster, ref)
        if task is None:
            failures.append({"arn": ref if ref.startswith("arn:") else plane.arn(
                f"task/{cluster.name}/{ref}"), "reason": "MISSING"})
        elif not task.service_name:
            failures.append({"arn": task.arn, "reason": "TASK_NOT_VALID"})
        else:
            protected.append(_protection(task, now))
    return {"protectedTasks": protected, "failures": failures}


# ------------------------------------------------------------ account settings
DEFAULT_SETTINGS = {
    "serviceLongArnFormat": "enabled", "taskLongArnFormat": "enabled",
    "containerInstanceLongArnFormat": "enabled", "awsvpcTrunking": "disabled",
    "containerInsights": "disabled", "dualStackIPv6": "disabled",
    "fargateFIPSMode": "disabled", "tagResourceAuthorization": "on",
    "fargateTaskRetirementWaitPeriod": "7", "guardDutyActivate": "off",
    "defaultLogDriverMode": "non-blocking",
}


# Settings are kept per principal (API PutAccountSetting "principalArn": the root user may set
# them for any user or role; without it, for the caller), plus the account's default
# (PutAccountSettingDefault). guardDutyActivate is the one setting AWS manages (API Setting
# "type").
ACCOUNT_DEFAULT = "default"
AWS_MANAGED = {"guardDutyActivate"}


def _setting(name: str, value: str, principal: str) -> dict:
    return {"name": name, "value": value, "principalArn": principal,
            "type": "aws_managed" if name in AWS_MANAGED else "user"}


def _valid_setting_name(name: str) -> str:
    if name not in DEFAULT_SETTINGS:
        raise errors.invalid(f"Invalid account setting name: {name}")
    return name


def list_account_settings(plane: EcsControlPlane, p: Params) -> dict:
    """API ListAccountSettings: without ``effectiveSettings`` only the settings set for the
    principal (``principalArn``, else the caller) are listed, none at first; with it, what
    applies to the principal: its own, else the account default, else AWS's default."""
    if p.get("name"):
        _valid_setting_name(p["name"])
    principal = p.get("principalArn") or plane.principal
    own = plane.account_settings.get(principal, {})
    if p.get("effectiveSettings"):
        settings = {**DEFAULT_SETTINGS, **plane.account_settings.get(ACCOUNT_DEFAULT, {}), **own}
    else:
        settings = dict(own)
    out = [_setting(k, v, principal) for k, v in settings.items()
           if (not p.get("name") or k == p["name"]) and (not p.get("value") or v == p["value"])]
    return paginate(out, p, "settings", default=10, order=lambda s: [s["name"]])


def put_account_setting(plane: EcsControlPlane, p: Params) -> dict:
    name, value = _valid_setting_name(_req(p, "name")), _req(p, "value")
    principal = p.get("principalArn") or plane.principal
    plane.account_settings.setdefault(principal, {})[name] = value
    return {"setting": _setting(name, value, principal)}


def put_account_setting_default(plane: EcsControlPlane, p: Params) -> dict:
    name, value = _valid_setting_name(_req(p, "name")), _req(p, "value")
    plane.account_settings.setdefault(ACCOUNT_DEFAULT, {})[name] = value
    return {"setting": _setting(name, value, plane.principal)}


def delete_account_setting(plane: EcsControlPlane, p: Params) -> dict:
    name = _valid_setting_name(_req(p, "name"))
    principal = p.get("principalArn") or plane.principal
    value = plane.account_settings.get(principal, {}).pop(
        name, plane.account_settings.get(ACCOUNT_DEFAULT, {}).get(name, DEFAULT_SETTINGS[name]))
    return {"setting": _setting(name, value, principal)}


# ------------------------------------------------- service deployments and revisions
def _ts(t: float) -> float:
    return round(t, 3)     # epoch seconds, as every other ECS timestamp here


def _deployment_counts(plane: EcsControlPlane, svc: Service) -> dict:
    """deployment id -> {"running": n, "pending": n} of the service's tasks."""
    out: dict = {}
    for task in svc.tasks.values():
        mine = out.setdefault(task.deployment_id, {"running": 0, "pending": 0})
        if task.last_status == "RUNNING":
            mine["running"] += 1
        elif task.last_status in ("PROVISIONING", "PENDING", "ACTIVATING"):
            mine["pending"] += 1
    return out


def _service_deployment(plane: EcsControlPlane, arn: str, kind: str):
    """(service, deployment) an ARN of ``kind`` (service-deployment | service-revision) names."""
    m = re.match(rf"^arn:aws[a-z-]*:ecs:[^:]*:[^:]*:{kind}/([^/]+)/([^/]+)/([^/]+)$", arn or "")
    if not m:
        return None
    svc = plane.services.get((m.group(1), m.group(2)))
    if svc is None:
        return None
    dep = next((d for d in svc.history if revisions.short_id(d) == m.group(3)), None)
    return (svc, dep) if dep is not None else None


def list_service_deployments(plane: EcsControlPlane, p: Params) -> dict:
    cluster = plane.get_cluster(p.get("cluster"))
    svc = plane.find_service(cluster, _req(p, "service"))
    if svc is None:
        raise errors.service_not_found()
    wanted = set(p.get("status") or [])
    for state in wanted - set(revisions.STATUSES):
        raise errors.invalid(f"Invalid status: {state}")
    created = p.get("createdAt") or {}
    after, before = created.get("after"), created.get("before")
    out = [revisions.brief(svc, d, _ts) for d in svc.history
           if (not wanted or revisions.status(svc, d)[0] in wanted)
           and (after is None or d.created_at >= float(after))
           and (before is None or d.created_at <= float(before))]
    started = {revisions.deployment_arn(svc, d): n for n, d in enumerate(reversed(svc.history))}
    return paginate(out, p, "serviceDeployments", default=20, descending=True,   # newest first
                    order=lambda d: [started[d["serviceDeploymentArn"]]])


def describe_service_deployments(plane: EcsControlPlane, p: Params) -> dict:
    return _describe_deployment_records(
        plane, p, "serviceDeploymentArns", "service-deployment", "serviceDeployments",
        lambda svc, dep: revisions.describe(svc, dep, _deployment_counts(plane, svc), _ts,
                                            svc.deployment_configuration_view()))


def describe_service_revisions(plane: EcsControlPlane, p: Params) -> dict:
    return _describe_deployment_records(
        plane, p, "serviceRevisionArns", "service-revision", "serviceRevisions",
        lambda svc, dep: revisions.revision(svc, dep, _ts))


def _describe_deployment_records(plane: EcsControlPlane, p: Params, arns_field: str, kind: str,
                                 out_field: str, render) -> dict:
    """Describe each of up to 20 service deployment or revision ARNs (both are records of one
    service deployment here); an ARN that names none is a MISSING failure."""
    found, failures = [], []
    for arn in _limit(p, arns_field, 20):
        hit = _service_deployment(plane, arn, kind)
        if hit is None:
            failures.append(_missing(arn))
        else:
            found.append(render(*hit))
    return {out_field: found, "failures": failures}


def _active_native(plane: EcsControlPlane, arn: str):
    hit = _service_deployment(plane, arn, "service-deployment")
    if hit is None:
        raise errors.resource_not_found(f"Service deployment {arn} not found.")
    svc, dep = hit
    if dep is not svc.primary or revisions.status(svc, dep)[0] != "IN_PROGRESS":
        raise errors.invalid(f"Service deployment {arn} is not IN_PROGRESS.")
    return svc, dep


def continue_service_deployment(plane: EcsControlPlane, p: Params) -> dict:
    """A deployment paused at a PAUSE hook continues or rolls back (docs/ecs-facts.md §1.11)."""
    arn = _req(p, "serviceDeploymentArn")
    svc, dep = _active_native(plane, arn)
    action = p.get("action") or "CONTINUE"
    if action not in ("CONTINUE", "ROLLBACK"):
        raise errors.invalid(f"Invalid action: {action}")
    try:
        scheduler.continue_hook(plane, svc, dep, _req(p, "hookId"), action)
    except ValueError as exc:
        raise errors.invalid(f"{exc}.") from None
    return {"serviceDeploymentArn": arn}


def stop_service_deployment(plane: EcsControlPlane, p: Params) -> dict:
    """stopType ROLLBACK (the default) rolls an in-progress native deployment back
    (ROLLBACK_REQUESTED, then ROLLBACK_IN_PROGRESS on the next pass); ABORT is not emulated."""
    arn = _req(p, "serviceDeploymentArn")
    svc, dep = _active_native(plane, arn)
    stop_type = p.get("stopType") or "ROLLBACK"
    if stop_type != "ROLLBACK":
        raise errors.invalid(f"The sandbox's ECS does not emulate stopType {stop_type}; "
                             "use ROLLBACK.")
    if dep.strategy not in revisions.NATIVE or not dep.lifecycle_stage:
        raise errors.invalid("The sandbox's ECS rolls back only BLUE_GREEN, LINEAR and CANARY "
                             "deployments.")
    scheduler.start_rollback(plane, svc, dep, "StopServiceDeployment requested a rollback.",
                             status="ROLLBACK_REQUESTED")
    return {"serviceDeploymentArn": arn}


def update_container_agent(plane: EcsControlPlane, p: Params) -> dict:
    """The sandbox's agent is always the newest (API UpdateContainerAgent,
    NoUpdateAvailableException: "There's no update available for your container agent")."""
    cluster = plane.get_cluster(p.get("cluster"))
    ci = plane.find_container_instance(cluster, _req(p, "containerInstance"))
    if ci is None or ci.status == "INACTIVE":
        raise EcsError("InvalidParameterException",
                       f"Container instance {p.get('containerInstance')} not found.")
    raise EcsError("NoUpdateAvailableException",
                   "There is no update available for your container agent.")


def list_services_by_namespace(plane: EcsControlPlane, p: Params) -> dict:
    return {"serviceArns": []}


# ------------------------------------------------------------------- dispatch
ACTIONS: dict[str, Callable[[EcsControlPlane, Params], dict]] = {
    "CreateCluster": create_cluster,
    "DescribeClusters": describe_clusters,
    "ListClusters": list_clusters,
    "DeleteCluster": delete_cluster,
    "PutClusterCapacityProviders": put_cluster_capacity_providers,
    "UpdateCluster": update_cluster,
    "UpdateClusterSettings": update_cluster_settings,
    "CreateCapacityProvider": capacity.create_capacity_provider,
    "DescribeCapacityProviders": capacity.describe_capacity_providers,
    "UpdateCapacityProvider": capacity.update_capacity_provider,
    "DeleteCapacityProvider": capacity.delete_capacity_provider,
    "RegisterTaskDefinition": register_task_definition,
    "DescribeTaskDefinition": describe_task_definition,
    "ListTaskDefinitions": list_task_definitions,
    "ListTaskDefinitionFamilies": list_task_definition_families,
    "DeregisterTaskDefinition": deregister_task_definition,
    "DeleteTaskDefinitions": delete_task_definitions,
    "CreateService": create_service,
    "UpdateService": update_service,
    "DescribeServices": describe_services,
    "ListServices": list_services,
    "ListServicesByNamespace": list_services_by_namespace,
    "DeleteService": delete_service,
    "RunTask": run_task,
    "StartTask": start_task,
    "StopTask": stop_task,
    "DescribeTasks": describe_tasks,
    "ListTasks": list_tasks,
    "RegisterContainerInstance": register_container_instance,
    "DeregisterContainerInstance": deregister_container_instance,
    "DescribeContainerInstances": describe_container_instances,
    "ListContainerInstances": list_container_instances,
    "UpdateContainerInstancesState": update_container_instances_state,
    "DiscoverPollEndpoint": discover_poll_endpoint,
    "PutAttributes": put_attributes,
    "DeleteAttributes": delete_attributes,
    "ListAttributes": list_attributes,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "UpdateTaskProtection": update_task_protection,
    "GetTaskProtection": get_task_protection,
    "ListServiceDeployments": list_service_deployments,
    "DescribeServiceDeployments": describe_service_deployments,
    "DescribeServiceRevisions": describe_service_revisions,
    "ContinueServiceDeployment": continue_service_deployment,
    "StopServiceDeployment": stop_service_deployment,
    "UpdateContainerAgent": update_container_agent,
    "ListAccountSettings": list_account_settings,
    "PutAccountSetting": put_account_setting,
    "PutAccountSettingDefault": put_account_setting_default,
    "DeleteAccountSetting": delete_account_setting,
}


def dispatch(plane: EcsControlPlane, action: str, params: Optional[dict]) -> dict:
    handler = ACTIONS.get(action)
    if handler is None:
        raise errors.unknown_action(action)
    if not isinstance(params, dict):
        raise EcsError("SerializationException", "The request body must be a JSON object.")
    return handler(plane, params)
