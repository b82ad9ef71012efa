"""moto, patched where the sandbox needs AWS's documented behaviour.

``install(sandbox)`` applies every patch and points it at that sandbox (moto's backends are
process-global, so one sandbox is active per process); ``uninstall`` undoes it.

The ECS control plane talks to these modules only through their public functions:

* ``elbv2.register_target / deregister_target / target_health`` (targets keyed by (id, port));
* ``eventbridge.emit`` (an event envelope onto the default bus, delivered to matching rules);
* ``lambda_runner.wait_idle`` (tests wait for asynchronous invocations to finish).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..server import Sandbox

_ACTIVE: list["Sandbox"] = []


def active() -> "Sandbox | None":
    return _ACTIVE[-1] if _ACTIVE else None


def install(sandbox: "Sandbox") -> None:
    _ACTIVE.append(sandbox)


def uninstall(sandbox: "Sandbox") -> None:
    if sandbox in _ACTIVE:
        _ACTIVE.remove(sandbox)
