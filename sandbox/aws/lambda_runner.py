"""Runs a deployed function's own code in a subprocess (no docker).

moto either runs a function in docker (not available here) or, in its "simple" backend, echoes
the payload. This module patches ``LambdaFunction.invoke`` so that Invoke runs the code the user
deployed, as the Python runtime would:

* the zip of CreateFunction/UpdateFunctionCode (ZipFile or S3) is unpacked into a fresh temp
  dir (``LAMBDA_TASK_ROOT``, also the cwd and first on ``sys.path``);
* ``sys.executable -c <bootstrap>`` imports ``module.func`` from the function's Handler, reads
  the event (JSON) on stdin and calls it with a context (function_name, function_version,
  invoked_function_arn, memory_limit_in_mb, aws_request_id, log_group_name, log_stream_name,
  get_remaining_time_in_millis);
* environment: the function's Environment.Variables, then AWS_ENDPOINT_URL = the sandbox,
  dummy credentials, AWS_REGION/AWS_DEFAULT_REGION and the AWS_LAMBDA_* variables;
* the wall-clock timeout is the function's Timeout; on expiry the process group is killed;
* result: the handler's return value as JSON; errors give ``X-Amz-Function-Error: Unhandled``
  with ``errorMessage``/``errorType`` (``Sandbox.Timedout``, ``Runtime.ImportModuleError``,
  ``Runtime.HandlerNotFound``, ``Runtime.MarshalError``, ``Runtime.ExitError`` as on AWS);
* everything the handler prints (stdout and stderr), framed by START/END/REPORT lines, goes to
  CloudWatch Logs ``/aws/lambda/<name>``, stream ``YYYY/MM/DD/[<version>]<32 hex>``, stamped on
  the sandbox clock (``Runtime.now()``, the clock of every emulated service: aws/clock.py), the
  START line when the invocation began, the rest when it ended; so
  ``filter_log_events(startTime=<event time>)`` finds the invocation an ECS event triggered.
  Duration and Timeout are wall-clock: they measure the handler's real work. CloudWatch Logs
  turns the handler's EMF lines into metrics (``cloudwatch.py``), and each invocation adds
  ``AWS/Lambda`` Invocations, Errors and Duration;
* memory: MemorySize is enforced on the handler process's own resident set (its ``VmRSS``,
  watched every ``MEMORY_POLL_SECONDS``, and its peak ``VmHWM``, read by the process itself
  from /proc; ``ru_maxrss`` is not used because Linux carries the parent's high-water mark
  across fork+exec). Above MemorySize the process group is killed (or, for a spike between two
  polls, its result is discarded) and the invocation fails as Lambda's does:
  ``errorType Runtime.OutOfMemory``, ``RequestId: <id> Error: Runtime exited with error:
  signal: killed`` [O: AWS error payloads], REPORT ``Max Memory Used`` = MemorySize. Below it,
  REPORT shows the measured peak;

``InvocationType=Event`` and EventBridge deliveries (``submit``) go to an asynchronous runner:
each invocation runs on its own thread, never under ``sandbox.runtime.lock``; at most
ReservedConcurrentExecutions run at once per function (1 => serial; 0 => throttled and
dropped; unset => ``ASYNC_DEFAULT_CONCURRENCY``). Nothing new starts once the sandbox is
stopping, and uninstall kills what still runs. ``wait_idle`` blocks until the queue is empty.
Async errors are logged, not retried [I].

One Lambda backend: moto's default (docker) backend keeps every function; its docker path is
never reached because ``LambdaFunction.invoke`` is replaced. If someone switches moto to
``use_docker: false``, ``LambdaSimpleBackend.invoke`` is routed through the same code.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from urllib.parse import unquote

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend

from .cloudwatch import record_invocation
from .host import active

LOG = logging.getLogger("sandbox.lambda")

ASYNC_DEFAULT_CONCURRENCY = 10
# How often the handler process's resident set is compared with the function's MemorySize.
MEMORY_POLL_SECONDS = 0.02
LOG_TAIL_BYTES = 4096
_ORIGINAL_BACKEND_INVOKE = LambdaBackend.invoke

# Runs inside the function's subprocess: argv = task_root handler result_path deadline request_id
BOOTSTRAP = r'''
import importlib, json, os, resource, sys, time, traceback

class Context:
    def __init__(self, request_id, deadline):
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = env["SANDBOX_INVOKED_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))

def error(kind, message, request_id, stack=None):
    return {"errorMessage": message, "errorType": kind, "requestId": request_id,
            "stackTrace": stack or []}

def load(handler, request_id):
    module_name, _, func_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:
        return None, error("Runtime.ImportModuleError",
                           f"Unable to import module '{module_name}': {exc}", request_id)
    func = getattr(module, func_name, None)
    if func is None:
        return None, error("Runtime.HandlerNotFound",
                           f"Handler '{func_name}' missing on module '{module_name}'", request_id)
    return func, None

def run(root, handler, request_id, deadline):
    sys.path.insert(0, root)
    raw = sys.stdin.buffer.read()
    event = json.loads(raw) if raw.strip() else {}
    func, failure = load(handler, request_id)
    if failure:
        print(f"[ERROR] {failure['errorType']}: {failure['errorMessage']}", file=sys.stderr)
        return {"error": failure}
    try:
        result = func(event, Context(request_id, deadline))
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
        return {"error": error(type(exc).__name__, str(exc), request_id, stack)}
    try:
        return {"result": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {"error": error("Runtime.MarshalError",
                               f"Unable to marshal response: {exc}", request_id)}

def peak_rss_kb():
    # This process's own high-water mark (VmHWM starts afresh at exec); ru_maxrss would carry
    # the parent's across fork+exec.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def main():
    root, handler, result_path, deadline, request_id = sys.argv[1:6]
    outcome = run(root, handler, request_id, float(deadline))
    sys.stdout.flush()
    sys.stderr.flush()
    outcome["max_rss_kb"] = peak_rss_kb()
    with open(result_path, "w") as out:
        json.dump(outcome, out)

main()
'''


@dataclass
class Outcome:
    """What one invocation produced."""

    payload: bytes
    function_error: str | None
    log_lines: list[str] = field(default_factory=list)
    version: str = "$LATEST"

    def log_tail(self) -> str:
        text = "\n".join(self.log_lines) + "\n"
        return base64.b64encode(text.encode()[-LOG_TAIL_BYTES:]).decode()


# -------------------------------------------------------------------------- running
def _error_payload(kind: str, message: str, request_id: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": kind,
                       "requestId": request_id}).encode()


def _environment(sandbox, fn: LambdaFunction, task_root: str, stream: str) -> dict[str, str]:
    region = fn.region
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update({
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8", "TZ": "UTC",
        "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": task_root,
        "LAMBDA_TASK_ROOT": task_root, "_HANDLER": fn.handler or "",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_ENDPOINT_URL": sandbox.endpoint if sandbox else env.get("AWS_ENDPOINT_URL", ""),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "SANDBOX_INVOKED_FUNCTION_ARN": fn.function_arn,
    })
    return env


def _clock(sandbox) -> float:
    """Now on the sandbox clock (the wall clock outside a sandbox)."""
    return sandbox.runtime.now() if sandbox is not None else time.time()


def _stream_name(fn: LambdaFunction, now: float) -> str:
    day = datetime.fromtimestamp(now, timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{fn.version}]{uuid.uuid4().hex}"


def _unsupported(fn: LambdaFunction) -> str | None:
    if getattr(fn, "package_type", "Zip") != "Zip":
        return "the sandbox runs Zip functions only"
    if not str(fn.run_time or "").startswith("python"):
        return f"the sandbox runs Python functions only, not {fn.run_time}"
    if not getattr(fn, "code_bytes", b""):
        return "the function has no code"
    return None


@dataclass
class _Run:
    """What the handler process did: its merged output and how it ended."""

    output: str
    timed_out: bool
    returncode: int
    out_of_memory: bool = False


def resident_kb(pid: int) -> int | None:
    """The process's current resident set (VmRSS) in KiB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _watch_memory(proc: subprocess.Popen, limit_kb: int, done: threading.Event,
                  tripped: threading.Event) -> None:
    """Kill the process group when the handler's resident set exceeds MemorySize."""
    while not done.wait(MEMORY_POLL_SECONDS):
        used = resident_kb(proc.pid)
        if used is None:
            return
        if used > limit_kb:
            tripped.set()
            _kill(proc)
            return


