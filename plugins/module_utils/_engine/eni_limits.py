"""How many awsvpc tasks a container instance can hold: per-type tables, no I/O.

AWS has no API for the ENI trunking limits, so they are a table here, copied from the ECS
Developer Guide, "Increasing Amazon ECS Linux container instance network interfaces"
(container-instance-eni.html), section "Supported Amazon EC2 instance types": per type, the
"Task limit without ENI trunking" and the "Task limit with ENI trunking" (the awsvpc tasks
the instance runs; the primary ENI, and with trunking the trunk ENI, are already taken off).
That page lists a1, m5, c5, r5 and their 6th/7th generation siblings; it names r5.8xlarge
and the *.metal sizes of a1, c5, m5, r5 as *not* supported, so they are absent from
``TRUNK_TASK_LIMIT`` (an instance of such a type never gets the trunk attribute).

Without trunking the limit is the type's "Maximum network interfaces" minus the primary one
(EC2 User Guide, "Maximum IP addresses per network interface per instance type";
container-instance-eni.html: "the primary network interface counts as one"). EC2's
DescribeInstanceTypes gives that number too, but the engine reads ECS only (one client, one
IAM policy), so the types the repository meets are tabled in ``MAX_ENIS``.

Which limit applies: a container instance registered with trunking carries the attribute
``ecs.awsvpc-trunk-id`` (container-instance-eni.html, "list your container instances with
increased ENI limits by querying for the ecs.awsvpc-trunk-id attribute").

The sandbox reads this same module as data (``sandbox/ecs/resources.py`` loads it by file,
so the sandbox never imports the engine package): one table for the emulated ECS and the
engine that plans against it.

Imports nothing.
"""

from __future__ import annotations

TRUNK_ATTRIBUTE = "ecs.awsvpc-trunk-id"

# Maximum network interfaces (the primary one included), EC2 User Guide.
MAX_ENIS: dict[str, int] = {
    "t2.micro": 2, "t2.small": 3, "t2.medium": 3, "t2.large": 3, "t2.xlarge": 3,
    "t2.2xlarge": 3,
    "t3.nano": 2, "t3.micro": 2, "t3.small": 3, "t3.medium": 3, "t3.large": 3,
    "t3.xlarge": 4, "t3.2xlarge": 4,
    "m3.medium": 2, "m4.large": 2,
    "m5.large": 3, "m5.xlarge": 4, "m5.2xlarge": 4, "m5.4xlarge": 8, "m5.8xlarge": 8,
    "m5.12xlarge": 8, "m5.16xlarge": 15, "m5.24xlarge": 15,
    "c5.large": 3, "c5.xlarge": 4, "c5.2xlarge": 4, "c5.4xlarge": 8, "c5.9xlarge": 8,
    "c5.12xlarge": 8, "c5.18xlarge": 15, "c5.24xlarge": 15,
    "r5.large": 3, "r5.xlarge": 4, "r5.2xlarge": 4, "r5.4xlarge": 8, "r5.8xlarge": 8,
    "r5.12xlarge": 8, "r5.16xlarge": 15, "r5.24xlarge": 15,
}


def _sizes(family: str, limits: dict[str, int]) -> dict[str, int]:
    return {f"{family}.{size}": n for size, n in limits.items()}


# The ENI trunking table's common rows: a1, m5, c5, r5 (and their a/d variants) share them.
_GEN5 = {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "8xlarge": 60,
         "12xlarge": 60, "16xlarge": 120, "24xlarge": 120}
_GEN6 = {"large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60, "8xlarge": 90,
         "12xlarge": 120, "16xlarge": 120, "24xlarge": 120, "32xlarge": 120}
_GRAVITON = {"medium": 4, "large": 10, "xlarge": 20, "2xlarge": 40, "4xlarge": 60,
             "8xlarge": 60, "12xlarge": 60, "16xlarge": 120}

# Task limit with ENI trunking, container-instance-eni.html "Supported Amazon EC2 instance
# types" (general purpose, compute optimized, memory optimized tables).
TRUNK_TASK_LIMIT: dict[str, int] = {
    "a1.medium": 10, "a1.large": 10, "a1.xlarge": 20, "a1.2xlarge": 40, "a1.4xlarge": 60,
    **_sizes("m5", _GEN5), **_sizes("m5a", _GEN5), **_sizes("m5d", _GEN5),
    **_sizes("c5", {k: v for k, v in _GEN5.items() if k not in ("8xlarge", "16xlarge")}),
    "c5.9xlarge": 60, "c5.18xlarge": 120,
    **_sizes("r5", {k: v for k, v in _GEN5.items() if k != "8xlarge"}),
    **_sizes("m6i", _GEN6), **_sizes("c6i", _GEN6), **_sizes("r6i", _GEN6),
    **_sizes("m6g", _GRAVITON), **_sizes("c6g", _GRAVITON), **_sizes("r6g", _GRAVITON),
    **_sizes("m7g", _GRAVITON), **_sizes("c7g", _GRAVITON), **_sizes("r7g", _GRAVITON),
}


def task_limit(instance_type: str, trunk: bool) -> int | None:
    """awsvpc tasks an instance of ``instance_type`` holds: with its trunk ENI
    (``trunk``: the instance has ``ecs.awsvpc-trunk-id``) the trunking table's value, else
    max ENIs - 1; None for a type neither table knows."""
    if trunk and instance_type in TRUNK_TASK_LIMIT:
        return TRUNK_TASK_LIMIT[instance_type]
    if instance_type in MAX_ENIS:
        return MAX_ENIS[instance_type] - 1
    return None


def supports_trunking(instance_type: str) -> bool:
    return instance_type in TRUNK_TASK_LIMIT


__all__ = ["MAX_ENIS", "TRUNK_ATTRIBUTE", "TRUNK_TASK_LIMIT", "supports_trunking",
           "task_limit"]
