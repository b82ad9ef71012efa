"""Lambda in the sandbox: Invoke runs the deployed zip in a subprocess and logs to CloudWatch."""

from __future__ import annotations

import base64
import io
import json
import re
import textwrap
import time
import zipfile

import pytest

from sandbox.aws import lambda_runner

HANDLER = textwrap.dedent('''
    import json, os, sys, time
    import boto3

    def handler(event, context):
        print("handled " + json.dumps(event, sort_keys=True))
        print("to stderr", file=sys.stderr)
        mode = event.get("mode")
        if mode == "raise":
            raise ValueError("boom " + event.get("why", ""))
        if mode == "loop":
            while True:
                pass
        if mode == "sts":
            return boto3.client("sts").get_caller_identity()["Account"]
        if mode == "serial":
            with open(os.environ["TRACE_FILE"], "a") as out:
                out.write("start\\n")
                out.flush()
                time.sleep(0.3)
                out.write("end\\n")
            return None
        return {"seen": event.get("x"), "function": context.function_name,
                "memory": context.memory_limit_in_mb,
                "request_id": context.aws_request_id,
                "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 3000,
                "greeting": os.environ.get("GREETING"),
                "endpoint": os.environ["AWS_ENDPOINT_URL"],
                "region": os.environ["AWS_REGION"],
                "name_env": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
''')


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def role(aws):
    return aws("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]
    }))["Role"]["Arn"]


@pytest.fixture
def make_function(aws, role):
    def make(name="fn", code=None, timeout=3, env=None, **extra):
        return aws("lambda").create_function(
            FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
            Code=code or {"ZipFile": zip_of({"app.py": HANDLER})}, Timeout=timeout,
            Environment={"Variables": env or {"GREETING": "hello"}}, **extra)
    return make


def invoke(aws, payload, name="fn", **extra):
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(payload), **extra)
    return response, json.loads(response["Payload"].read() or b"null")


def log_messages(aws, name="fn", pattern=None):
    kwargs = {"logGroupName": f"/aws/lambda/{name}"}
    if pattern:
        kwargs["filterPattern"] = pattern
    events = aws("logs").filter_log_events(**kwargs)["events"]
    return [(e["logStreamName"], e["message"]) for e in events]


def test_invoke_runs_the_handler_and_returns_its_result(sandbox, aws, make_function):
    make_function(MemorySize=256)
    response, result = invoke(aws, {"x": 41})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert result["seen"] == 41 and result["function"] == "fn" and result["memory"] == 256
    assert result["remaining_ok"] is True
    assert result["greeting"] == "hello" and result["name_env"] == "fn"
    assert result["endpoint"] == sandbox.endpoint and result["region"] == "us-east-1"
    assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"])


