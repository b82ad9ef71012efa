"""The sandbox's data plane: tasks that answer HTTP and load balancers that route to them.

* ``tasks.TaskServer``: every RUNNING (or DEACTIVATING, while its target drains) task of a
  task definition with a port mapping serves the sample app's page on a real loopback port,
  showing its task id, EC2 instance and AZ. The ECS host port (32768+ for dynamic mappings)
  is an emulated number; ``DataPlane.local_port(instance_id, host_port)`` maps it to the real
  port. An awsvpc task is reached as (its ENI's private IP, container port), as in an ``ip``
  target group; that pair maps to its real port the same way. A task that stops stops serving.
* ``alb.AlbProxy``: every application load balancer with an HTTP listener whose default action
  forwards to a target group listens on a loopback port and forwards, round robin, to the
  group's ``healthy`` targets (the health DescribeTargetHealth reports: sandbox/aws/elbv2.py,
  which follows the tasks). With no healthy target it fails open to the registered targets
  that are not draining, as ALB does; with none at all it answers 503. Draining targets get no
  new requests; requests in flight finish. Requests to the main sandbox port whose Host header
  is a load balancer's DNS name are routed the same way.

* ``probe.BackgroundProbe``: the availability probe (plugins/module_utils/probe.py) on a thread;
  ``python -m sandbox probe URL --interval 0.05 [--duration N]`` prints its report as JSON.

``DataPlane.sync`` is a reconcile listener (level-triggered, cheap when nothing changed).
``GET /_sandbox/dataplane`` lists the load balancers' and tasks' local URLs.
"""

from __future__ import annotations

from .plane import DataPlane

__all__ = ["DataPlane"]
