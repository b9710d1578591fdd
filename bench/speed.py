"""
Requests per second, side by side: h2load against stock twist web, twist
txpush, txpush's PushSite over a plain tree, hypercorn, nghttpd, H2O and
Apache, over TLS and h2c, on a small page and on the bench's page, the
servers alternating round by round; plus txpush and twist web at 1 to 1000
connections, the memory of an idle HTTP/2 connection, and txpush's
C{--workers}.

Run: python bench/speed.py [--quick] [--rounds N] [--out DIR]
        [--txpush-tree DIR --txpush-label LABEL]
     python bench/speed.py --report [--out DIR]   (rewrite the report)

Writes bench/results/speed.md, speed.json and speed.png (a quick run into
bench/results/quick/).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import re
import resource
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import apache  # noqa: E402
import workload  # noqa: E402
from procs import HOST, Processes, freePorts  # noqa: E402
from run import (  # noqa: E402
    log,
    prepare,
    resultsHead,
    runReportedBench,
    toolVersions,
)
from servers import (  # noqa: E402
    _H2O_CONFIG,
    BIN,
    TWIST,
    Setup,
    _nghttpd,
    twistWebCommand,
    txpushCommand,
)

TRANSPORTS = ("tls", "h2c")
TRANSPORT_LABELS = {"tls": "TLS (h2 by ALPN)", "h2c": "h2c (prior knowledge)"}
PAGES = ("small", "bench")
PAGE_LABELS = {"small": "small page", "bench": "the bench's page"}
BASELINE = "twist-web"
REPORT = "speed"
NOTES = HERE / "results" / "speed-notes.md"
MEMORY_GOAL_KIB = 50
CONNECTION_ROUNDS = 2  # At most: a run at 1000 connections can take minutes.


@dataclass(frozen=True)
class Plan:
    """
    How much one run measures.

    @ivar requests: h2load's N on each page, side by side and for the
        workers.
    @ivar divisors: The contenders whose N is the page's divided by this:
        hypercorn, at about 300 requests/s, would otherwise take a third of
        a full run.
    @ivar connectionRequests: N at each connection count (at least the
        count: every connection makes a request).
    """

    name: str
    requests: dict[str, int]
    divisors: dict[str, int]
    rounds: int
    warmup: int
    connections: tuple[int, ...]
    connectionRequests: int
    idleConnections: int

    def requestsOf(self, contender: str, page: str) -> int:
        """A contender's N on a page."""
        return self.requests[page] // self.divisors.get(contender, 1)


FULL = Plan(
    "full",
    {"small": 6000, "bench": 3000},
    {"hypercorn": 3},
    rounds=3,
    warmup=500,
    connections=(1, 10, 100, 1000),
    connectionRequests=3000,
    idleConnections=500,
)
QUICK = replace(
    FULL,
    name="quick",
    requests={"small": 600, "bench": 300},
    rounds=1,
    warmup=100,
    connectionRequests=300,
    idleConnections=100,
)


# -- The servers -------------------------------------------------------------


Ports = dict[str, int]


@dataclass(frozen=True)
class Contender:
    """
    One server of the comparison.

    @ivar name: A short key.
    @ivar label: What the tables call it.
    @ivar transports: The transports it serves.
    @ivar command: Its command line, given the setup and a port for each
        transport it is to serve.
    @ivar together: Whether one process serves every transport (else one
        process each).
    @ivar txpush: Whether it runs txpush's code (so C{--txpush-tree}
        applies).
    @ivar available: Whether its program is installed.
    @ivar description: How it is run, for the report.
    """

    name: str
    label: str
    transports: tuple[str, ...]
    command: Callable[[Setup, Ports], list[str]]
    description: str
    together: bool = True
    txpush: bool = False
    available: Callable[[], bool] = lambda: True


def _listenH2c(port: int) -> tuple[str, str]:
    return ("--listen", f"tcp:{port}:interface={HOST}")


def _txpush(*flags: str, manifest: bool = True) -> Callable[[Setup, Ports], list[str]]:
    def command(setup: Setup, ports: Ports) -> list[str]:
        h2c = _listenH2c(ports["h2c"]) if "h2c" in ports else ()
        return txpushCommand(*flags, *h2c, manifest=manifest)(setup, ports["tls"])

    return command


def _pushSite(setup: Setup, ports: Ports) -> list[str]:
    return [
        sys.executable,
        str(HERE / "speed_servers.py"),
        "pushsite",
        *("--site", str(setup.site.root)),
        *("--tls-port", str(ports["tls"]), "--h2c-port", str(ports["h2c"])),
        *("--certificate", str(setup.certificate), "--key", str(setup.key)),
    ]


def _hypercorn(setup: Setup, ports: Ports) -> list[str]:
    return [
        "env",
        f"PYTHONPATH={HERE}",
        f"SPEED_SITE={setup.site.root}",
        str(BIN / "hypercorn"),
        *("--workers", "1", "--keep-alive", "120"),
        *("--certfile", str(setup.certificate), "--keyfile", str(setup.key)),
        *("--bind", f"{HOST}:{ports['tls']}"),
        *("--insecure-bind", f"{HOST}:{ports['h2c']}"),
        "speed_servers:app",
    ]


def _nghttpdEither(setup: Setup, ports: Ports) -> list[str]:
    if "tls" in ports:
        return _nghttpd(setup, ports["tls"])
    argv = _nghttpd(setup, ports["h2c"])[:-2]  # Without the key and certificate.
    return [argv[0], "--no-tls", *argv[1:]]


