"""The ECS agent, emulated: EC2 instances become container instances (docs/ecs-facts.md §5).

On every reconcile pass ``sync`` looks at EC2's instances (through ``plane.ports.ec2``):

* a ``running`` instance whose UserData sets ``ECS_CLUSTER`` registers after
  ``config.agent_boot_seconds`` (also read: ECS_RESERVED_MEMORY, ECS_RESERVED_PORTS,
  ECS_RESERVED_PORTS_UDP, ECS_INSTANCE_ATTRIBUTES); an agent whose cluster does not exist
  retries every ``config.agent_retry_seconds`` (``default`` is created, as the agent does);
* a terminated (or vanished) instance's container instance becomes INACTIVE at once, its
  tasks STOPPED (``Host EC2 (instance i-...) terminated.``, TerminationNotice);
* a stopped instance's agent disconnects and its tasks stop; when it runs again the agent
  reconnects after the boot delay.

Container instances registered through the API for instances moto does not know are left
alone.

Layer: controller (``sandbox/ecs/controllers``); imports the store and the shared task
mechanics (``lifecycle``, ``provisioning``), never another controller.
"""

from __future__ import annotations

import base64
import binascii
import email
import gzip
import json
import logging
import re
from typing import TYPE_CHECKING, Any, Optional

from .. import lifecycle, provisioning, resources
from ..models import Cluster, ContainerInstance

if TYPE_CHECKING:
    from ..state.store import EcsState

LOG = logging.getLogger("sandbox.ecs")

CAPABILITIES = (
    [f"com.amazonaws.ecs.capability.docker-remote-api.1.{n}" for n in range(17, 45)]
    + [
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.logging-driver.json-file",
        "com.amazonaws.ecs.capability.logging-driver.syslog",
        "com.amazonaws.ecs.capability.logging-driver.none",
        "com.amazonaws.ecs.capability.privileged-container",
        "com.amazonaws.ecs.capability.ecr-auth",
        "com.amazonaws.ecs.capability.task-iam-role",
        "com.amazonaws.ecs.capability.task-iam-role-network-host",
        "ecs.capability.execution-role-awslogs",
        "ecs.capability.execution-role-ecr-pull",
        "ecs.capability.container-health-check",
        "ecs.capability.container-ordering",
        "ecs.capability.task-eni",
        "ecs.capability.task-cpu-mem-limit",
        "ecs.capability.increased-task-cpu-limit",
        "ecs.capability.full-sync",
        "ecs.capability.secrets.asm.environment-variables",
        "ecs.capability.secrets.ssm.environment-variables",
        "ecs.capability.env-files.s3",
        "ecs.capability.docker-plugin.local",
        "ecs.capability.efs",
        "ecs.capability.efsAuth",
        "ecs.capability.firelens.fluentbit",
    ]
)


# ------------------------------------------------------------------ user data
def decode_user_data(raw: Any) -> str:
    """UserData as text, whatever form moto keeps it in (base64 str/bytes, a list of them,
    Base64EncodedString), gzip and MIME multipart included."""
    if raw is None:
        return ""
    if isinstance(raw, (list, tuple)):
        return "\n".join(decode_user_data(r) for r in raw)
    data: bytes
    if hasattr(raw, "decode") and not isinstance(raw, (bytes, str)):
        try:
            data = base64.b64decode(raw.as_bytes())
        except (binascii.Error, ValueError, AttributeError):
            data = str(raw).encode()
    else:
        blob = raw.encode() if isinstance(raw, str) else bytes(raw)
        try:
            data = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            data = blob
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except OSError:
            pass
    text = data.decode("utf-8", errors="replace")
    if re.search(r"(?im)^content-type:\s*multipart/", text):
        parts = []
        for part in email.message_from_string(text).walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            if payload[:2] == b"\x1f\x8b":
                try:
                    payload = gzip.decompress(payload)
                except OSError:
                    pass
            parts.append(payload.decode("utf-8", errors="replace"))
        text = text + "\n" + "\n".join(parts)
    return text