def test_handler_output_goes_to_cloudwatch_logs(aws, make_function):
    make_function()
    _, result = invoke(aws, {"x": "logged"})
    messages = log_messages(aws)
    texts = [m for _, m in messages]
    assert 'handled {"x": "logged"}' in texts and "to stderr" in texts
    request_id = result["request_id"]
    assert texts[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"END RequestId: {request_id}" in texts
    assert any(t.startswith(f"REPORT RequestId: {request_id}\tDuration: ") for t in texts)
    stream = messages[0][0]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", stream)
    assert [m for _, m in log_messages(aws, pattern="logged")] == ['handled {"x": "logged"}']


def test_log_tail_is_returned_on_request(aws, make_function):
    make_function()
    response, _ = invoke(aws, {"x": "tail"}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert 'handled {"x": "tail"}' in tail and "REPORT RequestId" in tail


def test_handler_calls_back_into_the_sandbox(aws, make_function):
    make_function()
    _, result = invoke(aws, {"mode": "sts"})
    assert result == "123456789012"


def test_a_raising_handler_gives_function_error(aws, make_function):
    make_function()
    response, result = invoke(aws, {"mode": "raise", "why": "now"})
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "ValueError" and result["errorMessage"] == "boom now"
    assert any("app.py" in line for line in result["stackTrace"])
    assert "[ERROR] ValueError: boom now" in [m for _, m in log_messages(aws)]


def test_a_handler_past_its_timeout_is_killed(aws, make_function):
    make_function(timeout=1)
    started = time.monotonic()
    response, result = invoke(aws, {"mode": "loop"})
    elapsed = time.monotonic() - started
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    assert 1.0 <= elapsed < 10
    assert any("Task timed out after 1.00 seconds" in m for _, m in log_messages(aws))


def test_bad_handler_name_is_an_import_error(aws, role):
    aws("lambda").create_function(
        FunctionName="bad", Runtime="python3.11", Role=role, Handler="nothere.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER})})
    response, result = invoke(aws, {}, name="bad")
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nothere'" in result["errorMessage"]


def test_update_function_code_runs_the_new_code(aws, make_function):
    make_function()
    aws("lambda").update_function_code(FunctionName="fn", ZipFile=zip_of({
        "app.py": "def handler(event, context):\n    return {'version': 2}\n"}))
    assert invoke(aws, {})[1] == {"version": 2}


def test_code_from_s3(aws, make_function):
    aws("s3").create_bucket(Bucket="code")
    aws("s3").put_object(Bucket="code", Key="fn.zip", Body=zip_of({
        "app.py": "def handler(event, context):\n    return event['n'] * 2\n"}))
    make_function(code={"S3Bucket": "code", "S3Key": "fn.zip"})
    assert invoke(aws, {"n": 21})[1] == 42


def test_event_invocation_runs_asynchronously(sandbox, aws, make_function):
    make_function()
    response = aws("lambda").invoke(FunctionName="fn", InvocationType="Event",
                                    Payload=json.dumps({"x": "async"}))
    assert response["StatusCode"] == 202
    assert lambda_runner.wait_idle(sandbox, timeout=30) is True
    assert 'handled {"x": "async"}' in [m for _, m in log_messages(aws)]


def test_reserved_concurrency_one_runs_serially(sandbox, aws, make_function, tmp_path):
    trace = tmp_path / "trace"
    make_function(env={"TRACE_FILE": str(trace)})
    aws("lambda").put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=1)
    for _ in range(3):
        aws("lambda").invoke(FunctionName="fn", InvocationType="Event",
                             Payload=json.dumps({"mode": "serial"}))
    assert lambda_runner.wait_idle(sandbox, timeout=60) is True
    assert trace.read_text().split() == ["start", "end"] * 3


def test_legacy_invoke_async_is_queued_not_run_inline(sandbox, aws, make_function):
    make_function()
    response = aws("lambda").invoke_async(FunctionName="fn", InvokeArgs=json.dumps({"x": "old"}))
    assert response["Status"] == 202
    assert lambda_runner.wait_idle(sandbox, timeout=30) is True
    assert 'handled {"x": "old"}' in [m for _, m in log_messages(aws)]


# ---------------------------------------------------------------------------- memory
MEMORY_HANDLER = textwrap.dedent('''
    import time

    def handler(event, context):
        held = b"x" * (event["mb"] << 20)        # touches every page: resident
        if event.get("hold"):
            time.sleep(event["hold"])
        return len(held) >> 20
''')


def _report(aws, name):
    line = next(m for _, m in log_messages(aws, name) if m.startswith("REPORT "))
    return dict(part.split(": ", 1) for part in line.split("\t")[1:] if ": " in part)


def _own_peak_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) >> 10


def test_report_shows_the_handlers_own_memory(aws, make_function):
    """Lambda REPORT line: "Memory Size: N MB  Max Memory Used: M MB" with M the function's
    own peak (never more than MemorySize when it succeeded) - not the caller's process."""
    make_function(name="small", code={"ZipFile": zip_of({"app.py": MEMORY_HANDLER})},
                  MemorySize=256)
    response, result = invoke(aws, {"mb": 20}, name="small")
    assert "FunctionError" not in response and result == 20
    report = _report(aws, "small")
    assert report["Memory Size"] == "256 MB"
    used = int(report["Max Memory Used"].split()[0])
    assert 20 < used <= 256
    assert used < _own_peak_mb()          # this test process is far bigger than the handler


@pytest.mark.parametrize("hold", [0, 10])
def test_a_handler_above_its_memory_size_fails_as_out_of_memory(aws, make_function, hold):
    """Lambda kills a function that exceeds MemorySize: errorType Runtime.OutOfMemory,
    "RequestId: <id> Error: Runtime exited with error: signal: killed" (observed payloads),
    and REPORT shows Max Memory Used = Memory Size. hold=10 keeps the memory past the
    3 s Timeout, so only the memory watch can end it (not Sandbox.Timedout); hold=0 returns at
    once, so only the handler's own peak (VmHWM) can show it."""
    make_function(name="big", code={"ZipFile": zip_of({"app.py": MEMORY_HANDLER})},
                  MemorySize=128)
    response, result = invoke(aws, {"mb": 200, "hold": hold}, name="big")
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.OutOfMemory"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: "
                        r"signal: killed", result["errorMessage"])
    report = _report(aws, "big")
    assert (report["Memory Size"], report["Max Memory Used"]) == ("128 MB", "128 MB")
    assert f"{result['errorMessage']}\nRuntime.OutOfMemory" in [m for _, m in
                                                               log_messages(aws, "big")]
