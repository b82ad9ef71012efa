"""One clock: moto's services read the time from the sandbox's ``Runtime.now()``.

moto stamps what it creates (EC2 LaunchTime, Auto Scaling activities, ELBv2 CreatedTime,
CloudWatch Logs ingestion and its 14-day window, EventBridge ``time``, DynamoDB timestamps) with
``moto.core.utils.utcnow()``; the ``Date`` response header comes from the same clock through the
server's request handler (``server._clocked_handler``). Most service modules bind that function by name at
import (``from moto.core.utils import utcnow``), so patching ``moto.core.utils`` alone is not
enough: every loaded ``moto.*`` module whose ``utcnow`` is moto's function gets ours. The helpers
that call ``utcnow`` internally (``unix_time``, ``unix_time_millis``,
``iso_8601_datetime_with_milliseconds``...) look it up in ``moto.core.utils`` at call time, so they
follow. Application Auto Scaling reads ``time.time()`` directly; its module gets a ``time`` whose
``time()`` is the sandbox clock.

The services are imported before the scan (``SERVICE_MODULES``) so that a backend moto would
otherwise load lazily, after ``install``, is patched too. While no sandbox is installed the
patched functions return the wall clock, as moto's own do; uninstall restores the originals.
"""

from __future__ import annotations

import datetime
import importlib
import sys
import time
import types
from typing import Any

from moto.core import utils as moto_utils

from .host import active

_ORIGINAL_UTCNOW = moto_utils.utcnow

# Every moto service the sandbox serves or its patches touch; imported before the scan.
SERVICE_MODULES = (
    "moto.core.responses", "moto.ec2.models", "moto.autoscaling.models", "moto.elbv2.models",
    "moto.logs.models", "moto.awslambda.models", "moto.events.models", "moto.cloudwatch.models",
    "moto.applicationautoscaling.models", "moto.iam.models", "moto.ssm.models", "moto.sts.models",
    "moto.s3.models", "moto.sqs.models", "moto.dynamodb.models",
)


def sandbox_time() -> float:
    """Seconds since the Unix epoch on the active sandbox's clock (the wall clock without one)."""
    sandbox = active()
    return sandbox.runtime.now() if sandbox is not None else time.time()


def utcnow() -> datetime.datetime:
    """moto's ``utcnow`` (a naive UTC datetime), read from the sandbox clock."""
    if active() is None:
        return _ORIGINAL_UTCNOW()
    stamp = datetime.datetime.fromtimestamp(sandbox_time(), datetime.timezone.utc)
    return stamp.replace(tzinfo=None)


# A stand-in for the ``time`` module where moto calls ``time.time()`` itself.
CLOCK_TIME = types.SimpleNamespace(time=sandbox_time, monotonic=time.monotonic,
                                   sleep=time.sleep, mktime=time.mktime, gmtime=time.gmtime)


def _modules_using_utcnow() -> list[types.ModuleType]:
    for name in SERVICE_MODULES:
        importlib.import_module(name)
    return [module for name, module in sorted(sys.modules.items())
            if (name == "moto" or name.startswith("moto.")) and module is not None
            and getattr(module, "__dict__", {}).get("utcnow") is _ORIGINAL_UTCNOW]


def patches() -> list[tuple[Any, str, Any]]:
    from moto.applicationautoscaling import models as appscaling_models

    out: list[tuple[Any, str, Any]] = [(module, "utcnow", utcnow)
                                       for module in _modules_using_utcnow()]
    out.append((appscaling_models, "time", CLOCK_TIME))
    return out


def on_install(sandbox) -> None:
    """Nothing to prepare: the patched functions ask ``active()`` on every call."""


def on_uninstall(sandbox) -> None:
    """Nothing to release."""
