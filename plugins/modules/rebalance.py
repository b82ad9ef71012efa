#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rebalance
short_description: Move the fewest ECS tasks needed to spread services evenly again
version_added: 0.1.0
description:
  - ECS places a service's tasks when they start and never moves them. After an Auto Scaling
    group scales in and out again, new instances sit empty while old ones carry every task.
  - This module reads the cluster, plans the fewest task moves that give each spread service
    the layout a fresh placement would give (Availability Zone first, then instance), and
    executes them without taking any service below its minimum healthy count.
  - Services that use binpack or random placement, DAEMON services, services with a deployment
    in progress, a non-ECS deployment controller, fewer than two tasks, a placement expression
    the planner cannot evaluate, or the tag C(taskspread:rebalance=false) are left alone; the
    result says why for each.
  - Services with ECS's own Availability Zone rebalancing (C(availabilityZoneRebalancing=ENABLED),
    AWS's default for new eligible services since 2025-09-05) keep their AZ counts; ECS owns
    that level, this module balances instances inside each AZ, and waits while ECS rebalances.
    A service with a capacity provider strategy is balanced inside each provider's pool.
    FARGATE, FARGATE_SPOT and EXTERNAL services are skipped with the reason, and so are
    services on ECS Managed Instances (ECS spreads and consolidates them itself); no task on a
    Managed Instances host is moved. An awsvpc task needs a free task ENI on its destination
    and stays inside its service's subnets.
  - In check mode the module returns the plan and the first step's decision and changes
    nothing. With C(--diff) it shows the distribution before and after.
  - Moves are summarised per service by default (how many, from and to which Availability
    Zones and container instances), so the output stays small on big clusters; O(detail)
    adds the full list of moves for the services it names (C(true) for all).
author:
  - taskspread.ecs maintainers (@taskspread)