_VAR = re.compile(r"(ECS_[A-Z0-9_]+)=(.*)")


def parse_ecs_config(text: str) -> dict[str, str]:
    """The ECS_* variables the user data writes into /etc/ecs/ecs.config (first wins)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = _VAR.search(line)
        if not m:
            continue
        name, value = m.group(1), m.group(2)
        value = re.split(r"\s+>>?\s*|\s+\|\s*|\s*;\s*$", value)[0].strip()
        if name != "ECS_INSTANCE_ATTRIBUTES":
            value = value.strip("'\"")
        found.setdefault(name, value)
    return found


def _json_value(text: str) -> Any:
    text = text.strip().strip("'")
    if text.endswith('"') and not text.endswith('}"') and text.count('"') % 2:
        text = text[:-1]
    for candidate in (text, text.replace('\\"', '"'), text.strip('"').replace('\\"', '"')):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def agent_config(instance) -> Optional[dict]:
    """Parsed ecs.config of an EC2 instance, or None if its UserData sets no ECS_CLUSTER."""
    conf = parse_ecs_config(decode_user_data(getattr(instance, "user_data", None)))
    m = re.match(r"[A-Za-z0-9_-]+", conf.get("ECS_CLUSTER", ""))
    if not m:
        return None
    conf["ECS_CLUSTER"] = m.group(0)
    return conf


# ------------------------------------------------------------------- EC2 view
def ec2_instances(plane: "EcsState") -> dict[str, Any]:
    """Every EC2 instance by id, through the control plane's EC2 port."""
    return plane.ports.ec2.instances()


def _state(instance) -> str:
    return getattr(getattr(instance, "_state", None), "name", None) or \
        getattr(instance, "state", "unknown")


# ------------------------------------------------------------------------ sync
def sync(plane: "EcsState") -> None:
    instances = ec2_instances(plane)
    st = plane.agent
    for ci in list(plane.container_instances.values()):
        if not ci.ec2_backed or ci.status == "INACTIVE":
            continue
        inst = instances.get(ci.ec2_instance_id)
        state = _state(inst) if inst is not None else "terminated"
        if state in ("terminated", "shutting-down"):
            host_terminated(plane, ci)
        elif state in ("stopped", "stopping"):
            if ci.agent_connected:
                host_stopped(plane, ci)
        elif state == "running" and not ci.agent_connected \
                and ci.ec2_instance_id not in st.reconnecting:
            st.reconnecting.add(ci.ec2_instance_id)
            arn = ci.arn
            plane.runtime.call_later(plane.config.agent_boot_seconds,
                                     lambda: _reconnect(plane, arn))
    for iid, inst in instances.items():
        if iid in st.known or _state(inst) != "running":
            continue
        conf = agent_config(inst)
        st.known[iid] = conf
        if conf is None:
            continue
        if plane.config.agent_ami_ids and inst.image_id not in plane.config.agent_ami_ids:
            continue
        st.pending.add(iid)
        plane.runtime.call_later(plane.config.agent_boot_seconds,
                                 lambda iid=iid: _register_timer(plane, iid))


def _register_timer(plane: "EcsState", iid: str) -> None:
    st = plane.agent
    inst = ec2_instances(plane).get(iid)
    conf = st.known.get(iid)
    if inst is None or conf is None or _state(inst) != "running":
        st.pending.discard(iid)
        if inst is not None and _state(inst) in ("stopped", "stopping", "pending"):
            st.known.pop(iid, None)   # registers when it runs again
        return
    name = conf["ECS_CLUSTER"]
    cluster = plane.clusters.get(name)
    if cluster is None or cluster.status != "ACTIVE":
        if name == "default":
            cluster = plane.add_cluster("default")
        else:
            plane.runtime.call_later(plane.config.agent_retry_seconds,
                                     lambda: _register_timer(plane, iid))
            return
    st.pending.discard(iid)
    existing = next((ci for ci in plane.instances_in(cluster.name)
                     if ci.ec2_instance_id == iid and ci.status != "INACTIVE"), None)
    if existing is not None:
        existing.ec2_backed = True
        return
    try:
        register(plane, cluster, inst, conf)
    except ValueError as exc:
        LOG.warning("agent on %s cannot register: %s", iid, exc)


