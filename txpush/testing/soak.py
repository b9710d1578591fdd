"""
The soak's load on C{twist txpush}: h2load and a push-accepting client at
once, for a while, with the server's failures, descriptors and memory
measured.  bench/soak.py runs it for minutes and writes the report;
tests/test_hardening.py runs it for 30 seconds.

The site is small: two pages, a manifest naming five assets, one of them
256 KiB so that pushes wait on flow control.  The server is C{twist txpush
--listen tcp:0:interface=127.0.0.1} (cleartext HTTP/2 on loopback).  For
the load's duration, at once:

  - h2load, in rounds of at most 10 seconds (each round opens new
    connections), asks for the pages and assets; h2load takes no pushes,
    so its pages get 103 Early Hints;
  - the push client (L{H2Client}) in a separate process, with several
    connections in threads, each opening connection after connection.  A
    connection's first page takes its pushes in one of six ways in turn
    (L{BEHAVIOURS}): it accepts them, resets every one on its promise
    (CANCEL) or on its response (REFUSED_STREAM), sends a garbage digest
    cookie, or drops the connection once a pushed body starts to arrive
    (unless drops are off).  It then loads a second page, the first page
    again with the digest cookie it was given (a repeat visit: nothing is
    pushed) and an asset, and closes.

Meanwhile the server's resident memory is sampled every second; its open
file descriptors are counted before the load and again once the clients
have closed.

Failures: h2load's failed, errored and timed-out requests and its 4xx and
5xx responses (h2load 1.52 counts a response that came after 103 Early
Hints as 3xx: the site has no redirects, so 3xx are the pages); the push
client's pages and pushes that did not end with a 2xx response, resets it
did not ask for, GOAWAY frames, lost connections and timeouts.  Responses
it abandons on purpose (resets, drops) are not failures.

A resetting visit sends its resets as they come, with the WINDOW_UPDATE
frames of the data it read, as a browser does; the server may then read a
WINDOW_UPDATE and a later RST_STREAM in one go, which used to kill its
sending loop.  With fenced resets (L{FencedResetClient}) it sends its
resets only once a PING it sent has been answered, holding back its own
WINDOW_UPDATE frames meanwhile, so that this never happens: a way to tell
that failure from others.

Run as C{python -m txpush.testing.soak --port PORT ...}, this module is
the push client's process: it prints its totals as one line of JSON.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h2.errors
import h2.events

from txpush.testing.digests import digestCookie
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.processes import (
    MemorySampler,
    descriptorTargets,
    openDescriptors,
    settledDescriptors,
)
from txpush.testing.twist import TwistServer

H2LOAD = "h2load"
DEFAULT_MAX_GROWTH_KIB = 8192
"""The most VmRSS may grow after the warm-up, in KiB."""
FD_SLACK = 2
"""How many more descriptors than before the load may stay open after it."""
PAGES = ("/", "/about.html")
H2LOAD_PATHS = ("/", "/about.html", "/style.css", "/app.js", "/logo.svg")


# The site.


@dataclass(frozen=True)
class SoakSite:
    """
    The soak's site on disk.

    @ivar root: The directory to serve.
    @ivar manifest: The push manifest, beside it.
    """

    root: Path
    manifest: Path


def writeSite(directory: Path) -> SoakSite:
    """
    Write the soak's site into C{directory}/site and its manifest beside it.

    @param directory: Where to write them.
    @return: The site.
    """
    site = directory / "site"
    site.mkdir(parents=True, exist_ok=True)
    head = (
        '<link rel="stylesheet" href="/style.css">'
        '<script src="/app.js"></script><script src="/big.js"></script>'
    )
    (site / "index.html").write_text(
        f"<!DOCTYPE html><html><head>{head}</head>"
        '<body><img src="/logo.svg">' + "<p>soak</p>" * 200 + "</body></html>"
    )
    (site / "about.html").write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="/style.css">'
        '<script src="/about.js"></script></head><body>about</body></html>'
    )
    (site / "style.css").write_text("body { color: navy; }\n" * 400)
    (site / "app.js").write_text('console.log("app");\n' * 800)
    (site / "about.js").write_text('console.log("about");\n' * 50)
    (site / "big.js").write_bytes(b"/* big */\n" + b"x" * (256 * 1024) + b"\n")
    (site / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
    )
    manifest = directory / "push-manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "/index.html": ["/style.css", "/app.js", "/big.js", "/logo.svg"],
                "/about.html": ["/style.css", "/about.js"],
            }
        )
    )
    return SoakSite(site, manifest)


# h2load.


@dataclass
class H2LoadTotals:
    """
    h2load's counts, added up over its rounds.

    @ivar problems: What went wrong with rounds that did not finish.
    """

    rounds: int = 0
    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    errored: int = 0
    timeout: int = 0
    status2xx: int = 0
    status3xx: int = 0
    status4xx: int = 0
    status5xx: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        """Requests that did not end with a 2xx or 3xx response."""
        return (
            self.failed + self.errored + self.timeout + self.status4xx + self.status5xx
        )


_REQUESTS = re.compile(
    r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout"
)
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def runH2Load(
    urls: list[str],
    duration: float,
    totals: H2LoadTotals,
    clients: int = 6,
    streams: int = 8,
    roundSeconds: float = 10.0,
) -> H2LoadTotals:
    """
    Run h2load against C{urls} in rounds until C{duration} seconds have
    passed; five failed rounds in a row end it.

    @param urls: What to request.
    @param duration: How long, in seconds.
    @param totals: Where to add its counts.
    @param clients: h2load's C{-c}.
    @param streams: h2load's C{-m}.
    @param roundSeconds: The longest round, in seconds.
    @return: C{totals}.
    """
    deadline = time.monotonic() + duration
    errors = 0
    while (remaining := deadline - time.monotonic()) >= 1 and errors < 5:
        seconds = int(min(roundSeconds, remaining))
        command = [
            H2LOAD,
            *("-D", str(seconds), "-c", str(clients), "-m", str(streams), "-t", "1"),
            *urls,
        ]
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + 30
            )
        except subprocess.TimeoutExpired:
            totals.problems.append("h2load round timed out")
            totals.failed += 1
            return totals
        requests = _REQUESTS.search(completed.stdout)
        status = _STATUS.search(completed.stdout)
        if completed.returncode != 0 or requests is None or status is None:
            errors += 1
            totals.problems.append(
                f"h2load exited {completed.returncode}: "
                + (completed.stderr or completed.stdout)[-500:]
            )
            totals.failed += 1
            continue
        errors = 0
        totals.rounds += 1
        total, succeeded, failed, errored, timedOut = map(int, requests.groups())
        totals.requests += total
        totals.succeeded += succeeded
        totals.failed += failed
        totals.errored += errored
        totals.timeout += timedOut
        s2, s3, s4, s5 = map(int, status.groups())
        totals.status2xx += s2
        totals.status3xx += s3
        totals.status4xx += s4
        totals.status5xx += s5
    return totals


# The push-accepting client.


@dataclass
class PushTotals:
    """
    What the push client did and saw.

    @ivar problems: The first 50 failures, described.
    """

    connections: int = 0
    pages: int = 0
    pushesPromised: int = 0
    pushesCompleted: int = 0
    resetsSent: int = 0
    drops: int = 0
    earlyHints: int = 0
    failures: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: PushTotals) -> None:
        """
        Add another's counts to these.

        @param other: The other totals.
        """
        for name, value in asdict(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.problems.extend(other.problems[: max(0, 50 - len(self.problems))])

    def fail(self, problem: str) -> None:
        """
        Count a failure and keep its description (the first 50).

        @param problem: What went wrong.
        """
        self.failures += 1
        if len(self.problems) < 50:
            self.problems.append(problem)


class Dropped(Exception):
    """The visit ended the connection on purpose."""


class FencedResetClient(H2Client):
    """
    A client that sends its resets only once a PING sent after them has
    been answered, holding back its WINDOW_UPDATE frames meanwhile: the
    server never reads a reset in the same read as a WINDOW_UPDATE.
    """

    def __init__(self, port: int, **kwargs: object) -> None:
        """
        Connect.

        @param port: The server's port.
        @param kwargs: L{H2Client}'s other arguments.
        """
        self._pendingResets: dict[int, int] = {}
        self._pendingAcknowledgements: list[tuple[int, int]] = []
        self._fence: bytes | None = None
        self._fences = 0
        super().__init__(port, **kwargs)  # type: ignore[arg-type]

    def reset(self, streamID: int, code: int = h2.errors.ErrorCodes.CANCEL) -> None:
        """
        Reset a stream once the server has read what was sent before.

        @param streamID: The stream.
        @param code: The RST_STREAM's error code.
        """
        self._pendingResets.setdefault(streamID, code)
        if self._fence is None:
            self._fences += 1
            self._fence = self._fences.to_bytes(8, "big")
            self.conn.ping(self._fence)

    def settled(self, streamID: int) -> Callable[[], bool]:
        """
        A condition: no reset waits, and the stream and its pushes are done.

        @param streamID: The stream.
        """
        done = super().settled(streamID)
        return lambda: not self._pendingResets and done()

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived) and (
            self._pendingResets or self._fence is not None
        ):
            self.streams[event.stream_id].body += event.data
            self._pendingAcknowledgements.append(
                (event.flow_controlled_length, event.stream_id)
            )
            return
        if (
            isinstance(event, h2.events.PingAckReceived)
            and event.ping_data == self._fence
        ):
            # Every WINDOW_UPDATE sent so far has been read: the resets go
            # out first, the acknowledgements after.
            self._fence = None
            for streamID, code in self._pendingResets.items():
                super().reset(streamID, code)
            self._pendingResets.clear()
            self.flush()
            for length, streamID in self._pendingAcknowledgements:
                self.conn.acknowledge_received_data(length, streamID)
            self._pendingAcknowledgements.clear()
        super()._handle(event)


def visit(
    client: H2Client,
    path: bytes,
    totals: PushTotals,
    cookie: bytes | None = None,
    resetOn: str | None = None,
    dropMidPush: bool = False,
) -> bytes | None:
    """
    Request C{path} and read until it and every push promised on it are
    done, counting what happened in C{totals}.

    @param client: The connection.
    @param path: The page or asset.
    @param totals: Where to count.
    @param cookie: A Cookie header to send.
    @param resetOn: C{"promise"} or C{"response"}: reset every push then.
    @param dropMidPush: Close the connection once a push's body starts.
    @return: The digest cookie the response set, if any.
    @raise Dropped: The connection was dropped on purpose.
    @raise ConnectionError: The connection failed or timed out.
    """

    def promised(client: H2Client, stream: Stream) -> None:
        totals.pushesPromised += 1
        if resetOn == "promise":
            client.reset(stream.streamID, h2.errors.ErrorCodes.CANCEL)

    def responded(client: H2Client, stream: Stream) -> None:
        if resetOn == "response":
            client.reset(stream.streamID, h2.errors.ErrorCodes.REFUSED_STREAM)

    client.onPushPromise = promised
    client.onPushResponse = responded
    resetsBefore = client.resetsSent
    headers = [(b"user-agent", b"txpush-soak")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    streamID = client.request(path, headers)
    settled = client.settled(streamID)

    def pushArriving() -> bool:
        return any(p.body for p in client.pushes(streamID))

    try:
        client.runUntil(lambda: settled() or (dropMidPush and pushArriving()))
    except (TimeoutError, ConnectionError) as e:
        raise ConnectionError(f"{path!r}: {e}") from e
    if not settled():
        client.close()
        raise Dropped()
    if client.terminated is not None:
        raise ConnectionError(f"GOAWAY {client.terminated.errorCode} on {path!r}")
    page = client.streams[streamID]
    pushes = client.pushes(streamID)
    totals.pages += 1
    totals.resetsSent += client.resetsSent - resetsBefore
    totals.earlyHints += sum(len(s.informational) for s in [page, *pushes])
    if page.status != 200:
        totals.fail(f"page {path!r}: status {page.status}, reset {page.resetCode}")
    for pushed in pushes:
        if pushed.resetByClient:
            continue
        if pushed.ended and pushed.status is not None and 200 <= pushed.status < 300:
            totals.pushesCompleted += 1
        else:
            totals.fail(
                f"push {pushed.streamID} of {path!r}: status {pushed.status}, "
                f"reset {pushed.resetCode}"
            )
    return digestCookie(page)


BEHAVIOURS = (
    "accept",
    "reset-on-promise",
    "reset-on-response",
    "garbage-cookie",
    "accept",
    "drop-mid-push",
)
"""What the first visit of each connection does with its pushes, in turn."""

GARBAGE_COOKIE = b"h2o_casper=" + b"\xff\x01not base64!" * 10


def pushConnections(
    port: int,
    deadline: float,
    totals: PushTotals,
    seed: int,
    fence: bool = False,
    drops: bool = True,
) -> None:
    """
    Open connection after connection until C{deadline}.  Each visits C{/}
    (taking its pushes as L{BEHAVIOURS} says in turn), then C{/about.html}
    and C{/} again with the digest cookie it was given (a repeat visit),
    then fetches C{/app.js} itself, and closes.

    @param port: The server's port.
    @param deadline: When to stop, a C{time.monotonic()} time.
    @param totals: Where to count.
    @param seed: Where in L{BEHAVIOURS} to start.
    @param fence: Whether to use a L{FencedResetClient}.
    @param drops: Whether to drop connections mid-push.
    """
    behaviours = [b for b in BEHAVIOURS if drops or b != "drop-mid-push"]
    number = seed
    while time.monotonic() < deadline:
        number += 1
        behaviour = behaviours[number % len(behaviours)]
        try:
            client = FencedResetClient(port) if fence else H2Client(port)
        except OSError as e:
            totals.fail(f"cannot connect: {e}")
            time.sleep(0.5)
            continue
        totals.connections += 1
        try:
            cookie = visit(
                client,
                b"/",
                totals,
                cookie=GARBAGE_COOKIE if behaviour == "garbage-cookie" else None,
                resetOn={
                    "reset-on-promise": "promise",
                    "reset-on-response": "response",
                }.get(behaviour),
                dropMidPush=behaviour == "drop-mid-push",
            )
            cookie = visit(client, b"/about.html", totals, cookie=cookie) or cookie
            visit(client, b"/", totals, cookie=cookie)
            visit(client, b"/app.js", totals, cookie=cookie)
        except Dropped:
            totals.drops += 1
        except (OSError, ConnectionError) as e:
            totals.fail(f"connection {number} ({behaviour}): {e}")
        finally:
            client.close()


def runPushClient(
    port: int,
    duration: float,
    connections: int = 3,
    fence: bool = False,
    drops: bool = True,
) -> PushTotals:
    """
    Run L{pushConnections} in C{connections} threads for C{duration} seconds.

    @return: Their totals, added up.
    """
    deadline = time.monotonic() + duration
    each = [PushTotals() for _ in range(connections)]
    threads = [
        threading.Thread(
            target=pushConnections,
            args=(port, deadline, each[i], 1000 * i, fence, drops),
            daemon=True,
        )
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 60)
    totals = PushTotals()
    for one in each:
        totals.add(one)
    return totals


def startPushClient(
    port: int,
    duration: float,
    connections: int,
    fence: bool = False,
    drops: bool = True,
) -> subprocess.Popen[str]:
    """
    Run L{runPushClient} in a separate process (this module's command line).

    @return: The process; L{pushClientResult} reads its totals.
    """
    command = [
        sys.executable,
        "-m",
        __name__,
        *("--port", str(port), "--duration", str(duration)),
        *("--connections", str(connections)),
    ]
    if fence:
        command.append("--fenced-resets")
    if not drops:
        command.append("--no-drops")
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def pushClientResult(process: subprocess.Popen[str], timeout: float) -> PushTotals:
    """
    Wait for a push client process and read its totals.

    @param process: What L{startPushClient} returned.
    @param timeout: How long to wait, in seconds.
    @return: Its totals, or one failure saying why there are none.
    """
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)
        totals = PushTotals()
        totals.fail("push client did not finish in time")
        return totals
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        totals = PushTotals()
        totals.fail(f"push client exited {process.returncode}: {err[-500:]}")
        return totals
    return PushTotals(**data)


# The whole soak.


@dataclass
class SoakResult:
    """
    The figures of one soak.

    @ivar samples: The server's VmRSS, as (seconds since the start, KiB).
    @ivar cpuSeconds: The CPU time the server used, in seconds.
    """

    duration: float
    warmUp: float
    drops: bool
    fence: bool
    h2load: H2LoadTotals
    push: PushTotals
    served: int
    servedErrors: int
    fdsBefore: int
    fdsAfter: int
    leakedDescriptors: list[str]
    samples: list[tuple[float, int]]
    serverProblems: list[str]
    exitStatus: int | None
    cpuSeconds: float = 0.0

    @property
    def failures(self) -> int:
        """
        Failed responses: those the clients saw, or, if more, those the
        access log has with a 4xx or 5xx status.
        """
        return max(self.h2load.failures + self.push.failures, self.servedErrors)

    @property
    def rssStart(self) -> int:
        """VmRSS before the load, in KiB."""
        return self.samples[0][1]

    @property
    def rssEnd(self) -> int:
        """VmRSS at the end of the load, in KiB."""
        return self.samples[-1][1]

    @property
    def rssMax(self) -> int:
        """The largest VmRSS sampled, in KiB."""
        return max(kib for _, kib in self.samples)

    @property
    def rssAfterWarmUp(self) -> int:
        """VmRSS at the end of the warm-up, in KiB."""
        return next(
            (kib for t, kib in self.samples if t >= self.warmUp), self.samples[-1][1]
        )

    @property
    def growthAfterWarmUp(self) -> int:
        """
        How much VmRSS grew from the end of the warm-up to the end of the
        load, in KiB: the median of the last tenth of the samples less the
        median of the tenth that starts at the warm-up's end, so that one
        sample does not decide.
        """
        during = [kib for t, kib in self.samples if t >= self.warmUp]
        if len(during) < 2:
            return 0
        tenth = max(1, len(during) // 10)
        return _median(during[-tenth:]) - _median(during[:tenth])

    @property
    def slopeKiBPerMinute(self) -> float:
        """The least-squares slope of VmRSS after the warm-up, in KiB per minute."""
        points = [(t, kib) for t, kib in self.samples if t >= self.warmUp]
        if len(points) < 2:
            return 0.0
        meanT = sum(t for t, _ in points) / len(points)
        meanK = sum(k for _, k in points) / len(points)
        variance = sum((t - meanT) ** 2 for t, _ in points)
        if not variance:
            return 0.0
        covariance = sum((t - meanT) * (k - meanK) for t, k in points)
        return 60 * covariance / variance


def _median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def soak(
    duration: float,
    warmUp: float,
    pushConnectionCount: int = 3,
    h2loadClients: int = 6,
    h2loadStreams: int = 8,
    fence: bool = False,
    drops: bool = True,
    workDirectory: Path | None = None,
    cpuSeconds: Callable[[int], float] | None = None,
) -> SoakResult:
    """
    Serve the soak's site with C{twist txpush} and load it for C{duration}
    seconds with h2load and the push client at once; measure it.

    @param duration: How long to load it, in seconds.
    @param warmUp: How long the warm-up lasts, in seconds (for the figures
        of memory growth).
    @param pushConnectionCount: The push client's threads.
    @param h2loadClients: h2load's C{-c}.
    @param h2loadStreams: h2load's C{-m}.
    @param fence: Whether the push client fences its resets.
    @param drops: Whether the push client drops connections mid-push.
    @param workDirectory: Where to write the site, the access log and the
        server's state (default: a temporary directory).
    @param cpuSeconds: Reads a process's CPU time so far, in seconds; the
        server's CPU time is left at 0 without it.
    @return: The figures.
    """
    with tempfile.TemporaryDirectory(prefix="txpush-soak-") as temporary:
        work = Path(workDirectory or temporary)
        site = writeSite(work)
        accessLog = work / "access.log"
        server = TwistServer(
            *("--path", str(site.root), "--listen", "tcp:0:interface=127.0.0.1"),
            *("--push-manifest", str(site.manifest), "--access-log", str(accessLog)),
            stateDirectory=work / "state",
        )
        cpu = 0.0
        try:
            # Let the server finish starting before counting what it holds.
            time.sleep(0.5)
            fdsBefore = openDescriptors(server.pid)
            targetsBefore = descriptorTargets(server.pid)
            cpuBefore = cpuSeconds(server.pid) if cpuSeconds else 0.0
            sampler = MemorySampler(server.pid, limit=duration + 120)
            pushProcess = startPushClient(
                server.port(), duration, pushConnectionCount, fence, drops
            )
            urls = [server.url(path=path) for path in H2LOAD_PATHS]
            h2load = runH2Load(
                urls, duration, H2LoadTotals(), h2loadClients, h2loadStreams
            )
            push = pushClientResult(pushProcess, timeout=duration + 60)
            samples = sampler.stop()
            if cpuSeconds is not None:
                cpu = cpuSeconds(server.pid) - cpuBefore
            fdsAfter = settledDescriptors(server.pid, fdsBefore, FD_SLACK)
            leaked = list(
                (
                    collections.Counter(descriptorTargets(server.pid))
                    - collections.Counter(targetsBefore)
                ).elements()
            )
        finally:
            exitStatus = server.stop()
        served, servedErrors = accessLogCounts(accessLog)
    return SoakResult(
        duration=duration,
        warmUp=warmUp,
        drops=drops,
        fence=fence,
        h2load=h2load,
        push=push,
        served=served,
        servedErrors=servedErrors,
        fdsBefore=fdsBefore,
        fdsAfter=fdsAfter,
        leakedDescriptors=[target.replace(str(work), "WORK") for target in leaked],
        samples=samples,
        serverProblems=server.problems[:1000],
        exitStatus=exitStatus,
        cpuSeconds=cpu,
    )


_STATUS_IN_LOG = re.compile(rb'" (\d{3}) ')


def accessLogCounts(path: Path) -> tuple[int, int]:
    """
    The lines of an access log, and how many of them have a 4xx or 5xx
    status.  Twisted's Site rotates its access log every 1,000,000 bytes,
    keeping the old ones as PATH.1, PATH.2, ...

    @param path: The access log.
    @return: (lines, lines with a 4xx or 5xx status).
    """
    lines = errors = 0
    for one in [path, *path.parent.glob(path.name + ".*")]:
        if one.exists():
            with one.open("rb") as f:
                for line in f:
                    lines += 1
                    status = _STATUS_IN_LOG.search(line)
                    if status is not None and status.group(1)[:1] in b"45":
                        errors += 1
    return lines, errors


def verdict(
    result: SoakResult, maxGrowthKiB: int = DEFAULT_MAX_GROWTH_KIB
) -> list[str]:
    """
    What went wrong in a soak.

    @param result: The soak's figures.
    @param maxGrowthKiB: The most VmRSS may grow after the warm-up, in KiB.
    @return: The problems; empty when nothing went wrong.
    """
    problems = []
    if result.failures:
        problems.append(f"{result.failures} failed responses")
    if result.fdsAfter > result.fdsBefore + FD_SLACK:
        problems.append(
            f"file descriptors: {result.fdsBefore} before, {result.fdsAfter} after"
        )
    if result.growthAfterWarmUp >= maxGrowthKiB:
        problems.append(
            f"VmRSS grew {result.growthAfterWarmUp} KiB after the warm-up "
            f"(bound {maxGrowthKiB} KiB)"
        )
    if result.exitStatus != 0:
        problems.append(f"the server exited with status {result.exitStatus}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """
    The push client's process: run L{runPushClient}, print its totals.

    @param argv: The command line's arguments.
    @return: The exit status.
    """
    parser = argparse.ArgumentParser(description="The soak's push client.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--fenced-resets", action="store_true")
    parser.add_argument("--no-drops", action="store_true")
    arguments = parser.parse_args(argv)
    totals = runPushClient(
        arguments.port,
        arguments.duration,
        arguments.connections,
        arguments.fenced_resets,
        not arguments.no_drops,
    )
    print(json.dumps(asdict(totals)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
