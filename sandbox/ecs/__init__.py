"""Our ECS control plane (EC2 launch type): the ECS facts it follows are in docs/ecs-facts.md.

A store with controllers on top, in floors; a module imports only its own floor and those below
(``tests/sandbox/test_layers.py`` keeps it so), and nothing imports in a circle:

* data: ``models``, ``placement`` (the placement engine, pure), ``query``, ``errors``,
  ``paging``, ``resources``, ``ports`` (what the control plane needs from the rest of AWS);
* ``state/``: the store (``store.EcsState``: registries, look-ups, ids, events), the records
  the controllers keep there, and the EventBridge envelopes;
* task mechanics the controllers share: ``lifecycle`` (task states), ``network`` (awsvpc
  ENIs), ``hosts`` (the placement view of the instances), ``provisioning`` (capacity provider
  choice, PROVISIONING tasks), ``launch`` (placing a service's tasks, choosing which to stop);
* ``controllers/``: ``agent``, ``scheduler``, ``azrebalance``, ``capacity``; none imports
  another;
* ``plane``: the reconcile pass that runs the controllers in order;
* ``api``: the ECS API handlers.
"""
