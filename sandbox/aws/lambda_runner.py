"""Runs a deployed function's own code in a subprocess. (stub)"""

from __future__ import annotations


def wait_idle(sandbox, timeout: float = 60.0) -> bool:
    """Block until no asynchronous invocation is queued or running."""
    return True
