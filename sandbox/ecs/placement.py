"""Task placement (docs/ecs-facts.md §1.2-1.3) and scale-in choice (§2) as pure functions.

Inputs are plain data: ``Host`` (a container instance as the scheduler sees it) and
``TaskShape`` (what one task needs). Nothing here reads the clock or the plane; randomness
comes from the ``rng`` argument.

Placement: hard filters in ECS's order (agent, CPU, memory, ports, constraints), then the
strategies in order, each keeping only the best-scoring candidates, then a tie-break.

Layer: data (pure functions, no store); imports only ``query``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from . import query

DEFAULT_STRATEGY: tuple[dict, ...] = (
    {"type": "spread", "field": "attribute:ecs.availability-zone"},
    {"type": "spread", "field": "instanceId"},
)

# Failure reasons as RunTask reports them (API Failure.reason), best-reached stage last.
AGENT, CPU, MEMORY, PORTS, PORTS_UDP, ATTRIBUTE = (
    "AGENT", "RESOURCE:CPU", "RESOURCE:MEMORY", "RESOURCE:PORTS", "RESOURCE:PORTS_UDP",
    "ATTRIBUTE")
ENI = "RESOURCE:ENI"   # awsvpc: no ENI left on the instance (sandbox/ecs/network.py)
_STAGE = {AGENT: 0, CPU: 1, MEMORY: 2, PORTS: 3, PORTS_UDP: 3, ENI: 3, ATTRIBUTE: 4}
_PHRASE = {
    CPU: "has insufficient CPU units available",
    MEMORY: "has insufficient memory available",
    PORTS: "is already using a port required by your task",
    PORTS_UDP: "is already using a port required by your task",
    ATTRIBUTE: "is missing an attribute required by your task",
    # observed service event: 'The closest matching container-instance <id> encountered
    # error "RESOURCE:ENI".' (the documented "encountered error" family of the AGENT message)
    ENI: 'encountered error "RESOURCE:ENI"',
}


@dataclass
class Host:
    arn: str
    ec2_instance_id: str
    status: str = "ACTIVE"
    agent_connected: bool = True
    attributes: dict[str, str | None] = field(default_factory=dict)
    remaining_cpu: int = 0
    remaining_memory: int = 0
    ports_tcp: set[str] = field(default_factory=set)     # remainingResources PORTS
    ports_udp: set[str] = field(default_factory=set)     # remainingResources PORTS_UDP
    dynamic_in_use: set[int] = field(default_factory=set)
    groups: Counter = field(default_factory=Counter)       # group -> tasks not yet STOPPED
    live_groups: Counter = field(default_factory=Counter)  # group -> tasks desired RUNNING
    facts: dict[str, Any] = field(default_factory=dict)    # other query subjects
    eni_slots: int | None = None   # awsvpc tasks it can still take (None: not limited)

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def resolve(self, subject: str) -> Any:
        if subject.startswith("attribute:"):
            return self.attributes.get(subject[len("attribute:"):])
        if subject == "task:group":
            return sorted(g for g, n in self.groups.items() if n > 0)
        if subject == "ec2InstanceId":
            return self.ec2_instance_id
        if subject == "agentConnected":
            return self.agent_connected
        return self.facts.get(subject)


@dataclass
class TaskShape:
    cpu: int
    memory: int
    group: str
    tcp_ports: tuple[int, ...] = ()
    udp_ports: tuple[int, ...] = ()
    dynamic_tcp: int = 0  # bridge-mode mappings without a host port
    dynamic_udp: int = 0
    awsvpc: bool = False              # needs an ENI of its own
    subnets: tuple[str, ...] = ()     # awsvpc: the instance must be in one of these


@dataclass
class Failure:
    reason: str               # AGENT, RESOURCE:*, ATTRIBUTE, or NO_INSTANCES
    closest: list[Host]       # the instances that got furthest through the filters
    per_host: dict[str, str]  # host arn -> reason, for RunTask failures

    def service_message(self, service_name: str) -> str:
        head = (f"(service {service_name}) was unable to place a task because no container "
                "instance met all of its requirements.")
        tail = "For more information, see the Troubleshooting section of the Amazon ECS " \
               "Developer Guide."
        if self.reason in ("NO_INSTANCES", AGENT) or not self.closest:
            return f"{head} Reason: No Container Instances were found in your cluster. {tail}"
        return (f"{head} The closest matching (container-instance {self.closest[0].id}) "
                f"{_PHRASE[self.reason]}. {tail}")


@dataclass
class Placement:
    host: Host
    dynamic_ports: list[int]  # assigned in mapping order, TCP first then UDP


class Constraints:
    """Compiled placement constraints: distinctInstance and memberOf expressions."""

    def __init__(self, constraints: Iterable[dict]):
        self.distinct = False
        self.member_of: list[Any] = []
        for c in constraints or ():
            kind = c.get("type")
            if kind == "distinctInstance":
                self.distinct = True
            elif kind == "memberOf":
                self.member_of.append(query.parse(c.get("expression") or ""))
            else:
                raise query.QueryError(f"unknown placement constraint type {kind!r}")

    def allows(self, host: Host, group: str) -> bool:
        if self.distinct and host.groups.get(group, 0) > 0:
            return False
        return all(pred(host.resolve) for pred in self.member_of)


def free_dynamic_ports(host: Host, count: int, port_range: tuple[int, int]) -> list[int] | None:
    """The lowest ``count`` ports of the range used by no task and no reservation."""
    if count <= 0:
        return []
    found: list[int] = []
    lo, hi = port_range
    port = lo
    while port <= hi and len(found) < count:
        if port not in host.dynamic_in_use and str(port) not in host.ports_tcp \
                and str(port) not in host.ports_udp:
            found.append(port)
        port += 1
    return found if len(found) == count else None


def check(host: Host, shape: TaskShape, constraints: Constraints,
          port_range: tuple[int, int]) -> str | None:
    """None if the task fits the host, else the first failing filter's reason."""
    if host.status != "ACTIVE" or not host.agent_connected:
        return AGENT
    if host.remaining_cpu < shape.cpu:
        return CPU
    if host.remaining_memory < shape.memory:
        return MEMORY
    if any(str(p) in host.ports_tcp for p in shape.tcp_ports):
        return PORTS
    if any(str(p) in host.ports_udp for p in shape.udp_ports):
        return PORTS_UDP
    if free_dynamic_ports(host, shape.dynamic_tcp + shape.dynamic_udp, port_range) is None:
        return PORTS
    if shape.awsvpc and host.eni_slots is not None and host.eni_slots < 1:
        return ENI
    if shape.subnets and host.attributes.get("ecs.subnet-id") not in shape.subnets:
        return ATTRIBUTE
    if not constraints.allows(host, shape.group):
        return ATTRIBUTE
    return None


