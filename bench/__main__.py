"""``python -m bench``: measure, then write docs/PERFORMANCE.md and the figure."""

from __future__ import annotations

import tools.local.layer_path  # noqa: F401 - before anything imports miro_oauth

# isort: split
import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import coldstart, flows, load, memory, package, warm
from bench.machine import Machine
from bench.report import Results, figure, markdown
from bench.servers import moto_process
from tools.local.stack import running
from tools.local.template import ROOT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the product against floors measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller samples")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs", help="where to write"
    )
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    cold_repeats, flows_n, distinct_n = (5, 200, 100) if quick else (12, 1000, 500)
    memory_n, traced_n = (10, 5) if quick else (50, 20)

    # The handlers log and print metrics to stdout as in Lambda; the run's
    # own progress goes to stderr.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    began = time.perf_counter()

    def progress(message: str) -> None:
        elapsed = time.perf_counter() - began
        print(f"[{elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)

    with (
        tempfile.TemporaryDirectory(prefix="bench-build-") as workdir,
        open(os.devnull, "w") as sink,  # noqa: PTH123
    ):
        progress("make build")
        build = package.build(Path(workdir))
        with (
            contextlib.redirect_stdout(sink),
            moto_process() as moto,
            running(moto=moto) as stack,
        ):
            progress("AWS requests per invocation")
            calls = warm.count_calls(stack)
            flows.fresh(stack)
            cold = coldstart.measure(stack, build, cold_repeats, progress)
            latency = warm.measure(stack, flows_n, calls, progress)
            progress("memory")
            flows.fresh(stack)
            footprints = memory.measure(stack, build, memory_n, traced_n, progress)
            progress(f"{distinct_n} distinct flows from 32 threads")
            flows.fresh(stack)
            distinct = load.distinct_flows(stack, distinct_n, threads=32)
            progress("64 threads replaying one code")
            replay = load.replayed_code(stack, threads=64)
            progress("64 concurrent vending calls on an expiring token")
            vending = load.vending_race(stack, threads=64)

        results = Results(
            machine=Machine.current(),
            quick=quick,
            seconds=time.perf_counter() - began,
            build=build,
            cold=cold,
            calls=calls,
            warm=latency,
            distinct=distinct,
            replay=replay,
            vending=vending,
            memory=footprints,
        )
        output: Path = arguments.output
        output.mkdir(parents=True, exist_ok=True)
        text = markdown(results)
        (output / "PERFORMANCE.md").write_text(text, encoding="utf-8")
        figure(results, output / "performance.png")
    progress(f"wrote {output / 'PERFORMANCE.md'} and {output / 'performance.png'}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
