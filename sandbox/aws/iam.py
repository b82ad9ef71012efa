"""IAM with AWS's managed policies loaded (toolchain-notes §2: amazon.aws.iam_role with
``managed_policies`` needs ``arn:aws:iam::aws:policy/...`` to exist).

moto loads them when ``default_user_config["iam"]["load_aws_managed_policies"]`` (or
MOTO_IAM_LOAD_MANAGED_POLICIES) is set, but then every IAM backend of every partition parses
the whole 1,500-policy JSON again: about 1.2 s on the first request after each reset, i.e.
per sandbox. Instead ``IAMBackend._init_aws_policies`` is patched to build the policies of the
``aws`` partition from a JSON document parsed once per process (about 0.1 s); other
partitions get none (the sandbox is a single ``aws``-partition region). A backend that already
exists without them (created before install) is filled in by ``on_install``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend, iam_backends

AWS_PARTITION = "aws"


@functools.lru_cache(maxsize=1)
def _policy_data() -> dict[str, Any]:
    return json.loads(aws_managed_policies_data)


def _init_aws_policies(self: IAMBackend) -> list:
    if self.region_name != AWS_PARTITION:
        return []
    return [AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in _policy_data().items()]


def patches() -> list[tuple[Any, str, Any]]:
    return [(IAMBackend, "_init_aws_policies", _init_aws_policies)]


def on_install(sandbox) -> None:
    backend = iam_backends[sandbox.config.account_id][AWS_PARTITION]
    if backend.aws_managed_policies:
        return
    backend.aws_managed_policies = _init_aws_policies(backend)
    backend.managed_policies.update({p.arn: p for p in backend.aws_managed_policies})


def on_uninstall(sandbox) -> None:
    """The loaded policies go away with the next moto reset."""