def _reconnect(plane: "EcsState", arn: str) -> None:
    ci = plane.container_instances.get(arn)
    if ci is None:
        return
    plane.agent.reconnecting.discard(ci.ec2_instance_id)
    inst = ec2_instances(plane).get(ci.ec2_instance_id)
    if ci.status == "INACTIVE" or ci.agent_connected or inst is None \
            or _state(inst) != "running":
        return
    ci.agent_connected = True
    plane.instance_changed(ci)


# -------------------------------------------------------------------- register
def instance_attributes(instance, conf: dict) -> dict[str, Optional[str]]:
    itype = getattr(instance, "instance_type", "") or ""
    try:
        vpc_id = instance.vpc_id
    except Exception:
        vpc_id = None
    arch = getattr(instance, "architecture", None) or resources.cpu_architecture(itype)
    attrs: dict[str, Optional[str]] = {
        "ecs.availability-zone": getattr(instance, "availability_zone", None)
        or instance.placement.zone,
        "ecs.instance-type": itype,
        "ecs.ami-id": getattr(instance, "image_id", None),
        "ecs.os-type": "windows" if getattr(instance, "platform", None) == "windows"
        else "linux",
        "ecs.os-family": "WINDOWS_SERVER_2022_CORE"
        if getattr(instance, "platform", None) == "windows" else "LINUX",
        "ecs.cpu-architecture": "arm64" if arch == "arm64" else "x86_64",
        "ecs.vpc-id": vpc_id,
        "ecs.subnet-id": getattr(instance, "subnet_id", None),
    }
    attrs = {k: v for k, v in attrs.items() if v is not None}
    for cap in CAPABILITIES:
        attrs[cap] = None
    custom = _json_value(conf.get("ECS_INSTANCE_ATTRIBUTES", "")) if conf else None
    if isinstance(custom, dict):
        for k, v in custom.items():
            attrs[str(k)] = None if v is None else str(v)
    return attrs


def _trunk(plane: "EcsState", attrs: dict, itype: str) -> None:
    """ENI trunking (container-instance-eni.html): an instance registered while
    awsvpcTrunking is enabled, of a type in the trunking table, on Linux, gets a trunk ENI,
    shown as the ``ecs.awsvpc-trunk-id`` attribute, and the table's higher awsvpc task limit
    (network.eni_slots). "Only new Amazon EC2 instances launched after opting in ... receive
    the increased ENI limits": instances registered before keep theirs. The REGISTERING
    status while the trunk is provisioned is folded into the registration [I]."""
    if (plane.setting_enabled("awsvpcTrunking") and resources.supports_trunking(itype)
            and attrs.get("ecs.os-type", "linux") == "linux"):
        attrs[resources.TRUNK_ATTRIBUTE] = f"eni-{plane.new_id()[:17]}"


def _port_list(text: Optional[str], default: list[str]) -> list[str]:
    if not text:
        return list(default)
    value = _json_value(text)
    if isinstance(value, list):
        return [str(v) for v in value]
    return list(default)


