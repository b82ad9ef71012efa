"""moto, patched where the sandbox needs AWS's documented behaviour.

This layer sits above the ECS control plane (``sandbox/ecs``) and below the data plane and the
server. ``install(host)`` applies every patch and points it at that host (moto's backends are
process-global, so one sandbox is active per process: the one module-global, ``host.py``);
``uninstall`` undoes it.

The ECS control plane never imports these modules. It names what it needs as ports
(``sandbox/ecs/ports.py``) and ``ecs_ports(config, runtime)`` (``ports.py``) builds their
implementations over moto's backends, which the server hands to ``EcsControlPlane``. Tests and the
data plane also use the public functions:

* ``elbv2.register_target / deregister_target / target_health / targets`` (targets keyed by
  (id, port)); ``elbv2.set_unhealthy / set_healthy`` are test hooks;
* ``eventbridge.emit`` (an event envelope onto the default bus, delivered to matching rules);
* ``lambda_runner.wait_idle`` (tests wait for asynchronous invocations to finish);
* ``sqs_lambda.invocations`` (batches an event source mapping has invoked).

The patches (see each module's docstring):

* ``elbv2``: targets keyed by (Id, Port), health ``initial`` -> ``healthy`` after one interval,
  deregistration drains for the group's delay, stopped/terminated instances ``unused``;
* ``autoscaling``: launches balance AZs, scale-in follows the default termination policy,
  DisableMetricsCollection;
* ``eventbridge``: only ENABLED rules fire, Lambda targets are delivered asynchronously;
* ``lambda_runner``: Invoke runs the function's own zip in a subprocess, logs to CloudWatch Logs;
* ``sqs_lambda``: SQS event source mappings invoke their function once per batch (BatchSize,
  MaximumBatchingWindowInSeconds on the emulated clock, 6 MB), delete on success;
* ``cloudwatch``: EMF log lines become metrics, Lambda invocations add AWS/Lambda metrics, metric
  alarms are evaluated on the sandbox clock (moto never changes an alarm's state itself);
* ``iam``: AWS managed policies are loaded (AttachRolePolicy of ``arn:aws:iam::aws:policy/...``);
* ``clock``: moto's timestamps come from the sandbox clock (``Runtime.now()``), one timeline;
* ``appautoscaling``: Service Auto Scaling of ECS services drives our control plane (scalable
  targets, scheduled actions, DescribeScalingActivities);
* ``dynamodb``: table descriptions carry ``TableId`` (the lease table's Ansible module needs it).
"""

from __future__ import annotations

from . import (appautoscaling, autoscaling, clock, cloudwatch, dynamodb, elbv2, eventbridge,
               iam, lambda_runner, sqs_lambda)
from ._patching import Patcher
from .host import Host, active, installed, push, remove
from .ports import Env, MotoLoadBalancers, ecs_ports

__all__ = ["Env", "Host", "MotoLoadBalancers", "active", "ecs_ports", "install", "uninstall"]

_PATCHER = Patcher()
_MODULES = [clock, elbv2, autoscaling, eventbridge, lambda_runner, sqs_lambda, iam,
            appautoscaling, cloudwatch, dynamodb]


def install(host: Host) -> None:
    """Apply every patch (once) and make ``host`` the one they serve. Idempotent."""
    if installed(host):
        return
    push(host)
    if not _PATCHER.applied:
        for module in _MODULES:
            _PATCHER.apply(module.patches())
    for module in _MODULES:
        module.on_install(host)


def uninstall(host: Host) -> None:
    """Stop serving ``host``; the last one out restores moto's originals."""
    if not installed(host):
        return
    for module in reversed(_MODULES):
        module.on_uninstall(host)
    if not remove(host):
        _PATCHER.restore()
