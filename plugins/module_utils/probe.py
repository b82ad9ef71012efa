# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An availability probe: a steady stream of HTTP GETs and what it saw (standard library only).

``Probe(url).run(until)`` sends one request every ``interval`` seconds until ``until()`` is
true and returns a ``ProbeReport``: requests sent and failed, the longest gap between two
successful answers (how long the site looked down), and the first few errors. A request fails
on a connection error, a timeout or a status other than ``expect_status``. Used by the
``http_probe`` module (validate.yml), the sandbox tests and the benchmarks.
"""

from __future__ import annotations

import time
import urllib.error
from dataclasses import dataclass, field
from typing import Callable

from ansible.module_utils.urls import open_url

MAX_ERRORS_KEPT = 5


@dataclass
class ProbeReport:
    sent: int = 0
    failed: int = 0
    longest_gap_seconds: float = 0.0
    duration_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    bodies_seen: int = 0

    def to_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed,
                "success_percent": round(100.0 * (self.sent - self.failed) / self.sent, 3)
                if self.sent else 0.0,
                "longest_gap_seconds": round(self.longest_gap_seconds, 3),
                "duration_seconds": round(self.duration_seconds, 3),
                "errors": list(self.errors), "distinct_bodies": self.bodies_seen}


class Probe:
    def __init__(self, url: str, interval: float = 0.1, timeout: float = 2.0,
                 host_header: str | None = None, expect_status: int = 200,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if interval <= 0 or timeout <= 0:
            raise ValueError("interval and timeout must be positive")
        self.url, self.interval, self.timeout = url, interval, timeout
        self.host_header, self.expect_status = host_header, expect_status
        self.clock, self.sleep = clock, sleep

    def once(self) -> tuple[bool, str, bytes]:
        """(ok, error, body) of one request."""
        headers = {"Host": self.host_header} if self.host_header else None
        try:
            with open_url(self.url, method="GET", headers=headers, timeout=self.timeout,
                          validate_certs=True, follow_redirects="none") as response:
                body = response.read()
                if response.status != self.expect_status:
                    return False, f"HTTP {response.status}", body
                return True, "", body
        except urllib.error.HTTPError as err:
            return False, f"HTTP {err.code}", b""
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            return False, f"{type(reason).__name__}: {reason}", b""

    def run(self, until: Callable[[], bool]) -> ProbeReport:
        report = ProbeReport()
        seen: set[int] = set()
        start = last_ok = self.clock()
        ok = True
        while not until():
            ok, error, body = self.once()
            now = self.clock()
            report.sent += 1
            if ok:
                report.longest_gap_seconds = max(report.longest_gap_seconds, now - last_ok)
                last_ok = now
                seen.add(hash(body))
            else:
                report.failed += 1
                if len(report.errors) < MAX_ERRORS_KEPT:
                    report.errors.append(error)
            self.sleep(max(0.0, self.interval - (self.clock() - now)))
        end = self.clock()
        if not ok:                          # still down when the probe stopped
            report.longest_gap_seconds = max(report.longest_gap_seconds, end - last_ok)
        report.duration_seconds = end - start
        report.bodies_seen = len(seen)
        return report
