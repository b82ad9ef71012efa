"""The placement view of a cluster's container instances (``placement.Host``), built fresh for
each placement decision by the scheduler, RunTask/StartTask, ECS's AZ rebalancing and the
capacity providers' PROVISIONING tasks.

Layer: task mechanics shared by the controllers and the API; imports ``network``,
``placement`` and the store (type only), never a controller.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from . import network
from .placement import Host

if TYPE_CHECKING:
    from .state.store import EcsState


def build_hosts(plane: "EcsState", cluster_name: str) -> list[Host]:
    hosts = []
    for ci in plane.instances_in(cluster_name):
        if ci.status == "INACTIVE":
            continue
        groups: Counter = Counter()
        live: Counter = Counter()
        for t in ci.tasks.values():
            groups[t.group] += 1
            if t.live:
                live[t.group] += 1
        hosts.append(Host(
            arn=ci.arn, ec2_instance_id=ci.ec2_instance_id, status=ci.status,
            agent_connected=ci.agent_connected, attributes=dict(ci.attributes),
            remaining_cpu=ci.remaining_cpu, remaining_memory=ci.remaining_memory,
            ports_tcp=set(ci.remaining_tcp()), ports_udp=set(ci.remaining_udp()),
            dynamic_in_use=set(ci.dynamic_ports), groups=groups, live_groups=live,
            facts={"runningTasksCount": sum(live.values()),
                   "agentVersion": ci.version_info.get("agentVersion"),
                   "registeredAt": ci.registered_at,
                   "capacityProviderName": ci.capacity_provider_name},
            eni_slots=network.eni_slots(plane, ci)))
    return hosts
