"""
Early Hints measured in a real browser: headless Chromium loads a page from
an application that thinks before it answers, served four ways side by
side, through a delaying proxy.

Run: python bench/earlyhints.py [--quick] [--out DIR]
        [--txpush-tree DIR --txpush-label LABEL]
     python bench/earlyhints.py --report [--out DIR]   (rewrite the report)

The application (L{thinkapp}) answers its page C{/t<T>/} T milliseconds
after the request (T = 0, 100, 300), with its C{Link: rel=preload} headers
on that final response only.  The servers, all over TLS 1.3 and HTTP/2
with txpush's development certificate:

    - C{twist-web}: a stock Twisted C{Site}: no hints;
    - C{txpush-manifest}: txpush, hints from a manifest;
    - C{txpush-learned}: txpush without a manifest, after one warm-up load
      of each page: whatever it hints, it took from the page's responses;
    - C{apache}: Apache httpd's mod_http2 with C{H2EarlyHints on} and the
      page's assets as C{H2EarlyHint Link} fields, a reverse proxy to the
      application served over HTTP/1.1 by Twisted.

Each load is a new Chromium (Debian's, headless) with a new profile,
driven over the DevTools protocol on a pipe (C{--remote-debugging-pipe}),
at RTT 50 and 150 ms through C{proxy.py}.  The page's own Resource Timing
and paint timing are read after its load event.  A warm repeat visit loads
the page a second time with the profile of the first.  Results go to
C{bench/results/earlyhints.md}, C{.json} and C{.png} (a quick run to
C{bench/results/quick/}).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import apache  # noqa: E402
import thinkapp  # noqa: E402
from procs import HOST, Processes, freePorts  # noqa: E402
from run import (  # noqa: E402
    handWrittenNotes,
    resultsHead,
    runReportedBench,
    startProxy,
)

from tests.test_chromium import CHROMIUM_FLAGS, spkiHash  # noqa: E402
from txpush.devcert import ensureDevelopmentCertificate  # noqa: E402

RTTS_MS = (50, 150)
THINK_MS = (0, 100, 300)
WARM_THINK_MS = 100
"""The think time of the warm repeat visits."""
LOOPBACK_THINK_MS = 100
"""The think time of the loads straight to the servers, without the proxy."""

CHROMIUM = "chromium"
LOAD_TIMEOUT = 30.0
SETTLE_SECONDS = 0.3
"""The least time a new browser is left to start before it loads the page."""


@dataclass(frozen=True)
class Plan:
    """How many loads a run makes."""

    name: str
    loads: int
    warmLoads: int


FULL = Plan("full", loads=10, warmLoads=10)
QUICK = Plan("quick", loads=1, warmLoads=1)


@dataclass(frozen=True)
class Server:
    """One way of serving the application."""

    name: str
    label: str
    hints: bool


SERVERS = (
    Server("twist-web", "stock twist web (no hints)", False),
    Server("txpush-manifest", "txpush, hints from a manifest", True),
    Server("txpush-learned", "txpush, hints learned from Link headers", True),
    Server("apache", "Apache mod_http2, H2EarlyHint", True),
)
WARM_SERVERS = ("twist-web", "txpush-manifest", "txpush-learned")
"""The servers loaded on a warm repeat visit: txpush against no hints."""


def log(message: str) -> None:
    """A progress line on standard error."""
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# -- The servers -------------------------------------------------------------


_APACHE_BODY = """\
Listen {host}:{port}
Protocols h2 http/1.1
SSLProtocol -all +TLSv1.3
H2Push off
H2EarlyHints on
<VirtualHost {host}:{port}>
  SSLEngine on
  SSLCertificateFile {certificate}
  SSLCertificateKeyFile {key}
  ProxyPass / http://{host}:{backend}/
  ProxyPassReverse / http://{host}:{backend}/
  # The page's assets, announced in a 103 before the request is proxied.
  <LocationMatch "^/t[0-9]+/$">
{hints}
  </LocationMatch>