def register(plane: "EcsState", cluster: Cluster, instance, conf: Optional[dict],
             total_resources: Optional[list] = None, attributes: Optional[list] = None,
             version_info: Optional[dict] = None, tags: Optional[list] = None,
             document: Optional[dict] = None) -> ContainerInstance:
    """Create the container instance for an EC2 instance (or an identity document)."""
    conf = conf or {}
    document = document or {}
    if instance is not None:
        itype = instance.instance_type
        attrs = instance_attributes(instance, conf)
        iid = instance.id
        az = attrs.get("ecs.availability-zone")
    else:
        itype = document.get("instanceType") or "m5.large"
        iid = document["instanceId"]
        az = document.get("availabilityZone") or f"{plane.region}a"
        attrs = {"ecs.availability-zone": az, "ecs.instance-type": itype,
                 "ecs.ami-id": document.get("imageId") or "ami-00000000",
                 "ecs.os-type": "linux", "ecs.os-family": "LINUX",
                 "ecs.cpu-architecture": "arm64" if document.get("architecture") == "arm64"
                 else "x86_64"}
        for cap in CAPABILITIES:
            attrs[cap] = None
    cpu, memory = resources.registered_resources(itype, plane.config)
    try:
        memory -= int(conf.get("ECS_RESERVED_MEMORY") or 0)
    except ValueError:
        pass
    tcp = _port_list(conf.get("ECS_RESERVED_PORTS"), list(plane.config.reserved_ports))
    udp = _port_list(conf.get("ECS_RESERVED_PORTS_UDP"), [])
    for r in total_resources or []:
        name = r.get("name")
        if name == "CPU" and r.get("integerValue") is not None:
            cpu = int(r["integerValue"])
        elif name == "MEMORY" and r.get("integerValue") is not None:
            memory = int(r["integerValue"])
        elif name == "PORTS" and r.get("stringSetValue") is not None:
            tcp = [str(p) for p in r["stringSetValue"]]
        elif name == "PORTS_UDP" and r.get("stringSetValue") is not None:
            udp = [str(p) for p in r["stringSetValue"]]
    if memory < 0:
        raise ValueError("ECS_RESERVED_MEMORY is larger than the instance's memory")
    for a in attributes or []:
        attrs[a["name"]] = a.get("value")
    _trunk(plane, attrs, itype)
    now = plane.now()
    ci_id = plane.new_id()
    info = {"agentVersion": plane.config.agent_version, "agentHash": plane.new_id()[:8],
            "dockerVersion": "DockerVersion: 25.0.6"}
    info.update(version_info or {})
    ci = ContainerInstance(
        arn=plane.arn(f"container-instance/{cluster.name}/{ci_id}"), id=ci_id,
        cluster_name=cluster.name, cluster_arn=cluster.arn, ec2_instance_id=iid,
        registered_at=now, registered_cpu=cpu, registered_memory=memory,
        reserved_tcp=tcp, reserved_udp=udp, attributes=attrs, version_info=info,
        availability_zone=az, ec2_backed=instance is not None, version=0, updated_at=now,
        tags=list(tags or []))
    if instance is not None:   # launched from a provider's Auto Scaling group (§1.5)
        ci.capacity_provider_name = provisioning.provider_of_instance(plane, instance)
    plane.container_instances[ci.arn] = ci
    plane.agent.known.setdefault(iid, conf or None)
    plane.instance_changed(ci)
    LOG.info("container instance %s registered for %s in %s", ci.id, iid, cluster.name)
    return ci


# -------------------------------------------------------------- host changes
def host_terminated(plane: "EcsState", ci: ContainerInstance) -> None:
    ci.status = "INACTIVE"
    ci.agent_connected = False
    ci.deregistered_at = plane.now()
    reason = f"Host EC2 (instance {ci.ec2_instance_id}) terminated."
    for t in list(ci.tasks.values()):
        lifecycle.stop(plane, t, reason, "TerminationNotice", immediate=True)
    plane.instance_changed(ci)
    forget_later(plane, ci)


def host_stopped(plane: "EcsState", ci: ContainerInstance) -> None:
    ci.agent_connected = False
    reason = f"Host EC2 (instance {ci.ec2_instance_id}) stopped."
    for t in list(ci.tasks.values()):
        lifecycle.stop(plane, t, reason, "TerminationNotice", immediate=True)
    plane.instance_changed(ci)


def forget_later(plane: "EcsState", ci: ContainerInstance) -> None:
    arn = ci.arn

    def forget() -> None:
        current = plane.container_instances.get(arn)
        if current is not None and current.status == "INACTIVE":
            del plane.container_instances[arn]
    plane.runtime.call_later(plane.config.inactive_retention_seconds, forget)
