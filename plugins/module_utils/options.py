# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the cluster-reading modules share: their argument spec (documented once in
``plugins/doc_fragments/cluster.py``), the one parser of ``detail``, and the checks of
``services`` and of numeric ranges (the engine's own, so a module and the engine never
disagree), as ``fail_json`` messages that name the option."""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean

from ansible_collections.taskspread.ecs.plugins.module_utils._engine import bounds
from ansible_collections.taskspread.ecs.plugins.module_utils._engine.snapshot import (
    check_services,
)


def cluster_argument_spec() -> dict:
    return dict(
        cluster=dict(type="str", required=True),
        services=dict(type="list", elements="str"),
        max_skew=dict(type="int", default=1),
        detail=dict(type="raw", default=False),
    )


def parse_detail(module) -> bool | list:
    """``detail`` as the engine takes it: True, False or a list of service names/ARNs.
    Templated strings ("true", "no") are booleans; any other string is one service."""
    detail = module.params["detail"]
    if isinstance(detail, str):
        detail = boolean(detail, strict=False) if detail.lower() in BOOLEANS else [detail]
    if not isinstance(detail, (bool, list)) or \
            (isinstance(detail, list) and not all(isinstance(n, str) for n in detail)):
        module.fail_json(msg="detail must be true, false or a list of service names")
    return detail


def check_options(module, numeric=("max_skew",)) -> None:
    """Fail (naming the option and its range) on an empty ``services`` list or a numeric
    option outside its range (``bounds.BOUNDS``); options left unset are not checked."""
    try:
        check_services(module.params.get("services"))
        for name in numeric:
            if module.params.get(name) is not None:
                bounds.check(name, module.params[name])
    except ValueError as err:
        module.fail_json(msg=str(err))
