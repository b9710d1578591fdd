"""
The txpush benchmark: page-complete time, wasted pushes and server cost of
txpush against stock twist web, nghttpd and H2O, in one run.

Run: python bench/run.py            # the full run, into bench/results/
     python bench/run.py --quick    # under a minute, into bench/results/quick/
     python bench/run.py --txpush-tree DIR --txpush-label LABEL
                                    # twist txpush from another copy of txpush

See bench/README.md for what each measurement means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import nghttpclient  # noqa: E402
import report  # noqa: E402
import workload  # noqa: E402
from procs import HOST, Processes, cpuSeconds, freePorts  # noqa: E402
from servers import SERVERS, Server, Setup  # noqa: E402

from txpush.devcert import ensureDevelopmentCertificate  # noqa: E402

RTTS_MS = (0, 50, 150)
REPEAT_RTT_MS = 50


@dataclass(frozen=True)
class Plan:
    """How much of everything one run measures."""

    name: str
    firstVisitRuns: int
    repeatVisitRuns: int
    h2loadRequests: int
    h2loadRounds: int
    pushLoadSeconds: float
    pushLoadRounds: int
    pushLoadClients: int
    digest: bool


FULL = Plan("full", 7, 5, 6000, 7, 8.0, 5, 3, True)
QUICK = Plan("quick", 3, 2, 1000, 2, 2.0, 1, 3, False)


@dataclass
class Running:
    """A server that is up."""

    server: Server
    port: int
    process: subprocess.Popen[bytes]

    def url(self, port: int | None = None) -> str:
        """Its page's URL, directly or through the proxy port given."""
        return f"https://{HOST}:{port or self.port}/"


