"""The one sandbox moto's patches serve: the only module-global of the layers.

moto calls our patches as methods of its own classes (``FakeTargetGroup.register``,
``LambdaFunction.invoke``, ``utcnow()``...), with no argument that could carry the sandbox, and its
backends are process-global. So exactly one global remains, here: the stack of installed hosts,
``install`` pushes and ``uninstall`` pops (``sandbox/aws/__init__.py``). Everything that is not
called by moto takes what it needs as an argument instead.

A *host* is what the patches need from the running sandbox, nothing more: the config, the
runtime (clock, lock, timers, rng), the ECS control plane (Application Auto Scaling drives it)
and the endpoint a Lambda handler calls back. ``sandbox.server.Sandbox`` is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

if TYPE_CHECKING:
    from ..config import SandboxConfig
    from ..ecs.plane import EcsControlPlane
    from ..runtime import Runtime


class Clocked(Protocol):
    """Enough to stamp and time things: the config (account, region) and the runtime."""

    @property
    def config(self) -> "SandboxConfig": ...

    @property
    def runtime(self) -> "Runtime": ...


class Host(Clocked, Protocol):
    """What moto's patches reach through ``active()``."""

    @property
    def ecs(self) -> "EcsControlPlane": ...

    @property
    def endpoint(self) -> str: ...


_ACTIVE: list[Host] = []


def active() -> Optional[Host]:
    """The host installed last, None when no sandbox is installed (patches then act as moto)."""
    return _ACTIVE[-1] if _ACTIVE else None


def installed(host: Host) -> bool:
    return host in _ACTIVE


def push(host: Host) -> None:
    """Make ``host`` the active one."""
    _ACTIVE.append(host)


def remove(host: Host) -> bool:
    """Forget ``host``; whether any host is still installed."""
    _ACTIVE.remove(host)
    return bool(_ACTIVE)
