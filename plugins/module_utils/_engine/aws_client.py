"""The AWS call plumbing every engine module shares: the botocore ``Config`` the clients are
built with (retries live there), ``CountingClient`` (counts requests and botocore's retries)
and ``chunks`` (batches for the APIs' per-call maximums).

Imports nothing from the engine; botocore only (requests go through the client, so botocore
validates every one of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

try:
    from botocore.config import Config
except ImportError:  # the modules report a missing botocore through AnsibleAWSModule
    Config = None


def client_config(retry_mode: str = "adaptive", max_attempts: int = 10,
                  user_agent_extra: str = "taskspread.ecs") -> Config:
    """The botocore Config the engine's ECS client should be built with (retries live here)."""
    if retry_mode not in ("adaptive", "standard", "legacy"):
        raise ValueError(f"retry_mode must be adaptive, standard or legacy, not {retry_mode!r}")
    return Config(retries={"mode": retry_mode, "max_attempts": max_attempts},
                  user_agent_extra=user_agent_extra)


class CountingClient:
    """Wraps an AWS client; counts every request (each page of a paginator counts one) and the
    retries botocore made for them (throttling, transient errors), from ResponseMetadata."""

    def __init__(self, client: Any):
        self.client = client
        self.calls = 0
        self.retries = 0

    def _count(self, response: dict) -> dict:
        self.calls += 1
        self.retries += int((response.get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
        return response

    def call(self, operation: str, **params: Any) -> dict:
        return self._count(getattr(self.client, operation)(**params))

    def pages(self, operation: str, **params: Any) -> Iterator[dict]:
        for page in self.client.get_paginator(operation).paginate(**params):
            yield self._count(page)


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """``items`` in consecutive batches of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
