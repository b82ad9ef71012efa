"""The store: registries, look-ups, ids and events of the sandbox's ECS.

Layer: the bottom of the control plane above the plain data modules (``models``, ``errors``,
``ports``, ``placement``'s value types). It imports nothing that acts on the state: the
controllers and the plane sit above it and change it.
"""
