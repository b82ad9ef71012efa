"""``Deadline``: the run's one absolute deadline. Imports nothing from the engine."""

from __future__ import annotations

from typing import Callable


class Deadline:
    """The run's one absolute deadline; every wait of the run is bounded by it."""

    def __init__(self, clock: Callable[[], float], seconds: float):
        self.clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    def passed(self) -> bool:
        return self.clock() >= self.at
