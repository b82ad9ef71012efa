"""EcsControlPlane: the store plus the reconcile pass that runs the controllers in order.

Layer: the top of the control plane below ``api.py``. The state lives in ``state/store.py``
(``EcsState``, which this class extends); what changes it lives in ``controllers/``. The
runtime calls ``reconcile()`` after every request and every batch of timers, under the world
lock. A pass: the agent looks at EC2 (registrations, terminated and stopped hosts), then for
every service the scheduler and then ECS's AZ rebalancing take their steps, then the capacity
providers (PROVISIONING tasks, managed draining, protection and scaling), then the service
event messages noted along the way are written. Every step is level-triggered, so a pass with
nothing to do changes nothing. The order is part of the behaviour: the controllers draw from
the one seeded random generator, so a seed repeats only if they run in this order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Optional

from . import lifecycle
from .controllers import agent, azrebalance, capacity, scheduler
from .ports import Ports
from .state.store import EcsState

if TYPE_CHECKING:
    from ..config import SandboxConfig
    from ..runtime import Runtime

LOG = logging.getLogger("sandbox.ecs")


class EcsControlPlane(EcsState):
    def __init__(self, config: "SandboxConfig", runtime: "Runtime",
                 ports: Optional[Ports] = None,
                 endpoint: Callable[[], str] = lambda: ""):
        super().__init__(config, runtime, ports, endpoint)
        self._reconciling = False

    # ---------------------------------------------------------------- reconcile
    def reconcile(self) -> None:
        if self._reconciling:  # a timer fired from inside a pass must not nest passes
            return
        self._reconciling = True
        try:
            agent.sync(self)
            for svc in list(self.services.values()):
                try:
                    scheduler.reconcile_service(self, svc)
                    azrebalance.reconcile_service(self, svc)
                except Exception:
                    LOG.exception("scheduler pass for service %s failed", svc.arn)
            capacity.reconcile(self)
            self.flush_notes()
        finally:
            self._reconciling = False

    # ------------------------------------------------------------- test controls
    def fail_health_checks(self, task_arn: str, seconds: float) -> None:
        """Test control: the task's container health checks fail for ``seconds`` of emulated
        time (``lifecycle.fail_container_health_checks``); a reconcile pass follows."""
        with self.runtime.lock:
            task = self.tasks.get(task_arn)
            if task is None:
                raise KeyError(f"no task {task_arn}")
            lifecycle.fail_container_health_checks(self, task, seconds)
        self.runtime.tick()
