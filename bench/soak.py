"""
Soak test of C{twist txpush}: load for minutes, then check that nothing
failed and nothing leaked.

Run: python bench/soak.py [--duration 300] [--warm-up 60] [--no-drops]
    [--fenced-resets] [--connections 3] [--max-growth-kib 8192] [--no-report]

The load, the site and the measurements are L{txpush.testing.soak}'s
(tests/test_hardening.py runs 30 seconds of the same): h2load and a
push-accepting client (in a separate process, resetting pushes and dropping
connections mid-push among its visits) at once against C{twist txpush
--listen tcp:0:interface=127.0.0.1}, for C{--duration} seconds, while the
server's resident memory is sampled every second and its open file
descriptors are counted before and after.  C{--no-drops} keeps the push
client from dropping connections; C{--fenced-resets} makes it send its
resets only once the server has read its WINDOW_UPDATE frames.

A dropped connection must stop the producers of its pushes: one left
running or paused keeps its file open, which shows as descriptors open
after the load, and fails later with a traceback in the server's log (both
in the figures).

Writes bench/results/soak.md (the figures) and bench/results/soak.png (the
memory curve) unless C{--no-report}.  Exit status 0 when there were no
failures, the descriptors came back to their count before the load (within
2) and memory grew by less than C{--max-growth-kib} after the warm-up;
1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from procs import cpuSeconds  # noqa: E402
from report import plt, table  # noqa: E402

from txpush.testing.soak import (  # noqa: E402
    DEFAULT_MAX_GROWTH_KIB,
    SoakResult,
    soak,
    verdict,
)

RESULTS = HERE / "results"
DEFAULT_DURATION = 300.0
DEFAULT_WARM_UP = 60.0


def command(result: SoakResult) -> str:
    """The command line that gives C{result}."""
    return (
        "python bench/soak.py"
        + (
            ""
            if result.duration == DEFAULT_DURATION
            else f" --duration {result.duration:g}"
        )
        + ("" if result.drops else " --no-drops")
        + (" --fenced-resets" if result.fence else "")
    )


def figures(result: SoakResult, maxGrowthKiB: int) -> list[list[str]]:
    """The rows of the report's table: (figure, value)."""
    h, p = result.h2load, result.push
    perThousand = 1000 * result.cpuSeconds / max(1, result.served)
    return [
        ["duration", f"{result.duration:g} s (warm-up {result.warmUp:g} s)"],
        [
            "push client drops connections mid-push",
            "yes" if result.drops else "no (--no-drops)",
        ],
        [
            "push client sends resets with its WINDOW_UPDATEs, as they come",
            "no (--fenced-resets)" if result.fence else "yes",
        ],
        ["requests served (access log lines)", f"{result.served}"],
        ["of which 4xx or 5xx", f"{result.servedErrors}"],
        [
            "h2load requests",
            f"{h.requests} in {h.rounds} rounds ({h.status2xx} 2xx,"
            f" {h.status3xx} 3xx, {h.status4xx} 4xx, {h.status5xx} 5xx)",
        ],
        [
            "h2load failed / errored / timed out (its 3xx are pages that got"
            " 103 Early Hints first)",
            f"{h.failed} / {h.errored} / {h.timeout}",
        ],
        [
            "push client connections (dropped mid-push on purpose)",
            f"{p.connections} ({p.drops})",
        ],
        ["push client pages", f"{p.pages}"],
        [
            "pushes promised / completed / reset by the client",
            f"{p.pushesPromised} / {p.pushesCompleted} / {p.resetsSent}",
        ],
        ["103 Early Hints seen by the push client", f"{p.earlyHints}"],
        ["**failed responses**", f"**{result.failures}**"],
        [
            "server CPU time (per 1000 requests served)",
            f"{result.cpuSeconds:.1f} s ({perThousand:.2f} s)",
        ],
        ["VmRSS before the load", f"{result.rssStart} KiB"],
        ["VmRSS at the end of the warm-up", f"{result.rssAfterWarmUp} KiB"],
        ["VmRSS at the end", f"{result.rssEnd} KiB"],
        ["VmRSS max", f"{result.rssMax} KiB"],
        [
            "VmRSS growth after the warm-up (median of last tenth less first tenth)",
            f"{result.growthAfterWarmUp} KiB (bound {maxGrowthKiB} KiB)",
        ],
        ["VmRSS slope after the warm-up", f"{result.slopeKiBPerMinute:.1f} KiB/min"],
        ["file descriptors before / after", f"{result.fdsBefore} / {result.fdsAfter}"],
        ["descriptors open after, not before", _counted(result.leakedDescriptors)],
        ["server log lines that look like problems", f"{len(result.serverProblems)}"],
        ["server exit status (SIGTERM)", f"{result.exitStatus}"],
    ]


