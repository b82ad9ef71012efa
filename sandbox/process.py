"""The sandbox as a subprocess on a free loopback port, and the environment ansible-playbook
needs to reach it: used by ``make demo``'s sibling scripts and by the tests that run
ansible-playbook or molecule (they must not share a process with the sandbox they drive)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def sandbox_server(speed: float = 50, startup_timeout: float = 60, port: int | None = None):
    """Start ``python -m sandbox serve`` (on ``port``, else a free one); yield its endpoint;
    always stop it."""
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    (ROOT / ".sandbox").mkdir(exist_ok=True)
    log = open(ROOT / ".sandbox" / f"serve-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--port", str(port),
                             "--speed", str(speed)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {proc.returncode} before it answered")
            try:
                with urllib.request.urlopen(f"{endpoint}/_sandbox/status", timeout=2) as resp:
                    if resp.status == 200 and json.load(resp).get("endpoint") == endpoint:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox on {endpoint} did not answer within {startup_timeout} s")
            time.sleep(0.2)  # poll interval of a bounded wait
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def ansible_env(endpoint: str, color: bool = False) -> dict[str, str]:
    """This checkout's ansible.cfg and venv, the sandbox endpoint, its dummy credentials (the
    playbooks' taskspread_target defaults to the sandbox); no AWS_PROFILE can leak in."""
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    env.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    })
    if not color:
        env["ANSIBLE_NOCOLOR"] = "1"
    return env
