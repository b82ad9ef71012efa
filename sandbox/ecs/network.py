"""awsvpc network mode on EC2: validation, task ENIs and private IPs, ENI limits.

What ECS documents, and what the sandbox does with it:

* ``networkConfiguration.awsvpcConfiguration`` is required for an awsvpc task definition and
  refused for any other network mode, on CreateService, UpdateService, RunTask and StartTask
  (InvalidParameterException, messages as ECS returns them). ``assignPublicIp`` ENABLED is
  Fargate only ("Assign public IP is not supported for this launch type."). At most 16
  subnets and 5 security groups, all of them existing (API AwsVpcConfiguration).
* "specify a network configuration that includes the subnets in which to place your tasks
  ... The tasks are placed on valid container instances in those subnets" (ECS Developer
  Guide, task-networking.html): placement only considers instances whose ``ecs.subnet-id``
  is one of the configured subnets, and the task's ENI gets a private IP of that subnet.
* Each awsvpc task gets its own ENI, attached to its instance, "and the primary network
  interface counts as one" (container-instance-eni.html): an instance holds at most
  (max ENIs of its type - 1) awsvpc tasks (table in resources.py); beyond that placement
  fails with ``RESOURCE:ENI``. With ENI trunking (account setting ``awsvpcTrunking`` enabled
  before the instance registered, a type in the trunking table) the instance carries
  ``ecs.awsvpc-trunk-id`` and holds the table's "Task limit with ENI trunking" instead
  (container-instance-eni.html; the table is shared with the engine, see resources.py).
* The ENI shows as ``Task.attachments`` (type ElasticNetworkInterface, details subnetId,
  networkInterfaceId, macAddress, privateDnsName, privateIPv4Address) and each container's
  ``networkInterfaces`` [{attachmentId, privateIpv4Address}]. "When the task stops ... the
  task ENI is detached and deleted" (task-networking-awsvpc.html): the attachment reads
  DELETED once the task is STOPPED and its IP is free again.
* ALB/NLB target groups: awsvpc tasks register as (private IP, container port) in an ``ip``
  target group; an ``instance`` group is refused for awsvpc, an ``ip`` group for bridge/host.

[I] choices: the lowest free IP of the subnet (config.awsvpc_ip_order), skipping the five
addresses AWS reserves in every subnet (VPC User Guide, "Subnet CIDR blocks") and the
addresses of EC2 instances and network interfaces moto knows; ENI and MAC values come from
the sandbox's seeded ids; the attachment is ATTACHED from the start (PROVISIONING is folded
into PENDING) until the task is STOPPED.

Layer: task mechanics shared by the controllers and the API; imports the data modules
and the store (type only), never a controller.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional

from . import errors, resources

if TYPE_CHECKING:
    from .models import ContainerInstance, TaskDefinition
    from .state.store import EcsState

AWSVPC = "awsvpc"
MISSING = "Network Configuration must be provided when networkMode 'awsvpc' is specified."
NOT_VALID = "Network Configuration is not valid for the given networkMode of this task " \
            "definition."
PUBLIC_IP = "Assign public IP is not supported for this launch type."
TARGET_TYPE = ("The provided target group {arn} has target type {kind}, which is incompatible "
               "with the {mode} network mode specified in the task definition.")
MAX_SUBNETS, MAX_SECURITY_GROUPS = 16, 5


# ------------------------------------------------------------------ validation
def is_awsvpc(td: "TaskDefinition") -> bool:
    return td.network_mode == AWSVPC


def validate(plane: "EcsState", td: "TaskDefinition",
             config: Optional[dict]) -> Optional[dict]:
    """The normalised networkConfiguration for ``td``, or None; raises EcsError as ECS does."""
    if not is_awsvpc(td):
        if config:
            raise errors.invalid(NOT_VALID)
        return None
    vpc = (config or {}).get("awsvpcConfiguration")
    if not vpc:
        raise errors.invalid(MISSING)
    subnets = list(vpc.get("subnets") or [])
    groups = list(vpc.get("securityGroups") or [])
    public = vpc.get("assignPublicIp") or "DISABLED"
    if not subnets:
        raise errors.invalid("subnets can not be empty.")
    if len(subnets) > MAX_SUBNETS:
        raise errors.invalid(f"subnets can have at most {MAX_SUBNETS} items.")
    if len(groups) > MAX_SECURITY_GROUPS:
        raise errors.invalid(f"securityGroups can have at most {MAX_SECURITY_GROUPS} items.")
    if public not in ("ENABLED", "DISABLED"):
        raise errors.invalid(f"Invalid assignPublicIp value: {public}")
    if public == "ENABLED":
        raise errors.invalid(PUBLIC_IP)
    _check_subnets(plane, subnets)
    _check_security_groups(plane, groups)
    out = {"subnets": subnets, "assignPublicIp": public}
    if groups:
        out["securityGroups"] = groups
    return {"awsvpcConfiguration": out}


def _check_subnets(plane: "EcsState", subnets: list[str]) -> None:
    """Every subnet must exist in EC2 (when the sandbox's EC2 has been used at all)."""
    ec2 = plane.ports.ec2
    if not ec2.in_use():
        return
    for subnet_id in subnets:
        if ec2.subnet_cidr(subnet_id) is None:
            raise errors.invalid(
                f"Error retrieving subnet information for [{subnet_id}]: The subnet ID "
                f"'{subnet_id}' does not exist (ErrorCode: InvalidSubnetID.NotFound)")


def _check_security_groups(plane: "EcsState", groups: list[str]) -> None:
    """Every security group must exist in EC2, as every subnet must (same wording)."""
    ec2 = plane.ports.ec2
    if not ec2.in_use():
        return
    for group_id in groups:
        if not ec2.security_group_exists(group_id):
            raise errors.invalid(
                f"Error retrieving security group information for [{group_id}]: The security "
                f"group '{group_id}' does not exist (ErrorCode: InvalidGroup.NotFound)")


def subnets_of(config: Optional[dict]) -> tuple[str, ...]:
    return tuple(((config or {}).get("awsvpcConfiguration") or {}).get("subnets") or ())


def check_target_groups(plane: "EcsState", td: "TaskDefinition",
                        load_balancers: Iterable[dict]) -> None:
    """awsvpc needs ``ip`` target groups, bridge and host need ``instance`` ones."""
    for lb in load_balancers:
        arn = lb.get("targetGroupArn")
        kind = plane.ports.load_balancers.target_type(arn) if arn else None
        if kind is None:
            continue
        if (kind == "ip") != is_awsvpc(td) and kind in ("ip", "instance"):
            raise errors.invalid(TARGET_TYPE.format(arn=arn, kind=kind, mode=td.network_mode))


# -------------------------------------------------------------------- ENI limit
def eni_slots(plane: "EcsState", ci: "ContainerInstance") -> Optional[int]:
    """awsvpc tasks the instance can still take: its awsvpc task limit (max ENIs - 1, or the
    trunking table's) - task ENIs attached."""
    itype = ci.attributes.get("ecs.instance-type")
    if not itype:
        return None
    trunk = bool(ci.attributes.get(resources.TRUNK_ATTRIBUTE))
    limit = resources.awsvpc_task_limit(itype, trunk, plane.config)
    return limit - sum(1 for t in ci.tasks.values() if t.eni is not None)


# -------------------------------------------------------------------- the ENI
@dataclass
class TaskEni:
    """One task's elastic network interface."""

    attachment_id: str
    eni_id: str
    mac: str
    subnet_id: str
    private_ip: str
    private_dns: str

    def attachment(self, task_status: str) -> dict:
        status = "DELETED" if task_status == "STOPPED" else "ATTACHED"
        details = [("subnetId", self.subnet_id), ("networkInterfaceId", self.eni_id),
                   ("macAddress", self.mac), ("privateDnsName", self.private_dns),
                   ("privateIPv4Address", self.private_ip)]
        return {"id": self.attachment_id, "type": "ElasticNetworkInterface",
                "status": status, "details": [{"name": k, "value": v} for k, v in details]}

    def interface(self) -> dict:
        return {"attachmentId": self.attachment_id, "privateIpv4Address": self.private_ip}


def attach(plane: "EcsState", ci: "ContainerInstance") -> TaskEni:
    """A new ENI in the instance's subnet with the next free private IP."""
    subnet_id = ci.attributes.get("ecs.subnet-id") or ""
    ip = _free_ip(plane, subnet_id)
    hexid = plane.new_id()
    return TaskEni(attachment_id=plane.new_uuid(), eni_id=f"eni-{hexid[:17]}",
                   mac="0e:" + ":".join(hexid[i:i + 2] for i in range(17, 27, 2)),
                   subnet_id=subnet_id, private_ip=ip, private_dns=_dns_name(plane, ip))


def _dns_name(plane: "EcsState", ip: str) -> str:
    """EC2's private IP DNS name: ip-a-b-c-d.ec2.internal in us-east-1, else
    ip-a-b-c-d.<region>.compute.internal (VPC User Guide, "DNS attributes")."""
    host = "ip-" + ip.replace(".", "-")
    if plane.region == "us-east-1":
        return f"{host}.ec2.internal"
    return f"{host}.{plane.region}.compute.internal"


def _free_ip(plane: "EcsState", subnet_id: str) -> str:
    cidr = _subnet_cidr(plane, subnet_id)
    used = _used_ips(plane, subnet_id)
    hosts = list(cidr.hosts())[3:-1] if cidr.num_addresses >= 16 else []
    if plane.config.awsvpc_ip_order == "highest":
        hosts.reverse()
    for address in hosts:
        if str(address) not in used:
            return str(address)
    raise errors.EcsError("ServerException",
                          f"No free private IP address left in subnet {subnet_id}.")


def _subnet_cidr(plane: "EcsState", subnet_id: str) -> ipaddress.IPv4Network:
    block = plane.ports.ec2.subnet_cidr(subnet_id) if subnet_id else None
    return ipaddress.ip_network(block or "10.0.0.0/24", strict=False)


def _used_ips(plane: "EcsState", subnet_id: str) -> set[str]:
    used = {t.eni.private_ip for t in plane.tasks.values()
            if t.eni is not None and t.last_status != "STOPPED"
            and t.eni.subnet_id == subnet_id}
    return used | plane.ports.ec2.addresses_in(subnet_id)
