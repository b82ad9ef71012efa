"""Driving the rebalance engine on the sandbox's manual clock, for the engine safety tests.

The engine gets its own boto3 client (so a botocore hook or a proxy sees only its requests), a
``sleep`` that advances emulated time one second at a time (calling test hooks in between, the
way a concurrent actor would act during a real wait), and the sandbox's clock. Nothing here
sleeps on wall time.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Iterable

import boto3

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import runner
from sandbox.scenario import (Clients, Driver, Seed, build_alb, build_seed, counts, create_service,
                              distribution)

CLUSTER, SERVICE = "demo", "sample-app"
SURGE_TAG = "taskspread:surge"

Hook = Callable[[], Any]


def engine_client(sandbox, service: str = "ecs"):
    """A client of the engine's own (not shared with the test's observers)."""
    return boto3.client(service, endpoint_url=sandbox.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


class Clock:
    """The engine's ``sleep``: advances the sandbox second by second and runs ``hooks`` after
    each emulated second (a hook may change the world mid-wait, as others do on AWS)."""

    def __init__(self, sandbox, hooks: Iterable[Hook] = ()):
        self.sandbox = sandbox
        self.hooks = list(hooks)
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        for _ in range(max(1, int(seconds))):
            self.sandbox.advance(1)
            self.slept += 1
            for hook in self.hooks:
                hook()


def run_engine(sandbox, ecs=None, clock: Clock | None = None, elb=None, ddb=None,
               engine_clock: Callable[[], float] | None = None,
               **kw) -> runner.RebalanceResult:
    """One ``runner.rebalance`` on the sandbox's clock (``engine_clock``: the run's own clock,
    e.g. a skewed one; its ``sleep`` still advances the sandbox); ``kw`` go to
    ``RebalanceRequest`` (cluster ``demo``, poll_interval 5 and wait_timeout 900 unless given).
    ``ddb``: the DynamoDB client of the lease table (the engine's own by default)."""
    kw.setdefault("cluster", CLUSTER)
    kw.setdefault("poll_interval", 5)
    kw.setdefault("wait_timeout", 900)
    request = runner.RebalanceRequest(**kw)
    clock = clock or Clock(sandbox)
    return runner.rebalance(ecs if ecs is not None else engine_client(sandbox), request,
                            sleep=clock.sleep, clock=engine_clock or sandbox.now,
                            elb_client=elb if elb is not None else engine_client(sandbox, "elbv2"),
                            ddb_client=ddb if ddb is not None else engine_client(sandbox,
                                                                                 "dynamodb"))


class Killed(BaseException):
    """The process running the engine died (a Lambda at its timeout): no ``finally`` block
    gets to call AWS any more."""


class Proxy:
    """An ECS client that records every call (name, kwargs) and can run hooks around them:
    ``before(name, kwargs)`` and ``after(name, kwargs)``. ``kill()`` makes this and every
    later call raise ``Killed``."""

    def __init__(self, client, before: Callable[[str, dict], Any] | None = None,
                 after: Callable[[str, dict], Any] | None = None):
        self._client, self._before, self._after = client, before, after
        self.calls: list[tuple[str, dict]] = []
        self.dead = False

    def kill(self) -> None:
        self.dead = True
        raise Killed()

    def names(self) -> Counter:
        return Counter(name for name, _ in self.calls)

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            if self.dead:
                raise Killed()
            self.calls.append((name, kwargs))
            if self._before:
                self._before(name, kwargs)
            out = attr(*args, **kwargs)
            if self._after:
                self._after(name, kwargs)
            return out
        return call


def kill_after_the_raise(sandbox, above: int = 4, **kw) -> "Proxy":
    """One engine run killed right after its surge raised desiredCount above ``above`` (a
    Lambda at its timeout mid-surge); ``kw`` go to ``run_engine``. Returns the dead client."""

    def die_after_raise(name: str, call_kw: dict) -> None:
        if name == "update_service" and call_kw.get("desiredCount", 0) > above:
            mortal.kill()

    mortal = Proxy(engine_client(sandbox), after=die_after_raise)
    try:
        run_engine(sandbox, ecs=mortal, **kw)
    except Killed:
        return mortal
    raise AssertionError("the run was not killed: its surge never raised desiredCount "
                         f"above {above}")


def count_requests(client) -> Counter:
    """Count every HTTP request ``client`` is about to send (botocore ``before-send``), by
    X-Amz-Target (JSON protocols) or URL."""
    sent: Counter = Counter()

    def on_send(request, **_):
        target = request.headers.get("X-Amz-Target")
        sent[target.decode() if isinstance(target, bytes) else target or request.url] += 1

    client.meta.events.register("before-send", on_send)
    return sent


# ------------------------------------------------------------------------ observations
def service_doc(ecs, name: str = SERVICE, cluster: str = CLUSTER) -> dict:
    return ecs.describe_services(cluster=cluster, services=[name],
                                 include=["TAGS"])["services"][0]


def tags(ecs, name: str = SERVICE, cluster: str = CLUSTER) -> dict[str, str]:
    return {t["key"]: t["value"] for t in service_doc(ecs, name, cluster).get("tags", [])}


def live_task_arns(ecs, name: str = SERVICE, cluster: str = CLUSTER) -> list[str]:
    return sorted(ecs.list_tasks(cluster=cluster, serviceName=name,
                                 desiredStatus="RUNNING")["taskArns"])


def protected_tasks(ecs, arns: list[str], cluster: str = CLUSTER) -> list[str]:
    """The tasks of ``arns`` with scale-in protection enabled now (GetTaskProtection)."""
    out = []
    for i in range(0, len(arns), 100):
        resp = ecs.get_task_protection(cluster=cluster, tasks=arns[i:i + 100])
        out += [p["taskArn"] for p in resp["protectedTasks"] if p["protectionEnabled"]]
    return sorted(out)


def describe_tasks(ecs, arns: list[str], cluster: str = CLUSTER) -> dict[str, dict]:
    out = {}
    for i in range(0, len(arns), 100):
        for t in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]:
            out[t["taskArn"]] = t
    return out


