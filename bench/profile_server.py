"""
Where txpush's time goes when it serves a page, against stock twist web.

Run: python bench/profile_server.py [--rounds N] [--requests N]

1. Ablation: h2load's requests per second (h2load takes no pushes, so each
   page is served as to a browser) of stock twist web and of twist txpush
   with its features switched off one at a time, alternated over rounds;
   medians and the ratio to twist web.
2. Profile (needs py-spy in the virtualenv: pip install py-spy): py-spy
   samples twist web and txpush (the default configuration) during an h2load
   run; the CPU each part of serving a page takes, per request.

Writes bench/results/profile.md.  Sampling stops the server for each sample,
so the microseconds of part 2 are inflated alike for both servers: compare
them with each other, not with part 1.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from procs import Processes  # noqa: E402
from run import (  # noqa: E402
    Running,
    h2load,
    log,
    prepare,
    startServers,
    txpushRevision,
)
from servers import Server, twistWebCommand, txpushCommand  # noqa: E402

PYSPY = Path(sys.executable).parent / "py-spy"
RATE = 250  # samples per second
OUT = HERE / "results" / "profile.md"

VARIANTS = (
    Server("twist-web", "stock twist web", False, twistWebCommand),
    Server("default", "txpush, default (cache-aware)", True, txpushCommand()),
    Server(
        "no-hints", "txpush --no-early-hints", True, txpushCommand("--no-early-hints")
    ),
    Server(
        "no-hints-preload",
        "txpush --no-early-hints --no-link-preload",
        True,
        txpushCommand("--no-early-hints", "--no-link-preload"),
    ),
    Server(
        "no-hints-preload-digest",
        "txpush --no-early-hints --no-link-preload --no-digest",
        True,
        txpushCommand("--no-early-hints", "--no-link-preload", "--no-digest"),
    ),
    Server(
        "no-manifest",
        "txpush without a manifest (no page has assets)",
        True,
        txpushCommand(manifest=False),
    ),
)

# The parts of serving a page, as the functions whose inclusive samples
# measure them.  Several nest: the table is not a sum.
PARTS = (
    ("Request.process", "the whole request, from its headers to its end"),
    ("CacheAwarePushResource.render", "txpush: the page's resource, all of it"),
    (
        "CacheAwarePushResource._beginPage",
        "txpush: read the request, find the assets, hint",
    ),
    ("PageSession.earlyHints", "txpush: plan the 103 Early Hints"),
    (
        "CacheAwarePushResource._respond",
        "txpush: plan, push, Link headers, digest cookie",
    ),
    ("PageSession._updateDigest", "txpush: update and encode the digest cookie"),
    ("planPage", "txpush: the push policy (called twice per page)"),
    ("CacheDigest.fromCookieHeaders", "txpush: parse the digest cookie"),
    ("formatPreloadLink", "txpush: format a Link value"),
    ("CoalescingH2Connection.sendInformational", "txpush: send the 103"),
    ("H2Connection._requestReceived", "twisted: open a stream for a request"),
    ("PushingH2Connection._requestReceived", "txpush: the same, and note its origin"),
    ("FlowControlAwarePriorityTree.__next__", "txpush: schedule streams by window"),
    ("pushLogFormatter", "txpush: the access log line"),
    ("File.render_GET", "twisted: the static file"),
    ("ValidatedFile.render_GET", "txpush: the static file (small ones from memory)"),
    ("H2Connection.send_headers", "h2: send a header block (103 and 200)"),
    ("validate_outbound_headers", "h2: check outbound headers"),
    ("Encoder.encode", "hpack: compress headers"),
    ("HTTPFactory.log", "twisted: log a request (the formatter included)"),
    ("H2Connection._sendPrioritisedData", "twisted: the DATA frame loop"),
    (
        "CoalescingH2Connection._sendPrioritisedData",
        "txpush: the DATA frame loop (a turn's frames in one write)",
    ),
    ("TLSMemoryBIOProtocol.write", "TLS: encrypt"),
)

_FRAME = re.compile(r"^(.*?) \(")


def profile(item: Running, requests: int) -> dict[str, float] | None:
    """
    Sample a server with py-spy during an h2load run.

    @return: Microseconds of samples per request for each function (by
        name, inclusive), with the total under C{"*"}; L{None} without
        py-spy.
    """
    if not PYSPY.exists():
        return None
    out = Path(tempfile.mkdtemp()) / "profile.txt"
    sampler = subprocess.Popen(
        [
            str(PYSPY),
            *("record", "--pid", str(item.process.pid), "--rate", str(RATE)),
            *("--format", "raw", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        h2load(item, 200)  # Let py-spy attach before the measured run.
        h2load(item, requests)
    finally:
        sampler.send_signal(signal.SIGINT)  # py-spy writes its output then.
        sampler.wait(30)
    samples: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        names = {m.group(1) for f in stack.split(";") if (m := _FRAME.match(f))}
        for name in names:
            samples[name] += int(count)
        samples["*"] += int(count)
    shutil.rmtree(out.parent, ignore_errors=True)
    total = requests + 200
    return {name: n / RATE / total * 1e6 for name, n in samples.items()}


def main(argv: list[str] | None = None) -> None:
    """Run the ablation and the profile; write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=4000)
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="txpush-profile-"))
    processes = Processes(work)
    try:
        running = startServers(processes, prepare(work), VARIANTS)
        rates: dict[str, list[float]] = {item.server.name: [] for item in running}
        for item in running:
            h2load(item, 500)  # Warm up.
        for round_ in range(options.rounds):
            order = running if round_ % 2 == 0 else running[::-1]
            for item in order:
                rates[item.server.name].append(h2load(item, options.requests)["rps"])
            log(f"ablation: round {round_ + 1} of {options.rounds}")
        byName = {item.server.name: item for item in running}
        profiles = {
            name: profile(byName[name], options.requests)
            for name in ("twist-web", "default")
        }
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)
    OUT.write_text(report(running, rates, profiles, options))
    print(OUT.read_text())


