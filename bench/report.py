"""Write ``docs/PERFORMANCE.md`` and ``docs/performance.png``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.coldstart import ColdStarts
from bench.load import Distinct, Replay
from bench.machine import Machine
from bench.memory import Footprint
from bench.package import Build
from bench.stats import Distribution, ratio
from bench.warm import CallCounts, WarmLatency

FLOOR_IMPORT = "floor: boto3 + requests"
FLOOR_CALLBACK = "floor: boto3 + requests"
FLOOR_INSTALL = "floor: /install requests"
# Lambda: "At 1,769 MB, a function has the equivalent of one vCPU".
ONE_VCPU_MB = 1769
MEMORY_SIZES = (128, 256, 512, 1024)


@dataclass
class Results:
    machine: Machine
    quick: bool
    seconds: float
    build: Build
    cold: ColdStarts
    calls: CallCounts
    warm: WarmLatency
    distinct: Distinct
    replay: Replay
    vending: str
    memory: list[Footprint]


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _x(value: float) -> str:
    return f"{value:.2f}×"


def _mib(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.2f} MiB"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _calls(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{op} {n}" for op, n in counts.items())
    return f"**{total}** ({parts})"


def summary_rows(r: Results) -> list[list[str]]:
    cold = r.cold
    rows = []
    floor_import = cold.distribution("imports", FLOOR_IMPORT)
    for function in r.build.functions():
        built = cold.distribution("imports", f"{function} (as built)")
        rows.append(
            [
                f"cold import, {function}, median",
                f"{_ms(built.p50)} ms",
                f"{_ms(floor_import.p50)} ms",
                _x(ratio(built.p50, floor_import.p50)),
            ]
        )
    for function, floor in (
        ("InstallFunction", FLOOR_INSTALL),
        ("CallbackFunction", FLOOR_CALLBACK),
    ):
        total = cold.distribution("total", f"{function} (as built)")
        base = cold.distribution("total", floor)
        rows.append(
            [
                f"cold start + first request, {function}, median",
                f"{_ms(total.p50)} ms",
                f"{_ms(base.p50)} ms",
                _x(ratio(total.p50, base.p50)),
            ]
        )
    w = r.warm
    for name, product, base in (
        ("/callback", w.callback, w.callback_floor),
        ("/install", w.install, w.install_floor),
    ):
        for label, attribute in (("p50", "p50"), ("p99", "p99")):
            value, floor_value = getattr(product, attribute), getattr(base, attribute)
            rows.append(
                [
                    f"warm {name}, {label}",
                    f"{_ms(value)} ms",
                    f"{_ms(floor_value)} ms",
                    _x(ratio(value, floor_value)),
                ]
            )
    product_mem = next(f for f in r.memory if f.label == "CallbackFunction")
    floor_mem = next(f for f in r.memory if f.label.startswith("floor"))
    rows.append(
        [
            "peak RSS, callback environment",
            f"{product_mem.peak_rss_mib:.0f} MiB",
            f"{floor_mem.peak_rss_mib:.0f} MiB",
            _x(ratio(product_mem.peak_rss_mib, floor_mem.peak_rss_mib)),
        ]
    )
    return rows


def cold_rows(r: Results) -> list[list[str]]:
    cold = r.cold
    floor_import = cold.distribution("imports", FLOOR_IMPORT)
    rows = []
    labels = list(cold.imports)
    for label in labels:
        imp = cold.distribution("imports", label)
        first = cold.distribution("first", label)
        total = cold.distribution("total", label)
        base = FLOOR_INSTALL if "install" in label.lower() else FLOOR_CALLBACK
        floor_total = cold.distribution("total", base)
        rows.append(
            [
                label,
                f"{_ms(imp.p50)} / {_ms(imp.p90)}",
                _x(ratio(imp.p50, floor_import.p50)),
                f"{_ms(first.p50)} / {_ms(first.p90)}" if first.count else "–",
                f"{_ms(total.p50)} / {_ms(total.p90)}" if total.count else "–",
                _x(ratio(total.p50, floor_total.p50)) if total.count else "–",
            ]
        )
    return rows


def warm_rows(r: Results) -> list[list[str]]:
    w = r.warm
    rows = []
    for product, base in (
        (w.callback, w.callback_floor),
        (w.install, w.install_floor),
    ):
        for d in (product, base):
            rows.append(
                [
                    d.name,
                    str(d.count),
                    _ms(d.p50),
                    _ms(d.p95),
                    _ms(d.p99),
                    _x(ratio(d.p50, base.p50)) if d is product else "1.00×",
                ]
            )
    return rows


def memory_rows(r: Results) -> list[list[str]]:
    def traced(d: Distribution) -> str:
        return f"{d.p50:,.0f} / {max(d.samples or (0,)):,.0f}"

    return [
        [
            f.label,
            str(f.invocations),
            f"{f.import_rss_mib:.1f}",
            f"{f.first_rss_mib:.1f}",
            f"{f.peak_rss_mib:.1f}",
            f"{_ms(f.import_cpu_ms)} / {_ms(f.first_cpu_ms)} / {_ms(f.warm_cpu_ms)}",
            traced(f.traced_peak_kib),
        ]
        for f in r.memory
    ]


def projection_rows(r: Results) -> list[list[str]]:
    rows = []
    for f in r.memory:
        if f.label.startswith("floor"):
            continue
        cold_cpu = f.import_cpu_ms + f.first_cpu_ms
        cells = [f.label]
        for size in MEMORY_SIZES:
            share = min(size / ONE_VCPU_MB, 1.0)
            cells.append(f"{_ms(cold_cpu / share)} / {_ms(f.warm_cpu_ms / share)}")
        rows.append(cells)
    return rows


def markdown(r: Results) -> str:
    m = r.machine
    c = r.calls
    out = [
        "# Performance",
        "",
        "Every figure is a ratio against a baseline measured in the same run on",
        "the same machine, so it says what the product adds to the least work",
        "its design needs. Regenerate with `make bench` (about 10 minutes on two",
        "cores) or `.venv/bin/python -m bench --quick` (about 3); the numbers",
        "below are from one run.",
        "",
        f"Machine: {m.cores} cores, {m.cpu_model} ({m.architecture}), "
        f"{m.memory_gib:.1f} GiB memory, {m.python}, {m.system}."
        + (" Quick run." if r.quick else ""),
        "",
        "![Latency distributions](performance.png)",
        "",
        "## Summary",
        "",
        *_table(["figure", "product", "floor", "ratio"], summary_rows(r)),
        "## AWS requests per invocation",
        "",
        "Counted with botocore's `before-send` hook on every client the",
        "function's runtime holds (DynamoDB, KMS, and the Secrets Manager",
        "client inside Powertools Parameters); retries would count too.",
        "`tests/integration/test_aws_calls.py` pins these numbers.",
        "",
        *_table(
            ["invocation", "AWS requests"],
            [
                ["/install", _calls(c.install)],
                ["/callback, secret cached (warm)", _calls(c.warm_callback)],
                ["/callback, first in an environment (cold)", _calls(c.cold_callback)],
                [
                    f"/callback, mean over {r.warm.callback.count} warm flows",
                    f"{c.mean_warm_callback:.2f}",
                ],
            ],
        ),
        "The floor sends exactly these requests: the design needs each of",
        "them (read the state, claim state and code in one transaction, seal",
        "with KMS, store the installation, record the claim's outcome, and",
        "read the secret when it is not cached).",
        "",
        "## Cold start",
        "",
        f"{r.cold.repeats} fresh interpreters per target, interleaved. *Import*",
        "is the handler module's import with the built layer first on",
        "`sys.path` (Lambda's order; boto3 comes from the runtime, here the",
        "project's virtualenv, compiled). *First request* is the first",
        "invocation in that interpreter against the local stack, building the",
        "clients and reading the secret. The floor imports only `boto3` and",
        "`requests` and then sends the same requests directly (one `PutItem`",
        "for /install; the callback's requests with `GetSecretValue` for",
        "/callback). `PYTHONDONTWRITEBYTECODE=1` in every child, as Lambda's",
        "read-only code directories cannot cache bytecode either.",
        "",
        *_table(
            [
                "target",
                "import ms, median / p90",
                "import ÷ floor",
                "first request ms",
                "import + first ms",
                "÷ floor",
            ],
            cold_rows(r),
        ),
        "*No bytecode* is what `sam build` alone ships: SAM's Python builder",
        "unpacks wheels without compiling them and copies the layer's source,",
        "so every module of the layer (Powertools, requests, urllib3,",
        "`miro_oauth`) is compiled from source on every cold start. `make",
        "build` now compiles the build directory after `sam build`",
        "(`compileall --invalidation-mode unchecked-hash`: a zip archive keeps",
        "no exact mtimes, so the default timestamp check would reject the",
        "bytecode). *As built* is that output. X-Ray SDK loaded by a handler: "
        + ("**yes**" if r.cold.xray_loaded else "no")
        + ".",
        "",
        "## Warm latency",
        "",
        f"{r.warm.callback.count} full flows after 20 unrecorded ones, each",
        "/install, Allow at the local Miro, /callback, with the real handlers",
        "in-process against moto's server and the local Miro over HTTP on",
        "127.0.0.1. The /callback and /install invocations are timed alone. The",
        "floor (`bench/floor.py`) sends the callback's requests with plain",
        "boto3 clients and a `requests` session to the same servers, with the",
        "secret already read, interleaved flow by flow with the product's.",
        "",
        *_table(
            ["timed", "n", "p50 ms", "p95 ms", "p99 ms", "p50 ÷ floor"], warm_rows(r)
        ),
        "moto serves one request at a time (see the local stack's Limits), so",
        "absolute times are moto's; the ratio is the product's own overhead.",
        "",
        "## Load and correctness",
        "",
    ]
    d, rep = r.distinct, r.replay
    out += _table(
        ["run", "result"],
        [
            [
                f"{d.flows} distinct flows from {d.threads} threads",
                f"{d.installations} installations (each `token_version` 1), "
                f"{d.exchanges} code exchanges, statuses {d.statuses}, "
                f"{d.flows / d.seconds:.1f} flows/s; /callback p50 "
                f"{_ms(d.callback.p50)} ms, p95 {_ms(d.callback.p95)} ms, "
                f"p99 {_ms(d.callback.p99)} ms",
            ],
            [
                f"{rep.threads} threads replaying one code",
                f"statuses {rep.statuses}, {rep.exchanges} exchange at Miro, "
                f"installation `token_version` {rep.token_version}",
            ],
            ["concurrent token vending on an expiring token", r.vending],
        ],
    )
    out += [
        "Each distinct flow asks Miro for its own team (`/install?team_id=`),",
        "so every flow must end in its own installation. The run stops if a",
        "count is off. Under load the latency is moto's queue: it serves one",
        "request at a time.",
        "",
        "## Package",
        "",
        f"`make build` (`sam build` then bytecode), {r.build.seconds:.0f} s.",
        "",
    ]
    out += _table(
        ["artifact", "unzipped", "zipped", "zipped without bytecode"],
        [
            [a.name, _mib(a.unzipped), _mib(a.zipped), _mib(a.zipped_without_bytecode)]
            for a in r.build.artifacts
        ],
    )
    out += ["Largest distributions in the layer (unzipped, bytecode included):", ""]
    out += _table(
        ["package", "size"],
        [[name, _mib(size)] for name, size in r.build.layer_packages[:8]],
    )
    out += [
        "The Lambda limits are 50 MB zipped and 250 MB unzipped for a",
        "function with its layers.",
        "",
        "## Memory and CPU",
        "",
        "A fresh interpreter per row imports the function as built, handles",
        "the requests, then traces the allocations of the last few one by one",
        "(`tracemalloc`; the tracing pass is left out of the peak RSS).",
        "",
    ]
    out += _table(
        [
            "environment",
            "invocations",
            "RSS after import MiB",
            "after 1st",
            "peak",
            "CPU ms: import / 1st / warm each",
            "allocated per invocation KiB, median / max",
        ],
        memory_rows(r),
    )
    out += [
        "Lambda gives a function CPU in proportion to its memory, one vCPU at",
        "1,769 MB. Scaling this machine's CPU time by that share gives the",
        "CPU-bound part of a warm invocation, and an upper bound for a cold",
        "start (import + first request) if all of it ran at that share. An",
        "estimate: Graviton and this CPU differ.",
        "",
    ]
    out += _table(
        ["function", *[f"{size} MB: cold / warm ms" for size in MEMORY_SIZES]],
        projection_rows(r),
    )
    out += [
        "## How to read and rerun",
        "",
        "- `python -m bench` (or `make bench`) runs everything and rewrites",
        "  this page and the figure; `--quick` takes smaller samples.",
        "- Percentiles interpolate between closest ranks. Ratios divide the",
        "  product's figure by the floor's at the same percentile.",
        "- Nothing here is asserted by the test suite except the request",
        "  counts; the load run's counts are checked by the run itself.",
        f"- This run took {r.seconds / 60:.1f} minutes.",
        "",
    ]
    return "\n".join(out)


def _cdf(axis: object, d: Distribution, style: str) -> None:
    ordered = sorted(d.samples)
    n = len(ordered)
    axis.plot(  # type: ignore[attr-defined]
        ordered, [(i + 1) / n for i in range(n)], style, label=d.name, linewidth=1.4
    )


def figure(r: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    cold_import, cold_total, warm, load = axes.flat

    labels = list(r.cold.imports)
    cold_import.boxplot(
        [r.cold.imports[label] for label in labels], vert=False, tick_labels=labels
    )
    cold_import.set_title("Cold import (fresh interpreter), ms")
    cold_import.set_xlabel("ms")

    first_labels = [label for label in labels if r.cold.total.get(label)]
    cold_total.boxplot(
        [r.cold.total[label] for label in first_labels],
        vert=False,
        tick_labels=first_labels,
    )
    cold_total.set_title("Cold import + first request, ms")
    cold_total.set_xlabel("ms")

    _cdf(warm, r.warm.callback, "-")
    _cdf(warm, r.warm.callback_floor, "--")
    _cdf(warm, r.warm.install, "-")
    _cdf(warm, r.warm.install_floor, "--")
    warm.set_xscale("log")
    warm.set_title(f"Warm latency, {r.warm.callback.count} flows (CDF)")
    warm.set_xlabel("ms (log)")
    warm.legend(loc="lower right")

    _cdf(load, r.distinct.callback, "-")
    _cdf(load, r.distinct.install, "-")
    load.set_xscale("log")
    load.set_title(f"{r.distinct.flows} flows from {r.distinct.threads} threads (CDF)")
    load.set_xlabel("ms (log)")
    load.legend(loc="lower right")

    for axis in axes.flat:
        axis.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
