"""
Three HTTP/2 fronts for one HTTP/1.1 application, side by side: C{twist
txpush --proxy}, nginx 1.22 (C{proxy_pass}, C{http2_push_preload on}) and
H2O 2.2.5 (C{proxy.reverse.url}, C{http2-casper: ON}), each over TLS (h2 by
ALPN) in front of the same gunicorn running a Flask application that thinks
before it answers its page.

Run: python bench/fronts.py [--quick] [--out DIR]
        [--txpush-tree DIR --txpush-label LABEL]
     python bench/fronts.py --report [--out DIR]   (rewrite the report)

The application (L{fronts_app}) answers its page 50 ms after the request,
with five C{Link: rel=preload} headers for its assets, which it serves
itself (Flask's static files).  Measured, in one run:

    - page-complete time with C{nghttp -a}, first visit (no cookie) and
      repeat visit (the cookie of a first visit), at RTT 0 and 50 ms
      through C{proxy.py}; and a repeat visit of a client whose cache holds
      the assets (the page alone): the bytes pushed in vain;
    - the load event in headless Chromium (as C{earlyhints.py} drives it)
      at RTT 50 ms, on a page the front has never seen and on one it has
      (where txpush's learned 103 goes out while the application thinks),
      and gunicorn alone over HTTP/1.1 as the baseline;
    - each front's cost: C{h2load} through it against gunicorn alone
      (C{h2load --h1}), requests per second, mean latency and CPU time;
    - what each front does with a backend's own C{103 Early Hints}.

Results go to C{bench/results/fronts.md}, C{.json} and C{.png} (a quick
run to C{bench/results/quick/}).  See bench/README.md.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import nghttpclient  # noqa: E402
import thinkapp  # noqa: E402
from earlyhints import freshLoad, quantiles  # noqa: E402
from procs import HOST, Processes, cpuSeconds, freePorts  # noqa: E402
from run import (  # noqa: E402
    handWrittenNotes,
    resultsHead,
    runReportedBench,
    startProxy,
    tlsOf,
)
from servers import BIN, TWIST  # noqa: E402

from tests.test_chromium import spkiHash  # noqa: E402
from txpush.devcert import ensureDevelopmentCertificate  # noqa: E402

THINK_MS = 50
"""How long the application thinks before it answers its page."""
PAGE_RTTS_MS = (0, 50)
"""The round-trip times of the nghttp loads (routes of run.py's proxy)."""
BROWSER_RTT_MS = 50
"""The round-trip time of the Chromium loads."""
GUNICORN = ["-k", "gthread", "-w", "2", "--threads", "8"]
"""gunicorn's worker settings: two processes of eight threads."""
H2LOAD_PATH = "/t0/"
"""What h2load requests: the page, with its Link headers, without thinking."""
H2LOAD_CLIENTS = 10
"""h2load's connections, each with one request at a time."""
HINTED_PATH = "/hinted/"
"""What the fronts forward to the backend that sends its own 103."""
NGHTTP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Plan:
    """How much one run measures."""

    name: str
    pageRounds: int
    browserRounds: int
    h2loadRequests: int
    h2loadRounds: int


FULL = Plan("full", pageRounds=9, browserRounds=9, h2loadRequests=3000, h2loadRounds=5)
QUICK = Plan("quick", pageRounds=2, browserRounds=1, h2loadRequests=500, h2loadRounds=1)


@dataclass(frozen=True)
class Front:
    """
    One server measured: a front, or the backend alone.

    @ivar name: The key of the tables.
    @ivar label: What the tables call it.
    @ivar program: The program it runs, for the check that it is installed.
    @ivar install: How to install it.
    """

    name: str
    label: str
    program: str
    install: str

    @property
    def scheme(self) -> str:
        """C{http} for gunicorn, C{https} for the fronts."""
        return "http" if self.name == BACKEND.name else "https"


BACKEND = Front(
    "backend",
    "gunicorn alone (HTTP/1.1)",
    str(BIN / "gunicorn"),
    ".venv/bin/pip install gunicorn flask",
)
FRONTS = (
    Front(
        "txpush",
        "twist txpush --proxy",
        TWIST,
        ".venv/bin/pip install --config-settings editable_mode=compat -e .",
    ),
    Front(
        "nginx",
        "nginx 1.22 (http2_push_preload)",
        "nginx",
        "apt-get install -y nginx-light",
    ),
    Front("h2o", "H2O 2.2.5 (casper)", "h2o", "apt-get install -y h2o"),
)
LABELS = {front.name: front.label for front in (BACKEND, *FRONTS)}


@dataclass
class Up:
    """A server listening (the shape run.py's proxy and TLS check take)."""

    server: Front
    port: int
    process: subprocess.Popen[bytes]

    def url(self, path: str = "/", port: int | None = None) -> str:
        """A URL of it, directly or through the proxy port given."""
        return f"{self.server.scheme}://{HOST}:{port or self.port}{path}"


def log(message: str) -> None:
    """A progress line on standard error."""
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# -- The servers ---------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What the fronts are configured with."""

    work: Path
    site: Path
    stateDir: Path
    certificate: Path
    key: Path
    backend: int
    hinting: int


# nginx as a non-root user would run it: in the foreground, one process,
# every path it writes in the run's directory.  Run as root, it stays root
# (a user directive applies to worker processes, and there are none).
_NGINX_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {run}/body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  upstream app {{
    server {host}:{backend};
    keepalive 16;
  }}
  server {{
    listen {host}:{port} ssl http2;
    ssl_certificate {certificate};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.3;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      http2_push_preload on;
    }}
    location {hinted} {{
      proxy_pass http://{host}:{hinting};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 2s;
      http2_push_preload on;
    }}
  }}
}}
"""

# H2O drops to nobody when started as root: its directory is writable by
# all.  http2-push-preload is on by default: the backend's Link headers push.
_H2O_CONFIG = """\
user: nobody
num-threads: 1
pid-file: {run}/h2o.pid
error-log: {run}/error.log
http2-casper: ON
listen:
  host: {host}
  port: {port}
  ssl:
    certificate-file: {certificate}
    key-file: {key}
    ocsp-update-interval: 0
