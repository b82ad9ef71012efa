"""An application load balancer's listener on loopback: round robin over healthy targets."""

from __future__ import annotations

import http.client
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

# (target id, port) -> real loopback port, or None when nothing serves there
Resolve = Callable[[], list[int]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def forward(port: int | None, method: str, path: str, timeout: float = 5.0
            ) -> tuple[int, dict, bytes]:
    """One request to a task's loopback port: (status, headers, body); 503/502 on no target or
    a target that does not answer, as ALB does."""
    if port is None:
        return 503, {"Content-Type": "text/plain"}, b"503 Service Temporarily Unavailable\n"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        headers = {k: v for k, v in resp.getheaders()
                   if k.lower() in ("content-type", "x-sandbox-task")}
        return resp.status, headers, body
    except OSError:
        return 502, {"Content-Type": "text/plain"}, b"502 Bad Gateway\n"
    finally:
        conn.close()


class AlbProxy:
    """Listens for one load balancer; ``pick()`` chooses the next target's local port."""

    def __init__(self, dns_name: str, candidates: Resolve):
        self.dns_name = dns_name
        self._candidates = candidates
        self._counter = itertools.count()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _serve(self):
                status, headers, body = forward(outer.pick(), self.command, self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = _serve

            def log_message(self, *args):
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"alb-{dns_name[:20]}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def pick(self) -> int | None:
        ports = self._candidates()
        if not ports:
            return None
        return ports[next(self._counter) % len(ports)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