def _field_value(host: Host, fld: str) -> Any:
    f = (fld or "").strip()
    if f.lower() in ("instanceid", "host"):
        return host.arn
    if f.startswith("attribute:"):
        return host.attributes.get(f[len("attribute:"):])
    return host.attributes.get(f)


def _spread_counts(hosts: Sequence[Host], fld: str, group: str) -> Counter:
    counts: Counter = Counter()
    for h in hosts:
        counts[_field_value(h, fld)] += h.live_groups.get(group, 0)
    return counts


def _tie_key(host: Host) -> tuple:
    return (host.ec2_instance_id or "", host.arn)


def choose(hosts: Sequence[Host], shape: TaskShape, constraints: Constraints,
           strategies: Sequence[dict], *, rng, tie_break: str = "stable",
           missing_is_value: bool = True,
           port_range: tuple[int, int] = (32768, 60999)) -> Placement | Failure:
    """Pick the host for one task. ``hosts`` are all of the cluster's instances."""
    verdicts = {h.arn: check(h, shape, constraints, port_range) for h in hosts}
    cands = [h for h in hosts if verdicts[h.arn] is None]
    if not cands:
        tried = [h for h in hosts if verdicts[h.arn] != AGENT]
        if not tried:
            return Failure("NO_INSTANCES", [], {h.arn: AGENT for h in hosts})
        best = max(_STAGE[verdicts[h.arn]] for h in tried)
        closest = sorted((h for h in tried if _STAGE[verdicts[h.arn]] == best), key=_tie_key)
        return Failure(verdicts[closest[0].arn], closest,
                       {h.arn: verdicts[h.arn] for h in hosts})
    for strategy in strategies:
        if len(cands) <= 1:
            break
        kind = (strategy.get("type") or "").lower()
        fld = strategy.get("field") or ""
        if kind == "spread":
            counts = _spread_counts(hosts, fld, shape.group)

            def score(h: Host) -> float:
                value = _field_value(h, fld)
                if value is None and not missing_is_value:
                    return float("inf")
                return counts[value]
            low = min(score(h) for h in cands)
            cands = [h for h in cands if score(h) == low]
        elif kind == "binpack":
            need = shape.memory if fld.lower() == "memory" else shape.cpu

            def left(h: Host) -> int:
                have = h.remaining_memory if fld.lower() == "memory" else h.remaining_cpu
                return have - need
            low = min(left(h) for h in cands)
            cands = [h for h in cands if left(h) == low]
        elif kind == "random":
            cands = [rng.choice(sorted(cands, key=_tie_key))]
    cands = sorted(cands, key=_tie_key)
    host = cands[0] if tie_break == "stable" else rng.choice(cands)
    ports = free_dynamic_ports(host, shape.dynamic_tcp + shape.dynamic_udp, port_range) or []
    return Placement(host, ports)