hosts:
  "{host}:{port}":
    paths:
      "{hinted}":
        proxy.reverse.url: http://{host}:{hinting}{hinted}
      "/":
        proxy.reverse.url: http://{host}:{backend}/
        proxy.preserve-host: ON
"""


def _config(setup: Setup, name: str, template: str, port: int) -> Path:
    run = setup.work / name
    run.mkdir(exist_ok=True)
    os.chmod(run, 0o777)
    path = run / f"{name}.conf"
    path.write_text(
        template.format(
            run=run,
            host=HOST,
            port=port,
            backend=setup.backend,
            hinting=setup.hinting,
            hinted=HINTED_PATH,
            certificate=setup.certificate,
            key=setup.key,
        )
    )
    return path


def frontCommand(
    setup: Setup, front: Front, port: int, txpushTree: Path | None
) -> list[str]:
    """The command line of a front listening on C{port}."""
    if front.name == "txpush":
        argv = [
            TWIST,
            "--log-format",
            "text",
            "txpush",
            "--proxy",
            f"http://{HOST}:{setup.backend}",
            "--proxy",
            f"{HINTED_PATH.rstrip('/')}=http://{HOST}:{setup.hinting}",
            "--listen",
            f"ssl:{port}:interface={HOST}",
            "--state-dir",
            str(setup.stateDir),
            "--grace-period",
            "1",
        ]
        if txpushTree is not None:
            argv = ["env", f"PYTHONPATH={txpushTree}", *argv]
        return argv
    if front.name == "nginx":
        config = _config(setup, "nginx", _NGINX_CONFIG, port)
        run = config.parent
        return [
            "nginx",
            "-p",
            str(run),
            "-c",
            str(config),
            "-e",
            str(run / "error.log"),
        ]
    if front.name == "h2o":
        return ["h2o", "-c", str(_config(setup, "h2o", _H2O_CONFIG, port))]
    raise KeyError(front.name)


def available(front: Front) -> bool:
    """Whether a server's program is installed."""
    return shutil.which(front.program) is not None


def startAll(
    processes: Processes, setup: Setup, ports: list[int], txpushTree: Path | None
) -> list[Up]:
    """
    Start gunicorn, the 103-sending backend and every installed front.

    @return: The backend first, then the fronts.
    """
    env = [
        "env",
        f"FRONTS_SITE={setup.site}",
        f"FRONTS_THINK_MS={THINK_MS}",
    ]
    gunicorn = [
        *env,
        BACKEND.program,
        *GUNICORN,
        "-b",
        f"{HOST}:{setup.backend}",
        "--chdir",
        str(HERE),
        "fronts_app:app",
    ]
    backend = processes.spawn("gunicorn", gunicorn)
    hinting = processes.spawn(
        "hinting",
        [
            *env,
            sys.executable,
            str(HERE / "fronts_app.py"),
            "--early-hints-port",
            str(setup.hinting),
        ],
    )
    running = [Up(BACKEND, setup.backend, backend)]
    for front, port in zip(FRONTS, ports, strict=True):
        if not available(front):
            log(f"skipping {front.name}: not installed ({front.install})")
            continue
        argv = frontCommand(setup, front, port, txpushTree)
        running.append(Up(front, port, processes.spawn(front.name, argv)))
    processes.waitForPort("hinting", hinting, setup.hinting, 30)
    for item in running:
        processes.waitForPort(item.server.name, item.process, item.port, 60)
    return running


def groupCpuSeconds(leader: int) -> float:
    """The CPU time used so far by the processes of C{leader}'s group."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == leader:  # pgrp
                total += cpuSeconds(int(entry.name))
    return total


def rotated(items: list[Up], by: int) -> list[Up]:
    """C{items} rotated by C{by}: each leads in turn."""
    by %= len(items)
    return items[by:] + items[:by]


# -- Page loads with nghttp ----------------------------------------------------

ASSET_PATHS = [path for path, _ in thinkapp.ASSETS]


def _page(url: str, assets: bool, cookie: str | None, frames: bool) -> dict[str, Any]:
    """One nghttp load's figures; what arrived is checked, not required."""
    try:
        page = nghttpclient.load(
            url,
            assets=assets,
            cookie=cookie,
            frames=frames,
            expected=1,
            timeout=NGHTTP_TIMEOUT,
        )
    except nghttpclient.LoadError as e:
        return {"error": str(e).splitlines()[0]}
    got = {row.path for row in page.rows if row.code == 200}
    record: dict[str, Any] = {
        "time": page.pageComplete,
        "html": min(
            row.responseEnd for row in page.rows if row.path == urlsplit(url).path
        ),
        "pushed": sorted(page.pushedPaths),
        "missing": [path for path in ASSET_PATHS if path not in got] if assets else [],
        "clientCPU": page.clientCPU,
    }
    if frames:
        record["pushedBytes"] = page.pushedDataBytes
        record["resets"] = page.resets
    return record


