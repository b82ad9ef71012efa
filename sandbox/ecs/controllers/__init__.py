"""The controllers: the level-triggered passes that read and write the store.

Layer: above the store (``sandbox/ecs/state``) and the shared task mechanics (``hosts``,
``lifecycle``, ``network``, ``launch``, ``provisioning``); below ``plane.py``, which calls them
in order, and ``api.py``. A controller never imports another controller: what two of them
share lives in a module below them.
"""
