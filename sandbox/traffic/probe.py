"""The availability probe in the background, and ``python -m sandbox probe URL``.

The probe itself (one GET every ``interval`` seconds; sent, failed, longest gap, first errors)
is ``plugins/module_utils/probe.py``, shared with the ``http_probe`` module and the benchmarks.
This module only runs it on a thread (``BackgroundProbe``: ``start()``, then ``stop()`` returns
the report) and from the command line::

    python -m sandbox probe http://127.0.0.1:PORT/ --interval 0.05 --duration 30

Without ``--duration`` the probe runs until SIGINT/SIGTERM or end of standard input, then prints
its report as one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import threading
from pathlib import Path


def _probe_module():
    """module_utils/probe.py: through the collection when it is on the path, else by file."""
    try:
        from ansible_collections.taskspread.ecs.plugins.module_utils import probe
        return probe
    except ImportError:
        path = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "probe.py"
        spec = importlib.util.spec_from_file_location("_taskspread_probe", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module     # dataclasses look the module up while it loads
        spec.loader.exec_module(module)
        return module


class BackgroundProbe:
    """``Probe(url, **options).run`` on a daemon thread until ``stop()``."""

    def __init__(self, url: str, interval: float = 0.05, **options):
        self.probe = _probe_module().Probe(url, interval=interval, **options)
        self._stop = threading.Event()
        self._report = None
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._asked = 0

    @property
    def sent(self) -> int:
        """Requests answered (or failed) so far; the report at ``stop()`` has the details."""
        return max(0, self._asked - 1)

    def _run(self) -> None:
        def until() -> bool:                # asked before every request and once at the end
            self._asked += 1
            return self._stop.is_set()
        self._report = self.probe.run(until)

    def start(self) -> "BackgroundProbe":
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None):
        """Stop sending and return the ``ProbeReport`` (waits for the request in flight)."""
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.probe.timeout + 5)
        return self._report

    def __enter__(self) -> "BackgroundProbe":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_parser(sub) -> None:
    probe = sub.add_parser("probe", help="send a steady stream of GETs to a URL and print "
                                         "sent, failed and the longest gap as JSON")
    probe.add_argument("url")
    probe.add_argument("--interval", type=float, default=0.05,
                       help="seconds between requests (default 0.05)")
    probe.add_argument("--duration", type=float, default=None,
                       help="stop after this many seconds (default: at Ctrl-C or stdin EOF)")
    probe.add_argument("--timeout", type=float, default=2.0, help="per-request timeout")
    probe.add_argument("--host-header", default=None,
                       help="Host header to send (an ALB's DNS name on the sandbox port)")
    probe.add_argument("--log-level", default="WARNING")


def main(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.timeout <= 0 or (args.duration is not None
                                                   and args.duration < 0):
        print("--interval and --timeout must be positive, --duration not negative",
              file=sys.stderr)
        return 2
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
    if args.duration is None:
        def eof():
            try:
                fd = sys.stdin.fileno()
                while os.read(fd, 65536):
                    pass
            except (AttributeError, OSError, ValueError):
                return                      # no usable stdin: only a signal stops the probe
            done.set()
        threading.Thread(target=eof, name="probe-stdin", daemon=True).start()
    probe = BackgroundProbe(args.url, interval=args.interval, timeout=args.timeout,
                            host_header=args.host_header).start()
    done.wait(args.duration)
    report = probe.stop()
    print(json.dumps(report.to_dict() if report else {"error": "probe did not finish"}),
          flush=True)
    return 0 if report else 1
