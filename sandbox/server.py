"""One loopback endpoint that answers AWS: moto for the plain services, our ECS control plane.

The top of the sandbox's layers (bottom to top: ``runtime``/``config``/``faults``; ``ecs/``;
``aws/``; ``traffic/``; this module; ``cli``/``demo``/``process``/``scenario`` outside it).
Nothing below imports this module: ``Sandbox`` builds the parts and hands each what it needs.
``Sandbox`` wires the pieces together:

* ``Runtime``: emulated clock, the world lock, timers (``sandbox/runtime.py``);
* ``EcsControlPlane``: our ECS (``sandbox/ecs/``), which replaces moto's ECS entirely. It
  emulates one region (``SandboxConfig.region``, us-east-1): an ECS request signed for another
  region is refused with ``ClientException`` naming both, rather than answered from the one
  region's state with its ARNs (moto's other services keep their per-region state);
* moto's WSGI application for every other service, with the patches in ``sandbox/aws/``
  (ELBv2 targets keyed by (id, port) with deregistration delay, Auto Scaling AZ balance,
  EventBridge delivery to Lambda, Lambda handlers run in a subprocess);
* a small control API under ``/_sandbox/`` (clock, status, faults) for scripts and tests;
* ``Faults`` (``sandbox/faults.py``): seeded throttling of chosen APIs;
* ``DataPlane`` (``sandbox/traffic/``, when ``config.data_plane``): tasks serving HTTP and load
  balancers routing to them, on loopback.

Requests are served by a threaded Werkzeug server. Every request that can change emulated state
runs under the world lock and is followed by a reconcile pass; Lambda ``Invoke`` is the one
exception, because the handler it runs calls back into this server.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import traceback
from typing import Any, Callable, Iterable
from xml.sax.saxutils import escape as xml_escape

from werkzeug.serving import BaseWSGIServer, make_server

from .config import SandboxConfig
from .faults import Faults, access_key, request_api, throttled_response
from .runtime import Runtime

LOG = logging.getLogger("sandbox")

ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
JSON_11 = "application/x-amz-json-1.1"


def _json_response(start_response: Callable, status: int, body: Any,
                   content_type: str = "application/json") -> Iterable[bytes]:
    payload = json.dumps(body, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    start_response(f"{status} {reason.get(status, 'Status')}",
                   [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]


def _signed_region(environ: dict) -> str | None:
    """The region of a SigV4 request's credential scope (Credential=AKID/date/REGION/...)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[2] if len(scope) > 2 else None


