"""What an instance type registers with ECS: CPU = vCPUs x 1024, MEMORY = MemTotal in MiB.

MemTotal is below the nominal size (the kernel and firmware keep some). Measured values are
used where known (ecs-semantics §5.1 table; m4.large from DG memory-management.md); any
other type registers ``config.agent_memory_factor`` of its nominal MiB from moto's instance
type catalogue.
"""

from __future__ import annotations

import functools
import gzip
import json
import os

# Registered MiB seen on ECS-optimised AMIs (community measurements, not authoritative).
MEASURED_MEMORY_MIB: dict[str, int] = {
    "t2.small": 1800,
    "t2.medium": 3943,
    "t2.large": 7975,
    "t3.medium": 3884,
    "m3.medium": 3768,
    "m4.large": 7985,
    "m5.large": 7680,
    "m5.xlarge": 15576,
    "m5.2xlarge": 31368,
    "c5.large": 3704,
    "c5.xlarge": 7624,
    "c5.2xlarge": 15463,
}

FALLBACK = (2, 4096)  # vCPUs, nominal MiB for a type moto does not know


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict:
    try:
        import moto.ec2

        path = os.path.join(os.path.dirname(moto.ec2.__file__), "resources",
                            "instance_types.json.gz")
        with gzip.open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def nominal(instance_type: str) -> tuple[int, int]:
    """(vCPUs, nominal MiB) of an instance type."""
    info = _catalogue().get(instance_type)
    if not info:
        return FALLBACK
    return (int(info.get("VCpuInfo", {}).get("DefaultVCpus", FALLBACK[0])),
            int(info.get("MemoryInfo", {}).get("SizeInMiB", FALLBACK[1])))


def cpu_architecture(instance_type: str, default: str = "x86_64") -> str:
    info = _catalogue().get(instance_type) or {}
    archs = info.get("ProcessorInfo", {}).get("SupportedArchitectures") or []
    if "arm64" in archs and "x86_64" not in archs:
        return "arm64"
    return default


def registered_resources(instance_type: str, config) -> tuple[int, int]:
    """(CPU units, MEMORY MiB before ECS_RESERVED_MEMORY) the agent would register."""
    vcpus, mib = nominal(instance_type)
    overrides = getattr(config, "instance_memory_mib", None) or {}
    if instance_type in overrides:
        memory = int(overrides[instance_type])
    elif instance_type in MEASURED_MEMORY_MIB:
        memory = MEASURED_MEMORY_MIB[instance_type]
    else:
        memory = int(mib * getattr(config, "agent_memory_factor", 0.95))
    return vcpus * 1024, memory
