"""Draw one chaos scenario from a seed: a cluster, its services and an event sequence. Pure.

Everything random in the suite comes from ``random.Random(seed)`` here, so a seed names one
scenario exactly (the sandbox is seeded with it too). Nothing here talks to AWS; ``world``
builds what this describes, ``harness`` plays the events.

What is drawn (issue 10):

* 1-3 AZs; 1-3 Auto Scaling groups of different instance types (unequal instance sizes), each
  started small and grown after the services settle: the new instances are empty, which is
  the skew the engine exists for;
* 1-15 services with mixed placement strategies (none, AZ + instance spread, instance spread,
  binpack), min/max percent pairs, a static host port on some, the awsvpc network mode on
  some (issue 18: every type drawn is small, 2 awsvpc tasks per instance without ENI
  trunking, so task ENIs bind before CPU does), user task protection on some,
  a capacity provider strategy on some (only when the sandbox supports capacity providers;
  with two providers, half the time a base/weight split),
  and ``availabilityZoneRebalancing`` passed explicitly on CreateService (ENABLED only where
  ECS allows it: first strategy AZ spread or none, maximumPercent above 100);
* some services (not those with a static host port or user protection) turned BLUE_GREEN with
  a bake of 10-90 minutes and redeployed after the grow, so the chaos runs meet them mid-bake
  with both revisions running (issue 18); drawn from a generator of their own
  (``_blue_green``), so every other draw of a seed is what it was before;
* 1-2 "chaos" runs with events before them (ASG scale in/out, an instance terminated or set
  DRAINING) and during them (desiredCount changed by someone else, an instance drained, an
  ASG resized), a run killed at its Nth ECS call, a second run started from inside the
  first's sleep; then up to ``SETTLE_RUNS`` quiet runs in which every service must end
  balanced or skipped with a reason.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

# vCPU units and MiB of the instance types drawn (the sizes EC2 documents for them).
INSTANCE_TYPES: dict[str, tuple[int, int]] = {
    "t3.medium": (2048, 4096), "c5.large": (2048, 4096), "m5.large": (2048, 8192),
    "r5.large": (2048, 16384), "m5.xlarge": (4096, 16384),
}
# awsvpc tasks each type holds without ENI trunking (max ENIs - 1, EC2 User Guide).
AWSVPC_TASKS: dict[str, int] = {"t3.medium": 2, "c5.large": 2, "m5.large": 2, "r5.large": 2,
                                "m5.xlarge": 3}
AWSVPC_SHARE = 0.3       # of the services without a static port
AZ_SPREAD = {"type": "spread", "field": "attribute:ecs.availability-zone"}
STRATEGIES: dict[str, list[dict]] = {
    "default": [],
    "az-instance": [AZ_SPREAD, {"type": "spread", "field": "instanceId"}],
    "instance": [{"type": "spread", "field": "instanceId"}],
    "binpack": [{"type": "binpack", "field": "memory"}],
}
PERCENTS: tuple[tuple[int, int], ...] = ((50, 200), (100, 200), (100, 150), (0, 100),
                                         (100, 100))
SETTLE_RUNS = 4          # K: every service balanced (or skipped with a reason) within K runs
WAIT_TIMEOUT = 600.0     # each run's one deadline, emulated seconds
BUDGET = 0.5     # of the first instances' CPU and memory the services may reserve
SURGING = "@surging"
FEATURE_CAPACITY_PROVIDERS = "capacity_providers"
FEATURE_SCHEDULED_ACTIONS = "scheduled_actions"


@dataclass(frozen=True)
class GroupSpec:
    """One Auto Scaling group (and, when supported, its capacity provider)."""

    name: str
    instance_type: str
    initial: int          # instances while the services are placed
    grown: int            # instances after the scale-out that creates the skew

    @property
    def memory(self) -> int:
        return INSTANCE_TYPES[self.instance_type][1]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    strategy: str                      # a key of STRATEGIES
    min_healthy: int
    max_percent: int
    desired: int
    cpu: int
    memory: int
    host_port: int | None              # a static host port, or None (dynamic)
    az_rebalancing: str                # ENABLED | DISABLED, passed explicitly
    protect: int                       # tasks the "user" protects once placed
    providers: tuple[str, ...] = ()    # capacity providers (group names); () = the cluster's
                                       # default strategy when there are providers, else EC2
    bake_minutes: int = 0              # > 0: a BLUE_GREEN service redeployed before the
                                       # chaos runs, baking this long (docs/ecs-facts.md §1.11)
    awsvpc: bool = False               # network mode awsvpc (one task ENI per task)
    weights: tuple[tuple[int, int], ...] = ()   # (base, weight) per provider; () = weight 1 each

    @property
    def strategy_items(self) -> list[dict]:
        """The CapacityProviderStrategyItem list CreateService gets."""
        pairs = self.weights or tuple((0, 1) for _ in self.providers)
        return [{"capacityProvider": p, "base": base, "weight": weight}
                for p, (base, weight) in zip(self.providers, pairs)]

    @property
    def placement(self) -> list[dict]:
        return [dict(s) for s in STRATEGIES[self.strategy]]


@dataclass(frozen=True)
class Event:
    """Something another actor does. ``kind``: scale_out | scale_in | terminate | drain |
    desired. ``pick`` chooses among the candidates found when the event fires (instances,
    sorted), so the generator stays pure. A desired event aimed at ``SURGING`` hits a service
    that holds a surge lock when it fires (the worst moment for a restore), else
    ``fallback``. ``at_sleep``: for events during a run, the engine sleep call it fires in
    (0-based); ``via``: for desired, "aas" (a scheduled action ``delay`` seconds later) or
    "direct" (UpdateService)."""

    kind: str
    target: str = ""                   # a group, a service, or SURGING
    fallback: str = ""                 # the service when no service is being surged
    value: int = 0
    pick: int = 0
    at_sleep: int = -1
    via: str = "direct"
    delay: int = 0


@dataclass(frozen=True)
class RunSpec:
    """One engine run and what happens around it."""

    phase: str                                   # chaos | settle
    gap: int                                     # emulated seconds before it starts
    before: tuple[Event, ...] = ()
    during: tuple[Event, ...] = ()
    kill_at_call: int | None = None              # the Nth ECS call of the run never returns
    kill_counts: str = "all"                     # which calls count: all | writes
    kill_after_landing: bool = False             # that call reached ECS before the kill
    concurrent_at_sleep: int | None = None       # a second run starts in this sleep call


@dataclass(frozen=True)
class Scenario:
    seed: int
    features: frozenset[str]
    azs: int
    groups: tuple[GroupSpec, ...]
    services: tuple[ServiceSpec, ...]
    runs: tuple[RunSpec, ...]
    wait_timeout: float = WAIT_TIMEOUT
    user_protection_minutes: int = 2880

    def summary(self) -> str:
        kinds = sorted({e.kind for r in self.runs for e in (*r.before, *r.during)})
        kills = sum(r.kill_at_call is not None for r in self.runs)
        both = sum(r.concurrent_at_sleep is not None for r in self.runs)
        weighted = sum(1 for s in self.services if s.weights)
        return (f"seed {self.seed}: {self.azs} AZ(s), groups "
                f"{[f'{g.instance_type}x{g.initial}->{g.grown}' for g in self.groups]}, "
                f"{len(self.services)} service(s) "
                f"({sum(1 for s in self.services if s.bake_minutes)} blue/green mid-bake, "
                f"{weighted} with weighted providers), "
                f"events {kinds}, kills {kills}, "
                f"concurrent runs {both}, features {sorted(self.features) or 'none'}")


@dataclass
class _Budget:
    """CPU units and MiB left per pool ("" = the whole cluster) while services are drawn, so
    that every service fits on the instances present when it is created."""

    left: dict[str, list[float]] = field(default_factory=dict)
    enis: dict[str, float] = field(default_factory=dict)   # awsvpc task ENIs left per pool

    def take_enis(self, pools: tuple[str, ...], wanted: int,
                  weights: tuple[tuple[int, int], ...] = ()) -> int:
        """How many awsvpc tasks of ``wanted`` fit in the task ENIs left (in the cluster and,
        split as ``take`` splits them, in each pool); reserve them."""
        for count in range(wanted, 0, -1):
            shares = [_share(count, len(pools), weights, i) for i in range(len(pools))]
            if self.enis[""] >= count and all(self.enis[p] >= n for p, n in zip(pools, shares)):
                self.enis[""] -= count
                for pool, n in zip(pools, shares):
                    self.enis[pool] -= n
                return count
        return 0

    def take(self, pools: tuple[str, ...], cpu: int, memory: int, wanted: int,
             weights: tuple[tuple[int, int], ...] = ()) -> int:
        """How many tasks fit (at most ``wanted``; 0 when none does); reserve them. Over
        several pools a capacity provider strategy of equal weights gives each pool at most
        ceil(count / pools) of them; with ``weights`` ((base, weight) per pool) a pool gets
        at most its base plus ceil of its weight's share of the rest."""
        for count in range(wanted, 0, -1):
            shares = [_share(count, len(pools), weights, i) for i in range(len(pools))]
            if self._fits("", count, cpu, memory) and all(
                    self._fits(p, n, cpu, memory) for p, n in zip(pools, shares)):
                self._spend("", count, cpu, memory)
                for pool, n in zip(pools, shares):
                    self._spend(pool, n, cpu, memory)
                return count
        return 0

    def _fits(self, key: str, count: int, cpu: int, memory: int) -> bool:
        return self.left[key][0] >= count * cpu and self.left[key][1] >= count * memory

    def _spend(self, key: str, count: int, cpu: int, memory: int) -> None:
        self.left[key][0] -= count * cpu
        self.left[key][1] -= count * memory


