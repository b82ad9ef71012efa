"""ELBv2 target groups for bridge-mode tasks: targets keyed by (instance id, port). (stub)"""

from __future__ import annotations


def register_target(sandbox, target_group_arn: str, instance_id: str, port: int) -> None:
    """Register (instance_id, port); health starts `initial`, `healthy` after one interval."""


def deregister_target(sandbox, target_group_arn: str, instance_id: str, port: int) -> float:
    """Start draining (instance_id, port); returns the deregistration delay in seconds."""
    return 0.0


def target_health(sandbox, target_group_arn: str, instance_id: str, port: int) -> str:
    """initial | healthy | unhealthy | draining | unused"""
    return "healthy"
