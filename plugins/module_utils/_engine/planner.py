"""The planner: snapshot in, plan out. Pure: no I/O, no clock, no randomness.

It composes the seams below it: which services are planned (``policy_skip``), candidate
instances (``candidates.py``), targets per level (``targets.py``, on the pure arithmetic of
``filling.py``), then the moves from the current layout to the targets, into the types of
``plan_types.py``. Imports only those, ``model`` and ``codes``.

Vocabulary
- *eligible* instance (per service): ACTIVE, agent connected, meets the service's constraints,
  and has room for one more task of it (CPU, memory, static ports) or already holds one.
- *levels*: the service's spread fields in order. No strategy means
  ``spread(attribute:ecs.availability-zone)`` then ``spread(instanceId)``. ``instanceId``/``host``
  ends the list. If the last level is an attribute, instances inside one attribute value are not
  balanced against each other ("sticky": tasks stay where they are).
- *skew* of a level: max - min task count over its eligible domains, inside each parent domain
  (e.g. instance skew is measured within each AZ), the largest over parents.
- *target*: the layout with every level's skew within ``max_skew`` that moves the fewest
  tasks, honouring capacity. ``max_skew`` is a tolerance: with max_skew 2, 8/0 becomes 5/3
  (3 moves), not 4/4 (``band_fill``); with max_skew 1 it is what a fresh spread placement would
  give (water-filling; the ceil slots go to the domains already holding most).
  ``moves_needed = sum(max(0, count - target))`` is that fewest number of moves.
- *pools*: a service whose effective capacity provider strategy names providers is placed by
  ECS only on instances of those providers, and base/weight decide each provider's count; the
  engine keeps each provider's count and balances inside each provider's pool (levels apply
  inside each pool). A launch-type EC2 service may use any instance: ECS's placement filters
  (task-placement.html: resources, constraints, then strategies) do not look at providers.
  FARGATE, FARGATE_SPOT and EXTERNAL services are skipped (``not_ec2_capacity``).
- *ECS's own AZ rebalancing*: when ``availabilityZoneRebalancing`` is ENABLED, ECS owns the AZ
  level (service-rebalancing.html): per-AZ counts are kept, only moves between instances of one
  AZ are planned, the AZ skew is reported but not part of ``balanced`` (``delegated``), and the
  service waits while ECS reports "AZ Rebalancing in progress.".

Counting what ECS's spread sees (task-placement-strategies.html: spread places tasks "evenly
based on the specified value"; ECS counts the service's running tasks per value of the field,
docs/ecs-facts.md §1.3: "Count over all of the cluster's instances, not only the candidates"):
- at attribute levels (AZ), the service's tasks on every ACTIVE instance count for their
  domain, whether or not the instance is a candidate now (agent disconnected, memberOf no
  longer met, another provider). They are *pinned*: counted, never moved, never a destination;
  a domain's target is at least its pinned tasks. Otherwise a replacement of a task moved off
  the domain would land right back where ECS's count says it is short;
- at the instance level only candidates count (a non-candidate is never chosen);
- tasks on DRAINING or deregistered instances, or not placed yet, are being replaced by ECS:
  counting them would count them twice, so the service waits (``tasks_being_replaced``).

Cross-service effects: services are planned in name order against one shared capacity ledger;
each planned destination takes the task's CPU, memory and ports from the ledger, so two services
never plan into the same free space. Capacity freed at sources is not credited (the executor
may start the replacement before stopping the original). The plan proposes every move: the
disruption budget is spent by the evictor (``evictor.py``) alone, only on moves that can happen
now. The controller is level-triggered, so balanced services cost nothing on the next run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from operator import itemgetter

from .candidates import INSTANCE_LEVEL, CandidateIndex, Ledger, level_name, strategy_levels
from .codes import Reason, Status
from .gc_pause import without_gc
from .model import (
    ACTIVE_DEPLOYMENT_STATUSES, AZ_ATTRIBUTE, MANAGED_INSTANCES, ClusterSnapshot, Service, Task,
)
from .plan_types import Distribution, Explanation, Move, Plan, PlanOptions, ServicePlan
from .targets import Analysis, Slot, analyze

OPT_OUT_TAG = "taskspread:rebalance"
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
NOT_EC2_LAUNCH_TYPES = ("FARGATE", "EXTERNAL")


def policy_skip(service: Service, tasks: Sequence[Task]) -> Explanation | None:
    """Skips that depend on the service alone (not on the instances)."""
    if service.tags.get(OPT_OUT_TAG, "").strip().lower() == "false":
        return Explanation(Reason.OPTED_OUT, f"tag {OPT_OUT_TAG}=false opts the service out")
    if service.scheduling_strategy == "DAEMON":
        return Explanation(Reason.DAEMON, "DAEMON services run one task per instance; nothing to spread")
    not_ec2 = _managed_instances(service) or _not_ec2(service)
    if not_ec2 is not None:
        return not_ec2
    if service.deployment_controller not in ("ECS", ""):
        return Explanation(Reason.DEPLOYMENT_CONTROLLER,
                           f"deployment controller {service.deployment_controller} manages this service")
    levels = strategy_levels(service)
    if isinstance(levels, Explanation):
        return levels
    if service.desired < 2:
        return Explanation(Reason.TOO_FEW_TASKS, f"desired count {service.desired} is below 2")
    deploying = deployment_gate(service)
    if deploying is not None:
        return deploying
    if service.deployments > 1 or service.rollout_state == "IN_PROGRESS":
        return Explanation(Reason.DEPLOYMENT_IN_PROGRESS,
                           f"deployment in progress ({service.deployments} deployments, "
                           f"rollout {service.rollout_state or 'unknown'})")
    revisions = revisions_gate(service)
    if revisions is not None:
        return revisions
    if service.az_rebalancing == "ENABLED" and service.az_rebalancing_in_progress:
        return Explanation(Reason.ECS_AZ_REBALANCING,
                           "ECS's own AZ rebalancing is in progress; waiting for it to finish")
    if len(tasks) != service.desired:
        return Explanation(Reason.NOT_STEADY, f"{len(tasks)} live tasks but desired count "
                                              f"{service.desired}; the scheduler is still acting")
    return None


def deployment_gate(service: Service) -> Explanation | None:
    """A service acts only with no service deployment in progress (bake time included),
    stopping or rolling back, and no lifecycle hook awaiting action (docs/ecs-facts.md §1.8,
    §1.11), and (``revisions_gate``) exactly one current service revision. During a
    blue/green, linear or canary deployment a task stopped is green capacity under test or the
    blue revision's rollback reserve."""
    if service.hooks_awaiting:
        return Explanation(Reason.HOOK_AWAITING_ACTION,
                           f"lifecycle hook {', '.join(service.hooks_awaiting)} holds the "
                           f"service deployment at {service.lifecycle_stage or 'a lifecycle stage'}"
                           " until ContinueServiceDeployment; not touched")
    if service.service_deployment_status in ACTIVE_DEPLOYMENT_STATUSES:
        stage = f" at {service.lifecycle_stage}" if service.lifecycle_stage else ""
        return Explanation(Reason.SERVICE_DEPLOYMENT_ACTIVE,
                           f"{service.deployment_strategy} service deployment "
                           f"{service.service_deployment_status}{stage}; not touched until it "
                           "ends")
    return None