def _query_protocol(environ: dict) -> bool:
    """Whether a request speaks AWS's query protocol (Auto Scaling, ELBv2, EC2, IAM...), whose
    clients parse errors as XML; JSON and REST-JSON requests carry JSON."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return False
    content_type = environ.get("CONTENT_TYPE", "")
    return ("x-www-form-urlencoded" in content_type
            or "Action=" in environ.get("QUERY_STRING", ""))


def _internal_error(environ: dict, start_response: Callable, exc: Exception) -> Iterable[bytes]:
    """HTTP 500 ``InternalFailure`` in the request's own protocol, so the client reports the
    error (an SDK given JSON on an XML API reports "invalid XML" instead)."""
    if not _query_protocol(environ):
        return _json_response(start_response, 500,
                              {"__type": "InternalFailure", "message": str(exc)})
    message = xml_escape(str(exc))
    payload = ("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
               f"<Message>{message}</Message></Error><RequestId>sandbox</RequestId>"
               "</ErrorResponse>").encode()
    start_response("500 Internal Server Error",
                   [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
    return [payload]


class Sandbox:
    """The whole local AWS. ``start()`` serves it on ``host:port``; ``stop()`` ends it."""

    def __init__(self, config: SandboxConfig | None = None, speed: float | None = None,
                 seed: int = 0, host: str = "127.0.0.1", port: int = 4566,
                 reset_moto: bool = True):
        # Imported here so that `import sandbox` stays cheap and moto is patched before use.
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.config = config or SandboxConfig()
        self.host, self.port = host, port
        self._speed, self._seed = speed, seed
        self.faults = Faults()
        self.moto_app = _moto_app(DomainDispatcherApplication, create_backend_app)
        self._build(reset_moto)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _build(self, reset_moto: bool) -> None:
        """Everything that holds emulated state: the runtime, moto's backends, our ECS, the
        data plane; then the patches, pointed at this sandbox."""
        from . import aws
        from .ecs.plane import EcsControlPlane

        self.runtime = Runtime(speed=self._speed, seed=self._seed)
        if reset_moto:
            reset_moto_backends()
        load_balancers = aws.MotoLoadBalancers(aws.Env(self.config, self.runtime))
        self.ecs = EcsControlPlane(self.config, self.runtime,
                                   aws.ecs_ports(self.config, self.runtime, load_balancers),
                                   endpoint=lambda: self.endpoint)
        self.traffic = None
        if self.config.data_plane:
            from .traffic import DataPlane

            self.traffic = DataPlane(self.runtime, self.ecs, load_balancers)
        aws.install(self)
        self.runtime.on_tick(self.ecs.reconcile)

    def reset(self) -> None:
        """Forget every emulated resource, as a fresh ``Sandbox`` on the same endpoint would
        start: a new clock (same speed and seed), empty moto backends, an empty ECS, the
        faults switched off. ``POST /moto-api/reset`` (what moto's own clients and test suite
        call between tests) and ``POST /_sandbox/reset`` land here; resetting moto alone
        would leave ECS's clusters and tasks behind."""
        from . import aws

        serving = self._server is not None
        self.runtime.stop_ticker()      # the ticker takes the lock: stop it before taking it
        if self.traffic:
            self.traffic.stop()
        with self.runtime.lock:
            aws.uninstall(self)
            self.faults = Faults()
            self._build(reset_moto=True)
        if serving:
            if self.traffic:
                self.traffic.start()
            self.runtime.start_ticker()

    # ------------------------------------------------------------- lifecycle
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "Sandbox":
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        self._server = make_server(self.host, self.port, self.wsgi, threaded=True,
                                   request_handler=_clocked_handler(MotoRequestHandler,
                                                                    self.runtime))
        self.port = self._server.server_address[1]  # port 0 picks a free one
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="sandbox-http", daemon=True)
        self._thread.start()
        if self.traffic:
            self.traffic.start()
        self.runtime.start_ticker()
        LOG.info("sandbox listening on %s (speed=%s)", self.endpoint,
                 self.runtime.speed or "manual")
        return self

    def restart_server(self, port: int = 0) -> "Sandbox":
        """Serve this sandbox again on a new listening socket (``port`` 0: any free one).
        For a forked copy of a running sandbox: the child process has the parent's whole
        state but not its server thread (tests/simulation plays each schedule on such a
        copy). The inherited listening socket is closed in this process only."""
        if self._server is not None:
            self._server.socket.close()
        self._server = self._thread = None
        self.port = port
        return self.start()

    def stop(self) -> None:
        from . import aws

        self.runtime.stop_ticker()
        if self.traffic:
            self.traffic.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=10)
        aws.uninstall(self)
        self._server = self._thread = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ time hooks
    def now(self) -> float:
        return self.runtime.now()

    def advance(self, seconds: float) -> float:
        return self.runtime.advance(seconds)

    def tick(self) -> None:
        self.runtime.tick()

    # ------------------------------------------------------------------ WSGI
    def wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            if path.startswith("/_sandbox/"):
                return self._control(environ, start_response, path)
            if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                self.reset()
                return _json_response(start_response, 200, {"status": "ok"})
            if self.faults.throttle_rate > 0:
                hit, is_json = self._throttled(environ)
                if hit:
                    return throttled_response(start_response, is_json)
            if self.traffic and not environ.get("HTTP_AUTHORIZATION"):
                routed = self.traffic.route_host(environ.get("HTTP_HOST", ""),
                                                 environ.get("REQUEST_METHOD", "GET"),
                                                 environ.get("PATH_INFO", "/") or "/")
                if routed is not None:      # a request for a load balancer's DNS name
                    status, headers, body = routed
                    start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                                   list(headers.items()) + [("Content-Length", str(len(body)))])
                    return [body]
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target.startswith(ECS_TARGET_PREFIX):
                return self._ecs(environ, start_response, target[len(ECS_TARGET_PREFIX):])
            if "/functions/" in path and path.endswith("/invocations"):
                # Lambda Invoke runs a handler that calls back into this server: no lock.
                return self.moto_app(environ, start_response)
            with self.runtime.lock:
                body = list(self.moto_app(environ, start_response))
                self.runtime.tick()
            return body
        except Exception as exc:  # one bad request must never stop the sandbox
            LOG.error("request %s failed:\n%s", path, traceback.format_exc())
            return _internal_error(environ, start_response, exc)

    def _read_body(self, environ: dict) -> bytes:
        if "sandbox.body" in environ:
            return environ["sandbox.body"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(length) if length else b""

    def _throttled(self, environ: dict) -> tuple[bool, bool]:
        """Peek at the request (keeping its body readable downstream) and ask ``faults``:
        (throttled, JSON protocol)."""
        import io

        body = self._read_body(environ)
        environ["sandbox.body"] = body
        environ["wsgi.input"] = io.BytesIO(body)
        api, is_json = request_api(environ, body)
        return self.faults.throttle(api, access_key(environ)), is_json

    def _ecs(self, environ: dict, start_response: Callable, action: str) -> Iterable[bytes]:
        from .ecs.api import dispatch
        from .ecs.errors import EcsError

        region = _signed_region(environ)
        if region and region != self.config.region:
            return _json_response(start_response, 400, {
                "__type": "ClientException",
                "message": f"The sandbox emulates ECS in {self.config.region} only; this request "
                           f"is for {region}. Use region {self.config.region} for ECS (and for "
                           "the EC2 instances that should register with it)."}, JSON_11)
        raw = self._read_body(environ)
        try:
            params = json.loads(raw or b"{}")
        except ValueError:
            return _json_response(start_response, 400, {
                "__type": "SerializationException", "message": "Malformed JSON body"}, JSON_11)
        with self.runtime.lock:
            try:
                result = dispatch(self.ecs, action, params)
            except EcsError as err:
                return _json_response(start_response, err.status, err.body(), JSON_11)
            self.runtime.tick()
        return _json_response(start_response, 200, result, JSON_11)

    def _control(self, environ: dict, start_response: Callable, path: str) -> Iterable[bytes]:
        raw = self._read_body(environ)
        params = json.loads(raw) if raw else {}
        if path == "/_sandbox/status":
            return _json_response(start_response, 200, self.status())
        if path == "/_sandbox/advance":
            if not self.runtime.manual:
                return _json_response(start_response, 400, {
                    "message": "advance needs the manual clock; this sandbox runs at "
                               f"speed {self.runtime.speed}"})
            now = self.advance(float(params.get("seconds", 0)))
            return _json_response(start_response, 200, {"now": now})
        if path == "/_sandbox/dataplane":
            if not self.traffic:
                return _json_response(start_response, 404, {
                    "message": "the data plane is off (serve without --no-data-plane)"})
            return _json_response(start_response, 200, self.traffic.describe())
        if path == "/_sandbox/faults":
            if params:
                try:
                    return _json_response(start_response, 200, self.faults.configure(**params))
                except (TypeError, ValueError) as err:
                    return _json_response(start_response, 400, {"message": str(err)})
            return _json_response(start_response, 200, self.faults.describe())
        if path == "/_sandbox/reset":
            self.reset()
            return _json_response(start_response, 200, {"now": self.now()})
        if path == "/_sandbox/tick":
            self.tick()
            return _json_response(start_response, 200, {"now": self.now()})
        return _json_response(start_response, 404, {"message": f"unknown control path {path}"})

    def status(self) -> dict:
        out = {"now": self.now(), "speed": self.runtime.speed, "manual": self.runtime.manual,
               "endpoint": self.endpoint, "ecs": self.ecs.summary()}
        if self.traffic:
            out["load_balancers"] = self.traffic.describe()["load_balancers"]
        return out


def _clocked_handler(base: type, runtime: Runtime) -> type:
    """The request handler whose ``Date`` response header comes from the emulated clock.

    AWS sets ``Date`` on every response from its own clock; a client may measure time on it
    (the engine's lease expiry does: ``plugins/module_utils/_engine/lease.py``), so the
    sandbox's ``Date`` must follow ``Runtime.now()``, not the wall clock. http.server writes
    the header in ``send_response`` from ``date_time_string()``, which this overrides."""

    class ClockedRequestHandler(base):
        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(runtime.now() if timestamp is None else timestamp,
                                          usegmt=True)

    return ClockedRequestHandler


_MOTO_APPS: list = []


def _moto_app(dispatcher, factory):
    """moto's dispatcher builds a Flask app per service on first use; its state lives in the
    process-global backends, so one dispatcher serves every sandbox of the process."""
    if not _MOTO_APPS:
        _MOTO_APPS.append(dispatcher(factory))
    return _MOTO_APPS[0]


def reset_moto_backends() -> None:
    """Forget everything moto holds (moto's backends are process-global)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