def _h2oBoth(setup: Setup, ports: Ports) -> list[str]:
    """
    H2O as bench/servers.py configures it (casper, the mruby handler adding
    the page's Link headers), with a second, cleartext listener: a copy of
    the host with a listen of its own.
    """
    run = setup.work / "h2o"
    run.mkdir(parents=True, exist_ok=True)
    os.chmod(run, 0o777)  # H2O drops to nobody, who writes its logs here.
    links = "\\n".join(
        f"<{path}>; rel=preload; as={workload.asOf(path)}"
        + ("; crossorigin" if workload.asOf(path) == "font" else "")
        for path in setup.site.assets
    )
    text = _H2O_CONFIG.format(
        run=run,
        port=ports["tls"],
        certificate=setup.certificate,
        key=setup.key,
        links=links,
        root=setup.site.root,
    )
    head, hosts = text.split("hosts:\n", 1)
    tlsHost = f'  "127.0.0.1:{ports["tls"]}":\n'
    assert hosts.startswith(tlsHost), "servers._H2O_CONFIG changed: update speed.py"
    plain = hosts.replace(
        tlsHost,
        f'  "127.0.0.1:{ports["h2c"]}":\n'
        f"    listen:\n      host: {HOST}\n      port: {ports['h2c']}\n",
        1,
    )
    config = run / "h2o.conf"
    config.write_text(head + "hosts:\n" + hosts + plain)
    return ["h2o", "-c", str(config)]


_APACHE_BODY = """\
KeepAliveTimeout 120
H2Push off
DocumentRoot {root}
DirectoryIndex index.html
<Directory {root}>
  Require all granted
</Directory>
Listen {host}:{tls}
Listen {host}:{h2c}
<VirtualHost {host}:{tls}>
  Protocols h2 http/1.1
  SSLEngine on
  SSLCertificateFile {certificate}
  SSLCertificateKeyFile {key}
</VirtualHost>
<VirtualHost {host}:{h2c}>
  Protocols h2c http/1.1
</VirtualHost>
"""


def _apache(setup: Setup, ports: Ports) -> list[str]:
    body = _APACHE_BODY.format(
        host=HOST,
        tls=ports["tls"],
        h2c=ports["h2c"],
        certificate=setup.certificate,
        key=setup.key,
        root=setup.site.root,
    )
    modules = ("authz_core", "mime", "dir", "ssl", "http2")
    return apache.command(apache.config(setup.work / "apache", modules, body))


def _installed(program: str) -> Callable[[], bool]:
    return lambda: shutil.which(program) is not None


CONTENDERS = (
    Contender(
        BASELINE,
        "stock twist web",
        ("tls",),
        lambda setup, ports: twistWebCommand(setup, ports["tls"]),
        "`twist web --path SITE --listen ssl:...` (TLS only: stock Twisted"
        " speaks HTTP/2 only after ALPN, not with prior knowledge)",
    ),
    Contender(
        "txpush",
        "twist txpush (default)",
        TRANSPORTS,
        _txpush(),
        "`twist txpush --path SITE --push-manifest M --listen ssl:..."
        " --listen tcp:...`: cache-aware push, Early Hints, preload headers,"
        " the digest cookie",
        txpush=True,
    ),
    Contender(
        "txpush-nomanifest",
        "twist txpush, no manifest",
        TRANSPORTS,
        _txpush(manifest=False),
        "the same without `--push-manifest`",
        txpush=True,
    ),
    Contender(
        "pushsite",
        "PushSite, plain tree",
        TRANSPORTS,
        _pushSite,
        "`bench/speed_servers.py pushsite`: `PushSite(File(SITE))`, no"
        " CacheAwarePushResource, requests logged as text to stdout",
        txpush=True,
    ),
    Contender(
        "hypercorn",
        "hypercorn + Starlette",
        TRANSPORTS,
        _hypercorn,
        "`hypercorn --workers 1 --keep-alive 120 --certfile C --keyfile K"
        " --bind ... --insecure-bind ... speed_servers:app`, Starlette's"
        " `StaticFiles(directory=SITE, html=True)`, asyncio, no access log"
        " (its default)",
        available=lambda: (BIN / "hypercorn").exists(),
    ),
    Contender(
        "nghttpd",
        "nghttpd",
        TRANSPORTS,
        _nghttpdEither,
        "`nghttpd -d SITE -p/=ASSETS ...` as bench/servers.py runs it, and a"
        " second one with `--no-tls` for h2c",
        together=False,
        available=_installed("nghttpd"),
    ),
    Contender(
        "h2o",
        "H2O",
        TRANSPORTS,
        _h2oBoth,
        "H2O as bench/servers.py configures it (`num-threads: 1`, casper, an"
        " mruby handler adding the page's Link headers, access log), with a"
        " cleartext listener too",
        available=_installed("h2o"),
    ),
    Contender(
        "apache",
        "Apache (mod_http2)",
        TRANSPORTS,
        _apache,
        "Apache httpd 2.4, mpm_event with its default processes and threads,"
        " mod_http2 (`Protocols h2` on TLS, `h2c` on cleartext), a static"
        " DocumentRoot, no access log, `H2Push off`",
        available=apache.available,
    ),
)


def workerContenders(counts: Iterable[int]) -> list[Contender]:
    """twist txpush (default) with C{--workers N}, over TLS."""
    return [
        Contender(
            f"txpush-workers-{count}",
            f"twist txpush --workers {count}",
            ("tls",),
            _txpush("--workers", str(count)),
            f"`twist txpush ... --workers {count}`",
            txpush=True,
        )
        for count in counts
    ]


@dataclass
class Instance:
    """A contender up for one page: its processes and the port of each
    transport."""

    contender: Contender
    page: str
    ports: Ports
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)

    def measure(
        self, transport: str, requests: int, round_: int, connections: int = 10
    ) -> dict[str, Any]:
        """One h2load run over a transport, unless its page check failed."""
        if transport in self.broken:
            result: dict[str, Any] = {"error": "its page check failed (see checks)"}
        else:
            result = h2load(
                self.url(transport),
                requests,
                self.processes[transport].pid,
                connections=connections,
            )
        result["round"] = round_
        if "error" in result:
            log(
                f"{self.contender.name} {self.page} {transport} -c {connections}:"
                f" {result['error'].splitlines()[0]}"
            )
        return result

    def url(self, transport: str) -> str:
        """The page's URL over a transport."""
        scheme = "https" if transport == "tls" else "http"
        return f"{scheme}://{HOST}:{self.ports[transport]}/"


def checkAll(instances: list[Instance], setups: dict[str, Setup]) -> dict[str, str]:
    """L{checkPage} on every instance and transport; log what fails."""
    checks = {}
    for instance in instances:
        page = (setups[instance.page].site.root / "index.html").read_bytes()
        for transport in instance.contender.transports:
            problem = checkPage(instance.url(transport), page)
            key = f"{instance.contender.name}/{instance.page}/{transport}"
            checks[key] = problem or "ok"
            if problem:
                instance.broken.add(transport)
                log(f"check: {key}: {problem}")
    return checks


