"""DynamoDB tables describe themselves with a ``TableId``, as AWS's do.

AWS's TableDescription carries ``TableId`` (a UUID) beside ``TableArn``; moto 5 leaves it out, and
``community.aws.dynamodb_table`` (which the rebalancer role uses for its lease table) fails with
``KeyError: 'table_id'`` without it. ``Table.describe`` is wrapped to add a stable id per table
(a UUID derived from the table's ARN, so every description of one table agrees).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.dynamodb.models.table import Table

_ORIGINAL_DESCRIBE = Table.describe


def describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
    out = _ORIGINAL_DESCRIBE(self, base_key)
    body = out.get(base_key)
    if isinstance(body, dict):
        body.setdefault("TableId", str(uuid.uuid5(uuid.NAMESPACE_URL, self.table_arn)))
    return out


def patches() -> list[tuple[Any, str, Any]]:
    return [(Table, "describe", describe)]


def on_install(sandbox) -> None:
    """Nothing to prepare."""


def on_uninstall(sandbox) -> None:
    """Nothing to release."""