def cookies(running: list[Up]) -> dict[str, str | None]:
    """
    Each front's cookies after a first visit (C{nghttp -a -v}, directly):
    what its repeat visits send.
    """
    found = {}
    for item in running[1:]:
        page = nghttpclient.load(item.url(), frames=True, timeout=NGHTTP_TIMEOUT)
        found[item.server.name] = page.cookieHeader
    return found


def pageLoads(
    plan: Plan,
    running: list[Up],
    proxy: dict[tuple[str, int], int],
    cookie: dict[str, str | None],
) -> list[dict[str, Any]]:
    """
    First visits (C{-a}, no cookie), repeat visits (C{-a}, the cookie: nghttp
    has no cache, so it requests what is not pushed) and warm repeat visits
    (the page alone with the cookie, as a client whose cache has every
    asset: what is pushed is wasted), the fronts' order rotated each round.
    """
    fronts = running[1:]
    records = []
    modes = (("first", True, False), ("repeat", True, True), ("warm", False, True))
    for round_ in range(plan.pageRounds):
        for rtt in PAGE_RTTS_MS:
            for item in rotated(fronts, round_):
                url = item.url(port=proxy[item.server.name, rtt])
                for mode, assets, again in modes:
                    record = _page(
                        url,
                        assets=assets,
                        cookie=cookie[item.server.name] if again else None,
                        frames=mode == "warm",
                    )
                    record.update(front=item.server.name, rtt=rtt, mode=mode)
                    record["round"] = round_
                    records.append(record)
        log(f"nghttp loads: round {round_ + 1} of {plan.pageRounds}")
    return records


# -- Chromium ------------------------------------------------------------------

LATER_PAGE = "/p/later/"
"""The page every front has answered before the Chromium loads."""


def firstPage(round_: int) -> str:
    """A page no front has answered yet: a new one each round."""
    return f"/p/first-{round_}/"


def browserLoads(
    plan: Plan,
    running: list[Up],
    proxy: dict[tuple[str, int], int],
    pin: str,
    profiles: Path,
) -> list[dict[str, Any]]:
    """
    Each round, a new Chromium with an empty profile loads, from every
    server, a page it has never answered (I{first}) and one it answered
    before (I{later}), through the proxy at L{BROWSER_RTT_MS}.
    """
    for item in running:  # What the later loads find learned.
        if item.server.scheme == "https":
            nghttpclient.load(item.url(LATER_PAGE), timeout=NGHTTP_TIMEOUT)
        else:
            _fetch(item.url(LATER_PAGE))
    records = []
    turn = 0
    for round_ in range(plan.browserRounds):
        for kind, path in (("first", firstPage(round_)), ("later", LATER_PAGE)):
            turn += 1
            for item in rotated(running, turn):
                url = item.url(path, port=proxy[item.server.name, BROWSER_RTT_MS])
                records.append(
                    freshLoad(
                        url,
                        pin,
                        profiles,
                        server=item.server.name,
                        kind=kind,
                        round=round_,
                    )
                )
        log(f"Chromium loads: round {round_ + 1} of {plan.browserRounds}")
    return records