def writeReport(
    result: SoakResult,
    directory: Path = RESULTS,
    maxGrowthKiB: int = DEFAULT_MAX_GROWTH_KIB,
) -> None:
    """Write soak.md and soak.png into C{directory}."""
    directory.mkdir(parents=True, exist_ok=True)
    plot(result, directory / "soak.png")
    problems = verdict(result, maxGrowthKiB)
    lines = [
        "# Soak of `twist txpush`",
        "",
        f"Written by `{command(result)}`: h2load and a push-accepting python-h2"
        " client (a separate process) at once against `twist txpush --listen"
        " tcp:0:interface=127.0.0.1` (h2c on loopback), on a generated site of"
        " two pages whose manifest names five assets (one of 256 KiB).",
        "",
        f"Python {platform.python_version()}, {platform.machine()},"
        f" {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
        " UTC.",
        "",
        table(["figure", "value"], figures(result, maxGrowthKiB)),
        "",
        "Verdict: "
        + ("pass." if not problems else "FAIL: " + "; ".join(problems) + "."),
        "",
        "![VmRSS of the server, sampled every second](soak.png)",
        "",
    ]
    shown = (
        result.serverProblems[:20]
        + result.h2load.problems[:10]
        + result.push.problems[:10]
    )
    if shown:
        lines += ["Problems seen (first ones):", "", "```", *shown, "```", ""]
    (directory / "soak.md").write_text("\n".join(lines))


def _counted(targets: list[str]) -> str:
    counts = collections.Counter(targets)
    return ", ".join(f"{n} x `{t}`" for t, n in sorted(counts.items())) or "none"


def plot(result: SoakResult, path: Path) -> None:
    """Plot the server's VmRSS over the load into C{path}."""
    figure, axes = plt.subplots(figsize=(9, 4), dpi=100)
    times = [t for t, _ in result.samples]
    mib = [kib / 1024 for _, kib in result.samples]
    axes.plot(times, mib, linewidth=1.2, label="VmRSS")
    axes.axvline(result.warmUp, color="grey", linestyle="--", label="end of warm-up")
    axes.set_xlabel("seconds since the load started")
    axes.set_ylabel("MiB")
    axes.set_ylim(0, max(mib) * 1.15)
    axes.set_title(
        f"twist txpush under h2load and a push client: "
        f"{result.served} requests, {result.failures} failures"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION)
    parser.add_argument("--warm-up", type=float, default=None)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--max-growth-kib", type=int, default=DEFAULT_MAX_GROWTH_KIB)
    parser.add_argument("--fenced-resets", action="store_true")
    parser.add_argument("--no-drops", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    arguments = parser.parse_args(argv)
    warmUp = arguments.warm_up
    if warmUp is None:
        warmUp = min(DEFAULT_WARM_UP, arguments.duration / 5)
    result = soak(
        arguments.duration,
        warmUp,
        arguments.connections,
        fence=arguments.fenced_resets,
        drops=not arguments.no_drops,
        cpuSeconds=cpuSeconds,
    )
    if not arguments.no_report:
        writeReport(result, maxGrowthKiB=arguments.max_growth_kib)
    problems = verdict(result, arguments.max_growth_kib)
    print(
        f"requests served {result.served}, failures {result.failures}, "
        f"VmRSS {result.rssStart}/{result.rssEnd}/{result.rssMax} KiB "
        f"(start/end/max), growth after warm-up {result.growthAfterWarmUp} KiB, "
        f"fds {result.fdsBefore} -> {result.fdsAfter}"
    )
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
