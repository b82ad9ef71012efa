"""The planner: snapshot in, plan out. Pure: no I/O, no clock, no randomness.

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
ecs-semantics 1.3: "Count over all of the cluster's instances, not only the candidates"):
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
may start the replacement before stopping the original). ``PlanOptions.max_moves`` truncates
the proposal in the same order (services left without budget get status ``deferred``), but the
runner proposes every move (``UNLIMITED``): the disruption budget is spent by the evictor
(``evictor.py``), only on moves that can happen now. The controller is level-triggered, so
balanced services cost nothing on the next run.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .model import AZ_ATTRIBUTE, ClusterSnapshot, Instance, Service, Task, TaskResources
from .placement_expr import (
    ExpressionError, Predicate, UnsupportedExpression, compile_expression, instance_subjects,
)

OPT_OUT_TAG = "taskspread:rebalance"
INSTANCE_LEVEL = "instanceId"
POOL_LEVEL = "capacityProvider"   # grouping only: one pool per provider of the strategy
UNLIMITED = 1 << 30
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
NOT_EC2_LAUNCH_TYPES = ("FARGATE", "EXTERNAL")


class Reason:
    """Machine-readable skip codes (``Skip.code``)."""

    OPTED_OUT = "opted_out"
    DAEMON = "daemon"
    DEPLOYMENT_CONTROLLER = "deployment_controller"
    UNSUPPORTED_STRATEGY = "unsupported_strategy"
    TOO_FEW_TASKS = "desired_below_two"
    DEPLOYMENT_IN_PROGRESS = "deployment_in_progress"
    NOT_STEADY = "not_steady"
    UNSUPPORTED_CONSTRAINT = "unsupported_constraint"
    SINGLE_DOMAIN = "single_domain"
    NOT_EC2 = "not_ec2_capacity"                        # FARGATE, FARGATE_SPOT, EXTERNAL
    ECS_AZ_REBALANCING = "ecs_az_rebalancing_in_progress"
    TASKS_BEING_REPLACED = "tasks_being_replaced"       # on DRAINING/gone instances, unplaced
    AT_CAPACITY = "at_capacity"
    DEFERRED = "deferred_by_budget"
    MOVES_PLANNED = "moves_planned"


class Status:
    """``ServicePlan.status`` values."""

    BALANCED = "balanced"          # every level's skew <= max_skew
    REBALANCE = "rebalance"        # moves planned (maybe truncated by the budget)
    DEFERRED = "deferred"          # out of balance, but the max_moves budget is spent
    AT_CAPACITY = "at_capacity"    # out of balance, but capacity allows no better layout
    SKIPPED = "skipped"            # see ServicePlan.skip


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """``services``: names to plan (None = all); ``max_moves``: None = 10% of tasks, >= 1."""

    services: tuple[str, ...] | None = None
    max_skew: int = 1
    max_moves: int | None = None

    def __post_init__(self) -> None:
        if self.max_skew < 1:
            raise ValueError("max_skew must be >= 1")
        if self.max_moves is not None and self.max_moves < 0:
            raise ValueError("max_moves must be >= 0")


@dataclass(frozen=True, slots=True)
class Skip:
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Move:
    """Stop ``task_arn`` on ``source_instance``; its replacement is predicted to land on
    ``destination_instance`` (ECS decides; the prediction is what spread placement gives)."""

    service: str
    task_arn: str
    source_instance: str
    source_az: str
    destination_instance: str
    destination_az: str

    def to_dict(self) -> dict:
        return {"service": self.service, "task_arn": self.task_arn,
                "source_instance": self.source_instance, "source_az": self.source_az,
                "destination_instance": self.destination_instance,
                "destination_az": self.destination_az}


@dataclass(frozen=True, slots=True)
class Distribution:
    """Where one service's tasks are, and what balanced would be.

    ``instances``: task count per eligible instance ARN, empty eligible ones included.
    ``azs``: task count per AZ of the eligible instances. ``targets``: balanced count per
    eligible instance. ``ineligible``: task count per instance that holds tasks but is not
    eligible. ``skew``: per level name. ``moves_needed``: the lower bound of moves to balance.
    ``complete``: False when (inside a plan, for speed) only the empty eligible instances that
    can matter were listed; ``distribution()`` always lists them all.
    ``azs`` also counts the tasks on ACTIVE instances that are not candidates (ECS's spread
    counts them, see the module docstring); ``waiting``: tasks on DRAINING or deregistered
    instances, or not placed yet, that ECS is replacing. ``az_rebalancing``: the service's
    availabilityZoneRebalancing; ``delegated``: levels left to ECS (the AZ level when that is
    ENABLED), reported in ``skew`` but not part of ``balanced``. ``capacity_providers``: the
    pools of the effective capacity provider strategy (balanced inside each).
    """

    service: str
    levels: tuple[str, ...]
    instances: Mapping[str, int]
    azs: Mapping[str, int]
    targets: Mapping[str, int]
    ineligible: Mapping[str, int]
    skew: Mapping[str, int]
    balanced: bool
    moves_needed: int
    max_skew: int = 1
    skip: Skip | None = None
    complete: bool = True
    waiting: int = 0
    az_rebalancing: str = "DISABLED"
    delegated: tuple[str, ...] = ()
    capacity_providers: tuple[str, ...] = ()

    @property
    def eligible_instances(self) -> tuple[str, ...]:
        return tuple(self.instances)

    def to_dict(self) -> dict:
        return {"service": self.service, "levels": list(self.levels),
                "instances": dict(self.instances), "azs": dict(self.azs),
                "targets": dict(self.targets), "ineligible": dict(self.ineligible),
                "eligible_instances": list(self.instances), "skew": dict(self.skew),
                "balanced": self.balanced, "moves_needed": self.moves_needed,
                "max_skew": self.max_skew, "complete": self.complete, "waiting": self.waiting,
                "az_rebalancing": self.az_rebalancing, "delegated": list(self.delegated),
                "capacity_providers": list(self.capacity_providers),
                "skip": self.skip.to_dict() if self.skip else None}


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """One service's status. ``reason`` says why a service that is not BALANCED is not (its
    skip, at capacity with the numbers, deferred with the budget's figures, the moves planned
    and what they leave); None exactly when ``status`` is BALANCED."""

    service: str
    status: str
    moves: tuple[Move, ...] = ()
    moves_needed: int = 0
    truncated: bool = False
    skip: Skip | None = None
    distribution: Distribution | None = None
    reason: Skip | None = None

    def __post_init__(self) -> None:
        if self.reason is None and self.skip is not None:
            object.__setattr__(self, "reason", self.skip)

    @property
    def balanced(self) -> bool:
        return self.status == Status.BALANCED

    def to_dict(self) -> dict:
        return {"service": self.service, "status": self.status, "balanced": self.balanced,
                "moves": [m.to_dict() for m in self.moves], "moves_needed": self.moves_needed,
                "truncated": self.truncated,
                "reason": self.reason.to_dict() if self.reason else None,
                "skip": self.skip.to_dict() if self.skip else None,
                "distribution": self.distribution.to_dict() if self.distribution else None}


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole plan. ``moves``: every service's moves, in execution order."""

    cluster: str
    services: tuple[ServicePlan, ...]
    max_moves: int
    max_skew: int
    moves: tuple[Move, ...] = ()
    moves_needed: int = 0
    truncated: bool = False

    @property
    def message(self) -> str:
        planned = len(self.moves)
        text = f"{planned} move(s) planned for cluster {self.cluster}"
        if self.truncated:
            text += f"; truncated by max_moves={self.max_moves} ({self.moves_needed} needed)"
        return text

    def service(self, name: str) -> ServicePlan:
        return next(sp for sp in self.services if sp.service == name)

    def to_dict(self) -> dict:
        return {"cluster": self.cluster, "max_moves": self.max_moves, "max_skew": self.max_skew,
                "moves": [m.to_dict() for m in self.moves], "moves_needed": self.moves_needed,
                "truncated": self.truncated, "message": self.message,
                "services": [sp.to_dict() for sp in self.services]}


