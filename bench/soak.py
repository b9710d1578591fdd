"""
Soak test of C{twist txpush}: load for minutes, then check that nothing
failed and nothing leaked.

Run: python bench/soak.py [--duration 300] [--warm-up 60] [--no-drops]
    [--fenced-resets]

It serves a small generated site (two pages, a manifest naming five assets,
one of them 256 KiB so that pushes wait on flow control) with C{twist txpush
--listen tcp:0:interface=127.0.0.1} (cleartext HTTP/2 on loopback), then, for
C{--duration} seconds, runs at once:

  - h2load, in rounds of at most 10 seconds (each round opens new
    connections), asking for the pages and assets; h2load takes no pushes,
    so its pages get 103 Early Hints;
  - a push-accepting client (the python h2 library) in a separate process,
    with several connections in threads, each opening connection after
    connection.  A connection's first page takes its pushes in one of six
    ways in turn: it accepts them, resets every one on its promise (CANCEL)
    or on its response (REFUSED_STREAM), sends a garbage digest cookie, or
    drops the connection once a pushed body starts to arrive (not with
    C{--no-drops}).  It then loads a second page, the first page again with
    the digest cookie it was given (a repeat visit: nothing is pushed) and
    an asset, and closes.

Meanwhile the server's resident memory (VmRSS in /proc/PID/status) is
sampled every second.  Its open file descriptors (/proc/PID/fd) are counted
before the load and again once the clients have closed.

Failures: h2load's failed, errored and timed-out requests and its 4xx and
5xx responses (h2load 1.52 counts a response that came after 103 Early
Hints as 3xx: the site has no redirects, so 3xx are the pages); the push
client's pages and pushes that did not end with a 2xx response, resets it
did not ask for, GOAWAY frames with an error code, lost connections and
timeouts.  Responses it abandons on purpose (resets, drops) are not
failures.

A dropped connection must stop the producers of its pushes: one left
running or paused keeps its file open, which shows as descriptors open
after the load, and fails later with a traceback in the server's log (both
in the figures).

A resetting visit sends its resets as they come, with the WINDOW_UPDATE
frames of the data it read, as a browser does; the server may then read a
WINDOW_UPDATE and a later RST_STREAM in one go, which used to kill its
sending loop (see test_windowUpdateAndPushResetInOneRead in
tests/test_hardening.py).  With C{--fenced-resets} it sends its resets only
once a PING it sent has been acknowledged, holding back its own
WINDOW_UPDATE frames meanwhile, so that this never happens: a way to tell
that failure from others.

Writes bench/results/soak.md (the figures) and bench/results/soak.png (the
memory curve) unless C{--no-report}.  Exit status 0 when there were no
failures, the descriptors came back to their count before the load (within
2) and memory grew by less than C{--max-growth-kib} after the warm-up;
1 otherwise.

The functions here are also used by tests/test_hardening.py, which runs a
30-second version with the same assertions.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TWIST = Path(sys.executable).parent / "twist"
H2LOAD = "h2load"
SERVING = re.compile(r"Serving .* open (?:\S+, )*http://127\.0\.0\.1:(\d+)/")
PROBLEM = re.compile(r"Traceback|Unhandled|#critical\]|#error\]", re.IGNORECASE)

DEFAULT_DURATION = 300.0
DEFAULT_WARM_UP = 60.0
DEFAULT_MAX_GROWTH_KIB = 8192
FD_SLACK = 2


# The site.


def makeSite(directory: Path) -> tuple[Path, Path]:
    """
    Write the soak's site into C{directory}/site and its manifest beside it.

    @return: The site directory and the manifest file.
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
    return site, manifest


# The server and what is measured of it.


