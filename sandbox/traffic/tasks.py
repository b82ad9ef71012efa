"""One task, one loopback HTTP server answering the sample app's page."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<html><head><title>Amazon ECS Sample App</title></head><body>
<h1>Amazon ECS Sample App</h1><h2>Congratulations!</h2>
<p>Your application is now running on a container in Amazon ECS.</p>
<p>task <code>{task}</code> on instance <code>{instance}</code> in <code>{az}</code></p>
</body></html>
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class TaskServer:
    def __init__(self, task_id: str, instance_id: str, az: str):
        body = PAGE.format(task=html.escape(task_id), instance=html.escape(instance_id),
                           az=html.escape(az or "?")).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Sandbox-Task", task_id)
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.task_id = task_id
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"task-{task_id[:8]}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        """Stop accepting connections (requests in flight finish on their own threads)."""
        self.httpd.shutdown()
        self.httpd.server_close()