def revisions_gate(service: Service) -> Explanation | None:
    """Exactly one current service revision (DescribeServices' ``currentServiceRevisions``),
    checked after the ``deployments`` array so a rolling deployment keeps its own reason."""
    if service.current_revisions is not None and service.current_revisions != 1:
        return Explanation(Reason.SEVERAL_REVISIONS,
                           f"{service.current_revisions} current service revisions (exactly one "
                           "is needed); not touched")
    return None


def _managed_instances(service: Service) -> Explanation | None:
    """ECS Managed Instances (launch type, or a provider of type MANAGED_INSTANCES in the
    effective strategy) take no placement strategy: ECS spreads the service over AZs and
    consolidates idle instances itself; a rebalancer would fight that consolidation."""
    if not service.managed_instances:
        return None
    how = ("launch type MANAGED_INSTANCES" if service.launch_type == MANAGED_INSTANCES
           else "a MANAGED_INSTANCES capacity provider")
    return Explanation(Reason.MANAGED_INSTANCES,
                       f"{how}: ECS spreads this service over AZs and consolidates its "
                       "instances itself (no placement strategies); not rebalanced")


def _not_ec2(service: Service) -> Explanation | None:
    """FARGATE / FARGATE_SPOT (launch type or provider) and EXTERNAL run on no container
    instance the engine can spread over."""
    if service.launch_type in NOT_EC2_LAUNCH_TYPES:
        return Explanation(Reason.NOT_EC2, f"launch type {service.launch_type} has no container "
                                           "instances to spread over; not rebalanced")
    fargate = [p for p in service.providers if p in FARGATE_PROVIDERS]
    if fargate:
        return Explanation(Reason.NOT_EC2, f"capacity provider {', '.join(fargate)} has no container "
                                           "instances to spread over; not rebalanced")
    return None