def startInstances(
    processes: Processes,
    setups: dict[str, Setup],
    contenders: Iterable[Contender],
    txpushTree: Path | None,
) -> list[Instance]:
    """Start every installed contender for every page, then wait for each."""
    wanted = list(contenders)
    available = []
    for contender in wanted:
        if contender.available():
            available.append(contender)
        else:
            log(f"skipping {contender.name}: not installed (see bench/README.md)")
    instances = []
    for page, setup in setups.items():
        for contender in available:
            ports = dict(
                zip(
                    contender.transports,
                    freePorts(len(contender.transports)),
                    strict=True,
                )
            )
            instance = Instance(contender, page, ports)
            groups = (
                [contender.transports]
                if contender.together
                else [(transport,) for transport in contender.transports]
            )
            for group in groups:
                argv = contender.command(setup, {t: ports[t] for t in group})
                if txpushTree is not None and contender.txpush:
                    argv = ["env", f"PYTHONPATH={txpushTree}", *argv]
                name = f"{contender.name}-{page}-{'-'.join(group)}"
                process = processes.spawn(name, argv)
                for transport in group:
                    instance.processes[transport] = process
            instances.append(instance)
    for instance in instances:
        for transport, process in instance.processes.items():
            processes.waitForPort(
                f"{instance.contender.name}-{instance.page}-{transport}",
                process,
                instance.ports[transport],
                60,
            )
    return instances


# -- The server's processes ----------------------------------------------------


def family(pid: int) -> list[int]:
    """
    A server's processes: those of its process group (its own, as
    L{Processes} starts it) and its descendants, wherever they went.
    """
    parents: dict[int, int] = {}
    members = {pid}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        if int(fields[2]) == pid:
            members.add(int(entry.name))
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in members and child not in members:
                members.add(child)
                grew = True
    return sorted(members)


