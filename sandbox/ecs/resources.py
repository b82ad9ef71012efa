"""What an instance type registers with ECS: CPU = vCPUs x 1024, MEMORY = MemTotal in MiB.

MemTotal is below the nominal size (the kernel and firmware keep some). Measured values are
used where known (docs/ecs-facts.md §5.1 table; m4.large from DG memory-management.md); any
other type registers ``config.agent_memory_factor`` of its nominal MiB from moto's instance
type catalogue.

The same table holds each type's maximum number of network interfaces (EC2 User Guide,
"Maximum IP addresses per network interface per instance type", column "Maximum network
interfaces"): an awsvpc task needs an ENI of its own and the primary ENI is the instance's,
so a container instance without trunking holds at most that number minus one awsvpc tasks
(ECS Developer Guide, container-instance-eni.html). Types not in the table take moto's
catalogue value (``NetworkInfo.MaximumNetworkInterfaces``).

Layer: data, the bottom of ``sandbox/ecs``; reads moto's instance type table as data.
"""

from __future__ import annotations

import functools
import gzip
import json
import os

# Per instance type: (registered MiB seen on ECS-optimised AMIs, community measurements, not
# authoritative; None if not measured), (maximum network interfaces, EC2 documentation).
INSTANCE_TYPES: dict[str, tuple[int | None, int]] = {
    "t2.micro": (None, 2), "t2.small": (1800, 3), "t2.medium": (3943, 3),
    "t2.large": (7975, 3), "t2.xlarge": (None, 3), "t2.2xlarge": (None, 3),
    "t3.nano": (None, 2), "t3.micro": (None, 2), "t3.small": (None, 3),
    "t3.medium": (3884, 3), "t3.large": (None, 3), "t3.xlarge": (None, 4),
    "t3.2xlarge": (None, 4),
    "m3.medium": (3768, 2), "m4.large": (7985, 2),
    "m5.large": (7680, 3), "m5.xlarge": (15576, 4), "m5.2xlarge": (31368, 4),
    "m5.4xlarge": (None, 8), "m5.8xlarge": (None, 8), "m5.12xlarge": (None, 8),
    "m5.16xlarge": (None, 15), "m5.24xlarge": (None, 15),
    "c5.large": (3704, 3), "c5.xlarge": (7624, 4), "c5.2xlarge": (15463, 4),
    "c5.4xlarge": (None, 8), "c5.9xlarge": (None, 8), "c5.12xlarge": (None, 8),
    "c5.18xlarge": (None, 15), "c5.24xlarge": (None, 15),
    "r5.large": (None, 3), "r5.xlarge": (None, 4), "r5.2xlarge": (None, 4),
    "r5.4xlarge": (None, 8), "r5.8xlarge": (None, 8), "r5.12xlarge": (None, 8),
    "r5.16xlarge": (None, 15), "r5.24xlarge": (None, 15),
}
MEASURED_MEMORY_MIB: dict[str, int] = {t: m for t, (m, _) in INSTANCE_TYPES.items() if m}
MAX_ENIS: dict[str, int] = {t: e for t, (_, e) in INSTANCE_TYPES.items()}
FALLBACK_MAX_ENIS = 3  # a type neither the table nor moto knows (most .large sizes)

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


def max_enis(instance_type: str, config=None) -> int:
    """Maximum network interfaces of an instance type, the primary one included."""
    overrides = getattr(config, "instance_max_enis", None) or {}
    if instance_type in overrides:
        return int(overrides[instance_type])
    if instance_type in MAX_ENIS:
        return MAX_ENIS[instance_type]
    info = (_catalogue().get(instance_type) or {}).get("NetworkInfo") or {}
    return int(info.get("MaximumNetworkInterfaces") or FALLBACK_MAX_ENIS)