def task_preference(task: Task) -> tuple:
    """Sort key: the task to move first. Unprotected, not yet RUNNING, unhealthy, newest."""
    return (task.protected is True, task.last_status == "RUNNING", task.health != "UNHEALTHY",
            -task.started_at, -task.created_at, task.arn)


def _moves(analysis: Analysis, tasks: Sequence[Task]) -> list[Move]:
    """The fewest moves from the current layout to the targets, most loaded sources first.

    Runs once per service over every task (100,000 at the largest benchmarked size), so it
    keeps to plain loops: an instance holding one of the service's tasks (the usual case)
    needs no sort to know which task leaves it."""
    by_instance: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        by_instance[task.instance_arn].append(task)
    surplus: list[tuple[tuple, Task, Slot]] = []
    deficit: list[tuple[tuple, Slot]] = []
    for s in analysis.slots:
        count, target = s.count, s.target
        if count > target:
            on = by_instance[s.inst.arn]
            leaving = on if len(on) == 1 else sorted(on, key=task_preference)[: count - target]
            for j, task in enumerate(leaving):
                surplus.append(((j - count, task.arn), task, s))
        elif target > count:
            arn = s.inst.arn
            for k in range(count, target):
                deficit.append(((k, arn), s))
    surplus.sort(key=_rank)
    deficit.sort(key=_rank)
    pairs = _pair(surplus, deficit, len(analysis.slots[0].path) - 1)
    pairs.sort(key=_pair_rank)
    name = analysis.service.name
    return [Move(name, task.arn, src.inst.arn, src.inst.az, dst.inst.arn, dst.inst.az)
            for (_rank_key, task, src), (_slot, dst) in pairs]


_rank = itemgetter(0)


def _pair_rank(pair: tuple) -> tuple:
    return pair[0][0]


def _pair(surplus: list, deficit: list, depth_max: int) -> list[tuple]:
    """Match surplus tasks with deficit slots, sharing the longest domain path first."""
    pairs = []
    for depth in range(depth_max, -1, -1):
        if not surplus or not deficit:
            break
        by_s: dict[tuple, list] = defaultdict(list)
        by_d: dict[tuple, list] = defaultdict(list)
        for item in surplus:
            by_s[item[2].path[:depth]].append(item)
        for item in deficit:
            by_d[item[1].path[:depth]].append(item)
        surplus, deficit = [], []
        for key in sorted(set(by_s) | set(by_d)):
            s_items, d_items = by_s.get(key, []), by_d.get(key, [])
            n = min(len(s_items), len(d_items))
            pairs.extend(zip(s_items[:n], d_items[:n]))
            surplus.extend(s_items[n:])
            deficit.extend(d_items[n:])
        surplus.sort(key=_rank)
        deficit.sort(key=_rank)
    return pairs


def _distribution(analysis: Analysis, max_skew: int, skip: Explanation | None = None) -> Distribution:
    service = analysis.service
    return Distribution(
        service=service.name,
        levels=tuple(level_name(lv) for lv in analysis.levels),
        instances={s.inst.arn: s.count for s in analysis.slots},
        azs=analysis.azs,
        targets={s.inst.arn: s.target for s in analysis.slots},
        ineligible=analysis.ineligible, skew=analysis.skew,
        balanced=analysis.balanced(max_skew),
        moves_needed=analysis.moves_needed, max_skew=max_skew, skip=skip,
        complete=analysis.complete, waiting=analysis.waiting,
        az_rebalancing=service.az_rebalancing, delegated=analysis.delegated,
        capacity_providers=service.providers)


def _single_domain(analysis: Analysis) -> Explanation | None:
    """Explanation only when no level has two eligible domains: one AZ with several instances still
    has an instance level to balance (a single-AZ cluster is not 'nothing to spread over')."""
    depth = analysis.hidden
    spread = analysis.levels[-1] == INSTANCE_LEVEL
    domains = {s.path[depth:] if spread else s.path[depth:-1] for s in analysis.slots}
    if len(domains) >= 2:
        return None
    # a domain whose candidates are all full (CPU, memory, ports, ENIs) is still a domain
    # ECS's spread would use once it had room: the service is at capacity, not alone
    if len({g.path[depth:] for g in analysis.groups}) >= 2:
        return None
    return Explanation(Reason.SINGLE_DOMAIN,
                       f"{len(domains)} eligible domain(s) at every level "
                       f"({', '.join(level_name(lv) for lv in analysis.levels)}); nothing to spread over")


