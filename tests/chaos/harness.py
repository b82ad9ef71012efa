"""Play a scenario: build the world, then run the engine through the event sequence on the
sandbox's manual clock, recording what every run reported and what the world looked like.

The engine is driven only through its public surface (``runner.rebalance`` with a
``RebalanceRequest``, a boto3 ECS client, ``sleep`` = advance the sandbox clock). Others act
from inside that ``sleep`` (desiredCount changes, drains, ASG resizes, a second run), and a run
can be killed at its Nth ECS call by ``Killed``, a BaseException like a Lambda timeout: every
later call on that run's client raises it too, so nothing the run's ``finally`` blocks try
reaches AWS.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import runner
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lease import (
    DEFAULT_LEASE_SECONDS, EXPIRY_MARGIN_SECONDS,
)
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.lock import SURGE_TAG
from sandbox.scenario import Clients
from .generator import SURGING, Event, RunSpec, Scenario, generate
from .observer import BakeWatch, FloorWatch
from .world import CLUSTER, World, build, probe_features

LOG = logging.getLogger(__name__)
POLL_INTERVAL = 5.0


class Killed(BaseException):
    """The run's process died at this call (a Lambda timeout): not an Exception, so nothing in
    the engine catches it by accident."""


WRITES = frozenset({"UpdateService", "TagResource", "UntagResource", "StopTask",
                    "UpdateTaskProtection"})


class KillSwitch:
    """Counts a client's ECS calls (paginator pages included; with ``writes`` only the calls
    that change something) and kills the Nth: before it is sent, or after ECS applied it and
    before the answer came back. Every later call raises."""

    def __init__(self, at_call: int, after_landing: bool, counts: str = "all"):
        self.at_call, self.after_landing, self.counts = at_call, after_landing, counts
        self.calls = 0
        self.fired = False
        self.reason = ""          # the kill itself (later calls raise too, and say so)
        self.after_kill = 0       # calls the run's finally/except blocks tried afterwards

    def install(self, client: Any) -> None:
        # first: a handler that answers the call (botocore's Stubber) would end the chain
        client.meta.events.register_first("before-call.ecs", self._before)
        client.meta.events.register_first("after-call.ecs", self._after)

    def _before(self, model: Any = None, **_: Any) -> None:
        if self.fired:
            self.after_kill += 1
            raise Killed(f"call after the kill: {getattr(model, 'name', '?')}")
        if self.counts == "all" or getattr(model, "name", "") in WRITES:
            self.calls += 1
        else:
            return
        if self.calls == self.at_call and not self.after_landing:
            self._fire(f"killed before call {self.calls} ({getattr(model, 'name', '?')})")

    def _after(self, model: Any = None, **_: Any) -> None:
        if self.counts == "writes" and getattr(model, "name", "") not in WRITES:
            return
        if self.calls == self.at_call and self.after_landing and not self.fired:
            self._fire(f"killed after call {self.calls} ({getattr(model, 'name', '?')}) "
                       "landed")

    def _fire(self, reason: str) -> None:
        self.fired, self.reason = True, reason
        raise Killed(reason)

    def describe(self) -> str:
        tail = f"; {self.after_kill} later call(s) refused" if self.after_kill else ""
        return self.reason + tail


@dataclass
class RunOutcome:
    index: int
    phase: str
    run_id: str
    started: float
    ended: float = 0.0
    report: dict | None = None          # RebalanceResult.to_dict()
    killed: str = ""                    # what the kill interrupted
    crashed: str = ""                   # an exception other than Killed escaped the engine
    inner: "RunOutcome | None" = None   # the run started from inside this one's sleep
    events: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.report is not None


@dataclass
class AfterRun:
    """The world right after a completed outer run."""

    run: int
    at: float
    desired: dict[str, int]
    expected: dict[str, int]
    surge_tags: dict[str, str]          # surges left: legacy tags and lease items' state
    engine_protected: list[str]
    user_unprotected: list[str] = field(default_factory=list)   # the user's, now cleared


@dataclass
class Record:
    scenario: Scenario
    t0: float = 0.0
    runs: list[RunOutcome] = field(default_factory=list)
    after: list[AfterRun] = field(default_factory=list)
    user_stopped: dict[str, str] = field(default_factory=dict)   # user-protected arn -> reason
    watch: FloorWatch | None = None
    bake: BakeWatch | None = None

    def describe_runs(self) -> list[str]:
        """One line per run: what it reported (or how it ended) and what others did."""
        return [line for run in self.runs for line in _describe(run, self.t0)]


def _describe(run: RunOutcome, t0: float) -> list[str]:
    if run.completed:
        how = run.report["message"]
    else:
        how = f"KILLED ({run.killed})" if run.killed else f"CRASHED ({run.crashed})"
    lines = [f"  run {run.index} [{run.phase}] {run.run_id} t+{run.started - t0:.0f}s.."
             f"t+{run.ended - t0:.0f}s: {how}"]
    lines += [f"      event {e}" for e in run.events]
    if run.inner is not None:
        lines += [f"    during it, {line.strip()}" for line in _describe(run.inner, t0)]
    return lines


def start_sandbox(seed: int) -> Any:
    """An in-process sandbox on the manual clock, moto's identifiers seeded too (EC2 instance
    ids decide placement ties, so they must repeat for a seed to repeat)."""
    from sandbox.server import Sandbox

    sandbox = Sandbox(speed=None, port=0, seed=seed)
    _seed_moto(seed)
    return sandbox.start()


def _seed_moto(seed: int) -> None:
    from moto.moto_api._internal import mock_random

    mock_random.seed(seed)


def play_seed(seed: int) -> Record:
    """Everything for one seed on a sandbox of its own: probe, generate, build, play."""
    sandbox = start_sandbox(seed)
    try:
        aws = Clients(sandbox.endpoint)
        scenario = generate(seed, probe_features(sandbox, aws))
        _seed_moto(seed + 10**6)   # again: creating moto's backends drew ids in the probe
        world = build(sandbox, aws, scenario)
        record = Player(world).play()
        if os.environ.get(TRACE_ENV):
            write_trace(Path(os.environ[TRACE_ENV]), seed, record, world)
        return record
    finally:
        sandbox.stop()


TRACE_ENV = "CHAOS_TRACE"


def write_trace(directory: Path, seed: int, record: Record, world: World) -> Path:
    """Opt-in (``CHAOS_TRACE=<dir>``): everything a seed decided, as text, in
    ``<dir>/seed-<n>.txt``.

    Two builds that must behave alike (a refactoring of the sandbox or the engine) are compared
    by ``diff``-ing these files: the scenario, every run's line and full report, the world after
    each run, and the final world (each service's document, events included, and where every
    task runs). The manual clock and the seeded ids make the file repeat byte for byte."""
    directory.mkdir(parents=True, exist_ok=True)
    t0 = record.t0

    def dump(value: Any) -> str:
        return json.dumps(_relative(value, t0), sort_keys=True, default=str)

    lines = [record.scenario.summary(), *record.describe_runs()]
    for run in record.runs:
        for one in (run, run.inner):
            if one is not None and one.report is not None:
                lines.append(f"report {one.run_id}: {dump(one.report)}")
    lines += [f"after: {dump({**asdict(a), 'at': a.at - t0})}" for a in record.after]
    lines.append(f"user stopped: {dump(record.user_stopped)}")
    instances = {ci["containerInstanceArn"]: ci for ci in world.instances(None)}
    lines += [f"instance {ci['ec2InstanceId']} {ci['status']} {dump(ci.get('attributes', []))}"
              for ci in instances.values()]
    for name, doc in sorted(world.services(include_tags=True).items()):
        lines.append(f"service {name}: {dump(doc)}")
        for task in sorted(world.describe_tasks(world.task_arns(name, desiredStatus="RUNNING")),
                           key=lambda t: t["taskArn"]):
            host = instances.get(task.get("containerInstanceArn", ""), {})
            lines.append(f"  task {task['taskArn']} on {host.get('ec2InstanceId')} "
                         f"{task.get('availabilityZone')} {task['lastStatus']}")
    path = directory / f"seed-{seed}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


EPOCH = re.compile(r"\b1[6-9]\d{8}(?:\.\d+)?\b")   # epoch seconds inside a message


def _relative(value: Any, t0: float) -> Any:
    """Timestamps as seconds since the scenario began: the manual clock starts at the wall
    clock's time, so absolute ones differ between two otherwise identical plays (datetimes,
    and epoch seconds quoted in messages such as a surge lock's deadline)."""
    if isinstance(value, datetime):
        return f"t+{value.timestamp() - t0:.3f}s"
    if isinstance(value, str):
        return EPOCH.sub(lambda m: f"t+{float(m.group()) - t0:.3f}s", value)
    if isinstance(value, dict):
        return {k: _relative(v, t0) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_relative(v, t0) for v in value]
    return value