options:
  strategy:
    description:
      - How tasks are moved.
      - C(stop) stops surplus tasks, at most as many as minimumHealthyPercent leaves spare;
        the ECS scheduler starts replacements on the emptiest eligible instances.
      - C(surge) raises desiredCount within maximumPercent, waits until the new tasks are
        healthy as ECS counts them (RUNNING, HEALTHY when a container has a health check,
        healthy in every target group), protects the tasks that stay with ECS task scale-in
        protection, then lowers desiredCount back so ECS removes the surplus. Its state
        (delta, the counts, the tasks it protected) is kept in the service's lease (see
        O(lease_table)), written before desiredCount changes, never in the service's tags.
        desiredCount is read immediately before every write, and only a count this run or
        its lease predecessor wrote is ever lowered, so an autoscaler's or a person's change
        stands. A surge that cannot finish first protects the healthy tasks, so ECS scales
        in the new, not yet healthy ones. C(auto) starts no surge while a target of the
        service is unhealthy (C(targets_unhealthy)).
      - Tasks protected from scale-in by anyone else are never stopped, in any mode.
      - C(redeploy) forces a new deployment of each out-of-balance service (the reference
        architecture's approach; every task of the service restarts). It refuses services
        whose deployment strategy is BLUE_GREEN, LINEAR or CANARY
        (C(redeploy_native_strategy)), where it would start a green scale-up, traffic shift
        and bake.
      - C(auto) uses C(stop) when the service has a spare task, else C(surge).
    type: str
    choices: [auto, stop, surge, redeploy]
    default: auto
  max_moves:
    description:
      - Cluster-wide disruption budget per step. Defaults to 10% of the cluster's running
        tasks, at least 1.
      - The planner proposes every move; the budget is spent only on moves that can happen
        now, so a service that cannot move (no spare task, no surge room, protected tasks,
        a surge of another run in progress) costs nothing and the next service gets its turn.
      - It counts restarts, tasks that ran before the step and stop. A surge's size is bounded
        by the service's C(maximumPercent), not by this budget; the new tasks a surge starts
        and has ECS scale in again at once are reported apart (RV(surge_overhead)).
      - Between 1 and 1000000.
    type: int
  max_moves_per_az:
    description:
      - At most this many moves (restarts, as O(max_moves) counts them) out of one
        Availability Zone per step. No limit when omitted.
      - Between 1 and 1000000.
    type: int
  wait:
    description:
      - Wait for every step to settle, then plan again, until the cluster is balanced, nothing
        is left to do, or O(wait_timeout) passes. Without it, one step is made.
    type: bool
    default: true
  wait_timeout:
    description:
      - The run's one absolute deadline, in seconds from its start. Every wait ends by it,
        a surge's included; a surge is not started when it cannot finish before it.
      - Between 1 and 86400 (one day).
    type: int
    default: 900
  protection_minutes:
    description:
      - Longest expiry of the scale-in protection a surge puts on the tasks that stay (1 to
        2880). The expiry is also never later than the run's deadline, so protection of a
        killed run does not outlive it. Protection set by anyone else is never removed.
    type: int
    default: 10
  poll_interval:
    description:
      - Seconds between checks while waiting, between 1 and 300, and at most O(wait_timeout).
    type: int
    default: 5
  lease_table:
    description:
      - DynamoDB table of the per-service leases. Every step that acts on a service holds
        the service's lease, claimed with a conditional write (compare-and-swap) and checked
        (fencing number) before every write to desiredCount, task protection or StopTask;
        a service whose lease another run holds is left alone (C(lease_held)).
      - The C(taskspread.ecs.rebalancer) role creates the same default table for its
        function, so ad-hoc runs and the function exclude each other.
      - Without a usable table (missing and not creatable, or a permission missing) the run
        changes nothing and fails with a message naming the table and the permission.
    type: str
    default: taskspread-ecs-leases
  lease_table_create:
    description:
      - Create O(lease_table) when it does not exist (on-demand billing, TTL on
        C(expires_at)), if the credentials allow C(dynamodb:CreateTable). Never in check mode.
    type: bool
    default: true
  lease_seconds:
    description:
      - Lifetime of a lease (15 to 900 seconds), renewed by every fenced write and during
        waits; a killed run holds a service at most this long after its last renewal, however
        long O(wait_timeout) is. Measured on DynamoDB's clock (its C(Date) header), so
        runners whose clocks disagree do not take each other's live leases.
    type: int
    default: 60
  no_progress_minutes:
    description:
      - How long the no-progress breaker holds a service (1 to 1440 minutes). A step (stop,
        surge or redeploy) that did not reduce the moves its service needs is not repeated
        while its cause stands (the instances of the service's pool, its desired count, task
        definition and health percents, and O(max_skew)); it is tried again once one of those
        changes, or after this many minutes. The record is kept in the service's item of
        O(lease_table), so it outlives the tasks and the run.
      - The default, an hour, bounds a futile step to 24 a day while a cause the breaker
        cannot see (room another service frees) is retried within the hour.
    type: int
    default: 60
  api_read_rate:
    description:
      - ECS read requests per second this run may make (0.5 to 20), paced by a client-side
        token bucket with a burst of one second's worth.
      - ECS gives each account and Region one bucket of about 20 ListTasks and DescribeTasks
        requests per second, shared with every other caller (deploy pipelines, the console,
        other controllers). The default, 5, leaves three quarters of it to them.
      - RV(reads) reports the seconds of that bucket the run used and how long it waited.
    type: float
    default: 5.0
extends_documentation_fragment:
  - taskspread.ecs.cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Show what a rebalance would do
  taskspread.ecs.rebalance:
    cluster: demo
  check_mode: true
  register: plan

- name: Rebalance every spread service of the cluster
  taskspread.ecs.rebalance:
    cluster: demo
    wait_timeout: 600
  register: result

- name: Rebalance one service, never more than two tasks per step
  taskspread.ecs.rebalance:
    cluster: demo
    services: [sample-app]
    max_moves: 2
"""

RETURN = r"""
changed:
  description: Whether a task was moved or a service restored (in check mode, whether one would be).
  returned: always
  type: bool
plan:
  description:
    - The first plan, compact. C(moves_granted) counts the moves the first step makes (or, in
      check mode, would make), the evictor's grants, at most the step's budget;
      C(move_summary) summarises them per service like RV(move_summary); C(moves) lists them
      for the services O(detail) names only. C(moves_planned) counts every move the planner
      proposed, C(moves_needed) is the lower bound. C(services) gives per service its status,
      C(moves_needed), C(reason) and C(skip).
  returned: always
  type: dict
moves_made:
  description: How many tasks the run moved (restarted; they ran before the step and stopped).
  returned: always
  type: int
surge_overhead:
  description:
    - New tasks the run's surges started and had ECS scale in again in the same step, the
      price of steering ECS's placement (its spread still counts the tasks being replaced).
      Not restarts, not in RV(moves_made); at most each surge's size. In check mode, what the
      first step's surges would cost.
  returned: always
  type: int
  sample: 1
move_summary:
  description:
    - The moves executed, per service; check mode executes none (see the plan's
      C(move_summary)).
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: Service name.
      type: str
    moves:
      description: How many of its tasks moved.
      type: int
    from:
      description: Moves out of each Availability Zone (C(azs)) and container instance ID
        (C(instances)).
      type: dict
    to:
      description: Moves into each Availability Zone (C(azs)) and container instance ID
        (C(instances)).
      type: dict
  sample: [{"service": "web", "moves": 2, "from": {"azs": {"us-east-1a": 2},
            "instances": {"0f3c": 2}}, "to": {"azs": {"us-east-1b": 1, "us-east-1c": 1},
            "instances": {"9a1d": 1, "77be": 1}}}]
scope:
  description:
    - What the run read and decided about, and why. C(read) is C(services) when O(services)
      names some (only their tasks are read; every other service's tasks count as the
      capacity they use, from each instance's remaining resources) or C(cluster).
  returned: always
  type: dict
  sample: {"read": "services", "services": ["web"], "reason": "the request names these services"}
reads:
  description:
    - The run's ECS reads against O(api_read_rate). C(reads) counts them,
      C(shared_read_bucket_calls) the ListTasks and DescribeTasks among them,
      C(shared_read_bucket_seconds) the seconds of ECS's shared 20-per-second bucket those
      used, C(read_pacing_wait_seconds) the time the run waited on its own pacing.
  returned: always
  type: dict
moves:
  description: The moves executed, in order, for the services O(detail) names (empty by default).
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: Service name.
      type: str
    task_arn:
      description: The task that was stopped (or scaled in) to move.
      type: str
    source_instance:
      description: Container instance ARN it ran on.
      type: str
    source_az:
      description: Availability Zone it ran in.
      type: str
    destination_instance:
      description: Container instance ARN the replacement was planned for.
      type: str
    destination_az:
      description: Availability Zone the replacement was planned for.
      type: str
actions:
  description:
    - Per service and step, the mode used, the tasks stopped, and C(lease), the lease this run
      held for it (C(owner), C(fence), C(since), C(until), epoch seconds on DynamoDB's clock).
  returned: always
  type: list
  elements: dict
skipped:
  description: Services left alone, each with a reason code and message.
  returned: always
  type: list
  elements: dict
  sample: [{"service": "worker", "code": "unsupported_strategy", "message": "binpack placement"}]
healed:
  description:
    - Services whose desiredCount an interrupted earlier run had left raised, restored by this
      run; in check mode, the ones a run would restore first (and RV(changed) is then true).
  returned: always
  type: list
  elements: str
before:
  description: Per service, its distribution before the run (see task_distribution_info).
  returned: always
  type: dict
after:
  description:
    - Per service, its distribution after the run, read again after the last step (also with
      O(wait=false), without waiting for it to settle).
    - Empty in check mode, which moves nothing (RV(before) holds the distributions); the diff
      then shows the plan's predicted counts.
  returned: always
  type: dict
balanced:
  description:
    - Whether every service is balanced (or skipped) in RV(after).
    - A service the last step acted on and the run did not see settle (O(wait=false), or the
      deadline came first) counts only when it is balanced itself, not by being skipped while
      ECS replaces its tasks.
  returned: always
  type: bool
api_calls:
  description: ECS API calls the run made.
  returned: always
  type: int
api_retries:
  description:
    - Retries botocore made for those calls (throttling or transient errors it absorbed).
  returned: always
  type: int
timed_out:
  description: Whether wait_timeout ended the run before the cluster settled.
  returned: always
  type: bool
error:
  description: Why the run stopped early (empty when it did not); the moves before it are kept.
  returned: always
  type: str
run_id:
  description: This run's id, the owner written in every lease it took.
  returned: always
  type: str
decision:
  description:
    - The evictor's decision for the first step, the budget (C(max_moves), C(spent), in
      restarts), C(surge_overhead), per service the mode and number of moves granted (the
      moves themselves are in RV(plan); a surge's C(k), C(restarts) and C(surge_overhead)),
      and the services refused with their reason
      (C(surge_in_progress), C(lease_held) with the holder in C(lease), C(targets_unhealthy),
      C(no_progress), C(no_disruption_budget), C(protected), C(deferred), C(az_budget),
      C(deadline)).
  returned: always
  type: dict
message:
  description: A one-line summary.
  returned: always
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.taskspread.ecs.plugins.module_utils.options import (
    check_options, cluster_argument_spec, parse_detail,
)
from ansible_collections.taskspread.ecs.plugins.module_utils.engine import (
    EngineError, RebalanceRequest, client_config, rebalance,
)


NUMERIC = ("max_skew", "max_moves", "max_moves_per_az", "wait_timeout", "protection_minutes",
           "poll_interval", "no_progress_minutes")


def build_request(module):
    params = module.params
    check_options(module, NUMERIC)
    # The diff compares per-instance counts, so it asks for them.
    detail = parse_detail(module) or bool(module._diff)
    try:
        return RebalanceRequest(
            cluster=params["cluster"],
            services=None if params["services"] is None else tuple(params["services"]),
            strategy=params["strategy"], max_skew=params["max_skew"],
            max_moves=params["max_moves"], max_moves_per_az=params["max_moves_per_az"],
            wait=params["wait"],
            wait_timeout=params["wait_timeout"], check_mode=module.check_mode,
            protection_minutes=params["protection_minutes"],
            poll_interval=params["poll_interval"], api_read_rate=params["api_read_rate"],
            lease_table=params["lease_table"], lease_seconds=params["lease_seconds"],
            lease_table_create=params["lease_table_create"] and not module.check_mode,
            no_progress_minutes=params["no_progress_minutes"],
            detail=detail if isinstance(detail, bool) else tuple(detail))
    except ValueError as err:
        module.fail_json(msg=str(err))


def diff_of(output, check_mode):
    """Per service: task count per instance, the shape a human compares. In check mode the
    after side is the plan's prediction."""
    def shape(dists):
        return {name: dict(d.get("instances") or d.get("azs") or {})
                for name, d in dists.items()}

    after = shape(output["after"])
    if check_mode:
        after = shape(output["before"])
        for move in output["plan"]["moves"]:
            counts = after[move["service"]]
            counts[move["source_instance"]] = counts.get(move["source_instance"], 0) - 1
            counts[move["destination_instance"]] = counts.get(move["destination_instance"], 0) + 1
    return {"before": shape(output["before"]), "after": after}


def main():
    argument_spec = cluster_argument_spec()
    argument_spec.update(
        strategy=dict(type="str", default="auto", choices=["auto", "stop", "surge", "redeploy"]),
        max_moves=dict(type="int"),
        max_moves_per_az=dict(type="int"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        protection_minutes=dict(type="int", default=10),
        poll_interval=dict(type="int", default=5),
        lease_table=dict(type="str", default="taskspread-ecs-leases"),
        lease_table_create=dict(type="bool", default=True),
        lease_seconds=dict(type="int", default=60),
        no_progress_minutes=dict(type="int", default=60),
        api_read_rate=dict(type="float", default=5.0),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    request = build_request(module)
    ecs = module.client("ecs", config=client_config())
    elb = module.client("elbv2", config=client_config())
    aas = module.client("application-autoscaling", config=client_config())
    ddb = module.client("dynamodb", config=client_config())
    try:
        result = rebalance(ecs, request, elb_client=elb, aas_client=aas, ddb_client=ddb)
    except EngineError as err:
        module.fail_json(msg=str(err))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
        module.fail_json_aws(err, msg=f"Failed to rebalance ECS cluster {request.cluster}")
    output = result.to_dict()
    if module._diff:
        output["diff"] = diff_of(output, module.check_mode)
    if result.error and not result.timed_out:
        # An AWS error mid-run: fail, and keep the record of what was already done.
        module.fail_json(msg=f"Rebalancing stopped: {result.error}", **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
