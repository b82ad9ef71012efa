"""The chaos suite: seeded, randomized invariant tests of the rebalancing engine on the sandbox.

``generator`` draws a cluster and an event sequence from one seed (pure), ``world`` builds it
through boto3, ``harness`` drives the engine through the sequence on the sandbox's manual
clock while ``observer`` watches the floor, and ``invariants`` says what must hold. A failing
seed prints one line to reproduce it: ``make chaos SEED=<n>``.
"""