def _waiting(analysis: Analysis) -> Explanation | None:
    """Tasks on DRAINING or deregistered instances (or not placed yet) are being replaced by
    ECS; counting them twice or moving around them would fight ECS, so the service waits."""
    if not analysis.waiting:
        return None
    return Explanation(Reason.TASKS_BEING_REPLACED,
                       f"{analysis.waiting} task(s) on DRAINING or deregistered instances (or not "
                       "placed yet) are being replaced by ECS; waiting for it")


def _fmt(skew: Mapping[str, int]) -> str:
    return ", ".join(f"{lv}={n}" for lv, n in skew.items()) or "none"


def _capacity_text(analysis: Analysis, max_skew: int, ledger: Ledger) -> str:
    """The numbers behind an at-capacity layout: the skew capacity allows at best, how
    many eligible instances have room for another task of the service, and what binds on
    the candidate instances without room (``_binding``)."""
    res = analysis.service.resources
    roomy = sum(1 for s in analysis.slots if s.cap > s.count)
    best = {lv: n for lv, n in analysis.target_skew.items()
            if n > max_skew and lv not in analysis.delegated}
    need = f"cpu {res.cpu}, memory {res.memory} MiB" + (", 1 ENI" if res.enis else "")
    return (f"free capacity allows skew {_fmt(best)} at best (max_skew {max_skew}); "
            f"{roomy} of {len(analysis.slots)} eligible instance(s) have room for another "
            f"task ({need}){_binding(analysis, ledger)}")


def _binding(analysis: Analysis, ledger: Ledger) -> str:
    """Which resource keeps another task of the service off the candidate instances of its
    domains that have no room: "; no room on 3 candidate instance(s): ENI on 3 (awsvpc task
    limit reached)". Only computed for a service at capacity."""
    res = analysis.service.resources
    short: dict[str, int] = defaultdict(int)
    full = 0
    for group in analysis.groups:
        for inst in group.members:
            why = ledger.short_of(inst.arn, res)
            full += bool(why)
            for name in why:
                short[name] += 1
    if not full:
        return ""
    order = ("ENI", "CPU", "memory", "port")
    parts = [f"{name} on {short[name]}" + (" (awsvpc task limit reached)" if name == "ENI" else "")
             for name in order if short.get(name)]
    return f"; no room on {full} candidate instance(s): {', '.join(parts)}"


def _status_plan(analysis: Analysis, tasks: Sequence[Task], dist: Distribution,
                 max_skew: int, ledger: Ledger, list_moves: bool = True) -> ServicePlan:
    """BALANCED, AT_CAPACITY or REBALANCE, each not balanced one with a reason (without
    ``list_moves``: the same status and ``moves_needed``, no moves listed)."""
    name = analysis.service.name
    if dist.balanced:
        return ServicePlan(name, Status.BALANCED, distribution=dist)
    needed = analysis.moves_needed
    skew_text = f"skew {_fmt(analysis.skew)} exceeds max_skew {max_skew}"
    if needed == 0:
        return ServicePlan(name, Status.AT_CAPACITY, distribution=dist, reason=Explanation(
            Reason.AT_CAPACITY,
            f"{skew_text}, but {_capacity_text(analysis, max_skew, ledger)}"))
    if not list_moves:
        return ServicePlan(name, Status.REBALANCE, (), needed, distribution=dist,
                           reason=Explanation(Reason.MOVES_PLANNED,
                                              f"{skew_text}; {needed} move(s) needed"))
    moves = tuple(_moves(analysis, tasks))
    text = f"{skew_text}; {len(moves)} of {needed} move(s) planned"
    code = Reason.MOVES_PLANNED
    if not analysis.balanced_targets(max_skew):
        code = Reason.AT_CAPACITY
        text += f"; {_capacity_text(analysis, max_skew, ledger)}"
    return ServicePlan(name, Status.REBALANCE, moves, needed, distribution=dist,
                       reason=Explanation(code, text))


def _plan_service(service: Service, tasks: Sequence[Task], ctx: CandidateIndex,
                  max_skew: int, list_moves: bool = True) -> ServicePlan:
    """Status and moves for one service."""
    skip = policy_skip(service, tasks)
    if skip is not None:
        dist = _fallback_distribution(service, tasks, ctx, max_skew, skip, exhaustive=False)
        return ServicePlan(service.name, Status.SKIPPED, skip=skip, distribution=dist)
    levels = strategy_levels(service)
    analysis = analyze(service, tasks, ctx, levels, max_skew=max_skew)   # levels: no Explanation
    if isinstance(analysis, Explanation):
        dist = _fallback_distribution(service, tasks, ctx, max_skew, analysis, exhaustive=False)
        return ServicePlan(service.name, Status.SKIPPED, skip=analysis, distribution=dist)
    skip = _waiting(analysis) or _single_domain(analysis)
    dist = _distribution(analysis, max_skew, skip)
    if skip is not None:
        return ServicePlan(service.name, Status.SKIPPED, skip=skip, distribution=dist)
    return _status_plan(analysis, tasks, dist, max_skew, ctx.ledger, list_moves)


