"""Cold starts: a fresh interpreter per sample, as a new execution environment.

Each sample imports a function's handler module with the built layer ahead
of the runtime's packages on ``sys.path`` (Lambda's order), and, for the
functions with an HTTP route, handles its first request against the local
stack. The floor is a fresh interpreter importing only ``boto3`` and
``requests`` and, for the first request, sending the same AWS and Miro
requests with them directly. Samples of every target are interleaved so a
slow moment of the machine lands on all of them alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import flows
from bench.package import Build
from bench.stats import Distribution
from tools.local.stack import LocalStack

CHILD = Path(__file__).with_name("child.py")
# Functions whose first request the local stack can play; others are timed
# on import only.
ROUTED = {"InstallFunction": "install", "CallbackFunction": "callback"}


@dataclass(frozen=True)
class Target:
    label: str
    kind: str
    function: str | None = None
    bytecode: bool = True


@dataclass
class ColdStarts:
    """Per target label: import, first-invocation and total times in ms."""

    imports: dict[str, list[float]] = field(default_factory=dict)
    first: dict[str, list[float]] = field(default_factory=dict)
    total: dict[str, list[float]] = field(default_factory=dict)
    import_cpu: dict[str, list[float]] = field(default_factory=dict)
    xray_loaded: bool = False
    repeats: int = 0

    def distribution(self, table: str, label: str) -> Distribution:
        samples: dict[str, list[float]] = getattr(self, table)
        return Distribution.of(label, samples.get(label, []))


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    # Lambda mounts /var/task and /opt read-only: no bytecode is ever cached.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def run_child(
    mode: str,
    target: Target,
    build: Build,
    *,
    events: list[dict[str, Any]] | None = None,
    traced: int = 0,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        result = Path(tmp) / "result.json"
        argv = [sys.executable, str(CHILD), str(result), mode, target.kind]
        if target.function is not None:
            argv += [
                str(build.function_dir(target.function, bytecode=target.bytecode)),
                str(build.layer_dir(bytecode=target.bytecode)),
            ]
        began = time.perf_counter()
        done = subprocess.run(
            argv,
            input=json.dumps({"events": events or [], "traced": traced}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=child_environment(env),
            check=False,
        )
        wall = (time.perf_counter() - began) * 1000
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(f"{target.label}: child failed\n{done.stderr[-2000:]}")
        answer: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    answer["process_ms"] = wall
    return answer


def targets(build: Build) -> list[Target]:
    found = [Target("floor: boto3 + requests", "floor-callback")]
    for function in build.functions():
        found.append(Target(f"{function} (as built)", "handler", function, True))
        found.append(Target(f"{function} (no bytecode)", "handler", function, False))
    found.append(Target("floor: /install requests", "floor-install"))
    return found


def measure(
    stack: LocalStack,
    build: Build,
    repeats: int,
    progress: Callable[[str], None],
) -> ColdStarts:
    result = ColdStarts(repeats=repeats)
    chosen = targets(build)
    for round_number in range(repeats):
        progress(f"cold start round {round_number + 1}/{repeats}")
        for target in chosen:
            # The first request does not depend on bytecode: it is timed for
            # the functions as built only.
            routed = target.kind.startswith("floor") or (
                target.function in ROUTED and target.bytecode
            )
            if target.kind == "floor-install" or target.function == "InstallFunction":
                events = [flows.install_event(flows.next_team())]
            elif routed:
                events = [flows.start(stack).callback_event]
            else:
                events = []
            answer = run_child(
                "first" if routed else "import",
                target,
                build,
                events=events,
                env=stack.environment,
            )
            if answer.get("statuses", [200])[0] not in (200, 302):
                raise RuntimeError(f"{target.label}: answered {answer['statuses']}")
            result.xray_loaded |= bool(answer.get("xray_loaded"))
            label = target.label
            result.imports.setdefault(label, []).append(answer["import_ms"])
            result.import_cpu.setdefault(label, []).append(answer["import_cpu_ms"])
            if "first_ms" in answer:
                result.first.setdefault(label, []).append(answer["first_ms"])
                result.total.setdefault(label, []).append(
                    answer["import_ms"] + answer["first_ms"]
                )
    return result