class Player:
    """Plays one scenario's runs on a built world, with the floor watch listening."""

    def __init__(self, world: World):
        self.world = world
        self.scenario = world.scenario
        self.watch = FloorWatch(world.sandbox, CLUSTER,
                                {s.name: s.min_healthy for s in self.scenario.services})
        world.sandbox.runtime.on_tick(self.watch)
        self.bake = BakeWatch(world.sandbox, CLUSTER,
                              [s.name for s in self.scenario.services if s.bake_minutes])
        world.sandbox.runtime.on_tick(self.bake)
        self.record = Record(scenario=self.scenario, t0=world.sandbox.now(), watch=self.watch,
                             bake=self.bake)

    def play(self) -> Record:
        self.watch.arm({name: doc["desiredCount"] for name, doc in self.world.services().items()})
        not_before = 0.0
        for index, spec in enumerate(self.scenario.runs):
            self.world.advance(max(spec.gap, not_before - self.world.sandbox.now()))
            outcome = RunOutcome(index=index, phase=spec.phase, run_id=f"chaos-r{index}",
                                 started=self.world.sandbox.now())
            for event in spec.before:
                outcome.events.append(self.apply(event))
            self.run(spec, outcome)
            self.record.runs.append(outcome)
            self._note_user_stops()
            if outcome.killed:
                # The next run comes after the killed run's lease has run out: a run renews
                # its lease up to its deadline, and the lease lasts lease_seconds (+ the
                # store clock's margin) from the last renewal. An earlier run would rightly be
                # refused (lease_held) and could not heal the killed run's surge.
                not_before = (outcome.started + self.scenario.wait_timeout + DEFAULT_LEASE_SECONDS
                              + EXPIRY_MARGIN_SECONDS + 1)
            elif outcome.completed:
                self.record.after.append(self._after_run(index))
            if spec.phase == "settle" and outcome.completed and _all_settled(outcome.report):
                break
        return self.record

    # ------------------------------------------------------------------- a run
    def run(self, spec: RunSpec, outcome: RunOutcome, nested: bool = False) -> None:
        """One engine run with its own ECS client (killable unless ``nested``); events
        planned for sleeps it never reached still happen, after it."""
        client = Clients(self.world.sandbox.endpoint)("ecs")
        switch = None
        if spec.kill_at_call is not None and not nested:
            switch = KillSwitch(spec.kill_at_call, spec.kill_after_landing, spec.kill_counts)
            switch.install(client)
        during = [] if nested else list(spec.during)
        request = runner.RebalanceRequest(cluster=CLUSTER, wait_timeout=self.scenario.wait_timeout,
                                          poll_interval=POLL_INTERVAL, run_id=outcome.run_id)
        try:
            result = runner.rebalance(client, request,
                                      sleep=self._sleep_hook(spec, outcome, during, nested),
                                      clock=self.world.sandbox.now,
                                      elb_client=Clients(self.world.sandbox.endpoint)("elbv2"),
                                      aas_client=Clients(self.world.sandbox.endpoint)(
                                          "application-autoscaling"))
            outcome.report = result.to_dict()
        except Killed as kill:
            outcome.killed = switch.describe() if switch else str(kill)
        except Exception as err:  # noqa: BLE001 - any escape is a finding, recorded with its type
            outcome.crashed = f"{type(err).__name__}: {err}"
        outcome.ended = self.world.sandbox.now()
        for event in during:
            outcome.events.append(self.apply(event) + " (after the run)")

    def _sleep_hook(self, spec: RunSpec, outcome: RunOutcome, during: list[Event],
                    nested: bool) -> Callable[[float], None]:
        """The engine's ``sleep``: others act first (the events due at this sleep, maybe a
        second run), then the sandbox clock moves on."""
        sleeps = [0]

        def sleep(seconds: float) -> None:
            number = sleeps[0]
            sleeps[0] += 1
            while during and during[0].at_sleep <= number:
                outcome.events.append(self.apply(during.pop(0)))
            if not nested and spec.concurrent_at_sleep == number and outcome.inner is None:
                outcome.inner = RunOutcome(index=outcome.index, phase="concurrent",
                                           run_id=f"{outcome.run_id}-b",
                                           started=self.world.sandbox.now())
                self.run(spec, outcome.inner, nested=True)
            self.world.advance(seconds)

        return sleep

    # ---------------------------------------------------------------- events
    def apply(self, event: Event) -> str:
        handler = getattr(self, f"_{event.kind}")
        return f"t+{self.world.sandbox.now() - self.record.t0:.0f}s {handler(event)}"

    def _scale_out(self, event: Event) -> str:
        current = self.world.desired_capacity(event.target)
        self.world.aws("autoscaling").set_desired_capacity(AutoScalingGroupName=event.target,
                                                           DesiredCapacity=current + 1)
        return f"scale out {event.target} to {current + 1}"

    def _scale_in(self, event: Event) -> str:
        return self._remove(event, decrement=True)

    def _terminate(self, event: Event) -> str:
        return self._remove(event, decrement=False)

    def _remove(self, event: Event, decrement: bool) -> str:
        """ASG scale-in of a chosen instance (decrement) or its termination (the group
        replaces it); a group is never emptied."""
        instances = self.world.group_instances(event.target)
        if len(instances) <= 1:
            return f"{event.kind} {event.target}: skipped, one instance left"
        victim = instances[event.pick % len(instances)]
        self._excuse(victim)
        self.world.aws("autoscaling").terminate_instance_in_auto_scaling_group(
            InstanceId=victim, ShouldDecrementDesiredCapacity=decrement)
        return f"{event.kind} {event.target}: {victim}"

    def _drain(self, event: Event) -> str:
        active = self.world.instances("ACTIVE")
        if len(active) <= 1:
            return "drain: skipped, one ACTIVE instance left"
        victim = active[event.pick % len(active)]
        self._excuse(victim["ec2InstanceId"])
        self.world.ecs.update_container_instances_state(
            cluster=CLUSTER, containerInstances=[victim["containerInstanceArn"]],
            status="DRAINING")
        return f"drain {victim['ec2InstanceId']}"

    def _desired(self, event: Event) -> str:
        name = self._surging(event.pick) if event.target == SURGING else None
        spec = next(s for s in self.scenario.services if s.name == (name or event.fallback))
        base = self.watch.intended[spec.name]
        delta = -abs(event.value) if spec.host_port or spec.awsvpc else event.value
        count = max(1, min(spec.desired + 3, base + delta))
        if name and f"phase=raising delta={count - base} set={count}" in \
                self.world.pending_surges().get(name, ""):
            # Exactly the count a killed run's raise would have written, on top of the count
            # it read: ECS's UpdateService carries nothing that tells that write apart from the
            # raise, so the heal takes it for the raise (README "The lease", the one case no
            # protocol on ECS's API can tell). Written one higher, the heal must let it stand.
            count += 1
        if count == base:
            return f"desired {spec.name}: stays {base}"
        if event.via == "aas":
            at = _ceil(self.world.sandbox.now() + event.delay)
            self.watch.others_set(spec.name, count, at=at)
        else:
            self.watch.others_set(spec.name, count)
        self.world.set_desired(spec.name, count, event.via, event.delay)
        how = f"scheduled action in {event.delay}s" if event.via == "aas" else "UpdateService"
        return f"desired {spec.name}{' (mid-surge)' if name else ''}: {base} -> {count} by {how}"

    def _surging(self, pick: int) -> str | None:
        """A service holding a surge lock right now (sorted by name, chosen by ``pick``)."""
        held = sorted(set(self.world.pending_surges()) | {
            name for name, doc in self.world.services(include_tags=True).items()
            if any(t["key"] == SURGE_TAG for t in doc.get("tags", []))})
        return held[pick % len(held)] if held else None

    def _excuse(self, ec2_id: str) -> None:
        ci = next((c for c in self.world.instances(None) if c["ec2InstanceId"] == ec2_id), None)
        if ci is None:
            return
        arns = self.world.task_arns(containerInstance=ci["containerInstanceArn"])
        for task in self.world.describe_tasks(arns):
            if task.get("group", "").startswith("service:"):
                self.watch.excuse(task["group"].split(":", 1)[1], {task["taskArn"]})

    # ------------------------------------------------------------ observations
    def _after_run(self, index: int) -> AfterRun:
        docs = self.world.services(include_tags=True)
        live = self.world.task_arns(desiredStatus="RUNNING")
        surge = {n: t["value"] for n, d in docs.items() for t in d.get("tags", [])
                 if t["key"] == SURGE_TAG}
        surge.update(self.world.pending_surges())
        protected = self.world.protected(live)
        return AfterRun(run=index, at=self.world.sandbox.now(),
                        desired={n: d["desiredCount"] for n, d in docs.items()},
                        expected=dict(self.watch.expected), surge_tags=surge,
                        engine_protected=sorted(protected - self.world.user_protected),
                        user_unprotected=sorted((self.world.user_protected & set(live))
                                                - protected))

    def _note_user_stops(self) -> None:
        if not self.world.user_protected:
            return
        for task in self.world.describe_tasks(sorted(self.world.user_protected)):
            if task.get("desiredStatus") == "STOPPED":
                self.record.user_stopped.setdefault(task["taskArn"],
                                                    task.get("stoppedReason", ""))


def _all_settled(report: dict) -> bool:
    """The run's own verdict: every service balanced or skipped with a reason."""
    return not unsettled_services(report)


def unsettled_services(report: dict) -> list[str]:
    skipped = {s["service"] for s in report.get("skipped", [])}
    return sorted(name for name, d in report.get("after", {}).items()
                  if not d.get("balanced") and d.get("skip") is None and name not in skipped)


def _ceil(value: float) -> float:
    import math

    return float(math.ceil(value))