</VirtualHost>
"""


def apacheConfig(
    run: Path, port: int, backend: int, certificate: Path, key: Path
) -> Path:
    """
    Write Apache's configuration into C{run}: a TLS h2 reverse proxy to
    C{backend} that sends the page's assets as a 103 first.

    C{H2EarlyHint Link ...} rather than C{H2PushResource add PATH}: mod_http2
    2.0 hints an C{H2PushResource} as C{<PATH>; rel=preload} with no C{as},
    which a browser cannot match to the request it makes later.
    """
    hints = "\n".join(
        f'    H2EarlyHint Link "{thinkapp.preloadLink(path, asType)}"'.replace(
            '"font/woff2"', "font/woff2"
        )
        for path, asType in thinkapp.ASSETS
    )
    body = _APACHE_BODY.format(
        host=HOST,
        port=port,
        backend=backend,
        certificate=certificate,
        key=key,
        hints=hints,
    )
    modules = ("authz_core", "mime", "headers", "ssl", "http2", "proxy", "proxy_http")
    return apache.config(run, modules, body)


@dataclass
class Running:
    """A server up on its port."""

    server: Server
    port: int
    process: subprocess.Popen[bytes]


def startServers(
    processes: Processes,
    work: Path,
    site: Path,
    certificate: Path,
    key: Path,
    txpushTree: Path | None,
) -> list[Running]:
    """Start every server (and Apache's backend), each on a free port."""
    ports = freePorts(len(SERVERS) + 1)
    script = [sys.executable, str(HERE / "earlyhints_server.py")]
    thinks = [arg for t in THINK_MS for arg in ("--think", str(t))]
    tls = ["--certificate", str(certificate), "--key", str(key)]
    running = []
    for server, port in zip(SERVERS, ports, strict=False):
        if server.name == "apache":
            if not apache.available():
                log("apache2 with mod_http2 is not installed: skipping Apache")
                continue
            backend = ports[-1]
            argv = [*script, "backend", "--port", str(backend), "--site", str(site)]
            process = processes.spawn("backend", argv)
            processes.waitForPort("backend", process, backend, 20)
            config = apacheConfig(work / "apache", port, backend, certificate, key)
            argv = apache.command(config)
        else:
            argv = [*script, server.name, "--port", str(port), "--site", str(site)]
            argv += [*tls, *thinks]
            if txpushTree is not None and server.name.startswith("txpush"):
                argv = ["env", f"PYTHONPATH={txpushTree}", *argv]
        process = processes.spawn(server.name, argv)
        processes.waitForPort(server.name, process, port, 20)
        running.append(Running(server, port, process))
    return running


def serverStats(port: int) -> dict[str, Any]:
    """A server's C{/_stats} (HTTP/1.1 over TLS, certificate unchecked)."""
    import ssl
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(
        f"https://{HOST}:{port}/_stats", context=context, timeout=10
    ) as response:
        stats: dict[str, Any] = json.load(response)
    return stats


# -- The 103 on the wire (nghttp -v) ----------------------------------------

_FRAME_TIME = re.compile(r"^\[\s*([0-9.]+)\] (.*)$")


def hintsOnTheWire(port: int, think: int) -> dict[str, Any]:
    """
    Fetch a page with C{nghttp -v} directly (no proxy, a new connection)
    and read its 103: the HEADERS frame's length (HPACK-coded, as sent),
    the Link field values, and how long before the 200 it came.
    """
    url = f"https://{HOST}:{port}{thinkapp.pagePath(think)}"
    done = subprocess.run(
        ["nghttp", "-v", url], capture_output=True, text=True, timeout=30
    )
    hint: dict[str, Any] = {"sent": False, "frameBytes": 0, "links": []}
    state = None
    for line in done.stdout.splitlines():
        match = _FRAME_TIME.match(line)
        if match is None:
            continue
        at, text = float(match.group(1)), match.group(2)
        if text.endswith(":status: 103"):
            state, hint["sent"], hint["at"] = "hint", True, at
        elif state == "hint" and " link: " in text:
            hint["links"].append(text.split(" link: ", 1)[1])
        elif state == "hint" and text.startswith("recv HEADERS frame <length="):
            hint["frameBytes"] = int(text.split("length=", 1)[1].split(",", 1)[0])
            state = None
        elif text.endswith(":status: 200"):
            if hint["sent"]:
                hint["leadMs"] = round((at - hint["at"]) * 1000, 1)
            break
    hint.pop("at", None)
    hint["linkBytes"] = sum(len("link") + len(value) for value in hint["links"])
    return hint


# -- Chromium over the DevTools protocol -------------------------------------

REPORT_SCRIPT = """
new Promise((resolve) => {
  const report = () => {
    const nav = performance.getEntriesByType("navigation")[0].toJSON();
    const paint = {};
    for (const p of performance.getEntriesByType("paint")) paint[p.name] = p.startTime;
    const resources = performance.getEntriesByType("resource").map((e) => ({
      path: new URL(e.name).pathname,
      initiator: e.initiatorType,
      start: e.startTime,
      requestStart: e.requestStart,
      responseStart: e.responseStart,
      end: e.responseEnd,
      transfer: e.transferSize,
      protocol: e.nextHopProtocol,
    }));
    resolve(JSON.stringify({ nav, paint, resources }));
  };
  if (performance.getEntriesByName("first-contentful-paint").length) {
    report();
  } else {
    new PerformanceObserver(report).observe({ type: "paint", buffered: true });
    setTimeout(report, 3000);
  }
})
"""
"""Evaluated after the load event: the page's timings, as JSON."""


class DevTools:
    """
    One headless Chromium, driven over C{--remote-debugging-pipe}: messages
    are JSON, each ended by a NUL byte, written to its fd 3 and read from
    its fd 4.
    """

    def __init__(self, profile: Path, pin: str) -> None:
        toChrome, self._out = os.pipe()
        self._in, fromChrome = os.pipe()

        def pipes() -> None:  # In the child, before exec.
            a, b = os.dup(toChrome), os.dup(fromChrome)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [
                CHROMIUM,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--ignore-certificate-errors-spki-list={pin}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # Python's own descriptors close on exec anyway.
            preexec_fn=pipes,  # This process runs no threads.
            start_new_session=True,
        )
        os.close(toChrome)
        os.close(fromChrome)
        self._buffer = b""
        self._nextId = 0
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._in], [], [], remaining)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> int:
        """Send a command; return its id."""
        self._nextId += 1
        message: dict[str, Any] = {
            "id": self._nextId,
            "method": method,
            "params": params or {},
        }
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._nextId

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str = "",
        timeout: float = LOAD_TIMEOUT,
    ) -> dict[str, Any]:
        """Send a command and wait for its result, keeping the events."""
        commandId = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == commandId:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def waitFor(self, method: str, session: str, timeout: float) -> dict[str, Any]:
        """Wait for an event of a session, keeping the others."""
        for event in self.events:
            if event["method"] == method and event.get("sessionId") == session:
                return event
        deadline = time.monotonic() + timeout
        while True:
            message = self._message(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method and message.get("sessionId") == session:
                    return message

    def cpuSeconds(self) -> float:
        """The CPU time the browser's processes (its process group) used."""
        total = 0.0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # pgrp
                    total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def settle(self, minimum: float, maximum: float = 3.0) -> float:
        """
        Wait until the browser is quiet (not at all when C{minimum} is 0):
        at least C{minimum} seconds, then
        until a tenth of a second passes in which it used under 10 ms of
        CPU, or C{maximum} seconds.

        @return: How long it waited.
        """
        started = time.monotonic()
        if minimum <= 0:
            return 0.0
        time.sleep(minimum)
        used = self.cpuSeconds()
        while time.monotonic() - started < maximum:
            time.sleep(0.1)
            now = self.cpuSeconds()
            if now - used < 0.01:
                break
            used = now
        return time.monotonic() - started

    def close(self) -> None:
        """Close the browser (so its profile is written out), then reap it."""
        with contextlib.suppress(OSError):
            self.send("Browser.close")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        for descriptor in (self._in, self._out):
            with contextlib.suppress(OSError):
                os.close(descriptor)


def loadPage(
    url: str, pin: str, profile: Path, settle: float = SETTLE_SECONDS
) -> dict[str, Any]:
    """
    Load C{url} in a new Chromium with C{profile} and return what the page
    measured: navigation timing, paint timing, Resource Timing, and, from
    the DevTools protocol, the 103s it received and the responses it took
    from them.
    """
    started = time.monotonic()
    browser = DevTools(profile, pin)
    try:
        deadline = time.monotonic() + 10
        while True:  # The first tab may not be there yet.
            targets = browser.call("Target.getTargets")["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        page = pages[0]
        session = browser.call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        browser.call("Network.enable", session=session)
        browser.call("Page.enable", session=session)
        # Let the new browser finish starting (its network service, first
        # run tasks) on the two cores before the clock starts.
        settled = browser.settle(settle)
        navigated = browser.call("Page.navigate", {"url": url}, session=session)
        if navigated.get("errorText"):
            raise RuntimeError(f"navigation failed: {navigated['errorText']}")
        browser.waitFor("Page.loadEventFired", session, LOAD_TIMEOUT)
        value = browser.call(
            "Runtime.evaluate",
            {"expression": REPORT_SCRIPT, "awaitPromise": True, "returnByValue": True},
            session=session,
        )["result"]["value"]
        report: dict[str, Any] = json.loads(value)
        urls: dict[str, str] = {}
        hints = 0
        fromHints = []
        for event in browser.events:
            params = event.get("params", {})
            if event["method"] == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
            elif event["method"] == "Network.responseReceivedEarlyHints":
                hints += 1
            elif event["method"] == "Network.responseReceived" and params[
                "response"
            ].get("fromEarlyHints"):
                fromHints.append(_path(params["response"]["url"]))
        report["earlyHintsReceived"] = hints
        report["fromEarlyHints"] = sorted(fromHints)
        report["wallSeconds"] = round(time.monotonic() - started, 3)
        report["settleSeconds"] = round(settled, 3)
        return report
    finally:
        browser.close()


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of one load, from what L{loadPage} returned."""
    nav = report["nav"]
    assets = {path for path, _ in thinkapp.ASSETS}
    entries = [r for r in report["resources"] if r["path"] in assets]
    used = sorted({r["path"] for r in entries if r["initiator"] == "early-hints"})
    ends = [r["end"] for r in entries]
    # Chromium's responseStart is the 103's arrival when there was one:
    # the 200's is finalResponseHeadersStart.
    interim = nav.get("firstInterimResponseStart") or 0
    final = nav.get("finalResponseHeadersStart") or nav["responseStart"]
    return {
        "fcp": report["paint"].get("first-contentful-paint"),
        "load": nav["loadEventStart"],
        "dcl": nav["domContentLoadedEventStart"],
        "requestStart": nav["requestStart"],
        "responseStart": final,
        "responseEnd": nav["responseEnd"],
        "connectEnd": nav["connectEnd"],
        "interimStart": interim or None,
        "firstAssetRequest": min((r["requestStart"] for r in entries), default=None),
        "lastAssetEnd": max(ends) if ends else None,
        "assetsSeen": len({r["path"] for r in entries}),
        "assets": {
            r["path"]: [r["initiator"], round(r["requestStart"], 1), round(r["end"], 1)]
            for r in entries
        },
        "hintUsed": used,
        "earlyHintsReceived": report["earlyHintsReceived"],
        "fromEarlyHints": report["fromEarlyHints"],
        "protocol": nav.get("nextHopProtocol"),
        "wallSeconds": report["wallSeconds"],
        "settleSeconds": report["settleSeconds"],
    }


def measuredLoad(
    url: str, pin: str, profile: Path, settle: float = SETTLE_SECONDS
) -> dict[str, Any]:
    """One load's figures; a load that fails is tried once more."""
    error = ""
    for _ in range(2):
        try:
            return summarise(loadPage(url, pin, profile, settle))
        except (RuntimeError, TimeoutError, KeyError, IndexError) as e:
            error = f"{type(e).__name__}: {e}"
            log(f"load of {url} failed: {error}")
            shutil.rmtree(profile, ignore_errors=True)
    return {"error": error}


# -- The run -----------------------------------------------------------------


def freshLoad(
    url: str, pin: str, profiles: Path, settle: float = SETTLE_SECONDS, **fields: Any
) -> dict[str, Any]:
    """One load with a new, empty profile (removed after), with C{fields}."""
    profile = Path(tempfile.mkdtemp(dir=profiles))
    try:
        record = measuredLoad(url, pin, profile, settle)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    record.update(fields)
    return record


def rotated(items: list[Running], by: int) -> list[Running]:
    """C{items} rotated by C{by}: each server leads in turn."""
    by %= len(items)
    return items[by:] + items[:by]


def coldLoads(
    plan: Plan,
    running: list[Running],
    proxy: dict[tuple[str, int], int],
    pin: str,
    profiles: Path,
) -> list[dict[str, Any]]:
    """Every first visit: each load a new Chromium with an empty profile."""
    records = []
    total = plan.loads * len(RTTS_MS) * len(THINK_MS) * len(running)
    turn = 0
    for round_ in range(plan.loads):
        for rtt in RTTS_MS:
            for think in THINK_MS:
                turn += 1
                for item in rotated(running, turn):
                    port = proxy[item.server.name, rtt]
                    url = f"https://{HOST}:{port}{thinkapp.pagePath(think)}"
                    fields = {"rtt": rtt, "think": think, "round": round_}
                    records.append(
                        freshLoad(url, pin, profiles, server=item.server.name, **fields)
                    )
                    if len(records) % 12 == 0 or len(records) == total:
                        log(f"cold loads: {len(records)} of {total}")
    return records


def warmLoads(
    plan: Plan,
    running: list[Running],
    proxy: dict[tuple[str, int], int],
    pin: str,
    profiles: Path,
) -> list[dict[str, Any]]:
    """
    Repeat visits: a first load fills a profile's cache (and, from txpush,
    its digest cookie), the second, in a new Chromium with the same profile,
    is measured.
    """
    chosen = [item for item in running if item.server.name in WARM_SERVERS]
    records = []
    turn = 0
    for round_ in range(plan.warmLoads):
        for rtt in RTTS_MS:
            turn += 1
            for item in rotated(chosen, turn):
                port = proxy[item.server.name, rtt]
                url = f"https://{HOST}:{port}{thinkapp.pagePath(WARM_THINK_MS)}"
                profile = Path(tempfile.mkdtemp(dir=profiles))
                first = measuredLoad(url, pin, profile, settle=0)
                record = (
                    measuredLoad(url, pin, profile) if "error" not in first else first
                )
                shutil.rmtree(profile, ignore_errors=True)
                record.update(
                    server=item.server.name,
                    rtt=rtt,
                    think=WARM_THINK_MS,
                    round=round_,
                    firstLoad=first.get("load"),
                    firstHintUsed=first.get("hintUsed"),
                )
                records.append(record)
    log(f"warm loads: {len(records)}")
    return records


def loopbackLoads(
    plan: Plan, running: list[Running], pin: str, profiles: Path
) -> list[dict[str, Any]]:
    """
    First visits straight to the hint servers on loopback (RTT about 0, no
    proxy), where Chromium is known to drop some hints: how many it drops.
    """
    chosen = [item for item in running if item.server.hints]
    records = []
    for round_ in range(plan.loads):
        for item in rotated(chosen, round_):
            url = f"https://{HOST}:{item.port}{thinkapp.pagePath(LOOPBACK_THINK_MS)}"
            fields = {"rtt": 0, "think": LOOPBACK_THINK_MS, "round": round_}
            records.append(
                freshLoad(url, pin, profiles, server=item.server.name, **fields)
            )
    log(f"loopback loads: {len(records)}")
    return records


def versions() -> dict[str, str]:
    """The versions of the programs measured."""
    found = {"python": platform.python_version()}
    for name, argv in (
        ("chromium", [CHROMIUM, "--version"]),
        ("apache", ["apache2", "-v"]),
        ("nghttp", ["nghttp", "--version"]),
    ):
        if shutil.which(argv[0]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            found[name] = (done.stdout or done.stderr).splitlines()[0].strip()
    import h2
    import twisted

    found["twisted"] = twisted.__version__
    found["h2"] = h2.__version__
    return found


def run(plan: Plan, txpushTree: Path | None, txpushLabel: str | None) -> dict[str, Any]:
    """Start everything, measure, stop everything; return the results."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="txpush-earlyhints-"))
    processes = Processes(work)
    try:
        site = work / "site"
        sizes = thinkapp.writeAssets(site)
        certificate, key = ensureDevelopmentCertificate(work / "state")
        pin = spkiHash(certificate)
        running = startServers(processes, work, site, certificate, key, txpushTree)
        proxy = startProxy(processes, running)  # run.py's, with its RTTs
        missing = set(RTTS_MS) - {rtt for _, rtt in proxy}
        if missing:
            raise RuntimeError(f"run.py's proxy has no route for RTT {missing}")
        profiles = work / "profiles"
        profiles.mkdir()
        log(f"{plan.name} run: {len(running)} servers and the proxy up in {work}")
        # One warm-up load of every page from every server, through the
        # proxy: txpush-learned learns each page's links from it.
        for item in running:
            for think in THINK_MS:
                port = proxy[item.server.name, RTTS_MS[0]]
                url = f"https://{HOST}:{port}{thinkapp.pagePath(think)}"
                warmup = freshLoad(url, pin, profiles, settle=0)
                if "error" in warmup:
                    raise RuntimeError(f"{item.server.name}: {warmup['error']}")
        log("warm-up loads done")
        wire = {
            item.server.name: {
                str(think): hintsOnTheWire(item.port, think) for think in THINK_MS
            }
            for item in running
        }
        results: dict[str, Any] = {
            **resultsHead(plan, versions(), txpushTree, txpushLabel),
            "servers": {item.server.name: item.server.label for item in running},
            "assets": sizes,
            "pageBytes": {str(t): len(thinkapp.pageBody(t)) for t in THINK_MS},
            "rtts": list(RTTS_MS),
            "thinks": list(THINK_MS),
            "warmThink": WARM_THINK_MS,
            "loopbackThink": LOOPBACK_THINK_MS,
            "wire": wire,
        }
        results["cold"] = coldLoads(plan, running, proxy, pin, profiles)
        results["warm"] = warmLoads(plan, running, proxy, pin, profiles)
        results["loopback"] = loopbackLoads(plan, running, pin, profiles)
        results["serverStats"] = {
            item.server.name: _stats(item)
            for item in running
            if item.server.name != "apache"
        }
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    return results


def _stats(item: Running) -> dict[str, Any]:
    stats = serverStats(item.port)
    pages = stats.pop("pages")
    leads: dict[str, list[float]] = {}
    for page in pages:
        leads.setdefault(page["path"], []).append(
            (page["answered"] - page["arrived"]) * 1000
        )
    stats["answeredAfterMs"] = {
        path: {"n": len(v), "median": round(statistics.median(v), 1)}
        for path, v in sorted(leads.items())
    }
    return stats


# -- The report ----------------------------------------------------------------


def quantiles(values: list[float]) -> dict[str, float]:
    """Median, quartiles, min and max."""
    values = sorted(values)
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return {
        "median": statistics.median(values),
        "q1": q1,
        "q3": q3,
        "min": values[0],
        "max": values[-1],
        "n": len(values),
    }


def cells(
    records: list[dict[str, Any]],
) -> dict[tuple[str, int, int], list[dict[str, Any]]]:
    """The loads that succeeded, by (server, RTT, think time)."""
    grouped: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for record in records:
        if "error" in record:
            continue
        grouped.setdefault(
            (record["server"], record["rtt"], record["think"]), []
        ).append(record)
    return grouped


def failures(records: list[dict[str, Any]]) -> int:
    """How many loads failed twice."""
    return sum(1 for record in records if "error" in record)


def fetchTime(loads: list[dict[str, Any]]) -> float:
    """
    How long fetching the page's assets took without hints: from the first
    asset's request to the end of the last one, median over the loads.
    """
    return statistics.median(
        r["lastAssetEnd"] - r["firstAssetRequest"]
        for r in loads
        if r["lastAssetEnd"] and r["firstAssetRequest"]
    )


def analyse(results: dict[str, Any]) -> dict[str, Any]:
    """Cell figures and goals from the raw results."""
    cold = cells(results["cold"])
    warm = cells(results["warm"])
    servers = list(results["servers"])
    figures: dict[str, Any] = {}
    goals: list[dict[str, Any]] = []
    for rtt in results["rtts"]:
        for think in results["thinks"]:
            base = cold.get(("twist-web", rtt, think), [])
            baseLoad = quantiles([r["load"] for r in base]) if base else None
            fetch = fetchTime(base) if base else None
            for name in servers:
                loads = cold.get((name, rtt, think), [])
                if not loads:
                    continue
                load = quantiles([r["load"] for r in loads])
                fcps = [r["fcp"] for r in loads if r["fcp"] is not None]
                used = sum(1 for r in loads if r["hintUsed"])
                allUsed = sum(
                    1 for r in loads if len(r["hintUsed"]) == len(thinkapp.ASSETS)
                )
                received = sum(1 for r in loads if r["earlyHintsReceived"])
                arrived = sum(1 for r in loads if r["interimStart"])
                cell: dict[str, Any] = {
                    "load": load,
                    "fcp": quantiles(fcps) if fcps else None,
                    "fcpMissing": len(loads) - len(fcps),
                    "hintUsed": used / len(loads),
                    "allHintsUsed": allUsed / len(loads),
                    "hintReceived": received / len(loads),
                    "hintArrived": arrived / len(loads),
                    "n": len(loads),
                }
                if name == "twist-web":
                    cell["fetch"] = fetch
                elif baseLoad is not None and fetch is not None:
                    saved = baseLoad["median"] - load["median"]
                    needed = 0.8 * min(think, fetch)
                    cell["saved"] = saved
                    cell["needed"] = needed
                    if think > 0:
                        goals.append(
                            {
                                "goal": "time",
                                "server": name,
                                "rtt": rtt,
                                "think": think,
                                "value": saved,
                                "needed": needed,
                                "met": saved >= needed,
                            }
                        )
                    if think >= 50:
                        goals.append(
                            {
                                "goal": "use",
                                "server": name,
                                "rtt": rtt,
                                "think": think,
                                "value": cell["hintUsed"],
                                "needed": 0.95,
                                "met": cell["hintUsed"] >= 0.95,
                            }
                        )
                figures[f"{name}/{rtt}/{think}"] = cell
    warmFigures: dict[str, Any] = {}
    for rtt in results["rtts"]:
        base = warm.get(("twist-web", rtt, results["warmThink"]), [])
        baseLoad = quantiles([r["load"] for r in base]) if base else None
        for name in servers:
            loads = warm.get((name, rtt, results["warmThink"]), [])
            if not loads:
                continue
            load = quantiles([r["load"] for r in loads])
            cell = {
                "load": load,
                "hintArrived": sum(1 for r in loads if r["interimStart"]) / len(loads),
                "n": len(loads),
            }
            if name != "twist-web" and baseLoad is not None:
                ratio = load["median"] / baseLoad["median"]
                cell["ratio"] = ratio
                goals.append(
                    {
                        "goal": "warm",
                        "server": name,
                        "rtt": rtt,
                        "think": results["warmThink"],
                        "value": ratio,
                        "needed": 1.01,
                        "met": ratio <= 1.01,
                    }
                )
            warmFigures[f"{name}/{rtt}"] = cell
    loopback: dict[str, Any] = {}
    for (name, _, think), loads in cells(results.get("loopback", [])).items():
        loopback[name] = {
            "think": think,
            "load": quantiles([r["load"] for r in loads]),
            "hintUsed": sum(1 for r in loads if r["hintUsed"]) / len(loads),
            "hintArrived": sum(1 for r in loads if r["interimStart"]) / len(loads),
            "hintReceived": sum(1 for r in loads if r["earlyHintsReceived"])
            / len(loads),
            "n": len(loads),
        }
    return {
        "cold": figures,
        "warm": warmFigures,
        "loopback": loopback,
        "goals": goals,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _spread(q: dict[str, float] | None) -> str:
    if q is None:
        return "-"
    return (
        f"**{q['median']:,.0f}** [{q['q1']:,.0f}-{q['q3']:,.0f}] "
        f"({q['min']:,.0f}-{q['max']:,.0f})"
    )


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


ANALYSIS_MARK = "## Analysis"


def markdown(results: dict[str, Any], analysis: dict[str, Any], notes: str) -> str:
    """The report, with the hand-written C{notes} (its analysis) at the end."""
    servers = results["servers"]
    plan = results["plan"]
    lines = [
        "# Early Hints in Chromium: an application that thinks",
        "",
        f"`bench/earlyhints.py`, {plan['name']} run of {results['when']}, "
        f"{results['seconds']:.0f} s; txpush {results['txpush']}; "
        f"{results['versions'].get('chromium', 'chromium ?')} headless; "
        f"{results['versions'].get('apache', 'no Apache')}; Twisted "
        f"{results['versions']['twisted']}; {results['machine']['cores']} cores. "
        f"{plan['loads']} first-visit loads per cell (a new Chromium and an "
        f"empty profile each), {plan['warmLoads']} repeat visits per cell.",
        "",
        "The page (`/t<T>/`, "
        f"{results['pageBytes'][str(results['thinks'][-1])]:,} bytes) answers "
        "T ms after its request, with its `Link: rel=preload` headers on that "
        "response only; it links "
        + ", ".join(
            f"{path.rsplit('/', 1)[1]} ({size:,} B)"
            for path, size in results["assets"].items()
        )
        + ". Times are milliseconds from navigation start (the TLS handshake "
        "through the proxy included): **median** [interquartile range] "
        "(min-max). *Saved* is no hints' median load event minus this "
        "server's; *needed* is 0.8 x min(T, fetch), where *fetch* is the "
        "assets' fetch time without hints (no hints' median, from the first "
        "asset's request to the last one's end). *Hint used*: loads where an "
        "asset's Resource Timing entry says `early-hints` (*all 5*: every "
        "asset's). *103 arrived*: loads whose navigation timing has a "
        "`firstInterimResponseStart`; *taken*: loads where Chromium handled "
        "it (DevTools `Network.responseReceivedEarlyHints`).",
        "",
    ]
    cold = analysis["cold"]
    for rtt in results["rtts"]:
        lines += [
            f"## First visit, RTT {rtt} ms",
            "",
            "| server | T | first contentful paint | load event | saved (needed) "
            "| hint used (all 5) | 103 arrived / taken |",
            "|---|---:|---|---|---:|---:|---:|",
        ]
        for think in results["thinks"]:
            for name in servers:
                cell = cold.get(f"{name}/{rtt}/{think}")
                if cell is None:
                    continue
                if name == "twist-web":
                    saved = f"fetch {_ms(cell.get('fetch'))}"
                else:
                    saved = f"{cell['saved']:+,.0f} ({cell['needed']:,.0f})"
                fcp = _spread(cell["fcp"])
                if cell["fcpMissing"]:
                    fcp += f", {cell['fcpMissing']} without"
                lines.append(
                    f"| {name} | {think} | {fcp} | {_spread(cell['load'])} "
                    f"| {saved} | {_pct(cell['hintUsed'])} "
                    f"({_pct(cell['allHintsUsed'])}) "
                    f"| {_pct(cell['hintArrived'])} / {_pct(cell['hintReceived'])} |"
                )
        lines.append("")
    lines += [
        "## The 103 on the wire",
        "",
        "`nghttp -v`, directly (no proxy), the first request of a new "
        "connection, after the warm-up loads: the 103's HEADERS frame "
        "payload (HPACK-coded: the bytes sent, before the 9-byte frame "
        "header), the Link fields' size as text (name + value), and how "
        "long before the 200 it arrived, per think time.",
        "",
        "| server | 103 frame bytes | Link field bytes | links | 103 before the 200, "
        + " / ".join(f"T={t}" for t in results["thinks"])
        + " |",
        "|---|---:|---:|---:|---|",
    ]
    for name in servers:
        byThink = results["wire"].get(name, {})
        last = byThink.get(str(results["thinks"][-1]), {})
        leads = " / ".join(
            (
                f"{byThink[str(t)]['leadMs']:.0f} ms"
                if byThink[str(t)].get("sent")
                else "none"
            )
            for t in results["thinks"]
        )
        lines.append(
            f"| {name} | {last.get('frameBytes', 0)} | {last.get('linkBytes', 0)} "
            f"| {len(last.get('links', []))} | {leads} |"
        )
    lines += ["", "Server side (each server's own log of the run):", ""]
    for name, stats in results.get("serverStats", {}).items():
        counters = stats.get("counters")
        answered = ", ".join(
            f"{path} {figure['median']:.0f} ms (n={figure['n']})"
            for path, figure in stats["answeredAfterMs"].items()
        )
        text = f"- {name}: pages answered after {answered}"
        if counters:
            text += (
                f"; {counters['earlyHints']} 103s sent for {counters['pages']} "
                f"pages, {counters['hinted']} assets hinted"
            )
        lines.append(text)
    lines += [
        "",
        f"## Repeat visit, warm cache (T = {results['warmThink']} ms)",
        "",
        "The second load of a profile, in a new Chromium: assets from its "
        "cache, the page asked for again (`Cache-Control: no-cache`).",
        "",
        "| server | RTT | load event | vs no hints | 103 arrived |",
        "|---|---:|---|---:|---:|",
    ]
    for rtt in results["rtts"]:
        for name in servers:
            cell = analysis["warm"].get(f"{name}/{rtt}")
            if cell is None:
                continue
            ratio = f"{cell['ratio']:.3f}x" if "ratio" in cell else "-"
            lines.append(
                f"| {name} | {rtt} | {_spread(cell['load'])} | {ratio} "
                f"| {_pct(cell['hintArrived'])} |"
            )
    if analysis["loopback"]:
        lines += [
            "",
            f"## Straight to the server on loopback (no proxy, T = "
            f"{results.get('loopbackThink', LOOPBACK_THINK_MS)} ms)",
            "",
            "First visits without the proxy (RTT about 0), not judged: how "
            "often Chromium drops a hint when the network adds no delay.",
            "",
            "| server | load event | hint used | 103 arrived / taken |",
            "|---|---|---:|---:|",
        ]
        for name in servers:
            cell = analysis["loopback"].get(name)
            if cell is None:
                continue
            lines.append(
                f"| {name} | {_spread(cell['load'])} | {_pct(cell['hintUsed'])} "
                f"({round(cell['hintUsed'] * cell['n'])} of {cell['n']}) "
                f"| {_pct(cell['hintArrived'])} / {_pct(cell['hintReceived'])} |"
            )
    failed = sum(
        failures(results.get(part, [])) for part in ("cold", "warm", "loopback")
    )
    lines += ["", f"Loads that failed twice: {failed}.", "", "## Goals", ""]
    descriptions = {
        "time": "load event sooner than no hints by >= 0.8 x min(T, fetch time)",
        "use": "hint used in >= 95% of loads (T >= 50 ms)",
        "warm": "warm repeat visit costs <= 1% more than no hints",
    }
    met = sum(1 for g in analysis["goals"] if g["met"])
    lines.append(f"{met} of {len(analysis['goals'])} met.")
    lines.append("")
    lines.append("| goal | server | RTT | T | measured | needed | |")
    lines.append("|---|---|---:|---:|---:|---:|---|")
    for goal in analysis["goals"]:
        if goal["goal"] == "use":
            value, needed = _pct(goal["value"]), ">= 95%"
        elif goal["goal"] == "warm":
            value, needed = f"{goal['value']:.3f}x", "<= 1.010x"
        else:
            value, needed = f"{goal['value']:+,.0f} ms", f">= {goal['needed']:,.0f} ms"
        lines.append(
            f"| {descriptions[goal['goal']]} | {goal['server']} | {goal['rtt']} "
            f"| {goal['think']} | {value} | {needed} | "
            f"{'met' if goal['met'] else '**missed**'} |"
        )
    lines += ["", notes.strip() or f"{ANALYSIS_MARK}\n\n(Not written yet.)", ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], analysis: dict[str, Any], path: Path) -> None:
    """Load event and first contentful paint by think time, per server and RTT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rtts = results["rtts"]
    thinks = results["thinks"]
    figure, axes = plt.subplots(
        2, len(rtts), figsize=(5.5 * len(rtts), 8), sharex=True, squeeze=False
    )
    servers = list(results["servers"])
    for column, rtt in enumerate(rtts):
        for row, (metric, title) in enumerate(
            (("load", "load event"), ("fcp", "first contentful paint"))
        ):
            ax = axes[row][column]
            for index, name in enumerate(servers):
                xs, ys, low, high = [], [], [], []
                for think in thinks:
                    cell = analysis["cold"].get(f"{name}/{rtt}/{think}")
                    if cell is None or cell[metric] is None:
                        continue
                    q = cell[metric]
                    xs.append(think + (index - 1.5) * 6)
                    ys.append(q["median"])
                    low.append(q["median"] - q["min"])
                    high.append(q["max"] - q["median"])
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[low, high],
                    marker="o",
                    capsize=3,
                    label=results["servers"][name],
                )
            ax.set_title(f"{title}, RTT {rtt} ms")
            ax.set_xticks(thinks)
            ax.set_ylabel("ms from navigation start (median, min-max)")
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("application think time T (ms)")
    axes[0][0].legend(fontsize=8, loc="upper left")
    figure.suptitle(
        f"Early Hints in headless Chromium, first visit "
        f"({results['plan']['loads']} loads per point)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def writeReport(results: dict[str, Any], out: Path) -> None:
    """Write C{earlyhints.md} and C{.png}, keeping the analysis written by hand."""
    analysis = analyse(results)
    report = out / "earlyhints.md"
    notes = handWrittenNotes(report, ANALYSIS_MARK)
    report.write_text(markdown(results, analysis, notes))
    plot(results, analysis, out / "earlyhints.png")


def main(argv: list[str] | None = None) -> None:
    """Measure (or, with --report, rewrite the report) and write the results."""
    runReportedBench(
        argv,
        description=__doc__.split("\n\n")[0],
        quickHelp="one load per cell",
        name="earlyhints",
        measure=lambda options: run(
            QUICK if options.quick else FULL, options.txpush_tree, options.txpush_label
        ),
        writeReport=writeReport,
    )


if __name__ == "__main__":
    main()