def _run_process(argv: list[str], env: dict[str, str], cwd: str, stdin: bytes,
                 timeout: float, memory_mb: int) -> _Run:
    """Run the handler process; its group dies on timeout or above ``memory_mb``."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            start_new_session=True)
    RUNNER.track(proc)
    done, tripped = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_watch_memory, args=(proc, memory_mb * 1024, done,
                                                           tripped),
                               name="lambda-memory", daemon=True)
    watcher.start()
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, _ = proc.communicate()
        timed_out = True
    finally:
        done.set()
        RUNNER.untrack(proc)
    watcher.join()
    return _Run(out.decode(errors="replace"), timed_out and not tripped.is_set(),
                proc.returncode, tripped.is_set())


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _out_of_memory(fn: LambdaFunction, request_id: str) -> tuple[bytes, str | None, int]:
    message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    return (_error_payload("Runtime.OutOfMemory", message, request_id), "Unhandled",
            int(fn.memory_size))


def _outcome_from(result_path: str, run: _Run, fn: LambdaFunction,
                  request_id: str) -> tuple[bytes, str | None, int]:
    """(payload, function error, max RSS in MB) from what the subprocess left behind."""
    timed_out, returncode = run.timed_out, run.returncode
    if run.out_of_memory:
        return _out_of_memory(fn, request_id)
    if timed_out:
        message = (f"RequestId: {request_id} Error: Task timed out after "
                   f"{float(fn.timeout):.2f} seconds")
        return _error_payload("Sandbox.Timedout", message, request_id), "Unhandled", 0
    try:
        with open(result_path) as handle:
            result = json.load(handle)
    except (OSError, ValueError):
        message = (f"RequestId: {request_id} Error: Runtime exited with error: "
                   f"exit status {returncode}")
        return _error_payload("Runtime.ExitError", message, request_id), "Unhandled", 0
    max_mb = math.ceil(int(result.get("max_rss_kb", 0)) / 1024)
    if max_mb > int(fn.memory_size):        # a spike between two polls: Lambda would have
        return _out_of_memory(fn, request_id)   # killed it, so the result does not count
    if "error" in result:
        return json.dumps(result["error"]).encode(), "Unhandled", max_mb
    return result["result"].encode(), None, max_mb


def run_function(sandbox, fn: LambdaFunction, payload: bytes) -> Outcome:
    """Invoke ``fn`` synchronously with ``payload`` (JSON bytes) and log it to CloudWatch."""
    request_id = str(uuid.uuid4())
    began = _clock(sandbox)
    stream = _stream_name(fn, began)
    started = time.time()
    lines = [f"START RequestId: {request_id} Version: {fn.version}"]
    problem = _unsupported(fn)
    if problem:
        body, error, max_mb = _error_payload("Runtime.InvalidEntrypoint", problem,
                                             request_id), "Unhandled", 0
        lines.append(f"[ERROR] Runtime.InvalidEntrypoint: {problem}")
    else:
        body, error, max_mb, output = _execute(sandbox, fn, payload, request_id, stream,
                                               started)
        lines.extend(output)
    duration_ms = (time.time() - started) * 1000
    lines.append(f"END RequestId: {request_id}")
    lines.append(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                 f"Billed Duration: {math.ceil(duration_ms)} ms\t"
                 f"Memory Size: {fn.memory_size} MB\tMax Memory Used: {max_mb} MB")
    _write_logs(sandbox, fn, stream, lines, began)
    with sandbox.runtime.lock if sandbox else threading.RLock():
        record_invocation(fn, began, duration_ms, error is not None)
    return Outcome(body, error, lines, str(fn.version))


def _execute(sandbox, fn: LambdaFunction, payload: bytes, request_id: str, stream: str,
             started: float) -> tuple[bytes, str | None, int, list[str]]:
    timeout = float(fn.timeout or 3)
    with tempfile.TemporaryDirectory(prefix="sandbox-lambda-") as tmp:
        task_root = os.path.join(tmp, "task")
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            archive.extractall(task_root)
        result_path = os.path.join(tmp, "result.json")
        argv = [sys.executable, "-c", BOOTSTRAP, task_root, fn.handler or "",
                result_path, str(started + timeout), request_id]
        env = _environment(sandbox, fn, task_root, stream)
        run = _run_process(argv, env, task_root, payload, timeout, int(fn.memory_size))
        body, error, max_mb = _outcome_from(result_path, run, fn, request_id)
    lines = run.output.splitlines()
    failure = json.loads(body) if error else {}
    if failure.get("errorType") == "Runtime.OutOfMemory":   # the line Lambda logs
        lines.append(f"{failure['errorMessage']}\nRuntime.OutOfMemory")
    if run.timed_out:
        stamp = datetime.fromtimestamp(_clock(sandbox), timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")
    return body, error, max_mb, lines


def _write_logs(sandbox, fn: LambdaFunction, stream: str, lines: list[str],
                began: float) -> None:
    """START at ``began``, every later line at the end of the invocation (sandbox clock)."""
    first, last = int(began * 1000), int(_clock(sandbox) * 1000)
    events = [{"timestamp": first if i == 0 else last, "message": line}
              for i, line in enumerate(lines)]
    lock = sandbox.runtime.lock if sandbox else threading.RLock()
    with lock:
        backend = fn.logs_backend
        backend.ensure_log_group(fn.logs_group_name)
        backend.create_log_stream(fn.logs_group_name, stream)
        backend.put_log_events(fn.logs_group_name, stream, events)


# ---------------------------------------------------------------------- async runner
@dataclass
class _Job:
    sandbox: Any
    fn: LambdaFunction
    payload: bytes
    # Called with the Outcome (None if the invocation never ran or crashed) before the job
    # counts as done, so ``wait_idle`` also waits for it (the SQS poller deletes its batch here).
    on_done: Callable[[Optional[Outcome]], None] | None = None


class AsyncRunner:
    """Per-function FIFO queues; each invocation on its own thread, within the function's
    reserved concurrency."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Job]] = {}
        self._running: dict[str, int] = {}
        self._busy = 0
        self._procs: set[subprocess.Popen] = set()
        self._threads: set[threading.Thread] = set()
        self._stopping = False

    def start(self) -> None:
        with self._cond:
            self._stopping = False

    def submit(self, sandbox, fn: LambdaFunction, payload: bytes,
               on_done: Callable[[Optional[Outcome]], None] | None = None) -> bool:
        """Queue one asynchronous invocation; False if it was dropped (stopping/throttled)."""
        limit = _concurrency(fn)
        with self._cond:
            if self._stopping or _stopping(sandbox) or limit == 0:
                LOG.warning("async invocation of %s dropped (%s)", fn.function_name,
                            "throttled" if limit == 0 else "sandbox stopping")
                return False
            self._queues.setdefault(fn.function_name, deque()).append(
                _Job(sandbox, fn, payload, on_done))
            self._busy += 1
            self._dispatch_locked()
        return True

    def _dispatch_locked(self) -> None:
        for name, queue in self._queues.items():
            while queue and self._running.get(name, 0) < _concurrency(queue[0].fn):
                job = queue.popleft()
                self._running[name] = self._running.get(name, 0) + 1
                thread = threading.Thread(target=self._run, args=(job,),
                                          name=f"lambda-{name}", daemon=True)
                self._threads.add(thread)
                thread.start()

    def _run(self, job: _Job) -> None:
        outcome = None
        try:
            if not (self._stopping or _stopping(job.sandbox)):
                outcome = run_function(job.sandbox, job.fn, job.payload)
                if outcome.function_error:
                    LOG.info("async invocation of %s failed: %s", job.fn.function_name,
                             outcome.payload[:500])
        except Exception:  # boundary: a worker thread must report, never die silently
            LOG.exception("async invocation of %s crashed", job.fn.function_name)
        try:
            if job.on_done is not None:
                job.on_done(outcome)
        except Exception:  # boundary, as above
            LOG.exception("completion of an invocation of %s failed", job.fn.function_name)
        finally:
            with self._cond:
                self._running[job.fn.function_name] -= 1
                self._busy -= 1
                self._threads.discard(threading.current_thread())
                if not self._stopping:
                    self._dispatch_locked()
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)

    def track(self, proc: subprocess.Popen) -> None:
        with self._cond:
            self._procs.add(proc)

    def untrack(self, proc: subprocess.Popen) -> None:
        with self._cond:
            self._procs.discard(proc)

    def stop(self, timeout: float = 5.0) -> None:
        """Drop what is queued, kill what runs, wait for the threads."""
        with self._cond:
            self._stopping = True
            for queue in self._queues.values():
                self._busy -= len(queue)
                queue.clear()
            procs, threads = list(self._procs), list(self._threads)
        for proc in procs:
            _kill(proc)
        for thread in threads:
            thread.join(timeout=timeout)
        with self._cond:
            self._cond.notify_all()