def _share(count: int, pools: int, weights: tuple[tuple[int, int], ...], index: int) -> int:
    """At most how many of ``count`` tasks pool ``index`` of ``pools`` gets."""
    if not weights:
        return math.ceil(count / pools) if pools else 0
    base = min(weights[index][0], count)
    rest = max(0, count - sum(min(b, count) for b, _w in weights))
    total = sum(w for _b, w in weights)
    return base + (math.ceil(rest * weights[index][1] / total) if total else 0)


def generate(seed: int, features: frozenset[str] = frozenset()) -> Scenario:
    """The scenario of ``seed``; ``features`` are the optional sandbox dimensions that work."""
    rng = random.Random(seed)
    azs = rng.choices((1, 2, 3), weights=(15, 45, 40))[0]
    groups = _groups(rng)
    removals = rng.randint(0, 2)
    services = _services(rng, groups, features, removals, seed)
    runs = _runs(rng, groups, services, features, removals)
    services = _blue_green(random.Random(f"blue-green-{seed}"), services)
    return Scenario(seed=seed, features=features, azs=azs, groups=groups, services=services,
                    runs=runs)


def _groups(rng: random.Random) -> tuple[GroupSpec, ...]:
    types = rng.sample(sorted(INSTANCE_TYPES), rng.randint(1, 3))
    out = []
    for index, itype in enumerate(types):
        initial = rng.randint(1, 2)
        out.append(GroupSpec(name=f"chaos-g{index}", instance_type=itype, initial=initial,
                             grown=initial + rng.randint(1, 2)))
    return tuple(out)


