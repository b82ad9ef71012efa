"""moto, patched where the sandbox needs AWS's documented behaviour.

``install(sandbox)`` applies every patch and points it at that sandbox (moto's backends are
process-global, so one sandbox is active per process); ``uninstall`` undoes it.

The ECS control plane talks to these modules only through their public functions:

* ``elbv2.register_target / deregister_target / target_health`` (targets keyed by (id, port));
  ``elbv2.set_unhealthy`` is a test hook;
* ``eventbridge.emit`` (an event envelope onto the default bus, delivered to matching rules);
* ``lambda_runner.wait_idle`` (tests wait for asynchronous invocations to finish).

The patches (see each module's docstring):

* ``elbv2``: targets keyed by (Id, Port), health ``initial`` -> ``healthy`` after one interval,
  deregistration drains for the group's delay, stopped/terminated instances ``unused``;
* ``autoscaling``: launches balance AZs, scale-in follows the default termination policy,
  DisableMetricsCollection;
* ``eventbridge``: only ENABLED rules fire, Lambda targets are delivered asynchronously;
* ``lambda_runner``: Invoke runs the function's own zip in a subprocess, logs to CloudWatch Logs;
* ``iam``: AWS managed policies are loaded (AttachRolePolicy of ``arn:aws:iam::aws:policy/...``);
* ``clock``: moto's timestamps come from the sandbox clock (``Runtime.now()``), one timeline;
* ``appautoscaling``: Service Auto Scaling of ECS services drives our control plane (scalable
  targets, scheduled actions, DescribeScalingActivities).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._patching import Patcher

if TYPE_CHECKING:
    from ..server import Sandbox

_ACTIVE: list["Sandbox"] = []
_PATCHER = Patcher()


def active() -> "Sandbox | None":
    return _ACTIVE[-1] if _ACTIVE else None


def _modules() -> list:
    from . import appautoscaling, autoscaling, clock, elbv2, eventbridge, iam, lambda_runner

    return [clock, elbv2, autoscaling, eventbridge, lambda_runner, iam, appautoscaling]


def install(sandbox: "Sandbox") -> None:
    """Apply every patch (once) and make ``sandbox`` the one they serve. Idempotent."""
    if sandbox in _ACTIVE:
        return
    _ACTIVE.append(sandbox)
    modules = _modules()
    if not _PATCHER.applied:
        for module in modules:
            _PATCHER.apply(module.patches())
    for module in modules:
        module.on_install(sandbox)


def uninstall(sandbox: "Sandbox") -> None:
    """Stop serving ``sandbox``; the last one out restores moto's originals."""
    if sandbox not in _ACTIVE:
        return
    for module in reversed(_modules()):
        module.on_uninstall(sandbox)
    _ACTIVE.remove(sandbox)
    if not _ACTIVE:
        _PATCHER.restore()