def report(
    running: list[Running],
    rates: dict[str, list[float]],
    profiles: dict[str, dict[str, float] | None],
    options: argparse.Namespace,
) -> str:
    """The Markdown report."""
    web = statistics.median(rates["twist-web"])
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    lines = [
        "# Where txpush's time goes",
        "",
        f"`python bench/profile_server.py` at {when}, txpush at"
        f" {txpushRevision()}, on {os.cpu_count()} cores: h2load -n"
        f" {options.requests} -c 10 -m 10, {options.rounds} rounds alternating"
        " the servers, medians (min-max); the site of bench/run.py.",
        "",
        "| server | requests/s | / twist web |",
        "|:---|---:|---:|",
    ]
    for item in running:
        values = rates[item.server.name]
        lines.append(
            f"| {item.server.label} | {statistics.median(values):.0f}"
            f" ({min(values):.0f}-{max(values):.0f}) |"
            f" {statistics.median(values) / web:.2f} |"
        )
    web, txpush = profiles["twist-web"], profiles["default"]
    if web is None or txpush is None:
        lines += ["", "py-spy is not installed: no profile.", ""]
        return "\n".join(lines)
    lines += [
        "",
        f"py-spy ({RATE} Hz) during an h2load run: CPU microseconds per request"
        " spent in each part (inclusive; parts nest, so they do not add up).",
        "",
        "| part | function | twist web | txpush |",
        "|:---|:---|---:|---:|",
        f"| everything | | {web['*']:.0f} | {txpush['*']:.0f} |",
    ]
    for name, meaning in PARTS:
        lines.append(
            f"| {meaning} | `{name}` | {web.get(name, 0):.0f} |"
            f" {txpush.get(name, 0):.0f} |"
        )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    main()
