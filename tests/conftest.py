"""Shared fixtures: an in-process sandbox on a free loopback port with a manual clock.

Tests drive emulated time with ``sandbox.advance(seconds)``; nothing here sleeps on wall time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / ".collections"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# boto3 must never reach a real endpoint from a test that forgot its endpoint_url.
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def sandbox():
    from sandbox.server import Sandbox

    sb = Sandbox(speed=None, port=0, seed=1234).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def aws(sandbox):
    """``aws("ecs")`` -> a boto3 client bound to the sandbox."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="testing",
                                    aws_secret_access_key="testing", region_name="us-east-1")
    cfg = Config(retries={"mode": "standard", "max_attempts": 2})
    cache: dict[str, object] = {}

    def client(service: str):
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=sandbox.endpoint, config=cfg)
        return cache[service]

    return client


# Werkzeug logs every request at INFO; failures should show what the sandbox did instead.
import logging  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)