# ----------------------------------------------------------------------------------- levels

def strategy_levels(service: Service) -> tuple[str, ...] | Skip:
    """The spread levels of ``service``: attribute names, then maybe ``instanceId``."""
    rules = service.placement_strategy
    bad = [r for r in rules if r.type.lower() != "spread"]
    if bad:
        kinds = ", ".join(sorted({r.type for r in bad}))
        return Skip(Reason.UNSUPPORTED_STRATEGY,
                    f"placement strategy {kinds} does not spread; not rebalanced")
    if not rules:
        return (AZ_ATTRIBUTE, INSTANCE_LEVEL)
    levels: list[str] = []
    for rule in rules:
        low = rule.field.lower()
        if low in ("instanceid", "host"):
            level = INSTANCE_LEVEL
        elif low.startswith("attribute:") and len(rule.field) > len("attribute:"):
            level = rule.field[len("attribute:"):]
        else:
            return Skip(Reason.UNSUPPORTED_STRATEGY, f"spread field {rule.field!r} is not supported")
        if level not in levels:
            levels.append(level)
        if level == INSTANCE_LEVEL:
            break
    return tuple(levels)


def level_name(level: str) -> str:
    return level if level == INSTANCE_LEVEL else f"attribute:{level}"


def level_value(level: str, inst: Instance) -> str:
    if level == INSTANCE_LEVEL:
        return inst.arn
    if level == AZ_ATTRIBUTE:
        return inst.az or inst.attributes.get(AZ_ATTRIBUTE, "")
    if level == POOL_LEVEL:
        return inst.capacity_provider
    return inst.attributes.get(level, "")


# ------------------------------------------------------------------------------ eligibility