class TwistServer:
    """
    C{twist txpush} in a subprocess, listening on loopback (h2c), its log
    drained by a thread that keeps the last lines and any that look like a
    problem.
    """

    def __init__(
        self,
        site: Path,
        workDirectory: Path,
        *arguments: str,
        startTimeout: float = 30.0,
    ) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.problems: list[str] = []
        self._serving = threading.Event()
        self.port = 0
        command = [
            str(TWIST),
            "--log-format",
            "text",
            "txpush",
            "--path",
            str(site),
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--state-dir",
            str(workDirectory / "state"),
            *arguments,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._serving.wait(startTimeout):
            self.stop()
            raise RuntimeError(
                "twist txpush did not start: " + "".join(list(self.lines)[-20:])
            )

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if (PROBLEM.search(line) or line.startswith("\t")) and len(
                self.problems
            ) < 1000:
                self.problems.append(line.rstrip("\n"))
            match = SERVING.search(line)
            if match is not None and not self._serving.is_set():
                self.port = int(match.group(1))
                self._serving.set()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def url(self, path: str = "/") -> str:
        """A URL of the server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the server with SIGTERM (SIGKILL after C{timeout}); its status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)
        return self.process.returncode


def residentKiB(pid: int) -> int:
    """The process's resident memory (VmRSS), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None, "no VmRSS in /proc/PID/status"
    return int(match.group(1))


def openDescriptors(pid: int) -> int:
    """How many file descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def descriptorTargets(pid: int) -> list[str]:
    """What the process's open file descriptors point to, sorted."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return sorted(targets)


def settledDescriptors(pid: int, baseline: int, timeout: float = 15.0) -> int:
    """
    The process's open descriptors once they are back within L{FD_SLACK} of
    C{baseline}, or as many as are open after C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    count = openDescriptors(pid)
    while count > baseline + FD_SLACK and time.monotonic() < deadline:
        time.sleep(0.25)
        count = openDescriptors(pid)
    return count


class MemorySampler:
    """
    Samples a process's VmRSS every C{interval} seconds in a thread, until
    stopped or for at most C{limit} seconds.
    """

    def __init__(self, pid: int, interval: float = 1.0, limit: float = 7200.0):
        self.pid = pid
        self.interval = interval
        self.limit = limit
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            elapsed = time.monotonic() - self._started
            if elapsed > self.limit:
                return
            try:
                self.samples.append((round(elapsed, 2), residentKiB(self.pid)))
            except (OSError, AssertionError):
                return
            self._stop.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        """Stop sampling; the samples, as (seconds since start, KiB)."""
        self._stop.set()
        self._thread.join(5)
        return self.samples


# h2load.


@dataclass
class H2LoadTotals:
    """h2load's counts, added up over its rounds."""

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
    passed, adding its counts to C{totals}.
    """
    deadline = time.monotonic() + duration
    errors = 0
    while (remaining := deadline - time.monotonic()) >= 1 and errors < 5:
        seconds = int(min(roundSeconds, remaining))
        command = [
            H2LOAD,
            "-D",
            str(seconds),
            "-c",
            str(clients),
            "-m",
            str(streams),
            "-t",
            "1",
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
            # Counted as one failure; five in a row end the load.
            errors += 1
            totals.problems.append(
                f"h2load exited {completed.returncode}: "
                + (completed.stderr or completed.stdout)[-500:]
            )
            totals.failed += 1
            time.sleep(1)
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
    """What the push client did and saw."""

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
        """Add another's counts to these."""
        for name in (
            "connections",
            "pages",
            "pushesPromised",
            "pushesCompleted",
            "resetsSent",
            "drops",
            "earlyHints",
            "failures",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems[: max(0, 50 - len(self.problems))])

    def fail(self, problem: str) -> None:
        """Count a failure and keep its description (the first 50)."""
        self.failures += 1
        if len(self.problems) < 50:
            self.problems.append(problem)


class _Dropped(Exception):
    """The visit ended the connection on purpose."""


class PushVisitor:
    """
    One HTTP/2 connection that accepts pushes, on the python h2 library.
    """

    def __init__(self, port: int, timeout: float = 10.0, fence: bool = False):
        import h2.config
        import h2.connection
        import h2.settings

        self.timeout = timeout
        self.fence = fence
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 1})
        self.authority = f"127.0.0.1:{port}".encode()
        self.closed = False
        self.goAway: int | None = None
        self._pings = 0
        self.flush()

    def flush(self) -> None:
        """Send what h2 has queued."""
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self) -> None:
        """Close the socket."""
        self.closed = True
        self.sock.close()

    def visit(
        self,
        path: bytes,
        totals: PushTotals,
        cookie: bytes | None = None,
        resetOn: str | None = None,
        dropMidPush: bool = False,
    ) -> bytes | None:
        """
        Request C{path} and read until it and every push promised on it are
        done; return the digest cookie the response set, if any.

        @param resetOn: C{"promise"} or C{"response"}: reset every push then.
        @param dropMidPush: Close the connection once a push's body starts.
        @raise _Dropped: The connection was dropped on purpose.
        @raise ConnectionError: The connection failed (counted).
        """
        import h2.errors
        import h2.events
        import h2.exceptions

        headers = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":authority", self.authority),
            (b":path", path),
            (b"user-agent", b"txpush-soak"),
        ]
        if cookie is not None:
            headers.append((b"cookie", cookie))
        page = self.conn.get_next_available_stream_id()
        self.conn.send_headers(page, headers, end_stream=True)
        self.flush()
        status: dict[int, int] = {}
        ended: set[int] = set()
        resetByUs: set[int] = set()
        pushes: list[int] = []
        setCookie: bytes | None = None
        received: dict[int, int] = {}
        resets = 0
        deadline = time.monotonic() + self.timeout

        # With the fence, resets and acknowledgements wait for a PING ACK:
        # see the module docstring.
        pendingResets: dict[int, int] = {}
        pendingAcks: list[tuple[int, int]] = []
        fencePing: bytes | None = None

        def reset(streamID: int, code: int) -> None:
            if self.fence:
                pendingResets.setdefault(streamID, code)
            else:
                sendReset(streamID, code)

        def sendReset(streamID: int, code: int) -> None:
            nonlocal resets
            if streamID in resetByUs or streamID in ended:
                return
            try:
                self.conn.reset_stream(streamID, error_code=code)
            except h2.exceptions.StreamClosedError:
                return  # It ended in the frames just read.
            resetByUs.add(streamID)
            resets += 1

        def acknowledge(length: int, streamID: int) -> None:
            if pendingResets or fencePing is not None:
                pendingAcks.append((length, streamID))
            else:
                self.conn.acknowledge_received_data(length, streamID)

        def done() -> bool:
            return not pendingResets and all(
                s in ended or s in resetByUs for s in [page, *pushes]
            )

        while not done():
            if time.monotonic() > deadline:
                waiting = [
                    (s, status.get(s), received.get(s, 0))
                    for s in [page, *pushes]
                    if s not in ended and s not in resetByUs
                ]
                raise ConnectionError(
                    f"timed out on {path!r} waiting for (stream, status, bytes) "
                    f"{waiting}"
                )
            if pendingResets and fencePing is None:
                self._pings += 1
                fencePing = self._pings.to_bytes(8, "big")
                self.conn.ping(fencePing)
                self.flush()
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise ConnectionError(f"connection lost on {path!r}")
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.PushedStreamReceived):
                    pushes.append(event.pushed_stream_id)
                    totals.pushesPromised += 1
                    if resetOn == "promise":
                        reset(event.pushed_stream_id, h2.errors.ErrorCodes.CANCEL)
                elif isinstance(event, h2.events.InformationalResponseReceived):
                    totals.earlyHints += 1
                elif isinstance(event, h2.events.ResponseReceived):
                    fields = dict(event.headers)
                    status[event.stream_id] = int(fields[b":status"])
                    if event.stream_id == page:
                        setCookie = next(
                            (
                                v.split(b";", 1)[0]
                                for k, v in event.headers
                                if k == b"set-cookie" and v.startswith(b"h2o_casper=")
                            ),
                            None,
                        )
                    elif resetOn == "response":
                        reset(event.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                elif isinstance(event, h2.events.DataReceived):
                    if dropMidPush and event.stream_id in pushes:
                        self.close()
                        raise _Dropped()
                    received[event.stream_id] = (
                        received.get(event.stream_id, 0) + event.flow_controlled_length
                    )
                    acknowledge(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended.add(event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    if event.stream_id not in resetByUs:
                        totals.fail(
                            f"server reset stream {event.stream_id} of {path!r} "
                            f"with {event.error_code}"
                        )
                        ended.add(event.stream_id)
                elif isinstance(event, h2.events.PingAckReceived):
                    if event.ping_data == fencePing:
                        # Every WINDOW_UPDATE sent so far has been read: the
                        # resets go out first, the acknowledgements after.
                        fencePing = None
                        for streamID, code in pendingResets.items():
                            sendReset(streamID, code)
                        pendingResets.clear()
                        self.flush()
                        for length, streamID in pendingAcks:
                            self.conn.acknowledge_received_data(length, streamID)
                        pendingAcks.clear()
                elif isinstance(event, h2.events.ConnectionTerminated):
                    self.goAway = event.error_code
                    raise ConnectionError(
                        f"GOAWAY {event.error_code} on {path!r}: "
                        f"{event.additional_data!r}"
                    )
            self.flush()
        totals.pages += 1
        totals.resetsSent += resets
        if status.get(page) != 200:
            totals.fail(f"page {path!r}: status {status.get(page)}")
        for pushed in pushes:
            if pushed in resetByUs:
                continue
            if pushed in status and 200 <= status[pushed] < 300 and pushed in ended:
                totals.pushesCompleted += 1
            else:
                totals.fail(f"push {pushed} of {path!r}: status {status.get(pushed)}")
        return setCookie


# What the first visit of each connection does with its pushes, in turn.
BEHAVIOURS = (
    "accept",
    "reset-on-promise",
    "reset-on-response",
    "garbage-cookie",
    "accept",
    "drop-mid-push",
)
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
    Open connection after connection until C{deadline} (a monotonic time).
    Each visits C{/} (taking its pushes as L{BEHAVIOURS} says in turn), then
    C{/about.html} and C{/} again with the digest cookie it was given (a
    repeat visit), then fetches C{/app.js} itself, and closes.
    """
    behaviours = [b for b in BEHAVIOURS if drops or b != "drop-mid-push"]
    number = seed
    while time.monotonic() < deadline:
        number += 1
        behaviour = behaviours[number % len(behaviours)]
        try:
            visitor = PushVisitor(port, fence=fence)
        except OSError as e:
            totals.fail(f"cannot connect: {e}")
            time.sleep(0.5)
            continue
        totals.connections += 1
        try:
            cookie = visitor.visit(
                b"/",
                totals,
                cookie=GARBAGE_COOKIE if behaviour == "garbage-cookie" else None,
                resetOn={
                    "reset-on-promise": "promise",
                    "reset-on-response": "response",
                }.get(behaviour),
                dropMidPush=behaviour == "drop-mid-push",
            )
            cookie = visitor.visit(b"/about.html", totals, cookie=cookie) or cookie
            visitor.visit(b"/", totals, cookie=cookie)
            visitor.visit(b"/app.js", totals, cookie=cookie)
        except _Dropped:
            totals.drops += 1
        except (OSError, ConnectionError) as e:
            totals.fail(f"connection {number} ({behaviour}): {e}")
        finally:
            visitor.close()


def runPushClient(
    port: int,
    duration: float,
    connections: int = 3,
    fence: bool = False,
    drops: bool = True,
) -> PushTotals:
    """
    Run L{pushConnections} in C{connections} threads for C{duration} seconds;
    their totals.
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
    """Run the push client in a separate process; it prints its totals as JSON."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "push-client",
        "--port",
        str(port),
        "--duration",
        str(duration),
        "--connections",
        str(connections),
    ]
    if fence:
        command.append("--fenced-resets")
    if not drops:
        command.append("--no-drops")
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def pushClientResult(process: subprocess.Popen[str], timeout: float) -> PushTotals:
    """Wait for a push client process and read its totals."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(10)
        totals = PushTotals()
        totals.fail("push client did not finish in time")
        return totals
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        totals = PushTotals()
        totals.fail(f"push client exited {process.returncode}: {err[-500:]}")
        return totals
    problems = data.pop("problems")
    totals = PushTotals(**data)
    totals.problems = problems
    return totals


# The whole soak.


@dataclass
class SoakResult:
    """The figures of one soak."""

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
    duration: float = DEFAULT_DURATION,
    warmUp: float = DEFAULT_WARM_UP,
    pushConnectionCount: int = 3,
    h2loadClients: int = 6,
    h2loadStreams: int = 8,
    fence: bool = False,
    drops: bool = True,
    workDirectory: Path | None = None,
) -> SoakResult:
    """
    Serve the soak's site with C{twist txpush} and load it for C{duration}
    seconds with h2load and the push client at once; measure it.
    """
    with tempfile.TemporaryDirectory(prefix="txpush-soak-") as temporary:
        work = Path(workDirectory or temporary)
        site, manifest = makeSite(work)
        accessLog = work / "access.log"
        server = TwistServer(
            site,
            work,
            "--push-manifest",
            str(manifest),
            "--access-log",
            str(accessLog),
        )
        try:
            time.sleep(0.5)
            fdsBefore = openDescriptors(server.pid)
            targetsBefore = descriptorTargets(server.pid)
            sampler = MemorySampler(server.pid, limit=duration + 120)
            pushProcess = startPushClient(
                server.port, duration, pushConnectionCount, fence, drops
            )
            urls = [
                server.url(p)
                for p in ("/", "/about.html", "/style.css", "/app.js", "/logo.svg")
            ]
            h2load = runH2Load(
                urls, duration, H2LoadTotals(), h2loadClients, h2loadStreams
            )
            push = pushClientResult(pushProcess, timeout=duration + 60)
            samples = sampler.stop()
            fdsAfter = settledDescriptors(server.pid, fdsBefore)
            leaked = list(
                (
                    collections.Counter(descriptorTargets(server.pid))
                    - collections.Counter(targetsBefore)
                ).elements()
            )
        finally:
            exitStatus = server.stop()
        served, servedErrors = _accessLog(accessLog)
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
        serverProblems=server.problems,
        exitStatus=exitStatus,
    )


_STATUS_IN_LOG = re.compile(rb'" (\d{3}) ')


def _accessLog(path: Path) -> tuple[int, int]:
    """
    The lines of an access log, and how many of them have a 4xx or 5xx
    status.  Twisted's Site rotates its access log every 1,000,000 bytes,
    keeping the old ones as PATH.1, PATH.2, ...
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
    """What went wrong in a soak: an empty list when nothing did."""
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


# The report.


def writeReport(
    result: SoakResult, directory: Path = RESULTS, maxGrowthKiB: int = 8192
) -> None:
    """Write soak.md and soak.png into C{directory}."""
    directory.mkdir(parents=True, exist_ok=True)
    _plot(result, directory / "soak.png")
    h, p = result.h2load, result.push
    problems = verdict(result, maxGrowthKiB)
    lines = [
        "# Soak of `twist txpush`",
        "",
        "Written by `python bench/soak.py"
        + (
            ""
            if result.duration == DEFAULT_DURATION
            else f" --duration {result.duration:g}"
        )
        + ("" if result.drops else " --no-drops")
        + (" --fenced-resets" if result.fence else "")
        + "`: h2load and a push-accepting python-h2 client (a separate process)"
        " at once against `twist txpush --listen tcp:0:interface=127.0.0.1` (h2c"
        " on loopback), on a generated site of two pages whose manifest names"
        " five assets (one of 256 KiB).",
        "",
        f"Python {platform.python_version()}, {platform.machine()},"
        f" {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
        " UTC.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| duration | {result.duration:g} s (warm-up {result.warmUp:g} s) |",
        "| push client drops connections mid-push |"
        f" {'yes' if result.drops else 'no (--no-drops)'} |",
        "| push client sends resets with its WINDOW_UPDATEs, as they come |"
        f" {'no (--fenced-resets)' if result.fence else 'yes'} |",
        f"| requests served (access log lines) | {result.served} |",
        f"| of which 4xx or 5xx | {result.servedErrors} |",
        f"| h2load requests | {h.requests} in {h.rounds} rounds"
        f" ({h.status2xx} 2xx, {h.status3xx} 3xx, {h.status4xx} 4xx,"
        f" {h.status5xx} 5xx) |",
        f"| h2load failed / errored / timed out (its 3xx are pages that got"
        f" 103 Early Hints first) | {h.failed} / {h.errored} /"
        f" {h.timeout} |",
        f"| push client connections (dropped mid-push on purpose) |"
        f" {p.connections} ({p.drops}) |",
        f"| push client pages | {p.pages} |",
        f"| pushes promised / completed / reset by the client | {p.pushesPromised}"
        f" / {p.pushesCompleted} / {p.resetsSent} |",
        f"| 103 Early Hints seen by the push client | {p.earlyHints} |",
        f"| **failed responses** | **{result.failures}** |",
        f"| VmRSS before the load | {result.rssStart} KiB |",
        f"| VmRSS at the end of the warm-up | {result.rssAfterWarmUp} KiB |",
        f"| VmRSS at the end | {result.rssEnd} KiB |",
        f"| VmRSS max | {result.rssMax} KiB |",
        f"| VmRSS growth after the warm-up (median of last tenth less first"
        f" tenth) | {result.growthAfterWarmUp} KiB (bound {maxGrowthKiB} KiB) |",
        f"| VmRSS slope after the warm-up | {result.slopeKiBPerMinute:.1f} KiB/min |",
        f"| file descriptors before / after | {result.fdsBefore} / {result.fdsAfter} |",
        "| descriptors open after, not before |"
        f" {_counted(result.leakedDescriptors)} |",
        f"| server log lines that look like problems | {len(result.serverProblems)} |",
        f"| server exit status (SIGTERM) | {result.exitStatus} |",
        "",
        "Verdict: "
        + ("pass." if not problems else "FAIL: " + "; ".join(problems) + "."),
        "",
        "![VmRSS of the server, sampled every second](soak.png)",
        "",
    ]
    shown = result.serverProblems[:20] + h.problems[:10] + p.problems[:10]
    if shown:
        lines += ["Problems seen (first ones):", "", "```", *shown, "```", ""]
    (directory / "soak.md").write_text("\n".join(lines))


def _counted(targets: list[str]) -> str:
    counts = collections.Counter(targets)
    return ", ".join(f"{n} x `{t}`" for t, n in sorted(counts.items())) or "none"


def _plot(result: SoakResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    parser.add_argument(
        "mode", nargs="?", default="soak", choices=["soak", "push-client"]
    )
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION)
    parser.add_argument("--warm-up", type=float, default=None)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-growth-kib", type=int, default=DEFAULT_MAX_GROWTH_KIB)
    parser.add_argument("--fenced-resets", action="store_true")
    parser.add_argument("--no-drops", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    arguments = parser.parse_args(argv)
    fence = arguments.fenced_resets
    if arguments.mode == "push-client":
        totals = runPushClient(
            arguments.port,
            arguments.duration,
            arguments.connections,
            fence,
            not arguments.no_drops,
        )
        print(json.dumps(asdict(totals)))
        return 0
    warmUp = arguments.warm_up
    if warmUp is None:
        warmUp = min(DEFAULT_WARM_UP, arguments.duration / 5)
    result = soak(
        arguments.duration,
        warmUp,
        arguments.connections,
        fence=fence,
        drops=not arguments.no_drops,
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
