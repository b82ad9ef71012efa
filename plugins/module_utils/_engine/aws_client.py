"""The AWS call plumbing every engine module shares: the botocore ``Config`` the clients are
built with (retries live there), ``CountingClient`` (counts requests and botocore's retries),
``ReadPacer`` (the client-side token bucket that paces a run's ECS reads) and ``chunks``
(batches for the APIs' per-call maximums).

Imports nothing from the engine; botocore only (requests go through the client, so botocore
validates every one of them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
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


# ECS's per-account, per-Region request buckets (docs/ecs-facts.md section 1.7,
# request-throttling.html): ListTasks and DescribeTasks share one that refills at about 20
# requests per second, shared with every other caller of the account (deploy pipelines, the
# console, other controllers).
SHARED_READ_BUCKET = ("list_tasks", "describe_tasks")
SHARED_READ_BUCKET_PER_S = 20.0
# The default of ``api_read_rate``: a quarter of that bucket, so three quarters stay for the
# account's other callers (README "Cost per trigger" says why); the bounds keep a typo from
# either stalling a run for hours or taking the whole bucket.
DEFAULT_READ_RATE = 5.0
MIN_READ_RATE = 0.5
MAX_READ_RATE = SHARED_READ_BUCKET_PER_S
READ_PREFIXES = ("describe_", "list_", "get_")


def is_read(operation: str) -> bool:
    """Whether ``operation`` (a botocore method name) only reads."""
    return operation.startswith(READ_PREFIXES)


def check_read_rate(rate: float) -> float:
    """``rate`` as a float, or ValueError naming the bounds."""
    rate = float(rate)
    if not MIN_READ_RATE <= rate <= MAX_READ_RATE:
        raise ValueError(f"api_read_rate must be between {MIN_READ_RATE:g} and "
                         f"{MAX_READ_RATE:g} requests per second, got {rate:g}")
    return rate


class ReadPacer:
    """A token bucket pacing one run's ECS reads at ``rate`` requests per second, with a burst
    of at most one second's worth (``rate`` tokens, at least 1): over any T seconds the run
    reads at most rate x (T + 1) times. ``take()`` sleeps through the injected ``sleep``
    until a token is there, so tests drive it with a manual clock.

    Written here rather than taken from a rate-limiting library because it must run on the
    engine's injected clock and sleep, and the engine ships inside the Lambda zip with the
    standard library and boto3 only (no third-party package to vendor); it is a dozen lines.
    ``shared_calls`` counts the reads that draw on ECS's shared ListTasks/DescribeTasks
    bucket; ``waited`` the seconds slept on this pacing."""

    def __init__(self, rate: float = DEFAULT_READ_RATE,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep):
        self.rate = check_read_rate(rate)
        self.capacity = max(1.0, self.rate)
        self.clock, self.sleep = clock, sleep
        self.tokens = self.capacity
        self.stamp = clock()
        self.reads = 0
        self.shared_calls = 0
        self.waited = 0.0

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, operation: str) -> float:
        """Wait for one token for ``operation``; returns the seconds waited."""
        self._refill()
        waited = 0.0
        while self.tokens < 1.0:
            pause = (1.0 - self.tokens) / self.rate
            self.sleep(pause)
            waited += pause
            before = self.tokens
            self._refill()
            if self.tokens <= before:
                # A clock that did not move (a test's manual clock not driven by ``sleep``):
                # count the pause as elapsed rather than spin.
                self.tokens = min(self.capacity, before + pause * self.rate)
        self.tokens -= 1.0
        self.reads += 1
        self.shared_calls += operation in SHARED_READ_BUCKET
        self.waited += waited
        return waited

    def seconds_for(self, reads: int) -> float:
        """How long ``reads`` more reads take from now at this pacing (the tokens in the
        bucket go first)."""
        self._refill()
        return max(0.0, (reads - self.tokens) / self.rate)

    def give_back(self, operation: str) -> None:
        """Return the token of a page that was not requested (a paginator's end: a page does
        not say whether another follows, so that token's wait is spent, not its request)."""
        self.tokens = min(self.capacity, self.tokens + 1.0)
        self.reads -= 1
        self.shared_calls -= operation in SHARED_READ_BUCKET

    def shared_bucket_seconds(self) -> float:
        """Seconds of ECS's shared ListTasks/DescribeTasks bucket the run's reads used."""
        return self.shared_calls / SHARED_READ_BUCKET_PER_S

    def to_dict(self) -> dict:
        return {"api_read_rate": self.rate, "reads": self.reads,
                "shared_read_bucket_calls": self.shared_calls,
                "shared_read_bucket_seconds": round(self.shared_bucket_seconds(), 2),
                "read_pacing_wait_seconds": round(self.waited, 2)}


class CountingClient:
    """Wraps an AWS client; counts every request (each page of a paginator counts one) and the
    retries botocore made for them (throttling, transient errors), from ResponseMetadata.
    With a ``pacer``, every read request (Describe*, List*, Get*) waits for its token first."""

    def __init__(self, client: Any, pacer: ReadPacer | None = None):
        self.client = client
        self.pacer = pacer
        self.calls = 0
        self.retries = 0

    def _count(self, response: dict) -> dict:
        self.calls += 1
        self.retries += int((response.get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
        return response

    def _pace(self, operation: str) -> bool:
        if self.pacer is not None and is_read(operation):
            self.pacer.take(operation)
            return True
        return False

    def call(self, operation: str, **params: Any) -> dict:
        self._pace(operation)
        return self._count(getattr(self.client, operation)(**params))

    def pages(self, operation: str, **params: Any) -> Iterator[dict]:
        pages = iter(self.client.get_paginator(operation).paginate(**params))
        while True:
            paced = self._pace(operation)
            try:
                page = next(pages)
            except StopIteration:
                if paced:
                    self.pacer.give_back(operation)
                return
            yield self._count(page)


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """``items`` in consecutive batches of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