def occupy(host: Host, shape: TaskShape, dynamic_ports: Sequence[int]) -> None:
    """Account one placed task on ``host`` so the next placement sees it."""
    host.remaining_cpu -= shape.cpu
    host.remaining_memory -= shape.memory
    host.ports_tcp.update(str(p) for p in shape.tcp_ports)
    host.ports_udp.update(str(p) for p in shape.udp_ports)
    host.dynamic_in_use.update(dynamic_ports)
    if shape.awsvpc and host.eni_slots is not None:
        host.eni_slots -= 1
    host.groups[shape.group] += 1
    host.live_groups[shape.group] += 1


# ------------------------------------------------------------------------- scale-in (§2)
@dataclass
class Victim:
    """A task the scheduler may stop, with what the choice looks at."""
    task_arn: str
    host_arn: str
    last_status: str
    healthy: bool
    created_at: float
    cpu: int = 0
    memory: int = 0


def choose_to_stop(victims: Sequence[Victim], hosts: Sequence[Host], group: str,
                   strategies: Sequence[dict], count: int, *, rng,
                   tie_break: str = "stable", missing_is_value: bool = True) -> list[Victim]:
    """Pick ``count`` tasks to stop, one at a time, keeping the group as even as possible.

    spread: the task whose field value holds the most of the group's live tasks (so the AZ
    with most, then the instance with most, for the default); binpack: the task whose host
    has most of that resource free once it is gone; random: any. Among what is left:
    PENDING first, then not yet healthy, then the tie-break host, then the newest task.
    """
    by_arn = {h.arn: h for h in hosts}
    # Private counts so that each pick sees the previous ones.
    live = {h.arn: h.live_groups.get(group, 0) for h in hosts}
    left = list(victims)
    chosen: list[Victim] = []
    order = {h.arn: i for i, h in enumerate(sorted(hosts, key=_tie_key))}
    if tie_break != "stable":
        shuffled = list(order)
        rng.shuffle(shuffled)
        order = {arn: i for i, arn in enumerate(shuffled)}
    while left and len(chosen) < count:
        cands = left
        for strategy in strategies:
            if len(cands) <= 1:
                break
            kind = (strategy.get("type") or "").lower()
            fld = strategy.get("field") or ""
            if kind == "spread":
                counts: Counter = Counter()
                for h in hosts:
                    counts[_field_value(h, fld)] += live.get(h.arn, 0)

                def score(v: Victim) -> float:
                    h = by_arn.get(v.host_arn)
                    value = _field_value(h, fld) if h else None
                    if value is None and not missing_is_value:
                        return float("-inf")
                    return counts[value]
                high = max(score(v) for v in cands)
                cands = [v for v in cands if score(v) == high]
            elif kind == "binpack":
                mem = fld.lower() == "memory"

                def free(v: Victim) -> int:
                    h = by_arn.get(v.host_arn)
                    have = (h.remaining_memory if mem else h.remaining_cpu) if h else 0
                    return have + (v.memory if mem else v.cpu)
                high = max(free(v) for v in cands)
                cands = [v for v in cands if free(v) == high]
            elif kind == "random":
                cands = [rng.choice(cands)]
        pick = min(cands, key=lambda v: (v.last_status != "PENDING", v.healthy,
                                         order.get(v.host_arn, 1 << 30), -v.created_at,
                                         v.task_arn))
        chosen.append(pick)
        left.remove(pick)
        if pick.host_arn in live:
            live[pick.host_arn] -= 1
    return chosen
