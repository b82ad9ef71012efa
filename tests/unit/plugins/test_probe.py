"""The availability probe counts what a real local HTTP server answers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.taskspread.ecs.plugins.module_utils.probe import Probe


class Server:
    """Answers 200 with the Host header in the body, or ``status`` when set."""

    def __init__(self):
        outer = self
        self.status = 200

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = f"host={self.headers.get('Host')}".encode()
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


class Clock:
    """A fake clock the probe's sleep advances: the probe's arithmetic without waiting."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def scripted(server, clock, script):
    """until(): before request i, apply script[i] (a status, or None to stop serving)."""
    state = {"i": 0}

    def until():
        i = state["i"]
        if i >= len(script):
            return True
        if script[i] == "down":
            server.close()
        elif script[i] is not None:
            server.status = script[i]
        state["i"] += 1
        return False
    return until


def test_all_good(server):
    clock = Clock()
    report = Probe(server.url, interval=0.5, clock=clock, sleep=clock.sleep).run(
        scripted(server, clock, [200] * 4)).to_dict()
    assert report["sent"] == 4 and report["failed"] == 0 and report["success_percent"] == 100
    assert report["longest_gap_seconds"] == 0.5 and report["errors"] == []


def test_failures_gap_and_errors(server):
    clock = Clock()
    report = Probe(server.url, interval=1.0, clock=clock, sleep=clock.sleep).run(
        scripted(server, clock, [200, 503, 503, 200, "down"])).to_dict()
    assert report["sent"] == 5 and report["failed"] == 3
    assert report["errors"][:2] == ["HTTP 503", "HTTP 503"]
    assert "ConnectionRefusedError" in report["errors"][2]
    assert report["longest_gap_seconds"] == 3.0      # 200 at t=0, next 200 at t=3
    assert report["success_percent"] == 40.0


def test_host_header_is_sent(server):
    ok, error, body = Probe(server.url, host_header="app.example").once()
    assert ok and error == "" and body == b"host=app.example"


def test_bad_interval():
    with pytest.raises(ValueError):
        Probe("http://127.0.0.1:1/", interval=0)