RUNNER = AsyncRunner()


def _concurrency(fn: LambdaFunction) -> int:
    reserved = getattr(fn, "reserved_concurrency", None)
    if reserved is None or reserved == "":
        return ASYNC_DEFAULT_CONCURRENCY
    return int(reserved)


def _stopping(sandbox) -> bool:
    # Sandbox.stop() stops the runtime's ticker first; its stop event is the earliest sign.
    stop_event = getattr(getattr(sandbox, "runtime", None), "_stop", None)
    return bool(stop_event is not None and stop_event.is_set())


def submit(sandbox, function_arn: str, payload: bytes,
           on_done: Callable[[Optional[Outcome]], None] | None = None) -> bool:
    """Queue an asynchronous invocation of ``function_arn`` (qualified or not); ``on_done``
    gets its Outcome (None if it never ran) on the worker thread."""
    parts = function_arn.split(":")
    account, region = parts[4], parts[3]
    fn = get_backend(account, region).get_function(function_arn)
    return RUNNER.submit(sandbox, fn, payload, on_done)


# ---------------------------------------------------------------------------- patches
def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and hasattr(headers, "items"):
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _function_invoke(self: LambdaFunction, body: Any, request_headers: Any,
                     response_headers: dict) -> bytes:
    sandbox = active()
    payload = body.encode() if isinstance(body, str) else (body or b"")
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    response_headers["x-amz-executed-version"] = str(self.version)
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        RUNNER.submit(sandbox, self, payload)
        return b""
    outcome = run_function(sandbox, self, payload)
    if outcome.function_error:
        response_headers["x-amz-function-error"] = outcome.function_error
    response_headers["x-amz-log-result"] = outcome.log_tail()
    return outcome.payload


