"""Candidate instances: which instances a service's tasks may be placed on, and how much room
each has. The spread levels of a service's strategy (``strategy_levels``, ``level_value``), its
constraints (``service_constraints``), the shared capacity ``Ledger``, and ``CandidateIndex``
(accepting instances meeting memberOf, of the strategy's providers, grouped by domain path).

Imports ``model``, ``codes``, ``plan_types``, ``placement_expr`` and ``filling`` (for
``UNLIMITED``) from the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .codes import Reason
from .errors import ExpressionError, UnsupportedExpression
from .filling import UNLIMITED
from .model import (
    AZ_ATTRIBUTE, SUBNET_ATTRIBUTE, ClusterSnapshot, Instance, Service, TaskResources,
)
from .placement_expr import Predicate, compile_expression, instance_subjects
from .plan_types import Explanation

INSTANCE_LEVEL = "instanceId"
POOL_LEVEL = "capacityProvider"   # grouping only: one pool per provider of the strategy


def strategy_levels(service: Service) -> tuple[str, ...] | Explanation:
    """The spread levels of ``service``: attribute names, then maybe ``instanceId``."""
    rules = service.placement_strategy
    bad = [r for r in rules if r.type.lower() != "spread"]
    if bad:
        kinds = ", ".join(sorted({r.type for r in bad}))
        return Explanation(Reason.UNSUPPORTED_STRATEGY,
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
            return Explanation(Reason.UNSUPPORTED_STRATEGY, f"spread field {rule.field!r} is not supported")
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


_State = tuple[int, int, frozenset[int], frozenset[int], int]


class Ledger:
    """Remaining CPU, memory, ports and awsvpc task slots (ENIs) per instance, shared by
    every service of one plan."""

    def __init__(self, instances: Mapping[str, Instance]):
        self._instances = instances
        self._state: dict[str, _State] = {}

    def remaining(self, arn: str) -> _State:
        """(CPU, memory, reserved TCP ports, reserved UDP ports, free awsvpc slots; UNLIMITED
        when the instance's type is in no ENI table)."""
        state = self._state.get(arn)
        if state is None:
            inst = self._instances[arn]
            state = (inst.remaining_cpu, inst.remaining_memory,
                     inst.reserved_tcp_ports, inst.reserved_udp_ports,
                     UNLIMITED if inst.awsvpc_slots is None else inst.awsvpc_slots)
        return state

    def room_fn(self, res: TaskResources, limit: int = UNLIMITED,
                distinct: bool = False) -> Callable[[str], int]:
        """``arn -> `` how many more tasks needing ``res`` fit on ``arn`` (CPU, memory, static
        ports, and for awsvpc tasks free task ENIs; UNLIMITED when nothing limits), at most
        ``limit``, and at most 1 when ``distinct``. Specialised once per service: the
        planner's hottest call."""
        state_get, instances = self._state.get, self._instances
        tcp_need, udp_need = res.tcp_ports, res.udp_ports
        ports = bool(tcp_need or udp_need)
        start = min(limit, 1) if ports or distinct else limit
        res_cpu, res_mem, res_enis = res.cpu, res.memory, res.enis

        def room(arn: str) -> int:
            state = state_get(arn)
            if state is None:
                inst = instances[arn]
                cpu, mem = inst.remaining_cpu, inst.remaining_memory
                tcp, udp = inst.reserved_tcp_ports, inst.reserved_udp_ports
                enis = UNLIMITED if inst.awsvpc_slots is None else inst.awsvpc_slots
            else:
                cpu, mem, tcp, udp, enis = state
            if ports and (tcp_need & tcp or udp_need & udp):
                return 0
            fit = start
            if res_cpu > 0 and cpu // res_cpu < fit:
                fit = cpu // res_cpu
            if res_mem > 0 and mem // res_mem < fit:
                fit = mem // res_mem
            if res_enis > 0 and enis // res_enis < fit:
                fit = enis // res_enis
            return fit if fit > 0 else 0

        return room

    def short_of(self, arn: str, res: TaskResources) -> tuple[str, ...]:
        """What keeps one more task needing ``res`` off ``arn``: any of ``CPU``, ``memory``,
        ``port``, ``ENI`` (no free awsvpc task slot); () when it fits."""
        cpu, mem, tcp, udp, enis = self.remaining(arn)
        out = []
        if res.cpu > cpu:
            out.append("CPU")
        if res.memory > mem:
            out.append("memory")
        if res.tcp_ports & tcp or res.udp_ports & udp:
            out.append("port")
        if res.enis > enis:
            out.append("ENI")
        return tuple(out)

    def instance(self, arn: str) -> Instance:
        return self._instances[arn]

    def reserve(self, arn: str, res: TaskResources) -> None:
        cpu, mem, tcp, udp, enis = self.remaining(arn)
        self._state[arn] = (cpu - res.cpu, mem - res.memory, tcp | res.tcp_ports,
                            udp | res.udp_ports,
                            enis if enis >= UNLIMITED else enis - res.enis)


@dataclass(frozen=True, slots=True)
class Constraints:
    """A service's placement constraints the planner evaluates."""

    distinct: bool
    member_of: tuple[str, ...]


def service_constraints(service: Service) -> Constraints | Explanation:
    member_of: list[str] = []
    distinct = False
    for c in service.placement_constraints:
        if c.type == "distinctInstance":
            distinct = True
        elif c.type == "memberOf":
            member_of.append(c.expression)
        else:
            return Explanation(Reason.UNSUPPORTED_CONSTRAINT, f"placement constraint type {c.type!r}")
    return Constraints(distinct, tuple(member_of))


# What depends on a snapshot's instances alone (the map by ARN, the accepting ones, the
# candidates per memberOf set, their groups by domain path, each instance's query subjects),
# kept for the last instances tuple seen. A surge decision plans many copies of one snapshot
# that share that tuple (other tasks, the same instances): each plan then starts from these
# instead of rebuilding them. One entry; ``is`` on the tuple is exact and every cache is a
# pure function of it, so a plan's result does not depend on what came before.
_SHARED: list = [None, None]


def _shared(instances: tuple[Instance, ...]) -> dict:
    if _SHARED[0] is not instances:
        # Managed Instances hosts are ECS's to place on and consolidate: never a candidate,
        # so no plan moves a task to them, and their tasks are pinned (never stopped).
        accepting = [i for i in instances if i.accepts_tasks and not i.managed_instances]
        _SHARED[:] = [instances, {"map": {inst.arn: inst for inst in instances},
                                  "accepting": accepting, "filtered": {(): accepting},
                                  "grouped": {}, "subjects": {}}]
    return _SHARED[1]


def instance_map(snapshot: ClusterSnapshot) -> Mapping[str, Instance]:
    """``snapshot.instance_map()``, shared by the snapshots that share its instances tuple
    (read only: callers never change it)."""
    return _shared(snapshot.instances)["map"]


class CandidateIndex:
    """The candidate instances of one snapshot: the instance map, candidates per memberOf set
    and grouped by domain path (shared by snapshots with the same instances, see
    ``_SHARED``), and its own capacity ledger. One per plan (shared by its services) or per
    surge prediction."""

    def __init__(self, snapshot: ClusterSnapshot):
        self.snapshot = snapshot
        shared = _shared(snapshot.instances)
        self.instances = shared["map"]
        self.ledger = Ledger(self.instances)
        self.accepting = shared["accepting"]
        self._filtered: dict[tuple[str, ...], list[Instance] | Explanation] = shared["filtered"]
        self._grouped: dict[tuple, tuple[dict, dict]] = shared["grouped"]
        self._subjects: dict[str, dict[str, str]] = shared["subjects"]

    def grouped(self, member_of: tuple[str, ...], group_levels: tuple[str, ...],
                providers: tuple[str, ...] = (), subnets: tuple[str, ...] = ()
                ) -> tuple[dict[tuple[str, ...], list[Instance]], dict[str, tuple[str, ...]]] | Explanation:
        """Candidates (accepting, memberOf met, of one of ``providers`` when a capacity
        provider strategy names them, in one of ``subnets`` when an awsvpc service names
        them) by group path, in ARN order; path per ARN."""
        candidates = self.candidates(member_of)
        if isinstance(candidates, Explanation):
            return candidates
        key = (member_of, group_levels, providers, subnets)
        if key not in self._grouped:
            groups: dict[tuple[str, ...], list[Instance]] = defaultdict(list)
            path_of = {}
            wanted = frozenset(providers)
            in_subnets = frozenset(subnets)
            for inst in candidates:
                if wanted and inst.capacity_provider not in wanted:
                    continue
                if in_subnets and inst.attributes.get(SUBNET_ATTRIBUTE) not in in_subnets:
                    continue
                path = tuple(level_value(lv, inst) for lv in group_levels)
                groups[path].append(inst)
                path_of[inst.arn] = path
            self._grouped[key] = (dict(sorted(groups.items())), path_of)
        return self._grouped[key]

    def candidates(self, member_of: tuple[str, ...]) -> list[Instance] | Explanation:
        """Accepting instances meeting every memberOf expression (or a Explanation if unsupported)."""
        if member_of not in self._filtered:
            self._filtered[member_of] = self._filter(member_of)
        return self._filtered[member_of]

    def _filter(self, member_of: tuple[str, ...]) -> list[Instance] | Explanation:
        try:
            preds: list[Predicate] = [compile_expression(e) for e in member_of]
        except UnsupportedExpression as exc:
            return Explanation(Reason.UNSUPPORTED_CONSTRAINT, f"memberOf not supported: {exc}")
        except ExpressionError as exc:
            return Explanation(Reason.UNSUPPORTED_CONSTRAINT, f"memberOf not understood: {exc}")
        return [i for i in self.accepting if all(p(self._subjects_of(i)) for p in preds)]

    def _subjects_of(self, inst: Instance) -> dict[str, str]:
        if inst.arn not in self._subjects:
            self._subjects[inst.arn] = instance_subjects(inst)
        return self._subjects[inst.arn]


__all__ = ["INSTANCE_LEVEL", "POOL_LEVEL", "CandidateIndex", "Constraints", "Ledger",
           "instance_map", "level_name", "level_value", "service_constraints",
           "strategy_levels"]
