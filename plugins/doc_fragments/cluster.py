# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The options every taskspread.ecs module that reads a cluster shares (one place; the
    argument spec is ``module_utils/options.py``). AWS connection options come from
    amazon.aws's fragments."""

    DOCUMENTATION = r"""
options:
  cluster:
    description: Name or ARN of the ECS cluster.
    type: str
    required: true
  services:
    description:
      - Services to act on, by name or ARN (as ECS accepts them). All services of the cluster
        when omitted.
      - An empty list is an error in every module; it means neither all services nor none.
        Omit the option to mean every service.
      - Naming a service that does not exist is an error.
    type: list
    elements: str
  max_skew:
    description:
      - Tolerance. A service is balanced when, at every placement level (AZ, then instance
        inside each AZ, for the default strategy), the largest minus the smallest task count
        over the level's eligible domains is at most this.
      - Out of balance, the fewest moves that bring every level within it are planned (8/0
        with C(2) gives 5/3 in 3 moves), not perfect balance.
      - Between 1 and 1000000.
    type: int
    default: 1
  detail:
    description:
      - Which services get per-instance counts and targets (C(instances), C(targets),
        C(ineligible), C(complete)) besides their summary, and whether the cluster's instance
        list is returned; for C(taskspread.ecs.rebalance), also which services' moves are
        listed in full (every move is summarised per service either way).
      - C(false) (the default) keeps the output independent of the number of instances;
        C(true) for all services, or a list of service names or ARNs.
    type: raw
    default: false
"""