def _simple_backend_invoke(self: LambdaSimpleBackend, function_name: str, qualifier: str | None,
                           body: Any, headers: Any, response_headers: Any) -> bytes | None:
    return _ORIGINAL_BACKEND_INVOKE(self, function_name, qualifier, body, headers,
                                    response_headers)


def _response_invoke_async(self: LambdaResponse) -> tuple[int, dict, str]:
    """Legacy InvokeAsync: always asynchronous (moto ran it inline, under the world lock)."""
    index = -3 if self.path.endswith("/") else -2
    fn = self.backend.get_function(unquote(self.path.rsplit("/", 3)[index]), None)
    body = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
    RUNNER.submit(active(), fn, body)
    return 202, {"status": "202"}, json.dumps({"Status": 202})


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (LambdaFunction, "invoke", _function_invoke),
        (LambdaResponse, "invoke_async", _response_invoke_async),
        (LambdaSimpleBackend, "invoke", _simple_backend_invoke),
    ]


def on_install(sandbox) -> None:
    RUNNER.start()


def on_uninstall(sandbox) -> None:
    RUNNER.stop()


def wait_idle(sandbox, timeout: float = 60.0) -> bool:
    """Block until no asynchronous invocation is queued or running (wall-clock timeout).
    Returns False if work remained when the timeout expired."""
    return RUNNER.wait_idle(timeout)