def _services(rng: random.Random, groups: tuple[GroupSpec, ...], features: frozenset[str],
              removals: int, seed: int = 0) -> tuple[ServiceSpec, ...]:
    budget = _Budget()
    # the same headroom as CPU and memory: half the first instances' task ENIs (a scale-in
    # or a drain during the chaos runs must leave room to replace what it stops)
    for key, pool in [("", groups)] + [(g.name, (g,)) for g in groups]:
        budget.enis[key] = BUDGET * sum(AWSVPC_TASKS[g.instance_type] * g.initial for g in pool)
    network = random.Random(f"awsvpc-{seed}")   # its own stream: the older draws stay put
    for key, pool in [("", groups)] + [(g.name, (g,)) for g in groups]:
        budget.left[key] = [BUDGET * sum(INSTANCE_TYPES[g.instance_type][0] * g.initial
                                                for g in pool),
                            BUDGET * sum(g.memory * g.initial for g in pool)]
    out = []
    for index in range(rng.randint(1, 15)):
        strategy = rng.choice(sorted(STRATEGIES))
        min_healthy, max_percent = rng.choice(PERCENTS)
        providers: tuple[str, ...] = ()
        if FEATURE_CAPACITY_PROVIDERS in features and rng.random() < 0.4:
            providers = tuple(sorted(rng.sample([g.name for g in groups],
                                                rng.randint(1, min(2, len(groups))))))
        cpu, memory = rng.choice((32, 64, 128)), rng.choice((128, 256, 512))
        # with capacity providers, a service naming none uses the cluster's default strategy
        # (every provider, equal weights): its tasks land in every pool too
        pools = providers or (tuple(g.name for g in groups)
                              if FEATURE_CAPACITY_PROVIDERS in features else ())
        # Two providers: half the time a base/weight split (issue 18: base 2 / weight 1
        # against weight 3 and the like), drawn from a generator of its own so the draws of
        # every other dimension (and the fixed seeds' scenarios) stay as they were.
        weights: tuple[tuple[int, int], ...] = ()
        if len(providers) == 2:
            side = random.Random(f"weights-{seed}-{index}")
            if side.random() < 0.5:
                weights = ((side.randint(0, 2), side.randint(1, 3)), (0, side.randint(1, 3)))
        desired = budget.take(pools, cpu, memory, rng.randint(2, 8), weights)
        if not desired:
            continue        # the instances present at creation are full enough
        host_port = None
        # a static port needs one free instance per task; a split over several capacity
        # providers could ask one provider for more tasks than it has instances
        if rng.random() < 0.25 and len(pools) <= 1:
            pool = [g for g in groups if not pools or g.name in pools]
            host_port = 8000 + index
            desired = max(1, min(desired, sum(g.initial for g in pool) - removals))
        eligible = strategy in ("default", "az-instance") and max_percent > 100
        az_rebalancing = "ENABLED" if eligible and rng.random() < 0.5 else "DISABLED"
        protect = rng.randint(1, desired) if rng.random() < 0.3 else 0
        awsvpc = host_port is None and network.random() < AWSVPC_SHARE
        if awsvpc:
            enis = budget.take_enis(pools, desired, weights)
            awsvpc, desired = (True, enis) if enis >= 2 else (False, desired)
            protect = min(protect, desired)
        if weights and az_rebalancing == "ENABLED":
            # The sandbox's own AZ rebalancing starts its extra tasks without the base/weight
            # split (seed 33862: ECS's rebalancing, not the engine, took a weighted service
            # below its floor after a host was terminated); weighted services keep it off
            # until the sandbox models that.
            az_rebalancing = "DISABLED"
        out.append(ServiceSpec(
            name=f"svc-{index:02d}", strategy=strategy, min_healthy=min_healthy,
            max_percent=max_percent, desired=desired, cpu=cpu,
            memory=memory, host_port=host_port,
            az_rebalancing=az_rebalancing,
            protect=protect, providers=providers, awsvpc=awsvpc, weights=weights))
    return tuple(out)


