"""Fault injection (seeded): throttling on chosen APIs, for the engine's fault tests.

``Faults.configure(throttle_rate=0.3, throttle_apis=["ecs:DescribeServices"], seed=7)`` makes
that fraction of matching requests fail as AWS throttles them, before they reach a backend:

* JSON protocols (ECS, Logs, Lambda...): HTTP 400 ``{"__type": "ThrottlingException",
  "message": "Rate exceeded"}``;
* query protocols (ELBv2, Auto Scaling, EC2, IAM): HTTP 400 XML ``<Code>Throttling</Code>``.

botocore classifies both as throttling and retries them (standard and adaptive modes), so a
client with retries absorbs them; ``injected`` counts what was thrown. APIs are named
``service:Action`` (``ecs:DescribeServices``, ``elasticloadbalancing:DescribeTargetHealth``) or
``service:*``; an empty list means every API of every service. ``throttle_access_key``
limits throttling to requests signed with that access key id (so a test can throttle the
engine's client and not its own observers). Set over HTTP with
``POST /_sandbox/faults`` and the same fields as JSON. The other faults of issue 6 (an instance
terminated mid-rebalance, a killed invocation, two rebalancers at once) need no sandbox
support: tests cause them through the normal APIs and the engine's own hooks.
"""

from __future__ import annotations

import random
import threading
from urllib.parse import parse_qs

# Signing names that differ from the X-Amz-Target / credential scope's service prefix.
_TARGET_SERVICES = {"AmazonEC2ContainerServiceV20141113": "ecs", "Logs_20140328": "logs",
                    "AWSEvents": "events", "AmazonSSM": "ssm"}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure()

    def configure(self, throttle_rate: float = 0.0, throttle_apis: list[str] | None = None,
                  seed: int = 0, throttle_access_key: str = "") -> dict:
        if not 0.0 <= float(throttle_rate) <= 1.0:
            raise ValueError(f"throttle_rate must be between 0 and 1, got {throttle_rate}")
        with self._lock:
            self.throttle_rate = float(throttle_rate)
            self.throttle_apis = frozenset(throttle_apis or ())
            self.throttle_access_key = throttle_access_key
            self._rng = random.Random(seed)
            self.injected: dict[str, int] = {}
        return self.describe()

    def describe(self) -> dict:
        return {"throttle_rate": self.throttle_rate, "throttle_apis": sorted(self.throttle_apis),
                "throttle_access_key": self.throttle_access_key, "injected": dict(self.injected)}

    def _matches(self, api: str) -> bool:
        if not self.throttle_apis:
            return True
        return api in self.throttle_apis or f"{api.split(':', 1)[0]}:*" in self.throttle_apis

    def throttle(self, api: str, access_key: str = "") -> bool:
        """Whether this request of ``api`` (``service:Action``) is throttled."""
        if self.throttle_rate <= 0.0 or not self._matches(api):
            return False
        if self.throttle_access_key and access_key != self.throttle_access_key:
            return False
        with self._lock:
            hit = self._rng.random() < self.throttle_rate
            if hit:
                self.injected[api] = self.injected.get(api, 0) + 1
        return hit


def access_key(environ: dict) -> str:
    """The access key id a SigV4 request was signed with."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in authorization:
        return ""
    return authorization.split("Credential=", 1)[1].split("/", 1)[0]


def request_api(environ: dict, body: bytes) -> tuple[str, bool]:
    """(``service:Action``, is_json) of a request, from X-Amz-Target or the query body."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target and "." in target:
        prefix, action = target.split(".", 1)
        return f"{_TARGET_SERVICES.get(prefix, prefix.lower())}:{action}", True
    service = _scope_service(environ.get("HTTP_AUTHORIZATION", ""))
    action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [""])[0]
    if not action:
        action = (parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [""])[0]
    return f"{service}:{action or environ.get('PATH_INFO', '')}", False


def _scope_service(authorization: str) -> str:
    """The service of a SigV4 credential scope: Credential=AKID/date/region/SERVICE/aws4_request."""
    marker = "Credential="
    if marker not in authorization:
        return "unknown"
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else "unknown"


def throttled_response(start_response, is_json: bool) -> list[bytes]:
    if is_json:
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
        content_type = "application/x-amz-json-1.1"
    else:
        body = (b'<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>'
                b'<Message>Rate exceeded</Message></Error><RequestId>sandbox</RequestId>'
                b'</ErrorResponse>')
        content_type = "text/xml"
    start_response("400 Bad Request", [("Content-Type", content_type),
                                       ("Content-Length", str(len(body)))])
    return [body]