def familyCpu(pid: int) -> float:
    """The user plus system CPU seconds of a server's processes so far."""
    total = 0.0
    for member in family(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def familyRssKiB(pid: int) -> int:
    """The resident memory (VmRSS) of a server's processes, in KiB."""
    total = 0
    for member in family(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def stopFamily(processes: Processes, process: subprocess.Popen[bytes]) -> None:
    """
    Stop a server and then whatever it started in process groups of its own
    (txpush's workers) that outlived it.
    """
    members = [pid for pid in family(process.pid) if pid != process.pid]
    processes.stop(process)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# -- h2load ------------------------------------------------------------------

_FINISHED = re.compile(r"finished in [0-9.]+\w*, ([0-9.]+) req/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded,"
    r" (\d+) failed, (\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_PROTOCOL = re.compile(r"Application protocol: (\S+)")


def h2load(
    url: str, requests: int, pid: int, connections: int = 10, timeout: float = 180
) -> dict[str, Any]:
    """
    One h2load run (C{-m 10 -t 1}).

    @param pid: The server's process, whose family's CPU time is measured.
    @return: Requests per second, the counts h2load reports, the server's
        CPU milliseconds per request and, when the run is not a clean one
        (every request answered 2xx over the expected protocol), C{error}.
    """
    argv = ["h2load", "-n", str(requests), "-c", str(connections)]
    argv += ["-m", "10", "-t", "1", url]
    cpu = familyCpu(pid)
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"requests": requests, "error": f"timed out after {timeout:g} s"}
    seconds = time.monotonic() - started
    cpu = familyCpu(pid) - cpu
    result: dict[str, Any] = {"requests": requests, "seconds": seconds}
    finished = _FINISHED.search(done.stdout)
    counts = _REQUESTS.search(done.stdout)
    if finished is None or counts is None:
        result["error"] = (
            f"h2load exited with status {done.returncode} without its summary:\n"
            + f"{done.stdout}{done.stderr}"[-2000:]
        )
        return result
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    result.update(zip(keys, map(int, counts.groups()), strict=True))
    status = _STATUS.search(done.stdout)
    protocol = _PROTOCOL.search(done.stdout)
    result["status"] = dict(
        zip(("2xx", "3xx", "4xx", "5xx"), map(int, status.groups()), strict=True)
        if status
        else {}
    )
    result["protocol"] = protocol.group(1) if protocol else None
    result["rps"] = float(finished.group(1))
    result["cpuMsPerRequest"] = cpu / max(result["succeeded"], 1) * 1e3
    expected = "h2" if url.startswith("https") else "h2c"
    # h2load 1.52 counts a response that a 103 Early Hints preceded as 3xx:
    # 2xx and 3xx both count, and checkPage makes sure the page is a 200.
    answered = result["status"].get("2xx", 0) + result["status"].get("3xx", 0)
    if result["protocol"] != expected:
        result["error"] = f"spoke {result['protocol']}, not {expected}"
    elif result["succeeded"] != requests or answered != requests:
        result["error"] = (
            f"{result['succeeded']} of {requests} succeeded, {answered} answered"
            f" 2xx or 3xx ({result['failed']} failed, {result['errored']}"
            f" errored, {result['timeout']} timeout)"
        )
    return result


def checkPage(url: str, expected: bytes) -> str | None:
    """
    Fetch a page once with nghttp (no pushes): L{None} if its body is the
    index.html served, else what went wrong.  A 404's body or a redirect's
    would not match.
    """
    try:
        done = subprocess.run(
            ["nghttp", "--no-push", url], capture_output=True, check=False, timeout=20
        )
    except subprocess.TimeoutExpired:
        return f"{url}: no answer in 20 s"
    if done.stdout == expected:
        return None
    return (
        f"{url}: {len(done.stdout)} bytes, not the {len(expected)} of index.html"
        f" (status {done.returncode}): {done.stderr[-300:]!r}"
    )


# -- Idle connections ----------------------------------------------------------

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


async def _holdIdle(
    port: int, count: int, measure: Callable[[], int], settle: float
) -> dict[str, Any]:
    """
    Open C{count} HTTP/2 connections over TLS (ALPN h2), each sending the
    preface and SETTINGS and acknowledging the server's, then idle; read the
    server's memory with them open, and again once they are closed.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    gate = asyncio.Semaphore(25)  # Within the servers' listen backlogs.
    closedByServer = 0
    writers: list[asyncio.StreamWriter] = []
    drains: list[asyncio.Task[None]] = []

    async def drain(reader: asyncio.StreamReader) -> None:
        nonlocal closedByServer
        with contextlib.suppress(OSError, ssl.SSLError):
            while await reader.read(65536):
                pass
        closedByServer += 1

    async def one() -> None:
        async with gate:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    HOST, port, ssl=context, server_hostname="localhost"
                ),
                30,
            )
            writers.append(writer)
            alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
            if alpn != "h2":
                raise RuntimeError(f"ALPN chose {alpn}")
            writer.write(_PREFACE + _SETTINGS)
            while True:  # Until the server's SETTINGS, which we acknowledge.
                header = await asyncio.wait_for(reader.readexactly(9), 30)
                length = int.from_bytes(header[:3], "big")
                await reader.readexactly(length)
                if header[3] == 4 and not header[4] & 1:
                    writer.write(_SETTINGS_ACK)
                    break
            await writer.drain()
            drains.append(asyncio.create_task(drain(reader)))

    before = measure()
    opened = time.monotonic()
    outcomes = await asyncio.gather(
        *(one() for _ in range(count)), return_exceptions=True
    )
    openSeconds = time.monotonic() - opened
    failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    await asyncio.sleep(settle)
    held = len(drains) - closedByServer
    during = measure()
    for writer in writers:
        writer.close()
    await asyncio.sleep(settle)
    for task in drains:
        task.cancel()
    await asyncio.gather(*drains, return_exceptions=True)
    after = measure()
    return {
        "connections": count,
        "held": held,
        "failed": len(failures),
        "failures": failures[:5],
        "closedByServer": closedByServer,
        "openSeconds": openSeconds,
        "rssBeforeKiB": before,
        "rssWithKiB": during,
        "rssAfterCloseKiB": after,
        "kibPerConnection": (during - before) / held if held else None,
    }


def idleMemory(instance: Instance, count: int, settle: float) -> dict[str, Any]:
    """The server's memory per idle HTTP/2 connection over TLS."""
    pid = instance.processes["tls"].pid
    return asyncio.run(
        _holdIdle(instance.ports["tls"], count, lambda: familyRssKiB(pid), settle)
    )


# -- The measurements ----------------------------------------------------------


def rotated(items: list[Any], by: int) -> list[Any]:
    """C{items} rotated left by C{by}."""
    by %= max(len(items), 1)
    return items[by:] + items[:by]


def sideBySide(plan: Plan, instances: list[Instance]) -> dict[str, Any]:
    """
    h2load against every contender, page and transport, each cell once per
    round, the contenders' order rotated every round.
    """
    cells: dict[str, Any] = {}
    for instance in instances:
        cells.setdefault(instance.contender.name, {})[instance.page] = {
            transport: [] for transport in instance.contender.transports
        }
    for instance in instances:  # Warm up: imports, caches.
        for transport in instance.contender.transports:
            instance.measure(transport, plan.warmup, -1)
    for round_ in range(plan.rounds):
        started = time.monotonic()
        for page in PAGES:
            onPage = rotated([i for i in instances if i.page == page], round_)
            for transport in TRANSPORTS:
                for instance in onPage:
                    if transport not in instance.contender.transports:
                        continue
                    requests = plan.requestsOf(instance.contender.name, page)
                    run = instance.measure(transport, requests, round_)
                    cells[instance.contender.name][page][transport].append(run)
        log(
            f"side by side: round {round_ + 1} of {plan.rounds}"
            f" ({time.monotonic() - started:.0f} s)"
        )
    return cells


def connectionCounts(plan: Plan, instances: list[Instance]) -> dict[str, Any]:
    """
    txpush (default) and stock twist web over TLS on the small page at each
    of the plan's connection counts, alternated.
    """
    pair = [
        i
        for i in instances
        if i.page == "small" and i.contender.name in (BASELINE, "txpush")
    ]
    results: dict[str, Any] = {
        i.contender.name: {str(c): [] for c in plan.connections} for i in pair
    }
    for round_ in range(min(plan.rounds, CONNECTION_ROUNDS)):
        for connections in plan.connections:
            requests = max(plan.connectionRequests, connections)
            for instance in pair if round_ % 2 == 0 else pair[::-1]:
                run = instance.measure("tls", requests, round_, connections)
                run["connections"] = connections
                results[instance.contender.name][str(connections)].append(run)
        log(f"connections: round {round_ + 1}")
    return results


def memory(plan: Plan, instances: list[Instance]) -> dict[str, Any]:
    """Memory per idle HTTP/2 connection over TLS, for every contender."""
    results = {}
    for instance in instances:
        if instance.page != "small":
            continue
        name = instance.contender.name
        if "tls" in instance.broken:
            results[name] = {"error": "its page check failed"}
            continue
        try:
            results[name] = idleMemory(instance, plan.idleConnections, settle=2.0)
        except Exception as e:  # A server that refuses is reported, not fatal.
            results[name] = {"error": repr(e)}
        log(f"memory: {name}: {results[name].get('kibPerConnection')} KiB")
    return results


def workersAvailable(txpushTree: Path | None) -> tuple[bool, str]:
    """Whether C{twist txpush --help} knows C{--workers}."""
    env = dict(os.environ)
    if txpushTree is not None:
        env["PYTHONPATH"] = str(txpushTree)
    done = subprocess.run(
        [TWIST, "txpush", "--help"], capture_output=True, text=True, env=env
    )
    if "--workers" in done.stdout:
        return True, ""
    return False, (
        "`twist txpush --help` does not list `--workers` in this tree: the"
        " workers table is skipped (re-run once the option exists)."
    )


def workers(
    plan: Plan,
    processes: Processes,
    setups: dict[str, Setup],
    txpushTree: Path | None,
) -> dict[str, Any]:
    """
    twist txpush (default, one process) against C{--workers 1} and C{2},
    over TLS on both pages, alternated; CPU and memory summed over all
    their processes.
    """
    available, message = workersAvailable(txpushTree)
    if not available:
        log(message)
        return {"available": False, "message": message}
    contenders = [
        Contender(
            "txpush",
            "twist txpush (default, no --workers)",
            ("tls",),
            _txpush(),
            "",
            txpush=True,
        ),
        *workerContenders((1, 2)),
    ]
    instances = startInstances(processes, setups, contenders, txpushTree)
    try:
        checks = checkAll(instances, setups)
        runs: dict[str, Any] = {
            c.name: {page: [] for page in PAGES} for c in contenders
        }
        for instance in instances:
            instance.measure("tls", plan.warmup, -1)
        for round_ in range(plan.rounds):
            for page in PAGES:
                onPage = rotated([i for i in instances if i.page == page], round_)
                for instance in onPage:
                    run = instance.measure("tls", plan.requests[page], round_)
                    runs[instance.contender.name][page].append(run)
            log(f"workers: round {round_ + 1} of {plan.rounds}")
        rss = {
            f"{i.contender.name}/{i.page}": familyRssKiB(i.processes["tls"].pid)
            for i in instances
        }
        counts = {
            f"{i.contender.name}/{i.page}": len(family(i.processes["tls"].pid))
            for i in instances
        }
    finally:
        for instance in instances:
            stopFamily(processes, instance.processes["tls"])
    return {
        "available": True,
        "labels": {c.name: c.label for c in contenders},
        "runs": runs,
        "rssKiB": rss,
        "processes": counts,
        "checks": checks,
    }


def smallSite(directory: Path) -> workload.Site:
    """
    The small page: a 170-byte index.html linking a small stylesheet and a
    small script, which its manifest names.
    """
    root = directory / "site"
    assets = ("/css/small.css", "/js/small.js")
    head = (
        "<!doctype html>\n<html><head><title>S</title>\n"
        '<link rel="stylesheet" href="/css/small.css">\n'
        '<script src="/js/small.js" defer></script>\n</head><body><p>'
    )
    tail = "</p></body></html>\n"
    page = head + "Hi."[: 170 - len(head) - len(tail)] + tail
    assert len(page) == 170, len(page)
    files = {
        workload.PAGE: page.encode("ascii"),
        assets[0]: b"body { font-family: sans-serif; margin: 2em; }\n" * 20,
        assets[1]: b"document.documentElement.dataset.ready = 'yes';\n" * 20,
    }
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    manifest = directory / "push-manifest.json"
    manifest.write_text(json.dumps({workload.PAGE: list(assets)}, indent=2) + "\n")
    return workload.Site(
        root=root,
        manifest=manifest,
        assets=assets,
        sizes={path: len(data) for path, data in files.items()},
    )


def versions() -> dict[str, str]:
    """run.py's versions, and hypercorn's, Starlette's and Apache's."""
    found = toolVersions()
    for name in ("hypercorn", "starlette"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    if shutil.which("apache2"):
        done = subprocess.run(["apache2", "-v"], capture_output=True, text=True)
        match = re.search(r"Apache/(\S+)", done.stdout)
        if match:
            found["apache"] = match.group(1)
    return found


def raiseFileLimit(needed: int) -> int:
    """
    Raise this process's open-file limit (and so its children's: h2load and
    the servers) to at least C{needed}, as far as the hard limit allows.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def measure(
    plan: Plan, txpushTree: Path | None, txpushLabel: str | None
) -> dict[str, Any]:
    """Run everything; return the raw results."""
    started = time.monotonic()
    fileLimit = raiseFileLimit(max(65536, 4 * max(plan.connections)))
    work = Path(tempfile.mkdtemp(prefix="txpush-speed-"))
    processes = Processes(work)
    try:
        benchSetup = prepare(work)  # The bench's site and the certificate.
        (work / "small").mkdir()
        setups = {
            "small": Setup(
                smallSite(work / "small"),
                benchSetup.stateDir,
                benchSetup.certificate,
                benchSetup.key,
                work / "small",
            ),
            "bench": benchSetup,
        }
        instances = startInstances(processes, setups, CONTENDERS, txpushTree)
        log(f"{plan.name} run: {len(instances)} servers up in {work}")
        checks = checkAll(instances, setups)
        results: dict[str, Any] = {
            **resultsHead(plan, versions(), txpushTree, txpushLabel),
            "fileLimit": fileLimit,
            "contenders": {
                c.name: {
                    "label": c.label,
                    "transports": list(c.transports),
                    "description": c.description,
                }
                for c in CONTENDERS
                if any(i.contender is c for i in instances)
            },
            "checks": checks,
            "pages": {
                page: {
                    "bytes": setup.site.sizes[workload.PAGE],
                    "assets": len(setup.site.assets),
                    "assetBytes": setup.site.assetBytes,
                }
                for page, setup in setups.items()
            },
        }
        # Memory first, on servers that have served only the warm-up.
        for instance in instances:
            if instance.page == "small":
                instance.measure("tls", plan.warmup, -1)
        results["memory"] = memory(plan, instances)
        results["cells"] = sideBySide(plan, instances)
        results["connections"] = connectionCounts(plan, instances)
        for instance in instances:
            for process in set(instance.processes.values()):
                processes.stop(process)
        results["workers"] = workers(plan, processes, setups, txpushTree)
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.monotonic() - started
    return results


# -- The report --------------------------------------------------------------


def rounds(count: int) -> str:
    """C{count} rounds, in words."""
    return f"{count} round" + ("" if count == 1 else "s")


def clean(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs in which every request was answered."""
    return [run for run in runs if "error" not in run]


def spread(values: list[float], digits: int = 0) -> str:
    """A median and its (min-max)."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}"
    return (
        f"{statistics.median(values):,.{digits}f}"
        f" ({min(values):,.{digits}f}-{max(values):,.{digits}f})"
    )


def roundRatios(
    runs: list[dict[str, Any]], baseline: list[dict[str, Any]]
) -> list[float]:
    """The ratio of requests per second to the baseline's, round by round."""
    base = {run["round"]: run["rps"] for run in clean(baseline)}
    return [
        run["rps"] / base[run["round"]] for run in clean(runs) if run["round"] in base
    ]


def medianOrNone(values: list[float]) -> float | None:
    """The median, or L{None} of nothing."""
    return statistics.median(values) if values else None


def analyse(results: dict[str, Any]) -> dict[str, Any]:
    """Medians, spreads and ratios of every cell."""
    cells = results["cells"]
    summary: dict[str, Any] = {}
    for name, pages in cells.items():
        for page, transports in pages.items():
            base = cells.get(BASELINE, {}).get(page, {}).get("tls", [])
            for transport, runs in transports.items():
                good = clean(runs)
                summary[f"{name}/{page}/{transport}"] = {
                    "rps": [run["rps"] for run in good],
                    "cpu": [run["cpuMsPerRequest"] * 1e3 for run in good],
                    "errors": len(runs) - len(good),
                    "ratio": medianOrNone(roundRatios(runs, base)),
                }
    return summary


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal, per page and transport, with its ratio and verdicts."""
    cells = results["cells"]
    rows = []

    def ratioOf(name: str, page: str, transport: str, over: str, overT: str) -> Any:
        runs = cells.get(name, {}).get(page, {}).get(transport)
        base = cells.get(over, {}).get(page, {}).get(overT)
        if runs is None or base is None:
            return None
        return medianOrNone(roundRatios(runs, base))

    specs = [
        ("twist txpush (default) / stock twist web", "txpush", BASELINE, 1.0, 1.5),
        ("PushSite, plain tree / stock twist web", "pushsite", BASELINE, 1.3, 2.0),
    ]
    for label, name, over, need, aim in specs:
        for page in PAGES:
            rows.append(
                {
                    "goal": label,
                    "page": page,
                    "transport": "tls",
                    "ratio": ratioOf(name, page, "tls", over, "tls"),
                    "need": need,
                    "aim": aim,
                }
            )
    for page in PAGES:
        for transport in TRANSPORTS:
            rows.append(
                {
                    "goal": "twist txpush (default) / hypercorn + Starlette",
                    "page": page,
                    "transport": transport,
                    "ratio": ratioOf("txpush", page, transport, "hypercorn", transport),
                    "need": None,
                    "aim": 2.5,
                }
            )
    return rows


def verdict(ratio: float | None, threshold: float | None) -> str:
    """Whether a ratio meets a threshold."""
    if threshold is None:
        return ""
    if ratio is None:
        return "not measured"
    return "met" if ratio >= threshold else "not met"


def requestCounts(results: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Each contender's N on each page, as its side-by-side runs record it."""
    counts: dict[str, dict[str, int]] = {}
    for name, pages in results["cells"].items():
        for page, transports in pages.items():
            found = [
                run["requests"]
                for runs in transports.values()
                for run in runs
                if "requests" in run
            ]
            if found:
                counts.setdefault(name, {})[page] = max(found)
    return counts


def fewerRequests(results: dict[str, Any]) -> str:
    """What the report says of the contenders measured with a smaller N."""
    planned = results["plan"]["requests"]
    text = ""
    for name, counts in requestCounts(results).items():
        if all(counts.get(page, planned[page]) == planned[page] for page in PAGES):
            continue
        share = planned["small"] / counts.get("small", planned["small"])
        text += (
            f"; {results['contenders'][name]['label']} got 1/{share:g} of those,"
            f" {counts.get('small', 0):,} and {counts.get('bench', 0):,}: far the"
            " slowest, with the full N it took 40% of a full run's side-by-side"
            " time"
        )
    return text


def connectionRequests(connections: dict[str, Any], counts: list[int]) -> str:
    """The N of the connections table at each count, from its runs."""
    byCount = {
        count: max(
            (
                run["requests"]
                for runs in connections.values()
                for run in runs[str(count)]
            ),
            default=0,
        )
        for count in counts
    }
    groups: dict[int, list[str]] = {}
    for count, requests in byCount.items():
        groups.setdefault(requests, []).append(str(count))
    if len(groups) == 1:
        text = f"N = {byCount[counts[0]]:,} requests at every count"
    else:
        text = "N = " + ", ".join(
            f"{requests:,} requests at {', '.join(names[:-1])} and {names[-1]}"
            " connections"
            if len(names) > 1
            else f"{requests:,} requests at {names[0]} connections"
            for requests, names in groups.items()
        )
    most = counts[-1]
    each = byCount[most] // most
    return text + (
        f" (at {most} connections each one makes {each}"
        f" request{'' if each == 1 else 's'}, so the TLS handshakes weigh)"
    )


def report(results: dict[str, Any]) -> str:
    """The Markdown report."""
    plan = results["plan"]
    summary = analyse(results)
    contenders = results["contenders"]
    lines = [
        "# Requests per second, side by side",
        "",
        f"`python bench/speed.py` ({plan['name']} run, {results['seconds']:.0f} s)"
        f" at {results['when']}, txpush at {results['txpush']}, on"
        f" {results['machine']['cores']} cores ({results['machine']['cpu']},"
        f" load {', '.join(f'{x:.2f}' for x in results['machine']['load'])} at"
        " the start).",
        "",
        f"h2load {results['versions'].get('h2load', '?')} `-n N -c 10 -m 10 -t 1`"
        f" (N = {plan['requests']['small']:,} on the small page,"
        f" {plan['requests']['bench']:,} on the bench's{fewerRequests(results)}),"
        " requesting `/`,"
        f" {rounds(plan['rounds'])} in which every cell is measured once, the"
        " servers' order rotated each round; every server warmed up with"
        f" {plan['warmup']} requests first. Cells: median requests/s (min-max)"
        " over the rounds; \u00d7web: the ratio to stock twist web over TLS on"
        " the same page, taken per round, then the median; CPU: the server's"
        " CPU time (user + system, every process of it) per request, in"
        " \u00b5s. A run with any request not answered 2xx or 3xx is left out of a"
        " cell and counted under it. h2load, one thread, shares the 2 cores"
        " with the server: for the C servers it is the client that limits.",
        "",
        f"Pages: the small page is {results['pages']['small']['bytes']} bytes of"
        " index.html whose manifest names 2 small assets (a stylesheet and a"
        f" script); the bench's page is {results['pages']['bench']['bytes']:,}"
        " bytes (bench/workload.py) with 10 assets in its manifest. h2load"
        " takes no pushes, so the assets are only hinted (txpush's 103 and"
        " preload headers, H2O's Link headers).",
        "",
        "## Goals",
        "",
        "| goal | page | transport | ratio | need | | aim | |",
        "|:---|:---|:---|---:|---:|:---|---:|:---|",
    ]
    for row in goals(results):
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}\u00d7"
        need = "" if row["need"] is None else f"\u2265{row['need']:g}\u00d7"
        lines.append(
            f"| {row['goal']} | {PAGE_LABELS[row['page']]} |"
            f" {row['transport']} | {ratio} | {need} |"
            f" {verdict(row['ratio'], row['need'])} | \u2265{row['aim']:g}\u00d7 |"
            f" {verdict(row['ratio'], row['aim'])} |"
        )
    lines += [
        "",
        "## Requests per second",
        "",
        "| server | transport | small page req/s | \u00d7web | CPU \u00b5s/req"
        " | bench's page req/s | \u00d7web | CPU \u00b5s/req |",
        "|:---|:---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for name, info in contenders.items():
        for transport in TRANSPORTS:
            cols = []
            for page in PAGES:
                cell = summary.get(f"{name}/{page}/{transport}")
                if cell is None:
                    cols += ["—", "", ""]
                    continue
                rps = spread(cell["rps"])
                if cell["errors"]:
                    rps += f" ({cell['errors']} failed runs)"
                    notes.append(f"{info['label']} {page} {transport}")
                ratio = "" if cell["ratio"] is None else f"{cell['ratio']:.2f}"
                cpu = f"{statistics.median(cell['cpu']):.0f}" if cell["cpu"] else ""
                cols += [rps, ratio, cpu]
            lines.append(
                f"| {info['label']} | {transport} | " + " | ".join(cols) + " |"
            )
    lines += [
        "",
        "Stock twist web has no h2c row to speak of (\u2014): Twisted's web"
        " server speaks HTTP/2 only when TLS ALPN picks `h2`; on cleartext it"
        " does not recognise the HTTP/2 preface (prior knowledge), so h2load's"
        " `http://` runs cannot talk to it.",
    ]
    checks = results.get("checks", {})
    bad = {key: value for key, value in checks.items() if value != "ok"}
    lines += [
        "",
        f"Before the runs, `nghttp --no-push` fetched `/` from every server over"
        f" every transport ({len(checks)} fetches) and compared the body with"
        f" the page's index.html: {len(checks) - len(bad)} matched."
        + "".join(f" {key}: {value}." for key, value in bad.items()),
        "h2load 1.52 counts a response preceded by a 103 Early Hints as 3xx"
        " (twist txpush with a manifest sends one to h2load, which takes no"
        " pushes): a run is clean when every request succeeded with a 2xx or"
        " 3xx.",
    ]
    if notes:
        lines += ["", "Runs with failures: " + "; ".join(notes) + " (see speed.json)."]
    lines += connectionsSection(results)
    lines += memorySection(results)
    lines += workersSection(results)
    lines += ["", "## The servers", "", "| server | how |", "|:---|:---|"]
    for info in contenders.values():
        lines.append(f"| {info['label']} | {info['description']} |")
    versionText = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines += [
        "",
        "All serve the same directory for each page, over TLS with txpush's"
        " development certificate (ECDSA P-256), each in its own process group"
        " on a free port of 127.0.0.1. Both twist servers and PushSite log"
        " each request as text to their standard output (a file).",
        "",
        f"Versions: {versionText}.",
        "",
    ]
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)


def connectionsSection(results: dict[str, Any]) -> list[str]:
    """The table of connection counts."""
    connections = results.get("connections") or {}
    if not connections:
        return []
    names = [name for name in (BASELINE, "txpush") if name in connections]
    labels = [results["contenders"][name]["label"] for name in names]
    lines = [
        "",
        "## Connections",
        "",
        "The small page over TLS, h2load `-c C -m 10 -t 1` with"
        f" {rounds(min(results['plan']['rounds'], CONNECTION_ROUNDS))} (at most"
        f" {CONNECTION_ROUNDS}: a run at 1000 connections can take minutes),"
        f" {connectionRequests(connections, results['plan']['connections'])},"
        " the two servers alternated, the open-file limit"
        f" raised to {results.get('fileLimit', '?')}. failed/errored: h2load's"
        " counts summed over the rounds (0 is the goal); here req/s includes"
        " runs with failures.",
        "",
        "| connections | "
        + " | ".join(f"{label} req/s | failed/errored" for label in labels)
        + " | txpush \u00d7web |",
        "|---:|" + "---:|---:|" * len(names) + "---:|",
    ]
    for count in results["plan"]["connections"]:
        cols = []
        for name in names:
            runs = connections[name][str(count)]
            failed = sum(run.get("failed", 0) for run in runs)
            errored = sum(run.get("errored", 0) for run in runs)
            timeouts = [run for run in runs if "rps" not in run]
            text = spread([run["rps"] for run in runs if "rps" in run])
            if timeouts:
                text += f" ({len(timeouts)} of {len(runs)} did not finish)"
            cols += [text, f"{failed}/{errored}"]
        ratio = ""
        if len(names) == 2:
            ratios = [
                run["rps"] / base["rps"]
                for run in connections["txpush"][str(count)]
                for base in connections[BASELINE][str(count)]
                if run["round"] == base["round"] and "rps" in run and "rps" in base
            ]
            ratio = f"{statistics.median(ratios):.2f}" if ratios else ""
        lines.append(f"| {count} | " + " | ".join(cols) + f" | {ratio} |")
    return lines


def memorySection(results: dict[str, Any]) -> list[str]:
    """The table of memory per idle connection."""
    memory = results.get("memory") or {}
    if not memory:
        return []
    count = results["plan"]["idleConnections"]
    lines = [
        "",
        "## Memory per idle HTTP/2 connection",
        "",
        f"{count} connections over TLS (ALPN h2), opened 25 at a time by an"
        " asyncio client in the bench's process, each sending the preface and"
        " SETTINGS and acknowledging the server's, then idle; the server's"
        " resident memory (VmRSS, every process of it) before, 2 s after the"
        " last opened, and 2 s after all were closed; servers that had served"
        " only the warm-up. KiB per connection = (with - before) / held"
        f" (connections still open at the reading). Goal: \u2264 {MEMORY_GOAL_KIB}"
        " KiB for twist txpush.",
        "",
        "| server | held | RSS before, MiB | with, MiB | after close, MiB"
        " | KiB per connection | goal |",
        "|:---|---:|---:|---:|---:|---:|:---|",
    ]
    for name, cell in memory.items():
        label = results["contenders"][name]["label"]
        if "error" in cell:
            lines.append(f"| {label} | {cell['error']} | | | | | |")
            continue
        per = cell["kibPerConnection"]
        goal = ""
        if name == "txpush":
            goal = (
                "not measured"
                if per is None
                else ("met" if per <= MEMORY_GOAL_KIB else "not met")
            )
        held = f"{cell['held']} of {cell['connections']}"
        if cell["failed"]:
            held += f" ({cell['failed']} failed to open)"
        lines.append(
            f"| {label} | {held} | {cell['rssBeforeKiB'] / 1024:.1f} |"
            f" {cell['rssWithKiB'] / 1024:.1f} |"
            f" {cell['rssAfterCloseKiB'] / 1024:.1f} |"
            f" {'—' if per is None else f'{per:.1f}'} | {goal} |"
        )
    return lines


def workersSection(results: dict[str, Any]) -> list[str]:
    """The table of txpush's --workers."""
    workers = results.get("workers") or {}
    lines = ["", "## Workers", ""]
    if not workers.get("available"):
        return [*lines, workers.get("message", "Not measured.")]
    runs = workers["runs"]
    lines += [
        "twist txpush (default) over TLS, h2load `-c 10 -m 10 -t 1` (one client"
        " thread, so the client may limit before two workers do), the three"
        " servers alternated; CPU summed over every process of the server;"
        " RSS (all processes) at the end; \u00d7one: the ratio to txpush"
        " without `--workers`, per round.",
        "",
        "| server | processes | small page req/s | \u00d7one | CPU \u00b5s/req"
        " | bench's page req/s | \u00d7one | CPU \u00b5s/req | RSS, MiB |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in workers["labels"].items():
        cols = []
        for page in PAGES:
            good = clean(runs[name][page])
            ratios = roundRatios(runs[name][page], runs["txpush"][page])
            cpu = [run["cpuMsPerRequest"] * 1e3 for run in good]
            cols += [
                spread([run["rps"] for run in good]),
                f"{statistics.median(ratios):.2f}" if ratios else "",
                f"{statistics.median(cpu):.0f}" if cpu else "",
            ]
        rss = workers["rssKiB"].get(f"{name}/small", 0) / 1024
        count = workers["processes"].get(f"{name}/small", "?")
        lines.append(f"| {label} | {count} | " + " | ".join(cols) + f" | {rss:.0f} |")
    return lines


COLOURS = {
    BASELINE: "#9e9e9e",
    "txpush": "#0b3d91",
    "txpush-nomanifest": "#4f7cc9",
    "pushsite": "#8fb3ea",
    "hypercorn": "#8e44ad",
    "nghttpd": "#2e8b57",
    "h2o": "#e07b39",
    "apache": "#b03a2e",
}


def plot(results: dict[str, Any], path: Path) -> None:
    """Requests per second per server and workload, grouped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = analyse(results)
    names = list(results["contenders"])
    groups = [(page, transport) for page in PAGES for transport in TRANSPORTS]
    medians = [
        statistics.median(cell["rps"]) for cell in summary.values() if cell["rps"]
    ]
    logScale = bool(medians) and max(medians) / max(min(medians), 1) > 8
    figure, axes = plt.subplots(figsize=(13, 6))
    width = 0.85 / len(names)
    for index, name in enumerate(names):
        xs, ys, low, high = [], [], [], []
        for position, (page, transport) in enumerate(groups):
            cell = summary.get(f"{name}/{page}/{transport}")
            if not cell or not cell["rps"]:
                continue
            median = statistics.median(cell["rps"])
            xs.append(position + (index - (len(names) - 1) / 2) * width)
            ys.append(median)
            low.append(median - min(cell["rps"]))
            high.append(max(cell["rps"]) - median)
        axes.bar(
            xs,
            ys,
            width,
            yerr=[low, high],
            capsize=2,
            color=COLOURS.get(name),
            label=results["contenders"][name]["label"],
        )
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(
        [f"{PAGE_LABELS[page]}\n{TRANSPORT_LABELS[t]}" for page, t in groups]
    )
    if logScale:
        axes.set_yscale("log")
    axes.set_ylabel(
        "requests/s (median, min-max)" + (", log scale" if logScale else "")
    )
    axes.grid(axis="y", alpha=0.3, which="both")
    axes.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    plan = results["plan"]
    axes.set_title(
        "h2load -c 10 -m 10 -t 1 against each server, requesting /"
        f" ({plan['name']} run, {rounds(plan['rounds'])}; no bar: not served)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def writeReport(results: dict[str, Any], out: Path) -> None:
    """Write speed.md and speed.png into C{out}."""
    (out / f"{REPORT}.md").write_text(report(results))
    plot(results, out / f"{REPORT}.png")


def main(argv: list[str] | None = None) -> None:
    """Measure (or, with --report, rewrite the report) and write the results."""

    def run(options: argparse.Namespace) -> dict[str, Any]:
        plan = QUICK if options.quick else FULL
        if options.rounds is not None:
            plan = replace(plan, rounds=options.rounds)
        return measure(plan, options.txpush_tree, options.txpush_label)

    runReportedBench(
        argv,
        description=__doc__.split("\n\n")[0],
        quickHelp="few requests, one round, into bench/results/quick/: checks the"
        " script, measures nothing",
        name=REPORT,
        measure=run,
        writeReport=writeReport,
        addOptions=lambda parser: parser.add_argument(
            "--rounds", type=int, help="rounds (default: 3, quick: 1)"
        ),
    )


if __name__ == "__main__":
    main()
