"""List* paging as ECS does it: a stable order, and tokens that resume after the last item.

Shared by the API handlers (``api.py``) and the capacity provider handlers (``capacity.py``).

Layer: data; imports only ``errors``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Optional

from . import errors

Params = dict


def _max_results(p: Params, default: int) -> int:
    value = p.get("maxResults")
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.invalid("maxResults must be an integer.") from None


def _default_order(item: Any) -> list:
    """Stable order of a listed item: strings (ARNs, names) by themselves, anything else by
    its canonical JSON."""
    if isinstance(item, str):
        return [item]
    return [json.dumps(item, sort_keys=True, default=str)]


def _token(after: list) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _resume_after(p: Params) -> Optional[list]:
    """The order key of the last item the previous page returned, or None for page one."""
    if not p.get("nextToken"):
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(p["nextToken"]))["after"]
    except (ValueError, KeyError, TypeError):
        raise errors.invalid("Invalid nextToken.") from None
    if not isinstance(after, list) or not all(isinstance(v, (str, int)) for v in after):
        raise errors.invalid("Invalid nextToken.")
    return after


def paginate(items: list, p: Params, key: str, default: int = 100, maximum: int = 100,
             order: Callable[[Any], list] = _default_order, descending: bool = False) -> dict:
    """One page of ``items`` as ``{key: page, "nextToken": ...}``, as botocore paginators
    expect: nextToken present only when more results follow.

    Items come in a stable order (``order``: ARN order unless a list has a documented order,
    e.g. ListTaskDefinitions' family and revision) and the token names the last item returned,
    so the next page resumes right after it: an item that disappears between two calls
    shifts nothing, and an item present throughout is listed exactly once."""
    size = _max_results(p, default)
    if not 1 <= size <= maximum:
        raise errors.invalid(f"maxResults must be between 1 and {maximum}.")
    after = _resume_after(p)
    keyed = sorted(((order(i), i) for i in items), key=lambda ki: ki[0], reverse=descending)
    if after is not None:
        try:
            keyed = [(k, i) for k, i in keyed if (k < after if descending else k > after)]
        except TypeError:   # a token of another list, whose keys do not compare
            raise errors.invalid("Invalid nextToken.") from None
    page = keyed[:size]
    out: dict = {key: [i for _, i in page]}
    if len(keyed) > size:
        out["nextToken"] = _token(page[-1][0])
    return out