def judge(snapshot: ClusterSnapshot, service: str, max_skew: int = 1) -> ServicePlan:
    """What ``plan`` says of one service of ``snapshot`` (its status, ``balanced`` and
    ``moves_needed``) without listing its moves: a surge decision asks this of several
    predicted layouts per service, and only the verdict is used."""
    return _plan_service(snapshot.services[service], snapshot.tasks.get(service, ()),
                         CandidateIndex(snapshot), max_skew, list_moves=False)


@without_gc
def plan(snapshot: ClusterSnapshot, options: PlanOptions | None = None) -> Plan:
    """Plan the moves that bring every selected spread service of ``snapshot`` within
    max_skew. Every service gets a ServicePlan with a distribution (skipped ones too, from
    the default levels when the strategy does not spread)."""
    options = options or PlanOptions()
    names = sorted(snapshot.services) if options.services is None else \
        snapshot.service_names(options.services)
    ctx = CandidateIndex(snapshot)
    plans, all_moves = [], []
    for name in names:
        service = snapshot.services[name]
        sp = _plan_service(service, snapshot.tasks.get(name, ()), ctx, options.max_skew)
        for move in sp.moves:
            ctx.ledger.reserve(move.destination_instance, service.resources)
        plans.append(sp)
        all_moves.extend(sp.moves)
    return Plan(cluster=snapshot.cluster_name, services=tuple(plans), max_skew=options.max_skew,
                moves=tuple(all_moves), moves_needed=sum(sp.moves_needed for sp in plans))


UNMEASURED = (Reason.NOT_EC2, Reason.MANAGED_INSTANCES)


def _unmeasured(svc: Service, tasks: Sequence[Task], max_skew: int,
                skip: Explanation) -> Distribution:
    """A service whose tasks run on no instance the engine spreads over (Fargate, EXTERNAL,
    Managed Instances): no instance, AZ or skew figure, and never ``balanced`` (nothing was
    judged; the cluster's EC2 instances are not its domains)."""
    return Distribution(service=svc.name, levels=(), instances={}, azs={}, targets={},
                        ineligible={}, skew={}, balanced=False, moves_needed=0,
                        max_skew=max_skew, skip=skip, waiting=0,
                        az_rebalancing=svc.az_rebalancing,
                        capacity_providers=svc.providers)


def _fallback_distribution(svc: Service, tasks: Sequence[Task], ctx: CandidateIndex, max_skew: int,
                           skip: Explanation | None, exhaustive: bool) -> Distribution | None:
    """The distribution of a service the planner skips: default levels when the strategy
    does not spread, no memberOf when it cannot be evaluated; None when even that fails."""
    if skip is not None and skip.code in UNMEASURED:
        return _unmeasured(svc, tasks, max_skew, skip)
    levels = strategy_levels(svc)
    if isinstance(levels, Explanation):
        levels = (AZ_ATTRIBUTE, INSTANCE_LEVEL)
    analysis = analyze(svc, tasks, ctx, levels, exhaustive=exhaustive, max_skew=max_skew)
    if isinstance(analysis, Explanation):
        skip = skip or analysis
        analysis = analyze(replace(svc, placement_constraints=()), tasks, ctx, levels,
                           exhaustive=exhaustive, max_skew=max_skew)
    if isinstance(analysis, Explanation):
        return None
    return _distribution(analysis, max_skew,
                         skip or _waiting(analysis) or _single_domain(analysis))


def distribution(snapshot: ClusterSnapshot, service: str, max_skew: int = 1) -> Distribution:
    """Counts, targets and skew of one service against the snapshot's free capacity, listing
    every eligible instance (exhaustive; for many services use ``report.report``).

    For services the planner would skip, ``skip`` says why; counts, skew and ``balanced`` are
    still computed (with the default levels when the strategy does not spread, and without
    memberOf when it cannot be evaluated).
    Raises KeyError for a service not in the snapshot.
    """
    svc = snapshot.services[service]
    tasks = snapshot.tasks.get(service, ())
    dist = _fallback_distribution(svc, tasks, CandidateIndex(snapshot), max_skew,
                                  policy_skip(svc, tasks), exhaustive=True)
    if dist is None:   # without constraints analyze cannot skip
        raise AssertionError("analysis without constraints skipped")
    return dist


__all__ = ["OPT_OUT_TAG", "distribution", "judge", "plan", "policy_skip", "task_preference"]