def refusals(result: runner.RebalanceResult) -> dict[str, str]:
    """service -> refusal code of the run's first decision."""
    decision = result.to_dict().get("decision") or {}
    return {r["service"]: r["code"] for r in decision.get("refused", [])}


# ------------------------------------------------------------------------ scenarios
def _active(aws: Clients, cluster: str) -> int:
    return len(aws("ecs").list_container_instances(cluster=cluster, status="ACTIVE")[
        "containerInstanceArns"])


def _steady(aws: Clients, cluster: str, service: str, tasks: int) -> bool:
    svc = aws("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    deployments = svc["deployments"]
    return (len(deployments) == 1 and deployments[0].get("rolloutState") == "COMPLETED"
            and svc["runningCount"] == svc["desiredCount"] == tasks
            and svc.get("pendingCount", 0) == 0)


def skewed_cluster(sandbox, seed: Seed, extra: dict[str, dict] | None = None,
                   alb: dict | None = None) -> tuple[Clients, str | None]:
    """The reference walkthrough's skew (scale in, scale out) with the seed's service and the
    ``extra`` services (name -> create_service keyword overrides) created before it, so every
    service ends with all its tasks on the instances that survived the scale-in. With ``alb``
    (``build_alb`` keywords) the seed's service sits behind an ALB target group.
    Returns the clients and the target group ARN (None without ``alb``)."""
    aws = Clients(sandbox.endpoint)
    driver = Driver(advance=sandbox.advance)
    extra = extra or {}
    build_seed(aws, seed)
    target_group = build_alb(aws, seed, **alb)[0] if alb is not None else None
    driver.wait_for(lambda: _active(aws, seed.cluster) == seed.instances, 300, what="instances")
    create_service(aws, seed, target_group)
    for name, kw in extra.items():
        aws("ecs").create_service(cluster=seed.cluster, serviceName=name,
                                  taskDefinition=seed.service, launchType="EC2", **kw)
    wanted = {seed.service: seed.tasks, **{n: kw["desiredCount"] for n, kw in extra.items()}}

    def settled(instances: int) -> bool:
        return _active(aws, seed.cluster) == instances and all(
            _steady(aws, seed.cluster, name, n) for name, n in wanted.items())

    asg = aws("autoscaling")
    driver.wait_for(lambda: settled(seed.instances), 900, what="baseline")
    asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=seed.instances - 1)
    driver.wait_for(lambda: settled(seed.instances - 1), 900, what="scaled in")
    asg.set_desired_capacity(AutoScalingGroupName=seed.asg, DesiredCapacity=seed.instances)
    driver.wait_for(lambda: settled(seed.instances), 900, what="scaled out")
    return aws, target_group


def spread(aws: Clients, service: str = SERVICE, cluster: str = CLUSTER) -> list[int]:
    """Task counts per ACTIVE instance, largest first."""
    return counts(distribution(aws, cluster, service))