def _fetch(url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()


# -- Cost: h2load --------------------------------------------------------------

_FINISHED = re.compile(r"finished in [0-9.]+\w*, ([0-9.]+) req/s")
_SUCCEEDED = re.compile(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded")
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_LATENCY = re.compile(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)")


def h2load(item: Up, backend: Up, requests: int) -> dict[str, float]:
    """
    One h2load run, directly (no proxy): over h2 and TLS to a front, over
    HTTP/1.1 to gunicorn alone; L{H2LOAD_CLIENTS} connections with one
    request at a time each, so that both see the same concurrency.

    h2load 1.52 files the final response of a request that got a 103 under
    "3xx" (txpush's learned hints): the runs count succeeded requests, and
    no 4xx or 5xx.

    @return: Requests per second, mean latency (ms), and the CPU time per
        request (ms) of the front and of gunicorn.
    """
    argv = ["h2load", "-n", str(requests), "-c", str(H2LOAD_CLIENTS), "-m", "1"]
    if item.server.scheme == "http":
        argv.append("--h1")
    argv.append(item.url(H2LOAD_PATH))
    frontCpu = groupCpuSeconds(item.process.pid)
    backendCpu = groupCpuSeconds(backend.process.pid)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    frontCpu = groupCpuSeconds(item.process.pid) - frontCpu
    backendCpu = groupCpuSeconds(backend.process.pid) - backendCpu
    finished = _FINISHED.search(done.stdout)
    succeeded = _SUCCEEDED.search(done.stdout)
    status = _STATUS.search(done.stdout)
    latency = _LATENCY.search(done.stdout)
    if (
        finished is None
        or succeeded is None
        or status is None
        or latency is None
        or int(succeeded.group(1)) != requests
        or int(status.group(3)) + int(status.group(4))
    ):
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    result = {
        "rps": float(finished.group(1)),
        "meanMs": nghttpclient._seconds(latency.group(3)) * 1e3,
        "backendCpuMsPerRequest": backendCpu / requests * 1e3,
        "after103": int(status.group(2)),
    }
    if item is not backend:
        result["frontCpuMsPerRequest"] = frontCpu / requests * 1e3
    return result


def cost(plan: Plan, running: list[Up]) -> list[dict[str, Any]]:
    """h2load against gunicorn alone and through each front, alternated."""
    backend = running[0]
    for item in running:
        h2load(item, backend, 300)  # Warm up: connections, imports, caches.
    records = []
    for round_ in range(plan.h2loadRounds):
        for item in rotated(running, round_):
            record = h2load(item, backend, plan.h2loadRequests)
            record.update(server=item.server.name, round=round_)
            records.append(record)
        log(f"h2load: round {round_ + 1} of {plan.h2loadRounds}")
    return records


# -- A backend's own 103 -------------------------------------------------------

_FRAME = re.compile(r"^\[\s*([0-9.]+)\] (.*)$")


def backendHints(running: list[Up]) -> dict[str, Any]:
    """
    What each front makes of a backend's own C{103} (L{fronts_app}'s
    L{EarlyHintsHandler}): C{nghttp -v --no-push}, directly; the statuses
    the client got, in order, and whether the stream was reset.
    """
    results = {}
    for item in running[1:]:
        argv = ["nghttp", "-v", "--no-push", item.url(HINTED_PATH)]
        started = time.monotonic()
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, check=False
        )
        statuses: list[list[Any]] = []
        reset = False
        for line in done.stdout.splitlines():
            match = _FRAME.match(line)
            if match is None:
                continue
            at, text = float(match.group(1)), match.group(2)
            if text.startswith("recv (stream_id=13) :status: "):
                statuses.append([int(text.rsplit(" ", 1)[1]), round(at * 1e3, 1)])
            elif text.startswith("recv RST_STREAM") and "stream_id=13" in text:
                reset = True
        results[item.server.name] = {
            "statuses": statuses,
            "reset": reset,
            "seconds": round(time.monotonic() - started, 2),
        }
    return results


# -- The run -------------------------------------------------------------------


def versions() -> dict[str, str]:
    """The versions of the programs measured."""
    found: dict[str, str] = {}
    for name, argv in (
        ("nginx", ["nginx", "-v"]),
        ("h2o", ["h2o", "--version"]),
        ("gunicorn", [BACKEND.program, "--version"]),
        ("chromium", ["chromium", "--version"]),
        ("nghttp", ["nghttp", "--version"]),
        ("h2load", ["h2load", "--version"]),
    ):
        if shutil.which(argv[0]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            lines = (done.stdout or done.stderr).splitlines()
            found[name] = lines[0].strip() if lines else "?"
    import twisted

    found["twisted"] = twisted.__version__
    found["flask"] = importlib.metadata.version("flask")
    return found


def run(plan: Plan, txpushTree: Path | None, txpushLabel: str | None) -> dict[str, Any]:
    """Start everything, measure, stop everything; return the results."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="txpush-fronts-"))
    os.chmod(work, 0o755)  # H2O runs as nobody.
    processes = Processes(work)
    try:
        site = work / "site"
        sizes = thinkapp.writeAssets(site)
        stateDir = work / "state"
        certificate, key = ensureDevelopmentCertificate(stateDir)
        ports = freePorts(2 + len(FRONTS))
        setup = Setup(work, site, stateDir, certificate, key, ports[0], ports[1])
        running = startAll(processes, setup, ports[2:], txpushTree)
        proxy = startProxy(processes, running)  # run.py's, with its RTTs
        log(f"{plan.name} run: {len(running) - 1} fronts up in {work}")
        for item in running[1:]:  # Warm up each front once, directly.
            nghttpclient.load(item.url(), timeout=NGHTTP_TIMEOUT)
        results: dict[str, Any] = {
            **resultsHead(plan, versions(), txpushTree, txpushLabel),
            "servers": {item.server.name: item.server.label for item in running},
            "tls": {item.server.name: tlsOf(item) for item in running[1:]},
            "assets": sizes,
            "pageBytes": len(thinkapp.pageBody(THINK_MS)),
            "thinkMs": THINK_MS,
            "pageRtts": list(PAGE_RTTS_MS),
            "browserRtt": BROWSER_RTT_MS,
            "gunicorn": " ".join(GUNICORN),
            "h2load": {"path": H2LOAD_PATH, "clients": H2LOAD_CLIENTS},
            "hintedPath": HINTED_PATH,
        }
        results["backendHints"] = backendHints(running)
        results["cookies"] = cookies(running)
        results["pages"] = pageLoads(plan, running, proxy, results["cookies"])
        profiles = work / "profiles"
        profiles.mkdir()
        pin = spkiHash(certificate)
        results["browser"] = browserLoads(plan, running, proxy, pin, profiles)
        results["cost"] = cost(plan, running)
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["loadAfter"] = os.getloadavg()
    return results


# -- The report ----------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def analyse(results: dict[str, Any]) -> dict[str, Any]:
    """The cells of the tables, from the raw results."""
    servers = list(results["servers"])
    fronts = [name for name in servers if name != BACKEND.name]
    pages: dict[str, Any] = {}
    for rtt in results["pageRtts"]:
        for name in fronts:
            for mode in ("first", "repeat", "warm"):
                loads = [
                    r
                    for r in results["pages"]
                    if (r["front"], r["rtt"], r["mode"]) == (name, rtt, mode)
                ]
                ok = [r for r in loads if "error" not in r]
                complete = [r for r in ok if not r["missing"]]
                cell: dict[str, Any] = {
                    "n": len(loads),
                    "failed": len(loads) - len(ok),
                    "incomplete": len(ok) - len(complete),
                    "missing": sorted({p for r in ok for p in r["missing"]}),
                }
                if ok:
                    cell["ms"] = quantiles([r["time"] * 1e3 for r in ok])
                    cell["htmlMs"] = quantiles([r["html"] * 1e3 for r in ok])
                    cell["pushed"] = _median([len(r["pushed"]) for r in ok])
                if mode == "warm" and ok:
                    cell["pushedBytes"] = _median([r["pushedBytes"] for r in ok])
                    cell["resets"] = _median([r["resets"] for r in ok])
                pages[f"{name}/{rtt}/{mode}"] = cell
    browser: dict[str, Any] = {}
    for name in servers:
        for kind in ("first", "later"):
            loads = [
                r
                for r in results["browser"]
                if (r["server"], r["kind"]) == (name, kind)
            ]
            ok = [r for r in loads if "error" not in r]
            cell = {"n": len(loads), "failed": len(loads) - len(ok)}
            if ok:
                fcps = [r["fcp"] for r in ok if r["fcp"] is not None]
                cell.update(
                    load=quantiles([r["load"] for r in ok]),
                    afterConnect=quantiles([r["load"] - r["connectEnd"] for r in ok]),
                    fcp=quantiles(fcps) if fcps else None,
                    hintUsed=sum(1 for r in ok if r["hintUsed"]) / len(ok),
                    hintArrived=sum(1 for r in ok if r["interimStart"]) / len(ok),
                    protocol=sorted({r["protocol"] or "?" for r in ok}),
                )
            browser[f"{name}/{kind}"] = cell
    for key, cell in browser.items():
        name, kind = key.split("/")
        # After the connection is up: gunicorn alone has no TLS handshake.
        base = browser.get(f"{BACKEND.name}/{kind}", {}).get("afterConnect")
        ours = browser.get(f"txpush/{kind}", {}).get("afterConnect")
        mine = cell.get("afterConnect")
        if mine and base:
            cell["vsBackend"] = mine["median"] / base["median"]
        if mine and ours:
            cell["vsTxpush"] = mine["median"] / ours["median"]
    cost: dict[str, Any] = {}
    for name in servers:
        runs = [r for r in results["cost"] if r["server"] == name]
        if not runs:
            continue
        cell = {
            "rounds": len(runs),
            "rps": _median([r["rps"] for r in runs]),
            "meanMs": _median([r["meanMs"] for r in runs]),
            "rpsRange": [min(r["rps"] for r in runs), max(r["rps"] for r in runs)],
            "backendCpuMs": _median([r["backendCpuMsPerRequest"] for r in runs]),
        }
        if name != BACKEND.name:
            cell["frontCpuMs"] = _median([r["frontCpuMsPerRequest"] for r in runs])
        cost[name] = cell
    base, ours = cost.get(BACKEND.name), cost.get("txpush")
    for cell in cost.values():
        if base:
            cell["rpsVsBackend"] = cell["rps"] / base["rps"]
            cell["addedMs"] = cell["meanMs"] - base["meanMs"]
        if ours:
            cell["rpsVsTxpush"] = cell["rps"] / ours["rps"]
    return {"pages": pages, "browser": browser, "cost": cost}


def _q(q: dict[str, float] | None) -> str:
    if not q:
        return "-"
    return f"**{q['median']:,.1f}** ({q['min']:,.1f}-{q['max']:,.1f})"


def _qi(q: dict[str, float] | None) -> str:
    if not q:
        return "-"
    return f"**{q['median']:,.0f}** ({q['min']:,.0f}-{q['max']:,.0f})"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _loads(cell: dict[str, Any]) -> str:
    """A cell of nghttp loads: the time, and the loads that lacked an asset."""
    text = _q(cell.get("ms"))
    if cell.get("incomplete"):
        text += f", {cell['incomplete']} of {cell['n']} without " + ", ".join(
            path.rsplit("/", 1)[1] for path in cell["missing"]
        )
    if cell.get("failed"):
        text += f", {cell['failed']} failed"
    return text


def _hintFate(seen: dict[str, Any] | None) -> str:
    """What became of a backend's 103, in a few words."""
    if seen is None:
        return "-"
    codes = [code for code, _ in seen["statuses"]]
    if codes == [103, 200]:
        return "relayed"
    if codes == [200]:
        return "dropped"
    if codes == [103] and seen["reset"]:
        return f"taken as final; reset after {seen['seconds']:.0f} s"
    return ", ".join(map(str, codes)) + (", reset" if seen["reset"] else "")


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _median_of(cell: dict[str, Any], key: str) -> float | None:
    q = cell.get(key)
    return None if not q else q["median"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


ANALYSIS_MARK = "## Analysis"


def markdown(results: dict[str, Any], analysis: dict[str, Any], notes: str) -> str:
    """The report, with the hand-written C{notes} at the end."""
    servers = results["servers"]
    fronts = [name for name in servers if name != BACKEND.name]
    plan = results["plan"]
    v = results["versions"]
    pages, browser, cost = analysis["pages"], analysis["browser"], analysis["cost"]
    rtt = max(results["pageRtts"])
    lines = [
        "# Three HTTP/2 fronts for one application: txpush, nginx, H2O",
        "",
        f"`bench/fronts.py`, {plan['name']} run of {results['when']}, "
        f"{results['seconds']:.0f} s; txpush {results['txpush']}; "
        f"{v.get('nginx', 'no nginx')}; {v.get('h2o', 'no H2O')}; "
        f"{v.get('gunicorn', 'gunicorn ?')} (`{results['gunicorn']}`) running "
        f"Flask {v['flask']}; {v.get('chromium', 'no Chromium')} headless; "
        f"{v.get('nghttp', 'nghttp ?')}; Twisted {v['twisted']}; "
        f"{results['machine']['cores']} cores, load average "
        f"{results['machine']['load'][0]:.1f} at the start and "
        f"{results.get('loadAfter', [float('nan')])[0]:.1f} at the end.",
        "",
        f"The application thinks {results['thinkMs']} ms, then answers its "
        f"page ({results['pageBytes']:,} bytes, `Cache-Control: no-cache`) "
        "with five `Link: rel=preload` headers for the assets it serves "
        "itself: "
        + ", ".join(
            f"{path.rsplit('/', 1)[1]} ({size:,} B)"
            for path, size in results["assets"].items()
        )
        + ", with `Cache-Control: public, max-age=86400`. Every front "
        "forwards every path to it over keep-alive HTTP/1.1 connections, "
        "and serves TLS 1.3 with ALPN h2 ("
        + "; ".join(f"{name}: {tls}" for name, tls in results["tls"].items())
        + "). Each front runs one process of one thread. Times: **median** "
        "(min-max), milliseconds.",
        "",
        "<!-- headline -->",
        "",
        "| | " + " | ".join(servers[name] for name in fronts) + " |",
        "|---|" + "---:|" * len(fronts),
    ]

    def row(title: str, value: Callable[[str], str]) -> None:
        lines.append(f"| {title} | " + " | ".join(value(n) for n in fronts) + " |")

    def ms(key: str) -> Callable[[str], str]:
        def value(name: str) -> str:
            median = _median_of(pages.get(f"{name}/{key}", {}), "ms")
            return "-" if median is None else f"{median:,.0f} ms"

        return value

    row(f"nghttp first visit, RTT {rtt} ms", ms(f"{rtt}/first"))
    row(f"nghttp repeat visit (`-a`, cookie), RTT {rtt} ms", ms(f"{rtt}/repeat"))
    row(
        "bytes pushed in vain, warm repeat visit",
        lambda n: f"{pages.get(f'{n}/{rtt}/warm', {}).get('pushedBytes', 0):,.0f}",
    )
    for kind, title in (("first", "a new page"), ("later", "a page seen before")):
        row(
            f"Chromium load event, {title}, RTT {results['browserRtt']} ms "
            "(after connect, vs gunicorn alone)",
            lambda n, kind=kind: (
                "-"
                if _median_of(browser.get(f"{n}/{kind}", {}), "load") is None
                else f"{_median_of(browser[f'{n}/{kind}'], 'load'):,.0f} ms "
                f"({_x(browser[f'{n}/{kind}'].get('vsBackend'))})"
            ),
        )
    row(
        "the backend's own 103",
        lambda n: _hintFate(results["backendHints"].get(n)),
    )
    row(
        "h2load requests/s (vs gunicorn alone)",
        lambda n: (
            "-"
            if n not in cost
            else f"{cost[n]['rps']:,.0f} ({_x(cost[n].get('rpsVsBackend'))})"
        ),
    )
    row(
        "latency added to a request (h2load mean)",
        lambda n: "-" if n not in cost else f"{cost[n].get('addedMs', 0):+.2f} ms",
    )
    lines += ["", "<!-- /headline -->", ""]

    lines += [
        "## Page loads with nghttp",
        "",
        "`nghttp -a` (it fetches what the HTML links, and takes pushes) "
        "through `proxy.py`; *page complete*: the end of the last response, "
        "from nghttp's `connectEnd` (the TLS handshake left out); *its HTML*: "
        "the end of the page's own response. *First*: "
        "no cookie. *Repeat*: the cookies of a first visit (`nghttp -a -v`, "
        "directly): nghttp has no cache, so it requests what is not pushed. "
        "*Warm*: the page alone with those cookies, as a client whose cache "
        "has every asset: whatever is pushed is wasted (DATA bytes on pushed "
        "streams, from nghttp's frame log). "
        f"{plan['pageRounds']} loads per cell, the fronts' order rotated "
        "each round. *vs txpush*: ratio of medians.",
        "",
    ]
    for rtt_ in results["pageRtts"]:
        lines += [
            f"### RTT {rtt_} ms",
            "",
            "| front | first visit | its HTML | pushed | vs txpush "
            "| repeat visit | pushed | vs txpush "
            "| warm repeat: page | pushed | bytes pushed in vain |",
            "|---|---|---:|---:|---:|---|---:|---:|---|---:|---:|",
        ]
        for name in fronts:
            first, repeat, warm = (
                pages.get(f"{name}/{rtt_}/{mode}", {})
                for mode in ("first", "repeat", "warm")
            )
            vsFirst, vsRepeat = (
                _ratio(
                    _median_of(cell, "ms"),
                    _median_of(pages.get(f"txpush/{rtt_}/{mode}", {}), "ms"),
                )
                for cell, mode in ((first, "first"), (repeat, "repeat"))
            )
            html = _median_of(first, "htmlMs")
            lines.append(
                f"| {servers[name]} | {_loads(first)} "
                f"| {'-' if html is None else f'{html:.1f}'} "
                f"| {_n(first.get('pushed'))} | {_x(vsFirst)} "
                f"| {_loads(repeat)} | {_n(repeat.get('pushed'))} | {_x(vsRepeat)} "
                f"| {_loads(warm)} | {_n(warm.get('pushed'))} "
                f"| {warm.get('pushedBytes', 0):,.0f} |"
            )
        lines.append("")
    lines += [
        "Cookies the first visit left (what the repeat visits send):",
        "",
    ]
    for name in fronts:
        lines.append(f"- {name}: `{results['cookies'].get(name) or 'none'}`")
    lines += [
        "",
        f"## Chromium, RTT {results['browserRtt']} ms",
        "",
        "Each load a new headless Chromium with an empty profile (driven as "
        "`bench/earlyhints.py` drives it: the DevTools protocol on a pipe, "
        "the certificate pinned), through `proxy.py`. *A new page*: "
        "`/p/first-N/`, which no server has answered before (a new N each "
        "round); *a page seen before*: `/p/later/`, answered once before the "
        "loads, whose earlier `Link` headers txpush sends as a 103 when the "
        "request arrives, while the application thinks. Chromium takes no "
        "push. gunicorn alone is the same application over HTTP/1.1 without "
        "TLS. *Load event*: `loadEventStart`, from navigation start (the "
        "handshakes included); *after connect*: from the navigation's "
        "`connectEnd` (the first connection's TCP and TLS handshakes left "
        "out: gunicorn alone has no TLS round trip), which the ratios "
        "compare; *hint used*: loads where an asset's Resource "
        "Timing entry says `early-hints`. "
        f"{plan['browserRounds']} loads per cell.",
        "",
        "| server | page | load event | after connect | first contentful paint "
        "| vs gunicorn alone | vs txpush | 103 arrived | hint used | protocol |",
        "|---|---|---|---|---|---:|---:|---:|---:|---|",
    ]
    for kind, title in (("first", "new"), ("later", "seen before")):
        for name in servers:
            cell = browser.get(f"{name}/{kind}", {})
            if "load" not in cell:
                lines.append(f"| {servers[name]} | {title} | failed |" + " |" * 7)
                continue
            failed = f", {cell['failed']} failed" if cell["failed"] else ""
            lines.append(
                f"| {servers[name]} | {title} | {_qi(cell['load'])}{failed} "
                f"| {_qi(cell['afterConnect'])} "
                f"| {_qi(cell['fcp'])} | {_x(cell.get('vsBackend'))} "
                f"| {_x(cell.get('vsTxpush'))} | {_pct(cell['hintArrived'])} "
                f"| {_pct(cell['hintUsed'])} | {', '.join(cell['protocol'])} |"
            )
    h2 = results["h2load"]
    lines += [
        "",
        "## Cost of the front: h2load",
        "",
        f"`h2load -n {plan['h2loadRequests']} -c {h2['clients']} -m 1` of "
        f"`{h2['path']}` (the page, with its Link headers, without thinking), "
        "directly (no proxy): over h2 and TLS through each front, over "
        "HTTP/1.1 (`--h1`) to gunicorn alone, the same concurrency (one "
        "request at a time on each connection). h2load takes no push; "
        "txpush sends it its learned 103 (h2load files those responses as "
        "3xx). CPU: user + system of the process group over the run, per "
        f"request. Median of {plan['h2loadRounds']} rounds, the order "
        "rotated each round; req/s range in parentheses.",
        "",
        "| server | requests/s | vs gunicorn alone | vs txpush | mean latency "
        "| added latency | front CPU per request | gunicorn CPU per request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in servers:
        cell = cost.get(name)
        if cell is None:
            continue
        low, high = cell["rpsRange"]
        front = cell.get("frontCpuMs")
        lines.append(
            f"| {servers[name]} | **{cell['rps']:,.0f}** ({low:,.0f}-{high:,.0f}) "
            f"| {_x(cell.get('rpsVsBackend'))} | {_x(cell.get('rpsVsTxpush'))} "
            f"| {cell['meanMs']:.2f} ms | {cell.get('addedMs', 0):+.2f} ms "
            f"| {'-' if front is None else f'{front:.3f} ms'} "
            f"| {cell['backendCpuMs']:.3f} ms |"
        )
    lines += [
        "",
        "## A backend's own 103",
        "",
        f"`{results['hintedPath']}` is forwarded to a backend that answers "
        "`103 Early Hints` (a stylesheet's preload link) at once, then its "
        f"`200` {results['thinkMs']} ms later (gunicorn cannot send a 103). "
        "`nghttp -v --no-push`, directly: the statuses the client got on "
        "the stream, with their times from nghttp's start.",
        "",
        "| front | statuses received | stream reset | seconds |",
        "|---|---|---|---:|",
    ]
    for name in fronts:
        seen = results["backendHints"].get(name)
        if seen is None:
            continue
        statuses = ", ".join(f"{code} at {at:.0f} ms" for code, at in seen["statuses"])
        lines.append(
            f"| {servers[name]} | {statuses or 'none'} "
            f"| {'yes' if seen['reset'] else 'no'} | {seen['seconds']:.1f} |"
        )
    lines += ["", notes.strip() or f"{ANALYSIS_MARK}\n\n(Not written yet.)", ""]
    return "\n".join(lines)


SHORT = {
    "backend": "gunicorn\nalone",
    "txpush": "txpush",
    "nginx": "nginx 1.22",
    "h2o": "H2O 2.2.5",
}
COLOURS = {
    "backend": "#9e9e9e",
    "txpush": "#0b3d91",
    "nginx": "#2e8b57",
    "h2o": "#e07b39",
}


def plot(results: dict[str, Any], analysis: dict[str, Any], path: Path) -> None:
    """Page-complete times, Chromium load events and h2load, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = list(results["servers"])
    fronts = [name for name in servers if name != BACKEND.name]
    rtt = max(results["pageRtts"])
    figure, axes = plt.subplots(1, 3, figsize=(16, 5.5))

    def bars(ax: Any, groups: list[str], names: list[str], cellOf: Any) -> None:
        width = 0.8 / len(names)
        for index, name in enumerate(names):
            xs, ys, low, high = [], [], [], []
            for position, group in enumerate(groups):
                q = cellOf(name, group)
                if not q:
                    continue
                xs.append(position + (index - (len(names) - 1) / 2) * width)
                ys.append(q["median"])
                low.append(q["median"] - q["min"])
                high.append(q["max"] - q["median"])
            ax.bar(
                xs,
                ys,
                width,
                yerr=[low, high],
                capsize=3,
                color=COLOURS.get(name),
                label=results["servers"][name],
            )
        ax.set_xticks(range(len(groups)))
        ax.grid(axis="y", alpha=0.3)

    modes = ["first", "repeat", "warm"]
    bars(
        axes[0],
        modes,
        fronts,
        lambda n, m: analysis["pages"].get(f"{n}/{rtt}/{m}", {}).get("ms"),
    )
    axes[0].set_xticklabels(
        ["first visit", "repeat visit\n(-a, cookie)", "warm repeat\n(page alone)"]
    )
    axes[0].set_ylabel("page complete, ms (median, min-max)")
    axes[0].set_title(f"nghttp, RTT {rtt} ms")
    bars(
        axes[1],
        ["first", "later"],
        servers,
        lambda n, k: analysis["browser"].get(f"{n}/{k}", {}).get("afterConnect"),
    )
    axes[1].set_xticklabels(["a new page", "a page seen before"])
    axes[1].set_ylabel("load event, ms after connectEnd (median, min-max)")
    axes[1].set_title(f"headless Chromium, RTT {results['browserRtt']} ms")
    cost = analysis["cost"]
    names = [name for name in servers if name in cost]
    axes[2].bar(
        range(len(names)),
        [cost[n]["rps"] for n in names],
        color=[COLOURS.get(n) for n in names],
        yerr=[
            [cost[n]["rps"] - cost[n]["rpsRange"][0] for n in names],
            [cost[n]["rpsRange"][1] - cost[n]["rps"] for n in names],
        ],
        capsize=3,
    )
    for index, name in enumerate(names):
        axes[2].annotate(
            f"{cost[name]['meanMs']:.1f} ms",
            (index, 0),
            ha="center",
            va="bottom",
            xytext=(0, 4),
            textcoords="offset points",
            fontsize=9,
            color="white",
        )
    axes[2].set_xticks(range(len(names)))
    axes[2].set_xticklabels([SHORT.get(n, n) for n in names])
    axes[2].set_ylabel("requests/s (median, min-max); mean latency in the bar")
    axes[2].set_title(f"h2load, {results['h2load']['clients']} connections")
    axes[2].grid(axis="y", alpha=0.3)
    figure.suptitle(
        f"HTTP/2 fronts for one gunicorn application that thinks "
        f"{results['thinkMs']} ms ({results['plan']['name']} run)"
    )
    handles, labels = axes[1].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="upper center", ncol=4, bbox_to_anchor=(0.5, 0.94)
    )
    figure.tight_layout(rect=(0, 0, 1, 0.88))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def writeReport(results: dict[str, Any], out: Path) -> None:
    """Write C{fronts.md} and C{.png}, keeping the analysis written by hand."""
    analysis = analyse(results)
    report = out / "fronts.md"
    notes = handWrittenNotes(report, ANALYSIS_MARK)
    report.write_text(markdown(results, analysis, notes))
    plot(results, analysis, out / "fronts.png")


def main(argv: list[str] | None = None) -> None:
    """Measure (or, with --report, rewrite the report) and write the results."""
    if not available(BACKEND):
        sys.exit(f"gunicorn is not installed: {BACKEND.install}")
    runReportedBench(
        argv,
        description=__doc__.split("\n\n")[0],
        quickHelp="a short run",
        name="fronts",
        measure=lambda options: run(
            QUICK if options.quick else FULL, options.txpush_tree, options.txpush_label
        ),
        writeReport=writeReport,
    )


if __name__ == "__main__":
    main()
