"""The range of every numeric option of the engine, its modules and the Lambda, in one table.

Imports nothing from the engine. ``check(name, value)`` is the one validator: the engine's
request types call it (before any API call), the modules call it through
``module_utils/options.py`` so that ``fail_json`` names the option and its range, and the
Lambda's configuration calls it for its environment. A value outside its range (``wait_timeout:
10**400`` once reached ``float()`` and ended in a traceback) is a ``ValueError`` whose message
names the option, the range and the value.

Why these ranges (the README's table of them):

* ``max_skew``, ``max_moves``, ``max_moves_per_az``: 1 to 1,000,000, far more tasks than one
  cluster holds (at most 5,000 container instances per cluster, a quota that cannot be raised,
  docs/ecs-facts.md 1.7); a larger value means the same;
* ``wait_timeout``: 1 s to one day, so that a run always ends in a day;
* ``poll_interval``: more than 0 and at most 300 s (and never more than ``wait_timeout``,
  checked by the request);
* ``protection_minutes``: 1 to 2880, UpdateTaskProtection's ``expiresInMinutes``;
* ``surge_min_seconds``: 0 to 3600;
* ``no_progress_minutes``: how long the no-progress breaker holds a service whose step did not
  help while nothing it depends on changes, 1 minute to one day.
"""

from __future__ import annotations

import math
from typing import Any

MAX_TASK_COUNT = 1_000_000

# name -> (lowest, highest, whether the lowest itself is allowed)
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "max_skew": (1, MAX_TASK_COUNT, True),
    "max_moves": (1, MAX_TASK_COUNT, True),
    "max_moves_per_az": (1, MAX_TASK_COUNT, True),
    "wait_timeout": (1, 86400, True),
    "poll_interval": (0, 300, False),
    "protection_minutes": (1, 2880, True),
    "surge_min_seconds": (0, 3600, True),
    "no_progress_minutes": (1, 1440, True),
}


def describe(name: str) -> str:
    """The range of ``name`` in words ("between 1 and 5000", "more than 0 and at most 300")."""
    low, high, inclusive = BOUNDS[name]
    if inclusive:
        return f"between {_number(low)} and {_number(high)}"
    return f"more than {_number(low)} and at most {_number(high)}"


def check(name: str, value: Any, label: str | None = None) -> Any:
    """``value`` when it lies in the range of option ``name``, else ``ValueError`` naming
    ``label`` (default: ``name``; the Lambda passes its environment variable), the range and
    the value. Integers are compared as integers, so an enormous one never reaches float()."""
    low, high, inclusive = BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"{label or name} must be a number {describe(name)}, got {value!r}")
    below = value < low if inclusive else value <= low
    if below or value > high:
        shown = value if len(str(value)) <= 20 else f"{str(value)[:12]}... ({len(str(value))} digits)"
        raise ValueError(f"{label or name} must be {describe(name)}, got {shown}")
    return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


__all__ = ["BOUNDS", "MAX_TASK_COUNT", "check", "describe"]
