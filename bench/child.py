"""One fresh interpreter, as a new Lambda execution environment starts.

Run as a script, not imported: ``python bench/child.py RESULT MODE KIND
[FUNCTION_DIR LAYER_DIR]``, with a JSON request on stdin. Only the standard
library is imported before the clock starts, so what is timed is what the
target itself costs.

MODE   import   import the target, nothing else
       first    import, then handle the first event (a cold invocation)
       memory   import, handle every event, then trace allocations of the
                last ``traced`` events one by one
KIND   handler  the function's ``app`` module, found as Lambda finds it
       floor-install, floor-callback   the same requests, plain boto3/requests

The result (JSON) goes to the RESULT file: the handler writes its logs to
stdout, as in Lambda.
"""

import importlib
import json
import resource
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class Context:
    """The attributes of Lambda's context object that Powertools reads."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + 15

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def max_rss_mib() -> float:
    """Peak resident size of this process (VmHWM).

    Not ``ru_maxrss``: Linux carries that over from the forking parent.
    """
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    result_path, mode, kind = sys.argv[1:4]
    request: dict[str, Any] = json.loads(sys.stdin.read() or "{}")
    events: list[dict[str, Any]] = request.get("events", [])
    traced = int(request.get("traced", 0))
    result: dict[str, Any] = {}

    started = time.perf_counter()
    if kind == "handler":
        function_dir, layer_dir = sys.argv[4:6]
        # Lambda's order: the function's code, then the layer, then the runtime.
        sys.path[0:0] = [function_dir, layer_dir]
        app = importlib.import_module("app")
    else:
        import boto3  # noqa: F401
        import requests  # noqa: F401
    imported = time.perf_counter()
    result.update(
        import_ms=(imported - started) * 1000,
        import_cpu_ms=cpu_ms(),
        import_rss_mib=max_rss_mib(),
    )
    if mode == "import":
        result["xray_loaded"] = "aws_xray_sdk" in sys.modules
        Path(result_path).write_text(json.dumps(result), encoding="utf-8")
        return

    if kind == "handler":
        name = Path(sys.argv[4]).name

        def invoke(event: dict[str, Any]) -> int:
            answer = app.handler(event, Context(name))
            return int(answer["statusCode"])

    else:
        sys.path.insert(0, str(REPO))
        from bench import floor

        clients = floor.FloorClients.create(callback=kind == "floor-callback")
        secret: list[str] = []

        def invoke(event: dict[str, Any]) -> int:
            if kind == "floor-install":
                floor.install(clients)
                return 302
            if not secret:
                secret.append(floor.read_secret(clients))
            return floor.callback(clients, event, secret[0])

    statuses = [invoke(events[0])]
    first = time.perf_counter()
    first_cpu = cpu_ms()
    result.update(
        first_ms=(first - imported) * 1000,
        first_cpu_ms=first_cpu - result["import_cpu_ms"],
        first_rss_mib=max_rss_mib(),
    )
    untraced = events[1 : len(events) - traced] if mode == "memory" else []
    for event in untraced:
        statuses.append(invoke(event))
    result.update(
        warm_cpu_ms=(cpu_ms() - first_cpu) / max(len(untraced), 1),
        warm_rss_mib=max_rss_mib(),
        invocations=len(statuses),
    )
    if mode == "memory" and traced:
        peaks = []
        tracemalloc.start()
        for event in events[len(events) - traced :]:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            statuses.append(invoke(event))
            peaks.append((tracemalloc.get_traced_memory()[1] - before) / 1024)
        tracemalloc.stop()
        result["traced_peak_kib"] = peaks
    result["statuses"] = statuses
    result["xray_loaded"] = "aws_xray_sdk" in sys.modules
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
