"""EventBridge delivery: enabled rules that match deliver to their Lambda targets. (stub)"""

from __future__ import annotations


def emit(sandbox, event: dict) -> None:
    """Put one full event envelope (version, id, detail-type, source, ... detail) on the
    default bus of sandbox.config.region."""
