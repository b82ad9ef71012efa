"""What an instance type registers with ECS: CPU = vCPUs x 1024, MEMORY = MemTotal in MiB.

MemTotal is below the nominal size (the kernel and firmware keep some). Measured values are
used where known (docs/ecs-facts.md §5.1 table; m4.large from DG memory-management.md); any
other type registers ``config.agent_memory_factor`` of its nominal MiB from moto's instance
type catalogue.

The awsvpc task limits per type (maximum network interfaces, EC2 User Guide; the task limit
with ENI trunking, ECS Developer Guide container-instance-eni.html) are the engine's table,
``plugins/module_utils/_engine/eni_limits.py``: the emulated ECS and the engine that plans
against it must agree on them, so there is one table. It is loaded here *by file*, as data:
the sandbox never imports the engine package (its ``__init__`` pulls in the whole engine, and
the sandbox is the engine's oracle), and the module imports nothing itself. An awsvpc task
needs an ENI of its own and the primary ENI is the instance's, so a container instance
without trunking holds at most max ENIs - 1 awsvpc tasks; types not in the table take moto's
catalogue value (``NetworkInfo.MaximumNetworkInterfaces``).

Layer: data, the bottom of ``sandbox/ecs``; reads moto's instance type table and the engine's
ENI table as data.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import os
import sys
from pathlib import Path

# Registered MiB seen on ECS-optimised AMIs (community measurements, not authoritative).
MEASURED_MEMORY_MIB: dict[str, int] = {
    "t2.small": 1800, "t2.medium": 3943, "t2.large": 7975, "t3.medium": 3884,
    "m3.medium": 3768, "m4.large": 7985, "m5.large": 7680, "m5.xlarge": 15576,
    "m5.2xlarge": 31368, "c5.large": 3704, "c5.xlarge": 7624, "c5.2xlarge": 15463,
}
ENI_TABLE = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "_engine" / \
    "eni_limits.py"


def _eni_limits():
    """The engine's ENI table module, loaded from its file (see the docstring)."""
    name = "_taskspread_eni_limits"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ENI_TABLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


eni_limits = _eni_limits()
MAX_ENIS: dict[str, int] = eni_limits.MAX_ENIS
TRUNK_ATTRIBUTE: str = eni_limits.TRUNK_ATTRIBUTE
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


def supports_trunking(instance_type: str) -> bool:
    """The type is in the ENI trunking table (container-instance-eni.html)."""
    return eni_limits.supports_trunking(instance_type)


def awsvpc_task_limit(instance_type: str, trunk: bool, config=None) -> int:
    """awsvpc tasks an instance of the type holds: the trunking table's value when it
    registered with a trunk ENI, else max ENIs - 1 (a config override of max ENIs wins)."""
    overrides = getattr(config, "instance_max_enis", None) or {}
    if trunk and instance_type not in overrides and supports_trunking(instance_type):
        return eni_limits.TRUNK_TASK_LIMIT[instance_type]
    return max_enis(instance_type, config) - 1