class Ledger:
    """Remaining CPU, memory and ports per instance, shared by every service of one plan."""

    def __init__(self, instances: Mapping[str, Instance]):
        self._instances = instances
        self._state: dict[str, tuple[int, int, frozenset[int], frozenset[int]]] = {}

    def remaining(self, arn: str) -> tuple[int, int, frozenset[int], frozenset[int]]:
        state = self._state.get(arn)
        if state is None:
            inst = self._instances[arn]
            state = (inst.remaining_cpu, inst.remaining_memory,
                     inst.reserved_tcp_ports, inst.reserved_udp_ports)
        return state

    def room(self, arn: str, res: TaskResources) -> int:
        """How many more tasks needing ``res`` fit on ``arn`` (UNLIMITED if nothing limits)."""
        state = self._state.get(arn)
        if state is None:
            inst = self._instances[arn]
            cpu, mem = inst.remaining_cpu, inst.remaining_memory
            tcp, udp = inst.reserved_tcp_ports, inst.reserved_udp_ports
        else:
            cpu, mem, tcp, udp = state
        if res.tcp_ports or res.udp_ports:
            if res.tcp_ports & tcp or res.udp_ports & udp:
                return 0
            fit = 1
        else:
            fit = UNLIMITED
        if res.cpu > 0:
            fit = min(fit, cpu // res.cpu)
        if res.memory > 0:
            fit = min(fit, mem // res.memory)
        return max(fit, 0)

    def room_fn(self, res: TaskResources, limit: int = UNLIMITED,
                distinct: bool = False) -> Callable[[str], int]:
        """``arn -> min(room(arn, res), limit)``, and at most 1 when ``distinct``: the same
        numbers as ``room``, specialised once per service (the planner's hottest call)."""
        state_get, instances = self._state.get, self._instances
        tcp_need, udp_need = res.tcp_ports, res.udp_ports
        ports = bool(tcp_need or udp_need)
        start = min(limit, 1) if ports or distinct else limit
        res_cpu, res_mem = res.cpu, res.memory

        def room(arn: str) -> int:
            state = state_get(arn)
            if state is None:
                inst = instances[arn]
                cpu, mem = inst.remaining_cpu, inst.remaining_memory
                tcp, udp = inst.reserved_tcp_ports, inst.reserved_udp_ports
            else:
                cpu, mem, tcp, udp = state
            if ports and (tcp_need & tcp or udp_need & udp):
                return 0
            fit = start
            if res_cpu > 0 and cpu // res_cpu < fit:
                fit = cpu // res_cpu
            if res_mem > 0 and mem // res_mem < fit:
                fit = mem // res_mem
            return fit if fit > 0 else 0

        return room

    def instance(self, arn: str) -> Instance:
        return self._instances[arn]

    def reserve(self, arn: str, res: TaskResources) -> None:
        cpu, mem, tcp, udp = self.remaining(arn)
        self._state[arn] = (cpu - res.cpu, mem - res.memory, tcp | res.tcp_ports,
                            udp | res.udp_ports)


@dataclass(frozen=True, slots=True)
class _Constraints:
    distinct: bool
    member_of: tuple[str, ...]


def service_constraints(service: Service) -> _Constraints | Skip:
    member_of: list[str] = []
    distinct = False
    for c in service.placement_constraints:
        if c.type == "distinctInstance":
            distinct = True
        elif c.type == "memberOf":
            member_of.append(c.expression)
        else:
            return Skip(Reason.UNSUPPORTED_CONSTRAINT, f"placement constraint type {c.type!r}")
    return _Constraints(distinct, tuple(member_of))


class _Context:
    """Per-plan caches: instance map, ledger, candidate instances grouped by domain path."""

    def __init__(self, snapshot: ClusterSnapshot):
        self.snapshot = snapshot
        self.instances = snapshot.instance_map()
        self.ledger = Ledger(self.instances)
        self.accepting = [i for i in snapshot.instances if i.accepts_tasks]
        self._filtered: dict[tuple[str, ...], list[Instance] | Skip] = {(): self.accepting}
        self._grouped: dict[tuple, tuple[dict, dict]] = {}
        self._subjects: dict[str, dict[str, str]] = {}

    def grouped(self, member_of: tuple[str, ...], group_levels: tuple[str, ...],
                providers: tuple[str, ...] = ()
                ) -> tuple[dict[tuple[str, ...], list[Instance]], dict[str, tuple[str, ...]]] | Skip:
        """Candidates (accepting, memberOf met, of one of ``providers`` when a capacity
        provider strategy names them) by group path, in ARN order; path per ARN."""
        candidates = self.candidates(member_of)
        if isinstance(candidates, Skip):
            return candidates
        key = (member_of, group_levels, providers)
        if key not in self._grouped:
            groups: dict[tuple[str, ...], list[Instance]] = defaultdict(list)
            path_of = {}
            wanted = frozenset(providers)
            for inst in candidates:
                if wanted and inst.capacity_provider not in wanted:
                    continue
                path = tuple(level_value(lv, inst) for lv in group_levels)
                groups[path].append(inst)
                path_of[inst.arn] = path
            self._grouped[key] = (dict(sorted(groups.items())), path_of)
        return self._grouped[key]

    def candidates(self, member_of: tuple[str, ...]) -> list[Instance] | Skip:
        """Accepting instances meeting every memberOf expression (or a Skip if unsupported)."""
        if member_of not in self._filtered:
            self._filtered[member_of] = self._filter(member_of)
        return self._filtered[member_of]

    def _filter(self, member_of: tuple[str, ...]) -> list[Instance] | Skip:
        try:
            preds: list[Predicate] = [compile_expression(e) for e in member_of]
        except UnsupportedExpression as exc:
            return Skip(Reason.UNSUPPORTED_CONSTRAINT, f"memberOf not supported: {exc}")
        except ExpressionError as exc:
            return Skip(Reason.UNSUPPORTED_CONSTRAINT, f"memberOf not understood: {exc}")
        return [i for i in self.accepting if all(p(self._subjects_of(i)) for p in preds)]

    def _subjects_of(self, inst: Instance) -> dict[str, str]:
        if inst.arn not in self._subjects:
            self._subjects[inst.arn] = instance_subjects(inst)
        return self._subjects[inst.arn]


# --------------------------------------------------------------------------------- analysis

class _Slot:
    """One eligible instance, for one service. ``path``: group path + (instance ARN,).

    ``eff``: the tasks that may stay, min(count, cap). A plain slotted class: one is built per
    eligible instance per service, the planner's most frequent allocation.
    """

    __slots__ = ("inst", "path", "count", "cap", "target", "eff")

    def __init__(self, inst: Instance, path: tuple[str, ...], count: int, cap: int,
                 target: int = 0):
        self.inst, self.path, self.count, self.cap, self.target = inst, path, count, cap, target
        self.eff = count if count < cap else cap

    def __repr__(self) -> str:
        return (f"_Slot({self.inst.arn!r}, count={self.count}, cap={self.cap}, "
                f"target={self.target})")


@dataclass(slots=True)
class _Group:
    """The eligible instances of one leaf domain, discovered lazily in ARN order.

    Occupied instances are always slots; empty ones are scanned in only as far as needed (see
    ``analyze``), which keeps planning proportional to tasks, not instances x services.
    ``pinned``: the service's tasks on ACTIVE instances of this domain that are not candidates
    (agent disconnected, memberOf not met, another provider): ECS's spread counts them for the
    domain, and they stay where they are.
    """

    path: tuple[str, ...]
    members: list[Instance]
    slots: list[_Slot] = field(default_factory=list)
    pos: int = 0
    cap: int = 0
    empties: int = 0
    target: int = 0
    pinned: int = 0

    def scan_cap(self, svc: _SvcCtx, limit: int | None) -> None:
        """Scan empty members in until the group's capacity reaches ``limit`` (None: all)."""
        members, counts, room = self.members, svc.counts, svc.room
        slots, path = self.slots, self.path
        pos, end, cap_sum, empties = self.pos, len(members), self.cap, self.empties
        while pos < end and (limit is None or cap_sum < limit):
            inst = members[pos]
            pos += 1
            arn = inst.arn
            if arn in counts:
                continue
            cap = room(arn)
            if cap > 0:
                slots.append(_Slot(inst, path + (arn,), 0, cap))
                cap_sum += cap
                empties += 1
        self.pos, self.cap, self.empties = pos, cap_sum, empties

    def scan_slots(self, svc: _SvcCtx, want: int) -> None:
        """Scan empty members in until there are more than ``want`` slots and one empty."""
        members, counts, room = self.members, svc.counts, svc.room
        slots, path = self.slots, self.path
        pos, end, cap_sum, empties = self.pos, len(members), self.cap, self.empties
        while pos < end and (len(slots) <= want or empties < 1):
            inst = members[pos]
            pos += 1
            arn = inst.arn
            if arn in counts:
                continue
            cap = room(arn)
            if cap > 0:
                slots.append(_Slot(inst, path + (arn,), 0, cap))
                cap_sum += cap
                empties += 1
        self.pos, self.cap, self.empties = pos, cap_sum, empties

    def held(self) -> int:
        """Tasks of the service in this domain as ECS's spread counts them."""
        return sum(s.count for s in self.slots) + self.pinned


@dataclass(slots=True)
class _SvcCtx:
    """What scanning and target-setting need to know about one service.

    ``fixed``: group depths whose per-domain counts stay as they are (capacity provider pools;
    the AZ level when ECS's own AZ rebalancing owns it). ``max_skew``: the tolerance.
    """

    counts: dict[str, int]
    resources: TaskResources
    ledger: Ledger
    distinct: bool
    limit: int
    fixed: frozenset[int] = frozenset()
    max_skew: int = 1
    room: Callable[[str], int] = field(init=False, repr=False)      # capped by limit/distinct
    raw_room: Callable[[str], int] = field(init=False, repr=False)  # Ledger.room for this task

    def __post_init__(self) -> None:
        self.room = self.ledger.room_fn(self.resources, self.limit, self.distinct)
        self.raw_room = self.ledger.room_fn(self.resources)


@dataclass(slots=True)
class _Analysis:
    """``hidden``: leading group levels that only group (pools; the AZ when ECS owns it but the
    strategy does not name it); ``delegated``: reported levels ECS owns (not in ``balanced``);
    ``target_skew``: the skew the targets leave (> max_skew only when capacity binds)."""

    service: Service
    levels: tuple[str, ...]
    slots: list[_Slot]
    ineligible: dict[str, int]
    complete: bool = True
    skew: dict[str, int] = field(default_factory=dict)
    target_skew: dict[str, int] = field(default_factory=dict)
    moves_needed: int = 0
    waiting: int = 0
    hidden: int = 0
    delegated: tuple[str, ...] = ()
    groups: list[_Group] = field(default_factory=list)
    azs: dict[str, int] = field(default_factory=dict)

    def balanced(self, max_skew: int) -> bool:
        return all(s <= max_skew for lv, s in self.skew.items() if lv not in self.delegated)

    def balanced_targets(self, max_skew: int) -> bool:
        return all(s <= max_skew for lv, s in self.target_skew.items()
                   if lv not in self.delegated)


def policy_skip(service: Service, tasks: Sequence[Task]) -> Skip | None:
    """Skips that depend on the service alone (not on the instances)."""
    if service.tags.get(OPT_OUT_TAG, "").strip().lower() == "false":
        return Skip(Reason.OPTED_OUT, f"tag {OPT_OUT_TAG}=false opts the service out")
    if service.scheduling_strategy == "DAEMON":
        return Skip(Reason.DAEMON, "DAEMON services run one task per instance; nothing to spread")
    not_ec2 = _not_ec2(service)
    if not_ec2 is not None:
        return not_ec2
    if service.deployment_controller not in ("ECS", ""):
        return Skip(Reason.DEPLOYMENT_CONTROLLER,
                    f"deployment controller {service.deployment_controller} manages this service")
    levels = strategy_levels(service)
    if isinstance(levels, Skip):
        return levels
    if service.desired < 2:
        return Skip(Reason.TOO_FEW_TASKS, f"desired count {service.desired} is below 2")
    if service.deployments > 1 or service.rollout_state == "IN_PROGRESS":
        return Skip(Reason.DEPLOYMENT_IN_PROGRESS,
                    f"deployment in progress ({service.deployments} deployments, "
                    f"rollout {service.rollout_state or 'unknown'})")
    if service.az_rebalancing == "ENABLED" and service.az_rebalancing_in_progress:
        return Skip(Reason.ECS_AZ_REBALANCING,
                    "ECS's own AZ rebalancing is in progress; waiting for it to finish")
    if len(tasks) != service.desired:
        return Skip(Reason.NOT_STEADY, f"{len(tasks)} live tasks but desired count "
                                       f"{service.desired}; the scheduler is still acting")
    return None


def _not_ec2(service: Service) -> Skip | None:
    """FARGATE / FARGATE_SPOT (launch type or provider) and EXTERNAL run on no container
    instance the engine can spread over."""
    if service.launch_type in NOT_EC2_LAUNCH_TYPES:
        return Skip(Reason.NOT_EC2, f"launch type {service.launch_type} has no container "
                                    "instances to spread over; not rebalanced")
    fargate = [p for p in service.providers if p in FARGATE_PROVIDERS]
    if fargate:
        return Skip(Reason.NOT_EC2, f"capacity provider {', '.join(fargate)} has no container "
                                    "instances to spread over; not rebalanced")
    return None


def _grouping(service: Service, levels: tuple[str, ...]
              ) -> tuple[tuple[str, ...], frozenset[int], int, tuple[str, ...]]:
    """Group levels (hidden pool/AZ levels first), fixed depths, hidden count, delegated."""
    spread = levels[-1] == INSTANCE_LEVEL
    attrs = levels[:-1] if spread else levels
    group_levels: list[str] = []
    fixed: set[int] = set()
    if service.providers:
        fixed.add(len(group_levels))
        group_levels.append(POOL_LEVEL)
    ecs_owns_az = service.az_rebalancing == "ENABLED"
    if ecs_owns_az and AZ_ATTRIBUTE not in attrs:
        fixed.add(len(group_levels))
        group_levels.append(AZ_ATTRIBUTE)
    hidden = len(group_levels)
    for level in attrs:
        if ecs_owns_az and level == AZ_ATTRIBUTE:
            fixed.add(len(group_levels))
        group_levels.append(level)
    delegated = (level_name(AZ_ATTRIBUTE),) if ecs_owns_az and AZ_ATTRIBUTE in attrs else ()
    return tuple(group_levels), frozenset(fixed), hidden, delegated


def analyze(service: Service, tasks: Sequence[Task], ctx: _Context, levels: tuple[str, ...],
            exhaustive: bool = False, max_skew: int = 1) -> _Analysis | Skip:
    """Eligible instances, counts, targets within ``max_skew`` and skew for one service.

    Not ``exhaustive``: empty eligible instances are scanned (in ARN order) only until the
    group's capacity covers every task and the group has more slots than its target, plus one
    empty; that is provably enough for exact targets and skew.
    """
    cons = service_constraints(service)
    if isinstance(cons, Skip):
        return cons
    group_levels, fixed, hidden, delegated = _grouping(service, levels)
    grouped = ctx.grouped(cons.member_of, group_levels, service.providers)
    if isinstance(grouped, Skip):
        return grouped
    members, path_of = grouped
    counts = _counts(tasks)
    pinned, waiting = _outside(counts, path_of, ctx.instances, group_levels)
    total = sum(n for arn, n in counts.items() if arn in path_of)
    svc = _SvcCtx(counts, service.resources, ctx.ledger, cons.distinct,
                  UNLIMITED if exhaustive else max(total, 1), fixed, max_skew)
    groups = _groups(members, path_of, svc, pinned)
    for group in groups:   # phase 1: enough capacity
        group.scan_cap(svc, None if exhaustive else svc.limit)
    groups = [g for g in groups if g.slots or g.pinned]
    spread = levels[-1] == INSTANCE_LEVEL
    room = sum(min(g.cap, svc.limit) + g.pinned for g in groups)
    if groups:
        _assign_groups(min(total + sum(pinned.values()), room), groups, 0, svc, spread)
    for group in groups:   # phase 2: enough instances, then the leaf distribution
        group.scan_slots(svc, group.target)
        _leaf(group, spread, max_skew)
    slots = [s for g in groups for s in g.slots]
    eligible = {s.inst.arn for s in slots}
    analysis = _Analysis(service, levels, slots,
                         {arn: n for arn, n in sorted(counts.items()) if arn not in eligible},
                         complete=exhaustive or all(g.pos >= len(g.members) for g in groups),
                         waiting=waiting, hidden=hidden, delegated=delegated, groups=groups)
    if groups:
        analysis.skew = _skews(groups, group_levels, hidden, spread, targets=False)
        analysis.target_skew = _skews(groups, group_levels, hidden, spread, targets=True)
    analysis.moves_needed = sum(max(0, s.count - s.target) for s in slots)
    analysis.azs = _az_counts(slots, counts, path_of, ctx.instances)
    return analysis


def _outside(counts: Mapping[str, int], path_of: Mapping[str, tuple],
             instances: Mapping[str, Instance], group_levels: tuple[str, ...]
             ) -> tuple[dict[tuple[str, ...], int], int]:
    """Tasks not on a candidate instance: pinned per group path (the instance is ACTIVE, so
    ECS's spread still counts them for its domain) and the number waiting (DRAINING or
    deregistered instance, or not placed yet: ECS is replacing or placing them)."""
    pinned: dict[tuple[str, ...], int] = defaultdict(int)
    waiting = 0
    for arn, n in counts.items():
        if arn in path_of:
            continue
        inst = instances.get(arn)
        if inst is None or inst.status != "ACTIVE":
            waiting += n
        else:
            pinned[tuple(level_value(lv, inst) for lv in group_levels)] += n
    return pinned, waiting


def _az_counts(slots: Sequence[_Slot], counts: Mapping[str, int],
               path_of: Mapping[str, tuple], instances: Mapping[str, Instance]) -> dict[str, int]:
    """Tasks per AZ as ECS's spread counts them: candidates plus other ACTIVE instances."""
    azs: dict[str, int] = defaultdict(int)
    for s in slots:
        azs[s.inst.az] += s.count
    for arn, n in counts.items():
        inst = instances.get(arn)
        if arn not in path_of and inst is not None and inst.status == "ACTIVE":
            azs[inst.az] += n
    return dict(sorted(azs.items()))


def _groups(members: Mapping[tuple[str, ...], list[Instance]], path_of: Mapping[str, tuple],
            svc: _SvcCtx, pinned: Mapping[tuple[str, ...], int]) -> list[_Group]:
    """One group per leaf domain, holding the occupied eligible instances as slots (and the
    pinned count of tasks on non-candidate ACTIVE instances of the domain)."""
    groups = {path: _Group(path, insts) for path, insts in members.items()}
    for path, n in pinned.items():
        groups.setdefault(path, _Group(path, [])).pinned = n
    for arn, count in sorted(svc.counts.items()):
        path = path_of.get(arn)
        if path is None:
            continue
        cap = min(count + svc.raw_room(arn), svc.limit)
        cap = min(cap, 1) if svc.distinct else cap
        group = groups[path]
        group.slots.append(_Slot(svc.ledger.instance(arn), path + (arn,), count, cap))
        group.cap += cap
    return [groups[path] for path in sorted(groups)]


def water_fill(total: int, caps: Sequence[int],
               prefs: Sequence[tuple] | Callable[[int, int], tuple]) -> list[int]:
    """Spread ``total`` over items with capacities ``caps`` as evenly as capacity allows.

    The ceil slots go to the open items whose preference sorts first: ``prefs[i]``, or
    ``prefs(i, level)`` (called only when there are ceil slots to give). ``total`` <= sum(caps).
    """
    n = len(caps)
    if n and min(caps) * n > total:   # nothing saturates: the sorted loop stops at once
        level, remaining = divmod(total, n)
    else:
        order = sorted(range(n), key=lambda i: caps[i])
        remaining = total
        level = UNLIMITED
        for pos, idx in enumerate(order):
            left = n - pos
            if caps[idx] * left <= remaining:
                remaining -= caps[idx]
                continue
            level, remaining = divmod(remaining, left)
            break
    targets = [min(c, level) for c in caps]
    if level != UNLIMITED and remaining:
        key = prefs if callable(prefs) else (lambda i, _lvl: prefs[i])
        open_items = sorted((i for i in range(len(caps)) if caps[i] > level),
                            key=lambda i: key(i, level))
        for i in open_items[:remaining]:
            targets[i] += 1
    return targets


def band_fill(total: int, counts: Sequence[int], floors: Sequence[int], caps: Sequence[int],
              max_skew: int, prefs: Sequence[tuple]) -> list[int]:
    """Targets ``t`` (``floors[i] <= t[i] <= caps[i]``, summing to ``total``) within
    ``max_skew`` of each other where capacity allows, moving the fewest tasks from ``counts``.

    This is what ``max_skew`` means: a tolerance, not a trigger for perfect balance. With
    max_skew 2, 8/0 over two instances becomes 5/3 (3 moves), not 4/4. The band [H - k, H]
    is tried for every H from the perfect water level L* (the largest level with
    sum(clamp(L*, floor, cap)) <= total) to L* + k + 1; each domain is clamped into the band,
    the rest filled lowest first or cut highest first; the fewest moves win, then the least
    skew, then the lowest band. ``prefs[i]`` breaks ties (sorts first = served first).
    """
    lo = water_level(total, floors, caps)
    best: tuple[tuple, list[int]] | None = None
    for high in range(lo, lo + max_skew + 2):
        targets = _band(total, counts, floors, caps, high - max_skew, high, prefs)
        if targets is None:
            continue
        open_t = [t for t, c in zip(targets, caps) if t < c] or targets
        key = (sum(c - t for c, t in zip(counts, targets) if c > t),
               max(open_t, default=0) - min(open_t, default=0), high)
        if best is None or key < best[0]:
            best = (key, targets)
    if best is None:   # cannot happen when floors <= caps and sum(floors) <= total <= sum(caps)
        return water_fill(total, caps, prefs)
    return best[1]


def water_level(total: int, floors: Sequence[int], caps: Sequence[int]) -> int:
    """The largest level L with sum(clamp(L, floor, cap)) <= total (L* of ``band_fill``)."""
    if caps and not any(floors) and min(caps) >= total:
        return total // len(caps)          # nothing clamps: the plain average
    lo, hi = 0, max(caps, default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(max(mid, f), c) for f, c in zip(floors, caps)) <= total:
            lo = mid
        else:
            hi = mid - 1
    return lo


def band_moves(total: int, counts: Sequence[int], caps: Sequence[int], max_skew: int) -> int:
    """``band_fill``'s number of moves (no floors), without building the targets.

    When no cap binds inside the bands tried, clamping the counts into band [L, H] cuts the
    tasks above H and leaves S tasks; reaching ``total`` adds tasks below H (no move) or cuts
    S - total more above L (one move each); feasible when n * L <= total <= n * H. Falls back
    to ``band_fill`` otherwise."""
    n = len(counts)
    level = total // n if n else 0
    if not n or min(caps) < level + max_skew + 1:
        targets = band_fill(total, counts, [0] * n, caps, max_skew,
                            [(0, i) for i in range(n)])
        return sum(max(0, c - t) for c, t in zip(counts, targets))
    best = None
    for high in range(level, level + max_skew + 2):
        low = high - max_skew
        if n * max(low, 0) > total or n * high < total:
            continue
        floor = max(low, 0)
        cuts = sum(c - high for c in counts if c > high)
        kept = sum(floor if c < floor else high if c > high else c for c in counts)
        moves = cuts + max(0, kept - total)
        best = moves if best is None else min(best, moves)
    return best or 0


def _band(total: int, counts: Sequence[int], floors: Sequence[int], caps: Sequence[int],
          low: int, high: int, prefs: Sequence[tuple]) -> list[int] | None:
    """Counts clamped into [low, high] (within floor and cap), then fixed to sum to ``total``:
    the surplus goes to the lowest open domains, a shortfall is cut from the highest ones."""
    lows = [max(f, min(low, c)) for f, c in zip(floors, caps)]
    highs = [max(lw, min(high, c)) for lw, c in zip(lows, caps)]
    targets = [min(max(n, lw), hg) for n, lw, hg in zip(counts, lows, highs)]
    diff = total - sum(targets)
    if diff > 0:
        heap = [(t, prefs[i], i) for i, t in enumerate(targets) if t < highs[i]]
        sign = 1
    elif diff < 0:
        heap = [(-t, prefs[i], i) for i, t in enumerate(targets) if t > lows[i]]
        sign = -1
    else:
        return targets
    heapq.heapify(heap)
    for _step in range(abs(diff)):
        if not heap:
            return None
        _prio, pref, i = heapq.heappop(heap)
        targets[i] += sign
        if (sign > 0 and targets[i] < highs[i]) or (sign < 0 and targets[i] > lows[i]):
            heapq.heappush(heap, (targets[i] if sign > 0 else -targets[i], pref, i))
    return targets


def _split(total: int, groups: list[_Group], depth: int, svc: _SvcCtx, spread: bool
           ) -> list[tuple[int, list[_Group]]]:
    """Shares of ``total`` for the child domains of ``groups`` at ``depth``.

    A fixed depth keeps each child's current count. Otherwise, with max_skew 1 and nothing
    pinned, the ceil slots go to the children where one more task saves a move (computed,
    since spreading inside a child can send its extra slot to an empty instance), then to
    those holding most, then by name; else ``band_fill`` (floors = pinned tasks).
    """
    by_key: dict[str, list[_Group]] = defaultdict(list)
    for g in groups:
        by_key[g.path[depth]].append(g)
    keys = sorted(by_key)
    floors = [sum(g.pinned for g in by_key[k]) for k in keys]
    caps = [f + min(svc.limit, sum(g.cap for g in by_key[k])) for f, k in zip(floors, keys)]
    held = [sum(g.held() for g in by_key[k]) for k in keys]
    if depth in svc.fixed:
        shares = [min(h, c) for h, c in zip(held, caps)]
    elif svc.max_skew == 1 and not any(floors):
        def pref(i: int, level: int) -> tuple:
            child = by_key[keys[i]]
            gain = _cost(level, child, depth + 1, svc, spread) - \
                _cost(level + 1, child, depth + 1, svc, spread)
            return (-gain, -sum(s.eff for g in child for s in g.slots), keys[i])

        shares = water_fill(total, caps, pref)
    else:
        memo: dict[tuple[int, int], int] = {}

        def cost(i: int, share: int) -> int:
            if (i, share) not in memo:
                memo[i, share] = _cost(share, by_key[keys[i]], depth + 1, svc, spread)
            return memo[i, share]

        shares = band_split(total, held, floors, caps, svc.max_skew, cost) or \
            band_fill(total, held, floors, caps, svc.max_skew,
                      [(-h, k) for h, k in zip(held, keys)])
    return list(zip(shares, (by_key[k] for k in keys)))


def band_split(total: int, held: Sequence[int], floors: Sequence[int], caps: Sequence[int],
               max_skew: int, cost: Callable[[int, int], int]) -> list[int] | None:
    """Shares of ``total`` for child domains within ``max_skew`` of each other (where
    capacity allows) with the fewest moves *below* them: ``cost(i, share)`` is child i's
    fewest moves for ``share``. A move between children can fix both levels at once (3/3
    over AZs as 0/3 and 0/3 inside them, max_skew 2: one move to 2/4 is enough), so the
    shares are chosen on the children's costs, not on this level's counts: for each band
    [H - k, H] a small knapsack over the children (each share has at most k + 1 values).
    None when no band fits (then ``band_fill`` decides).
    """
    lo = water_level(total, floors, caps)
    best: tuple[tuple, list[int]] | None = None
    for high in range(lo, lo + max_skew + 2):
        lows = [max(f, min(high - max_skew, c)) for f, c in zip(floors, caps)]
        highs = [max(lw, min(high, c)) for lw, c in zip(lows, caps)]
        if sum(lows) > total or sum(highs) < total:
            continue
        # states: sum of shares so far -> (cost, shares)
        states: dict[int, tuple[int, list[int]]] = {0: (0, [])}
        for i, (lw, hg) in enumerate(zip(lows, highs)):
            nxt: dict[int, tuple[int, list[int]]] = {}
            for acc, (acc_cost, chosen) in states.items():
                for share in sorted(range(lw, hg + 1), key=lambda v: abs(v - held[i])):
                    key = acc + share
                    if key > total:
                        continue
                    value = acc_cost + cost(i, share)
                    if key not in nxt or value < nxt[key][0]:
                        nxt[key] = (value, chosen + [share])
            states = nxt
        if total not in states:
            continue
        value, shares = states[total]
        open_s = [v for v, c in zip(shares, caps) if v < c] or shares
        rank = (value, max(open_s) - min(open_s), high)
        if best is None or rank < best[0]:
            best = (rank, shares)
    return None if best is None else best[1]


def _cost(total: int, groups: list[_Group], depth: int, svc: _SvcCtx, spread: bool) -> int:
    """Fewest moves for the domain holding ``groups`` to end up with ``total`` tasks."""
    if depth == len(groups[0].path):
        group = groups[0]
        total = max(0, total - group.pinned)
        group.scan_slots(svc, total)
        slots = group.slots
        if not slots:
            return 0
        if not spread:
            eff = sum(s.eff for s in slots)
            return sum(s.count - s.eff for s in slots) + max(0, eff - total)
        caps = [s.cap for s in slots]
        if svc.max_skew > 1:
            return band_moves(min(total, sum(caps)), [s.count for s in slots], caps,
                              svc.max_skew)
        n = len(slots)
        if n and min(caps) * n > total:
            # Every slot gets ``level`` or ``level + 1`` and the ceil slots go to the largest
            # eff first; slots with count > level are exactly those with eff > level (cap >
            # level), so each ceil slot saves one move while such slots remain.
            level, extra = divmod(total, n)
            over = [s.count - level for s in slots if s.count > level]
            return sum(over) - min(extra, len(over))
        targets = water_fill(total, caps, [(-s.eff, s.inst.arn) for s in slots])
        return sum(max(0, s.count - t) for s, t in zip(slots, targets))
    return sum(_cost(share, child, depth + 1, svc, spread)
               for share, child in _split(total, groups, depth, svc, spread))


def _assign_groups(total: int, groups: list[_Group], depth: int, svc: _SvcCtx,
                   spread: bool) -> None:
    """Set ``group.target`` (tasks on candidates, pinned ones excluded) for leaf groups under
    one domain at ``depth`` holding ``total`` (pinned ones included)."""
    if not groups:
        return
    if depth == len(groups[0].path):
        groups[0].target = max(0, total - groups[0].pinned)
        return
    for share, child in _split(total, groups, depth, svc, spread):
        _assign_groups(share, child, depth + 1, svc, spread)


def _leaf(group: _Group, spread: bool, max_skew: int = 1) -> None:
    """Targets of the instances of one leaf group: spread (instanceId level) or sticky."""
    slots = group.slots
    if not slots:
        return
    if not spread:
        _sticky(group.target, slots)
        return
    prefs = [(-s.eff, s.inst.arn) for s in slots]
    caps = [s.cap for s in slots]
    if max_skew == 1:
        targets = water_fill(group.target, caps, prefs)
    else:
        targets = band_fill(group.target, [s.count for s in slots], [0] * len(slots), caps,
                            max_skew, prefs)
    for s, t in zip(slots, targets):
        s.target = t


def _sticky(total: int, slots: Sequence[_Slot]) -> None:
    """Inside a leaf attribute domain: keep tasks where they are, add to the emptiest."""
    for s in slots:
        s.target = s.eff
    diff = total - sum(s.target for s in slots)
    if diff < 0:
        heap = [(-s.target, s.inst.arn, i) for i, s in enumerate(slots) if s.target > 0]
        heapq.heapify(heap)
        for _step in range(-diff):
            _prio, arn, i = heapq.heappop(heap)
            slots[i].target -= 1
            if slots[i].target:
                heapq.heappush(heap, (-slots[i].target, arn, i))
    elif diff > 0:
        heap = [(s.target, s.inst.arn, i) for i, s in enumerate(slots) if s.target < s.cap]
        heapq.heapify(heap)
        for _step in range(diff):
            _prio, arn, i = heapq.heappop(heap)
            slots[i].target += 1
            if slots[i].target < slots[i].cap:
                heapq.heappush(heap, (slots[i].target, arn, i))


def _skews(groups: Sequence[_Group], group_levels: tuple[str, ...], hidden: int, spread: bool,
           targets: bool = False) -> dict[str, int]:
    """Skew per reported level (of counts, or of the targets), measured inside each parent
    domain.

    ``groups``: the leaf groups. Attribute levels are the group path, so their domains'
    counts are group totals (pinned tasks included: ECS's spread counts them); the
    ``instanceId`` level (``spread``) has one domain per candidate slot, its parent being the
    slot's group. The first ``hidden`` levels (pools) are parents only, never reported.
    """
    def value(s: _Slot) -> int:
        return s.target if targets else s.count

    totals = [(g.path, sum(value(s) for s in g.slots) + g.pinned) for g in groups]
    out = {}
    for depth in range(hidden, len(group_levels)):
        per_parent: dict[tuple, dict[str, int]] = {}
        for path, total in totals:
            domains = per_parent.setdefault(path[:depth], {})
            domains[path[depth]] = domains.get(path[depth], 0) + total
        out[level_name(group_levels[depth])] = max(max(c.values()) - min(c.values())
                                                   for c in per_parent.values())
    if spread:
        per_group = [[value(s) for s in g.slots] for g in groups if g.slots]
        out[INSTANCE_LEVEL] = max((max(c) - min(c) for c in per_group), default=0)
    return out


# ------------------------------------------------------------------------------------ moves
def task_preference(task: Task) -> tuple:
    """Sort key: the task to move first. Unprotected, not yet RUNNING, unhealthy, newest."""
    return (task.protected is True, task.last_status == "RUNNING", task.health != "UNHEALTHY",
            -task.started_at, -task.created_at, task.arn)


def _moves(analysis: _Analysis, tasks: Sequence[Task], limit: int) -> list[Move]:
    """The fewest moves from the current layout to the targets, most loaded sources first;
    the first ``limit`` of them."""
    by_instance: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        by_instance[task.instance_arn].append(task)
    surplus: list[tuple[tuple, Task, _Slot]] = []
    deficit: list[tuple[tuple, _Slot]] = []
    for s in analysis.slots:
        if s.count > s.target:
            leaving = sorted(by_instance[s.inst.arn], key=task_preference)[: s.count - s.target]
            surplus.extend(((-(s.count - j), task.arn), task, s) for j, task in enumerate(leaving))
        for k in range(s.target - s.count):
            deficit.append(((s.count + k, s.inst.arn), s))
    surplus.sort(key=lambda item: item[0])
    deficit.sort(key=lambda item: item[0])
    pairs = _pair(surplus, deficit, len(analysis.slots[0].path) - 1)
    pairs.sort(key=lambda p: p[0][0])
    del pairs[limit:]
    return [Move(analysis.service.name, task.arn, src.inst.arn, src.inst.az,
                 dst.inst.arn, dst.inst.az) for (_rank, task, src), (_slot, dst) in pairs]


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
        surplus.sort(key=lambda item: item[0])
        deficit.sort(key=lambda item: item[0])
    return pairs


# ----------------------------------------------------------------------------------- public

def _distribution(analysis: _Analysis, max_skew: int, skip: Skip | None = None) -> Distribution:
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


def _single_domain(analysis: _Analysis) -> Skip | None:
    """Skip only when no level has two eligible domains: one AZ with several instances still
    has an instance level to balance (a single-AZ cluster is not 'nothing to spread over')."""
    depth = analysis.hidden
    spread = analysis.levels[-1] == INSTANCE_LEVEL
    domains = {s.path[depth:] if spread else s.path[depth:-1] for s in analysis.slots}
    if len(domains) >= 2:
        return None
    return Skip(Reason.SINGLE_DOMAIN,
                f"{len(domains)} eligible domain(s) at every level "
                f"({', '.join(level_name(lv) for lv in analysis.levels)}); nothing to spread over")


def _waiting(analysis: _Analysis) -> Skip | None:
    """Tasks on DRAINING or deregistered instances (or not placed yet) are being replaced by
    ECS; counting them twice or moving around them would fight ECS, so the service waits."""
    if not analysis.waiting:
        return None
    return Skip(Reason.TASKS_BEING_REPLACED,
                f"{analysis.waiting} task(s) on DRAINING or deregistered instances (or not "
                "placed yet) are being replaced by ECS; waiting for it")


def _fmt(skew: Mapping[str, int]) -> str:
    return ", ".join(f"{lv}={n}" for lv, n in skew.items()) or "none"


def _capacity_text(analysis: _Analysis, max_skew: int) -> str:
    """The numbers behind an at-capacity layout: the skew capacity allows at best, and how
    many eligible instances have room for another task of the service."""
    res = analysis.service.resources
    roomy = sum(1 for s in analysis.slots if s.cap > s.count)
    best = {lv: n for lv, n in analysis.target_skew.items()
            if n > max_skew and lv not in analysis.delegated}
    return (f"free capacity allows skew {_fmt(best)} at best (max_skew {max_skew}); "
            f"{roomy} of {len(analysis.slots)} eligible instance(s) have room for another "
            f"task (cpu {res.cpu}, memory {res.memory} MiB)")


def _status_plan(analysis: _Analysis, tasks: Sequence[Task], dist: Distribution,
                 max_skew: int, budget: int, max_moves: int) -> ServicePlan:
    """BALANCED, AT_CAPACITY, DEFERRED or REBALANCE, each not balanced one with a reason."""
    name = analysis.service.name
    if dist.balanced:
        return ServicePlan(name, Status.BALANCED, distribution=dist)
    needed = analysis.moves_needed
    skew_text = f"skew {_fmt(analysis.skew)} exceeds max_skew {max_skew}"
    if needed == 0:
        return ServicePlan(name, Status.AT_CAPACITY, distribution=dist, reason=Skip(
            Reason.AT_CAPACITY, f"{skew_text}, but {_capacity_text(analysis, max_skew)}"))
    if budget <= 0:
        return ServicePlan(name, Status.DEFERRED, moves_needed=needed, truncated=True,
                           distribution=dist, reason=Skip(
                               Reason.DEFERRED, f"{skew_text}; {needed} move(s) needed, but "
                               f"the max_moves budget ({max_moves}) is spent by the services "
                               "planned before it"))
    moves = tuple(_moves(analysis, tasks, budget))
    text = f"{skew_text}; {len(moves)} of {needed} move(s) planned"
    code = Reason.MOVES_PLANNED
    if len(moves) < needed:
        code = Reason.DEFERRED
        text += f"; the rest deferred by the max_moves budget ({max_moves}, {budget} left)"
    if not analysis.balanced_targets(max_skew):
        code = Reason.AT_CAPACITY
        text += f"; {_capacity_text(analysis, max_skew)}"
    return ServicePlan(name, Status.REBALANCE, moves, needed, len(moves) < needed,
                       distribution=dist, reason=Skip(code, text))


def _plan_service(service: Service, tasks: Sequence[Task], ctx: _Context, max_skew: int,
                  budget: int, max_moves: int | None = None) -> ServicePlan:
    """Status and moves (at most ``budget`` of the run's ``max_moves``) for one service."""
    skip = policy_skip(service, tasks)
    if skip is not None:
        dist = _fallback_distribution(service, tasks, ctx, max_skew, skip, exhaustive=False)
        return ServicePlan(service.name, Status.SKIPPED, skip=skip, distribution=dist)
    levels = strategy_levels(service)
    analysis = analyze(service, tasks, ctx, levels, max_skew=max_skew)   # levels: no Skip
    if isinstance(analysis, Skip):
        dist = _fallback_distribution(service, tasks, ctx, max_skew, analysis, exhaustive=False)
        return ServicePlan(service.name, Status.SKIPPED, skip=analysis, distribution=dist)
    skip = _waiting(analysis) or _single_domain(analysis)
    dist = _distribution(analysis, max_skew, skip)
    if skip is not None:
        return ServicePlan(service.name, Status.SKIPPED, skip=skip, distribution=dist)
    return _status_plan(analysis, tasks, dist, max_skew, budget,
                        budget if max_moves is None else max_moves)


def default_max_moves(snapshot: ClusterSnapshot) -> int:
    """10% of the cluster's live tasks, at least 1."""
    return max(1, snapshot.task_count() // 10)


def plan(snapshot: ClusterSnapshot, options: PlanOptions | None = None) -> Plan:
    """Plan the moves that bring every selected spread service of ``snapshot`` within
    max_skew. Every service gets a ServicePlan with a distribution (skipped ones too, from
    the default levels when the strategy does not spread)."""
    options = options or PlanOptions()
    budget = default_max_moves(snapshot) if options.max_moves is None else options.max_moves
    names = sorted(snapshot.services) if options.services is None else \
        snapshot.service_names(options.services)
    ctx = _Context(snapshot)
    left, plans, all_moves = budget, [], []
    for name in names:
        service = snapshot.services[name]
        sp = _plan_service(service, snapshot.tasks.get(name, ()), ctx, options.max_skew, left,
                           budget)
        left -= len(sp.moves)
        for move in sp.moves:
            ctx.ledger.reserve(move.destination_instance, service.resources)
        plans.append(sp)
        all_moves.extend(sp.moves)
    needed = sum(sp.moves_needed for sp in plans)
    return Plan(cluster=snapshot.cluster_name, services=tuple(plans), max_moves=budget,
                max_skew=options.max_skew, moves=tuple(all_moves), moves_needed=needed,
                truncated=len(all_moves) < needed)


def _fallback_distribution(svc: Service, tasks: Sequence[Task], ctx: _Context, max_skew: int,
                           skip: Skip | None, exhaustive: bool) -> Distribution | None:
    """The distribution of a service the planner skips: default levels when the strategy
    does not spread, no memberOf when it cannot be evaluated; None when even that fails."""
    levels = strategy_levels(svc)
    if isinstance(levels, Skip):
        levels = (AZ_ATTRIBUTE, INSTANCE_LEVEL)
    analysis = analyze(svc, tasks, ctx, levels, exhaustive=exhaustive, max_skew=max_skew)
    if isinstance(analysis, Skip):
        skip = skip or analysis
        analysis = analyze(replace(svc, placement_constraints=()), tasks, ctx, levels,
                           exhaustive=exhaustive, max_skew=max_skew)
    if isinstance(analysis, Skip):
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
    dist = _fallback_distribution(svc, tasks, _Context(snapshot), max_skew,
                                  policy_skip(svc, tasks), exhaustive=True)
    if dist is None:   # without constraints analyze cannot skip
        raise AssertionError("analysis without constraints skipped")
    return dist


def _counts(tasks: Iterable[Task]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for task in tasks:
        out[task.instance_arn] += 1
    return out
