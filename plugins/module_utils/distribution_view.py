# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""How a ``task_distribution_info`` result reads to a person, in one place: the
``distribution_table`` filter's lines and the words and layout facts the
``distribution_image`` module draws (instance labels, level names, a service's state)."""

from __future__ import annotations

AZ_LEVEL = "attribute:ecs.availability-zone"
INSTANCE_LEVEL = "instanceId"


class ViewError(ValueError):
    """The input is not a task_distribution_info result (or lacks what the view needs)."""


def check_info(info, need_detail: bool = False) -> None:
    if not isinstance(info, dict) or not isinstance(info.get("services"), dict):
        raise ViewError("expected the registered result of taskspread.ecs.task_distribution_info "
                        "(a dict with 'services')")
    if need_detail and not isinstance(info.get("instances"), list):
        raise ViewError("the result of taskspread.ecs.task_distribution_info has no 'instances': "
                        "call it with detail: true (the picture needs the per-instance counts)")


def instance_label(instance: dict) -> str:
    """The EC2 instance id, or the container instance id when there is none."""
    return instance.get("ec2_instance_id") or str(instance.get("arn", "?")).rsplit("/", 1)[-1]


def sorted_instances(info: dict) -> list[dict]:
    return sorted(info.get("instances") or [], key=lambda i: (i.get("az") or "", i.get("arn") or ""))


def level_name(level: str) -> str:
    """``attribute:ecs.availability-zone`` -> ``AZ``, ``instanceId`` -> ``instance``, other
    attributes without their prefix."""
    if level == AZ_LEVEL:
        return "AZ"
    if level == INSTANCE_LEVEL:
        return "instance"
    return level.split(":", 1)[-1]


def skew_text(service: dict) -> str:
    """``AZ 0, instance 1`` (a level left to ECS's own rebalancing is marked), or ``n/a``."""
    delegated = set(service.get("delegated") or [])
    parts = [f"{level_name(level)} {value}{' (left to ECS)' if level in delegated else ''}"
             for level, value in (service.get("skew") or {}).items()]
    return ", ".join(parts) or "n/a"


def state(service: dict) -> tuple[str, str]:
    """(kind, words): kind is ``balanced``, ``skipped`` or ``unbalanced``."""
    if service.get("balanced"):
        return "balanced", "balanced"
    skip = service.get("skip")
    if skip:
        if isinstance(skip, dict):
            skip = skip.get("message") or skip.get("code")
        return "skipped", f"skipped: {skip}"
    return "unbalanced", "OUT OF BALANCE"


def tasks_on(service: dict, arn: str) -> int:
    """The service's tasks on one container instance, eligible for it or not."""
    return int((service.get("instances") or {}).get(arn, 0)) + \
        int((service.get("ineligible") or {}).get(arn, 0))


def table_lines(info: dict, title: str = "") -> list[str]:
    """One line per container instance and service (AZ, instance, count and a bar), then the
    service's skew and state."""
    check_info(info)
    instances = sorted_instances(info)
    lines = [title] if title else []
    for name, service in sorted(info["services"].items()):
        lines.append(f"service {name}:")
        for instance in instances:
            count = tasks_on(service, instance.get("arn"))
            status = instance.get("status")
            lines.append(f"  {instance.get('az') or '?':<12} {instance_label(instance):<21} {count:>3}  "
                         f"{'#' * count}{'' if status == 'ACTIVE' else '  (' + str(status) + ')'}")
        skew = ", ".join(f"{level}={value}" for level, value in (service.get("skew") or {}).items())
        lines.append(f"  skew {skew or 'n/a'}; {state(service)[1]}")
    return lines