def log(message: str) -> None:
    """Progress, on standard error."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(work: Path) -> Setup:
    """Generate the site and the certificate into C{work}."""
    os.chmod(work, 0o755)  # H2O serves the site as nobody.
    site = workload.generate(work)
    stateDir = work / "state"
    certificate, key = ensureDevelopmentCertificate(stateDir)
    return Setup(site, stateDir, certificate, key, work)


def startServers(
    processes: Processes,
    setup: Setup,
    servers: Iterable[Server] = SERVERS,
    txpushTree: Path | None = None,
) -> list[Running]:
    """
    Start every installed server at once, then wait for each to listen.

    @param txpushTree: A directory put first on the C{PYTHONPATH} of the
        txpush servers (a copy of the repository holding C{txpush/}), or
        L{None} for the work tree's.
    """
    wanted = list(servers)
    available = [server for server in wanted if server.available()]
    for server in wanted:
        if server not in available:
            log(f"skipping {server.name}: not installed (see bench/README.md)")
    ports = freePorts(len(available))

    def argv(server: Server, port: int) -> list[str]:
        command = server.command(setup, port)
        if txpushTree is not None and server.name.startswith("txpush"):
            return ["env", f"PYTHONPATH={txpushTree}", *command]
        return command

    running = [
        Running(server, port, processes.spawn(server.name, argv(server, port)))
        for server, port in zip(available, ports, strict=True)
    ]
    for item in running:
        processes.waitForPort(item.server.name, item.process, item.port, 60)
    return running


def startProxy(
    processes: Processes, running: list[Running]
) -> dict[tuple[str, int], int]:
    """
    Start the delaying proxy with a route per server and RTT.

    @return: The proxy's port for each (server name, RTT in ms).
    """
    argv = [sys.executable, str(HERE / "proxy.py")]
    for item in running:
        for rtt in RTTS_MS:
            argv += ["--route", f"{rtt / 2:g}:{item.port}"]
    process = processes.spawn("proxy", argv, stdout=subprocess.PIPE)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else b""
    if not line:
        raise RuntimeError("the proxy did not start:\n" + processes.logTail("proxy"))
    ports = json.loads(line)
    return {
        (item.server.name, rtt): ports[f"{rtt / 2:g}:{item.port}"]
        for item in running
        for rtt in RTTS_MS
    }


def tlsOf(item: Running) -> str:
    """The TLS version, cipher and ALPN protocol a server negotiates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection((HOST, item.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        cipher = tls.cipher()
        return (
            f"{tls.version()} {cipher[0] if cipher else '?'},"
            f" ALPN {tls.selected_alpn_protocol()}"
        )


def firstVisits(
    plan: Plan,
    site: workload.Site,
    running: list[Running],
    proxy: dict[tuple[str, int], int],
) -> dict[str, Any]:
    """
    Page-complete time of first visits (no cookie), each cell measured once
    per round, the servers' order rotated every round.

    A server that does not push is loaded with C{nghttp -a}, which requests
    the assets the HTML links once the page arrives.  One that pushes is
    loaded without C{-a}, and the load counts only if the page and every
    asset arrived, pushed: C{nghttp -a} runs its HTML parser over every
    pushed response body (see L{clientCheck}), which a browser does not.
    """
    cells: dict[str, dict[str, Any]] = {
        item.server.name: {
            str(rtt): {"times": [], "pushed": [], "clientCPU": [], "errors": []}
            for rtt in RTTS_MS
        }
        for item in running
    }
    for round_ in range(plan.firstVisitRuns):
        log(f"first visit: round {round_ + 1} of {plan.firstVisitRuns}")
        order = running[round_ % len(running) :] + running[: round_ % len(running)]
        for rtt in RTTS_MS:
            for item in order:
                cell = cells[item.server.name][str(rtt)]
                url = item.url(proxy[item.server.name, rtt])
                try:
                    page = nghttpclient.load(
                        url,
                        assets=not item.server.pushes,
                        expected=1 + len(site.assets),
                    )
                except nghttpclient.LoadError as e:
                    cell["errors"].append(str(e))
                    continue
                cell["times"].append(page.pageComplete)
                cell["pushed"].append(len(page.pushedPaths))
                cell["clientCPU"].append(page.clientCPU)
    return cells


def clientCheck(
    site: workload.Site, running: list[Running], loads: int = 3
) -> dict[str, Any]:
    """
    nghttp's own cost: loads directly (no proxy), with C{-a} and, for the
    servers that push, without, each giving page-complete times and
    nghttp's CPU time.
    """
    results: dict[str, Any] = {}
    for item in running:
        modes = (True, False) if item.server.pushes else (True,)
        cell: dict[str, Any] = {}
        for assets in modes:
            times, cpu = [], []
            for _ in range(loads):
                page = nghttpclient.load(
                    item.url(), assets=assets, expected=1 + len(site.assets)
                )
                times.append(page.pageComplete)
                cpu.append(page.clientCPU)
            cell["-a" if assets else "no -a"] = {"times": times, "clientCPU": cpu}
        results[item.server.name] = cell
    log("client check done")
    return results


def repeatVisits(
    plan: Plan,
    site: workload.Site,
    running: list[Running],
    proxy: dict[tuple[str, int], int],
) -> dict[str, Any]:
    """
    Repeat visits: take each server's cookies from a first visit, then load
    the page alone with them, and count the pushed bytes it did not need.
    """
    results: dict[str, Any] = {}
    for item in running:
        first = nghttpclient.load(
            item.url(), frames=True, expected=1 + len(site.assets)
        )
        cookie = first.cookieHeader
        cell: dict[str, Any] = {
            "cookie": cookie,
            "firstVisitPushedBytes": first.pushedDataBytes,
            "firstVisitPushedByPath": first.pushedBytesByPath,
            "contentEncodings": first.encodings,
            "wastedBytes": [],
            "wastedByPath": [],
            "promises": [],
            "resets": [],
            "times": [],
            "errors": [],
        }
        url = item.url(proxy[item.server.name, REPEAT_RTT_MS])
        for _ in range(plan.repeatVisitRuns):
            try:
                page = nghttpclient.load(url, assets=False, cookie=cookie, frames=True)
            except nghttpclient.LoadError as e:
                cell["errors"].append(str(e))
                continue
            cell["wastedBytes"].append(page.pushedDataBytes)
            cell["wastedByPath"].append(page.pushedBytesByPath)
            cell["promises"].append(page.promises)
            cell["resets"].append(page.resets)
            cell["times"].append(page.pageComplete)
        results[item.server.name] = cell
        log(f"repeat visit: {item.server.name}: {cell['wastedBytes']} bytes pushed")
    return results


_FINISHED = re.compile(r"finished in [0-9.]+\w*, ([0-9.]+) req/s")
_SUCCEEDED = re.compile(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded")


def h2load(item: Running, requests: int) -> dict[str, float]:
    """
    One h2load run against a server, directly (no proxy).

    @return: Requests per second, and the server's CPU milliseconds per
        request over the run.
    """
    argv = ["h2load", "-n", str(requests), "-c", "10", "-m", "10", item.url()]
    cpu = cpuSeconds(item.process.pid)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    cpu = cpuSeconds(item.process.pid) - cpu
    finished = _FINISHED.search(done.stdout)
    succeeded = _SUCCEEDED.search(done.stdout)
    if finished is None or succeeded is None or int(succeeded.group(1)) != requests:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return {"rps": float(finished.group(1)), "cpuMsPerRequest": cpu / requests * 1e3}


def serverCost(plan: Plan, running: list[Running]) -> dict[str, Any]:
    """
    h2load against stock twist web and txpush (cache-aware, the default),
    alternated so that both see the same machine noise.
    """
    pair = [
        item for item in running if item.server.name in ("twist-web", "txpush-cache")
    ]
    results: dict[str, list[dict[str, float]]] = {item.server.name: [] for item in pair}
    for item in pair:
        h2load(item, 500)  # Warm up: imports, caches, the JIT-less interpreter.
    for round_ in range(plan.h2loadRounds):
        for item in pair if round_ % 2 == 0 else pair[::-1]:
            results[item.server.name].append(h2load(item, plan.h2loadRequests))
        log(f"h2load: round {round_ + 1} of {plan.h2loadRounds}")
    return results


def pushLoad(
    plan: Plan, site: workload.Site, item: Running, mode: str
) -> dict[str, float]:
    """
    One round of the push-accepting load client against one server: several
    client processes, each loading page and assets on new connections.
    """
    startAt = time.time() + 1.0  # After the clients' imports.
    argv = [
        sys.executable,
        str(HERE / "loadclient.py"),
        "--port",
        str(item.port),
        "--mode",
        mode,
        "--assets",
        ",".join(site.assets),
        "--start-at",
        f"{startAt:.3f}",
        "--duration",
        f"{plan.pushLoadSeconds:g}",
    ]
    clients = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        for _ in range(plan.pushLoadClients)
    ]
    try:
        time.sleep(max(0.0, startAt - time.time()))
        cpu = cpuSeconds(item.process.pid)
        outputs = [client.communicate()[0] for client in clients]
        cpu = cpuSeconds(item.process.pid) - cpu
    finally:
        for client in clients:  # Only if the run is being interrupted.
            if client.poll() is None:
                client.kill()
                client.wait()
    counts = [json.loads(output) for output in outputs]
    pages = sum(count["pages"] for count in counts)
    seconds = max(c["ended"] for c in counts) - min(c["started"] for c in counts)
    return {
        "pagesPerSecond": pages / seconds,
        "pages": pages,
        "errors": sum(count["errors"] for count in counts),
        "cpuMsPerPage": cpu / max(pages, 1) * 1e3,
    }


def pushCost(plan: Plan, site: workload.Site, running: list[Running]) -> dict[str, Any]:
    """
    Pages per second with pushes accepted: txpush pushing the assets
    (--no-digest) against the same client fetching them from txpush
    (--no-push), alternated.
    """
    byName = {item.server.name: item for item in running}
    arms = (("push", byName["txpush-push"]), ("fetch", byName["txpush-hints"]))
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode, _ in arms}
    for round_ in range(plan.pushLoadRounds):
        for mode, item in arms if round_ % 2 == 0 else arms[::-1]:
            results[mode].append(pushLoad(plan, site, item, mode))
        log(f"push load: round {round_ + 1} of {plan.pushLoadRounds}")
    return results


def digestBenchmark(plan: Plan) -> dict[str, Any]:
    """Run bench/bench_digest.py (full runs), and read its table."""
    path = HERE / "results" / "digest.md"
    if plan.digest:
        log("digest: running bench/bench_digest.py")
        subprocess.run(
            [sys.executable, str(HERE / "bench_digest.py")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        fresh = True
    else:
        fresh = False
    return {"markdown": path.read_text() if path.exists() else "", "fresh": fresh}


def toolVersions() -> dict[str, str]:
    """The version of each program compared."""
    versions = {}
    for name, argv in (  # The first line of each, without the program's name.
        ("nghttp", ["nghttp", "--version"]),
        ("h2load", ["h2load", "--version"]),
        ("nghttpd", ["nghttpd", "--version"]),
        ("h2o", ["h2o", "--version"]),
    ):
        if shutil.which(argv[0]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            line = (done.stdout or done.stderr).splitlines()[0].strip()
            versions[name] = line.split()[-1].split("/")[-1]
    import h2
    import twisted

    versions["twisted"] = twisted.__version__
    versions["h2"] = h2.__version__
    versions["python"] = platform.python_version()
    return versions


def txpushRevision() -> str:
    """The commit of the work tree, and whether txpush/ differs from it."""
    repo = HERE.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "txpush", "twisted")
    return commit + (" with uncommitted changes to txpush" if changed else "")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "load": os.getloadavg(),
    }


def resultsHead(
    plan: Any,
    versions: dict[str, str],
    txpushTree: Path | None,
    txpushLabel: str | None,
) -> dict[str, Any]:
    """
    What a bench's results begin with.

    @param plan: The run's plan, a dataclass.
    @param versions: The versions of the programs measured.
    @param txpushTree: The C{--txpush-tree}, if any.
    @param txpushLabel: The C{--txpush-label}, if any.
    @return: The plan, the time, the machine, the versions and which txpush
        was measured: the work tree's commit, or the other tree's label.
    """
    return {
        "plan": plan.__dict__,
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions,
        "txpush": (
            txpushRevision()
            if txpushTree is None
            else txpushLabel or f"the copy in {txpushTree}"
        ),
    }


def handWrittenNotes(report: Path, mark: str) -> str:
    """
    @param report: A bench's Markdown report, which may not exist yet.
    @param mark: The line after which its analysis is written by hand.
    @return: That analysis, from the mark on, to keep when the report is
        written again; empty if there is none.
    """
    if not report.exists():
        return ""
    text = report.read_text()
    return mark + text.split(mark, 1)[1] if mark in text else ""


def runReportedBench(
    argv: list[str] | None,
    *,
    description: str,
    quickHelp: str,
    name: str,
    measure: Callable[[argparse.Namespace], dict[str, Any]],
    writeReport: Callable[[dict[str, Any], Path], None],
    addOptions: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """
    The command line of a bench that writes C{NAME.json} and a report:
    C{--quick}, C{--out}, C{--report} (rewrite the report from the JSON)
    and the txpush tree options.  SIGTERM ends a run as Ctrl-C does, through
    the bench's own clean-up (then the program exits with status 143;
    after Ctrl-C, with 130 and the line C{interrupted}).

    @param argv: The arguments, or L{None} for C{sys.argv}.
    @param description: What C{--help} says the bench is.
    @param quickHelp: What C{--help} says C{--quick} does.
    @param name: The results' file name, without extension.
    @param measure: Runs the bench: called with the parsed options
        (C{quick}, C{txpush_tree}, C{txpush_label} and those of
        C{addOptions}); returns the results, with their C{seconds}.
    @param writeReport: Writes the report from the results, into a
        directory.
    @param addOptions: Adds the bench's own options to the parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quickHelp)
    if addOptions is not None:
        addOptions(parser)
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write (default: bench/results, or bench/results/quick)",
    )
    parser.add_argument(
        "--report", action="store_true", help="rewrite the report from the JSON"
    )
    addTxpushTreeOptions(parser)
    options = parser.parse_args(argv)
    out = options.out or HERE / "results" / ("quick" if options.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"{name}.json"
    if options.report:
        writeReport(json.loads(raw.read_text()), out)
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        results = measure(options)
    except KeyboardInterrupt:  # The bench's clean-up has run.
        log("interrupted")
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    raw.write_text(json.dumps(results, indent=1) + "\n")
    writeReport(results, out)
    log(f"done in {results['seconds']:.0f} s: {out / (name + '.md')}")


def addTxpushTreeOptions(parser: argparse.ArgumentParser) -> None:
    """
    Add C{--txpush-tree} and C{--txpush-label}, which every bench that runs
    txpush takes.

    @param parser: The bench's parser.
    """
    parser.add_argument(
        "--txpush-tree",
        type=Path,
        help="run txpush from this copy of the repository (first on its"
        " PYTHONPATH), e.g. a git archive of a commit",
    )
    parser.add_argument(
        "--txpush-label",
        help="what the report calls the txpush of --txpush-tree (a commit)",
    )


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write (default: bench/results, or bench/results/quick)",
    )
    addTxpushTreeOptions(parser)
    options = parser.parse_args(argv)
    plan = QUICK if options.quick else FULL
    out = options.out or HERE / "results" / ("quick" if options.quick else "")
    out.mkdir(parents=True, exist_ok=True)

    # SIGTERM ends the run like Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="txpush-bench-"))
    processes = Processes(work)
    try:
        setup = prepare(work)
        site = setup.site
        log(f"{plan.name} run; site of {site.assetBytes} asset bytes in {work}")
        running = startServers(processes, setup, txpushTree=options.txpush_tree)
        proxy = startProxy(processes, running)
        for item in running:  # Warm up each server once, directly.
            nghttpclient.load(item.url(), expected=1 + len(site.assets))
        log(f"{len(running)} servers up, proxy up")
        results: dict[str, Any] = {
            **resultsHead(
                plan, toolVersions(), options.txpush_tree, options.txpush_label
            ),
            "servers": {item.server.name: item.server.label for item in running},
            "tls": {item.server.name: tlsOf(item) for item in running},
            "site": {
                "assets": list(site.assets),
                "sizes": site.sizes,
                "types": site.types,
            },
            "rtts": list(RTTS_MS),
            "repeatRtt": REPEAT_RTT_MS,
        }
        results["firstVisit"] = firstVisits(plan, site, running, proxy)
        results["clientCheck"] = clientCheck(site, running, plan.repeatVisitRuns)
        results["repeatVisit"] = repeatVisits(plan, site, running, proxy)
        results["serverCost"] = serverCost(plan, running)
        results["pushCost"] = pushCost(plan, site, running)
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)
    results["digest"] = digestBenchmark(plan)
    results["seconds"] = time.monotonic() - started
    (out / "raw.json").write_text(json.dumps(results, indent=1) + "\n")
    report.write(results, out)
    log(f"done in {results['seconds']:.0f} s: {out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # The servers are already stopped.
        log("interrupted")
        sys.exit(130)
