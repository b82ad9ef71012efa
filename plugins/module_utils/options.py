# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the cluster-reading modules share: their argument spec (documented once in
``plugins/doc_fragments/cluster.py``) and the one parser of ``detail``."""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean


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


def check_max_skew(module) -> None:
    if module.params["max_skew"] < 1:
        module.fail_json(msg=f"max_skew must be at least 1, got {module.params['max_skew']}")