def _blue_green(rng: random.Random, services: tuple[ServiceSpec, ...]
                ) -> tuple[ServiceSpec, ...]:
    """About a quarter of the services become BLUE_GREEN ones met mid-bake. Not one with a
    static host port (green needs an instance of its own per task beside blue) nor one with
    user protection (CLEAN_UP waits for protected blue tasks: the bake would never end)."""
    return tuple(replace(svc, bake_minutes=rng.randint(10, 90))
                 if rng.random() < 0.25 and svc.host_port is None and not svc.protect else svc
                 for svc in services)


def _runs(rng: random.Random, groups: tuple[GroupSpec, ...],
          services: tuple[ServiceSpec, ...], features: frozenset[str],
          removals: int) -> tuple[RunSpec, ...]:
    removal_kinds = [rng.choice(("scale_in", "terminate", "drain")) for _ in range(removals)]
    chaos = rng.randint(1, 2)
    runs = []
    for index in range(chaos):
        before = [_infra_event(rng, groups, "scale_out")] if rng.random() < 0.3 else []
        during = [replace(_desired_event(rng, services, features), at_sleep=rng.randint(0, 4))
                  for _ in range(rng.randint(0, 2))]
        # the removals happen in the chaos runs, before or during them
        for kind in removal_kinds[index::chaos]:
            event = _infra_event(rng, groups, kind)
            if rng.random() < 0.5:
                before.append(event)
            else:
                during.append(replace(event, at_sleep=rng.randint(0, 4)))
        killed = rng.random() < 0.4
        counts = rng.choice(("all", "writes"))
        runs.append(RunSpec(
            phase="chaos", gap=rng.randint(30, 120), before=tuple(before),
            during=tuple(sorted(during, key=lambda e: e.at_sleep)),
            kill_at_call=_kill_point(rng, killed, counts), kill_counts=counts,
            kill_after_landing=killed and rng.random() < 0.5,
            concurrent_at_sleep=rng.randint(0, 3) if rng.random() < 0.35 else None))
    runs += [RunSpec(phase="settle", gap=rng.randint(60, 300)) for _ in range(SETTLE_RUNS)]
    return tuple(runs)


def _kill_point(rng: random.Random, killed: bool, counts: str) -> int | None:
    """The call that never returns: the Nth of any kind, or (``counts`` writes) the Nth that
    changes something, so that kills land inside surges as often as in reads."""
    if not killed:
        return None
    return rng.randint(1, 6) if counts == "writes" else rng.randint(3, 80)


def _infra_event(rng: random.Random, groups: tuple[GroupSpec, ...], kind: str) -> Event:
    return Event(kind=kind, target=rng.choice(groups).name, pick=rng.randrange(1000))


def _desired_event(rng: random.Random, services: tuple[ServiceSpec, ...],
                   features: frozenset[str]) -> Event:
    svc = rng.choice(services)
    # a static host port needs a free instance per task: others only ever lower those
    delta = -1 if svc.host_port else rng.choice((-2, -1, 1, 2))
    if svc.awsvpc:          # more tasks could find no free task ENI: only ever lowered
        delta = -abs(delta)
    via = "aas" if FEATURE_SCHEDULED_ACTIONS in features and rng.random() < 0.5 else "direct"
    # half the time the worst moment: a service the engine is surging right now, if any
    worst = rng.random() < 0.5
    return Event(kind="desired", target=SURGING if worst else svc.name, fallback=svc.name,
                 value=delta, via=via, delay=rng.randint(1, 90) if not worst else 1,
                 pick=rng.randrange(1000))
