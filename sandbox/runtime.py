"""The sandbox's notion of time, its one lock and its timers.

Everything that changes emulated state runs under ``Runtime.lock``: API requests, timer
callbacks and reconcile passes. Time comes from ``Runtime.now()``, never from ``time.time()``:

* manual mode (``speed=None``): time stands still until ``advance(seconds)``; tests use this and
  never sleep on wall time;
* scaled mode (``speed=N``): emulated seconds pass N times faster than wall seconds; a ticker
  thread fires due timers.

The clock starts at the wall-clock time the runtime is created (whole seconds), so the ECS control
plane, moto's services (patched in ``sandbox/aws/clock.py``) and the Lambda runner's log lines
share one timeline that also lines up with the world outside while ``speed`` is 1. Tests that
need a fixed instant pass ``epoch=...``.

Timers are plain callbacks scheduled at an emulated instant.  ``advance`` fires them in due
order, moving the clock to each due time first, so a 300 s deregistration delay followed by a
2 s stop timeout happens in that order whatever step the test takes.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from typing import Callable

LOG = logging.getLogger("sandbox")


def wall_epoch() -> float:
    """Now on the wall clock, in whole seconds: where a new sandbox's clock starts (whole seconds
    keep a manual clock that moves by whole seconds on second boundaries, as ``at(...)``
    schedules and event ``time`` fields are)."""
    return float(int(time.time()))


class Runtime:
    def __init__(self, speed: float | None = None, seed: int = 0, epoch: float | None = None):
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        epoch = wall_epoch() if epoch is None else float(epoch)
        self.speed = speed
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self._epoch = epoch
        self._manual_now = epoch
        self._wall_start = time.monotonic()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._listeners: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ------------------------------------------------------------------ time
    @property
    def manual(self) -> bool:
        return self.speed is None

    def now(self) -> float:
        if self.manual:
            return self._manual_now
        return self._epoch + (time.monotonic() - self._wall_start) * self.speed

    def wall_seconds(self, emulated_seconds: float) -> float:
        """How long ``emulated_seconds`` takes on the wall clock (0 in manual mode)."""
        return 0.0 if self.manual else emulated_seconds / self.speed

    # ---------------------------------------------------------------- timers
    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        with self.lock:
            heapq.heappush(self._timers, (when, next(self._seq), callback))

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.call_at(self.now() + max(0.0, delay), callback)

    def on_tick(self, listener: Callable[[], None]) -> None:
        """Register a reconcile pass, run after every request and every batch of timers."""
        self._listeners.append(listener)

    def tick(self) -> None:
        """Fire every due timer, then run the reconcile listeners until nothing is due."""
        with self.lock:
            for _ in range(1000):
                fired = self._fire_due(self.now())
                for listener in self._listeners:
                    listener()
                if not fired and not self._due(self.now()):
                    return
            LOG.warning("tick did not settle after 1000 rounds")

    def advance(self, seconds: float) -> float:
        """Manual mode: move emulated time forward, firing timers in order. Returns now()."""
        if not self.manual:
            raise RuntimeError("advance() needs the manual clock (speed=None)")
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self.lock:
            target = self._manual_now + seconds
            self.tick()
            while self._timers and self._timers[0][0] <= target:
                self._manual_now = max(self._manual_now, self._timers[0][0])
                self.tick()
            self._manual_now = target
            self.tick()
            return self._manual_now

    def _due(self, now: float) -> bool:
        return bool(self._timers) and self._timers[0][0] <= now

    def _fire_due(self, now: float) -> bool:
        fired = False
        while self._due(now):
            _, _, callback = heapq.heappop(self._timers)
            fired = True
            try:
                callback()
            except Exception:  # a broken timer must not stop the world; it is logged
                LOG.exception("sandbox timer failed")
        return fired

    # ---------------------------------------------------------------- ticker
    def start_ticker(self, interval: float = 0.02) -> None:
        if self.manual or self._ticker:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception:
                    LOG.exception("sandbox tick failed")

        self._ticker = threading.Thread(target=loop, name="sandbox-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=5)
            self._ticker = None
